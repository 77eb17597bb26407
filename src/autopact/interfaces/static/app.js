// The page: load the schema and the bundled scenarios, run a scenario (centrally or with draws as a
// job), show its headline numbers (unit on every row; meaning and computation on hover or focus),
// charts, assumptions and sources, compare results side by side, permalinks (#run=<id>, or
// #s=<the scenario document, base64url>), downloads. Every number comes from the API's JSON, which is
// the JSON of `autopact simulate --json`.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { doc: { name: "my-scenario" }, schema: null, metrics: [], result: null, compared: [], job: null };

const UNIT = { vehicles: "vehicles a year", price: "$ per vehicle", money: "$ a year", share: "share of units",
  jobs: "jobs", index: "index, 0 to 10,000" };

function token() { return sessionStorage.getItem("autopact-token") || ""; }

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  if (token()) headers.Authorization = `Bearer ${token()}`;
  const response = await fetch(path, Object.assign({}, options, { headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body) }));
  if (response.status === 401) {  // the server has a token: ask for it, and say so when the one given was refused
    $("token-box").hidden = false;
    $("token-label").textContent = token() ? "That token was not accepted; the server's token:" : "This server needs a token:";
  }
  if (!response.ok) {
    let detail = `${response.status} ${response.statusText}`;
    try { detail = (await response.json()).detail || detail; } catch (e) { /* not JSON */ }
    throw new Error(detail);
  }
  return options.raw ? response : response.json();
}

function status(text) { $("status").textContent = text; $("run-status").textContent = text; }

// a message of the server, at the control it names: highlighted, its section opened, focused, and the
// message worded with the form's labels ("a list > item 2 > a field"), the technical path after it
function showError(message) {
  const box = $("error");
  if (!message) { box.hidden = true; box.replaceChildren(); SchemaForm.mark($("form"), ""); return; }
  box.hidden = false;
  const found = SchemaForm.mark($("form"), message);
  if (!found) { box.textContent = message; return; }
  for (let e = found.target.parentElement; e; e = e.parentElement) if (e.tagName === "DETAILS") e.open = true;
  box.replaceChildren(cell("strong", SchemaForm.describe($("form"), found.target)), `: ${found.rest}`,
    cell("span", ` (field ${found.path})`, { class: "muted tech" }));
  box.title = message;
  const focusable = found.target.matches("input, select, textarea") ? found.target : found.target.querySelector("input, select, textarea");
  if (focusable) { focusable.focus({ preventScroll: true }); found.target.scrollIntoView({ block: "center" }); }
}

function node(tree, key) { return key.split("/").reduce((o, k) => (o == null ? undefined : o[k]), tree); }

function fmtLevel(value, unit) {
  if (value == null) return "n/a";
  if (unit === "price" || unit === "money") return money(value, false);
  if (unit === "share") return `${(value * 100).toFixed(2)}%`;
  return Math.round(value).toLocaleString("en-US");
}

function fmtChange(value, unit) {
  if (value == null) return "n/a";
  const sign = value < 0 ? "-" : "+";
  if (unit === "price" || unit === "money") return money(value, true);
  if (unit === "share") return `${sign}${Math.abs(value * 100).toFixed(2)} pp`;
  if (unit === "index") return `${sign}${Math.abs(value).toFixed(1)}`;
  return `${sign}${Math.round(Math.abs(value)).toLocaleString("en-US")}`;
}

function money(value, signed) {
  const sign = signed ? (value < 0 ? "-" : "+") : (value < 0 ? "-" : "");
  const a = Math.abs(value);
  if (a >= 1e9) return `${sign}$${(a / 1e9).toFixed(2)} bn`;
  if (a >= 1e6) return `${sign}$${(a / 1e6).toFixed(1)} m`;
  return `${sign}$${Math.round(a).toLocaleString("en-US")}`;
}

function cell(tag, text, attrs = {}) {
  const c = document.createElement(tag);
  c.textContent = text;
  for (const [k, v] of Object.entries(attrs)) if (v != null) c.setAttribute(k, v);
  return c;
}

function metricLabel(m, tag = "th") {
  return cell(tag, m.label, { scope: "row", tabindex: "0", class: "help", "data-metric": m.key,
    title: `${m.description}. Computed as ${m.computation}. Unit: ${UNIT[m.unit]}. A model output of this run; ` +
      "its inputs and their sources are under 'Assumptions and sources'." });
}

function showResult(doc) {
  state.result = doc;
  $("result-empty").hidden = true;
  $("result-body").hidden = false;
  const s = doc.scenario;
  $("result-scenario").textContent = `${s.name}: ${s.description || ""} (stored run ${doc.run_id}; solver ` +
    `converged ${doc.solver.converged} in ${doc.solver.iterations} evaluations)` +
    (s.excluded && s.excluded.length ? `. Excluded: ${s.excluded.join("; ")}` : "");
  $("result-caveats").replaceChildren(...(doc.caveats || []).map((c) => cell("p", `Caveat: ${c.text}`, { class: "caveat" })));
  const bands = doc.bands && Object.keys(doc.bands).length;
  const head = $("headline").tHead, body = $("headline").tBodies[0];
  head.replaceChildren(); body.replaceChildren();
  const hr = document.createElement("tr");
  ["metric", "unit", (doc.market && doc.market.baseline_label) || "baseline", "scenario", "change", ...(bands ? ["change 5%", "change 95%"] : [])]
    .forEach((t) => hr.append(cell("th", t, { scope: "col" })));
  head.append(hr);
  const outside = [];
  for (const m of state.metrics) {
    const b = node(doc.baseline, m.key), c = node(doc.counterfactual, m.key), d = node(doc.change, m.key);
    if (b == null && c == null && d == null) continue;
    const band = bands ? node(doc.bands, m.key) || {} : {};
    const out = bands && outsideBand(d, band);
    if (out) outside.push(m.label);
    const tr = document.createElement("tr");
    tr.append(metricLabel(m), cell("td", UNIT[m.unit], { class: "unit" }),
      cell("td", m.level_shown ? fmtLevel(b, m.unit) : "", { "data-value": m.level_shown ? b : null }),
      cell("td", m.level_shown ? fmtLevel(c, m.unit) : "", { "data-value": m.level_shown ? c : null }),
      cell("td", fmtChange(d, m.unit) + (out ? " *" : ""), { "data-value": d, "data-key": m.key, class: "change" }));
    if (bands) {
      tr.append(cell("td", fmtChange(band.p05, m.unit), { "data-value": band.p05 }),
        cell("td", fmtChange(band.p95, m.unit), { "data-value": band.p95 }));
    }
    body.append(tr);
  }
  const note = $("bands-note"), definition = bands && doc.uncertainty && doc.uncertainty.central_definition;
  note.hidden = !definition;
  note.textContent = definition ? `The change column is the central result (${definition.replace(/^central: /, "")})` +
    (outside.length ? `; * outside here: ${outside.join(", ")}.` : ".") : "";
  const rows = $("assumptions").tBodies[0];
  rows.replaceChildren();
  for (const a of doc.assumptions || []) {
    const tr = document.createElement("tr");
    tr.append(cell("td", a.name), cell("td", String(a.value)), cell("td", a.kind || ""), cell("td", a.source || "", { class: "src" }));
    rows.append(tr);
  }
  charts(doc);
}

// As autopact.runs.uncertainty.central_outside_band: a central change outside its draws' 5-95% band.
function outsideBand(central, band) {
  if (typeof central !== "number" || band.p05 == null) return false;
  const slack = 1e-9 * Math.max(Math.abs(central), Math.abs(band.p05), Math.abs(band.p95), 1);
  return central < band.p05 - slack || central > band.p95 + slack;
}

function charts(doc) {
  if (!window.Plotly) return;
  const layout = (title, y) => ({ title: { text: title, font: { size: 14 } }, height: 320, margin: { l: 60, r: 10, t: 40, b: 70 },
    yaxis: { title: { text: y } }, legend: { orientation: "h" } });
  const config = { displayModeBar: false, responsive: true };
  const b = doc.baseline.units_share_by_nationality, c = doc.counterfactual.units_share_by_nationality;
  const nations = Object.keys(Object.assign({}, b, c)).sort((x, y) => (c[y] || 0) - (c[x] || 0));
  Plotly.react("chart-shares", [
    { type: "bar", name: (doc.market && doc.market.baseline_label) || "baseline", x: nations, y: nations.map((n) => 100 * (b[n] || 0)) },
    { type: "bar", name: "scenario", x: nations, y: nations.map((n) => 100 * (c[n] || 0)) }],
    layout("Share of units by owners' nationality", "% of units"), config);
  const keys = [["consumer_surplus_usd", "consumers"], ["total_profit_usd", "firms' profit"], ["tariff_revenue_usd", "tariff revenue"]];
  const trace = { type: "bar", x: keys.map((k) => k[1]), y: keys.map((k) => (doc.change[k[0]] || 0) / 1e9), marker: { color: "#1a7f37" } };
  if (doc.bands && doc.bands.consumer_surplus_usd) {
    trace.error_y = { type: "data", symmetric: false,
      array: keys.map((k) => ((doc.bands[k[0]] || {}).p95 - doc.change[k[0]]) / 1e9),
      arrayminus: keys.map((k) => (doc.change[k[0]] - (doc.bands[k[0]] || {}).p05) / 1e9) };
  }
  Plotly.react("chart-welfare", [trace], layout("Welfare change" + (trace.error_y ? " (5-95% band)" : ""), "$ bn a year"), config);
  const firms = (doc.firms || []).map((f) => ({ firm: f.firm, d: f.units_counterfactual - f.units_baseline }))
    .sort((x, y) => Math.abs(y.d) - Math.abs(x.d)).slice(0, 12);
  Plotly.react("chart-firms", [{ type: "bar", x: firms.map((f) => f.firm), y: firms.map((f) => f.d), marker: { color: "#bf8700" } }],
    layout("Change in units by firm (largest 12)", "vehicles a year"), config);
}

function drawComparison() {
  const table = $("compare-table");
  $("comparison-empty").hidden = state.compared.length > 0;
  table.hidden = state.compared.length === 0;
  $("chart-compare").hidden = state.compared.length === 0;
  const head = table.tHead, body = table.tBodies[0];
  head.replaceChildren(); body.replaceChildren();
  const hr = document.createElement("tr");
  hr.append(cell("th", "change in", { scope: "col" }), cell("th", "unit", { scope: "col" }));
  state.compared.forEach((doc, k) => {
    const th = cell("th", `${doc.scenario.name} (${doc.run_id}; against the ${(doc.market && doc.market.baseline_label) || "baseline"})`, { scope: "col" });
    const remove = cell("button", "Remove", { type: "button", class: "small", "aria-label": `remove ${doc.scenario.name} from the comparison` });
    remove.addEventListener("click", () => { state.compared.splice(k, 1); drawComparison(); });
    th.append(" ", remove);
    hr.append(th);
  });
  head.append(hr);
  for (const m of state.metrics) {
    const tr = document.createElement("tr");
    tr.append(metricLabel(m), cell("td", UNIT[m.unit], { class: "unit" }));
    state.compared.forEach((doc) => tr.append(cell("td", fmtChange(node(doc.change, m.key), m.unit), { "data-value": node(doc.change, m.key) })));
    body.append(tr);
  }
  if (window.Plotly && state.compared.length) {
    const keys = [["consumer_surplus_usd", "consumers"], ["total_profit_usd", "firms' profit"], ["tariff_revenue_usd", "tariff revenue"]];
    Plotly.react("chart-compare", state.compared.map((doc) => ({ type: "bar", name: doc.scenario.name,
      x: keys.map((k) => k[1]), y: keys.map((k) => (doc.change[k[0]] || 0) / 1e9) })),
      { title: { text: "Welfare change by scenario", font: { size: 14 } }, height: 320, barmode: "group",
        yaxis: { title: { text: "$ bn a year" } }, margin: { l: 60, r: 10, t: 40, b: 40 } }, { displayModeBar: false, responsive: true });
  } else if (window.Plotly) {
    Plotly.purge("chart-compare");
  }
}

function encodeDoc(doc) {
  const bytes = new TextEncoder().encode(JSON.stringify(doc));
  let text = "";
  bytes.forEach((b) => { text += String.fromCharCode(b); });
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function decodeDoc(text) {
  const raw = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return JSON.parse(new TextDecoder().decode(Uint8Array.from(raw, (c) => c.charCodeAt(0))));
}

function setDoc(doc) {
  state.doc = doc;
  SchemaForm.render(state.schema, $("form"), state);
  $("json").value = JSON.stringify(doc, null, 2);
}

function current() { return JSON.parse(JSON.stringify(state.doc)); }

async function runCentral(doc) {
  showError(null);
  status(`running ${doc.name} ...`);
  $("run").disabled = true;
  const started = performance.now();
  try {
    const result = await api("/api/run", { method: "POST", body: { document: doc, baseline_year: baselineYear() } });
    showResult(result);
    history.replaceState(null, "", `#s=${encodeDoc(doc)}` + (baselineYear() ? `&baseline=${baselineYear()}` : ""));
    status(`${doc.name}: done in ${((performance.now() - started) / 1000).toFixed(1)} s, stored as run ${result.run_id}`);
    $("result").focus();
    storedRuns();
  } catch (error) {
    showError(error.message);
    status("the scenario was not run: see the message above the buttons");
  } finally {
    $("run").disabled = false;
  }
}

async function download(kind) {
  const id = state.result.run_id;
  const path = { json: `/api/runs/${id}`, csv: `/api/runs/${id}/csv`, report: `/api/runs/${id}/report` }[kind];
  const name = { json: `autopact-${id}.json`, csv: `autopact-${id}.csv`, report: `autopact-${id}.html` }[kind];
  const blob = kind === "json" ? new Blob([JSON.stringify(state.result, null, 2)], { type: "application/json" })
    : await (await api(path, { raw: true })).blob();
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

async function storedRuns() {
  try {
    const rows = await api("/api/runs?limit=20");
    const body = $("stored-table").tBodies[0];
    body.replaceChildren();
    for (const r of rows) {
      const tr = document.createElement("tr");
      const link = cell("a", r.run_id, { href: `#run=${r.run_id}` });
      const first = document.createElement("td"); first.append(link);
      tr.append(first, cell("td", r.kind), cell("td", r.name), cell("td", r.status), cell("td", `${r.finished_jobs}/${r.jobs}`),
        cell("td", String(r.created_at).slice(0, 19)));
      body.append(tr);
    }
  } catch (error) { status(`stored runs: ${error.message}`); }
}

async function fromHash() {
  const hash = location.hash.slice(1);
  const params = new URLSearchParams(hash);
  if (params.get("run")) {
    status(`loading stored run ${params.get("run")} ...`);
    try {
      const doc = await api(`/api/runs/${encodeURIComponent(params.get("run"))}`);
      showResult(doc);
      status(`stored run ${doc.run_id}`);
    } catch (error) { showError(error.message); }
  } else if (params.get("s")) {
    $("baseline-year").value = params.get("baseline") || "";
    try { setDoc(decodeDoc(params.get("s"))); } catch (error) { showError(`permalink: not a scenario document (${error.message})`); return; }
    await runCentral(current());
  }
}

async function main() {
  const useToken = () => { sessionStorage.setItem("autopact-token", $("token").value); location.reload(); };
  $("token-save").addEventListener("click", useToken);
  $("token").addEventListener("keydown", (event) => { if (event.key === "Enter") useToken(); });
  try {
    [state.schema, state.metrics] = await Promise.all([api("/api/schema"), api("/api/metrics")]);
    const [scenarios, sweeps] = await Promise.all([api("/api/scenarios"), api("/api/sweeps")]);
    for (const s of scenarios) {
      $("bundled").append(cell("option", `${s.name}: ${s.description}`.slice(0, 110), { value: s.name }));
      $("project-compare").append(cell("option", s.name, { value: s.name }));
    }
    for (const s of sweeps) $("sweep").append(cell("option", `${s.name}: ${s.points} points on ${s.scenario}`, { value: s.name, title: s.description }));
  } catch (error) { status(`cannot reach the API: ${error.message}`); return; }
  setDoc(state.doc);
  $("load").addEventListener("click", async () => {
    try { setDoc(await api(`/api/scenarios/${encodeURIComponent($("bundled").value)}`)); showError(null); status(`loaded ${$("bundled").value}`); }
    catch (error) { showError(error.message); }
  });
  $("json").addEventListener("focus", () => { $("json").value = JSON.stringify(state.doc, null, 2); });
  $("advanced").addEventListener("toggle", () => { $("json").value = JSON.stringify(state.doc, null, 2); });
  $("json-apply").addEventListener("click", () => {
    try { setDoc(JSON.parse($("json").value)); showError(null); } catch (error) { showError(`JSON: ${error.message}`); }
  });
  $("validate").addEventListener("click", async () => {
    try {
      await api("/api/validate", { method: "POST", body: { document: current(), baseline_year: baselineYear() } });
      showError(null); status("the scenario is valid");
    }
    catch (error) { showError(error.message); status("the scenario is not valid: see the message"); }
  });
  $("run").addEventListener("click", () => runCentral(current()));
  setUpJobs();
  $("compare-add").addEventListener("click", () => {
    if (state.result && !state.compared.some((d) => d.run_id === state.result.run_id)) state.compared.push(state.result);
    drawComparison();
    $("comparison-title").scrollIntoView();
  });
  $("permalink").addEventListener("click", async () => {
    const url = location.href.split("#")[0] + `#run=${state.result.run_id}`;
    $("permalink-text").textContent = `Permalink: ${url}`;
    try { await navigator.clipboard.writeText(url); status("permalink copied"); } catch (e) { status("permalink shown below the buttons"); }
  });
  $("dl-json").addEventListener("click", () => download("json"));
  $("dl-csv").addEventListener("click", () => download("csv"));
  $("dl-report").addEventListener("click", () => download("report"));
  $("stored-refresh").addEventListener("click", storedRuns);
  window.addEventListener("hashchange", fromHash);
  storedRuns();
  await fromHash();
  document.body.dataset.ready = "true";
}

document.addEventListener("DOMContentLoaded", main);

// Background jobs on the page: draws, a sensitivity analysis, a sweep, a yearly projection. A job is
// followed by its server-sent events (read with fetch, so the bearer token goes with them), and by
// polling where a stream cannot be read; its progress bar and Cancel button are shared. A done draws
// job shows as a result (its bands); the others show under "Analysis": a sensitivity's tornado, a
// sweep's response surfaces, a projection's years as time series. Numbers come from the job's
// result, the JSON of `autopact sensitivity`, `sweep` and `project`; each table names its unit.
"use strict";

const KIND_WORDS = { draws: "draws", sensitivity: "input runs", sweep: "evaluations", projection: "years" };
const FLOW_KEYS = [["consumer_surplus_usd", "consumers"], ["total_profit_usd", "firms' profit"],
  ["tariff_revenue_usd", "tariff revenue"]];

function baselineYear() { const v = $("baseline-year").value; return v ? Number(v) : undefined; }

async function startJob(path, body, label) {
  showError(null);
  try {
    const job = await api(path, { method: "POST", body });
    state.job = job.job_id;
    $("cancel").hidden = false; $("progress").hidden = false;
    document.querySelectorAll("[data-job-button]").forEach((b) => { b.disabled = true; });
    status(`job ${job.job_id}: ${label} started`);
    follow(job);
  } catch (error) {
    showError(error.message);
    status(`the ${jobLabel(path)} was not started: see the message`);
  }
}

function jobLabel(path) { return path.split("/").pop() === "jobs" ? "draws job" : path.split("/").pop(); }

function showProgress(job) {
  $("progress").max = job.total || 1;
  $("progress").value = job.done;
  $("progress-text").textContent = `${job.done} of ${job.total || "?"} ${KIND_WORDS[job.kind]} (${job.state})`;
}

// the job's events until it ends; polling if the stream cannot be read (then or midway)
async function follow(job) {
  showProgress(job);
  let last = job;
  try {
    const response = await api(`/api/jobs/${job.job_id}/events`, { raw: true });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
        if (data) { last = JSON.parse(data); showProgress(last); }
      }
    }
    $("progress").dataset.followed = "events";
  } catch (error) {
    $("progress").dataset.followed = "polling";
  }
  if (last.state === "queued" || last.state === "running") return poll(job.job_id);
  return finish(last);
}

async function poll(jobId) {
  let job;
  try { job = await api(`/api/jobs/${jobId}`); } catch (error) { showError(error.message); return finish(null); }
  showProgress(job);
  if (job.state === "queued" || job.state === "running") { setTimeout(() => poll(jobId), 500); return; }
  return finish(job);
}

async function finish(job) {
  $("cancel").hidden = true; state.job = null;
  document.querySelectorAll("[data-job-button]").forEach((b) => { b.disabled = false; });
  if (!job) return;
  if (job.state !== "done") {
    status(`job ${job.job_id}: ${job.state}${job.error ? ": " + job.error : ""}`);
    if (job.error) showError(job.error);
    return;
  }
  const result = await api(job.result);
  if (job.kind === "draws") {
    showResult(result);
    history.replaceState(null, "", `#run=${job.run_id}`);
  } else {
    showAnalysis(job, result);
  }
  status(`job ${job.job_id}: done, stored as run ${job.run_id}`);
  storedRuns();
}

function table(id, header, rows) {
  const t = $(id);
  t.tHead.replaceChildren(); t.tBodies[0].replaceChildren();
  const hr = document.createElement("tr");
  header.forEach((h) => hr.append(cell("th", h, { scope: "col" })));
  t.tHead.append(hr);
  for (const row of rows) {
    const tr = document.createElement("tr");
    row.forEach((v, k) => tr.append(cell(k ? "td" : "th", v == null ? "n/a" : String(v), k ? {} : { scope: "row" })));
    t.tBodies[0].append(tr);
  }
}

// an outcome path ("units_share_by_nationality/China") with its headline unit where it has one
function outcomeUnit(outcome) {
  const m = state.metrics.find((x) => x.key === outcome);
  if (m) return m.unit;
  if (/share/.test(outcome)) return "share";
  if (/_usd$/.test(outcome)) return "money";
  if (/jobs/.test(outcome)) return "jobs";
  return "vehicles";
}

function showAnalysis(job, doc) {
  $("analysis").hidden = false;
  $("analysis-empty").hidden = true;
  $("analysis-report").hidden = job.kind === "projection";
  $("analysis-report").dataset.job = job.job_id;
  $("analysis-json").dataset.job = job.job_id;
  state.analysis = doc;
  const charts = $("analysis-charts");
  if (window.Plotly) charts.querySelectorAll(".chart").forEach((c) => Plotly.purge(c));
  charts.replaceChildren();
  ({ sensitivity: showTornado, sweep: showSurfaces, projection: showProjection })[job.kind](doc, charts);
  $("analysis").scrollIntoView();
}

function chartBox(charts) {
  const box = document.createElement("div");
  box.className = "chart";
  charts.append(box);
  return box;
}

const PLOT = { displayModeBar: false, responsive: true };
const layoutOf = (title, x, y, extra = {}) => Object.assign({ title: { text: title, font: { size: 14 } }, height: 340,
  margin: { l: 70, r: 10, t: 40, b: 60 }, xaxis: { title: { text: x } }, yaxis: { title: { text: y } },
  legend: { orientation: "h" } }, extra);

function showTornado(doc, charts) {
  const variant = doc.variants[0];
  $("analysis-title").textContent = `Sensitivity of ${doc.scenario.name || doc.scenario} (run ${doc.run_id}): ${doc.method}`;
  const rows = [];
  for (const [outcome, t] of Object.entries(variant.tornado)) {
    const unit = outcomeUnit(outcome);
    for (const r of t.inputs) rows.push([outcome, r.input, `${r.input_p05} to ${r.input_p95}`, fmtChange(r.outcome_at_p05, unit),
      fmtChange(r.outcome_at_p95, unit), fmtChange(r.swing, unit), UNIT[unit]]);
    if (!window.Plotly) continue;
    const inputs = t.inputs.slice().reverse();
    Plotly.react(chartBox(charts), [
      { type: "bar", orientation: "h", name: "input at its 5th percentile", y: inputs.map((r) => r.input),
        x: inputs.map((r) => (r.outcome_at_p05 ?? t.central) - t.central), base: t.central },
      { type: "bar", orientation: "h", name: "input at its 95th percentile", y: inputs.map((r) => r.input),
        x: inputs.map((r) => (r.outcome_at_p95 ?? t.central) - t.central), base: t.central }],
    layoutOf(`Change in ${outcome}`, UNIT[unit], "", { barmode: "overlay", margin: { l: 200, r: 10, t: 40, b: 60 } }), PLOT);
  }
  table("analysis-table", ["outcome (change against the baseline)", "input", "input from 5th to 95th percentile",
    "change at 5th", "change at 95th", "swing", "unit"], rows);
}

function showSurfaces(doc, charts) {
  const s = doc.surfaces;
  $("analysis-title").textContent = `Sweep ${doc.sweep.name} on ${doc.scenario} (run ${doc.run_id}): ` +
    `${doc.points.length} points, ${doc.draws} draws each`;
  for (const [outcome, series] of Object.entries(s.outcomes)) {
    if (!window.Plotly) break;
    const unit = outcomeUnit(outcome);
    Plotly.react(chartBox(charts), Object.entries(series).map(([name, v]) => ({ type: "scatter", mode: "lines+markers",
      name, x: v.x, y: v.central })), layoutOf(`Change in ${outcome}`, s.x, UNIT[unit]), PLOT);
  }
  table("analysis-table", ["point", "levers", ...doc.outcomes.map((o) => `change in ${o} (${UNIT[outcomeUnit(o)]})`)],
    doc.points.map((p) => [p.point + 1, JSON.stringify(p.levers),
      ...doc.outcomes.map((o) => (p.change ? fmtChange(node(p.change, o), outcomeUnit(o)) : p.status))]));
}

function showProjection(doc, charts) {
  const years = doc.records.map((r) => r.year);
  $("analysis-title").textContent = `${doc.scenario}, ${doc.from}-${doc.to}: each year against that year's baseline. ` +
    `${doc.method}. Money: 2025 dollars a year.`;
  if (window.Plotly) {
    Plotly.react(chartBox(charts), [
      { type: "scatter", mode: "lines+markers", name: "baseline", x: years, y: doc.records.map((r) => 100 * r.baseline.bev_share) },
      { type: "scatter", mode: "lines+markers", name: "scenario", x: years, y: doc.records.map((r) => 100 * r.counterfactual.bev_share) }],
    layoutOf("BEV share of units by year", "year", "% of units"), PLOT);
    Plotly.react(chartBox(charts), FLOW_KEYS.map(([k, name]) => ({ type: "scatter", mode: "lines+markers", name, x: years,
      y: doc.records.map((r) => (r.change[k] ?? 0) / 1e9) })), layoutOf("Welfare change by year", "year", "$ bn a year"), PLOT);
    if (doc.comparison) {
      Plotly.react(chartBox(charts), [{ type: "scatter", mode: "lines+markers", name: `${doc.comparison.a} minus ${doc.comparison.b}`,
        x: years, y: doc.comparison.records.map((r) => 100 * r.difference.bev_share) }],
      layoutOf(`BEV share: ${doc.comparison.a} minus ${doc.comparison.b}`, "year", "percentage points"), PLOT);
    }
  }
  table("analysis-table", ["year", "BEV share, baseline", "BEV share, scenario", "change in units (vehicles a year)",
    "consumer surplus ($ a year)", "tariff revenue ($ a year)", "US assembly jobs", "excluded products"],
  doc.records.map((r) => [r.year, fmtLevel(r.baseline.bev_share, "share"), fmtLevel(r.counterfactual.bev_share, "share"),
    fmtChange(r.change.total_units, "vehicles"), fmtChange(r.change.consumer_surplus_usd, "money"),
    fmtChange(r.change.tariff_revenue_usd, "money"), fmtChange(r.change.us_assembly_jobs, "jobs"), r.excluded.length]));
  const t = doc.totals;
  $("analysis-note").textContent = `Totals ${doc.from}-${doc.to}, discounted to ${t.first_year} at ${(100 * t.discount_rate).toFixed(1)}% ` +
    `real: consumer surplus ${money(t.discounted.consumer_surplus_usd ?? 0, true)}, profits ` +
    `${money(t.discounted.total_profit_usd ?? 0, true)}, tariff revenue ${money(t.discounted.tariff_revenue_usd ?? 0, true)}.`;
}

function setUpJobs() {
  $("run-draws").addEventListener("click", () => startJob("/api/jobs",
    { document: current(), draws: Number($("draws").value), baseline_year: baselineYear() }, `${$("draws").value} draws`));
  $("run-sensitivity").addEventListener("click", () => startJob("/api/jobs/sensitivity",
    { document: current(), baseline_year: baselineYear() }, "sensitivity"));
  $("run-sweep").addEventListener("click", () => startJob("/api/jobs/sweep", { sweep: $("sweep").value }, `sweep ${$("sweep").value}`));
  $("run-projection").addEventListener("click", () => startJob("/api/jobs/projection", Object.assign(
    { document: current(), start: Number($("project-from").value), to: Number($("project-to").value) },
    $("project-compare").value ? { compare: $("project-compare").value } : {}), `projection to ${$("project-to").value}`));
  $("cancel").addEventListener("click", () => state.job && api(`/api/jobs/${state.job}`, { method: "DELETE" }).catch((e) => showError(e.message)));
  $("analysis-report").addEventListener("click", () => openBlob(`/api/jobs/${$("analysis-report").dataset.job}/report`, "report.html"));
  $("analysis-json").addEventListener("click", () => openBlob(`/api/jobs/${$("analysis-json").dataset.job}/result`, "result.json"));
}

async function openBlob(path, name) {
  const blob = await (await api(path, { raw: true })).blob();
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = `autopact-${name}`;
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

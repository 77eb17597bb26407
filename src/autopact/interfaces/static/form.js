// The scenario builder: form controls generated from the JSON schema that GET /api/schema returns
// (pydantic's Scenario schema, enriched with the bundled data's names and the parameters' ranges and
// sources). Nothing here is written per lever: objects become fieldsets, lists get add and remove
// buttons, enums become selects, numbers get their minimum and maximum, and each control's title is the
// field's description (its unit and source for a policy parameter). Every control carries its path
// (data-path, such as "a_list.0.a_field") so an error message of the server can point at it.
"use strict";

const SchemaForm = (() => {
  let root = null;

  function resolve(node) {
    if (node && node.$ref) {
      const name = node.$ref.split("/").pop();
      const rest = Object.assign({}, node);
      delete rest.$ref;
      return Object.assign({}, root.$defs[name], rest);
    }
    return node || {};
  }

  // {type, optional}: the node itself, or the non-null member of anyOf [X, null]
  function unwrap(node) {
    node = resolve(node);
    if (node.anyOf) {
      const members = node.anyOf.filter((m) => m.type !== "null");
      const optional = members.length < node.anyOf.length;
      if (members.length === 1) {
        const inner = resolve(members[0]);
        const hints = Object.fromEntries(Object.entries(node).filter(([k]) => k.startsWith("x-")));  // the server's hints
        return { node: Object.assign({}, inner, hints, { description: node.description || inner.description,
          default: node.default, title: node.title || inner.title }), optional };
      }
    }
    return { node, optional: false };
  }

  // a field's label: its key in words ("some_field": "some field"); a class title in words ("SomeClass": "some class")
  function label(key) {
    return String(key).replace(/([a-z])([A-Z])/g, "$1 $2").replace(/_/g, " ").toLowerCase();
  }

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "text") e.textContent = v; else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c) e.append(c);
    return e;
  }

  let counter = 0;
  const fid = () => `f${++counter}`;

  function getAt(doc, path) {
    return path.reduce((o, k) => (o == null ? undefined : o[k]), doc);
  }

  function setAt(doc, path, value) {
    let o = doc;
    for (let i = 0; i < path.length - 1; i++) {
      if (o[path[i]] == null) o[path[i]] = typeof path[i + 1] === "number" ? [] : {};
      o = o[path[i]];
    }
    const last = path[path.length - 1];
    if (value === undefined) { if (Array.isArray(o)) o[last] = null; else delete o[last]; } else o[last] = value;
  }

  // one control for a scalar (number, string, enum, boolean) at ``path``
  function scalar(key, node, optional, state, path) {
    const id = fid();
    const value = getAt(state.doc, path);
    const help = node.description || "";
    const common = { id, "data-path": path.join("."), title: help || null, "aria-describedby": null };
    let input;
    const options = node.enum || (node.const !== undefined ? [node.const] : null);
    if (options) {
      input = el("select", common);
      const labels = node["x-labels"] || {};
      const by = node["x-options-by"];  // {field, options}: only the options that fit a sibling field's value
      const fill = () => {
        const on = by ? getAt(state.doc, path.slice(0, -1).concat(by.field)) : null;
        const allowed = on != null && by.options[on] ? by.options[on] : options;
        if (allowed.length === 1 && allowed !== options) setAt(state.doc, path, allowed[0]);  // the one that fits: chosen
        const kept = getAt(state.doc, path);
        input.replaceChildren(el("option", { value: "", text: optional || node.default === undefined ? "(none)" : `(default: ${node.default})` }));
        for (const v of allowed) input.append(el("option", { value: v, text: labels[v] || v }));
        if (kept != null && !allowed.includes(kept)) input.append(el("option", { value: kept, text: `${kept} (${by ? "does not fit the " + label(by.field) : "not allowed"})` }));
        input.value = kept == null ? "" : kept;
      };
      fill();
      if (by) { input.dataset.refresh = "true"; input.refresh = fill; }
      input.addEventListener("change", () => setAt(state.doc, path, input.value === "" ? undefined : input.value));
    } else if (node.type === "boolean") {
      input = el("input", Object.assign({ type: "checkbox" }, common));
      input.checked = value == null ? !!node.default : !!value;
      input.addEventListener("change", () => setAt(state.doc, path, input.checked));
    } else if (node.type === "number" || node.type === "integer") {
      input = el("input", Object.assign({ type: "number", step: node.type === "integer" ? "1" : "any",
        min: node.minimum ?? node.exclusiveMinimum, max: node.maximum ?? node.exclusiveMaximum,
        placeholder: node.default != null ? String(node.default) : "", inputmode: "decimal" }, common));
      input.value = value == null ? "" : value;
      input.addEventListener("input", () => {
        const text = input.value.trim();
        // an unparseable entry is sent as written, so the server names the field and the value
        setAt(state.doc, path, text === "" ? undefined : (isNaN(Number(text)) ? text : Number(text)));
      });
    } else {
      input = el("input", Object.assign({ type: "text", placeholder: node.default != null ? String(node.default) : "" }, common));
      input.value = value == null ? "" : value;
      input.addEventListener("input", () => setAt(state.doc, path, input.value === "" && optional ? undefined : input.value));
    }
    const unit = node["x-unit"] ? el("span", { class: "unit", text: node["x-unit"] }) : null;
    // the label reads as words (a policy parameter's x-label); hovering it gives the technical name too
    const wrap = el("div", { class: node.type === "boolean" ? "field check" : "field" },
      el("label", { for: id, text: node["x-label"] || label(key, node), title: `${path.join(".")}${help ? ": " + help : ""}` }),
      input, unit);
    return wrap;
  }

  // a list of strings: checkboxes when the values are known, else one comma-separated text field
  function stringList(key, node, items, state, path) {
    const value = getAt(state.doc, path) || [];
    if (items.enum) {
      const box = el("fieldset", { class: "inline", "data-path": path.join("."), title: node.description || null },
        el("legend", { text: label(key, node) }));
      for (const option of items.enum) {
        const id = fid();
        const check = el("input", { type: "checkbox", id, value: option });
        check.checked = value.includes(option);
        check.addEventListener("change", () => {
          const chosen = [...box.querySelectorAll("input:checked")].map((c) => c.value);
          setAt(state.doc, path, chosen.length ? chosen : undefined);
        });
        box.append(el("span", { class: "opt" }, check, el("label", { for: id, text: option })));
      }
      return box;
    }
    const id = fid();
    const input = el("input", { type: "text", id, "data-path": path.join("."), placeholder: "comma-separated",
      title: node.description || null });
    input.value = value.join(", ");
    input.addEventListener("input", () => {
      const parts = input.value.split(",").map((s) => s.trim()).filter(Boolean);
      setAt(state.doc, path, parts.length ? parts : undefined);
    });
    return el("div", { class: "field" }, el("label", { for: id, text: label(key, node) + " (comma-separated)" }), input);
  }

  // a mapping of keys to numbers (a profit split: holder -> share); with x-keys-from, the keys are chosen
  // from the values of those sibling fields (named in the schema), else typed
  function mapping(key, node, state, path) {
    const from = node["x-keys-from"];
    const holders = () => (from || []).map((f) => getAt(state.doc, path.slice(0, -1).concat(f))).filter((v) => v != null && v !== "");
    const fillKey = (select, kept) => {
      const names = holders();
      select.replaceChildren(el("option", { value: "", text: "(choose)" }));
      for (const name of names) select.append(el("option", { value: name, text: name }));
      if (kept && !names.includes(kept)) select.append(el("option", { value: kept, text: `${kept} (not ${from.join(" or ")})` }));
      select.value = kept || "";
    };
    const box = el("fieldset", { class: "map", "data-path": path.join("."), title: node.description || null },
      el("legend", { text: label(key, node) }));
    const rows = el("div");
    const entries = Object.entries(getAt(state.doc, path) || {});
    const sync = () => {
      const out = {};
      for (const row of rows.children) {
        const k = row.querySelector(".k").value.trim(), v = row.querySelector(".v").value.trim();
        if (k) out[k] = v === "" ? null : (isNaN(Number(v)) ? v : Number(v));
      }
      setAt(state.doc, path, Object.keys(out).length ? out : undefined);
    };
    const addRow = (k, v) => {
      const kid = fid(), vid = fid();
      const remove = el("button", { type: "button", class: "small", text: "Remove", "aria-label": `remove ${k || "entry"}` });
      const keyControl = from ? el("select", { id: kid, class: "k", "data-refresh": "true" })
        : el("input", { id: kid, class: "k", type: "text", placeholder: "name" });
      const row = el("div", { class: "maprow" },
        el("label", { for: kid, class: "sr-only", text: from ? from.join(" or ") : "name" }), keyControl,
        el("label", { for: vid, class: "sr-only", text: "value" }), el("input", { id: vid, class: "v", type: "number", step: "any", placeholder: "value" }),
        remove);
      if (from) { fillKey(keyControl, k); keyControl.refresh = () => fillKey(keyControl, keyControl.value); }
      else keyControl.value = k;
      row.querySelector(".v").value = v ?? "";
      row.addEventListener("input", sync);
      row.addEventListener("change", sync);
      remove.addEventListener("click", () => { row.remove(); sync(); });
      rows.append(row);
    };
    entries.forEach(([k, v]) => addRow(k, v));
    const add = el("button", { type: "button", class: "small", text: `Add to ${label(key, node)}` });
    add.addEventListener("click", () => {
      const used = [...rows.querySelectorAll(".k")].map((c) => c.value);
      addRow(holders().find((h) => !used.includes(h)) || "", "");  // the next holder not yet given a share
      rows.lastChild.querySelector(from ? ".v" : ".k").focus();
      sync();
    });
    box.append(rows, add);
    return box;
  }

  // a list of objects: one fieldset per item, each removable, and an add button
  function objectList(key, node, items, state, path) {
    const box = el("fieldset", { class: "list", "data-path": path.join(".") },
      el("legend", { text: label(key, node), title: node.description || items.description || null }));
    const holder = el("div");
    const draw = () => {
      holder.replaceChildren();
      const list = getAt(state.doc, path) || [];
      list.forEach((item, k) => {
        const part = object(`${label(items.title || key)} ${k + 1}`, items, state, path.concat(k), true);
        const remove = el("button", { type: "button", class: "small", text: `Remove ${label(items.title || key)} ${k + 1}` });
        remove.addEventListener("click", () => {
          list.splice(k, 1);
          setAt(state.doc, path, list.length ? list : undefined);
          draw();
        });
        part.append(remove);
        holder.append(part);
      });
    };
    const add = el("button", { type: "button", text: `Add ${label(items.title || key)}`, "data-add": path.join(".") });
    add.addEventListener("click", () => {
      const list = getAt(state.doc, path) || [];
      list.push({});
      setAt(state.doc, path, list);
      draw();
      const fields = holder.lastChild.querySelectorAll("input, select");
      if (fields.length) fields[0].focus();
    });
    draw();
    box.append(holder, add);
    return box;
  }

  function object(title, node, state, path, nested) {
    const box = el(nested ? "fieldset" : "div", { class: "object", title: node.description || null, "data-path": path.join(".") || null });
    if (nested) box.append(el("legend", { text: title }));
    const required = new Set(node.required || []);
    for (const [key, child] of Object.entries(node.properties || {})) {
      box.append(field(key, child, state, path.concat(key), !required.has(key)));
    }
    // controls whose options follow a sibling's value (x-options-by, x-keys-from) are refilled when it changes
    box.addEventListener("change", (event) => {
      for (const c of box.querySelectorAll("[data-refresh]")) {
        if (c !== event.target && c.closest(".object") === box && c.refresh) c.refresh();
      }
    });
    return box;
  }

  function field(key, raw, state, path, optional) {
    const { node, optional: nullable } = unwrap(raw);
    if (node.type === "array") {
      const items = unwrap(node.items).node;
      return items.type === "object" ? objectList(key, node, items, state, path) : stringList(key, node, items, state, path);
    }
    if (node.type === "object" && node.properties) {
      if (path.length === 1 && path[0] === "parameters") return parameters(node, state, path);
      const box = object(label(key, node), node, state, path, true);
      if (!raw["x-folded"] && !node["x-folded"]) return box;
      const folded = el("details", { class: "folded", "data-path": path.join(".") },  // a long section, open when set
        el("summary", { text: `${label(key, node)}: ${node.description || raw.description || ""}` }), box);
      folded.open = getAt(state.doc, path) != null;
      return folded;
    }
    if (node.type === "object") return mapping(key, node, state, path);
    return scalar(key, node, optional || nullable, state, path);
  }

  // the policy parameters: many, each with a sourced default, so folded, with the changed ones counted
  function parameters(node, state, path) {
    const changed = Object.keys(getAt(state.doc, path) || {}).length;
    const box = el("details", { class: "parameters", "data-path": "parameters" },
      el("summary", { text: `Policy parameters (${Object.keys(node.properties).length}; ${changed} changed): ` +
        "empty keeps the sourced default shown in grey; hover for unit and source" }));
    if (changed) box.open = true;
    const grid = el("div", { class: "grid" });
    for (const [key, child] of Object.entries(node.properties)) grid.append(scalar(key, child, true, state, path.concat(key)));
    box.append(grid);
    return box;
  }

  // the form for ``state.doc`` (changed in place as the user edits) into ``container``
  function render(schema, container, state) {
    root = schema;
    container.replaceChildren();
    for (const key of schema["x-form"]) {
      container.append(field(key, schema.properties[key], state, [key], !(schema.required || []).includes(key)));
    }
  }

  // the control an error message names ("document: a_list.0.a_field: ..." or "a_list[0].a_field: ..."), marked
  // invalid: the deepest control of the message's path, or a child of it that the message's text names
  // ("parameters: parameter some_name must ..."); {target, path, rest} or null
  function mark(container, message) {
    container.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
    const text = String(message).replace(/^[^:]*document:\s*/, "").replace(/\[(\d+)\]/g, ".$1");
    const match = text.match(/^([A-Za-z_][\w.]*)/);
    if (!match) return null;
    const find = (p) => container.querySelector(`[data-path="${CSS.escape(p)}"]`);
    const parts = match[1].split(".");
    for (let n = parts.length; n > 0; n--) {
      let path = parts.slice(0, n).join(".");
      let target = find(path);
      if (!target) continue;
      const rest = text.slice(match[1].length).replace(/^:\s*/, "");
      if (n === parts.length) {
        const named = (rest.match(/[A-Za-z_]\w*/g) || []).find((word) => find(`${path}.${word}`));
        if (named) { path = `${path}.${named}`; target = find(path); }
      }
      target.setAttribute("aria-invalid", "true");
      return { target, path, rest };
    }
    return null;
  }

  // a control's place in the form as its labels read ("a list > item 2 > a field"): the legends of the
  // fieldsets around it and its own label, so a message speaks of what the user sees (item 2, not
  // a_list.1)
  function describe(container, target) {
    const own = target.matches("fieldset") ? target.querySelector(":scope > legend")
      : target.matches("details") ? target.querySelector(":scope > summary")
        : container.querySelector(`label[for="${CSS.escape(target.id)}"]`);
    const parts = own ? [own.textContent.split(":")[0]] : [];
    for (let e = target.parentElement; e && e !== container; e = e.parentElement) {
      if (e.matches("fieldset")) {
        const legend = e.querySelector(":scope > legend");
        if (legend && legend.textContent !== parts[0]) parts.unshift(legend.textContent);
      }
    }
    return parts.join(" \u203a ");
  }

  return { render, mark, describe };
})();

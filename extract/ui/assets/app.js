// extract ui: the runs table and run pages, and what every page shares. Each page fetches
// JSON from /api/... (the server reads through extract.index.read) and draws it; charts are
// plotly.js from the installed plotly package; views.js holds the other pages. State that a
// person would share (columns, sort, filters, marks) lives in the URL.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const main = () => $("#main");
const params = () => new URLSearchParams(location.search);
const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777", "#4b5563", "#65a30d"];

function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "html") el.innerHTML = v;  // only for server-rendered Markdown (raw HTML escaped there)
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat()) if (kid !== null && kid !== undefined) el.append(kid instanceof Node ? kid : String(kid));
  return el;
}

async function api(path) {
  const r = await fetch(path, { credentials: "same-origin" });
  const body = await r.json().catch(() => ({ error: `${r.status} ${r.statusText}` }));
  if (!r.ok) throw new Error(body.error || `${r.status}`);
  return body;
}

function fail(e) {
  if (e && e.stack) console.error(e.stack);
  const box = $("#error");
  box.textContent = String(e && e.message ? e.message : e);
  box.hidden = false;
  setTimeout(() => { box.hidden = true; }, 6000);
}

function fmt(v) {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : Number(v.toPrecision(6)).toString();
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

function when(iso) { return iso ? iso.replace("T", " ").replace(/\.\d+Z?$|Z$/, "") : ""; }

function setUrl(p) {
  const q = p.toString();
  history.replaceState(null, "", location.pathname + (q ? "?" + q : ""));
}

function fill(el, ...kids) {
  el.replaceChildren(...kids.flat(Infinity).filter((k) => k !== null && k !== undefined && k !== false));
}

function kvTable(obj) {
  const t = h("table", { class: "kv" });
  for (const [k, v] of Object.entries(obj || {})) t.append(h("tr", {}, h("td", {}, k), h("td", {}, fmt(v))));
  return t;
}

function gridTable(headers, rows) {
  return h("table", { class: "grid" },
    h("thead", {}, h("tr", {}, headers.map((c) => h("th", {}, c)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => c instanceof Node ? h("td", {}, c) : h("td", { class: typeof c === "number" ? "num" : null }, fmt(c)))))));
}

// Each page says when it has drawn: tests wait on body[data-ready], the benchmark reads
// when (performance.now(), from the start of navigation) and how many times.
window.extractUi = { draws: 0, at: 0 };
function drawn(page) {
  document.body.dataset.ready = page;
  window.extractUi.draws += 1;
  window.extractUi.at = performance.now();
}

// ---- live updates: one EventSource; pages register what to redo when the index changes ----
const liveHooks = [];
// A page redoes its reads at most twice a second and never two at a time, however often
// a training process makes the index change (a change still shows within 2 s: 0.5 s to
// refresh the index, 0.25 s to notice, at most 0.5 s here, then one read).
let generation = 0;  // bumped by each in-app navigation: an old page's late reads are dropped
function onLive(fn) {
  let busy = false, again = false;
  const gen = generation;
  const run = async () => {
    if (gen !== generation) return;
    if (busy) { again = true; return; }
    busy = true;
    try { await fn(); } finally {
      setTimeout(() => { busy = false; if (again) { again = false; run(); } }, 500);
    }
  };
  liveHooks.push(run);
}
function startLive() {
  if (!window.EventSource) return;
  const es = new EventSource("/events");
  es.addEventListener("hello", () => $("#live").classList.add("on"));
  es.addEventListener("change", () => liveHooks.forEach((fn) => fn()));
  es.onerror = () => $("#live").classList.remove("on");
}

// ---- charts ----
// plotly.js (4.8 MB, from the installed plotly package) is loaded only by the pages that
// draw charts, while their data is fetched, so the runs table paints without parsing it.
let plotlyLoading = null;
function plotly() {
  if (window.Plotly) return Promise.resolve();
  if (!plotlyLoading) plotlyLoading = new Promise((resolve, reject) => {
    const tag = h("script", { src: `/assets/plotly.min.js?v=${document.body.dataset.v}` });
    tag.onload = () => { performance.mark("plotly-ready"); resolve(); };
    tag.onerror = () => reject(new Error("could not load plotly.js from the server"));
    document.head.append(tag);
  });
  return plotlyLoading;
}

function smooth(values, weight) {
  if (!weight) return values;
  let last = null; const out = new Float64Array(values.length);
  values.forEach((v, i) => {
    if (Number.isNaN(v)) { out[i] = NaN; return; }
    last = last === null ? v : last * weight + (1 - weight) * v;
    out[i] = last;
  });
  return out;
}

// Curves come packed (base64 of little-endian float64, see source.packed): decoded
// once into Float64Arrays, which plotly draws as they are.
function f64(b64) {
  if (b64 === null || b64 === undefined) return null;
  const bin = atob(b64), bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Float64Array(bytes.buffer);
}
function unpack(c) { return { ...c, steps: f64(c.steps), values: f64(c.values), walls: f64(c.walls) }; }

const chartOpts = { log: false, smooth: 0, x: "step" };

function traces(series, opts) {
  return series.map((s, i) => {
    const xs = opts.x === "wall" && s.walls ? s.walls : s.steps;
    return { type: "scatter", mode: "lines", name: s.label, x: xs, y: smooth(s.values, opts.smooth),
             line: { color: COLORS[i % COLORS.length], width: 1.5 },
             hovertemplate: `${s.label}<br>%{x}: %{y:.6g}<extra></extra>` };
  });
}

function drawChart(el, name, series, opts, xMax) {
  const layout = {
    margin: { l: 55, r: 10, t: 24, b: 36 }, title: { text: name, font: { size: 13 } },
    xaxis: { title: { text: opts.x === "wall" ? "wall time (s since the run started)" : "step" } },
    yaxis: { type: opts.log ? "log" : "linear" }, showlegend: series.length > 1,
    legend: { orientation: "h", y: -0.2 }, hovermode: "closest",
  };
  if (xMax !== null && xMax !== undefined && opts.x === "step") layout.xaxis.range = [0, xMax];
  return Plotly.react(el, traces(series, opts), layout, { responsive: true, displaylogo: false });
}

function chartControls(redraw) {
  const log = h("input", { type: "checkbox", id: "opt-log" });
  const sm = h("input", { type: "range", id: "opt-smooth", min: "0", max: "0.99", step: "0.01", value: "0" });
  const x = h("select", { id: "opt-x" }, h("option", { value: "step" }, "step"), h("option", { value: "wall" }, "wall time"));
  log.onchange = () => { chartOpts.log = log.checked; redraw(); };
  sm.oninput = () => { chartOpts.smooth = Number(sm.value); redraw(); };
  x.onchange = () => { chartOpts.x = x.value; redraw(); };
  return h("div", { class: "controls" }, h("label", {}, log, " log y"), h("label", {}, "smoothing ", sm), h("label", {}, "x ", x));
}

// ---- runs table ----
async function pageRuns() {
  const p = params();
  const scope = p.get("scope") || "";
  const meta = await api(`/api/columns?scope=${encodeURIComponent(scope)}`);
  if (!p.has("cols")) {
    const metrics = meta.columns.filter((c) => c.kind === "metric").slice(0, 4).map((c) => c.name);
    const configs = meta.columns.filter((c) => c.kind === "config").slice(0, 2).map((c) => c.name);
    p.set("cols", [...metrics, ...configs].join(","));
  }
  const state = {
    scope, cols: (p.get("cols") || "").split(",").filter(Boolean), sort: p.get("sort") || "",
    desc: p.get("desc") || "", filters: p.getAll("f"), q: p.get("q") || "",
    offset: Number(p.get("offset") || 0), limit: Number(p.get("limit") || 50),
    marks: (p.get("marks") || "").split(",").filter(Boolean),
  };
  const save = () => {
    const n = new URLSearchParams();
    if (state.scope) n.set("scope", state.scope);
    n.set("cols", state.cols.join(","));
    if (state.sort) n.set("sort", state.sort);
    if (state.desc) n.set("desc", state.desc);
    state.filters.forEach((f) => n.append("f", f));
    if (state.q) n.set("q", state.q);
    if (state.offset) n.set("offset", state.offset);
    if (state.limit !== 50) n.set("limit", state.limit);
    if (state.marks.length) n.set("marks", state.marks.join(","));
    setUrl(n);
    return n;
  };
  const scopeSel = h("select", { id: "scope" }, h("option", { value: "" }, "all experiments"),
    meta.experiments.map((e) => h("option", { value: e.path, selected: e.path === scope }, `${e.path} (${e.runs})`)));
  scopeSel.onchange = () => { state.scope = scopeSel.value; state.offset = 0; save(); go(location.href); };
  const search = h("input", { type: "text", id: "search", placeholder: "search name, tag, notes", value: state.q });
  search.onchange = () => { state.q = search.value; state.offset = 0; load(); };
  const colSel = h("select", { id: "add-col" }, h("option", { value: "" }, "+ column…"),
    meta.columns.filter((c) => c.kind !== "field").map((c) => h("option", { value: c.name }, `${c.name} (${c.kind})`)));
  colSel.onchange = () => { if (colSel.value && !state.cols.includes(colSel.value)) state.cols.push(colSel.value); colSel.value = ""; load(); };
  const filt = h("input", { type: "text", id: "filter", placeholder: "filter: val_acc>0.9, config.lr=0.01, name~sweep" });
  filt.onkeydown = (ev) => { if (ev.key === "Enter" && filt.value.trim()) { state.filters.push(filt.value.trim()); filt.value = ""; state.offset = 0; load(); } };
  const chips = h("span", { id: "chips" });
  const compareBtn = h("button", { id: "compare", class: "primary", onclick: () => { go(`/compare?runs=${state.marks.join(",")}`); } }, "Compare marked");
  const sweepBtn = h("button", { id: "sweep", onclick: () => {
    const keys = state.cols.filter((c) => c.startsWith("config."));
    const metric = state.cols.find((c) => !c.startsWith("config.") && !c.startsWith("param.")) || "";
    go(`/sweep?scope=${encodeURIComponent(state.scope)}&keys=${keys.join(",")}&metric=${metric}`);
  } }, "Sweep view");
  const table = h("div", { id: "runs" });
  const pager = h("div", { class: "pager" });
  main().replaceChildren(h("h1", {}, "Runs"), h("div", { class: "controls" }, scopeSel, search, filt, colSel, compareBtn, sweepBtn), chips, table, pager);

  async function load() {
    const n = save();
    n.set("limit", state.limit); n.set("offset", state.offset);
    let data;
    try { data = await api(`/api/runs?${n}`); } catch (e) { fail(e); return; }
    chips.replaceChildren(...state.filters.map((f, i) => h("span", { class: "chip" }, f,
      h("button", { title: "remove", onclick: () => { state.filters.splice(i, 1); load(); } }, "×"))));
    compareBtn.disabled = state.marks.length < 2;
    compareBtn.textContent = `Compare marked (${state.marks.length})`;
    const head = h("tr", {}, h("th", {}, ""), ["name", "experiment", "status", "started"].map((c) => sortHead(c, c)),
      data.columns.map((c) => sortHead(c.name, c.name, true)));
    const ranges = h("tr", { class: "ranges" }, h("th", {}), h("th", {}), h("th", {}), h("th", {}), h("th", {}),
      data.columns.map((c) => h("th", {}, rangeInput(c.name, ">="), " ", rangeInput(c.name, "<="))));
    const body = data.rows.map((r) => {
      const marked = state.marks.includes(r.run.id);
      const box = h("input", { type: "checkbox", class: "mark", checked: marked, "data-run": r.run.id });
      box.onchange = () => {
        state.marks = box.checked ? [...state.marks, r.run.id] : state.marks.filter((m) => m !== r.run.id);
        load();
      };
      return h("tr", { class: marked ? "marked" : null, "data-run": r.run.id },
        h("td", {}, box),
        h("td", {}, h("a", { href: `/run/${r.run.id}` }, r.run.short)),
        h("td", {}, r.run.experiment), h("td", { class: `status-${r.run.status}` }, r.run.status),
        h("td", {}, when(r.run.started)),
        r.values.map((v, i) => {
          const col = data.columns[i].name;
          const best = data.best[col] === r.run.id;
          return h("td", { class: [typeof v === "number" ? "num" : "", best ? "best" : ""].join(" ").trim() || null, "data-col": col }, fmt(v));
        }));
    });
    table.replaceChildren(h("table", { class: "grid", id: "runs-table" }, h("thead", {}, head, ranges), h("tbody", {}, body)));
    const last = Math.min(state.offset + state.limit, data.total);
    pager.replaceChildren(
      h("button", { id: "prev", disabled: state.offset === 0, onclick: () => { state.offset = Math.max(0, state.offset - state.limit); load(); } }, "‹ prev"),
      h("span", { id: "count" }, `${data.total ? state.offset + 1 : 0}–${last} of ${data.total}`),
      h("button", { id: "next", disabled: last >= data.total, onclick: () => { state.offset += state.limit; load(); } }, "next ›"));
    drawn("runs");

    function sortHead(label, col, removable) {
      const on = state.sort === col;
      const arrow = on ? (data.descending ? " ▼" : " ▲") : "";
      const dir = data.directions[col];
      const th = h("th", { class: "sortable", "data-sort": col, title: dir ? `${dir}imize; click to sort` : "click to sort" },
        h("span", { class: "label" }, label), h("span", { class: "arrow" }, arrow));
      th.onclick = (ev) => {
        if (ev.target.tagName === "BUTTON") return;
        if (state.sort === col) state.desc = data.descending ? "0" : "1";
        else { state.sort = col; state.desc = ""; }
        state.offset = 0; load();
      };
      if (removable) th.append(h("button", { title: "remove column", onclick: () => {
        state.cols = state.cols.filter((c) => c !== col); if (state.sort === col) state.sort = ""; load(); } }, "×"));
      return th;
    }
    function rangeInput(col, op) {
      const cur = state.filters.find((f) => f.startsWith(col + op));
      const input = h("input", { class: "range", "data-range": `${col}${op}`, placeholder: op === ">=" ? "min" : "max",
        value: cur ? cur.slice(col.length + op.length) : "" });
      input.onchange = () => {
        state.filters = state.filters.filter((f) => !f.startsWith(col + op));
        if (input.value.trim()) state.filters.push(`${col}${op}${input.value.trim()}`);
        state.offset = 0; load();
      };
      return input;
    }
  }
  onLive(load);
  await load();
}

// ---- run page ----
function diffView(text) {
  const pre = h("pre", { class: "diff" });
  for (const line of text.split("\n")) {
    const cls = line.startsWith("+") && !line.startsWith("+++") ? "add" : line.startsWith("-") && !line.startsWith("---") ? "del" : line.startsWith("@@") ? "hunk" : null;
    pre.append(cls ? h("span", { class: cls }, line) : line + "\n");
  }
  return pre;
}

async function heatmap(el, runId, a) {
  const t = await api(`/api/table/${runId}/${encodeURIComponent(a.name)}${a.step === null ? "" : "?step=" + a.step}`);
  const colored = t.highlight.filter((r) => r.color && (r.min !== null || r.max !== null || r.eq !== null));
  const text = t.values.map((row) => row.map((v) => fmt(v)));
  // [[tables.highlight]] rules as cell annotations: a cell meeting a rule gets its colour
  const ann = [];
  t.values.forEach((row, i) => row.forEach((v, j) => {
    if (v === null) return;
    const rule = colored.find((r) => (r.eq === null || v === r.eq) && (r.min === null || v >= r.min) && (r.max === null || v < r.max));
    if (rule && t.values.length * row.length <= 400) ann.push({ x: j, y: i, text: fmt(v), showarrow: false, font: { color: rule.color, size: 10 } });
  }));
  Plotly.react(el, [{ type: "heatmap", z: t.values, text, hovertemplate: "row %{y}, col %{x}: %{text}<extra></extra>", colorscale: "Viridis" }],
    { margin: { l: 40, r: 10, t: 10, b: 30 }, yaxis: { autorange: "reversed" }, annotations: ann }, { responsive: true, displaylogo: false });
  return t;
}

async function pageRun() {
  const runId = decodeURIComponent(location.pathname.split("/")[2] || "");
  const [d] = await Promise.all([api(`/api/run/${encodeURIComponent(runId)}`), plotly()]);
  const r = d.run;
  const charts = h("div", { class: "cards", id: "charts" });
  performance.mark("data-ready");
  let current = { ...d, curves: d.curves.map(unpack) };
  const redraw = () => {
    for (const c of current.curves) {
      let card = charts.querySelector(`[data-curve="${CSS.escape(c.name)}"]`);
      if (!card) {
        card = h("div", { class: "card", "data-curve": c.name }, h("div", { class: "chart" }), h("div", { class: "muted points" }));
        charts.append(card);
      }
      const s = c;
      drawChart($(".chart", card), c.name, [{ label: r.short, ...s }], chartOpts,
        current.run.total_steps ? current.run.total_steps - 1 : null);
      $(".points", card).textContent = `${s.steps.length} of ${s.total} points drawn` + (s.steps.length < s.total ? " (min/max per step range kept)" : "");
      card.dataset.drawn = s.steps.length; card.dataset.total = s.total;
    }
  };
  const status = h("span", { id: "status", class: `status-${r.status}` }, r.status);
  const metrics = Object.entries(d.metrics).map(([k, v]) => [k, v, d.directions[k] || ""]);
  const prov = d.code || {};
  const sections = [
    h("h1", {}, r.short, " ", status),
    h("div", { class: "muted" }, `${r.experiment} · ${r.id} · started ${when(r.started)}`, r.ended ? ` · ended ${when(r.ended)}` : "",
      r.tags.length ? ` · tags: ${r.tags.join(", ")}` : "", d.hostname ? ` · ${d.hostname}` : ""),
    d.notes ? h("p", {}, d.notes) : null,
    h("div", { class: "cols" },
      h("div", {}, h("h2", {}, "Headline metrics"), gridTable(["metric", "value", "direction"], metrics),
        Object.keys(d.params).length ? [h("h2", {}, "Params"), kvTable(d.params)] : null),
      h("div", {}, h("h2", {}, "Config"), kvTable(d.config),
        d.config_hidden ? h("p", { class: "muted" }, `${d.config_hidden} keys hidden by [info] fields`) : null)),
    h("h2", {}, "Curves"), chartControls(redraw), charts,
  ];
  fill(main(), sections);
  redraw();
  const rest = h("div");
  main().append(rest);
  // provenance
  rest.append(h("h2", {}, "Provenance"), kvTable({ commit: prov.git_sha, branch: prov.git_branch, dirty: prov.git_dirty, tree: prov.git_tree, stamp: prov.git_stamp }));
  if (d.diff) rest.append(h("details", { open: true }, h("summary", {}, "uncommitted changes (dirty diff)"), diffView(d.diff)));
  const tables = d.artifacts.filter((a) => a.kind === "matrix");
  if (tables.length) {
    rest.append(h("h2", {}, "Tables"));
    const box = h("div", { class: "cards" }); rest.append(box);
    for (const a of tables) {
      const el = h("div", { class: "chart" });
      box.append(h("div", { class: "card", "data-table": a.name }, h("h3", {}, a.name + (a.step === null ? "" : ` @ step ${a.step}`), h("span", { class: "muted" }, ` ${a.shape.join("×")} ${a.dtype}`)), el));
      heatmap(el, r.id, a).catch(fail);
    }
  }
  const texts = d.artifacts.filter((a) => a.kind === "text");
  if (texts.length) {
    rest.append(h("h2", {}, "Texts"));
    for (const a of texts) {
      const div = h("div", { class: "markdown", "data-text": a.name }); rest.append(h("h3", {}, a.name), div);
      api(`/api/text/${r.id}/${encodeURIComponent(a.name)}${a.step === null ? "" : "?step=" + a.step}`).then((t) => { div.innerHTML = t.html; }).catch(fail);
    }
  }
  const images = d.artifacts.filter((a) => a.kind === "image");
  if (images.length) {
    rest.append(h("h2", {}, "Images"), h("div", { class: "cards" }, images.map((a) =>
      h("figure", { class: "card" }, h("img", { src: `/artifact/${r.id}/${encodeURIComponent(a.name)}${a.step === null ? "" : "?step=" + a.step}`, style: "max-width:100%" }), h("figcaption", {}, a.name)))));
  }
  if (d.group) rest.append(h("h2", {}, `Job ${d.group.name}`), gridTable(["rank", "run", "status"], d.group.members.map((m) =>
    [m.rank === null ? "-" : m.rank, m.run_id === r.id ? h("b", {}, m.name || m.run_id) : h("a", { href: `/run/${m.run_id}` }, m.name || m.run_id), m.status])),
    h("p", {}, h("a", { href: `/compare?runs=${d.group.members.map((m) => m.run_id).join(",")}` }, "compare the ranks ›")));
  if (d.models.length) rest.append(h("h2", {}, "Models"), gridTable(["name", "version", "framework", "size", "created"], d.models.map((m) => [m.name, m.version, m.framework, m.size, when(m.created_at)])));
  if (d.lineage.length) rest.append(h("h2", {}, "Lineage"), gridTable(["parent", "relation", "type"], d.lineage.map((l) =>
    [l.parent_type === "run" && l.found ? h("a", { href: `/run/${l.parent_id}` }, l.label) : l.label, l.relation, l.parent_type])),
    h("p", {}, h("a", { href: `/lineage?type=run&id=${r.id}` }, "lineage graph ›")));
  if (d.todos.length) rest.append(h("h2", {}, "TODOs"), gridTable(["", "priority", "todo"], d.todos.map((t) => [t.done ? "✓" : "○", t.priority, t.content])));
  drawn("run");
  onLive(async () => {
    try { const c = await api(`/api/curves/${r.id}`); current = { ...current, curves: c.curves.map(unpack), run: c.run };
      status.textContent = c.run.status; status.className = `status-${c.run.status}`; redraw();
    } catch (e) { fail(e); }
  });
}


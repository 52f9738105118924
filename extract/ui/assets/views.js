// extract ui: the compare, sweep, lineage, models, TODOs and SQL pages, and moving between
// pages in place. Loaded after app.js, whose helpers (h, api, drawChart, ...) it uses.
"use strict";

// ---- compare ----
async function pageCompare() {
  const ids = (params().get("runs") || "").split(",").filter(Boolean);
  if (ids.length < 2) { main().replaceChildren(h("h1", {}, "Compare"), h("p", {}, "Mark two or more runs in the ", h("a", { href: "/" }, "runs table"), ".")); return; }
  const load = async () => {
    const [d] = await Promise.all([api(`/api/compare?runs=${ids.join(",")}`), plotly()]);
    const label = Object.fromEntries(d.runs.map((r) => [r.id, r.short]));
    const charts = h("div", { class: "cards", id: "charts" });
    const redraw = () => {
      charts.replaceChildren();
      for (const c of d.charts) {
        const el = h("div", { class: "chart" });
        charts.append(h("div", { class: "card", "data-curve": c.name, "data-series": c.series.length }, el));
        drawChart(el, c.name, c.series.map((s) => ({ label: label[s.run], ...unpack(s) })), chartOpts, null);
      }
    };
    const pivotHead = ["metric", "dir", ...d.runs.map((r) => r.short)];
    const pivot = d.metrics.map((m) => [m.name, m.direction, ...d.runs.map((r) => {
      const rank = m.ranking.indexOf(r.id);
      const cell = h("span", {}, fmt(m.values[r.id]), rank >= 0 ? h("span", { class: "muted" }, ` #${rank + 1}`) : "");
      if (m.best.includes(r.id)) cell.className = "best-cell";
      return cell;
    })]);
    const cfg = d.config_diffs.map((k) => [k, ...d.runs.map((r) => d.config[r.id][k])]);
    const prm = d.param_diffs.map((k) => [k, ...d.runs.map((r) => (d.params[r.id] || {})[k])]);
    fill(main(), h("h1", {}, `Compare ${d.runs.length} runs`),
      h("p", {}, d.runs.map((r, i) => h("a", { href: `/run/${r.id}`, style: `color:${COLORS[i % COLORS.length]};margin-right:12px` }, r.short))),
      h("h2", {}, "Metrics"), gridTable(pivotHead, pivot),
      h("h2", {}, "Config that differs"), cfg.length ? gridTable(["key", ...d.runs.map((r) => r.short)], cfg) : h("p", { class: "muted" }, "identical"),
      prm.length ? [h("h2", {}, "Params that differ"), gridTable(["param", ...d.runs.map((r) => r.short)], prm)] : null,
      h("h2", {}, "Curves"), h("p", { class: "muted" }, `up to ${d.per_curve} points per curve (min/max per step range kept)`), chartControls(redraw), charts);
    main().querySelectorAll(".best-cell").forEach((el) => el.parentElement.classList.add("best"));
    redraw();
    drawn("compare");
  };
  onLive(() => load().catch(fail));
  await load();
}

// ---- sweep: parallel coordinates (our own SVG: one path per run) and a scatter ----
function axisOf(values) {
  const nums = values.filter((v) => typeof v === "number");
  if (nums.length === values.filter((v) => v !== null && v !== undefined).length && nums.length) {
    let lo = Math.min(...nums), hi = Math.max(...nums);
    const log = lo > 0 && hi / lo >= 100;  // learning rates and the like spread over decades
    const f = log ? Math.log10 : (x) => x;
    const a = f(lo), b = f(hi);
    return { pos: (v) => (typeof v === "number" ? (b === a ? 0.5 : (f(v) - a) / (b - a)) : null), ticks: [[0, fmt(lo)], [1, fmt(hi)]], log };
  }
  const cats = [...new Set(values.filter((v) => v !== null && v !== undefined).map(fmt))].sort();
  return { pos: (v) => (v === null || v === undefined ? null : cats.length === 1 ? 0.5 : cats.indexOf(fmt(v)) / (cats.length - 1)), ticks: cats.map((c, i) => [cats.length === 1 ? 0.5 : i / (cats.length - 1), c]) };
}

function ramp(t) {  // low (blue) to high (orange) metric values
  const a = [37, 99, 235], b = [234, 88, 12];
  return `rgb(${a.map((x, i) => Math.round(x + (b[i] - x) * t)).join(",")})`;
}

function parallel(cols, rows, metric, direction) {
  const W = Math.max(600, cols.length * 160), H = 360, top = 30, bottom = 30, left = 60, right = 60;
  const NS = "http://www.w3.org/2000/svg";
  const s = (tag, attrs, ...kids) => { const el = document.createElementNS(NS, tag); for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v); kids.forEach((k) => el.append(k)); return el; };
  const svg = s("svg", { width: W, height: H, id: "parallel", viewBox: `0 0 ${W} ${H}` });
  const axes = cols.map((c, i) => ({ col: c, x: left + (cols.length === 1 ? 0 : (i * (W - left - right)) / (cols.length - 1)), ...axisOf(rows.map((r) => r.values[i])) }));
  const y = (p) => top + (1 - p) * (H - top - bottom);
  const mi = metric ? cols.indexOf(metric) : -1;
  const mAxis = mi >= 0 ? axes[mi] : null;
  for (const r of rows) {
    const pts = axes.map((a, i) => { const p = a.pos(r.values[i]); return p === null ? null : [a.x, y(p)]; });
    if (pts.every((p) => p === null)) continue;
    const d = pts.map((p, i) => (p ? `${i === 0 || !pts[i - 1] ? "M" : "L"}${p[0].toFixed(1)},${p[1].toFixed(1)}` : "")).join("");
    const t = mAxis ? mAxis.pos(r.values[mi]) : 0.5;
    const path = s("path", { d, class: "pc-line", stroke: t === null ? "#bbb" : ramp(direction === "min" ? 1 - t : t), "data-run": r.run.id });
    path.append(s("title", {}, document.createTextNode(`${r.run.short}: ${cols.map((c, i) => `${c}=${fmt(r.values[i])}`).join(", ")}`)));
    path.addEventListener("click", () => { go(`/run/${r.run.id}`); });
    svg.append(path);
  }
  for (const a of axes) {
    const g = s("g", { class: "pc-axis" });
    g.append(s("line", { x1: a.x, x2: a.x, y1: top, y2: H - bottom }));
    g.append(s("text", { x: a.x, y: top - 10, "text-anchor": "middle", "font-weight": "600" }, document.createTextNode(a.col + (a.log ? " (log)" : ""))));
    for (const [p, label] of a.ticks.slice(0, 12)) g.append(s("text", { x: a.x + 4, y: y(p) + 4 }, document.createTextNode(label)));
    svg.append(g);
  }
  return svg;
}

async function pageSweep() {
  const p = params();
  const scope = p.get("scope") || "";
  const meta = await api(`/api/columns?scope=${encodeURIComponent(scope)}`);
  const configs = meta.columns.filter((c) => c.kind === "config").map((c) => c.name);
  const metrics = meta.columns.filter((c) => c.kind === "metric").map((c) => c.name);
  let keys = (p.get("keys") || "").split(",").filter(Boolean);
  if (!keys.length) keys = configs.slice(0, 4);
  let metric = p.get("metric") || metrics[0] || "";
  const [d] = await Promise.all([api(`/api/sweep?scope=${encodeURIComponent(scope)}&keys=${keys.join(",")}&metric=${encodeURIComponent(metric)}`), plotly()]);
  const save = () => { const n = new URLSearchParams(); if (scope) n.set("scope", scope); n.set("keys", keys.join(",")); n.set("metric", metric); setUrl(n); };
  save();
  const scopeSel = h("select", { id: "scope" }, h("option", { value: "" }, "all experiments"),
    meta.experiments.map((e) => h("option", { value: e.path, selected: e.path === scope }, `${e.path} (${e.runs})`)));
  scopeSel.onchange = () => { go(`/sweep?scope=${encodeURIComponent(scopeSel.value)}`); };
  const keySel = h("select", { id: "keys", multiple: true, size: Math.min(6, configs.length || 1) }, configs.map((c) => h("option", { value: c, selected: keys.includes(c) }, c)));
  const metricSel = h("select", { id: "metric" }, metrics.map((m) => h("option", { value: m, selected: m === metric }, m)));
  const apply = h("button", { onclick: () => {
    keys = [...keySel.selectedOptions].map((o) => o.value); metric = metricSel.value; save(); go(location.href); } }, "Apply");
  const numeric = keys.find((k) => d.rows.some((r) => typeof r.values[d.columns.indexOf(k)] === "number"));
  const xSel = h("select", { id: "scatter-x" }, keys.map((k) => h("option", { value: k, selected: k === numeric }, k)));
  const scatter = h("div", { class: "chart", id: "scatter" });
  const drawScatter = () => {
    const i = d.columns.indexOf(xSel.value), mi = d.columns.indexOf(metric);
    const plain = (v) => (v === null || v === undefined || typeof v === "number" || typeof v === "string" ? v ?? null : fmt(v));
    Plotly.react(scatter, [{ type: "scatter", mode: "markers", x: d.rows.map((r) => plain(r.values[i])), y: d.rows.map((r) => plain(r.values[mi])),
      text: d.rows.map((r) => r.run.short), hovertemplate: "%{text}<br>%{x}: %{y:.6g}<extra></extra>", marker: { color: COLORS[0], size: 8 } }],
    { margin: { l: 55, r: 10, t: 10, b: 40 }, xaxis: { title: { text: xSel.value } }, yaxis: { title: { text: metric } } }, { responsive: true, displaylogo: false });
  };
  xSel.onchange = drawScatter;
  main().replaceChildren(h("h1", {}, "Sweep"),
    h("div", { class: "controls" }, scopeSel, h("label", {}, "config keys ", keySel), h("label", {}, "metric ", metricSel), apply),
    h("p", { class: "muted", id: "sweep-count" }, `${d.rows.length} of ${d.total} runs; colour: ${metric || "-"} (${d.direction || ""}; orange is better)`),
    h("div", { style: "overflow-x:auto" }, parallel(d.columns, d.rows, metric, d.direction)),
    h("h2", {}, "Scatter"), h("div", { class: "controls" }, h("label", {}, "x ", xSel)), scatter);
  if (keys.length && metric) drawScatter();
  drawn("sweep");
}

// ---- lineage graph: columns by generation, ancestors left ----
async function pageLineage() {
  const p = params();
  const type = p.get("type") || "run", id = p.get("id") || "", depth = p.get("depth") || "2";
  const form = h("form", { class: "controls", method: "get" },
    h("select", { name: "type" }, ["run", "model", "experiment"].map((t) => h("option", { value: t, selected: t === type }, t))),
    h("input", { type: "text", name: "id", value: id, placeholder: "run id or name, model name@version, experiment path" }),
    h("label", {}, "depth ", h("input", { type: "number", name: "depth", value: depth, min: "1", max: "10", style: "width:50px" })),
    h("button", { class: "primary" }, "Show"));
  main().replaceChildren(h("h1", {}, "Lineage"), form);
  if (!id) { main().append(h("p", { class: "muted" }, "Pick a node, or open a run and follow its lineage link.")); drawn("lineage"); return; }
  const g = await api(`/api/lineage?type=${type}&id=${encodeURIComponent(id)}&depth=${depth}`);
  // layers by longest path from the sources, so every edge points right
  const rank = Object.fromEntries(g.nodes.map((n) => [`${n.type}:${n.id}`, 0]));
  for (let i = 0; i < g.nodes.length; i++) for (const e of g.edges) {
    const a = `${e.parent_type}:${e.parent_id}`, b = `${e.child_type}:${e.child_id}`;
    if (a in rank && b in rank && rank[b] < rank[a] + 1) rank[b] = rank[a] + 1;
  }
  const col = (n) => rank[`${n.type}:${n.id}`];
  const cols = {}; for (const n of g.nodes) (cols[col(n)] = cols[col(n)] || []).push(n);
  const keys = Object.keys(cols).map(Number).sort((a, b) => a - b);
  const BW = 180, BH = 34, GX = 80, GY = 18;
  const W = keys.length * (BW + GX) + 40, H = Math.max(...Object.values(cols).map((c) => c.length)) * (BH + GY) + 40;
  const NS = "http://www.w3.org/2000/svg";
  const s = (tag, attrs) => { const el = document.createElementNS(NS, tag); for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v); return el; };
  const svg = s("svg", { width: W, height: H, id: "lineage-graph" });
  svg.innerHTML = '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0L10,5L0,10z" fill="#999"/></marker></defs>';
  const at = {};
  keys.forEach((k, ci) => cols[k].forEach((n, ri) => { at[`${n.type}:${n.id}`] = [20 + ci * (BW + GX), 20 + ri * (BH + GY)]; }));
  for (const e of g.edges) {
    const a = at[`${e.parent_type}:${e.parent_id}`], b = at[`${e.child_type}:${e.child_id}`];
    if (!a || !b) continue;
    const path = s("path", { class: "lineage-edge", d: `M${a[0] + BW},${a[1] + BH / 2} C${a[0] + BW + GX / 2},${a[1] + BH / 2} ${b[0] - GX / 2},${b[1] + BH / 2} ${b[0]},${b[1] + BH / 2}` });
    const t = s("title", {}); t.textContent = e.relation; path.append(t); svg.append(path);
  }
  for (const n of g.nodes) {
    const [x, yy] = at[`${n.type}:${n.id}`];
    const grp = s("g", { class: `lineage-node ${n.side === "root" ? "root" : ""} ${n.found ? "" : "missing"}`, "data-node": `${n.type}:${n.id}` });
    grp.append(s("rect", { x, y: yy, width: BW, height: BH }));
    const t = s("text", { x: x + 8, y: yy + 14 }); t.textContent = n.type; t.setAttribute("fill", "#6b7480"); grp.append(t);
    const l = s("text", { x: x + 8, y: yy + 28 }); l.textContent = n.label.length > 26 ? "…" + n.label.slice(-25) : n.label; grp.append(l);
    if (n.type === "run" && n.found) { grp.style.cursor = "pointer"; grp.addEventListener("click", () => { go(`/run/${n.id}`); }); }
    svg.append(grp);
  }
  main().append(h("p", { class: "muted" }, `${g.nodes.length} nodes, ${g.edges.length} edges${g.truncated ? " (truncated at depth " + g.depth + ")" : ""}; ancestors left, descendants right`), h("div", { style: "overflow:auto" }, svg));
  drawn("lineage");
}

async function pageModels() {
  const ms = await api("/api/models");
  main().replaceChildren(h("h1", {}, "Model registry"), ms.length ? gridTable(["name", "version", "run", "framework", "size", "created", "lineage"], ms.map((m) => [
    m.name, m.version, m.run_id ? h("a", { href: `/run/${m.run_id}` }, m.run_label || m.run_id) : "", m.framework, m.size, when(m.created_at),
    h("a", { href: `/lineage?type=model&id=${encodeURIComponent(m.name + "@" + m.version)}` }, "graph")])) : h("p", { class: "muted" }, "no models registered"));
  drawn("models");
}

async function pageTodos() {
  const ts = await api("/api/todos");
  main().replaceChildren(h("h1", {}, "TODOs"), ts.length ? gridTable(["", "priority", "todo", "scope", "created", "done"], ts.map((t) => [
    t.done ? "✓" : "○", t.priority, t.content,
    t.scope_type === "run" && t.scope_id ? h("a", { href: `/run/${t.scope_id}` }, t.scope_label || t.scope_id) : t.scope_label || t.scope_type,
    when(t.created_at), when(t.completed_at)])) : h("p", { class: "muted" }, "no TODOs"));
  drawn("todos");
}

async function pageSql() {
  const q = params().get("q") || "SELECT name, status, experiment_path FROM runs ORDER BY started_at DESC LIMIT 20";
  const area = h("textarea", { class: "sql", id: "sql" }, q);
  const out = h("div", { id: "sql-out" });
  const go = async () => {
    const n = new URLSearchParams({ q: area.value }); setUrl(n);
    try {
      const r = await api(`/api/sql?${n}`);
      out.replaceChildren(gridTable(r.columns, r.rows), h("p", { class: "muted" }, `${r.rows.length} rows${r.truncated ? " (more left out)" : ""}`));
    } catch (e) { out.replaceChildren(h("p", { class: "error-inline", style: "color:#b42318" }, e.message)); }
    drawn("sql");
  };
  main().replaceChildren(h("h1", {}, "SQL"), h("p", { class: "muted" }, "Read-only, over the index; stopped after the same time limit as extract sql."), area,
    h("div", { class: "controls" }, h("button", { class: "primary", id: "run-sql", onclick: go }, "Run")), out);
  await go();
}

const PAGES = { runs: pageRuns, run: pageRun, compare: pageCompare, sweep: pageSweep, lineage: pageLineage, models: pageModels, todos: pageTodos, sql: pageSql };

function pageOf(path) {
  if (path.startsWith("/run/")) return "run";
  const name = path.replace(/^\/+/, "").split("/")[0];
  return name in PAGES ? name : "runs";
}

// One page load per tab: links inside the app swap #main in place (history.pushState),
// so plotly.js is parsed once, not on every run opened from the table.
function show() {
  const page = pageOf(location.pathname);
  document.body.dataset.page = page;
  delete document.body.dataset.ready;
  generation += 1;
  liveHooks.length = 0;
  if (window.Plotly) main().querySelectorAll(".js-plotly-plot").forEach((el) => Plotly.purge(el));
  document.querySelectorAll("[data-nav]").forEach((a) => a.classList.toggle("on", a.dataset.nav === page));
  if (["run", "compare", "sweep"].includes(page)) plotly().catch(fail);
  window.scrollTo(0, 0);
  (PAGES[page] || pageRuns)().catch((e) => { fail(e); main().replaceChildren(h("p", { class: "error-inline" }, String(e.message || e))); drawn("error"); });
}

function go(url) {
  const to = new URL(url, location.href);
  if (to.origin !== location.origin) { location.href = url; return; }
  history.pushState(null, "", to.pathname + to.search);
  show();
}

window.addEventListener("popstate", show);
document.addEventListener("click", (ev) => {
  const a = ev.target.closest && ev.target.closest("a[href]");
  if (!a || a.target || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const to = new URL(a.href, location.href);
  if (to.origin !== location.origin || to.pathname.startsWith("/artifact/")) return;
  ev.preventDefault();
  go(to.href);
});
window.addEventListener("DOMContentLoaded", () => { show(); startLive(); });

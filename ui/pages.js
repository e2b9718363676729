// pages.js - the thread analysis, tasks, regions and logs. The lists of
// tasks, regions and logs are the server's: it sorts, filters and cuts
// them into pages (/api/tasklist, /api/regionlist, /api/logs), so a page
// holds a page whatever the trace; a request a newer one replaces is
// aborted, and the server drops it. A page's state (type, filter, sort,
// page) is kept in the URL.
import { getJSON, fmtNs, el, sortableTable, procURL, laneKey } from "/app.js";

const COLUMNS = [
  ["execution", "execution_ns"], ["network", "network_wait_ns"], ["sync", "sync_block_ns"],
  ["syscall", "syscall_ns"], ["sched", "sched_wait_ns"], ["sleep", "sleep_ns"], ["other", "other_ns"],
];
const TIME_COLUMNS = ["execution", "network", "sync", "syscall", "sched", "sleep", "other"];
const PAGE = 50;

function toTimeline(t0, t1, tid, task, image) {
  const pad = Math.max((t1 - t0) * 0.05, 1000);
  location.hash = `#timeline?t0=${Math.floor(t0 - pad)}&t1=${Math.ceil(t1 + pad)}&tid=${laneKey(tid, image) || 0}` +
    (task ? `&task=${task}` : "");
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Fetches JSON; an answer 202 (the lists still being indexed) calls
// pending(progress) and asks again. A newer call on the same loader aborts
// this one: it then resolves to null.
class Loader {
  // A tree's lists are of the process the page was made for, which another
  // choice does not change under a page still loading.
  constructor(pending, proc = window.ctraceProc) { this.pending = pending; this.ctrl = null; this.proc = proc; }
  async get(url) {
    this.ctrl?.abort();
    const ctrl = this.ctrl = new AbortController();
    try {
      for (;;) {
        const r = await fetch(procURL(url, this.proc), { signal: ctrl.signal });
        if (r.status === 202) {
          const p = await r.json();
          this.pending?.(p.progress);
          await sleep(400);
          if (ctrl.signal.aborted) return null;
          continue;
        }
        if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`);
        const data = await r.json();
        return ctrl.signal.aborted ? null : data;
      }
    } catch (e) {
      if (e.name === "AbortError") return null;
      throw e;
    }
  }
}

function pendingNote(box, what) {
  return (p) => box.replaceChildren(el("p", { class: "muted pending",
    text: `indexing ${what}: ${Math.round((p || 0) * 100)}%` }));
}

// The page's state in the URL: #page?key=value..., without a new entry in
// the history.
function readState() {
  const [, query] = location.hash.slice(1).split("?");
  return Object.fromEntries(new URLSearchParams(query || ""));
}
function writeState(page, state) {
  const q = new URLSearchParams(Object.entries(state).filter(([, v]) => v !== "" && v != null));
  history.replaceState(null, "", `#${page}${q.toString() ? `?${q}` : ""}`);
}

// "1.5ms", "200us", "30 ns", "2s", "1500" (ns): nanoseconds, or NaN.
export function parseDuration(text) {
  const m = String(text).trim().match(/^([0-9]*\.?[0-9]+)\s*(ns|us|µs|ms|s)?$/i);
  if (!m) return NaN;
  const mult = { ns: 1, us: 1e3, "µs": 1e3, ms: 1e6, s: 1e9 }[(m[2] || "ns").toLowerCase()];
  return Math.round(Number(m[1]) * mult);
}

// A table whose rows the server gives a page at a time. columns: {name,
// sort (the server's key, or none), desc (first order on a click), show}.
// load(offset, limit, sort, order) gives {total, rows} (or null: aborted).
function pagedTable({ columns, load, onRow, state, onState, caption }) {
  const box = el("div", { class: "paged" });
  const table = el("table", { class: "paged-table" });
  const head = el("tr"), body = el("tbody");
  const pager = el("div", { class: "pager" });
  const info = el("span", { class: "pager-info" });
  let offset = Number(state.offset) || 0, sort = state.sort, order = state.order;
  let total = 0, lastRows = [];
  const button = (text, title, go) => el("button", { text, title, onclick: go });
  const first = button("«", "first page", () => show(0));
  const prev = button("‹", "previous page", () => show(Math.max(0, offset - PAGE)));
  const next = button("›", "next page", () => show(offset + PAGE));
  const last = button("»", "last page", () => show(Math.max(0, Math.floor((total - 1) / PAGE) * PAGE)));
  pager.append(first, prev, info, next, last);
  const drawHead = () => {
    head.replaceChildren();
    for (const c of columns) {
      const th = el("th", { text: c.name + (c.sort && c.sort === sort ? (order === "desc" ? " ▼" : " ▲") : "") });
      if (c.cls) th.className = c.cls;
      if (c.sort) {
        th.classList.add("sortable");
        th.dataset.sort = c.sort;
        th.addEventListener("click", () => {
          order = sort === c.sort ? (order === "desc" ? "asc" : "desc") : (c.desc ? "desc" : "asc");
          sort = c.sort;
          show(0);
        });
      } else {
        th.classList.add("unsorted");
      }
      head.append(th);
    }
  };
  const show = async (at) => {
    at = Math.max(0, at);
    box.classList.add("loading");
    const page = await load(at, PAGE, sort, order);
    if (!page) return; // replaced by a newer request
    box.classList.remove("loading");
    offset = at;
    total = page.total;
    lastRows = page.rows;
    drawHead();
    body.replaceChildren();
    for (const row of page.rows) {
      const tr = el("tr", onRow ? { class: "link" } : {});
      for (const c of columns) {
        const td = el("td", { text: c.show(row) });
        if (c.cls) td.className = c.cls;
        tr.append(td);
      }
      if (onRow) tr.addEventListener("click", () => onRow(row));
      body.append(tr);
    }
    info.textContent = total ? `${(offset + 1).toLocaleString()}–${(offset + page.rows.length).toLocaleString()} of ${total.toLocaleString()}`
      : "none";
    first.disabled = prev.disabled = offset === 0;
    next.disabled = last.disabled = offset + PAGE >= total;
    box.dataset.total = String(total);
    box.dataset.offset = String(offset);
    box.dataset.ready = "1";
    onState?.({ offset: offset || "", sort, order });
    box.dispatchEvent(new CustomEvent("page", { detail: page }));
  };
  table.append(el("thead", {}, head), body);
  if (caption) box.append(caption);
  box.append(pager, table);
  drawHead();
  return { box, show, reload: () => show(0), rows: () => lastRows, body };
}

export async function threadsPage(section) {
  const rows = await getJSON("/api/threads");
  section.append(el("h2", { text: "Thread analysis" }),
    el("p", { class: "muted", text: "Where each thread's time went; the columns add up to its lifetime. A click shows the thread on the timeline." }));
  const columns = [
    ...(rows.length && rows[0].pid !== undefined ? [{ name: "pid", value: (r) => r.pid }] : []),
    { name: "thread", value: (r) => r.tid, show: (r) => `${r.name} ${r.tid}` },
    { name: "start function", value: (r) => r.start_function, show: (r) => r.start_function || "" },
    ...COLUMNS.map(([name, key]) => ({ name, value: (r) => r[key], show: (r) => fmtNs(r[key]) })),
    { name: "total", value: (r) => r.total_ns, show: (r) => fmtNs(r.total_ns) },
  ];
  section.append(sortableTable(columns, rows, (r) => toTimeline(r.begin_ns, r.end_ns, r.tid, 0, r.image)));

  // Grouped by start function, as go tool trace groups goroutines.
  const groups = new Map();
  for (const r of rows) {
    const g = groups.get(r.start_function || "(not created in the trace)") || { fn: r.start_function || "(not created in the trace)", count: 0, total_ns: 0 };
    g.count++;
    for (const [, key] of COLUMNS) g[key] = (g[key] || 0) + r[key];
    g.total_ns += r.total_ns;
    groups.set(g.fn, g);
  }
  section.append(el("h3", { text: "By start function" }), sortableTable([
    { name: "start function", value: (g) => g.fn },
    { name: "threads", value: (g) => g.count },
    ...COLUMNS.map(([name, key]) => ({ name, value: (g) => g[key], show: (g) => fmtNs(g[key]) })),
    { name: "total", value: (g) => g.total_ns, show: (g) => fmtNs(g.total_ns) },
  ], [...groups.values()]));
}

// 4584562 as 4.58M, 255746 as 256k: a count that fits over its bar.
function fmtCount(n) {
  if (n < 1e4) return String(n);
  if (n < 1e6) return `${Math.round(n / 1e3)}k`;
  return `${(n / 1e6).toPrecision(3)}M`;
}

// A latency histogram as bars on a canvas; a click on a bar calls
// pick(lo, hi) (the same bar again: pick(null)).
function histogram(h, selected, pick) {
  const cv = el("canvas", { class: "hist", width: "520", height: "130" });
  const c = cv.getContext("2d");
  const max = Math.max(1, ...h.map((b) => b[2]));
  const w = Math.max(8, Math.floor(500 / Math.max(h.length, 1)));
  c.font = "10px system-ui";
  h.forEach(([lo, hi, count], i) => {
    const bh = Math.round((count / max) * 82); // room above for the count
    const on = selected && selected[0] === lo && selected[1] === hi;
    c.fillStyle = on ? "#1d4f9c" : "#4a7fd6";
    c.fillRect(10 + i * w, 100 - bh, w - 2, Math.max(bh, count ? 1 : 0));
    c.fillStyle = "#333";
    if (count) c.fillText(fmtCount(count), 10 + i * w, 96 - bh, w - 1);
    c.save();
    c.translate(10 + i * w, 112);
    c.fillText(fmtNs(lo), 0, 8);
    c.restore();
  });
  cv.dataset.bars = String(h.filter((b) => b[2] > 0).length);
  cv.title = "a click on a bar lists its instances";
  cv.addEventListener("click", (e) => {
    const r = cv.getBoundingClientRect();
    const i = Math.floor((e.clientX - r.left - 10) / w);
    if (i < 0 || i >= h.length || !h[i][2]) return;
    const [lo, hi] = h[i];
    pick(selected && selected[0] === lo && selected[1] === hi ? null : [lo, hi]);
  });
  return cv;
}

function threadName(tid) {
  const t = (window.ctraceSummary?.threads || []).find((x) => x.tid === laneKey(tid));
  return `${t?.name || "thread"} ${tid}`;
}
const since = (t) => fmtNs(t - (window.ctraceSummary?.begin || 0));

// Tasks and regions: the types, then one type's histogram and instances.
function typesPage(what, url) {
  const page = what === "task" ? "tasks" : "regions";
  return async (section) => {
    const proc = window.ctraceProc;
    section.append(el("h2", { text: what === "task" ? "Tasks" : "Regions" }));
    const status = el("div");
    section.append(status);
    const types = await new Loader(pendingNote(status, "tasks, regions and logs"), proc).get(url);
    if (!section.isConnected) return; // another process chosen meanwhile
    status.replaceChildren();
    if (!types.length) {
      section.append(el("p", { class: "muted", text: `no ${what}s in this trace` }));
      return;
    }
    const detail = el("div", { class: "type-detail" });
    const table = sortableTable([
      { name: `${what} type`, value: (t) => t.type },
      { name: "count", value: (t) => t.count },
      { name: "total", value: (t) => t.total_ns, show: (t) => fmtNs(t.total_ns) },
      { name: "min", value: (t) => t.min_ns, show: (t) => fmtNs(t.min_ns) },
      { name: "p50", value: (t) => t.p50_ns, show: (t) => fmtNs(t.p50_ns) },
      { name: "p90", value: (t) => t.p90_ns, show: (t) => fmtNs(t.p90_ns) },
      { name: "p99", value: (t) => t.p99_ns, show: (t) => fmtNs(t.p99_ns) },
      { name: "max", value: (t) => t.max_ns, show: (t) => fmtNs(t.max_ns) },
      { name: "unfinished", value: (t) => t.unfinished },
    ], types, (t) => showType(t, {}));
    table.classList.add("types");
    section.append(table, detail);
    const state = readState();
    const showType = (t, st) => typeDetail(detail, what, page, t, st, proc);
    showType(types.find((t) => t.type === state.type) || types[0], state);
  };
}

function typeDetail(box, what, page, type, state, proc) {
  const loader = new Loader(pendingNote(box, "tasks, regions and logs"), proc);
  const times = new Loader(null, proc);
  let filter = { min: state.min || "", max: state.max || "", open: state.open === "1" };
  const save = (extra) => writeState(page, { type: type.type, min: filter.min, max: filter.max,
    open: filter.open ? "1" : "", ...extra });
  const minInput = el("input", { type: "text", class: "duration", placeholder: "min, e.g. 1ms", value: filter.min ? fmtNs(Number(filter.min)) : "" });
  const maxInput = el("input", { type: "text", class: "duration", placeholder: "max, e.g. 5ms", value: filter.max ? fmtNs(Number(filter.max)) : "" });
  const openBox = el("input", { type: "checkbox" });
  openBox.checked = filter.open;
  const apply = el("button", { text: "filter" });
  const clear = el("button", { text: "all" });
  const filterNote = el("span", { class: "muted filter-note" });
  const histBox = el("div");
  const drawHist = () => histBox.replaceChildren(histogram(type.histogram,
    filter.min !== "" && filter.max !== "" ? [Number(filter.min), Number(filter.max)] : null, (bar) => {
      filter = bar ? { min: String(bar[0]), max: String(bar[1]), open: false } : { min: "", max: "", open: false };
      minInput.value = bar ? fmtNs(bar[0]) : "";
      maxInput.value = bar ? fmtNs(bar[1]) : "";
      openBox.checked = false;
      refresh();
    }));
  const columns = what === "task" ? [
    { name: "task", show: (r) => String(r.id) },
    { name: "start", sort: "begin", show: (r) => since(r.begin_ns) },
    { name: "duration", sort: "duration", desc: true, show: (r) => r.open ? "unfinished" : fmtNs(r.duration_ns) },
    { name: "threads", show: (r) => r.threads.join(" ") + (r.nthreads > r.threads.length ? " …" : ""), cls: "left" },
    { name: "regions", show: (r) => r.time ? String(r.time.regions) : "…" },
    { name: "logs", show: (r) => r.time ? String(r.time.logs) : "…" },
    ...TIME_COLUMNS.map((k) => ({ name: k, show: (r) => !r.time ? "…" : r.time.time ? fmtNs(r.time.time[`${k}_ns`]) : "–" })),
  ] : [
    { name: "thread", show: (r) => threadName(r.tid), cls: "left" },
    { name: "start", sort: "begin", show: (r) => since(r.begin_ns) },
    { name: "duration", sort: "duration", desc: true, show: (r) => r.open ? "unfinished" : fmtNs(r.duration_ns) },
    { name: "task", show: (r) => r.task ? `${r.task}${r.task_type ? ` (${r.task_type})` : ""}` : "", cls: "left" },
  ];
  const list = what === "task" ? "/api/tasklist" : "/api/regionlist";
  const table = pagedTable({
    columns,
    state: { offset: state.offset, sort: state.sort || "duration", order: state.order || "desc" },
    onState: (s) => save(s),
    load: async (offset, limit, sort, order) => {
      const q = new URLSearchParams({ type: type.type, offset, limit, sort, order });
      if (filter.open) q.set("open", "1");
      else {
        if (filter.min !== "") q.set("min", filter.min);
        if (filter.max !== "") q.set("max", filter.max);
      }
      return loader.get(`${list}?${q}`);
    },
    onRow: (r) => {
      const end = r.open ? window.ctraceSummary.end : r.begin_ns + r.duration_ns;
      if (what === "task") toTimeline(r.begin_ns, end, r.threads[0], r.id);
      else toTimeline(r.begin_ns, end, r.tid, r.task);
    },
  });
  // Where each task of the page spent its time: its threads read again on
  // the server, after the page is drawn.
  if (what === "task")
    table.box.addEventListener("page", async (e) => {
      const rows = e.detail.rows;
      if (!rows.length) return;
      const got = await times.get(`/api/tasktime?ids=${rows.map((r) => r.id).join(",")}`);
      if (!got || table.rows() !== rows) return;
      const byId = new Map(got.map((t) => [t.id, t]));
      rows.forEach((r, i) => {
        r.time = byId.get(r.id) || { regions: 0, logs: 0, time: null };
        const tr = table.body.children[i];
        if (!tr) return;
        columns.forEach((c, k) => { tr.children[k].textContent = c.show(r); });
      });
      table.box.dataset.times = "1";
    });
  const refresh = () => {
    drawHist();
    filterNote.textContent = filter.open ? `unfinished ${what}s` : filter.min !== "" || filter.max !== ""
      ? `durations ${filter.min !== "" ? fmtNs(Number(filter.min)) : "0"} – ${filter.max !== "" ? fmtNs(Number(filter.max)) : "∞"}` : `every ${what}`;
    table.show(0);
  };
  apply.addEventListener("click", () => {
    const lo = minInput.value.trim() ? parseDuration(minInput.value) : "";
    const hi = maxInput.value.trim() ? parseDuration(maxInput.value) : "";
    if (Number.isNaN(lo) || Number.isNaN(hi)) {
      filterNote.textContent = "a duration is a number with ns, us, ms or s";
      return;
    }
    filter = { min: lo === "" ? "" : String(lo), max: hi === "" ? "" : String(hi), open: openBox.checked };
    refresh();
  });
  for (const input of [minInput, maxInput])
    input.addEventListener("keydown", (e) => { if (e.key === "Enter") apply.click(); });
  clear.addEventListener("click", () => {
    filter = { min: "", max: "", open: false };
    minInput.value = maxInput.value = "";
    openBox.checked = false;
    refresh();
  });
  const unfinished = type.unfinished ? el("label", {}, openBox, ` unfinished only (${type.unfinished})`) : el("span");
  box.replaceChildren(
    el("h3", { text: `${type.type}: ${type.count.toLocaleString()} ended, latency distribution` }), histBox,
    el("div", { class: "filters" }, el("span", { text: "duration from " }), minInput, el("span", { text: " to " }), maxInput,
      apply, clear, unfinished, filterNote),
    el("p", { class: "muted", text: what === "task"
      ? "Each task: a click shows it on the timeline with its threads, regions and logs in focus."
      : "Each region: a click shows it on the timeline." }),
    table.box);
  box.dataset.type = type.type;
  drawHist();
  filterNote.textContent = filter.open ? `unfinished ${what}s` : filter.min !== "" || filter.max !== "" ? "filtered" : `every ${what}`;
  table.show(Number(state.offset) || 0);
}

export const tasksPage = typesPage("task", "/api/tasks");
export const regionsPage = typesPage("region", "/api/regions");

export async function logsPage(section) {
  const state = readState();
  const input = el("input", { type: "search", placeholder: "search category or message", value: state.q || "" });
  const threads = el("select", { class: "thread-filter" }, el("option", { value: "", text: "every thread" }),
    ...(window.ctraceSummary?.threads || []).filter((t) => !window.ctraceSummary.tree || t.image === window.ctraceProc)
      .map((t) => el("option", { value: String(t.os_tid ?? t.tid), text: threadName(t.os_tid ?? t.tid) })));
  threads.value = state.tid || "";
  const note = el("p", { class: "muted" });
  const status = el("div");
  const loader = new Loader(pendingNote(status, "logs"));
  let total = 0;
  const table = pagedTable({
    columns: [
      { name: "time", sort: "t", show: (g) => since(g.t) },
      { name: "thread", show: (g) => threadName(g.tid), cls: "left" },
      { name: "task", show: (g) => g.task ? String(g.task) : "" },
      { name: "category", show: (g) => g.category, cls: "left" },
      { name: "message", show: (g) => g.message, cls: "left message" },
    ],
    state: { offset: state.offset, sort: "t", order: state.order || "asc" },
    onState: (s) => writeState("logs", { q: input.value, tid: threads.value, offset: s.offset, order: s.order }),
    load: async (offset, limit, sort, order) => {
      const q = new URLSearchParams({ q: input.value, offset, limit, order });
      if (threads.value) q.set("tid", threads.value);
      const d = await loader.get(`/api/logs?${q}`);
      if (!d) return null;
      status.replaceChildren();
      total = d.total;
      note.textContent = `${d.matched.toLocaleString()} of ${d.total.toLocaleString()} logs`;
      return { total: d.matched, rows: d.logs };
    },
    onRow: (g) => toTimeline(g.t - 1e5, g.t + 1e5, g.tid, g.task),
  });
  section.append(el("h2", { text: "Logs" }), el("div", { class: "filters" }, input, threads), note, status, table.box);
  let timer;
  input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(() => table.show(0), 150); });
  threads.addEventListener("change", () => table.show(0));
  await table.show(Number(state.offset) || 0);
  section.dataset.total = String(total);
}

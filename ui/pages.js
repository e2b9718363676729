// pages.js - the thread analysis, tasks, regions and logs.
import { getJSON, fmtNs, el, sortableTable } from "/app.js";

const COLUMNS = [
  ["execution", "execution_ns"], ["network", "network_wait_ns"], ["sync", "sync_block_ns"],
  ["syscall", "syscall_ns"], ["sched", "sched_wait_ns"], ["sleep", "sleep_ns"], ["other", "other_ns"],
];

function toTimeline(t0, t1, tid) {
  const pad = Math.max((t1 - t0) * 0.05, 1000);
  location.hash = `#timeline?t0=${Math.floor(t0 - pad)}&t1=${Math.ceil(t1 + pad)}&tid=${tid || 0}`;
}

export async function threadsPage(section) {
  const rows = await getJSON("/api/threads");
  section.append(el("h2", { text: "Thread analysis" }),
    el("p", { class: "muted", text: "Where each thread's time went; the columns add up to its lifetime. A click shows the thread on the timeline." }));
  const columns = [
    { name: "thread", value: (r) => r.tid, show: (r) => `${r.name} ${r.tid}` },
    { name: "start function", value: (r) => r.start_function, show: (r) => r.start_function || "" },
    ...COLUMNS.map(([name, key]) => ({ name, value: (r) => r[key], show: (r) => fmtNs(r[key]) })),
    { name: "total", value: (r) => r.total_ns, show: (r) => fmtNs(r.total_ns) },
  ];
  section.append(sortableTable(columns, rows, (r) => toTimeline(r.begin_ns, r.end_ns, r.tid)));

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

// A latency histogram as bars on a canvas.
function histogram(h) {
  const cv = el("canvas", { class: "hist", width: "520", height: "130" });
  const c = cv.getContext("2d");
  const max = Math.max(1, ...h.map((b) => b[2]));
  const w = Math.max(8, Math.floor(500 / Math.max(h.length, 1)));
  c.font = "10px system-ui";
  h.forEach(([lo, , count], i) => {
    const bh = Math.round((count / max) * 90);
    c.fillStyle = "#4a7fd6";
    c.fillRect(10 + i * w, 100 - bh, w - 2, bh);
    c.fillStyle = "#333";
    if (count) c.fillText(String(count), 10 + i * w, 96 - bh);
    c.save();
    c.translate(10 + i * w, 112);
    c.fillText(fmtNs(lo), 0, 8);
    c.restore();
  });
  cv.dataset.bars = String(h.filter((b) => b[2] > 0).length);
  return cv;
}

function typesPage(what, url) {
  return async (section) => {
    const types = await getJSON(url);
    section.append(el("h2", { text: what === "task" ? "Tasks" : "Regions" }));
    if (!types.length) {
      section.append(el("p", { class: "muted", text: `no ${what}s in this trace` }));
      return;
    }
    const detail = el("div");
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
    ], types, (t) => showType(t));
    section.append(table, detail);
    const showType = async (t) => {
      detail.replaceChildren(el("h3", { text: `${t.type}: ${t.count} ended, latency distribution` }), histogram(t.histogram));
      if (what !== "task") return;
      const tasks = await getJSON(`/api/tasklist?type=${encodeURIComponent(t.type)}`);
      detail.append(el("p", { class: "muted", text: "Each task: a click shows it on the timeline." }), sortableTable([
        { name: "task", value: (r) => r.id },
        { name: "duration", value: (r) => r.duration_ns ?? -1, show: (r) => r.duration_ns == null ? "unfinished" : fmtNs(r.duration_ns) },
        { name: "threads", value: (r) => r.threads.length, show: (r) => r.threads.join(" ") },
        { name: "logs", value: (r) => r.logs },
        { name: "regions", value: (r) => r.regions },
        ...["execution", "network", "sync", "syscall", "sched", "sleep", "other"].map((k) =>
          ({ name: k, value: (r) => r[`${k}_ns`], show: (r) => fmtNs(r[`${k}_ns`]) })),
      ], tasks, (r) => toTimeline(r.begin_ns, r.begin_ns + (r.duration_ns || 0), r.threads[0])));
    };
    showType(types[0]);
  };
}

export const tasksPage = typesPage("task", "/api/tasks");
export const regionsPage = typesPage("region", "/api/regions");

export async function logsPage(section) {
  const input = el("input", { type: "search", placeholder: "search category or message" });
  const out = el("div");
  section.append(el("h2", { text: "Logs" }), input, out);
  const load = async () => {
    const d = await getJSON(`/api/logs?q=${encodeURIComponent(input.value)}`);
    out.replaceChildren(el("p", { class: "muted", text: `${d.matched} of ${d.total} logs${d.matched > d.logs.length ? `, the first ${d.logs.length} shown` : ""}` }),
      sortableTable([
        { name: "time", value: (g) => g.t, show: (g) => fmtNs(g.t - window.ctraceSummary.begin) },
        { name: "thread", value: (g) => g.tid },
        { name: "task", value: (g) => g.task },
        { name: "category", value: (g) => g.category },
        { name: "message", value: (g) => g.message },
      ], d.logs, (g) => toTimeline(g.t - 1e5, g.t + 1e5, g.tid)));
  };
  let timer;
  input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(load, 150); });
  await load();
}

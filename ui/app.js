// app.js - ctrace view: the pages and what they share.
import { Timeline } from "/timeline.js";
import { threadsPage, tasksPage, regionsPage, logsPage } from "/pages.js";
import { profilesPage } from "/flame.js";
import { utilizationPage } from "/mmu.js";

// A process tree's view (ctrace view FILE FILE.*): the lists of tasks,
// regions and logs are one process's at a time, chosen on their pages;
// their requests carry its image (proc=).
const PER_PROCESS = /^\/api\/(tasks|regions|tasklist|regionlist|logs|tasktime|focus)(\?|$)/;
export function procURL(url, proc = window.ctraceProc) {
  if (!window.ctraceSummary?.tree || !PER_PROCESS.test(url)) return url;
  return `${url}${url.includes("?") ? "&" : "?"}proc=${proc || 0}`;
}

// A lane's key from a process's own thread id (a tree's lists name those).
export function laneKey(tid, image = window.ctraceProc || 0) {
  const s = window.ctraceSummary;
  if (!s?.tree) return tid;
  return s.threads.find((t) => t.image === image && t.os_tid === tid)?.tid ?? tid;
}

export function processLabel(p) {
  return `pid ${p.pid} ${p.command}${p.exec_prev >= 0 ? " (exec'd)" : ""}`;
}

function procSelector(page) {
  const s = window.ctraceSummary;
  const select = el("select", { class: "proc-select" },
    ...s.processes.map((p) => el("option", { value: String(p.image), text: processLabel(p) })));
  select.value = String(window.ctraceProc || 0);
  select.addEventListener("change", () => {
    window.ctraceProc = Number(select.value);
    // A fresh section for each list: what the pages of the process before
    // still load lands in the old one, out of the document.
    for (const p of ["tasks", "regions", "logs"]) {
      shown[p] = false;
      const old = document.getElementById(`page-${p}`);
      const fresh = el("section", { id: old.id, class: old.className });
      fresh.hidden = old.hidden;
      old.replaceWith(fresh);
    }
    route();
  });
  return el("div", { class: "filters proc-filter" },
    el("span", { text: `${page} of the process ` }), select);
}

export async function getJSON(url) {
  url = procURL(url);
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: ${r.status} ${await r.text()}`);
  return r.json();
}

export function fmtNs(ns) {
  const a = Math.abs(ns);
  if (a < 1e3) return `${Math.round(ns)}ns`;
  if (a < 1e6) return `${(ns / 1e3).toPrecision(3)}us`;
  if (a < 1e9) return `${(ns / 1e6).toPrecision(3)}ms`;
  return `${(ns / 1e9).toPrecision(4)}s`;
}

// A duration with 4 significant digits: "1.607 ms", "38.2 µs", "412 ns".
export function fmtDur(ns) {
  const a = Math.abs(ns);
  if (a < 1e3) return `${Math.round(ns)} ns`;
  const [div, unit] = a < 1e6 ? [1e3, "µs"] : a < 1e9 ? [1e6, "ms"] : [1e9, "s"];
  const v = ns / div;
  return `${v.toFixed(Math.max(0, 3 - Math.floor(Math.log10(Math.abs(v)))))} ${unit}`;
}

// A time since the trace's start, with the digits a resolution of res ns
// needs (at least the microsecond under a millisecond of resolution):
// "119.0384 ms", "2.000731 s".
export function fmtTime(ns, res = 1000) {
  const a = Math.abs(ns);
  const [div, unit] = a >= 1e9 ? [1e9, "s"] : a >= 1e6 ? [1e6, "ms"] : a >= 1e3 ? [1e3, "µs"] : [1, "ns"];
  const digits = Math.max(0, Math.min(9, Math.ceil(Math.log10(div / Math.max(1, res)))));
  return `${(ns / div).toFixed(digits)} ${unit}`;
}

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "onclick") e.addEventListener("click", v);
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

// A table whose columns sort on a click of their header.
export function sortableTable(columns, rows, onRow) {
  const table = el("table");
  const head = el("tr");
  const body = el("tbody");
  let sortKey = null, sortDir = -1;
  const draw = () => {
    body.replaceChildren();
    const sorted = sortKey === null ? rows : [...rows].sort((a, b) => {
      const x = columns[sortKey].value(a), y = columns[sortKey].value(b);
      return (x < y ? -1 : x > y ? 1 : 0) * sortDir;
    });
    for (const row of sorted) {
      const tr = el("tr", onRow ? { class: "link" } : {});
      for (const c of columns) tr.append(el("td", { text: c.show ? c.show(row) : String(c.value(row)) }));
      if (onRow) tr.addEventListener("click", () => onRow(row));
      body.append(tr);
    }
  };
  columns.forEach((c, i) => {
    const th = el("th", { text: c.name });
    th.addEventListener("click", () => {
      sortDir = sortKey === i ? -sortDir : -1;
      sortKey = i;
      draw();
    });
    head.append(th);
  });
  table.append(el("thead", {}, head), body);
  draw();
  return table;
}

const pages = { timeline: null, threads: threadsPage, profiles: profilesPage,
                utilization: utilizationPage, tasks: tasksPage, regions: regionsPage, logs: logsPage };
const shown = {};
let timeline = null;

async function route() {
  const [name, query] = (location.hash.slice(1) || "timeline").split("?");
  const page = name in pages ? name : "timeline";
  for (const p of Object.keys(pages))
    document.getElementById(`page-${p}`).hidden = p !== page;
  for (const a of document.querySelectorAll("header nav a"))
    a.classList.toggle("active", a.dataset.page === page);
  const params = new URLSearchParams(query || "");
  document.body.classList.toggle("on-timeline", page === "timeline");
  if (page === "timeline") {
    timeline.resize();
    timeline.applyState(params); // the view range, selection, lanes: kept in the URL
    return;
  }
  if (!shown[page]) {
    shown[page] = true;
    const section = document.getElementById(`page-${page}`);
    if (window.ctraceSummary.tree && ["tasks", "regions", "logs"].includes(page))
      section.append(procSelector(page));
    try {
      await pages[page](section, window.ctraceSummary);
    } catch (e) {
      section.append(el("p", { text: `error: ${e.message}` }));
    }
  }
}

async function main() {
  const summary = await getJSON("/api/summary");
  window.ctraceSummary = summary;
  window.ctraceProc = 0;
  document.getElementById("trace-info").textContent =
    (summary.tree ? `${summary.processes.length} processes, ` : "") +
    `${summary.threads.length} threads, ${summary.events} events, ${fmtNs(summary.end - summary.begin)}` +
    (summary.sched ? ", CPU scheduling from the kernel" : "") +
    (summary.sampled ? ", then sampled (the switches came too fast)" : "");
  const lost = summary.threads.reduce((n, t) => n + (t.lost || 0), 0);
  if (lost) // a warning: where, the stripes under the threads' lanes
    document.getElementById("trace-info").append(el("span", { class: "lost", text: `, ${lost} event${lost === 1 ? "" : "s"} lost`,
      title: "black and yellow stripes under a thread's lane show where; click one for why" }));
  timeline = new Timeline(document.getElementById("timeline"), summary);
  window.ctraceView = timeline;
  window.addEventListener("hashchange", route);
  await route();
  await timeline.ready;
  document.body.dataset.ready = "1";
}

main().catch((e) => {
  document.body.append(el("pre", { text: `ctrace view: ${e.message}` }));
});

// details.js - what the timeline says of what is under the pointer (the
// hover line) and of what was clicked (the docked details panel, always in
// view under the lanes); the legend; the `?` overlay of keys.
import { getJSON, fmtDur, fmtTime, el } from "/app.js";
import { REGION_COLORS, LOST_COLORS, LOG_COLOR, WAKE_COLOR, COUNTER_COLOR, threadColor, stateColor } from "/palette.js";

const COLUMNS = [
  ["execution", "execution_ns"], ["network", "network_wait_ns"], ["sync", "sync_block_ns"],
  ["syscall", "syscall_ns"], ["sched", "sched_wait_ns"], ["sleep", "sleep_ns"], ["other", "other_ns"],
];

export class Details {
  constructor(tl, box) {
    this.tl = tl;
    this.box = box;
  }

  get base() { return this.tl.summary.begin; }
  // Times as precise as the zoom, and at least a hundredth of the item.
  res(duration = Infinity) { return Math.max(1, Math.min(this.tl.nsPerPixel, duration / 100)); }
  at(t, duration) { return fmtTime(t - this.base, this.res(duration)); }
  // A span item's reason: a block's reason or a call (reasons.def), or
  // 1000 + a system call's number the kernel saw it in.
  reason(id) {
    if (id >= 1000) return this.tl.summary.syscalls?.[id - 1000] || "a system call";
    return this.tl.summary.reasons?.[id] || "";
  }
  fdClass(id) { return ["", "file", "pipe", "socket"][id] || ""; }

  // A span item's activity as a phrase: "read fd 5, socket", "mutex".
  activity(s) {
    const reason = this.reason(s[5]);
    if (!reason) return "";
    if (s[6] >= 0) return `${reason} fd ${s[6]}${this.fdClass(s[7]) ? `, ${this.fdClass(s[7])}` : ""}`;
    return reason;
  }

  // ---- the hover line ----

  describe(h) {
    const s = h.item, tl = this.tl;
    if (h.kind === "cpu")
      return s[3] < 0 ? `${s[4]} runs on CPU ${h.row.cpu}, mostly ${tl.threadName(s[2])}`
        : `${tl.threadName(s[2])} on CPU ${h.row.cpu} ${fmtDur(s[1] - s[0])}\nat ${this.at(s[0], s[1] - s[0])}`;
    if (h.kind === "task")
      return s[3] < 0 ? `${s[4]} short tasks (zoom in to see each)`
        : `task ${s[5]} (${tl.summary.strings[s[2]]}) ${fmtDur(s[1] - s[0])}` +
          (h.all?.length > 1 ? ` (and ${h.all.length - 1} more under it)` : "") + `\nat ${this.at(s[0], s[1] - s[0])}`;
    if (h.kind === "counter")
      return `${h.row.name} ${tl.fmtCounter(h.row.name, h.value)}\nat ${this.at(h.t)}`;
    if (h.kind === "lost") return `${this.lostWhat(s)}: click for why`;
    if (h.kind === "log") {
      if (s[2] < 0) return `${s[3]} logs here: zoom in (W) to read them`;
      return `log ${s[4]}: ${s[5]}` + (s[3] > 1 ? `\n(and ${s[3] - 1} more here: click to list them)` : "") +
        `\nat ${this.at(s[0])} on ${tl.threadName(s[1])}`;
    }
    if (h.kind === "span") {
      const state = tl.states[s[2]];
      if (s[3] < 0) return `${s[4]} spans, mostly ${state} (zoom in to see each)`;
      const what = this.activity(s);
      return `${state} ${fmtDur(s[1] - s[0])}${what ? ` in ${what}` : ""}\nat ${this.at(s[0], s[1] - s[0])}`;
    }
    if (s[3] < 0) return `${s[4]} short regions (zoom in to see each)`;
    return `region ${tl.summary.strings[s[5]]} ${fmtDur(s[1] - s[0])}\nat ${this.at(s[0], s[1] - s[0])}`;
  }

  // ---- the panel ----

  clear() {
    this.box.replaceChildren(el("span", { class: "muted", text: "Click a span, region, task, log or CPU run for its details; drag to measure a range." }));
    delete this.box.dataset.state;
  }

  setSel(sel) {
    this.tl.sel = sel;
    this.tl.draw();
    this.tl.saveState();
  }

  link(text, action) {
    return el("a", { href: "#", text, onclick: (e) => { e.preventDefault(); action(); } });
  }

  // A click: what was under the pointer.
  async select(h) {
    const s = h.item, tl = this.tl;
    if (h.kind === "gutter") {
      if (h.row.kind === "thread") return h.close ? tl.hideLane(h.row.tid) : this.thread(h.row.tid);
      if (h.row.kind === "group") {
        if (h.close) { for (const tid of h.row.tids) tl.hidden.add(tid); tl.relayout(); }
        else tl.toggleGroup(h.row.key);
      }
      return;
    }
    if (h.kind === "span") {
      if (s[3] < 0) return this.summaryOf(`${s[4]} spans`, `mostly ${tl.states[s[2]]}`, s);
      return this.span(h.row.tid, Math.floor((s[0] + s[1]) / 2));
    }
    if (h.kind === "task") {
      if (s[3] < 0) return this.summaryOf(`${s[4]} tasks`, "too short to draw one by one here", s);
      return this.task(s[5], s[0], h.all, s[6]);
    }
    if (h.kind === "cpu") return this.cpu(h.row.cpu, s);
    if (h.kind === "region") {
      if (s[3] < 0) return this.summaryOf(`${s[4]} short regions`, "too short to draw one by one here", s);
      return this.region(h.row.tid, s);
    }
    if (h.kind === "log") return this.log(s);
    if (h.kind === "counter") return this.counter(h.row.name, h.t);
    if (h.kind === "lost") return this.lost(h.row.tid, s);
  }

  // A loss: [from, to, count], its times as the recorder knew them (the
  // read of a full ring, or the span of the events dropped).
  lostWhat(s) {
    const n = `${s[2]} event${s[2] === 1 ? "" : "s"} lost`;
    return s[0] === s[1] ? `${n} at ${this.at(s[0])}` : `${n} between ${this.at(s[0])} and ${this.at(s[1])}`;
  }

  lost(tid, s) {
    this.box.replaceChildren(el("h3", { text: `${this.tl.threadName(tid)}: ${this.lostWhat(s)}` }),
      el("div", { text: "They came faster than they were written: the recorder's buffers were full " +
        "(ctrace run --buffer-mb gives more), or the kernel's ring of context switches of this " +
        "process was (a CPU's switches count as its first thread's; --sched=auto samples them " +
        "past 30 000 a second). The states drawn here may miss some switches or blocks; " +
        "where the kernel's totals show time the lost switches held, running and runnable " +
        "alternate in its proportions from the last switch read. " }),
      this.link("zoom to it", () => this.tl.show(s[0] - 1000, s[1] + 1000)));
    this.box.dataset.state = "lost";
  }

  summaryOf(title, what, s) {
    this.box.replaceChildren(el("h3", { text: title }),
      el("div", { text: `${what}, from ${this.at(s[0])} to ${this.at(s[1])}: zoom in (W) to see each, or ` },
        this.link("zoom to them", () => this.tl.show(s[0], s[1]))));
    this.box.dataset.state = "summary";
  }

  async span(tid, t) {
    const tl = this.tl;
    let d;
    try {
      d = await getJSON(`/api/span?tid=${tid}&t=${Math.floor(t)}`);
    } catch (e) {
      this.box.replaceChildren(el("h3", { text: "no span there" }));
      return;
    }
    const res = this.res(d.duration);
    const stack = el("ol");
    for (const f of d.stack) stack.append(el("li", { text: f }));
    const parts = [
      el("h3", { text: `${d.state}${d.reason ? ` (${d.reason})` : ""} on thread ${d.thread} ${d.tid}` }),
      el("div", { class: "when", text: `at ${fmtTime(d.begin - this.base, res)}, lasting ${fmtDur(d.duration)} (until ${fmtTime(d.end - this.base, res)})` }),
    ];
    const a = d.activity;
    if (a)
      parts.push(el("div", { class: "activity", text: `inside ${a.kind === "call" ? "the call" : "the block"} ${a.what}: ` +
        `from ${fmtTime(a.begin - this.base, res)} for ${fmtDur(a.end - a.begin)}` }));
    if (d.region)
      parts.push(el("div", { text: `in region ${d.region}` + (d.task ? ` of task ${d.task} (${d.task_type})` : "") }));
    if (d.woken_by)
      parts.push(el("div", { class: "waker" }, `woken by thread ${d.waker || ""} ${d.woken_by} at ${fmtTime(d.woken_at - this.base, res)}` +
        (a ? `, ${fmtDur(a.end - d.woken_at)} before it went on ` : " "),
        this.link("show the waker", () => { tl.highlight = d.woken_by; tl.scrollToRow(tl.laneOf(d.woken_by)); tl.draw(); })));
    parts.push(d.stack.length ? stack : el("div", { class: "muted", text: a ? "no stack" : "no stack: not in a block or a call" }));
    this.box.replaceChildren(...parts);
    this.box.dataset.state = d.state;
    this.box.dataset.reason = d.reason;
    this.setSel({ kind: "span", tid, b: d.begin, e: d.end, key: `span:${tid}:${Math.floor((d.begin + d.end) / 2)}` });
    tl.scrollToRow(tl.laneOf(tid));
  }

  async task(id, t, all, image) {
    const tl = this.tl;
    let d;
    try {
      d = await getJSON(`/api/task?id=${id}&t=${Math.floor(t)}${image !== undefined ? `&proc=${image}` : ""}`);
    } catch (e) {
      this.box.replaceChildren(el("h3", { text: `no task ${id} there` }));
      return;
    }
    const dur = d.end - d.begin;
    this.box.replaceChildren(el("h3", { text: `task ${d.id} (${d.type})` }),
      el("div", { class: "when", text: `at ${this.at(d.begin, dur)}, lasting ${fmtDur(dur)}` }),
      el("div", { text: `begun on thread ${tl.threadName(d.tid)}${d.parent ? `, child of task ${d.parent}` : ""}, ${d.logs} logs` }),
      el("a", { href: "#tasks", text: "tasks of every type" }));
    if (all?.length > 1) {
      const others = el("ul", { class: "under" });
      for (const o of all)
        others.append(el("li", {}, o[5] === id ? el("b", { text: `task ${o[5]} (${tl.summary.strings[o[2]]})` })
          : this.link(`task ${o[5]} (${tl.summary.strings[o[2]]})`, () => this.task(o[5], o[0], all, o[6]))));
      this.box.append(el("div", { text: `${all.length} tasks here, drawn over each other:` }), others);
    }
    this.box.dataset.state = "task";
    this.setSel({ kind: "task", id: d.id, b: d.begin, e: d.end, key: `task:${d.id}:${Math.floor(d.begin)}` });
  }

  cpu(cpu, s) {
    const tl = this.tl;
    if (s[3] < 0) return this.summaryOf(`${s[4]} runs on CPU ${cpu}`, `mostly ${tl.threadName(s[2])}`, s);
    const lane = tl.laneOf(s[2]);
    this.box.replaceChildren(el("h3", { text: `${tl.threadName(s[2])} on CPU ${cpu}` }),
      el("div", { class: "when", text: `at ${this.at(s[0], s[1] - s[0])}, running ${fmtDur(s[1] - s[0])}` }),
      lane ? this.link("its lane", () => { tl.highlight = s[2]; tl.scrollToRow(lane); tl.draw(); }) : el("span"));
    this.box.dataset.state = "cpu";
    this.box.dataset.tid = String(s[2]);
    this.setSel({ kind: "cpu", cpu, b: s[0], e: s[1], key: `cpu:${cpu}:${Math.floor((s[0] + s[1]) / 2)}` });
  }

  region(tid, s) {
    const tl = this.tl, name = tl.summary.strings[s[5]];
    this.box.replaceChildren(el("h3", { text: `region ${name}` }),
      el("div", { class: "when", text: `on thread ${tl.threadName(tid)}, at ${this.at(s[0], s[1] - s[0])}, lasting ${fmtDur(s[1] - s[0])}` }),
      el("div", { text: `depth ${s[6]}; ` }, el("a", { href: "#regions", text: "regions of every type" })));
    this.box.dataset.state = "region";
    this.setSel({ kind: "region", tid, depth: s[6], b: s[0], e: s[1], key: `region:${tid}:${s[0]}:${s[6]}` });
  }

  // A log mark: the logs of its thread in its pixel, read from a window.
  async log(s) {
    const tl = this.tl;
    if (s[2] < 0) {
      const w = tl.nsPerPixel;
      return this.summaryOf(`${s[3]} logs`, "too many to show one by one here", [s[0], s[0] + w]);
    }
    const w = tl.data.t1 > tl.data.t0 ? (tl.data.t1 - tl.data.t0) / tl.data.px : tl.nsPerPixel;
    const p0 = tl.data.t0 + Math.floor((s[0] - tl.data.t0) / w) * w;
    const d = await getJSON(`/api/logs_at?tid=${s[1]}&t0=${Math.floor(p0)}&t1=${Math.ceil(p0 + w) + 1}`);
    const list = el("table");
    for (const g of d.logs)
      list.append(el("tr", {}, el("td", { text: this.at(g.t, 1000) }), el("td", { text: g.task ? `task ${g.task}` : "" }),
        el("td", { class: "left", text: g.category }), el("td", { class: "left", text: g.message })));
    const first = d.logs[0] || { t: s[0], category: s[4], message: s[5] };
    this.box.replaceChildren(
      el("h3", { text: d.logs.length > 1 ? `${d.matched} logs on thread ${tl.threadName(s[1])}` : `log ${first.category}: ${first.message}` }),
      el("div", { class: "when", text: `at ${this.at(first.t, 1000)} on thread ${tl.threadName(s[1])}${first.task ? `, task ${first.task}` : ""}` }),
      d.logs.length > 1 ? list : el("span"));
    this.box.dataset.state = "log";
    this.setSel({ kind: "log", tid: s[1], b: first.t, e: first.t, key: `log:${s[1]}:${first.t}` });
  }

  counter(name, t) {
    const tl = this.tl, v = tl.counterAt(name, t), points = tl.counterPoints.get(name) || [];
    let min = Infinity, max = -Infinity;
    for (const p of points) { min = Math.min(min, p[1]); max = Math.max(max, p[2]); }
    this.box.replaceChildren(el("h3", { text: `${name}: ${tl.fmtCounter(name, v)}` }),
      el("div", { class: "when", text: `at ${this.at(t)}` }),
      el("div", { text: points.length ? `in view: from ${tl.fmtCounter(name, min)} to ${tl.fmtCounter(name, max)}` : "" }));
    this.box.dataset.state = "counter";
  }

  async thread(tid) {
    const tl = this.tl, t = tl.threadByTid.get(tid);
    this.threads = this.threads || await getJSON("/api/threads");
    const r = this.threads.find((x) => tl.summary.tree ? x.image === t?.image && x.tid === t?.os_tid : x.tid === tid);
    const table = el("table");
    if (r) for (const [name, key] of COLUMNS)
      table.append(el("tr", {}, el("td", { text: name }), el("td", { text: fmtDur(r[key]) }),
        el("td", { text: r.total_ns ? `${((100 * r[key]) / r.total_ns).toFixed(1)} %` : "" })));
    this.box.replaceChildren(el("h3", { text: `thread ${tl.threadName(tid)}` }),
      el("div", { text: `started in ${t?.function || "(before the trace)"}; from ${this.at(t?.begin ?? tl.summary.begin)} to ${this.at(t?.end ?? tl.summary.end)}` }),
      el("div", {}, this.link("show its lifetime", () => tl.show(t.begin, t.end, tid)), " · ",
        this.link("hide the lane (H)", () => tl.hideLane(tid))), table);
    this.box.dataset.state = "thread";
    tl.highlight = tid;
    this.setSel({ kind: "thread", tid, key: `thread:${tid}` });
  }

  // A range dragged: time by state over the threads, from what is drawn.
  rangeSummary(a, b) {
    const totals = {};
    for (const lane of this.tl.data?.threads || [])
      for (const s of lane.spans) {
        const d = Math.min(s[1], b) - Math.max(s[0], a);
        if (d > 0) totals[this.tl.states[s[2]]] = (totals[this.tl.states[s[2]]] || 0) + d;
      }
    const list = el("ul");
    for (const [k, v] of Object.entries(totals).sort((x, y) => y[1] - x[1]))
      list.append(el("li", { text: `${k}: ${fmtDur(v)}` }));
    this.box.replaceChildren(el("h3", { text: `range of ${fmtDur(b - a)}` }),
      el("div", { text: `from ${this.at(a, b - a)} to ${this.at(b, b - a)}; thread time by state: ` },
        this.link("zoom to it", () => { this.tl.selection = null; this.tl.show(a, b); })), list);
    this.box.dataset.state = "range";
  }

  // A selection from the URL (or a search), once the data is there.
  async restore(key) {
    const [kind, a, b, c] = key.split(":");
    const tl = this.tl, n = Number(a), t = Number(b);
    if (kind === "span") return this.span(n, t);
    if (kind === "task") return this.task(n, t);
    if (kind === "thread") { tl.scrollToRow(tl.laneOf(n)); return this.thread(n); }
    if (kind === "log") {
      const lane = tl.data.logs.find((g) => g[1] === n && g[2] >= 0 && Math.abs(g[0] - t) <= tl.nsPerPixel);
      tl.scrollToRow(tl.laneOf(n));
      return this.log(lane || [t, n, 0, 1, "", ""]);
    }
    if (kind === "cpu") {
      const run = (tl.cpuRuns.get(n) || []).find((r) => r[0] <= t && t <= r[1]);
      if (run) this.cpu(n, run);
      return;
    }
    if (kind === "region") {
      const lane = tl.lanes.get(n);
      // At that depth (0: any), the one that begins nearest t.
      const depth = Number(c) || 0;
      const r = (lane?.regions || []).filter((x) => x[3] >= 0 && (!depth || x[6] === depth) && x[0] <= t && t <= x[1])
        .sort((x, y) => Math.abs(x[0] - t) - Math.abs(y[0] - t))[0];
      tl.scrollToRow(tl.laneOf(n));
      if (r) this.region(n, r);
    }
  }
}

// Every mark of the timeline and what it means.
export function legend(box, tl) {
  box.replaceChildren();
  const item = (style, text) => box.append(el("div", {}, el("i", { style }), text));
  box.append(el("h4", { text: "thread states" }));
  for (const name of tl.states) item(`background:${stateColor(name, tl.states)}`, name);
  box.append(el("h4", { text: "other marks" }));
  item(`background:${REGION_COLORS[0]};border:1px solid #555`, "region or task (colour by type)");
  item("background:repeating-linear-gradient(135deg,#efe6dc 0 3px,#9a6a4b 3px 4px)", "short regions or tasks, summed");
  item(`background:${threadColor(3)}`, "CPU run (reds and browns by thread)");
  item(`background:${COUNTER_COLOR};border-top:2px solid #8a7250`, "counter (heap, RSS, threads)");
  item(`background:${LOG_COLOR};clip-path:polygon(0 0,100% 0,50% 100%)`, "log (hover or click: its text)");
  item(`border-top:2px solid ${WAKE_COLOR};height:7px`, "wake-up arrow (E toggles)");
  if (tl.summary.threads.some((t) => t.lost))
    item(`background:repeating-linear-gradient(90deg,${LOST_COLORS[0]} 0 3px,${LOST_COLORS[1]} 3px 6px);height:5px;margin-top:5px`,
      "events lost there (click: why)");
  item("border:2px solid #000", "selected");
  box.append(el("div", { class: "muted", text: "A pixel of many short spans has the colour of the state that took most of it." }));
}

const KEYS = [
  ["W / S", "zoom in / out at the pointer"],
  ["A / D", "pan left / right"],
  ["Ctrl or ⌘ + wheel", "zoom at the pointer"],
  ["wheel, ↑ / ↓", "scroll the lanes"],
  ["Shift + wheel", "pan"],
  ["0", "the whole trace"],
  ["F", "zoom to the selection"],
  ["1 2 3 4", "tools: select, pan, zoom to a range, measure a range"],
  ["click", "details of a span, region, task, log, CPU run, counter; a lane's name: the thread"],
  ["drag", "with the tool: measure, zoom or pan"],
  ["/", "search threads, regions, tasks and logs"],
  ["Enter, N / Shift+N", "the next / previous search result"],
  ["E", "wake-up arrows on or off"],
  ["G", "group lanes: none, by process, by start function"],
  ["C", "collapse or expand the selected lane's group"],
  ["H / U", "hide the selected lane / show every hidden lane"],
  ["Esc", "clear the selection, close this"],
  ["?", "this list"],
];

export function keysOverlay(box) {
  const table = el("table");
  for (const [k, what] of KEYS) table.append(el("tr", {}, el("td", { text: k }), el("td", { text: what })));
  box.replaceChildren(el("h3", { text: "Keys" }), table,
    el("div", { class: "muted", text: "The view range, the selection and the lanes' settings are kept in the URL." }));
  box.addEventListener("click", () => { box.hidden = true; });
  return {
    toggle(show = box.hidden) { box.hidden = !show; },
    hidden() { return box.hidden; },
  };
}

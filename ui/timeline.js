// timeline.js - the timeline on a canvas: a sticky ruler, a lane per CPU
// (in order), the counters, the tasks, and per thread a lane of states
// with its regions below and its logs as marks; lanes grouped by process
// or start function, each group collapsible, each lane hideable. The
// server sends per-pixel summaries of what a range shows (/api/timeline),
// so a view holds a screenful whatever the trace; the canvas is the size
// of the window and draws the lanes scrolled into it.
//
// The wheel scrolls the lanes; Ctrl/⌘+wheel zooms at the pointer; Shift+wheel
// pans. The view range, the selection and the lanes' settings live in the
// URL (#timeline?t0=&t1=&sel=&g=&hide=&arrows=), so a reload keeps them.
import { getJSON, fmtDur, fmtTime, fmtNs, el, procURL, laneKey } from "/app.js";
import { Details, legend, keysOverlay } from "/details.js";
import { Search } from "/search.js";
import { laneDrawing, LOST_H } from "/lanes.js";
import {
  stateColor, GUTTER, RULER, CPU_H, COUNTER_H, LANE_H, REGION_H, GAP, TASK_H, HEADER_H, fmtTick,
} from "/palette.js";

export class Timeline {
  constructor(canvas, summary) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.wrap = canvas.parentElement;
    this.spacer = document.getElementById("timeline-spacer");
    this.summary = summary;
    summary.cpus.sort((a, b) => a - b);
    this.states = summary.states;
    this.stateColors = summary.states.map((name) => stateColor(name, summary.states));
    this.threadByTid = new Map(summary.threads.map((t) => [t.tid, t]));
    const pad = Math.max(1, (summary.end - summary.begin) * 0.01);
    this.home = [summary.begin - pad, summary.end + pad];
    [this.t0, this.t1] = this.home;
    this.data = null;
    this.tool = "select";
    this.highlight = 0;     // a lane's tid, its gutter highlighted
    this.selection = null;  // a range being dragged: [a, b]
    this.sel = null;        // the selected item: {kind, ...}, outlined
    this.hidden = new Set();
    this.collapsed = new Set();
    this.groupBy = summary.tree ? "process" : ""; // a tree: a header lane per process
    this.arrows = true;
    this.focus = null;      // {tids: Set, label}: only those lanes
    this.cursorX = null;
    this.matchQuery = "";   // regions and tasks whose type holds it are outlined
    this.seq = 0;
    this.hover = document.getElementById("hover");
    this.rangeBox = document.getElementById("range");
    this.detailsPanel = new Details(this, document.getElementById("details"));
    this.detailsBox = this.detailsPanel.box;
    this.search = new Search(this, document.getElementById("tl-search"),
      document.getElementById("search-results"), document.getElementById("search-count"));
    this.hatch = this.makeHatch();
    legend(document.getElementById("legend"), this);
    this.keys = keysOverlay(document.getElementById("keys"));
    document.getElementById("group-by").value = this.groupBy;
    this.layout();
    this.bind();
    this.ready = new Promise((resolve) => { this.resolveReady = resolve; });
    this.resize();
  }

  makeHatch() {
    const p = document.createElement("canvas");
    p.width = p.height = 6;
    const c = p.getContext("2d");
    c.fillStyle = "#efe6dc";
    c.fillRect(0, 0, 6, 6);
    c.strokeStyle = "#9a6a4b";
    c.beginPath();
    c.moveTo(0, 6);
    c.lineTo(6, 0);
    c.stroke();
    return this.ctx.createPattern(p, "repeat");
  }

  // ---- lanes ----

  groupOf(t) {
    if (this.groupBy === "process" && this.summary.tree) {
      const p = this.summary.processes[t.image];
      // The program's name without its directory, cut to fit the gutter.
      const short = p.command.replace(/^\S*\//, "");
      const cmd = short.length > 32 ? `${short.slice(0, 31)}…` : short;
      return { key: `i${t.image}`, image: t.image, label: `process ${p.pid} ${cmd}${p.exec_prev >= 0 ? " (exec'd)" : ""}` };
    }
    if (this.groupBy === "process") return { key: `p${this.summary.pid}`, label: `process ${this.summary.pid || "?"}` };
    if (this.groupBy === "function") return { key: `f${t.function}`, label: t.function || "(started before the trace)" };
    return null;
  }

  layout() {
    const rows = [];
    let y = RULER + 2;
    for (const cpu of this.summary.cpus) {
      rows.push({ kind: "cpu", cpu, y, h: CPU_H, total: CPU_H, label: `CPU ${cpu}` });
      y += CPU_H + 1;
    }
    if (this.summary.cpus.length) y += GAP;
    // A tree grouped by process: each process's counters under its header.
    const perProcess = this.summary.tree && this.groupBy === "process";
    // A process's counter stops where its process ends.
    const until = (k) => this.summary.tree ? this.summary.processes[this.summary.counter_images[k]].end : undefined;
    const counterRow = (name, k) => {
      rows.push({ kind: "counter", name, y, h: COUNTER_H, total: COUNTER_H, until: until(k),
                  label: perProcess ? name.replace(/ \(pid [^)]*\)$/, "") : name });
      y += COUNTER_H + GAP;
    };
    for (const [k, name] of this.summary.counters.entries()) {
      if (perProcess) continue;
      rows.push({ kind: "counter", name, y, h: COUNTER_H, total: COUNTER_H, label: name, until: until(k) });
      y += COUNTER_H + GAP;
    }
    for (let r = 0; r < (this.summary.task_rows || 0); r++) {
      rows.push({ kind: "task", row: r, y, h: TASK_H, total: TASK_H, label: r === 0 ? "tasks" : "" });
      y += TASK_H + 1;
    }
    if (this.summary.task_rows) y += GAP;
    const groups = new Map();
    for (const t of this.summary.threads) {
      const g = this.groupOf(t) || { key: "", label: "" };
      if (!groups.has(g.key)) groups.set(g.key, { ...g, threads: [] });
      groups.get(g.key).threads.push(t);
    }
    this.hiddenCount = 0;
    for (const g of groups.values()) {
      const shown = g.threads.filter((t) => !this.hidden.has(t.tid) && (!this.focus || this.focus.tids.has(t.tid)));
      this.hiddenCount += g.threads.length - shown.length;
      if (g.key && shown.length) {
        const open = !this.collapsed.has(g.key);
        rows.push({ kind: "group", key: g.key, y, h: HEADER_H, total: HEADER_H, open, tids: shown.map((t) => t.tid),
                    label: `${open ? "▾" : "▸"} ${g.label} (${shown.length} thread${shown.length > 1 ? "s" : ""})` });
        y += HEADER_H + 1;
        if (!open) continue;
        if (perProcess)
          this.summary.counters.forEach((name, k) => { if (this.summary.counter_images[k] === g.image) counterRow(name, k); });
      }
      for (const t of shown) {
        const depth = Math.min(t.depth, 8);
        const total = LANE_H + 1 + depth * REGION_H;
        rows.push({ kind: "thread", tid: t.tid, y, h: LANE_H, total, depth, regionY: y + LANE_H + 1,
                    label: `${t.name || "thread"} ${t.os_tid ?? t.tid}`, fn: t.function, group: g.key });
        y += total + GAP;
      }
    }
    this.rows = rows;
    this.height = y + 4;
    this.threadRows = new Map(rows.filter((r) => r.kind === "thread").map((r) => [r.tid, r]));
    const unhide = document.getElementById("unhide");
    unhide.hidden = this.hidden.size === 0;
    unhide.textContent = `${this.hidden.size} hidden: show`;
    const banner = document.getElementById("focus-banner");
    banner.hidden = !this.focus || !!this.focus.regions; // a task's focus has a banner of its own (#focus)
    if (this.focus && !this.focus.regions) {
      banner.replaceChildren(`Showing only ${this.focus.label}. `);
      const a = document.createElement("a");
      a.href = "#";
      a.textContent = "show every lane";
      a.addEventListener("click", (e) => { e.preventDefault(); this.setFocus(null); });
      banner.append(a);
    }
  }

  // Lanes: only those of tids (a task's threads), or every lane (null).
  setFocus(tids, label = "") {
    this.focus = tids ? { tids: new Set(tids), label } : null;
    this.focusBanner();
    this.relayout();
  }

  relayout() {
    this.layout();
    this.resize(false);
    this.saveState();
  }

  hideLane(tid) {
    this.hidden.add(tid);
    if (this.highlight === tid) this.highlight = 0;
    this.relayout();
  }

  toggleGroup(key) {
    if (this.collapsed.has(key)) this.collapsed.delete(key);
    else this.collapsed.add(key);
    this.relayout();
  }

  setGroupBy(mode) {
    this.groupBy = mode;
    this.collapsed.clear();
    document.getElementById("group-by").value = mode;
    this.relayout();
  }

  setArrows(on) {
    this.arrows = on;
    document.getElementById("wake-arrows").checked = on;
    this.draw();
    this.saveState();
  }

  // ---- geometry ----

  resize(refetch = true) {
    const width = this.wrap.clientWidth || 1000;
    const height = Math.max(100, this.wrap.clientHeight || 600);
    const ratio = window.devicePixelRatio || 1;
    this.width = width;
    this.viewHeight = height;
    this.canvas.style.height = `${height}px`;
    this.spacer.style.height = `${Math.max(0, this.height - height)}px`;
    this.canvas.width = Math.floor(width * ratio);
    this.canvas.height = Math.floor(height * ratio);
    this.ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    this.hatch = this.makeHatch();
    this.draw();
    if (refetch) this.fetch();
  }

  get plotWidth() { return Math.max(50, this.width - GUTTER); }
  get scroll() { return this.wrap.scrollTop; }
  xOf(t) { return GUTTER + ((t - this.t0) / (this.t1 - this.t0)) * this.plotWidth; }
  tOf(x) { return this.t0 + ((x - GUTTER) / this.plotWidth) * (this.t1 - this.t0); }
  yOf(row) { return row.y - this.scroll; } // on the canvas
  get nsPerPixel() { return (this.t1 - this.t0) / this.plotWidth; }
  laneOf(tid) { return this.threadRows?.get(tid); }
  // The colour at a point of the canvas, for tests: [r, g, b].
  pixelAt(x, y) {
    const ratio = window.devicePixelRatio || 1;
    return Array.from(this.ctx.getImageData(Math.round(x * ratio), Math.round(y * ratio), 1, 1).data.slice(0, 3));
  }

  scrollToRow(row) {
    if (!row) return;
    const top = this.yOf(row);
    if (top < RULER + 4 || top + row.total > this.viewHeight - 4)
      this.wrap.scrollTop = Math.max(0, row.y - RULER - 60);
  }

  show(t0, t1, tid = 0) {
    if (!(t1 > t0)) return;
    this.t0 = t0;
    this.t1 = t1;
    if (tid) {
      this.highlight = tid;
      if (this.hidden.delete(tid)) this.layout();
      this.scrollToRow(this.laneOf(tid));
    }
    this.draw();
    this.fetch();
    this.saveState();
  }

  zoom(factor, atX) {
    const t = this.tOf(atX ?? GUTTER + this.plotWidth / 2);
    const t0 = t - (t - this.t0) * factor, t1 = t + (this.t1 - t) * factor;
    if (t1 - t0 < 100) return; // 100 ns across the screen is enough
    this.show(t0, t1);
  }

  pan(fraction) {
    const d = (this.t1 - this.t0) * fraction;
    this.show(this.t0 + d, this.t1 + d);
  }

  // The selection's range, with a margin: F.
  zoomToSelection() {
    const s = this.sel;
    if (!s || !(s.e >= s.b)) return;
    const w = Math.max(s.e - s.b, 1000), pad = w * 0.25;
    this.show(s.b - pad, s.e + pad);
  }

  // ---- the URL ----

  stateParams() {
    const p = new URLSearchParams();
    p.set("t0", String(Math.floor(this.t0)));
    p.set("t1", String(Math.ceil(this.t1)));
    if (this.sel?.key) p.set("sel", this.sel.key);
    if (this.groupBy) p.set("g", this.groupBy);
    if (this.hidden.size) p.set("hide", [...this.hidden].join(","));
    if (!this.arrows) p.set("arrows", "0");
    if (this.focus?.regions) {
      p.set("task", String(this.focus.id));
    } else if (this.focus) {
      p.set("focus", [...this.focus.tids].join(","));
      if (this.focus.label) p.set("fl", this.focus.label);
    }
    return p;
  }

  // The URL follows the view 150 ms after its last change, unless the URL
  // changed meanwhile (a link, a pasted address): that one is applied by
  // its hashchange, and must not be written over.
  saveState() {
    clearTimeout(this.saveTimer);
    const from = location.hash;
    this.saveTimer = setTimeout(() => {
      const [page] = (location.hash.slice(1) || "timeline").split("?");
      if (page !== "timeline" || location.hash !== from) return;
      history.replaceState(null, "", `#timeline?${this.stateParams()}`);
    }, 150);
  }

  // What a URL asks for: the range, the lanes, a selection to restore once
  // the data that holds it is there.
  applyState(params) {
    if (params.has("focus")) { // only these lanes: a task's threads (fl: what they are)
      const tids = params.get("focus").split(",").filter(Boolean).map(Number);
      this.focus = tids.length ? { tids: new Set(tids), label: params.get("fl") || `${tids.length} threads` } : null;
      this.layout();
      this.resize(false);
    }
    if (params.has("g") || params.has("hide") || params.has("arrows")) {
      this.groupBy = ["process", "function"].includes(params.get("g")) ? params.get("g") : "";
      document.getElementById("group-by").value = this.groupBy;
      this.hidden = new Set((params.get("hide") || "").split(",").filter(Boolean).map(Number));
      this.setArrows(params.get("arrows") !== "0");
      this.layout();
      this.resize(false);
    }
    if (params.has("task")) // a task in focus: its threads, regions and logs
      this.focusTask(Number(params.get("task")));
    if (params.has("sel")) this.pendingSel = params.get("sel");
    if (params.has("t0") && params.has("t1"))
      this.show(Number(params.get("t0")), Number(params.get("t1")), Number(params.get("tid")) || 0);
    else if (this.pendingSel && this.data)
      this.detailsPanel.restore(this.pendingSel);
  }

  // ---- data ----

  // The server is asked for the visible range; meanwhile the last answer
  // is drawn at the new scale, so panning and zooming never wait.
  fetch() {
    clearTimeout(this.timer);
    this.timer = setTimeout(async () => {
      const seq = ++this.seq;
      const t0 = Math.floor(this.t0), t1 = Math.ceil(this.t1);
      const started = performance.now();
      this.fetching?.abort(); // the server drops a request whose client has gone
      const ctrl = this.fetching = new AbortController();
      try {
        const r = await fetch(`/api/timeline?t0=${t0}&t1=${t1}&px=${Math.round(this.plotWidth)}`, { signal: ctrl.signal });
        if (!r.ok) throw new Error(`/api/timeline: ${r.status} ${await r.text()}`);
        const data = await r.json();
        if (seq !== this.seq) return;
        this.data = data;
        this.lanes = new Map(data.threads.map((l) => [l.tid, l]));
        this.cpuRuns = new Map(data.cpus.map((c) => [c.cpu, c.runs]));
        this.counterPoints = new Map(data.counters.map((c) => [c.name, c.points]));
        this.taskItems = new Map((data.tasks || []).map((x) => [x.row, x.items]));
        this.lastFetchMs = performance.now() - started;
        this.draw();
        if (this.pendingSel) {
          const key = this.pendingSel;
          this.pendingSel = null;
          await this.detailsPanel.restore(key);
        }
        this.resolveReady();
      } catch (e) {
        if (e.name !== "AbortError") this.rangeBox.textContent = e.message;
      }
    }, 30);
  }

  requestDraw() {
    if (this.drawPending) return;
    this.drawPending = true;
    requestAnimationFrame(() => { this.drawPending = false; this.draw(); });
  }

  // ---- drawing ----

  draw() {
    const c = this.ctx;
    c.fillStyle = "#fff";
    c.fillRect(0, 0, this.width, this.viewHeight);
    c.font = "11px system-ui, sans-serif";
    c.textBaseline = "middle";
    const d = this.data;
    for (const row of this.rows) {
      const y = this.yOf(row);
      if (y + row.total < RULER || y > this.viewHeight) continue;
      this.drawGutter(row, y);
      if (!d) continue;
      c.save();
      c.beginPath();
      c.rect(GUTTER, RULER, this.plotWidth, this.viewHeight - RULER);
      c.clip();
      if (row.kind === "cpu") this.drawCpu(row, y, this.cpuRuns.get(row.cpu));
      else if (row.kind === "counter") this.drawCounter(row, y, this.counterPoints.get(row.name));
      else if (row.kind === "task") this.drawTasks(row, y, this.taskItems.get(row.row));
      else if (row.kind === "thread") this.drawThread(row, y, this.lanes.get(row.tid));
      c.restore();
    }
    c.save();
    c.beginPath();
    c.rect(GUTTER, RULER, this.plotWidth, this.viewHeight - RULER);
    c.clip();
    if (d) this.drawLogs(d);
    if (d && this.arrows) this.drawWakes(d);
    if (this.focus?.regions) this.drawFocus();
    this.drawSelected();
    if (this.selection) {
      const [a, b] = this.selection;
      c.fillStyle = "rgba(60,120,220,0.15)";
      c.fillRect(this.xOf(a), RULER, this.xOf(b) - this.xOf(a), this.viewHeight - RULER);
    }
    if (this.cursorX !== null) this.drawCursor();
    c.restore();
    this.drawRuler();
    const res = Math.max(1, (this.t1 - this.t0) / 1000), base = this.summary.begin;
    this.rangeBox.textContent = `${fmtTime(this.t0 - base, res)} – ${fmtTime(this.t1 - base, res)}` +
      ` (${fmtDur(this.t1 - this.t0)} visible)`;
    this.canvas.dataset.t0 = String(this.t0);
    this.canvas.dataset.t1 = String(this.t1);
  }

  drawGutter(row, y) {
    const c = this.ctx;
    const lit = row.kind === "thread" && (row.tid === this.highlight || row.tid === this.sel?.tid);
    c.fillStyle = row.kind === "group" ? "#e3e9ef" : lit ? "#fff3c4" : "#f7f7f7";
    c.fillRect(0, y, GUTTER - 4, row.kind === "thread" ? row.total : row.h);
    c.fillStyle = "#222";
    const close = row === this.hoverRow && (row.kind === "thread" || row.kind === "group");
    const room = GUTTER - 12 - (close ? 16 : 0);
    if (row.kind === "thread") {
      c.font = "bold 11px system-ui, sans-serif";
      const name = row.label;
      const w = Math.min(c.measureText(name).width, room);
      c.fillText(name, 4, y + row.h / 2, room);
      c.font = "11px system-ui, sans-serif";
      c.fillStyle = "#666";
      if (row.fn && row.total >= LANE_H + REGION_H)
        c.fillText(row.fn, 10, y + LANE_H + 1 + REGION_H / 2, room - 6);
      else if (row.fn && w + 14 < room)
        c.fillText(row.fn, 4 + w + 8, y + row.h / 2, room - w - 8);
    } else {
      c.font = row.kind === "group" ? "bold 11px system-ui, sans-serif" : "11px system-ui, sans-serif";
      c.fillText(row.label, 4, y + row.h / 2, room);
      c.font = "11px system-ui, sans-serif";
    }
    if (close) {
      c.fillStyle = "#a33";
      c.fillText("✕", GUTTER - 18, y + Math.min(row.h, 16) / 2);
    }
  }

  drawRuler() {
    const c = this.ctx, span = this.t1 - this.t0;
    c.fillStyle = "#fff";
    c.fillRect(0, 0, this.width, RULER);
    c.strokeStyle = "#bbb";
    c.beginPath();
    c.moveTo(0, RULER - 0.5);
    c.lineTo(this.width, RULER - 0.5);
    c.stroke();
    const step = 10 ** Math.floor(Math.log10(span / 8));
    const mult = span / step > 40 ? 5 : span / step > 16 ? 2 : 1;
    const tick = step * mult, base = this.summary.begin;
    c.fillStyle = "#444";
    c.strokeStyle = "#999";
    for (let t = Math.ceil((this.t0 - base) / tick) * tick + base; t < this.t1; t += tick) {
      const x = this.xOf(t);
      if (x < GUTTER) continue;
      c.beginPath();
      c.moveTo(x, RULER - 7);
      c.lineTo(x, RULER);
      c.stroke();
      c.fillText(fmtTick(t - base, tick), x + 2, 9);
    }
    if (this.cursorX !== null) {
      const t = this.tOf(this.cursorX), label = fmtTime(t - base, this.nsPerPixel);
      const w = c.measureText(label).width + 8;
      const x = Math.min(this.cursorX, this.width - w);
      c.fillStyle = "#23313f";
      c.fillRect(x, RULER - 13, w, 13);
      c.fillStyle = "#fff";
      c.fillText(label, x + 4, RULER - 6);
    }
    c.fillStyle = "#666";
    c.fillText("time since the trace began", 4, 9, GUTTER - 8);
  }

  // What the hover line says of h (details.js), for scripts and tests.
  describe(h) { return this.detailsPanel.describe(h); }

  // The selected item: outlined in black over a white halo, wherever the
  // zoom puts it (at least 3 px wide).
  drawSelected() {
    const s = this.sel;
    if (!s || s.b === undefined) return;
    let row = null, y = 0, h = 0;
    if (s.kind === "span" || s.kind === "log") {
      row = this.laneOf(s.tid);
      if (row) [y, h] = [this.yOf(row), s.kind === "log" ? 8 : row.h];
    } else if (s.kind === "region") {
      row = this.laneOf(s.tid);
      if (row) [y, h] = [this.yOf(row) + LANE_H + 1 + (s.depth - 1) * REGION_H, REGION_H - 1];
    } else if (s.kind === "cpu") {
      row = this.rows.find((r) => r.kind === "cpu" && r.cpu === s.cpu);
      if (row) [y, h] = [this.yOf(row), row.h];
    } else if (s.kind === "task") {
      for (const [r, items] of this.taskItems || [])
        if (items.some((t) => t[3] >= 0 && t[5] === s.id)) row = this.rows.find((x) => x.kind === "task" && x.row === r);
      if (row) [y, h] = [this.yOf(row), row.h];
    }
    if (!row) return;
    const c = this.ctx;
    let x0 = this.xOf(s.b), x1 = this.xOf(s.e);
    if (x1 - x0 < 3) [x0, x1] = [(x0 + x1) / 2 - 1.5, (x0 + x1) / 2 + 1.5];
    c.strokeStyle = "#fff";
    c.lineWidth = 4;
    c.strokeRect(x0 - 1, y - 1, x1 - x0 + 2, h + 2);
    c.strokeStyle = "#000";
    c.lineWidth = 2;
    c.strokeRect(x0 - 1, y - 1, x1 - x0 + 2, h + 2);
    c.lineWidth = 1;
  }

  // ---- what is under a point ----

  rowAt(y) {
    const cy = y + this.scroll;
    for (const row of this.rows)
      if (cy >= row.y && cy < row.y + row.total) return row;
    return null;
  }

  // What is under a point of the canvas: {row, item, kind, all?}.
  hit(x, y) {
    if (y < RULER) return null;
    const row = this.rowAt(y);
    if (!row) return null;
    if (x < GUTTER) return { row, kind: "gutter", close: x > GUTTER - 22 };
    if (!this.data) return null;
    const t = this.tOf(x), slack = this.nsPerPixel, ly = y + this.scroll - row.y;
    if (row.kind === "task") {
      const items = this.taskItems.get(row.row) || [];
      // The bar drawn on top (the last) that holds the point, else one
      // within a pixel: tasks of a row may overlap.
      let it = null;
      for (let i = items.length - 1; i >= 0 && !it; i--)
        if (items[i][0] <= t && t <= items[i][1]) it = items[i];
      it = it || items.find((b) => b[0] - slack <= t && t <= b[1] + slack);
      // Every task there, the one on top first: the others are hidden.
      const all = it && it[3] >= 0
        ? [it, ...items.filter((b) => b !== it && b[3] >= 0 && b[0] <= t && t <= b[1])] : [];
      return it ? { row, item: it, kind: "task", all } : null;
    }
    if (row.kind === "cpu") {
      const runs = this.cpuRuns.get(row.cpu) || [];
      const r = runs.find((b) => b[0] <= t && t <= b[1]) ||
        runs.find((b) => b[0] - slack <= t && t <= b[1] + slack);
      return r ? { row, item: r, kind: "cpu" } : null;
    }
    if (row.kind === "counter") {
      const v = this.counterAt(row.name, t);
      return v === null ? null : { row, kind: "counter", t, value: v };
    }
    if (row.kind !== "thread") return { row, kind: "gutter" };
    const lane = this.lanes.get(row.tid);
    if (!lane) return null;
    if (ly < 8) { // a log's mark: within 4 px of it
      const logs = this.data.logs.filter((g) => g[1] === row.tid && Math.abs(this.xOf(g[0]) - x) <= 4);
      if (logs.length) {
        logs.sort((a, b) => Math.abs(this.xOf(a[0]) - x) - Math.abs(this.xOf(b[0]) - x));
        return { row, item: logs[0], kind: "log" };
      }
    }
    if (ly >= row.h - LOST_H - 1 && ly < row.h) {
      const lost = (this.threadByTid.get(row.tid)?.losses || []).find((l) => l[0] - slack * 3 <= t && t <= l[1] + slack * 3);
      if (lost) return { row, item: lost, kind: "lost" };
    }
    if (ly < row.h) {
      const s = lane.spans.find((s) => s[0] <= t && t < s[1]) ||
        lane.spans.find((s) => s[0] - slack <= t && t <= s[1] + slack);
      return s ? { row, item: s, kind: "span" } : null;
    }
    if (ly > LANE_H && ly < LANE_H + 1 + row.depth * REGION_H) {
      const depth = Math.floor((ly - LANE_H - 1) / REGION_H) + 1;
      const r = lane.regions.find((r) => (r[3] >= 0 ? r[6] : 1) === depth && r[0] - slack <= t && t <= r[1] + slack);
      return r ? { row, item: r, kind: "region" } : null;
    }
    return null;
  }

  // ---- A task in focus (/api/focus): only its threads have lanes, its
  // regions are outlined and its logs ringed, the time outside it dimmed.
  // this.focus is then the answer with the lanes' set (tids) and a label.

  async focusTask(id) {
    if (this.focus?.id === id) return;
    let f;
    for (;;) {
      const r = await fetch(procURL(`/api/focus?id=${id}&limit=10000`));
      if (r.status === 202) { await new Promise((ok) => setTimeout(ok, 400)); continue; }
      if (!r.ok) { this.rangeBox.textContent = `task ${id}: ${r.status} ${await r.text()}`; return; }
      f = await r.json();
      break;
    }
    if (this.summary.tree) { // a process's own tids: its lanes' keys
      for (const rows of [f.regions.rows, f.logs.rows]) for (const g of rows) g.tid = laneKey(g.tid);
      f.threads = f.threads.map((tid) => laneKey(tid));
    }
    this.focus = { ...f, tids: new Set(f.threads), label: `the threads of task ${f.id}` };
    this.focusBanner();
    this.relayout();
  }

  focusBanner() {
    let b = document.getElementById("focus");
    if (!b) {
      b = el("div", { id: "focus" });
      this.canvas.parentElement.before(b);
    }
    const f = this.focus?.regions ? this.focus : null;
    b.hidden = !f;
    if (!f) return;
    const more = (n, total, what) => `${total} ${total === 1 ? what.slice(0, -1) : what}` + (n < total ? ` (${n} outlined)` : "");
    b.replaceChildren(el("b", { text: `task ${f.id} (${f.type || "begun before the trace"})` }),
      el("span", { text: ` ${f.open ? "unfinished" : fmtNs(f.end - f.begin)}, ${f.threads.length} thread${f.threads.length === 1 ? "" : "s"}, ` +
        `${more(f.regions.rows.length, f.regions.total, "regions")}, ${more(f.logs.rows.length, f.logs.total, "logs")} ` }),
      el("a", { href: "#", text: "its whole time", onclick: (e) => {
        e.preventDefault();
        const pad = Math.max((f.end - f.begin) * 0.05, 1000);
        this.show(f.begin - pad, f.end + pad);
      } }), el("span", { text: " · " }),
      el("a", { href: "#", text: "every thread", onclick: (e) => { e.preventDefault(); this.setFocus(null); } }));
    b.dataset.task = String(f.id);
  }

  drawFocus() {
    const c = this.ctx, f = this.focus;
    if (f.begun) { // dim what is outside the task's time
      c.fillStyle = "rgba(255,255,255,0.55)";
      const a = this.xOf(f.begin), b = this.xOf(f.end);
      if (a > GUTTER) c.fillRect(GUTTER, RULER, a - GUTTER, this.height - RULER);
      if (b < this.width) c.fillRect(Math.max(b, GUTTER), RULER, this.width - Math.max(b, GUTTER), this.height - RULER);
    }
    c.strokeStyle = "#d0191b";
    c.lineWidth = 2;
    for (const g of f.regions.rows) {
      const row = this.laneOf(g.tid);
      if (!row || g.end < this.t0 || g.begin > this.t1) continue;
      const [x, w] = this.clipX(g.begin, g.end);
      c.strokeRect(x, row.regionY - 1, Math.max(w, 2), Math.max(row.depth, 1) * REGION_H + 1);
    }
    for (const g of f.logs.rows) {
      const row = this.laneOf(g.tid);
      if (!row || g.t < this.t0 || g.t > this.t1) continue;
      c.beginPath();
      c.arc(this.xOf(g.t), row.y + 3, 5, 0, 2 * Math.PI);
      c.stroke();
    }
    c.lineWidth = 1;
  }

  // ---- input ----

  setTool(tool) {
    this.tool = tool;
    for (const b of document.querySelectorAll("#toolbar [data-tool]"))
      b.classList.toggle("active", b.dataset.tool === tool);
    this.canvas.style.cursor = tool === "pan" ? "grab" : "crosshair";
  }

  onKey(e) {
    if (document.getElementById("page-timeline").hidden) return;
    if (e.target.tagName === "INPUT" || e.target.tagName === "SELECT") return;
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const k = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    const at = this.cursorX;
    if (k === "w") this.zoom(0.8, at);
    else if (k === "s") this.zoom(1.25, at);
    else if (k === "a") this.pan(-0.15);
    else if (k === "d") this.pan(0.15);
    else if (k === "0") this.show(...this.home);
    else if (k >= "1" && k <= "4") this.setTool(["select", "pan", "zoom", "timing"][Number(k) - 1]);
    else if (k === "f") this.zoomToSelection();
    else if (k === "e") this.setArrows(!this.arrows);
    else if (k === "g") this.setGroupBy({ "": "process", process: "function", function: "" }[this.groupBy]);
    else if (k === "h" && this.sel?.tid) this.hideLane(this.sel.tid);
    else if (k === "u") { this.hidden.clear(); this.relayout(); }
    else if (k === "c" && this.sel?.tid && this.laneOf(this.sel.tid)?.group) this.toggleGroup(this.laneOf(this.sel.tid).group);
    else if (k === "/") this.search.focus();
    else if (k === "n") this.search.next(e.shiftKey ? -1 : 1);
    else if (k === "?") this.keys.toggle();
    else if (k === "Escape") {
      if (!this.keys.hidden()) this.keys.toggle(false);
      else { this.sel = null; this.selection = null; this.detailsPanel.clear(); this.draw(); this.saveState(); }
    } else if (k === "ArrowDown" || k === "ArrowUp") {
      this.wrap.scrollTop += k === "ArrowDown" ? 40 : -40;
    } else return;
    e.preventDefault();
  }

  bind() {
    const cv = this.canvas;
    this.setTool("select");
    for (const b of document.querySelectorAll("#toolbar [data-tool]"))
      b.addEventListener("click", () => this.setTool(b.dataset.tool));
    document.getElementById("group-by").addEventListener("change", (e) => this.setGroupBy(e.target.value));
    document.getElementById("wake-arrows").addEventListener("change", (e) => this.setArrows(e.target.checked));
    document.getElementById("unhide").addEventListener("click", () => { this.hidden.clear(); this.relayout(); });
    document.getElementById("keys-button").addEventListener("click", () => this.keys.toggle());
    let drag = null;
    const pos = (e) => { const r = cv.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; };
    window.addEventListener("keydown", (e) => this.onKey(e));
    this.wrap.addEventListener("scroll", () => { this.hover.hidden = true; this.requestDraw(); });
    // The wheel scrolls the lanes (the browser's own scrolling); with Ctrl
    // or ⌘ it zooms at the pointer, with Shift or sideways it pans.
    this.wrap.addEventListener("wheel", (e) => {
      const [x] = pos(e);
      const scale = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? this.viewHeight : 1;
      if (e.ctrlKey || e.metaKey) {
        e.preventDefault();
        this.zoom(Math.exp(Math.max(-1, Math.min(1, e.deltaY * scale * 0.002))), Math.max(x, GUTTER));
      } else if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) {
        e.preventDefault();
        this.pan(((e.deltaX || e.deltaY) * scale) / this.plotWidth);
      }
    }, { passive: false });
    cv.addEventListener("mousedown", (e) => {
      const [x, y] = pos(e);
      drag = { x, y, t0: this.t0, t1: this.t1, moved: false };
    });
    window.addEventListener("mouseup", (e) => {
      if (!drag) return;
      const [x, y] = pos(e);
      const a = Math.min(this.tOf(drag.x), this.tOf(x)), b = Math.max(this.tOf(drag.x), this.tOf(x));
      if (!drag.moved) {
        const h = this.hit(x, y);
        if (h && (this.tool === "select" || h.kind === "gutter")) this.detailsPanel.select(h);
      } else if (this.tool === "zoom" && b > a) {
        this.selection = null;
        this.show(a, b);
      } else if ((this.tool === "timing" || this.tool === "select") && b > a) {
        this.detailsPanel.rangeSummary(a, b);
      }
      drag = null;
    });
    cv.addEventListener("mousemove", (e) => {
      const [x, y] = pos(e);
      this.cursorX = x >= GUTTER ? x : null;
      const row = x < GUTTER ? this.rowAt(y) : null;
      if (row !== this.hoverRow) this.hoverRow = row;
      if (drag) {
        if (Math.abs(x - drag.x) > 3) drag.moved = true;
        if (this.tool === "pan" && drag.moved) {
          const dt = ((x - drag.x) / this.plotWidth) * (drag.t1 - drag.t0);
          this.show(drag.t0 - dt, drag.t1 - dt);
        } else if (drag.moved) {
          this.selection = [Math.min(this.tOf(drag.x), this.tOf(x)), Math.max(this.tOf(drag.x), this.tOf(x))];
        }
        this.requestDraw();
        return;
      }
      this.requestDraw();
      const h = this.hit(x, y);
      const text = h && h.kind !== "gutter" ? this.detailsPanel.describe(h)
        : h && h.row.kind === "thread" ? `${h.row.label}${h.row.fn ? `\nstarted in ${h.row.fn}` : ""}${h.close ? "\nclick ✕ to hide the lane (U shows it again)" : "\nclick for its analysis"}`
        : h && h.row.kind === "group" ? `${h.close ? "click ✕ to hide these lanes" : "click to collapse or expand"}` : "";
      if (text) {
        this.hover.hidden = false;
        this.hover.textContent = text;
        const r = cv.getBoundingClientRect();
        const left = Math.min(e.clientX + 14, window.innerWidth - this.hover.offsetWidth - 8);
        this.hover.style.left = `${Math.max(r.left, left)}px`;
        this.hover.style.top = `${e.clientY + 14}px`;
      } else {
        this.hover.hidden = true;
      }
    });
    cv.addEventListener("mouseleave", () => {
      this.hover.hidden = true;
      this.cursorX = null;
      this.hoverRow = null;
      this.requestDraw();
    });
    // The window, or the details panel dragged taller: the canvas follows.
    let size = [this.wrap.clientWidth, this.wrap.clientHeight];
    new ResizeObserver(() => {
      const now = [this.wrap.clientWidth, this.wrap.clientHeight];
      if (!now[0] || (now[0] === size[0] && now[1] === size[1])) return;
      const wider = now[0] !== size[0];
      size = now;
      this.resize(wider);
    }).observe(this.wrap);
  }
}

Object.assign(Timeline.prototype, laneDrawing);

// timeline.js - the timeline on a canvas: a ruler, a lane per CPU, the
// counters, and per thread a lane of states with its regions below and its
// logs as marks. The server sends per-pixel summaries of what a range
// shows (/api/timeline), so a view holds a screenful, whatever the trace.
import { getJSON, fmtNs, el } from "/app.js";

export const COLORS = {
  running: "#2e9e44", network: "#4a7fd6", blocked: "#8c8c8c", syscall: "#a05ac2",
  runnable: "#e6c229", sleeping: "#8fc6e8", "off-cpu": "#d9d9d9",
};
const GUTTER = 170, RULER = 24, CPU_H = 14, COUNTER_H = 32, LANE_H = 16, REGION_H = 12, GAP = 4;
const TASK_H = 11;

// Where bars [b, e, ...] lie over each other: [b, e, how many] pieces.
function overlaps(items) {
  const edges = [];
  for (const t of items) edges.push([t[0], 1], [t[1], -1]);
  edges.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  const out = [];
  let depth = 0, from = 0;
  for (const [at, d] of edges) {
    if (depth >= 2 && at > from) {
      const last = out[out.length - 1];
      if (last && last[1] === from && last[2] === depth) last[1] = at;
      else out.push([from, at, depth]);
    }
    depth += d;
    from = at;
  }
  return out;
}
const REGION_COLORS = ["#5b8def", "#e07b39", "#3fa796", "#c75d9b", "#8a6bd1", "#b5a034"];

function threadColor(tid) {
  const h = (Number(tid) * 2654435761) % 360;
  return `hsl(${h}, 55%, 55%)`;
}

export class Timeline {
  constructor(canvas, summary) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.summary = summary;
    this.states = summary.states;
    const pad = Math.max(1, (summary.end - summary.begin) * 0.01);
    this.home = [summary.begin - pad, summary.end + pad];
    [this.t0, this.t1] = this.home;
    this.data = null;
    this.tool = "select";
    this.highlight = 0;
    this.selection = null;
    this.seq = 0;
    this.hover = document.getElementById("hover");
    this.detailsBox = document.getElementById("details");
    this.rangeBox = document.getElementById("range");
    this.layout();
    this.bind();
    this.drawLegend();
    this.ready = new Promise((resolve) => { this.resolveReady = resolve; });
    this.resize();
  }

  layout() {
    const rows = [];
    let y = RULER;
    for (const cpu of this.summary.cpus) {
      rows.push({ kind: "cpu", cpu, y, h: CPU_H, label: `CPU ${cpu}` });
      y += CPU_H + 1;
    }
    if (this.summary.cpus.length) y += GAP;
    for (const name of this.summary.counters) {
      rows.push({ kind: "counter", name, y, h: COUNTER_H, label: name });
      y += COUNTER_H + GAP;
    }
    for (let r = 0; r < (this.summary.task_rows || 0); r++) {
      rows.push({ kind: "task", row: r, y, h: TASK_H, label: r === 0 ? "tasks" : "" });
      y += TASK_H + 1;
    }
    if (this.summary.task_rows) y += GAP;
    for (const t of this.focusThreads(this.summary.threads)) {
      const depth = Math.min(t.depth, 8);
      rows.push({ kind: "thread", tid: t.tid, y, h: LANE_H, depth, regionY: y + LANE_H + 1,
                  label: `${t.name || "thread"} ${t.tid}`, fn: t.function });
      y += LANE_H + 1 + depth * REGION_H + GAP;
    }
    this.rows = rows;
    this.height = y + 4;
  }

  resize() {
    const width = this.canvas.parentElement.clientWidth || 1000;
    const ratio = window.devicePixelRatio || 1;
    this.width = width;
    this.canvas.style.height = `${this.height}px`;
    this.canvas.width = Math.floor(width * ratio);
    this.canvas.height = Math.floor(this.height * ratio);
    this.ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    this.fetch();
  }

  get plotWidth() { return Math.max(50, this.width - GUTTER); }
  xOf(t) { return GUTTER + ((t - this.t0) / (this.t1 - this.t0)) * this.plotWidth; }
  tOf(x) { return this.t0 + ((x - GUTTER) / this.plotWidth) * (this.t1 - this.t0); }
  laneOf(tid) { return this.rows.find((r) => r.kind === "thread" && r.tid === tid); }
  // The colour at a point of the canvas, for tests: [r, g, b].
  pixelAt(x, y) {
    const ratio = window.devicePixelRatio || 1;
    return Array.from(this.ctx.getImageData(Math.round(x * ratio), Math.round(y * ratio), 1, 1).data.slice(0, 3));
  }

  show(t0, t1, tid = 0) {
    if (!(t1 > t0)) return;
    this.t0 = t0;
    this.t1 = t1;
    if (tid) {
      this.highlight = tid;
      const lane = this.laneOf(tid);
      if (lane) window.scrollTo(0, this.canvas.getBoundingClientRect().top + window.scrollY + lane.y - 80);
    }
    this.draw();
    this.fetch();
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
        this.lastFetchMs = performance.now() - started;
        this.draw();
        this.resolveReady();
      } catch (e) {
        if (e.name !== "AbortError") this.rangeBox.textContent = e.message;
      }
    }, 30);
  }

  draw() {
    const c = this.ctx;
    c.clearRect(0, 0, this.width, this.height);
    c.font = "11px system-ui, sans-serif";
    c.textBaseline = "middle";
    this.drawRuler();
    const d = this.data;
    for (const row of this.rows) {
      c.fillStyle = row.kind === "thread" && row.tid === this.highlight ? "#fff3c4" : "#f7f7f7";
      c.fillRect(0, row.y, GUTTER - 4, row.h);
      c.fillStyle = "#333";
      c.fillText(row.label, 4, row.y + row.h / 2, GUTTER - 10);
      if (!d) continue;
      if (row.kind === "cpu") this.drawCpu(row, d.cpus.find((x) => x.cpu === row.cpu));
      else if (row.kind === "counter") this.drawCounter(row, d.counters.find((x) => x.name === row.name));
      else if (row.kind === "task") this.drawTasks(row, (d.tasks || []).find((x) => x.row === row.row));
      else this.drawThread(row, d.threads.find((x) => x.tid === row.tid), d);
    }
    if (d) this.drawLogs(d);
    if (d) this.drawWakes(d);
    if (this.focus) this.drawFocus();
    if (this.selection) {
      const [a, b] = this.selection;
      c.fillStyle = "rgba(60,120,220,0.15)";
      c.fillRect(this.xOf(a), RULER, this.xOf(b) - this.xOf(a), this.height - RULER);
    }
    this.rangeBox.textContent = `${fmtNs(this.t0 - this.summary.begin)} – ${fmtNs(this.t1 - this.summary.begin)}` +
      ` (${fmtNs(this.t1 - this.t0)} visible)`;
    this.canvas.dataset.t0 = String(this.t0);
    this.canvas.dataset.t1 = String(this.t1);
  }

  drawRuler() {
    const c = this.ctx, span = this.t1 - this.t0;
    const step = 10 ** Math.floor(Math.log10(span / 8));
    const mult = span / step > 40 ? 5 : span / step > 16 ? 2 : 1;
    const tick = step * mult, base = this.summary.begin;
    c.fillStyle = "#fff";
    c.fillRect(GUTTER, 0, this.plotWidth, RULER);
    c.strokeStyle = "#ccc";
    c.fillStyle = "#444";
    for (let t = Math.ceil((this.t0 - base) / tick) * tick + base; t < this.t1; t += tick) {
      const x = this.xOf(t);
      c.beginPath();
      c.moveTo(x, RULER - 6);
      c.lineTo(x, RULER);
      c.stroke();
      c.fillText(fmtTick(t - base, tick), x + 2, 9);
    }
  }

  clipX(b, e) {
    const x0 = Math.max(GUTTER, this.xOf(b)), x1 = Math.min(this.width, this.xOf(e));
    return [x0, Math.max(x1 - x0, 1)];
  }

  drawThread(row, lane, d) {
    if (!lane) return;
    const c = this.ctx;
    for (const s of lane.spans) {
      const [x, w] = this.clipX(s[0], s[1]);
      if (x > this.width) continue;
      c.fillStyle = COLORS[this.states[s[2]]] || "#000";
      c.fillRect(x, row.y, w, row.h);
    }
    for (const r of lane.regions) {
      const depth = r[3] >= 0 ? r[6] : 1;
      if (depth > row.depth) continue;
      const [x, w] = this.clipX(r[0], r[1]);
      const y = row.regionY + (depth - 1) * REGION_H;
      c.fillStyle = r[3] >= 0 ? REGION_COLORS[r[5] % REGION_COLORS.length] : "#b9c3cf";
      c.fillRect(x, y, w, REGION_H - 1);
      if (r[3] >= 0 && w > 30) {
        c.fillStyle = "#fff";
        c.fillText(this.summary.strings[r[5]] || "", x + 2, y + REGION_H / 2, w - 4);
      }
    }
  }

  drawTasks(row, tasks) {
    if (!tasks) return;
    const c = this.ctx;
    for (const t of tasks.items) {
      const [x, w] = this.clipX(t[0], t[1]);
      c.fillStyle = t[3] >= 0 ? REGION_COLORS[t[2] % REGION_COLORS.length] : "#b9c3cf";
      c.fillRect(x, row.y, w, row.h);
      if (t[3] >= 0 && w > 40) {
        c.fillStyle = "#fff";
        c.fillText(`${this.summary.strings[t[2]] || ""} ${t[5]}`, x + 2, row.y + row.h / 2, w - 4);
      }
    }
    // The last row takes the tasks that overlap every row above, drawn over
    // each other: where they do, a dark underline and how many there are
    // (a click lists them all).
    for (const [a, b, n] of overlaps(tasks.items.filter((t) => t[3] >= 0))) {
      const [x, w] = this.clipX(a, b);
      c.fillStyle = "#1d2733";
      c.fillRect(x, row.y + row.h - 2, w, 2);
      if (w > 22) {
        c.fillStyle = "#1d2733";
        c.fillRect(x + w - 20, row.y, 20, row.h - 2);
        c.fillStyle = "#fff";
        c.fillText(`×${n}`, x + w - 18, row.y + row.h / 2 - 1, 17);
      }
    }
  }

  // A CPU's runs in their thread's colour; a run wide enough says whose.
  drawCpu(row, cpu) {
    if (!cpu) return;
    const c = this.ctx;
    for (const r of cpu.runs) {
      const [x, w] = this.clipX(r[0], r[1]);
      c.fillStyle = threadColor(r[2]);
      c.fillRect(x, row.y, w, row.h);
      if (w >= 40 && r[3] >= 0) {
        c.fillStyle = "#fff";
        c.fillText(this.threadName(r[2]), x + 3, row.y + row.h / 2 + 1, w - 6);
      }
    }
  }

  threadName(tid) {
    const t = this.summary.threads.find((x) => x.tid === tid);
    return `${t?.name || "thread"} ${tid}`;
  }

  drawCounter(row, counter) {
    if (!counter || !counter.points.length) return;
    const c = this.ctx;
    let max = 1;
    for (const p of counter.points) max = Math.max(max, p[2]);
    c.fillStyle = "#9bb7d4";
    c.beginPath();
    c.moveTo(Math.max(GUTTER, this.xOf(counter.points[0][0])), row.y + row.h);
    for (const p of counter.points) {
      const x = Math.max(GUTTER, this.xOf(p[0]));
      c.lineTo(x, row.y + row.h - (p[3] / max) * row.h);
    }
    const last = counter.points[counter.points.length - 1];
    c.lineTo(Math.min(this.width, this.xOf(Math.max(last[0], this.t1))), row.y + row.h - (last[3] / max) * row.h);
    c.lineTo(Math.min(this.width, this.xOf(this.t1)), row.y + row.h);
    c.closePath();
    c.fill();
    c.fillStyle = "#333";
    c.fillText(row.name === "threads" ? String(max) : fmtBytes(max), GUTTER - 60, row.y + 8);
  }

  drawLogs(d) {
    const c = this.ctx;
    c.fillStyle = "#d33";
    for (const g of d.logs) {
      const row = this.laneOf(g[1]);
      if (!row) continue;
      const x = this.xOf(g[0]);
      c.beginPath();
      c.moveTo(x - 3, row.y);
      c.lineTo(x + 3, row.y);
      c.lineTo(x, row.y + 5);
      c.fill();
    }
  }

  drawWakes(d) {
    const c = this.ctx;
    c.strokeStyle = "rgba(200,40,40,0.7)";
    c.lineWidth = 1;
    for (const w of d.wakes) {
      const from = this.laneOf(w[1]), to = this.laneOf(w[3]);
      if (!from || !to) continue;
      const x0 = this.xOf(w[0]), x1 = this.xOf(w[2]);
      const y0 = from.y + from.h / 2, y1 = to.y + to.h / 2;
      c.beginPath();
      c.moveTo(x0, y0);
      c.lineTo(x1, y1);
      c.stroke();
      const a = Math.atan2(y1 - y0, x1 - x0);
      c.beginPath();
      c.moveTo(x1, y1);
      c.lineTo(x1 - 6 * Math.cos(a - 0.4), y1 - 6 * Math.sin(a - 0.4));
      c.lineTo(x1 - 6 * Math.cos(a + 0.4), y1 - 6 * Math.sin(a + 0.4));
      c.fill();
    }
  }

  drawLegend() {
    const legend = document.getElementById("legend");
    legend.replaceChildren();
    for (const [name, color] of Object.entries(COLORS))
      legend.append(el("span", {}, el("i", { style: `background:${color}` }), name));
  }

  // What is under a point: {row, item, kind}.
  hit(x, y) {
    if (!this.data || x < GUTTER) return null;
    const t = this.tOf(x), slack = (this.t1 - this.t0) / this.plotWidth;
    for (const row of this.rows) {
      if (row.kind === "task" && y >= row.y && y < row.y + row.h) {
        const lane = (this.data.tasks || []).find((x) => x.row === row.row);
        const items = lane ? lane.items : [];
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
      if (row.kind === "cpu" && y >= row.y && y < row.y + row.h) {
        const runs = this.data.cpus.find((x) => x.cpu === row.cpu)?.runs || [];
        const r = runs.find((b) => b[0] <= t && t <= b[1]) ||
          runs.find((b) => b[0] - slack <= t && t <= b[1] + slack);
        return r ? { row, item: r, kind: "cpu" } : null;
      }
      if (row.kind !== "thread") continue;
      const lane = this.data.threads.find((l) => l.tid === row.tid);
      if (!lane) continue;
      if (y >= row.y && y < row.y + row.h) {
        const s = lane.spans.find((s) => s[0] - slack <= t && t <= s[1] + slack);
        return s ? { row, item: s, kind: "span" } : null;
      }
      if (y >= row.regionY && y < row.regionY + row.depth * REGION_H) {
        const depth = Math.floor((y - row.regionY) / REGION_H) + 1;
        const r = lane.regions.find((r) => (r[3] >= 0 ? r[6] : 1) === depth && r[0] - slack <= t && t <= r[1] + slack);
        return r ? { row, item: r, kind: "region" } : null;
      }
    }
    return null;
  }

  describe(h) {
    const s = h.item;
    if (h.kind === "cpu")
      return s[3] < 0 ? `${s[4]} runs on CPU ${h.row.cpu}, mostly ${this.threadName(s[2])}`
        : `${this.threadName(s[2])} on CPU ${h.row.cpu} ${fmtNs(s[1] - s[0])}`;
    if (h.kind === "task")
      return s[3] < 0 ? `${s[4]} short tasks` : `task ${s[5]} (${this.summary.strings[s[2]]}) ${fmtNs(s[1] - s[0])}` +
        (h.all?.length > 1 ? ` (and ${h.all.length - 1} more under it)` : "");
    if (h.kind === "span") {
      const state = this.states[s[2]];
      if (s[3] < 0) return `${s[4]} spans, mostly ${state}`;
      return `${state} ${fmtNs(s[1] - s[0])}`;
    }
    if (s[3] < 0) return `${s[4]} short regions`;
    return `${this.summary.strings[s[5]]} ${fmtNs(s[1] - s[0])}`;
  }

  async details(h) {
    const box = this.detailsBox;
    box.hidden = false;
    const s = h.item;
    if (h.kind === "task") {
      if (s[3] < 0) {
        box.replaceChildren(el("h3", { text: `${s[4]} tasks` }), el("div", { text: "zoom in (W) to see each" }));
        return;
      }
      const t = await getJSON(`/api/task?id=${s[5]}&t=${s[0]}`);
      box.replaceChildren(el("h3", { text: `task ${t.id} (${t.type})` }),
        el("div", { class: "when", text: `at ${fmtNs(t.begin - this.summary.begin)}, lasting ${fmtNs(t.end - t.begin)}` }),
        el("div", { text: `begun on thread ${t.tid}${t.parent ? `, child of task ${t.parent}` : ""}, ${t.logs} logs` }),
        el("a", { href: "#tasks", text: "tasks of every type" }));
      if (h.all?.length > 1) {
        const others = el("ul", { class: "under" });
        for (const o of h.all)
          others.append(el("li", {}, o === s ? el("b", { text: `task ${o[5]} (${this.summary.strings[o[2]]})` })
            : el("a", { href: "#", text: `task ${o[5]} (${this.summary.strings[o[2]]})`, onclick: (e) => {
              e.preventDefault();
              this.details({ ...h, item: o });
            } })));
        box.append(el("div", { text: `${h.all.length} tasks here, drawn over each other:` }), others);
      }
      box.dataset.state = "task";
      return;
    }
    if (h.kind === "cpu") {
      const lane = this.laneOf(s[2]);
      box.replaceChildren(el("h3", { text: s[3] < 0 ? `${s[4]} runs on CPU ${h.row.cpu}` : `${this.threadName(s[2])} on CPU ${h.row.cpu}` }),
        el("div", { class: "when", text: s[3] < 0
          ? `too short to draw one by one here (mostly ${this.threadName(s[2])}); zoom in (W) to see each`
          : `at ${fmtNs(s[0] - this.summary.begin)}, running ${fmtNs(s[1] - s[0])}` }),
        lane ? el("a", { href: "#", text: "its lane", onclick: (e) => {
          e.preventDefault();
          const box = this.canvas.getBoundingClientRect();
          window.scrollTo({ top: window.scrollY + box.top + lane.y - 40 });
        } }) : el("span"));
      box.dataset.state = "cpu";
      box.dataset.tid = String(s[2]);
      return;
    }
    if (h.kind === "region") {
      box.replaceChildren(el("h3", { text: s[3] < 0 ? `${s[4]} short regions` : `region ${this.summary.strings[s[5]]}` }),
        el("div", { text: `thread ${h.row.tid}, at ${fmtNs(s[0] - this.summary.begin)}, lasting ${fmtNs(s[1] - s[0])}` }));
      return;
    }
    if (s[3] < 0) {
      box.replaceChildren(el("h3", { text: `${s[4]} spans` }),
        el("div", { text: `too short to draw one by one here (mostly ${this.states[s[2]]}); zoom in (W) to see each` }));
      return;
    }
    const d = await getJSON(`/api/span?tid=${h.row.tid}&t=${s[0]}`);
    const stack = el("ol");
    for (const f of d.stack) stack.append(el("li", { text: f }));
    box.replaceChildren(
      el("h3", { text: `${d.state}${d.reason ? ` (${d.reason})` : ""} on thread ${d.thread} ${d.tid}` }),
      el("div", { class: "when", text: `at ${fmtNs(d.begin - this.summary.begin)}, lasting ${fmtNs(d.duration)}` }),
      el("div", { text: d.object !== "0x0" ? `object ${d.object}` : "" }),
      el("div", { text: d.region ? `in region ${d.region}` + (d.task ? ` of task ${d.task} (${d.task_type})` : "") : "" }),
      el("div", { text: d.woken_by ? `woken by thread ${d.woken_by} at ${fmtNs(d.woken_at - this.summary.begin)}` : "" }),
      d.stack.length ? stack : el("div", { class: "muted", text: "no stack" }));
    box.dataset.state = d.state;
    box.dataset.reason = d.reason;
  }

  // ---- A task in focus (/api/focus): only its threads have lanes, its
  // regions are outlined and its logs ringed, the time outside it dimmed.

  focusThreads(threads) {
    if (!this.focus) return threads;
    const keep = new Set(this.focus.threads);
    return threads.filter((t) => keep.has(t.tid));
  }

  async focusTask(id) {
    if (this.focus?.id === id) return;
    let f;
    for (;;) {
      const r = await fetch(`/api/focus?id=${id}&limit=10000`);
      if (r.status === 202) { await new Promise((ok) => setTimeout(ok, 400)); continue; }
      if (!r.ok) { this.rangeBox.textContent = `task ${id}: ${r.status} ${await r.text()}`; return; }
      f = await r.json();
      break;
    }
    this.focus = f;
    this.focusBanner();
    this.layout();
    this.resize();
  }

  clearFocus() {
    this.focus = null;
    this.focusBanner();
    this.layout();
    this.resize();
    if (location.hash.includes("task="))
      history.replaceState(null, "", location.hash.replace(/&task=\d+/, ""));
  }

  focusBanner() {
    let b = document.getElementById("focus");
    if (!b) {
      b = el("div", { id: "focus" });
      this.canvas.parentElement.before(b);
    }
    const f = this.focus;
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
      el("a", { href: "#", text: "every thread", onclick: (e) => { e.preventDefault(); this.clearFocus(); } }));
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

  // A range's summary: time by state over the threads, from what is drawn.
  rangeSummary(a, b) {
    const totals = {};
    for (const lane of this.data?.threads || [])
      for (const s of lane.spans) {
        const d = Math.min(s[1], b) - Math.max(s[0], a);
        if (d > 0) totals[this.states[s[2]]] = (totals[this.states[s[2]]] || 0) + d;
      }
    const box = this.detailsBox;
    box.hidden = false;
    const list = el("ul");
    for (const [k, v] of Object.entries(totals).sort((x, y) => y[1] - x[1]))
      list.append(el("li", { text: `${k}: ${fmtNs(v)}` }));
    box.replaceChildren(el("h3", { text: `range of ${fmtNs(b - a)}` }),
      el("div", { text: `from ${fmtNs(a - this.summary.begin)} to ${fmtNs(b - this.summary.begin)}; thread time by state:` }), list);
  }

  setTool(tool) {
    this.tool = tool;
    for (const b of document.querySelectorAll("#toolbar [data-tool]"))
      b.classList.toggle("active", b.dataset.tool === tool);
    this.canvas.style.cursor = tool === "pan" ? "grab" : "crosshair";
  }

  bind() {
    const cv = this.canvas;
    this.setTool("select");
    for (const b of document.querySelectorAll("#toolbar [data-tool]"))
      b.addEventListener("click", () => this.setTool(b.dataset.tool));
    let pointerX = null, drag = null;
    const pos = (e) => { const r = cv.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; };
    window.addEventListener("keydown", (e) => {
      if (document.getElementById("page-timeline").hidden || e.target.tagName === "INPUT") return;
      const k = e.key.toLowerCase();
      if (k === "w") this.zoom(0.8, pointerX);
      else if (k === "s") this.zoom(1.25, pointerX);
      else if (k === "a") this.pan(-0.15);
      else if (k === "d") this.pan(0.15);
      else if (k === "0") this.show(...this.home);
      else if (k >= "1" && k <= "4") this.setTool(["select", "pan", "zoom", "timing"][Number(k) - 1]);
      else return;
      e.preventDefault();
    });
    cv.addEventListener("wheel", (e) => {
      e.preventDefault();
      const [x] = pos(e);
      if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) this.pan((e.deltaX || e.deltaY) / 1000);
      else this.zoom(e.deltaY > 0 ? 1.15 : 0.87, x);
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
        if (h && this.tool === "select") this.details(h);
      } else if (this.tool === "zoom" && b > a) {
        this.selection = null;
        this.show(a, b);
      } else if (this.tool === "timing" && b > a) {
        this.rangeSummary(a, b);
      } else if (this.tool === "select" && b > a) {
        this.rangeSummary(a, b);
      }
      drag = null;
    });
    cv.addEventListener("mousemove", (e) => {
      const [x, y] = pos(e);
      pointerX = x;
      if (drag) {
        if (Math.abs(x - drag.x) > 3) drag.moved = true;
        if (this.tool === "pan" && drag.moved) {
          const dt = ((x - drag.x) / this.plotWidth) * (drag.t1 - drag.t0);
          this.show(drag.t0 - dt, drag.t1 - dt);
        } else if (drag.moved) {
          this.selection = [Math.min(this.tOf(drag.x), this.tOf(x)), Math.max(this.tOf(drag.x), this.tOf(x))];
          this.draw();
        }
        return;
      }
      const h = this.hit(x, y);
      if (h) {
        this.hover.hidden = false;
        this.hover.textContent = this.describe(h);
        this.hover.style.left = `${x + 12}px`;
        this.hover.style.top = `${y + 12}px`;
      } else {
        this.hover.hidden = true;
      }
    });
    cv.addEventListener("mouseleave", () => { this.hover.hidden = true; pointerX = null; });
    window.addEventListener("resize", () => this.resize());
  }
}

function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(0)} KiB`;
  if (n < 1 << 30) return `${(n / 1048576).toFixed(1)} MiB`;
  return `${(n / 1073741824).toFixed(2)} GiB`;
}

// A ruler label with the digits its tick needs.
function fmtTick(ns, tick) {
  const units = [[1e9, "s"], [1e6, "ms"], [1e3, "us"], [1, "ns"]];
  const [div, unit] = units.find(([d]) => Math.abs(ns) >= d || d === 1) || units[3];
  const digits = Math.max(0, Math.min(6, Math.ceil(Math.log10(div / tick))));
  return `${(ns / div).toFixed(digits)}${unit}`;
}

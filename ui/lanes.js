// lanes.js - how the timeline draws what its lanes hold: states, regions
// and tasks as bars (short ones summed per pixel, hatched), the CPU lanes'
// runs, the counters, the logs' marks and the wake-up arrows. Methods of
// Timeline (timeline.js mixes them in), drawing on its canvas.
import {
  REGION_COLORS, LOST_COLORS, LOG_COLOR, WAKE_COLOR, COUNTER_COLOR, GUTTER, RULER, LANE_H, REGION_H, threadColor,
  overlaps, fmtBytes,
} from "/palette.js";

export const LOST_H = 5;

export const laneDrawing = {
  clipX(b, e) {
    const x0 = Math.max(GUTTER, this.xOf(b)), x1 = Math.min(this.width, this.xOf(e));
    return [x0, Math.max(x1 - x0, 1)];
  },

  matches(typeIndex) {
    return this.matchQuery && (this.summary.strings[typeIndex] || "").toLowerCase().includes(this.matchQuery);
  },

  // A region or task bar: its colour, outlined, its name when it fits;
  // summaries of short ones hatched.
  drawBar(x, y, w, h, item, typeAt, idAt) {
    const c = this.ctx;
    if (item[3] < 0) {
      c.fillStyle = this.hatch;
      c.fillRect(x, y, w, h);
      return;
    }
    const type = item[typeAt];
    c.fillStyle = REGION_COLORS[type % REGION_COLORS.length];
    c.fillRect(x, y, w, h);
    if (w > 3) {
      c.strokeStyle = "rgba(0,0,0,0.35)";
      c.strokeRect(x + 0.5, y + 0.5, w - 1, h - 1);
    }
    if (this.matches(type)) {
      c.strokeStyle = "#000";
      c.lineWidth = 2;
      c.strokeRect(x + 1, y + 1, Math.max(w - 2, 1), h - 2);
      c.lineWidth = 1;
    }
    if (w > 30) {
      c.fillStyle = "#fff";
      const name = (this.summary.strings[type] || "") + (idAt !== undefined ? ` ${item[idAt]}` : "");
      c.fillText(name, x + 3, y + h / 2, w - 6);
    }
  },

  drawThread(row, y, lane) {
    if (!lane) return;
    const c = this.ctx;
    for (const s of lane.spans) {
      const [x, w] = this.clipX(s[0], s[1]);
      if (x > this.width) continue;
      c.fillStyle = this.stateColors[s[2]];
      c.fillRect(x, y, w, row.h);
    }
    // Where the thread lost events: its states there may miss some.
    for (const [a, b] of this.threadByTid.get(row.tid)?.losses || []) {
      let [x, w] = this.clipX(a, b);
      if (x > this.width || this.xOf(b) < GUTTER - 2) continue;
      if (w < 5) { x -= (5 - w) / 2; w = 5; }
      c.fillStyle = LOST_COLORS[0];
      c.fillRect(x, y + row.h - LOST_H, w, LOST_H);
      c.fillStyle = LOST_COLORS[1];
      for (let s = x + 1; s < x + w - 1; s += 6) c.fillRect(s, y + row.h - LOST_H + 1, Math.min(3, x + w - 1 - s), LOST_H - 2);
    }
    for (const r of lane.regions) {
      const depth = r[3] >= 0 ? r[6] : 1;
      if (depth > row.depth) continue;
      const [x, w] = this.clipX(r[0], r[1]);
      this.drawBar(x, y + LANE_H + 1 + (depth - 1) * REGION_H, w, REGION_H - 1, r, 5);
    }
  },

  drawTasks(row, y, items) {
    if (!items) return;
    const c = this.ctx;
    for (const t of items) {
      const [x, w] = this.clipX(t[0], t[1]);
      this.drawBar(x, y, w, row.h, t, 2, 5);
    }
    // The last row takes the tasks that overlap every row above, drawn over
    // each other: where they do, a dark underline and how many there are
    // (a click lists them all).
    for (const [a, b, n] of overlaps(items.filter((t) => t[3] >= 0))) {
      const [x, w] = this.clipX(a, b);
      c.fillStyle = "#1d2733";
      c.fillRect(x, y + row.h - 2, w, 2);
      if (w > 22) {
        c.fillRect(x + w - 20, y, 20, row.h - 2);
        c.fillStyle = "#fff";
        c.fillText(`×${n}`, x + w - 18, y + row.h / 2 - 1, 17);
        c.fillStyle = "#1d2733";
      }
    }
  },

  // A CPU's runs in their thread's colour; a run wide enough says whose.
  drawCpu(row, y, runs) {
    if (!runs) return;
    const c = this.ctx;
    for (const r of runs) {
      const [x, w] = this.clipX(r[0], r[1]);
      c.fillStyle = threadColor(r[2]);
      c.fillRect(x, y, w, row.h);
      if (w >= 40 && r[3] >= 0) {
        c.fillStyle = "#fff";
        c.fillText(this.threadName(r[2]), x + 3, y + row.h / 2 + 1, w - 6);
      }
    }
  },

  threadName(tid) {
    const t = this.threadByTid.get(tid);
    return `${t?.name || "thread"} ${t?.os_tid ?? tid}${this.summary.tree && t ? ` (pid ${t.pid})` : ""}`;
  },

  counterMax(points) {
    let max = 1;
    for (const p of points) max = Math.max(max, p[2]);
    return max;
  },

  fmtCounter(name, v) {
    return name === "threads" ? String(v) : fmtBytes(v);
  },

  drawCounter(row, y, points) {
    if (!points || !points.length) return;
    const c = this.ctx, max = this.counterMax(points);
    c.fillStyle = COUNTER_COLOR;
    c.strokeStyle = "#8a7250";
    c.beginPath();
    c.moveTo(Math.max(GUTTER, this.xOf(points[0][0])), y + row.h);
    let last = null;
    for (const p of points) {
      const x = Math.max(GUTTER, this.xOf(p[0])), py = y + row.h - (p[3] / max) * row.h;
      if (last !== null) c.lineTo(x, last);
      c.lineTo(x, py);
      last = py;
    }
    const end = points[points.length - 1];
    const stop = row.until !== undefined ? Math.max(end[0], Math.min(this.t1, row.until)) : Math.max(end[0], this.t1);
    c.lineTo(Math.min(this.width, this.xOf(stop)), y + row.h - (end[3] / max) * row.h);
    c.lineTo(Math.min(this.width, this.xOf(row.until !== undefined ? stop : this.t1)), y + row.h);
    c.closePath();
    c.fill();
    c.stroke();
    c.fillStyle = "#333";
    c.fillText(`max ${this.fmtCounter(row.name, max)}`, GUTTER + 4, y + 7);
  },

  // A counter's value at time t: the last sample at or before it.
  counterAt(name, t) {
    const points = this.counterPoints?.get(name);
    if (!points || !points.length || t < points[0][0]) return null;
    let lo = 0, hi = points.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (points[mid][0] <= t) lo = mid;
      else hi = mid - 1;
    }
    return points[lo][3];
  },

  drawCursor() {
    const c = this.ctx, x = this.cursorX, t = this.tOf(x);
    c.strokeStyle = "rgba(0,0,0,0.35)";
    c.beginPath();
    c.moveTo(x + 0.5, RULER);
    c.lineTo(x + 0.5, this.viewHeight);
    c.stroke();
    for (const row of this.rows) {
      if (row.kind !== "counter") continue;
      const y = this.yOf(row), v = this.counterAt(row.name, t);
      if (v === null || y + row.h < RULER || y > this.viewHeight) continue;
      const label = this.fmtCounter(row.name, v), w = c.measureText(label).width + 8;
      const lx = x + 4 + w > this.width ? x - 4 - w : x + 4;
      c.fillStyle = "rgba(255,255,255,0.9)";
      c.fillRect(lx, y + row.h / 2 - 7, w, 14);
      c.fillStyle = "#222";
      c.fillText(label, lx + 4, y + row.h / 2);
    }
  },

  // Logs: a red mark at the top of their thread's lane.
  drawLogs(d) {
    const c = this.ctx;
    for (const g of d.logs) {
      const row = this.laneOf(g[1]);
      if (!row) continue;
      const x = this.xOf(g[0]), y = this.yOf(row);
      c.fillStyle = LOG_COLOR;
      c.strokeStyle = "#fff";
      c.beginPath();
      c.moveTo(x - 4, y);
      c.lineTo(x + 4, y);
      c.lineTo(x, y + 7);
      c.closePath();
      c.fill();
      c.stroke();
    }
  },

  drawWakes(d) {
    const c = this.ctx;
    c.strokeStyle = WAKE_COLOR;
    c.fillStyle = WAKE_COLOR;
    c.lineWidth = 1;
    for (const w of d.wakes) {
      const from = this.laneOf(w[1]), to = this.laneOf(w[3]);
      if (!from || !to) continue;
      const x0 = this.xOf(w[0]), x1 = this.xOf(w[2]);
      const y0 = this.yOf(from) + from.h / 2, y1 = this.yOf(to) + to.h / 2;
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
};

// search.js - search over the timeline: threads (by name, id or start
// function, from the summary), and regions, tasks (type or id) and logs
// (category or message) from the server (/api/search, in time order from
// the view's start). Enter or N goes to the next result, Shift+N to the
// previous; a result opens the timeline at it with it selected. Regions
// and tasks whose type matches are outlined while the query stands.
import { getJSON, fmtDur, fmtTime, el } from "/app.js";

export class Search {
  constructor(tl, input, list, count) {
    this.tl = tl;
    this.input = input;
    this.list = list;
    this.count = count;
    this.results = [];
    this.current = -1;
    this.q = "";
    let timer;
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (this.input.value.trim() === this.q && this.results.length) return; // Enter searched it
        this.pending = this.run().finally(() => { this.pending = null; });
      }, 250);
    });
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") { e.preventDefault(); this.next(e.shiftKey ? -1 : 1); }
      else if (e.key === "Escape") { this.list.hidden = true; input.blur(); }
      else if (e.key === "ArrowDown" || e.key === "ArrowUp") { e.preventDefault(); this.move(e.key === "ArrowDown" ? 1 : -1); }
    });
    input.addEventListener("focus", () => { if (this.results.length) this.list.hidden = false; });
    document.addEventListener("mousedown", (e) => {
      if (!list.contains(e.target) && e.target !== input) list.hidden = true;
    });
  }

  focus() {
    this.input.focus();
    this.input.select();
  }

  async run(more = false) {
    const q = this.input.value.trim();
    const tl = this.tl;
    if (!more) {
      this.q = q;
      this.results = [];
      this.current = -1;
      this.done = true;
    }
    tl.matchQuery = q.toLowerCase();
    tl.draw();
    if (!q) {
      this.render();
      return;
    }
    if (!more) {
      const low = q.toLowerCase();
      for (const t of tl.summary.threads)
        if (`${t.name} ${t.os_tid ?? t.tid} ${t.function}`.toLowerCase().includes(low)) // os_tid: a tree's
          this.results.push({ kind: "thread", tid: t.tid, os: t.os_tid, name: t.name, fn: t.function, t: t.begin ?? tl.summary.begin, end: t.end });
    }
    const after = more ? this.lookedTo : Math.floor(Math.max(tl.summary.begin, tl.t0));
    this.count.textContent = "searching…";
    try {
      const d = await getJSON(`/api/search?q=${encodeURIComponent(q)}&after=${after}&limit=50`);
      if (q !== this.q) return;
      for (const r of d.results) this.results.push(r);
      const last = d.results.length ? d.results[d.results.length - 1].t + 1 : d.looked_to;
      this.lookedTo = Math.max(last, after + 1);
      this.done = d.done;
    } catch (e) {
      this.count.textContent = e.message;
      return;
    }
    this.render();
  }

  label(r) {
    const tl = this.tl, at = fmtTime(r.t - tl.summary.begin, 1000);
    if (r.kind === "thread") return `${r.name} ${r.os ?? r.tid}${r.fn ? ` (${r.fn})` : ""}`;
    if (r.kind === "log") return `${r.name}: ${r.message} — ${tl.threadName(r.tid)}, at ${at}`;
    const dur = r.end >= r.t ? `, ${fmtDur(r.end - r.t)}` : "";
    if (r.kind === "task") return `task ${r.task} ${r.name} — at ${at}${dur}`;
    return `${r.name} on ${tl.threadName(r.tid)}${r.task ? `, task ${r.task}` : ""} — at ${at}${dur}`;
  }

  render() {
    const list = this.list;
    list.replaceChildren();
    this.count.textContent = this.q ? `${this.results.length}${this.done ? "" : "+"} found` : "";
    this.results.forEach((r, i) => {
      const d = el("div", { class: i === this.current ? "current" : "" },
        el("span", { class: "kind", text: r.kind }), this.label(r));
      d.addEventListener("click", () => { this.current = i; this.go(r); this.render(); });
      list.append(d);
    });
    if (!this.done && this.q) {
      const more = el("div", { class: "more", text: `more, after ${fmtTime(this.lookedTo - this.tl.summary.begin, 1000)}…` });
      more.addEventListener("click", () => this.run(true));
      list.append(more);
    }
    list.hidden = !this.q || document.activeElement !== this.input;
  }

  move(step) {
    if (!this.results.length) return;
    this.current = (this.current + step + this.results.length) % this.results.length;
    this.render();
    this.list.children[this.current]?.scrollIntoView({ block: "nearest" });
  }

  // The next result; the query typed is searched first if its results are
  // not in yet (Enter right after typing).
  async next(step) {
    if (this.pending) await this.pending;
    if (this.input.value.trim() !== this.q) await this.run();
    if (!this.results.length) return;
    this.move(step);
    this.go(this.results[this.current]);
  }

  // Opens the timeline at a result, selected.
  go(r) {
    const tl = this.tl;
    if (r.kind === "thread") {
      if (tl.hidden.delete(r.tid)) tl.relayout();
      tl.highlight = r.tid;
      tl.scrollToRow(tl.laneOf(r.tid));
      tl.detailsPanel.thread(r.tid);
      return;
    }
    const end = r.end > r.t ? r.end : r.t;
    const w = Math.max(end - r.t, 20000), pad = w * 0.6;
    if (tl.hidden.delete(r.tid)) tl.relayout();
    tl.pendingSel = r.kind === "task" ? `task:${r.task}:${r.t}` : r.kind === "log" ? `log:${r.tid}:${r.t}`
      : `region:${r.tid}:${r.t}:0`;
    tl.show(r.t - pad, end + pad, r.tid);
  }
}

// mmu.js - the utilization page, Go's minimum mutator utilization for
// threads: the share of CPU time the program's threads got over time, and
// for each window width the least any window of that width gave them (the
// curve), with the worst windows of a width chosen on it. Computed by the
// server (/api/utilization), drawn here on canvases.
import { getJSON, fmtDur, fmtTime, el } from "/app.js";

const MODES = {
  machine: "of the machine: threads on a CPU / the machine's CPUs",
  demand: "of what they asked for: threads on a CPU / threads on a CPU or waiting for one",
};

function pct(x) { return `${(100 * x).toFixed(1)} %`; }

function setup(cv, w, h) {
  const ratio = window.devicePixelRatio || 1;
  cv.width = Math.floor(w * ratio);
  cv.height = Math.floor(h * ratio);
  cv.style.width = `${w}px`;
  cv.style.height = `${h}px`;
  const c = cv.getContext("2d");
  c.setTransform(ratio, 0, 0, ratio, 0, 0);
  c.font = "11px system-ui, sans-serif";
  c.textBaseline = "middle";
  return c;
}

const L = 50, R = 16, T = 10, B = 24; // plot margins

// The share over time: one value a pixel.
function drawSeries(cv, d, width) {
  const h = 140, c = setup(cv, width, h), pw = width - L - R, ph = h - T - B;
  c.clearRect(0, 0, width, h);
  c.strokeStyle = "#ddd";
  c.fillStyle = "#555";
  for (const y of [0, 0.5, 1]) {
    const py = T + ph - y * ph;
    c.beginPath();
    c.moveTo(L, py);
    c.lineTo(L + pw, py);
    c.stroke();
    c.fillText(`${y * 100}%`, 8, py);
  }
  c.fillStyle = "#3a7d8c";
  const n = d.series.length;
  d.series.forEach((v, i) => {
    if (v < 0) return;
    const x = L + (i / n) * pw;
    c.fillRect(x, T + ph - v * ph, Math.max(1, pw / n), v * ph);
  });
  c.fillStyle = "#555";
  for (let k = 0; k <= 4; k++) {
    const t = d.t0 + ((d.t1 - d.t0) * k) / 4;
    c.fillText(fmtTime(t - d.begin, (d.t1 - d.t0) / 100), L + (k / 4) * pw - (k === 4 ? 50 : k ? 20 : 0), h - 10);
  }
  return { pw, ph, n };
}

// The curve: x the window's width (log), y the least share in a window.
function drawCurve(cv, d, width, chosen) {
  const h = 260, c = setup(cv, width, h), pw = width - L - R, ph = h - T - B;
  c.clearRect(0, 0, width, h);
  const w0 = d.mmu[0][0], w1 = d.mmu[d.mmu.length - 1][0];
  const lx = (w) => L + (w1 > w0 ? (Math.log(w / w0) / Math.log(w1 / w0)) * pw : 0);
  c.strokeStyle = "#ddd";
  c.fillStyle = "#555";
  for (const y of [0, 0.25, 0.5, 0.75, 1]) {
    const py = T + ph - y * ph;
    c.beginPath();
    c.moveTo(L, py);
    c.lineTo(L + pw, py);
    c.stroke();
    c.fillText(`${y * 100}%`, 8, py);
  }
  for (let dec = 10 ** Math.ceil(Math.log10(w0)); dec <= w1; dec *= 10) {
    const x = lx(dec);
    c.beginPath();
    c.moveTo(x, T);
    c.lineTo(x, T + ph);
    c.stroke();
    c.fillText(fmtDur(dec), x - 14, h - 10);
  }
  c.strokeStyle = "#1f5f8b";
  c.lineWidth = 2;
  c.beginPath();
  d.mmu.forEach(([w, v], i) => {
    const x = lx(w), y = T + ph - v * ph;
    if (i) c.lineTo(x, y);
    else c.moveTo(x, y);
  });
  c.stroke();
  c.lineWidth = 1;
  if (chosen) {
    c.strokeStyle = "#c0392b";
    c.beginPath();
    c.moveTo(lx(chosen), T);
    c.lineTo(lx(chosen), T + ph);
    c.stroke();
  }
  return { lx, pw, w0, w1 };
}

export async function utilizationPage(section) {
  const mode = el("select");
  for (const [k, v] of Object.entries(MODES)) mode.append(el("option", { value: k, text: v }));
  const info = el("p", { class: "muted" });
  const series = el("canvas", { id: "util-series" }), curve = el("canvas", { id: "mmu-curve" });
  const readout = el("div", { id: "mmu-readout", text: "Point at the curve for a width's minimum; click to list the worst windows of that width." });
  const worst = el("div", { id: "mmu-worst" });
  section.append(el("h2", { text: "Utilization" }),
    el("p", { text: "The share of CPU time the program's threads got, over time, and for each window width the least any window of that width gave them (Go's minimum mutator utilization, for threads): a curve that stays high at small widths means the threads were never kept off the CPUs for long." }),
    el("div", { class: "util" }, el("label", {}, "share ", mode), info,
      el("h3", { text: "Over time" }), series,
      el("h3", { text: "Minimum over windows of each width" }), curve, readout, worst));
  let d = null, chosen = 0, geo = null;
  const width = () => Math.max(400, Math.min(1200, section.clientWidth - 40 || 900));
  const load = async () => {
    info.textContent = "computing…";
    const url = `/api/utilization?mode=${mode.value}&px=${width() - L - R}${chosen ? `&width=${chosen}` : ""}`;
    d = await getJSON(url);
    info.textContent = `${d.threads} threads on ${d.ncpu} CPUs; resolution ${fmtDur(d.bin_ns)}; ` +
      (d.sched ? "CPU time from the kernel's context switches" : "no context switches recorded: on a CPU means outside a recorded wait");
    drawSeries(series, d, width());
    geo = drawCurve(curve, d, width(), chosen);
    curve.dataset.points = String(d.mmu.length);
    worst.replaceChildren();
    if (chosen && d.worst.length) {
      const list = el("ol");
      for (const [a, b, v] of d.worst) {
        const pad = (b - a) * 0.2;
        list.append(el("li", {}, el("a", { href: `#timeline?t0=${Math.floor(a - pad)}&t1=${Math.ceil(b + pad)}`,
          text: `${pct(v)} from ${fmtTime(a - d.begin, (b - a) / 100)} to ${fmtTime(b - d.begin, (b - a) / 100)}` })));
      }
      worst.append(el("h3", { text: `The worst windows of ${fmtDur(chosen)}` }), list);
    }
  };
  const widthAt = (x) => {
    if (!geo || !d) return null;
    const f = Math.min(1, Math.max(0, (x - L) / geo.pw));
    const w = geo.w0 * (geo.w1 / geo.w0) ** f;
    // the nearest width computed
    return d.mmu.reduce((best, p) => (Math.abs(Math.log(p[0] / w)) < Math.abs(Math.log(best[0] / w)) ? p : best));
  };
  curve.addEventListener("mousemove", (e) => {
    const p = widthAt(e.offsetX);
    if (p) readout.textContent = `windows of ${fmtDur(p[0])}: at least ${pct(p[1])} in every one (worst at ${fmtTime(p[2] - d.begin, p[0] / 100)})`;
  });
  curve.addEventListener("click", async (e) => {
    const p = widthAt(e.offsetX);
    if (!p) return;
    chosen = p[0];
    await load();
  });
  series.addEventListener("mousemove", (e) => {
    if (!d) return;
    const pw = width() - L - R, i = Math.floor(((e.offsetX - L) / pw) * d.series.length);
    if (i < 0 || i >= d.series.length) return;
    const t = d.t0 + ((d.t1 - d.t0) * (i + 0.5)) / d.series.length;
    readout.textContent = `at ${fmtTime(t - d.begin, (d.t1 - d.t0) / d.series.length)}: ${d.series[i] < 0 ? "outside the trace" : pct(d.series[i])}`;
  });
  series.addEventListener("click", (e) => {
    if (!d) return;
    const pw = width() - L - R, f = (e.offsetX - L) / pw, t = d.t0 + (d.t1 - d.t0) * f, w = (d.t1 - d.t0) / 50;
    location.hash = `#timeline?t0=${Math.floor(t - w)}&t1=${Math.ceil(t + w)}`;
  });
  mode.addEventListener("change", load);
  await load();
}

// palette.js - what the timeline and the details share: the colours of
// states, regions, logs, wakes and threads, the timeline's sizes, and the
// formatting of bytes and ruler ticks.

// The states: nothing else on the timeline takes these hues.
export const COLORS = {
  running: "#2e9e44", network: "#4a7fd6", blocked: "#8c8c8c", syscall: "#a05ac2",
  runnable: "#e6c229", sleeping: "#8fc6e8", "off-cpu": "#d9d9d9",
};
// A state the server names that this page does not know yet: colours that
// no other state or mark takes.
const MORE_STATES = ["#17becf", "#ff7f0e", "#6b3fa0"];
export function stateColor(name, states = []) {
  if (COLORS[name]) return COLORS[name];
  const unknown = states.filter((s) => !COLORS[s]);
  return MORE_STATES[Math.max(0, unknown.indexOf(name)) % MORE_STATES.length];
}
// Regions and tasks: warm pinks and browns, outlined, with their names.
export const REGION_COLORS = ["#d4587a", "#c0653a", "#9a6a4b", "#e0907a", "#7a4a2a", "#e8a0b0"];
// Events lost: black and yellow stripes under the lane, as a warning.
export const LOST_COLORS = ["#111", "#f5c400"];
export const LOG_COLOR = "#d0192b", WAKE_COLOR = "rgba(20,30,50,0.75)", COUNTER_COLOR = "#c9b79c";
export const GUTTER = 250, RULER = 26;
export const CPU_H = 14, COUNTER_H = 32, LANE_H = 16, REGION_H = 12, GAP = 4, TASK_H = 11, HEADER_H = 17;

// A thread's colour on the CPU lanes: reds, pinks and browns only.
export function threadColor(tid) {
  const k = (Number(tid) * 2654435761) >>> 0;
  const h = (330 + (k % 61)) % 360, l = 38 + ((k >>> 8) % 3) * 10;
  return `hsl(${h}, 50%, ${l}%)`;
}

// Where bars [b, e, ...] lie over each other: [b, e, how many] pieces.
export function overlaps(items) {
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

export function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(0)} KiB`;
  if (n < 1 << 30) return `${(n / 1048576).toFixed(1)} MiB`;
  return `${(n / 1073741824).toFixed(2)} GiB`;
}

// A ruler label with the digits its tick needs.
export function fmtTick(ns, tick) {
  const units = [[1e9, "s"], [1e6, "ms"], [1e3, "µs"], [1, "ns"]];
  const [div, unit] = units.find(([d]) => Math.abs(ns) >= d || d === 1) || units[3];
  const digits = Math.max(0, Math.min(6, Math.ceil(Math.log10(div / tick))));
  return `${(ns / div).toFixed(digits)}${unit}`;
}

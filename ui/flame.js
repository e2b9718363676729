// flame.js - blocking profiles as flame graphs. The page reads the same
// gzipped pprof file it offers for download (/api/pprof), with the
// browser's DecompressionStream and a small protobuf decoder: one source
// for `go tool pprof` and the picture. Frames keep their file and line
// (two call sites of one function are two frames), and each stack ends in
// the primitive or call it waited in (pthread_mutex_lock, read, ...), so
// a mutex and a condvar waited on from one function stay apart. A click
// zooms into a frame; its ancestors stay above it, and the trail, the
// "whole profile" link, Esc or Backspace lead back out.
import { fmtDur, el } from "/app.js";

function reader(bytes) {
  let i = 0;
  const varint = () => {
    let v = 0n, shift = 0n, b;
    do {
      if (i >= bytes.length) throw new Error("pprof: a varint runs past the end");
      b = bytes[i++];
      v |= BigInt(b & 0x7f) << shift;
      shift += 7n;
    } while (b & 0x80);
    return v;
  };
  return {
    done: () => i >= bytes.length,
    varint,
    field() {
      const key = Number(varint());
      const wire = key & 7, num = key >> 3;
      if (wire === 0) return [num, wire, varint()];
      if (wire === 2) {
        const n = Number(varint());
        const v = bytes.subarray(i, i + n);
        i += n;
        return [num, wire, v];
      }
      if (wire === 1) { i += 8; return [num, wire, 0n]; }
      if (wire === 5) { i += 4; return [num, wire, 0n]; }
      throw new Error(`pprof: wire type ${wire}`);
    },
  };
}

// A packed repeated varint field.
function unpack(bytes) {
  const out = [], r = reader(bytes);
  while (!r.done()) out.push(r.varint());
  return out;
}

function message(bytes, handlers) {
  const r = reader(bytes);
  while (!r.done()) {
    const [num, wire, v] = r.field();
    if (handlers[num]) handlers[num](wire, v);
  }
}

// Each sample's frames, root first, inlined frames expanded: {fn, file,
// line}; a frame without a file is the primitive or call the wrapper
// named (it has no address).
export function parseProfile(bytes) {
  const strings = [], samples = [], locations = new Map(), functions = new Map();
  message(bytes, {
    2: (w, v) => {
      const s = { locs: [], values: [] };
      message(v, {
        1: (w2, x) => s.locs.push(...(w2 === 2 ? unpack(x) : [x])),
        2: (w2, x) => s.values.push(...(w2 === 2 ? unpack(x) : [x])),
      });
      samples.push(s);
    },
    4: (w, v) => {
      const loc = { id: 0n, address: 0n, lines: [] };
      message(v, {
        1: (w2, x) => { loc.id = x; },
        3: (w2, x) => { loc.address = x; },
        4: (w2, x) => {
          const line = { fn: 0n, line: 0n };
          message(x, { 1: (w3, y) => { line.fn = y; }, 2: (w3, y) => { line.line = y; } });
          loc.lines.push(line);
        },
      });
      locations.set(loc.id, loc);
    },
    5: (w, v) => {
      const fn = { id: 0n, name: 0n, file: 0n };
      message(v, { 1: (w2, x) => { fn.id = x; }, 2: (w2, x) => { fn.name = x; }, 4: (w2, x) => { fn.file = x; } });
      functions.set(fn.id, fn);
    },
    6: (w, v) => strings.push(new TextDecoder().decode(v)),
  });
  const stacks = samples.map((s) => {
    const frames = [];
    for (const id of [...s.locs].reverse()) {
      const loc = locations.get(id);
      if (!loc) continue;
      for (const line of [...loc.lines].reverse()) {
        const fn = functions.get(line.fn);
        frames.push({ fn: fn ? strings[Number(fn.name)] : "?", file: fn ? strings[Number(fn.file)] || "" : "",
                      line: Number(line.line), leaf: !loc.address });
      }
      if (!loc.lines.length) frames.push({ fn: `0x${loc.address.toString(16)}`, file: "", line: 0, leaf: false });
    }
    return { frames, names: frames.map((f) => f.fn), count: Number(s.values[0] ?? 0n),
             delay: Number(s.values[s.values.length - 1] ?? 0n) };
  });
  return { stacks, strings };
}

function base(path) {
  const k = path.lastIndexOf("/");
  return k >= 0 ? path.slice(k + 1) : path;
}

// The label of a frame: "worker netreader.c:110", or the function alone.
function frameLabel(f, lines) {
  return lines && f.file ? `${f.fn} ${base(f.file)}:${f.line}` : f.fn;
}

// The tree of frames: with lines, one node per call site; inverted, the
// primitives at the root and their callers below.
export function tree(stacks, { lines = true, inverted = false } = {}) {
  const root = { name: "all", title: "all", value: 0, count: 0, children: new Map(), parent: null, leaf: false };
  for (const s of stacks) {
    let node = root;
    root.value += s.delay;
    root.count += s.count;
    for (const f of inverted ? [...s.frames].reverse() : s.frames) {
      const name = frameLabel(f, lines);
      if (!node.children.has(name))
        node.children.set(name, { name, title: f.file ? `${f.fn}\n${f.file}:${f.line}` : f.leaf ? `${f.fn} (the primitive or call)` : f.fn,
                                  value: 0, count: 0, children: new Map(), parent: node, leaf: f.leaf });
      node = node.children.get(name);
      node.value += s.delay;
      node.count += s.count;
    }
  }
  return root;
}

function colour(node) {
  if (node.leaf) return "hsl(210, 30%, 72%)";
  const h = [...node.name].reduce((a, ch) => (a * 31 + ch.charCodeAt(0)) % 360, 7);
  return `hsl(${20 + (h % 40)}, 85%, ${60 + (h % 15)}%)`;
}

// Draws the subtree of path's last node across the width, its ancestors
// (the rest of path) as full bars above it.
function draw(view) {
  const { box, crumbs, width, path, total } = view;
  box.replaceChildren();
  const focus = path[path.length - 1];
  let depthMax = 0;
  const bar = (node, x, w, depth, cls) => {
    const pctOf = total ? ` (${((100 * node.value) / total).toFixed(1)} %)` : "";
    const d = el("div", { title: `${node.title}\n${fmtDur(node.value)}${pctOf}, ${node.count} blocks`, class: cls });
    d.textContent = `${node.name} ${fmtDur(node.value)}`;
    d.style.left = `${x}px`;
    d.style.width = `${w}px`;
    d.style.top = `${depth * 18}px`;
    d.style.background = colour(node);
    d.dataset.name = node.name;
    box.append(d);
    return d;
  };
  path.slice(0, -1).forEach((node, i) => {
    const d = bar(node, 0, width, i, "ancestor");
    d.addEventListener("click", () => { view.path = path.slice(0, i + 1); draw(view); });
  });
  const place = (node, x, w, depth) => {
    if (w < 1) return;
    depthMax = Math.max(depthMax, depth);
    const d = bar(node, x, w, depth, node.leaf ? "leaf" : "");
    if (node !== focus)
      d.addEventListener("click", () => {
        const p = [];
        for (let n = node; n; n = n.parent) p.unshift(n);
        view.path = p;
        draw(view);
      });
    let cx = x;
    for (const child of [...node.children.values()].sort((a, b) => b.value - a.value)) {
      const cw = node.value ? (child.value / node.value) * w : 0;
      place(child, cx, cw, depth + 1);
      cx += cw;
    }
  };
  place(focus, 0, width, path.length - 1);
  box.style.height = `${(Math.max(depthMax, path.length - 1) + 1) * 18 + 4}px`;
  box.dataset.zoom = String(path.length - 1);
  crumbs.replaceChildren();
  if (path.length > 1) {
    path.forEach((node, i) => {
      if (i) crumbs.append(" › ");
      if (i === path.length - 1) crumbs.append(el("b", { text: node.name }));
      else crumbs.append(el("a", { text: i ? node.name : "whole profile", onclick: () => { view.path = path.slice(0, i + 1); draw(view); } }));
    });
    crumbs.append("  ", el("span", { class: "muted", text: "(Esc: the whole profile, Backspace: one level up)" }));
  }
}

export async function profilesPage(section) {
  const select = el("select");
  for (const [v, name] of [["sync", "sync (locks, condvars, semaphores, joins)"], ["net", "network"],
                           ["syscall", "blocking system calls"], ["sched", "scheduler latency"]])
    select.append(el("option", { value: v, text: name }));
  const lines = el("input", { type: "checkbox", checked: "" });
  const inverted = el("input", { type: "checkbox" });
  const link = el("a", { text: "download the pprof file" });
  const info = el("p", { class: "muted" });
  const crumbs = el("div", { class: "crumbs", id: "flame-crumbs" });
  const box = el("div", { class: "flame", id: "flame" });
  section.append(el("h2", { text: "Blocking profiles" }),
    el("div", {}, select, " ", el("label", {}, lines, " file:line"), " ",
      el("label", {}, inverted, " primitive first"), " ", link), info, crumbs, box,
    el("p", { class: "muted", text: "Widths are time blocked. Each stack ends in the primitive or call it waited in (blue-grey). A click on a frame zooms into it; the trail above leads back out. go tool pprof reads the file." }));
  let stacks = [];
  const view = { box, crumbs, path: [], total: 0, width: 900 };
  const redraw = () => {
    const root = tree(stacks, { lines: lines.checked, inverted: inverted.checked });
    view.path = [root];
    view.total = root.value;
    view.width = section.clientWidth - 30 || 900;
    info.textContent = `${stacks.length} stacks, ${root.count} blocks, ${fmtDur(root.value)} blocked`;
    box.dataset.total = String(root.value);
    draw(view);
  };
  const load = async () => {
    const url = `/api/pprof?type=${select.value}`;
    link.href = `${url}&wait=1`;
    let r = await fetch(url);
    while (r.status === 202) { // still being made: ask again
      await new Promise((ok) => setTimeout(ok, 400));
      r = await fetch(url);
    }
    if (!r.ok) throw new Error(`${url}: ${r.status}`);
    const stream = r.body.pipeThrough(new DecompressionStream("gzip"));
    const bytes = new Uint8Array(await new Response(stream).arrayBuffer());
    stacks = parseProfile(bytes).stacks;
    redraw();
  };
  window.addEventListener("keydown", (e) => {
    if (section.hidden || e.target.tagName === "INPUT" || view.path.length < 2) return;
    if (e.key === "Escape") view.path = view.path.slice(0, 1);
    else if (e.key === "Backspace") view.path = view.path.slice(0, -1);
    else return;
    e.preventDefault();
    draw(view);
  });
  select.addEventListener("change", load);
  lines.addEventListener("change", redraw);
  inverted.addEventListener("change", redraw);
  await load();
}

// flame.js - blocking profiles as flame graphs. The page reads the same
// gzipped pprof file it offers for download (/api/pprof), with the
// browser's DecompressionStream and a small protobuf decoder: one source
// for `go tool pprof` and the picture.
import { fmtNs, el } from "/app.js";

function reader(bytes) {
  let i = 0;
  const varint = () => {
    let v = 0n, shift = 0n, b;
    do {
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
      const loc = { id: 0n, lines: [] };
      message(v, {
        1: (w2, x) => { loc.id = x; },
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
  // Each sample's frames, root first, inlined frames expanded.
  const stacks = samples.map((s) => {
    const names = [];
    for (const id of [...s.locs].reverse()) {
      const loc = locations.get(id);
      if (!loc) continue;
      for (const line of [...loc.lines].reverse()) {
        const fn = functions.get(line.fn);
        names.push(fn ? strings[Number(fn.name)] : "?");
      }
      if (!loc.lines.length) names.push(`0x${id.toString(16)}`);
    }
    return { names, count: Number(s.values[0] ?? 0n), delay: Number(s.values[s.values.length - 1] ?? 0n) };
  });
  return { stacks, strings };
}

function tree(stacks) {
  const root = { name: "all", value: 0, count: 0, children: new Map() };
  for (const s of stacks) {
    let node = root;
    root.value += s.delay;
    root.count += s.count;
    for (const name of s.names) {
      if (!node.children.has(name)) node.children.set(name, { name, value: 0, count: 0, children: new Map() });
      node = node.children.get(name);
      node.value += s.delay;
      node.count += s.count;
    }
  }
  return root;
}

function draw(box, root, width) {
  box.replaceChildren();
  let depthMax = 0;
  const place = (node, x, w, depth) => {
    if (w < 1) return;
    depthMax = Math.max(depthMax, depth);
    const d = el("div", { title: `${node.name}\n${fmtNs(node.value)}, ${node.count} blocks` });
    d.textContent = `${node.name} ${fmtNs(node.value)}`;
    d.style.left = `${x}px`;
    d.style.width = `${w}px`;
    d.style.top = `${depth * 18}px`;
    const h = [...node.name].reduce((a, ch) => (a * 31 + ch.charCodeAt(0)) % 360, 7);
    d.style.background = `hsl(${20 + (h % 40)}, 85%, ${60 + (h % 15)}%)`;
    d.addEventListener("click", () => draw(box, node, width));
    box.append(d);
    let cx = x;
    for (const child of [...node.children.values()].sort((a, b) => b.value - a.value)) {
      const cw = node.value ? (child.value / node.value) * w : 0;
      place(child, cx, cw, depth + 1);
      cx += cw;
    }
  };
  place(root, 0, width, 0);
  box.style.height = `${(depthMax + 1) * 18 + 4}px`;
}

export async function profilesPage(section) {
  const select = el("select");
  for (const [v, name] of [["sync", "sync (locks, condvars, semaphores, joins)"], ["net", "network"],
                           ["syscall", "blocking system calls"], ["sched", "scheduler latency"]])
    select.append(el("option", { value: v, text: name }));
  const link = el("a", { text: "download the pprof file" });
  const info = el("p", { class: "muted" });
  const box = el("div", { class: "flame", id: "flame" });
  section.append(el("h2", { text: "Blocking profiles" }),
    el("div", {}, select, " ", link), info, box,
    el("p", { class: "muted", text: "Widths are time blocked; a click on a frame shows it alone. go tool pprof reads the file." }));
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
    const { stacks } = parseProfile(bytes);
    const root = tree(stacks);
    info.textContent = `${stacks.length} stacks, ${root.count} blocks, ${fmtNs(root.value)} blocked`;
    box.dataset.total = String(root.value);
    draw(box, root, section.clientWidth - 30 || 900);
  };
  select.addEventListener("change", load);
  await load();
}

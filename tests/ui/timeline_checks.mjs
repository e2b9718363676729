// timeline_checks.mjs - the browser checks of the timeline's details,
// navigation and readability, logs and counters, profiles and the
// utilization page (issue 18's Deliver 2, 4-7), run by view_test.mjs with
// its page, server and check(). Screenshots go to OUT-DIR as tl-*.png.
import { spawnSync } from "node:child_process";
import { join } from "node:path";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// In the page: the timeline's state, and a point of the canvas on screen.
async function view(page, fn, arg) {
  return page.evaluate(fn, arg);
}

async function showRange(page, a, b) {
  await page.evaluate(([a, b]) => window.ctraceView.show(a, b), [a, b]);
  await page.waitForFunction((a) => window.ctraceView?.data && window.ctraceView?.data.t0 === Math.floor(a), a,
    { timeout: 20000 });
}

// Where on the screen time t of thread tid's state lane is.
function lanePoint(page, tid, t, dy = 0.5) {
  return page.evaluate(([tid, t, dy]) => {
    const v = window.ctraceView, row = v.laneOf(tid), box = v.canvas.getBoundingClientRect();
    return row ? [box.left + v.xOf(t), box.top + v.yOf(row) + row.h * dy] : null;
  }, [tid, t, dy]);
}

async function clickDetails(page, point, state) {
  await page.evaluate(() => { document.querySelector("#details").dataset.state = ""; });
  await page.mouse.click(point[0], point[1]);
  await page.waitForFunction((s) => document.querySelector("#details").dataset.state === s, state, { timeout: 15000 })
    .catch(() => {});
  return page.textContent("#details");
}

function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(0)} KiB`;
  if (n < 1 << 30) return `${(n / 1048576).toFixed(1)} MiB`;
  return `${(n / 1073741824).toFixed(2)} GiB`;
}

export async function timelineChecks({ page, serve, check, ctrace, progs, tmp, outDir, basicsTrace, uiTrace }) {
  const shot = (name) => page.screenshot({ path: join(outDir, `tl-${name}.png`) });
  const api = async (server, path) => (await fetch(server.url + path)).json();

  // ---- details of a network read, of the mutex block after it, of a run ----
  const net = join(tmp, "net.out");
  let r = spawnSync(ctrace, ["run", "-o", net, "--", join(progs, "netreader")]);
  check("record the loopback socket reader", r.status === 0, r.stderr);
  let server = await serve(net);
  try {
    await page.goto(server.url);
    await page.waitForSelector("body[data-ready='1']", { timeout: 20000 });
    const summary = await api(server, "api/summary");
    const reader = summary.threads.find((t) => t.name === "server");
    check("lanes: the reader's lane names its start function", await view(page, (tid) =>
      window.ctraceView.laneOf(tid)?.fn === "server", reader.tid), JSON.stringify(reader));
    check("CPUs in order", JSON.stringify(summary.cpus) === JSON.stringify([...summary.cpus].sort((a, b) => a - b)) &&
      await view(page, () => { const c = window.ctraceView.rows.filter((r) => r.kind === "cpu").map((r) => r.cpu);
        return c.every((x, i) => !i || c[i - 1] < x); }), JSON.stringify(summary.cpus));
    const all = await api(server, `api/timeline?t0=${summary.begin}&t1=${summary.end + 1}&px=20000`);
    const spans = all.threads.find((l) => l.tid === reader.tid).spans.filter((s) => s[3] >= 0);
    const states = summary.states;
    // A network wait of the reader followed (after a few short spans) by a
    // mutex block: the second round's, so that a mutex block came before.
    let k = spans.findIndex((s, i) => i > 10 && states[s[2]] === "network" && s[1] - s[0] > 300e3 &&
      spans.slice(i + 1, i + 6).some((x) => states[x[2]] === "blocked"));
    check("the reader waits on its socket, then blocks on the mutex", k > 0, JSON.stringify(spans.slice(0, 20)));
    if (k > 0) {
      const read = spans[k], block = spans.slice(k + 1).find((x) => states[x[2]] === "blocked");
      await showRange(page, read[0] - 200e3, block[1] + 200e3);
      await page.mouse.move(...(await lanePoint(page, reader.tid, (read[0] + read[1]) / 2)));
      const hover = await page.textContent("#hover");
      check("hover on a read: the call and its descriptor", /network [\d.]+ (ms|µs) in read fd \d+, socket/.test(hover), hover);
      let d = await clickDetails(page, await lanePoint(page, reader.tid, (read[0] + read[1]) / 2), "network");
      check("details of a read: network (read)", d.includes("network (read)"), d);
      check("details of a read: the call and its descriptor", /inside the call read fd \d+, socket/.test(d), d);
      check("details of a read: no mutex, no waker (the next block's)", !d.includes("mutex") && !d.includes("woken by"), d);
      const selected = await view(page, () => window.ctraceView.sel);
      check("the read is selected", selected?.kind === "span" && selected.tid === reader.tid &&
        selected.b === read[0] && selected.e === read[1], JSON.stringify([selected, read]));
      // The outline: black just above the lane, over the selected span.
      const outline = await view(page, ([tid, t]) => {
        const v = window.ctraceView, row = v.laneOf(tid);
        return v.pixelAt(v.xOf(t), v.yOf(row) - 1);
      }, [reader.tid, (read[0] + read[1]) / 2]);
      check("the selection is outlined", outline.every((c) => c < 60), JSON.stringify(outline));
      const docked = await page.evaluate(() => {
        const b = document.querySelector("#details").getBoundingClientRect();
        return b.top >= 0 && b.top < window.innerHeight - 40;
      });
      check("the details are docked in view", docked);
      await shot("read");
      d = await clickDetails(page, await lanePoint(page, reader.tid, (block[0] + block[1]) / 2), "blocked");
      check("details of the block after it: blocked (mutex)", d.includes("blocked (mutex)") && /inside the block mutex 0x[0-9a-f]+/.test(d), d);
      check("details of the block: woken by the client", d.includes(`woken by thread client`), d);
      await shot("block");
      const run = spans.find((s, i) => i > 4 && states[s[2]] === "running" && s[5] === 0 && s[1] - s[0] > 20e3);
      if (run) {
        await showRange(page, run[0] - (run[1] - run[0]), run[1] + (run[1] - run[0]));
        d = await clickDetails(page, await lanePoint(page, reader.tid, (run[0] + run[1]) / 2), "running");
        check("details of a run outside a call: no reason, no waker", d.startsWith("running on thread") && !d.includes("woken by"), d);
      }
      // A short span's time in microseconds or finer.
      const short = spans.find((s, i) => i > 4 && s[1] - s[0] < 60e3 && s[1] - s[0] > 2e3);
      if (short) {
        await showRange(page, short[0] - 100e3, short[1] + 100e3);
        d = await clickDetails(page, await lanePoint(page, reader.tid, (short[0] + short[1]) / 2), states[short[2]]);
        // (A span that begins within the trace's first millisecond is
        // given in microseconds.)
        const at = d.match(/at (\d+)\.(\d+) ms/), finer = /at \d+(\.\d+)? (µs|ns)/.test(d);
        check("a short span's time to the microsecond", (at && at[2].length >= 3) || finer, d);
      }
      const base = summary.begin, a = read[0];
      await showRange(page, a, a + 220e3);
      const range = await page.textContent("#range");
      const m = range.match(/^(\d+\.\d{3,}) ms – (\d+\.\d{3,}) ms \(220\.0 µs visible\)$/);
      check("the range label is exact", m && Math.abs(Number(m[1]) - (a - base) / 1e6) < 1e-3 &&
        Math.abs(Number(m[2]) - Number(m[1]) - 0.22) < 1e-3, range);
    }

    // Wake arrows: a pixel on an arrow between two lanes, with and without.
    await showRange(page, summary.begin, summary.end);
    const arrow = await view(page, () => {
      const v = window.ctraceView;
      for (const w of v.data.wakes) {
        const a = v.laneOf(w[1]), b = v.laneOf(w[3]);
        if (!a || !b || a === b) continue;
        const x0 = v.xOf(w[0]), x1 = v.xOf(w[2]), y0 = v.yOf(a) + a.h / 2, y1 = v.yOf(b) + b.h / 2;
        // a point of the line in the gap below the upper lane
        const [top, bottom] = y0 < y1 ? [a, b] : [b, a];
        const y = v.yOf(top) + top.total + 2;
        if (y >= v.yOf(bottom)) continue;
        const x = x0 + ((x1 - x0) * (y - y0)) / (y1 - y0);
        return [x, y];
      }
      return null;
    });
    check("a wake-up arrow between lanes", arrow !== null);
    if (arrow) {
      const px = async () => view(page, ([x, y]) => {
        const v = window.ctraceView;
        let marked = 0; // pixels of the gap that are not white
        for (let dx = -2; dx <= 2; dx++)
          for (let dy = -1; dy <= 1; dy++) if (Math.min(...v.pixelAt(x + dx, y + dy)) < 200) marked++;
        return marked;
      }, arrow);
      const on = await px();
      await page.keyboard.press("e");
      await sleep(200);
      const off = await px();
      check("E hides the wake-up arrows", on > 0 && off === 0 && await view(page, () => !window.ctraceView.arrows), `${on} ${off}`);
      await page.keyboard.press("e");
    }

    // Grouping, collapsing, hiding; the URL keeps them.
    await page.selectOption("#group-by", "function");
    const groups = await view(page, () => window.ctraceView.rows.filter((r) => r.kind === "group").map((r) => r.label));
    check("group by start function: a header per function", groups.some((g) => g.includes("server")) &&
      groups.some((g) => g.includes("client")), JSON.stringify(groups));
    const header = await view(page, () => {
      const v = window.ctraceView, row = v.rows.find((r) => r.kind === "group" && r.label.includes("client"));
      const box = v.canvas.getBoundingClientRect();
      return [box.left + 40, box.top + v.yOf(row) + row.h / 2];
    });
    await page.mouse.click(header[0], header[1]);
    await sleep(200);
    const client = summary.threads.find((t) => t.name === "client");
    check("a click on a group's header collapses it", await view(page, (tid) => !window.ctraceView.laneOf(tid), client.tid));
    await page.mouse.click(header[0], header[1]);
    await sleep(200);
    check("and expands it again", await view(page, (tid) => !!window.ctraceView.laneOf(tid), client.tid));
    const cross = await view(page, (tid) => {
      const v = window.ctraceView, row = v.laneOf(tid), box = v.canvas.getBoundingClientRect();
      return [box.left + 250 - 12, box.top + v.yOf(row) + row.h / 2];
    }, client.tid);
    await page.mouse.move(cross[0], cross[1]);
    await page.mouse.click(cross[0], cross[1]);
    await sleep(300);
    check("the ✕ in a lane's gutter hides it", await view(page, (tid) => !window.ctraceView.laneOf(tid), client.tid) &&
      await page.isVisible("#unhide"));
    await sleep(300);
    const hash = await page.evaluate(() => location.hash);
    check("the URL keeps the grouping and the hidden lanes", hash.includes("g=function") && hash.includes(`hide=${client.tid}`), hash);
    await shot("grouped");
    await page.keyboard.press("u");
    check("U shows the hidden lanes again", await view(page, (tid) => !!window.ctraceView.laneOf(tid), client.tid));
    await page.selectOption("#group-by", "");

    // The ? overlay lists every key; Esc closes it.
    await page.mouse.move(700, 300);
    await page.keyboard.press("?");
    const keys = (await page.isVisible("#keys")) ? await page.textContent("#keys") : "";
    check("? lists every key", ["W / S", "A / D", "Ctrl or ⌘ + wheel", "Shift + wheel", "F", "/", "E", "G", "H / U", "Esc", "?"]
      .every((k) => keys.includes(k)), keys);
    await shot("keys");
    await page.keyboard.press("Escape");
    check("Esc closes it", !(await page.isVisible("#keys")));

    // Only some lanes (a task's threads), from the URL; a link shows all.
    await page.goto(server.url + `#timeline?focus=${reader.tid}&fl=the%20reader`);
    await page.waitForFunction(() => !document.querySelector("#focus-banner").hidden, null, { timeout: 30000 }).catch(() => {});
    const lanes = await view(page, () => window.ctraceView.rows.filter((r) => r.kind === "thread").map((r) => r.tid));
    const banner = await page.textContent("#focus-banner");
    check("focus: only the lanes the URL names", lanes.length === 1 && lanes[0] === reader.tid && banner.includes("the reader"),
      JSON.stringify([lanes, banner]));
    await page.click("#focus-banner a");
    check("focus: a link shows every lane again", await view(page, () => window.ctraceView.rows.filter((r) => r.kind === "thread").length) === 3);

    // Colours: nothing else takes a state's colour.
    const close = await view(page, async () => {
      const m = await import("/palette.js");
      const c = document.createElement("canvas").getContext("2d");
      const rgb = (s) => { c.fillStyle = "#000"; c.fillStyle = s; const h = c.fillStyle; return [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16)); };
      const states = Object.values(m.COLORS).map(rgb);
      const others = [...m.REGION_COLORS, m.LOG_COLOR, m.COUNTER_COLOR];
      for (let tid = 1; tid < 400; tid += 7) others.push(m.threadColor(tid));
      const bad = [];
      for (const o of others) {
        const x = rgb(o);
        for (const s of states) {
          const d = Math.hypot(x[0] - s[0], x[1] - s[1], x[2] - s[2]);
          if (d < 60) bad.push([o, s, Math.round(d)]);
        }
      }
      return bad;
    });
    check("no mark takes a state's colour", close.length === 0, JSON.stringify(close.slice(0, 5)));
    const legend = await page.textContent("#legend");
    check("the legend names every state and mark", ["running", "network", "blocked", "syscall", "runnable", "sleeping",
      "off-cpu", "region or task", "short regions", "CPU run", "counter", "log", "wake-up arrow", "selected"]
      .every((x) => legend.includes(x)), legend);
  } finally {
    server.proc.kill("SIGTERM");
  }

  // ---- many lanes: the ruler stays, the wheel scrolls, Ctrl+wheel zooms,
  // the details stay in view, a reload keeps the view and the selection ----
  const crowd = join(tmp, "crowd.out");
  r = spawnSync(ctrace, ["run", "-o", crowd, "--", join(progs, "crowd"), "120"]);
  check("record 120 threads", r.status === 0, r.stderr);
  server = await serve(crowd);
  try {
    await page.goto(server.url);
    await page.waitForSelector("body[data-ready='1']", { timeout: 20000 });
    const before = await view(page, () => {
      const v = window.ctraceView;
      return { top: v.canvas.getBoundingClientRect().top, scroll: v.wrap.scrollTop, t0: v.t0, t1: v.t1, height: v.height, view: v.viewHeight };
    });
    check("120 lanes are taller than the window", before.height > before.view * 2, JSON.stringify(before));
    await page.mouse.move(700, 400);
    await page.mouse.wheel(0, 600);
    await sleep(400);
    const scrolled = await view(page, () => {
      const v = window.ctraceView;
      return { top: v.canvas.getBoundingClientRect().top, scroll: v.wrap.scrollTop, t0: v.t0, t1: v.t1 };
    });
    check("the wheel scrolls the lanes, not the time", scrolled.scroll > before.scroll + 100 &&
      scrolled.t0 === before.t0 && scrolled.t1 === before.t1, JSON.stringify([before, scrolled]));
    check("the ruler stays (the canvas is sticky)", Math.abs(scrolled.top - before.top) < 1, JSON.stringify([before, scrolled]));
    const ruler = await view(page, () => window.ctraceView.pixelAt(600, 3));
    check("the ruler is drawn over the scrolled lanes", ruler.every((c) => c > 240), JSON.stringify(ruler));
    await page.keyboard.down("Control");
    await page.mouse.wheel(0, -300);
    await page.keyboard.up("Control");
    await sleep(400);
    const zoomed = await view(page, () => ({ scroll: window.ctraceView.wrap.scrollTop, span: window.ctraceView.t1 - window.ctraceView.t0 }));
    check("Ctrl+wheel zooms in at the pointer", zoomed.span < (before.t1 - before.t0) * 0.8 && zoomed.scroll === scrolled.scroll,
      JSON.stringify(zoomed));
    await page.waitForFunction(() => window.ctraceView?.data && window.ctraceView?.data.t1 === Math.ceil(window.ctraceView.t1));
    // A span of the last lane, scrolled to the bottom.
    // The last lane with a span in view, far below the first screen.
    const last = await view(page, (first) => {
      const v = window.ctraceView, rows = v.rows.filter((r) => r.kind === "thread");
      for (let i = rows.length - 1; i >= 0 && rows[i].y > first; i--) {
        const row = rows[i], lane = v.data.threads.find((l) => l.tid === row.tid);
        const s = lane.spans.filter((x) => x[3] >= 0 && x[1] > v.t0 && x[0] < v.t1).sort((a, b) => (b[1] - b[0]) - (a[1] - a[0]))[0];
        if (!s) continue;
        v.wrap.scrollTop = row.y - v.viewHeight + 60;
        const box = v.canvas.getBoundingClientRect();
        const t = (Math.max(s[0], v.t0) + Math.min(s[1], v.t1)) / 2;
        return { tid: row.tid, x: box.left + v.xOf(t), y: box.top + v.yOf(row) + row.h / 2, state: v.states[s[2]] };
      }
      return null;
    }, before.view * 1.5);
    await sleep(300);
    check("a lane far down has a span in view", last !== null);
    if (last) {
      const d = await clickDetails(page, [last.x, last.y], last.state);
      const box = await page.evaluate(() => { const b = document.querySelector("#details").getBoundingClientRect(); return [b.top, b.bottom]; });
      check("details of the last of 120 lanes, in view", d.includes(`${last.tid}`) && box[0] > 0 && box[0] < 860, JSON.stringify(box));
      await shot("crowd");
      await sleep(400); // the URL is written after 150 ms
      const hash = await page.evaluate(() => location.hash);
      const kept = await view(page, () => [window.ctraceView.t0, window.ctraceView.t1, window.ctraceView.sel?.key]);
      check("the URL holds the range and the selection", hash.includes("t0=") && hash.includes("sel=span"), hash);
      await page.reload();
      await page.waitForSelector("body[data-ready='1']", { timeout: 20000 });
      await page.waitForFunction(() => window.ctraceView?.sel?.key, null, { timeout: 15000 }).catch(() => {});
      const after = await view(page, () => [window.ctraceView.t0, window.ctraceView.t1, window.ctraceView.sel?.key]);
      const text = await page.textContent("#details");
      check("a reload keeps the range", Math.abs(after[0] - kept[0]) <= 1 && Math.abs(after[1] - kept[1]) <= 1, JSON.stringify([kept, after]));
      check("a reload keeps the selection and its details", after[2] === kept[2] && text.includes(`${last.tid}`), JSON.stringify([kept[2], after[2], text.slice(0, 100)]));
      await shot("reloaded");
    }
  } finally {
    server.proc.kill("SIGTERM");
  }

  // ---- logs and counters on the timeline; search ----
  server = await serve(basicsTrace);
  try {
    const summary = await api(server, "api/summary");
    await page.goto(server.url);
    await page.waitForSelector("body[data-ready='1']", { timeout: 20000 });
    const logs = await api(server, "api/logs?q=OrderID:%201042");
    const log = logs.logs[0];
    check("the log to look at", !!log, JSON.stringify(logs));
    if (log) {
      await showRange(page, log.t - 50e3, log.t + 50e3);
      const mark = await lanePoint(page, log.tid, log.t, 0);
      await page.mouse.move(mark[0], mark[1] + 2);
      await sleep(200);
      const hover = await page.textContent("#hover");
      check("hover on a log: its category and message", hover.includes("order: OrderID: 1042"), hover);
      const d = await clickDetails(page, [mark[0], mark[1] + 2], "log");
      check("a click on a log: its category and message", d.includes("order: OrderID: 1042"), d);
      await shot("log");
      // The heap counter at the cursor.
      const t = log.t + 10e3;
      const data = await api(server, `api/timeline?t0=${Math.floor(log.t - 50e3)}&t1=${Math.ceil(log.t + 50e3)}&px=1000`);
      const heap = data.counters.find((c) => c.name === "heap_in_use");
      const before = heap?.points.filter((p) => p[0] <= t).pop();
      const at = await view(page, (t) => {
        const v = window.ctraceView, row = v.rows.find((r) => r.kind === "counter" && r.name === "heap_in_use");
        const box = v.canvas.getBoundingClientRect();
        return [box.left + v.xOf(t), box.top + v.yOf(row) + row.h / 2];
      }, t);
      await page.mouse.move(at[0], at[1]);
      await sleep(200);
      const value = await page.textContent("#hover");
      if (before)
        check("a counter's value at the cursor", value.startsWith(`heap_in_use ${fmtBytes(before[3])}`), [value, before]);
      else
        check("no counter value before its first sample", value === "" || !value.includes("heap_in_use"), value);
    }
    // Search: a log, then regions, then a thread.
    await page.click("#tl-search");
    await page.keyboard.type("OrderID: 1042");
    await page.waitForFunction(() => document.querySelectorAll("#search-results div").length > 0, null, { timeout: 15000 }).catch(() => {});
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => document.querySelector("#details").dataset.state === "log", null, { timeout: 15000 }).catch(() => {});
    const found = await page.textContent("#details");
    check("search finds a log and opens it", found.includes("OrderID: 1042"), found);
    await page.fill("#tl-search", "");
    await page.keyboard.type("businessLogic");
    await page.waitForFunction(() => { const d = document.querySelectorAll("#search-results div");
      return d.length > 3 && d[0].textContent.includes("businessLogic"); }, null, { timeout: 15000 }).catch(() => {});
    const listed = await page.$$eval("#search-results div", (d) => d.map((x) => x.textContent));
    check("search lists the regions of a type", listed.filter((x) => x.startsWith("region") && x.includes("businessLogic")).length >= 3, listed.slice(0, 4));
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => window.ctraceView?.sel?.kind === "region", null, { timeout: 15000 }).catch(() => {});
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => window.ctraceView?.sel?.kind === "region" && document.querySelector("#search-results .current")?.textContent.includes("businessLogic"),
      null, { timeout: 15000 }).catch(() => {});
    const sel = await view(page, () => window.ctraceView.sel);
    check("Enter opens the next region, selected", sel?.kind === "region" && (await page.textContent("#details")).includes("region businessLogic"), JSON.stringify(sel));
    await shot("search");
    await page.fill("#tl-search", "");
    await page.keyboard.type(String(summary.threads[2].tid));
    await page.waitForFunction(() => document.querySelector("#search-results div")?.textContent.startsWith("thread"), null, { timeout: 15000 }).catch(() => {});
    const first = await page.$$eval("#search-results div", (d) => d.length ? d[0].textContent : "");
    check("search finds a thread by its id", first.startsWith("thread") && first.includes(String(summary.threads[2].tid)), first);
    await page.fill("#tl-search", "");
    await page.keyboard.press("Escape");
  } finally {
    server.proc.kill("SIGTERM");
  }

  // ---- profiles: file:line, the primitive, a way back out; utilization ----
  server = await serve(uiTrace);
  try {
    await page.goto(server.url + "#profiles");
    await page.waitForFunction(() => document.querySelector("#flame")?.dataset.total, null, { timeout: 20000 });
    const frames = await page.$$eval("#flame div", (d) => d.map((x) => x.dataset.name));
    check("profile frames keep file:line", frames.some((f) => /^wait_for_lock uiprog\.c:\d+$/.test(f)), frames.join("|"));
    check("profile stacks end in the primitive", frames.includes("pthread_mutex_lock") && frames.includes("pthread_join"), frames.join("|"));
    await page.click("#flame div[data-name^='wait_for_lock']");
    await sleep(200);
    const zoom = Number(await page.getAttribute("#flame", "data-zoom"));
    const crumbs = await page.textContent("#flame-crumbs");
    check("a click zooms into a frame, with a trail back", zoom >= 2 && crumbs.includes("whole profile"), [zoom, crumbs]);
    await page.screenshot({ path: join(outDir, "tl-flame-zoomed.png") });
    await page.click("#flame-crumbs a");
    check("the trail leads back out", Number(await page.getAttribute("#flame", "data-zoom")) === 0);
    await page.click("#flame div[data-name^='wait_for_lock']");
    await page.keyboard.press("Escape");
    check("Esc leads back out", Number(await page.getAttribute("#flame", "data-zoom")) === 0);

    // Utilization: the whole-trace share agrees with the thread analysis;
    // while the spinner waits for the holder's 100 ms sleep, no thread runs.
    const threads = await api(server, "api/threads");
    const summary = await api(server, "api/summary");
    const exec = threads.reduce((a, t) => a + t.execution_ns, 0), sched = threads.reduce((a, t) => a + t.sched_wait_ns, 0);
    const machine = await api(server, "api/utilization?mode=machine&px=100");
    const demand = await api(server, "api/utilization?mode=demand&px=100");
    const whole = machine.mmu[machine.mmu.length - 1], dwhole = demand.mmu[demand.mmu.length - 1];
    const expect = exec / ((summary.end - summary.begin) * machine.ncpu);
    check("utilization of the whole trace: execution over the CPUs' time", Math.abs(whole[1] - expect) < 0.01,
      JSON.stringify([whole, expect, machine.ncpu]));
    check("of what the threads asked for: execution over execution and waits for a CPU",
      Math.abs(dwhole[1] - exec / (exec + sched)) < 0.01, JSON.stringify([dwhole, exec, sched]));
    const w50 = machine.mmu.filter((p) => p[0] >= 10e6 && p[0] <= 50e6);
    check("no thread ran for 50 ms while the spinner waited: minimum 0", w50.length > 0 && w50.every((p) => p[1] < 0.01),
      JSON.stringify(w50));
    check("the curve spans one bin to the whole trace", machine.mmu[0][0] === machine.bin_ns &&
      whole[0] >= summary.end - summary.begin - machine.bin_ns, JSON.stringify([machine.mmu[0], whole]));
    await page.goto(server.url + "#utilization");
    await page.waitForSelector("#mmu-curve[data-points]", { timeout: 30000 });
    const box = await page.locator("#mmu-curve").boundingBox();
    await page.mouse.click(box.x + box.width * 0.7, box.y + box.height / 2);
    await page.waitForSelector("#mmu-worst li a", { timeout: 30000 }).catch(() => {});
    const worst = await page.$$eval("#mmu-worst li a", (a) => a.map((x) => x.getAttribute("href")));
    check("a width chosen on the curve lists its worst windows", worst.length >= 1 && worst[0].startsWith("#timeline?t0="), JSON.stringify(worst));
    await page.screenshot({ path: join(outDir, "tl-utilization.png") });
    if (worst.length) {
      await page.click("#mmu-worst li a");
      await page.waitForFunction(() => !document.querySelector("#page-timeline").hidden && window.ctraceView?.data, null, { timeout: 15000 });
      const t0 = await view(page, () => window.ctraceView.t0);
      check("a worst window opens on the timeline", Math.abs(t0 - Number(new URLSearchParams(worst[0].split("?")[1]).get("t0"))) <= 1, t0);
    }
    const bad = async (path) => (await fetch(server.url + path)).status;
    check("utilization: a bad mode is 400", await bad("api/utilization?mode=x") === 400);
    check("search: no q is 400", await bad("api/search") === 400);
    check("logs_at: no range is 400", await bad("api/logs_at?tid=1") === 400);
  } finally {
    server.proc.kill("SIGTERM");
  }
}

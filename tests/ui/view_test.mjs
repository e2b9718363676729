// view_test.mjs CTRACE PROGS-DIR BASICS OUT-DIR - ctrace view in Debian's
// headless Chromium (playwright-core, no browser download): a known trace
// loads, each thread has a lane, the pixel of a known running interval is
// green, W narrows the range, a click on a known blocked slice shows its
// reason and stack, the tasks page shows the known counts and draws the
// histogram; the other pages load; bad requests are refused. Screenshots
// go to OUT-DIR. Prints one line per check and a closing count.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { timelineChecks } from "./timeline_checks.mjs";

const [ctrace, progs, basics, outDir, genTrace] = process.argv.slice(2);
let passed = 0, failed = 0;
function check(name, ok, detail = "") {
  if (ok) passed++;
  else { failed++; console.log(`FAIL: ${name} ${detail}`); }
}

function serve(trace) {
  return new Promise((resolve, reject) => {
    const p = spawn(ctrace, ["view", "--no-browser", trace], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    p.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/http:\/\/[0-9.]+:\d+\//);
      if (m) resolve({ url: m[0], proc: p });
    });
    p.on("exit", (code) => reject(new Error(`ctrace view exited ${code}: ${out}`)));
  });
}

// JSON of a list, once the server has indexed the lists (202 until then).
async function listJSON(url) {
  for (let i = 0; i < 600; i++) {
    const r = await fetch(url);
    if (r.status !== 202) return r.json();
    await new Promise((ok) => setTimeout(ok, 200));
  }
  throw new Error(`${url}: still indexing`);
}

const tmp = mkdtempSync(join(tmpdir(), "ctrace-ui-"));
mkdirSync(outDir, { recursive: true });
const known = join(tmp, "ui.out"), tasksTrace = join(tmp, "basics.out");
let r = spawnSync(ctrace, ["run", "-o", known, "--", join(progs, "uiprog")]);
check("record the known trace", r.status === 0, r.stderr);
r = spawnSync(basics, ["-o", tasksTrace]);
check("record the tasks trace", r.status === 0, r.stderr);

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
const errors = [];
page.on("pageerror", (e) => errors.push(e.message));

let server = await serve(known);
try {
  await page.goto(server.url);
  await page.waitForSelector("body[data-ready='1']", { timeout: 20000 });
  const threads = await (await fetch(server.url + "api/threads")).json();
  const summary = await (await fetch(server.url + "api/summary")).json();
  const lanes = await page.evaluate(() => window.ctraceView.rows.filter((r) => r.kind === "thread").map((r) => r.label));
  check("each thread has a lane", lanes.length === 3 && summary.threads.length === 3, JSON.stringify(lanes));
  check("lanes named holder and spinner", lanes.some((l) => l.startsWith("holder")) && lanes.some((l) => l.startsWith("spinner")), JSON.stringify(lanes));
  check("a CPU lane per CPU seen", summary.cpus.length >= 1, JSON.stringify(summary.cpus));
  await page.screenshot({ path: join(outDir, "timeline.png") });

  // The spinner runs from its first 200 ms after the holder took the lock;
  // then blocks on the mutex for about 100 ms.
  const spinner = threads.find((t) => t.name === "spinner");
  if (!spinner) throw new Error(`no thread named spinner: ${JSON.stringify(threads.map((t) => t.name))}`);
  const blockLine = spawnSync(ctrace, ["dump", known]).stdout.toString().split("\n")
    .find((l) => l.includes(` ${spinner.tid} block reason=mutex`));
  if (!blockLine) throw new Error(`the spinner ${spinner.tid} never blocked on the mutex`);
  const blockAt = Number(blockLine.split(" ")[0]);
  const begin = summary.begin;
  // The longest running span of the spinner before it blocked (the kernel
  // says when it ran: on a loaded machine it is preempted now and then).
  const fine = await (await fetch(server.url + `api/timeline?t0=${blockAt - 210e6}&t1=${blockAt}&px=4000`)).json();
  const runs = fine.threads.find((l) => l.tid === spinner.tid).spans.filter((x) => x[2] === 0 && x[3] >= 0);
  const run = runs.sort((x, y) => (y[1] - y[0]) - (x[1] - x[0]))[0];
  check("the spinner ran before it blocked", run && run[1] - run[0] > 1e6, JSON.stringify(run));
  const [ra, rb] = run ? [run[0], run[1]] : [blockAt - 150e6, blockAt - 50e6];
  await page.evaluate(([a, b]) => window.ctraceView.show(a, b), [ra - (rb - ra) * 0.1, rb + (rb - ra) * 0.1]);
  await page.waitForFunction(([a]) => window.ctraceView?.data && window.ctraceView?.data.t0 === Math.floor(a), [ra - (rb - ra) * 0.1]);
  const pixels = await page.evaluate(([tid, a, b]) => {
    const v = window.ctraceView, lane = v.laneOf(tid), out = [];
    for (let k = 0; k <= 10; k++)
      out.push(v.pixelAt(v.xOf(a + (b - a) * (0.05 + 0.09 * k)), lane.y + lane.h / 2));
    return out;
  }, [spinner.tid, ra, rb]);
  const isGreen = (p) => p[1] > 130 && p[1] > p[0] + 40 && p[1] > p[2] + 40;
  check("the pixels of a known running interval are green", pixels.every(isGreen), JSON.stringify(pixels));
  await page.screenshot({ path: join(outDir, "running.png") });

  // The same interval on its CPU's lane: the run names the spinner, on
  // hover and on a click.
  const cpuPoint = await page.evaluate(([tid, a, b]) => {
    const v = window.ctraceView, t = (a + b) / 2, box = v.canvas.getBoundingClientRect();
    for (const cpu of v.data.cpus)
      if (cpu.runs.some((r) => r[2] === tid && r[0] <= t && t <= r[1])) {
        const row = v.rows.find((r) => r.kind === "cpu" && r.cpu === cpu.cpu);
        return [box.left + v.xOf(t), box.top + row.y + row.h / 2, cpu.cpu];
      }
    return null;
  }, [spinner.tid, ra, rb]);
  check("the spinner's run is on a CPU lane", cpuPoint !== null);
  if (cpuPoint) {
    await page.mouse.move(cpuPoint[0], cpuPoint[1]);
    const hover = await page.textContent("#hover");
    check("hover on a CPU run names its thread and CPU",
      hover.includes(`spinner ${spinner.tid} on CPU ${cpuPoint[2]}`), hover);
    await page.mouse.click(cpuPoint[0], cpuPoint[1]);
    await page.waitForFunction(() => document.querySelector("#details").dataset.state === "cpu", null, { timeout: 10000 });
    const cpuDetails = await page.textContent("#details");
    check("details of a CPU run: its thread, its lane", cpuDetails.includes(`spinner ${spinner.tid} on CPU`) &&
      cpuDetails.includes("its lane"), cpuDetails);
    await page.screenshot({ path: join(outDir, "cpu-run.png") });
  }

  const before = await page.evaluate(() => window.ctraceView.t1 - window.ctraceView.t0);
  await page.mouse.move(700, 300);
  await page.keyboard.press("w");
  const after = await page.evaluate(() => window.ctraceView.t1 - window.ctraceView.t0);
  check("W narrows the visible range", after < before * 0.9, `${before} -> ${after}`);
  await page.keyboard.press("s");
  await page.keyboard.press("s");
  const wider = await page.evaluate(() => window.ctraceView.t1 - window.ctraceView.t0);
  check("S widens it", wider > after, `${after} -> ${wider}`);
  const panFrom = await page.evaluate(() => window.ctraceView.t0);
  await page.keyboard.press("d");
  check("D pans later", await page.evaluate((t) => window.ctraceView.t0 > t, panFrom));

  // Click the blocked slice: its reason and its stack.
  await page.evaluate(([a, b]) => window.ctraceView.show(a, b), [blockAt - 20e6, blockAt + 120e6]);
  await page.waitForFunction(([a]) => window.ctraceView?.data && window.ctraceView?.data.t0 === Math.floor(a), [blockAt - 20e6]);
  const point = await page.evaluate(([tid, t]) => {
    const v = window.ctraceView, lane = v.laneOf(tid), box = v.canvas.getBoundingClientRect();
    return [box.left + v.xOf(t), box.top + lane.y + lane.h / 2];
  }, [spinner.tid, blockAt + 50e6]);
  const grey = await page.evaluate(([tid, t]) => {
    const v = window.ctraceView, lane = v.laneOf(tid);
    return v.pixelAt(v.xOf(t), lane.y + lane.h / 2);
  }, [spinner.tid, blockAt + 50e6]);
  check("the blocked slice is grey", Math.abs(grey[0] - grey[1]) < 12 && grey[0] > 100 && grey[0] < 170, JSON.stringify(grey));
  await page.mouse.click(point[0], point[1]);
  await page.waitForSelector("#details:not([hidden]) h3", { timeout: 10000 });
  await page.waitForFunction(() => document.querySelector("#details").dataset.state === "blocked", null, { timeout: 10000 });
  const details = await page.textContent("#details");
  check("details: blocked on a mutex", details.includes("blocked (mutex)"), details);
  check("details: the stack names wait_for_lock", details.includes("wait_for_lock"), details);
  check("details: who woke it", details.includes("woken by thread"), details);
  await page.screenshot({ path: join(outDir, "details.png") });

  // Tools 1-4.
  await page.keyboard.press("3");
  check("3 chooses the zoom tool", await page.evaluate(() => window.ctraceView.tool === "zoom"));
  await page.keyboard.press("1");

  // The other pages.
  await page.goto(server.url + "#threads");
  await page.waitForSelector("#page-threads table tbody tr");
  const rows = await page.$$eval("#page-threads table:first-of-type tbody tr", (t) => t.length);
  check("threads page: a row per thread", rows === 3, rows);
  await page.screenshot({ path: join(outDir, "threads.png") });
  await page.goto(server.url + "#profiles");
  await page.waitForFunction(() => document.querySelector("#flame")?.dataset.total, null, { timeout: 15000 });
  const total = Number(await page.getAttribute("#flame", "data-total"));
  const frames = await page.$$eval("#flame div", (d) => d.map((x) => x.textContent).join("|"));
  check("profiles page: the sync flame graph holds the 100 ms block", total > 80e6, total);
  check("profiles page: wait_for_lock in the flame graph", frames.includes("wait_for_lock"), frames.slice(0, 300));
  await page.screenshot({ path: join(outDir, "profiles.png") });

  // Bad requests: refused, and the server goes on.
  const status = async (path) => (await fetch(server.url + path)).status;
  check("timeline without numbers: 400", await status("api/timeline?t0=abc&t1=5&px=100") === 400);
  check("timeline with a huge px: 400", await status(`api/timeline?t0=${begin}&t1=${begin + 1000}&px=100000000`) === 400);
  check("timeline outside the trace: 400", await status(`api/timeline?t0=${begin + 1e15}&t1=${begin + 2e15}&px=100`) === 400);
  check("a malformed query: 400", await status("api/timeline?t0=1&t0=&&&px=-1") === 400);
  check("a path with ..: 404", await status("../../etc/passwd") === 404);
  check("an unknown path: 404", await status("nothing.js") === 404);
  check("POST: 405", (await fetch(server.url, { method: "POST" })).status === 405);
  check("still serving", await status("api/summary") === 200);
} finally {
  server.proc.kill("SIGTERM");
}

server = await serve(tasksTrace);
try {
  await page.goto(server.url + "#tasks");
  await page.waitForSelector("#page-tasks canvas.hist");
  const text = await page.textContent("#page-tasks table");
  check("tasks page: processOrder, 200 of them", text.includes("processOrder") && text.includes("200"), text.slice(0, 200));
  const bars = Number(await page.getAttribute("#page-tasks canvas.hist", "data-bars"));
  check("tasks page: the histogram has bars", bars >= 1, bars);
  await page.click("#page-tasks tbody tr:has-text('processOrder')");
  await page.waitForFunction(() => document.querySelector("#page-tasks .paged[data-ready='1']") &&
    document.querySelector("#page-tasks h3")?.textContent.startsWith("processOrder"));
  const listed = Number(await page.getAttribute("#page-tasks .paged", "data-total"));
  const shownRows = await page.$$eval("#page-tasks .paged tbody tr", (t) => t.length);
  check("tasks page: each task of the type listed, a page at a time", listed === 200 && shownRows === 50, [listed, shownRows]);
  await page.screenshot({ path: join(outDir, "tasks.png") });
  // A task of the list, on the timeline: its bar, and its details on a click.
  const list = (await listJSON(server.url + "api/tasklist?type=processOrder&sort=begin&limit=1000")).rows;
  const task = list[10];
  await page.goto(server.url + `#timeline?t0=${task.begin_ns - 1000}&t1=${task.begin_ns + task.duration_ns + 1000}`);
  await page.waitForFunction(([a]) => window.ctraceView?.data && window.ctraceView?.data.t0 === a, [task.begin_ns - 1000]);
  // A point of a processOrder bar where that bar is on top, this task's
  // first: the last row takes the tasks that overlap every other row (many,
  // on a slow run), drawn over each other.
  const ids = list.map((t) => t.id);
  const bar = await page.evaluate(([id, ids]) => {
    const v = window.ctraceView, box = v.canvas.getBoundingClientRect();
    const found = [];
    for (const row of v.rows.filter((r) => r.kind === "task")) {
      const lane = v.data.tasks.find((x) => x.row === row.row);
      for (const t of lane ? lane.items : []) {
        if (!ids.includes(t[5]))
          continue;
        const y = row.y + row.h / 2;
        for (let k = 1; k < 32; k++) {
          const x = v.xOf(t[0] + ((t[1] - t[0]) * k) / 32), h = v.hit(x, y);
          if (x > 0 && x < box.width && h && h.kind === "task" && h.item[5] === t[5]) {
            found.push([box.left + x, box.top + y, t[5]]);
            break;
          }
        }
      }
    }
    return found.find((f) => f[2] === id) || found[0] || null;
  }, [task.id, ids]);
  check("the task has a bar on the timeline", bar !== null);
  if (bar) {
    await page.mouse.click(bar[0], bar[1]);
    await page.waitForFunction(() => document.querySelector("#details").dataset.state === "task", null, { timeout: 10000 });
    const text = await page.textContent("#details h3");
    check("a click on a bar names its task", text === `task ${bar[2]} (processOrder)`, [text, bar[2], task.id]);
    await page.screenshot({ path: join(outDir, "task.png") });
  }
  await page.goto(server.url + "#regions");
  await page.waitForSelector("#page-regions canvas.hist");
  const regions = await page.textContent("#page-regions table");
  check("regions page: the three steps", ["authentication", "businessLogic", "responseRender"].every((x) => regions.includes(x)), regions.slice(0, 200));
  await page.goto(server.url + "#logs");
  await page.waitForSelector("#page-logs table tbody tr");
  await page.fill("#page-logs input", "OrderID: 1017");
  await page.waitForFunction(() => document.querySelectorAll("#page-logs tbody tr").length === 1, null, { timeout: 5000 }).catch(() => {});
  const logs = await page.$$eval("#page-logs tbody tr", (t) => t.length);
  check("logs page: a search finds its log", logs === 1, logs);
  await page.screenshot({ path: join(outDir, "logs.png") });
} finally {
  server.proc.kill("SIGTERM");
}

// Tasks that overlap more than there are task rows: the last row draws them
// over each other, and a click there lists every one, each reachable.
const overlapTrace = join(tmp, "overlap.out");
r = spawnSync(join(progs, "overlap"), [overlapTrace]);
check("record the overlapping tasks", r.status === 0, r.stderr);
server = await serve(overlapTrace);
try {
  const jobs = (await listJSON(server.url + "api/tasklist?type=job&sort=begin&limit=1000")).rows;
  const mid = jobs[11].begin_ns + 2000000; // all 12 open
  await page.goto(server.url + `#timeline?t0=${jobs[0].begin_ns - 1000000}&t1=${jobs[11].begin_ns + jobs[11].duration_ns + 1000000}`);
  await page.waitForFunction(() => window.ctraceView?.data && window.ctraceView?.data.tasks);
  const point = await page.evaluate((mid) => {
    const v = window.ctraceView, box = v.canvas.getBoundingClientRect();
    const rows = v.rows.filter((r) => r.kind === "task");
    const last = rows[rows.length - 1];
    const x = v.xOf(mid), y = last.y + last.h / 2, h = v.hit(x, y);
    return { rows: rows.length, x: box.left + x, y: box.top + y, under: h ? h.all.length : 0, top: h ? h.item[5] : 0 };
  }, mid);
  check("overlap: eight task rows", point.rows === 8, point.rows);
  check("overlap: the last row holds the five tasks that overlap the other seven", point.under === 5, point.under);
  await page.mouse.click(point.x, point.y);
  await page.waitForFunction(() => document.querySelector("#details").dataset.state === "task", null, { timeout: 10000 });
  await page.waitForFunction(() => document.querySelectorAll("#details ul.under li").length > 0, null, { timeout: 10000 }).catch(() => {});
  const listed = await page.$$eval("#details ul.under li", (l) => l.map((x) => x.textContent));
  check("overlap: a click lists the five tasks there", listed.length === 5 && listed.every((t) => /^task \d+ \(job\)$/.test(t)), listed);
  await page.screenshot({ path: join(outDir, "overlap.png") });
  const other = await page.$$eval("#details ul.under li a", (a) => a.length ? a[0].textContent : "");
  if (other) {
    await page.click("#details ul.under li a");
    await page.waitForFunction((t) => document.querySelector("#details h3").textContent === t, other, { timeout: 10000 }).catch(() => {});
  }
  const shown = await page.textContent("#details h3");
  check("overlap: a task of the list, clicked, shows its details", other !== "" && shown === other, [other, shown]);
} finally {
  server.proc.kill("SIGTERM");
}

// A larger trace: zoomed-out answers come from the coarse buckets; they
// must stand for every region, and stay a few items a pixel.
if (genTrace) {
  const big = join(tmp, "big.out");
  r = spawnSync(genTrace, [big, "8", "2"]);
  check("record a larger trace", r.status === 0, r.stderr);
  server = await serve(big);
  try {
    const summary = await (await fetch(server.url + "api/summary")).json();
    const regions = await listJSON(server.url + "api/regions");
    const total = regions.reduce((a, t) => a + t.count + t.unfinished, 0);
    const px = 1000;
    const third = summary.begin + Math.floor((summary.end - summary.begin) / 3);
    const counts = {};
    for (const [name, t0, t1] of [["whole", summary.begin, summary.end + 1],
                                  ["the first third", summary.begin, third],
                                  ["the rest", third, summary.end + 1]]) {
      const d = await (await fetch(server.url + `api/timeline?t0=${t0}&t1=${t1}&px=${px}`)).json();
      let counted = 0, items = 0;
      for (const lane of d.threads) {
        items = Math.max(items, lane.spans.length, lane.regions.length);
        for (const g of lane.regions) if (g[1] > t0 && g[0] < t1) counted += g[4];
      }
      counts[name] = counted;
      check(`coarse answer (${name}): a few items a pixel`, items <= 3 * px, items);
    }
    check("coarse answer: every region counted once", counts.whole === total, `${counts.whole} of ${total}`);
    // How the regions spread over time depends on the machine's load; split
    // in two, the parts hold them all, less a part's share of the whole,
    // give or take the regions of the buckets that straddle the split.
    const first = counts["the first third"], rest = counts["the rest"];
    check("coarse answer split in two: each part some, together all of them",
          first > 0 && rest > 0 && first < total && rest < total &&
          Math.abs(first + rest - total) <= total * 0.05, `${first} + ${rest} of ${total}`);
  } finally {
    server.proc.kill("SIGTERM");
  }
}

// Events lost: two processes that only yield on one CPU, with no writer
// to read their rings, lose switches (ctrace counts them). The header says
// how many; stripes under the lane show where; a click tells why.
{
  const lossy = join(tmp, "lossy.out"), yielder = join(progs, "yielder");
  r = spawnSync(ctrace, ["run", "-o", lossy, "--", "sh", "-c",
                         `taskset -c 0 ${yielder} 300 & taskset -c 0 ${yielder} 300; wait`]);
  const files = spawnSync("sh", ["-c", `ls ${lossy}.*`]).stdout.toString().split("\n").filter(Boolean);
  const lost = files.find((f) => / lost \d+ events of thread /.test(spawnSync(ctrace, ["dump", f]).stdout.toString()));
  check("record a trace that lost events", r.status === 0 && lost, `${r.stderr} ${files}`);
  if (lost) {
    server = await serve(lost);
    try {
      await page.goto(server.url);
      await page.waitForSelector("body[data-ready='1']", { timeout: 20000 });
      const info = await page.textContent("#trace-info");
      check("the header says events were lost", / \d+ events? lost/.test(info), info);
      const at = await page.evaluate(() => {
        const v = window.ctraceView, t = v.summary.threads.find((x) => x.lost), row = v.laneOf(t.tid);
        const box = v.canvas.getBoundingClientRect(), x = Math.max(v.xOf(t.losses[0][0]), 0) + 3;
        // The loss may start between pixels: its stripes' black and
        // yellow, a few pixels on (their edges are blended).
        const pixels = [];
        for (let dx = 0; dx < 12; dx++)
          pixels.push(v.pixelAt(x + dx, v.yOf(row) + row.h - 3));
        return { px: box.left + x, py: box.top + v.yOf(row) + row.h - 3, pixels };
      });
      const black = at.pixels.some(([r, g, b]) => r < 40 && g < 40 && b < 40);
      const yellow = at.pixels.some(([r, g, b]) => r > 220 && g > 170 && b < 60);
      check("the loss is striped under the lane", black && yellow, JSON.stringify(at.pixels));
      await page.mouse.move(at.px, at.py);
      const hover = await page.textContent("#hover");
      check("hover on a loss: how many were lost", / events? lost (at|between)/.test(hover), hover);
      await page.mouse.click(at.px, at.py);
      await page.waitForFunction(() => document.querySelector("#details").dataset.state === "lost", null, { timeout: 10000 });
      const why = await page.textContent("#details");
      check("a click on it: why, and what to do", why.includes("--buffer-mb") && why.includes("--sched=auto"), why);
      await page.screenshot({ path: join(outDir, "lost.png") });
    } finally {
      server.proc.kill("SIGTERM");
    }
  }
}

// The timeline's details, navigation, logs, counters, profiles and the
// utilization page (timeline_checks.mjs).
await timelineChecks({ page, serve, check, ctrace, progs, tmp, outDir, basicsTrace: tasksTrace, uiTrace: known });

check("no errors in the page", errors.length === 0, errors.join("; "));
await browser.close();
rmSync(tmp, { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

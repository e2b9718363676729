// pages_test.mjs CTRACE BASICS OUT-DIR - ctrace view's lists in Debian's
// headless Chromium: the tasks of a type a page at a time (the pager, the
// server's sort on a header's click), a histogram bar or a duration typed
// in filters them, a task opens the timeline with its threads, regions and
// logs in focus; the regions of a type likewise, each opening the timeline
// at it; logs a page at a time, searched, by thread. What the pages show is
// checked against the server's answers, and those against each other.
// Screenshots go to OUT-DIR. Prints one line per check and a closing count.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const [ctrace, basics, outDir] = process.argv.slice(2);
let passed = 0, failed = 0;
function check(name, ok, detail = "") {
  if (ok) passed++;
  else { failed++; console.log(`FAIL: ${name} ${typeof detail === "string" ? detail : JSON.stringify(detail)}`); }
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

async function listJSON(url) {
  for (let i = 0; i < 600; i++) {
    const r = await fetch(url);
    if (r.status !== 202) return r.json();
    await new Promise((ok) => setTimeout(ok, 200));
  }
  throw new Error(`${url}: still indexing`);
}

const tmp = mkdtempSync(join(tmpdir(), "ctrace-pages-"));
mkdirSync(outDir, { recursive: true });
const trace = join(tmp, "basics.out");
const r = spawnSync(basics, ["-o", trace]);
check("record the basics trace", r.status === 0, String(r.stderr));

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
const errors = [];
page.on("pageerror", (e) => errors.push(e.message));
const server = await serve(trace);
const api = (path) => listJSON(server.url + path);
const shown = () => page.$$eval("#page-tasks .paged tbody tr", (rows) =>
  rows.map((tr) => [...tr.children].map((td) => td.textContent)));
const pagerInfo = (sel) => page.textContent(`${sel} .pager-info`);
const waitPage = (sel, offset) => page.waitForFunction(([s, o]) => {
  const p = document.querySelector(`${s} .paged`);
  return p && p.dataset.ready === "1" && p.dataset.offset === String(o) && !p.classList.contains("loading");
}, [sel, offset], { timeout: 15000 });

try {
  const summary = await (await fetch(server.url + "api/summary")).json();
  const all = (await api("api/tasklist?type=processOrder&sort=begin&limit=1000")).rows;
  check("the server lists the 200 tasks", all.length === 200, all.length);

  // ---- the tasks of a type, a page at a time
  await page.goto(server.url + "#tasks");
  await page.click("#page-tasks table.types tbody tr:has-text('processOrder')");
  await page.waitForFunction(() => document.querySelector("#page-tasks .type-detail")?.dataset.type === "processOrder");
  await waitPage("#page-tasks", 0);
  let rows = await shown();
  const byDuration = [...all].sort((a, b) => b.duration_ns - a.duration_ns);
  check("tasks: the first page holds 50, the longest first", rows.length === 50 &&
    rows[0][0] === String(byDuration[0].id), [rows.length, rows[0], byDuration[0].id]);
  check("tasks: the pager says where", (await pagerInfo("#page-tasks")) === "1–50 of 200", await pagerInfo("#page-tasks"));
  const firstPage = (await api("api/tasklist?type=processOrder&limit=50")).rows.map((t) => String(t.id));
  check("tasks: the page is the server's", rows.map((x) => x[0]).join() === firstPage.join(), rows.map((x) => x[0]));
  await page.waitForFunction(() => document.querySelector("#page-tasks .paged")?.dataset.times === "1", null, { timeout: 15000 });
  rows = await shown();
  check("tasks: each task's time, filled in after", rows.every((x) => x[4] === "3" && x[5] === "1" && /s$/.test(x[6])), rows.slice(0, 2));
  await page.click("#page-tasks .pager button[title='next page']");
  await waitPage("#page-tasks", 50);
  rows = await shown();
  check("tasks: the next page, 51-100", (await pagerInfo("#page-tasks")) === "51–100 of 200" &&
    rows[0][0] === String(byDuration[50].id), [await pagerInfo("#page-tasks"), rows[0]]);
  await page.click("#page-tasks .pager button[title='last page']");
  await waitPage("#page-tasks", 150);
  check("tasks: the last page", (await pagerInfo("#page-tasks")) === "151–200 of 200");
  check("tasks: the page is in the URL", page.url().includes("offset=150"), page.url());
  await page.screenshot({ path: join(outDir, "tasks-last-page.png"), fullPage: true });
  // The server's sort: by start, a click on the header.
  await page.click("#page-tasks .paged th[data-sort='begin']");
  await waitPage("#page-tasks", 0);
  rows = await shown();
  const byBegin = [...all].sort((a, b) => a.begin_ns - b.begin_ns);
  check("tasks: sorted by start on the server", rows[0][0] === String(byBegin[0].id) &&
    rows[49][0] === String(byBegin[49].id), [rows[0][0], byBegin[0].id]);
  await page.click("#page-tasks .paged th[data-sort='begin']");
  await waitPage("#page-tasks", 0);
  rows = await shown();
  check("tasks: a second click, the latest first", rows[0][0] === String(byBegin[199].id), [rows[0][0], byBegin[199].id]);

  // ---- a histogram bar filters
  const types = await api("api/tasks");
  const po = types.find((t) => t.type === "processOrder");
  const bar = po.histogram.findIndex((b) => b[2] > 0 && b[2] < 200);
  check("tasks: a bar that holds some of them", bar >= 0, po.histogram);
  const [lo, hi, count] = po.histogram[bar];
  const box = await page.$eval("#page-tasks canvas.hist", (c) => { const r = c.getBoundingClientRect(); return [r.left, r.top]; });
  const w = Math.max(8, Math.floor(500 / po.histogram.length));
  await page.mouse.click(box[0] + 10 + bar * w + w / 2, box[1] + 95);
  await page.waitForFunction((n) => document.querySelector("#page-tasks .paged")?.dataset.total === String(n) &&
    !document.querySelector("#page-tasks .paged").classList.contains("loading"), count, { timeout: 15000 });
  rows = await shown();
  const inBar = all.filter((t) => t.duration_ns >= lo && t.duration_ns < hi);
  check("tasks: a bar's click lists its tasks, as many as it counts", inBar.length === count && rows.length === Math.min(count, 50) &&
    rows.every((x) => inBar.some((t) => String(t.id) === x[0])), [count, inBar.length, rows.length]);
  await page.screenshot({ path: join(outDir, "tasks-bar.png"), fullPage: true });
  // A duration typed in.
  const median = byDuration[100].duration_ns;
  await page.fill("#page-tasks .filters input[placeholder^='min']", `${median}ns`);
  await page.fill("#page-tasks .filters input[placeholder^='max']", "");
  await page.click("#page-tasks .filters button:has-text('filter')");
  const atLeast = all.filter((t) => t.duration_ns >= median).length;
  await page.waitForFunction((n) => document.querySelector("#page-tasks .paged")?.dataset.total === String(n), atLeast, { timeout: 15000 })
    .catch(() => {});
  check("tasks: a minimum duration typed in", (await page.getAttribute("#page-tasks .paged", "data-total")) === String(atLeast),
    [await page.getAttribute("#page-tasks .paged", "data-total"), atLeast]);
  await page.click("#page-tasks .filters button:has-text('all')");
  await page.waitForFunction(() => document.querySelector("#page-tasks .paged")?.dataset.total === "200", null, { timeout: 15000 });

  // ---- a task, on the timeline with its threads, regions and logs in focus
  await waitPage("#page-tasks", 0);
  rows = await shown();
  const id = Number(rows[3][0]);
  const task = all.find((t) => t.id === id);
  await page.click(`#page-tasks .paged tbody tr:nth-child(4)`);
  await page.waitForFunction((id) => window.ctraceView?.focus?.id === id && window.ctraceView?.data, id, { timeout: 15000 });
  await page.waitForFunction(() => window.ctraceView?.data && !window.ctraceView?.fetching?.signal.aborted, null, { timeout: 15000 });
  await page.waitForTimeout(500);
  const focus = await page.evaluate(() => {
    const v = window.ctraceView;
    return { lanes: v.rows.filter((r) => r.kind === "thread").map((r) => r.tid), threads: v.focus.threads,
      regions: v.focus.regions.rows, logs: v.focus.logs.rows, t0: v.t0, t1: v.t1,
      banner: document.querySelector("#focus")?.textContent || "" };
  });
  check("focus: only the task's threads have lanes", focus.lanes.join() === task.threads.join() &&
    focus.threads.join() === task.threads.join(), [focus.lanes, task.threads]);
  check("focus: its three regions and its log", focus.regions.length === 3 && focus.logs.length === 1 &&
    focus.logs[0].message.startsWith("OrderID: "), [focus.regions.length, focus.logs]);
  check("focus: the timeline shows the task's time", focus.t0 <= task.begin_ns && focus.t1 >= task.begin_ns + task.duration_ns,
    [focus.t0, focus.t1, task.begin_ns]);
  check("focus: the banner names the task", focus.banner.includes(`task ${id} (processOrder)`), focus.banner);
  // The longest region is outlined: red at its left edge, on its lane.
  const region = focus.regions.sort((a, b) => (b.end - b.begin) - (a.end - a.begin))[0];
  const px = await page.evaluate((g) => {
    const v = window.ctraceView, lane = v.laneOf(g.tid);
    const x = Math.round(v.xOf(g.begin)), y = lane.regionY + 4;
    let red = 0;
    for (let dx = -2; dx <= 2; dx++) {
      const p = v.pixelAt(x + dx, y);
      if (p[0] > 180 && p[1] < 80 && p[2] < 80) red++;
    }
    return red;
  }, region);
  check("focus: the task's regions are outlined", px > 0, px);
  await page.screenshot({ path: join(outDir, "task-focus.png") });
  await page.click("#focus a:has-text('every thread')");
  const lanesAfter = await page.evaluate(() => window.ctraceView.rows.filter((r) => r.kind === "thread").length);
  check("focus: cleared, every thread again", lanesAfter === summary.threads.length && !(await page.evaluate(() => window.ctraceView.focus)),
    lanesAfter);

  // ---- regions: a type's instances, each opening the timeline at it
  await page.goto(server.url + "#regions");
  await page.click("#page-regions table.types tbody tr:has-text('businessLogic')");
  await page.waitForFunction(() => document.querySelector("#page-regions .type-detail")?.dataset.type === "businessLogic");
  await waitPage("#page-regions", 0);
  const regions = (await api("api/regionlist?type=businessLogic&limit=1000&sort=duration&order=asc")).rows;
  check("regions: every instance of the type", regions.length === 200 &&
    (await page.getAttribute("#page-regions .paged", "data-total")) === "200", regions.length);
  check("regions: ascending by duration", regions.every((g, i) => !i || regions[i - 1].duration_ns <= g.duration_ns));
  const rrows = await page.$$eval("#page-regions .paged tbody tr", (t) => t.map((tr) => [...tr.children].map((td) => td.textContent)));
  const longest = regions[199];
  check("regions: the longest first, with its thread and task", rrows[0][0].endsWith(String(longest.tid)) &&
    rrows[0][3].startsWith(`${longest.task} (processOrder)`), [rrows[0], longest]);
  await page.screenshot({ path: join(outDir, "regions-list.png"), fullPage: true });
  await page.click("#page-regions .paged tbody tr:first-child");
  // The hash changes first; the timeline takes its range and highlight when
  // it handles the change: wait for that (or fail on what it shows then).
  await page.waitForFunction((g) => {
    const v = window.ctraceView;
    return location.hash.startsWith("#timeline") && v && v.highlight === g.tid &&
      v.t0 <= g.begin_ns && v.t1 >= g.begin_ns + g.duration_ns;
  }, longest, { timeout: 10000 }).catch(() => {});
  const at = await page.evaluate(() => ({ t0: window.ctraceView.t0, t1: window.ctraceView.t1, hi: window.ctraceView.highlight }));
  check("regions: a click opens the timeline at it, its thread marked", at.t0 <= longest.begin_ns &&
    at.t1 >= longest.begin_ns + longest.duration_ns && at.hi === longest.tid, [at, longest]);

  // ---- logs: a page at a time, searched, by thread
  await page.goto(server.url + "#logs");
  await page.waitForFunction(() => document.querySelector("#page-logs .paged")?.dataset.ready === "1", null, { timeout: 15000 });
  const lrows = await page.$$eval("#page-logs .paged tbody tr", (t) => t.length);
  check("logs: a page of 50 of 200", lrows === 50 && (await pagerInfo("#page-logs")) === "1–50 of 200", [lrows, await pagerInfo("#page-logs")]);
  await page.click("#page-logs .pager button[title='next page']");
  await waitPage("#page-logs", 50);
  check("logs: the next page", (await pagerInfo("#page-logs")) === "51–100 of 200");
  await page.fill("#page-logs input[type=search]", "OrderID: 101");
  await page.waitForFunction(() => document.querySelector("#page-logs .paged")?.dataset.total === "10", null, { timeout: 10000 }).catch(() => {});
  const found = await page.$$eval("#page-logs .paged tbody tr td:nth-child(5)", (t) => t.map((x) => x.textContent));
  check("logs: a search finds the 10 orders 1010-1019", found.length === 10 && found.every((m) => /^OrderID: 101\d$/.test(m)), found);
  await page.screenshot({ path: join(outDir, "logs-search.png") });
  await page.fill("#page-logs input[type=search]", "");
  const worker = all[0].threads[1];
  await page.selectOption("#page-logs select.thread-filter", String(worker));
  const ofWorker = (await api(`api/logs?tid=${worker}&limit=1000`)).logs;
  await page.waitForFunction((n) => document.querySelector("#page-logs .paged")?.dataset.total === String(n), ofWorker.length, { timeout: 10000 }).catch(() => {});
  const tids = await page.$$eval("#page-logs .paged tbody tr td:nth-child(2)", (t) => t.map((x) => x.textContent));
  check("logs: one thread's", ofWorker.length > 0 && ofWorker.length < 200 && tids.length === Math.min(50, ofWorker.length) &&
    tids.every((x) => x.endsWith(` ${worker}`)), [ofWorker.length, tids.length]);
  await page.click("#page-logs .paged th[data-sort='t']");
  await waitPage("#page-logs", 0);
  const latest = await page.$eval("#page-logs .paged tbody tr td:nth-child(5)", (x) => x.textContent);
  check("logs: latest first on a click", latest === ofWorker[ofWorker.length - 1].message, [latest, ofWorker[ofWorker.length - 1].message]);

  // ---- the server refuses what it cannot page
  const status = async (path) => (await fetch(server.url + path)).status;
  check("a page of more than 1000 rows: 400", await status("api/tasklist?type=processOrder&limit=5000") === 400);
  check("an unknown type: 404", await status("api/tasklist?type=nothing") === 404);
  check("a list without a type: 400", await status("api/regionlist") === 400);
  check("a focus on an unknown task: 404", await status("api/focus?id=999999999") === 404);
  check("a bad sort: 400", await status("api/tasklist?type=processOrder&sort=name") === 400);
} finally {
  server.proc.kill("SIGTERM");
}

check("no errors in the page", errors.length === 0, errors.join("; "));
await browser.close();
rmSync(tmp, { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

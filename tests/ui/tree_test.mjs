// tree_test.mjs CTRACE PROGS-DIR OUT-DIR - ctrace view over a process
// tree in Debian's headless Chromium: treeprog (a parent, a forked child
// and the program the child execs, each with named threads) recorded by
// `ctrace run`, then served by `ctrace view --tree FILE` and by `ctrace
// view FILE FILE.*`. The timeline has a header lane per process (its pid
// and command) with that process's threads under it, named as they named
// themselves; the exec'd image's main thread, whose tid is its
// predecessor's too, has a lane of its own whose details are its own; the
// CPU lanes hold every process's runs; the threads page has a pid column;
// the tasks page offers each process and shows the chosen one's tasks; a
// task's details are its own process's; search finds every process's
// tasks and logs in time order; the profile and the utilization are the
// tree's. Screenshots go to OUT-DIR. Prints one line per failed check and
// a closing count.
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { chromium } from "playwright-core";

const [ctrace, progs, outDir] = process.argv.slice(2);
let passed = 0, failed = 0;
function check(name, ok, detail = "") {
  if (ok) passed++;
  else { failed++; console.log(`FAIL: ${name} ${typeof detail === "string" ? detail : JSON.stringify(detail)}`); }
}

function serve(args) {
  return new Promise((resolve, reject) => {
    const p = spawn(ctrace, ["view", "--no-browser", ...args], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    p.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/http:\/\/[0-9.]+:\d+\//);
      if (m) resolve({ url: m[0], proc: p, out });
    });
    p.on("exit", (code) => reject(new Error(`ctrace view exited ${code}: ${out}`)));
  });
}

async function listJSON(url) {
  for (let i = 0; i < 300; i++) {
    const r = await fetch(url);
    if (r.status !== 202) return r.json();
    await new Promise((ok) => setTimeout(ok, 200));
  }
  throw new Error(`${url}: still indexing`);
}

const tmp = mkdtempSync(join(tmpdir(), "ctrace-tree-"));
mkdirSync(outDir, { recursive: true });
const trace = join(tmp, "tree.ct");
// Under ASan the preloaded recorder stands in for the one treeprog links:
// the same globals twice, which is no ODR fault here.
const env = { ...process.env };
if (env.ASAN_OPTIONS !== undefined) env.ASAN_OPTIONS += ":detect_odr_violation=0";
const r = spawnSync(ctrace, ["run", "-o", trace, "--", join(progs, "treeprog")], { env });
check("record treeprog's tree", r.status === 0, String(r.stderr));
const files = readdirSync(tmp).filter((f) => f.startsWith("tree.ct")).map((f) => join(tmp, f)).sort();
check("three trace files: the parent's, the child's, the exec'd program's", files.length === 3, files);
// What the files' THREADS tables say, for a count that is not the one
// expected: every "# thread" line of ctrace dump, per file.
function threadHeads() {
  return files.map((f) => "\n" + f + ":\n" + String(spawnSync(ctrace, ["dump", f]).stdout)
    .split("\n").filter((l) => l.startsWith("# thread")).sort()
    .filter((l, i, a) => a.indexOf(l) === i).join("\n")).join("");
}

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
const errors = [];
page.on("pageerror", (e) => errors.push(e.message));
let server = await serve(["--tree", trace]);
try {
  const summary = await (await fetch(server.url + "api/summary")).json();
  check("the summary is a tree's", summary.tree === true && summary.processes.length === 3,
    summary.processes?.length);
  const [parent, child, exec] = summary.processes;
  check("the parent first, then the child, then its exec'd image", parent.parent === -1 &&
    child.ppid === parent.pid && exec.pid === child.pid && exec.exec_prev === 1,
    summary.processes.map((p) => [p.pid, p.ppid, p.parent, p.exec_prev]));
  const byName = new Map(summary.threads.map((t) => [t.name, t]));
  const expect = { "tree-parent": 0, "tree-worker": 0, "tree-child": 1, "child-worker": 1, "tree-exec": 2 };
  for (const [name, image] of Object.entries(expect))
    check(`thread ${name} is process ${image}'s`, byName.get(name)?.image === image &&
      byName.get(name)?.pid === summary.processes[image].pid, byName.get(name));
  const keys = new Set(summary.threads.map((t) => t.tid));
  check("every lane has a key of its own", keys.size === summary.threads.length, [...keys]);
  const te = byName.get("tree-exec"), tc = byName.get("tree-child");
  check("the exec'd main thread keeps its tid, in a lane of its own", te && tc &&
    te.os_tid === tc.os_tid && te.tid !== tc.tid, [te, tc]);

  // ---- the timeline: a header lane per process, its threads under it
  await page.goto(server.url);
  await page.waitForSelector("body[data-ready='1']", { timeout: 20000 });
  const rows = await page.evaluate(() => window.ctraceView.rows.map((r) =>
    ({ kind: r.kind, label: r.label, tid: r.tid, group: r.group, key: r.key, name: r.name })));
  const groups = rows.filter((x) => x.kind === "group");
  check("a header lane per process", groups.length === 3, groups.map((g) => g.label));
  for (const p of summary.processes)
    check(`process ${p.image}'s header names its pid and command`,
      groups.some((g) => g.key === `i${p.image}` && g.label.includes(`process ${p.pid}`) &&
        g.label.includes("treeprog")), groups.map((g) => g.label));
  for (const [name, image] of Object.entries(expect)) {
    const t = byName.get(name), row = rows.find((x) => x.kind === "thread" && x.tid === t?.tid);
    check(`lane ${name} is under process ${image}, named with its own tid`, row &&
      row.group === `i${image}` && row.label === `${name} ${t.os_tid}`, row);
  }
  // Each process's counters under its header (the lanes grouped by process).
  for (const p of summary.processes) {
    const at = rows.findIndex((x) => x.kind === "group" && x.key === `i${p.image}`);
    const next = rows.findIndex((x, i) => i > at && x.kind === "group");
    const mine = rows.slice(at, next < 0 ? rows.length : next).filter((x) => x.kind === "counter");
    const want = summary.counters.filter((n, k) => summary.counter_images[k] === p.image);
    check(`process ${p.image}'s counters are under its header`, want.length > 0 &&
      mine.length === want.length && mine.every((x) => want.includes(x.name) && !x.label.includes("pid")),
      [mine, want]);
  }
  const order = rows.filter((x) => x.kind !== "cpu" && x.kind !== "counter" && x.kind !== "task")
    .map((x) => x.kind === "group" ? x.key : x.group);
  check("each process's lanes follow its header", order.join() ===
    [...order].sort().join(), order);

  // The whole tree at once: every lane has states; the CPUs hold runs of
  // the parent's and of the child's threads (when the kernel's switches
  // were recorded).
  const data = await (await fetch(server.url +
    `api/timeline?t0=${summary.begin}&t1=${summary.end + 1}&px=1000`)).json();
  for (const t of summary.threads)
    check(`lane ${t.name} has states`, data.threads.find((l) => l.tid === t.tid)?.spans.length > 0);
  if (summary.sched) {
    const images = new Set();
    for (const c of data.cpus)
      for (const run of c.runs)
        if (run[3] >= 0) images.add(summary.threads.find((t) => t.tid === run[2])?.image);
    check("the CPU lanes hold runs of several processes", images.has(0) && images.has(1),
      [...images]);
  }
  check("counters per process", summary.counters.some((n) => n.includes(`pid ${parent.pid}`)) &&
    summary.counters.some((n) => n.includes(`pid ${child.pid}`)), summary.counters);

  // The exec'd main thread's details are its own.
  const span = await (await fetch(server.url +
    `api/span?tid=${te.tid}&t=${Math.floor((te.begin + te.end) / 2)}`)).json();
  check("the exec'd lane's details name its thread", span.thread === "tree-exec" &&
    span.tid === te.tid, span);
  await page.evaluate(([a, b]) => window.ctraceView.show(a, b), [summary.begin, summary.end]);
  await page.waitForFunction(() => window.ctraceView?.data?.exact !== undefined);
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(outDir, "tree-timeline.png") });

  // ---- the threads page: a pid column, every process's threads
  await page.goto(server.url + "#threads");
  await page.waitForSelector("#page-threads table tbody tr");
  const head = await page.$$eval("#page-threads table:first-of-type thead th", (th) => th.map((x) => x.textContent));
  check("the threads page has a pid column first", head[0] === "pid", head);
  const trows = await page.$$eval("#page-threads table:first-of-type tbody tr", (rs) =>
    rs.map((tr) => [...tr.children].map((td) => td.textContent)));
  check("the threads page lists every process's threads", trows.length === 5,
    trows.length === 5 || JSON.stringify(trows.map((row) => row.slice(0, 4))) + threadHeads());
  for (const [name, image] of Object.entries(expect))
    check(`thread ${name} has its process's pid`, trows.some((x) => x[0] ===
      String(summary.processes[image].pid) && x[1].startsWith(name)), trows);
  await page.screenshot({ path: join(outDir, "tree-threads.png") });

  // ---- the tasks page offers each process. The first process's types
  // come late: the exec'd process, chosen before they come, shows its own
  // alone, and the late page asks nothing of it.
  const late = /\/api\/tasks\?proc=0$/;
  await page.route(late, async (route) => { await sleep(800); await route.continue(); });
  await page.goto(server.url + "#tasks");
  await page.waitForSelector("#page-tasks .proc-select");
  const chosen = Date.now();
  await page.selectOption("#page-tasks .proc-select", "2");
  const options = await page.$$eval("#page-tasks .proc-select option", (o) => o.map((x) => x.textContent));
  check("the tasks page offers each process", options.length === 3 &&
    options[0].includes(`pid ${parent.pid}`) && options[2].includes("exec'd"), options);
  const jobs = ["parent-job", "child-job", "exec-job"];
  for (let i = 0; i < 3; i++) {
    const types = await listJSON(server.url + `api/tasks?proc=${i}`);
    check(`process ${i}'s tasks are its own`, types.length === 1 && types[0].type === jobs[i], types);
  }
  await page.waitForSelector("#page-tasks table.types tbody tr:has-text('exec-job')", { timeout: 15000 });
  await sleep(Math.max(0, chosen + 1500 - Date.now()));
  await page.unroute(late);
  check("choosing the exec'd process shows its tasks", (await page.$$("#page-tasks table.types tbody tr")).length === 1);
  await page.screenshot({ path: join(outDir, "tree-tasks.png") });

  // Each task on the timeline carries its process; its details are that
  // process's (every task's id is 1 here).
  const bars = data.tasks.flatMap((row) => row.items).filter((x) => x[3] >= 0);
  check("a task bar per process", bars.length === 3 && new Set(bars.map((x) => x[6])).size === 3, bars);
  for (const b of bars) {
    const d = await (await fetch(server.url + `api/task?id=${b[5]}&t=${b[0] + 1}&proc=${b[6]}`)).json();
    check(`task of process ${b[6]} is its own`, d.type === jobs[b[6]], d);
  }
  // Search: every process's, in time order.
  const found = await (await fetch(server.url + "api/search?q=job&after=0&limit=50")).json();
  const images = new Set(found.results.map((x) => summary.threads.find((t) => t.tid === x.tid)?.image));
  check("search finds every process's tasks and logs", found.results.length === 6 && images.size === 3 &&
    found.done, found);
  check("search answers in time order", found.results.every((x, i, all) => !i || all[i - 1].t <= x.t),
    found.results.map((x) => x.t));
  const one = await (await fetch(server.url + "api/search?q=job&after=0&limit=2")).json();
  check("a cut search page is the first in time, and says so", one.results.length === 2 && !one.done &&
    one.results[1].t === found.results[1].t, one);
  // The tree's profile and utilization.
  const prof = await fetch(server.url + "api/pprof?type=sched");
  check("the tree's profile", prof.status === 200 && (await prof.arrayBuffer()).byteLength > 20);
  const util = await (await fetch(server.url + "api/utilization?px=100")).json();
  check("the utilization counts every process's threads", util.threads === 5, util.threads);
  const bad = await (await fetch(server.url + "api/tasks?proc=3")).status;
  check("a process outside the tree is refused", bad === 400, bad);
  check("no page errors", errors.length === 0, errors);
} finally {
  server.proc.kill();
}

// The same tree named file by file.
server = await serve(files);
try {
  const summary = await (await fetch(server.url + "api/summary")).json();
  check("FILE FILE.* shows the same tree", summary.tree && summary.processes.length === 3 &&
    summary.threads.length === 5,
    [summary.processes?.length, JSON.stringify(summary.threads?.map((t) => [t.pid, t.tid, t.name]))]);
  // One file cut under the view: its answers name it, and the view lives.
  truncateSync(files[1], 200);
  const cut = await fetch(server.url + `api/timeline?t0=${summary.begin}&t1=${summary.end + 1}&px=500`);
  const why = await cut.text();
  check("a file cut under the view is named (410)", cut.status === 410 && why.includes(files[1]), [cut.status, why]);
  const span = await fetch(server.url + `api/span?tid=${summary.threads[0].tid}&t=${summary.begin + 1}`);
  check("the view keeps answering, with the error", span.status === 410, span.status);
} finally {
  server.proc.kill();
}
await browser.close();

// More process images than a view holds: refused, saying how many it holds.
const many = join(tmp, "many");
mkdirSync(many);
const copies = [];
for (let i = 0; i < 257; i++) {
  copies.push(join(many, `t.${i}`));
  copyFileSync(files[0], copies[i]);
}
const big = spawnSync(ctrace, ["view", "--no-browser", ...copies], { timeout: 20000 });
check("257 files are refused with the cap named", big.status === 1 &&
  /257 process images; ctrace view shows at most 256/.test(String(big.stderr)), [big.status, String(big.stderr)]);
rmSync(tmp, { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);

// screenshot.mjs CTRACE TRACE OUT.png - the README's picture of ctrace
// view: serves TRACE with `ctrace view --no-browser`, opens it in Debian's
// headless Chromium (playwright-core, no browser download), shows the
// middle third of the trace on the timeline, clicks the first blocked
// slice of a worker so that the details panel shows a stack, and saves
// the page as OUT.png. scripts/screenshot.sh records the trace.
import { spawn } from "node:child_process";
import { chromium } from "playwright-core";

const [ctrace, trace, out] = process.argv.slice(2);
if (!out) {
  console.error("usage: node screenshot.mjs CTRACE TRACE OUT.png");
  process.exit(2);
}

const server = await new Promise((resolve, reject) => {
  const p = spawn(ctrace, ["view", "--no-browser", trace], { stdio: ["ignore", "pipe", "inherit"] });
  let text = "";
  p.stdout.on("data", (d) => {
    text += d;
    const m = text.match(/http:\/\/[0-9.]+:\d+\//);
    if (m) resolve({ url: m[0], proc: p });
  });
  p.on("exit", (code) => reject(new Error(`ctrace view exited ${code}: ${text}`)));
});

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
  await page.goto(server.url);
  await page.waitForSelector("body[data-ready='1']", { timeout: 20000 });
  const summary = await (await fetch(server.url + "api/summary")).json();
  const span = summary.end - summary.begin;
  const [a, b] = [summary.begin + span * 0.35, summary.begin + span * 0.6];
  await page.evaluate(([x, y]) => window.ctraceView.show(x, y), [a, b]);
  await page.waitForFunction(([x]) => window.ctraceView?.data && window.ctraceView?.data.t0 === Math.floor(x), [a]);

  // A worker's slice blocked on the inventory lock, right of the middle.
  const points = await page.evaluate(() => {
    const v = window.ctraceView, box = v.canvas.getBoundingClientRect(), out = [];
    const mid = (v.t0 + v.t1) / 2;
    for (const lane of v.data.threads) {
      const row = v.laneOf(lane.tid);
      if (!row || !row.label.startsWith("worker")) continue;
      for (const s of lane.spans) {
        if (s[1] < mid || v.xOf(Math.min(s[1], v.t1)) - v.xOf(Math.max(s[0], v.t0)) < 6) continue;
        const x = (v.xOf(Math.max(s[0], v.t0)) + v.xOf(Math.min(s[1], v.t1))) / 2;
        const h = v.hit(x, row.y + row.h / 2);
        if (h && v.describe(h).startsWith("blocked"))
          out.push([box.left + x, box.top + row.y + row.h / 2]);
      }
    }
    return out;
  });
  let clicked = false;
  for (const [x, y] of points.slice(0, 12)) {
    await page.mouse.click(x, y);
    await page.waitForSelector("#details:not([hidden]) h3", { timeout: 10000 });
    await page.waitForFunction(() => document.querySelector("#details").dataset.state === "blocked",
      null, { timeout: 10000 }).catch(() => {});
    if ((await page.textContent("#details")).includes("mutex")) {
      clicked = true;
      break;
    }
  }
  await page.mouse.move(5, 5);
  if (!clicked)
    console.error("screenshot: no worker blocked on a mutex in the view; the details show another slice");
  await page.screenshot({ path: out });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  server.proc.kill();
}

#!/usr/bin/env python3
"""bench_pages.py BUILD [TASKS] - ctrace view's pages on a trace of TASKS
tasks (default 5 000 000; CTRACE_BENCH_PAGES_TASKS too), each with three
regions and a log (bench/gen_trace): the time to the URL and to the lists'
index, the server's memory, and for every page the time of the answers it
asks for first, on a new connection each, as a browser loading the page:
while the lists are still being indexed (a page then says how far) and once
they are (median and max of RUNS=5). Also: the lists' deeper pages (the last
page, a page in the middle, a histogram bar), a task's focus and its time,
and a slow answer (a profile made) with other pages asked for meanwhile."""
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

build = sys.argv[1]
tasks = int(sys.argv[2]) if len(sys.argv) > 2 else int(os.environ.get("CTRACE_BENCH_PAGES_TASKS", "5000000"))
runs = int(os.environ.get("RUNS", "5"))
ctrace = os.path.join(build, "ctrace")


def memory(pid):
    with open(f"/proc/{pid}/status") as f:
        s = f.read()
    return (int(re.search(r"VmRSS:\s+(\d+)", s).group(1)) * 1024,
            int(re.search(r"VmHWM:\s+(\d+)", s).group(1)) * 1024)


with tempfile.TemporaryDirectory(dir=build) as tmp:
    trace = os.path.join(tmp, "pages.out")
    t0 = time.monotonic()
    subprocess.run([os.path.join(build, "bench", "gen_trace"), trace, "8192", "4", str(tasks)],
                   check=True)
    recorded = time.monotonic() - t0
    size = os.path.getsize(trace)
    t0 = time.monotonic()
    p = subprocess.Popen([ctrace, "view", "--no-browser", trace], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    served = time.monotonic() - t0
    port = int(re.search(r"http://[0-9.]+:(\d+)/", line).group(1))
    rss_served = memory(p.pid)[0]

    def get(path):
        """(status, body, seconds) on a connection of its own."""
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        start = time.monotonic()
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        c.close()
        return r.status, body, time.monotonic() - start

    summary = json.loads(get("/api/summary")[1])
    begin, end = summary["begin"], summary["end"]
    pages = {
        "timeline": ["/api/summary", f"/api/timeline?t0={begin}&t1={end}&px=1500"],
        "threads": ["/api/threads"],
        "profiles": ["/api/pprof?type=sync"],
        "tasks": ["/api/tasks", "/api/tasklist?type=request&limit=50"],
        "regions": ["/api/regions", "/api/regionlist?type=parse&limit=50"],
        "logs": ["/api/logs?limit=50"],
    }

    def visit():
        """Per page: (the slowest of its first answers, their statuses)."""
        out = {}
        for name, paths in pages.items():
            answers = [get(path) for path in paths]
            out[name] = (max(a[2] for a in answers), [a[0] for a in answers])
        return out

    early = visit()  # the lists being indexed: 202 with the progress
    while json.loads(get("/api/status")[1])["lists"] == "building":
        time.sleep(0.1)
    ready = time.monotonic() - t0
    rss_ready, hwm_ready = memory(p.pid)
    while get("/api/pprof?type=sync")[0] == 202:  # made in the background
        time.sleep(0.1)
    rounds = [visit() for _ in range(runs)]

    # Deeper: the last page by duration and by begin, the middle, a bar.
    types = json.loads(get("/api/tasks")[1])
    request = next(t for t in types if t["type"] == "request")
    bar = max(request["histogram"], key=lambda b: b[2] if b[2] < request["count"] // 10 else 0)
    total = request["count"]
    deep = {
        "tasks, last page by duration": f"/api/tasklist?type=request&limit=50&offset={total - 50}",
        "tasks, middle page by start": f"/api/tasklist?type=request&limit=50&sort=begin&offset={total // 2}",
        "tasks, a histogram bar": f"/api/tasklist?type=request&limit=50&min={bar[0]}&max={bar[1]}",
        "regions, page 2001 by duration (after a first page)":
            "/api/regionlist?type=parse&limit=50&offset=100000",
        "logs, a search": "/api/logs?limit=50&q=slept%20after%20request%204242",
        "logs, latest first": "/api/logs?limit=50&order=desc",
    }
    # A deep page of a type whose first page was never asked for: its order
    # by duration is made by this request (once); after a first page, it is
    # made meanwhile on a thread of its own.
    cold = get("/api/regionlist?type=handle&limit=50&offset=100000")[2]
    deep_times = {k: [] for k in deep}
    for _ in range(runs):
        for k, path in deep.items():
            status, _, seconds = get(path)
            deep_times[k].append(seconds if status == 200 else float("nan"))
    first = json.loads(get("/api/tasklist?type=request&limit=50")[1])["rows"]
    ids = ",".join(str(r["id"]) for r in first)
    focus_t = [get(f"/api/focus?id={first[0]['id']}")[2] for _ in range(runs)]
    time_t = [get(f"/api/tasktime?ids={ids}")[2] for _ in range(runs)]

    # A slow answer (the sched profile, made now) and the pages meanwhile.
    slow = {}
    th = threading.Thread(target=lambda: slow.update(t=get("/api/pprof?type=sched&wait=1")[2]))
    th.start()
    time.sleep(0.05)
    meanwhile = visit()
    th.join()
    rss_end, hwm_end = memory(p.pid)
    p.terminate()
    p.wait()

events = re.search(r"(\d+) events", line).group(1)
print(f"\nctrace view on a generated trace: {size / 1e6:.0f} MB, {tasks / 1e6:.1f} M tasks "
      f"(3 regions and a log each, {int(events) / 1e6:.1f} M events), 4 threads; "
      f"recorded in {recorded:.1f} s; the machine may be shared\n")
print("| what | figure |\n|---|---|")
print(f"| URL served (timeline indexed) | {served:.2f} s, {rss_served / 1e6:.0f} MB resident |")
print(f"| tasks, regions and logs indexed | {ready:.2f} s after the start |")
print(f"| memory, lists indexed | {rss_ready / 1e6:.0f} MB resident "
      f"({rss_ready / size * 100:.0f} % of the trace), peak {hwm_ready / 1e6:.0f} MB |")
print(f"| memory at the end (profiles made) | {rss_end / 1e6:.0f} MB, peak {hwm_end / 1e6:.0f} MB |")
print("\nEvery page's first answers (the slowest of those it asks for; target 1 s):\n")
print("| page | while indexing | ready: median | ready: max |\n|---|---|---|---|")
for name in pages:
    times = [r[name][0] * 1000 for r in rounds]
    e = early[name]
    print(f"| {name} | {e[0] * 1000:.0f} ms ({'/'.join(map(str, e[1]))}) | "
          f"{statistics.median(times):.0f} ms | {max(times):.0f} ms |")
print("\n| deeper | median | max |\n|---|---|---|")
for k, v in deep_times.items():
    print(f"| {k} | {statistics.median(v) * 1000:.0f} ms | {max(v) * 1000:.0f} ms |")
print(f"| regions, page 2001 by duration, its order not made yet | {cold * 1000:.0f} ms | once |")
print(f"| a task's focus | {statistics.median(focus_t) * 1000:.0f} ms | {max(focus_t) * 1000:.0f} ms |")
print(f"| 50 tasks' time (their threads read again) | {statistics.median(time_t) * 1000:.0f} ms | "
      f"{max(time_t) * 1000:.0f} ms |")
print(f"\nWhile the sched profile was made ({slow['t']:.2f} s), the pages answered in: " +
      ", ".join(f"{n} {v[0] * 1000:.0f} ms" for n, v in meanwhile.items()))

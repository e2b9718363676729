#!/usr/bin/env python3
"""bench_view.py BUILD [MB] - ctrace view on a generated trace (bench/gen_trace.c,
MB megabytes, default 2048, the size of the target; CTRACE_BENCH_VIEW_MB
too): the time to index it and serve the URL, the server's peak memory, and
the latency of timeline requests at 1500 pixels while zooming in and
panning, and how many were answered exactly (a window read again from the
file) rather than from the index's buckets."""
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

build = sys.argv[1]
mb = int(sys.argv[2]) if len(sys.argv) > 2 else int(os.environ.get("CTRACE_BENCH_VIEW_MB", "2048"))
ctrace = os.path.join(build, "ctrace")

with tempfile.TemporaryDirectory(dir=build) as tmp:
    trace = os.path.join(tmp, "big.out")
    subprocess.run([os.path.join(build, "bench", "gen_trace"), trace, str(mb), "4"], check=True)
    size = os.path.getsize(trace)
    t0 = time.monotonic()
    p = subprocess.Popen([ctrace, "view", "--no-browser", trace], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    ready = time.monotonic() - t0
    url = re.search(r"http://\S+/", line).group(0)
    events = int(re.search(r"(\d+) events", line).group(1))

    def get(path):
        start = time.monotonic()
        with urllib.request.urlopen(url + path, timeout=60) as r:
            body = r.read()
        return time.monotonic() - start, body

    _, body = get("api/summary")
    s = json.loads(body)
    begin, end = s["begin"], s["end"]
    _, first = get(f"api/timeline?t0={begin}&t1={end}&px=1500")
    rows = []
    for zoom in (1, 4, 16, 64, 256, 1024, 4096, 16384):
        width = (end - begin) // zoom
        times, sizes, exact = [], [], 0
        for k in range(5):  # five positions: panning across the trace
            a = begin + (end - begin - width) * k // 4
            dt, body = get(f"api/timeline?t0={a}&t1={a + width}&px=1500")
            times.append(dt * 1000)
            sizes.append(len(body))
            exact += json.loads(body)["exact"]
        rows.append((zoom, statistics.median(times), max(times), statistics.median(sizes), exact))
    # Panning as D does, a quarter of the width a step, zoomed in 4096x.
    width = (end - begin) // 4096
    a = begin + (end - begin) // 3
    pans, exact = [], 0
    for step in range(12):
        dt, body = get(f"api/timeline?t0={a}&t1={a + width}&px=1500")
        pans.append(dt * 1000)
        exact += json.loads(body)["exact"]
        a += width // 4
    rows.append(("4096x, panning 1/4 a step:", statistics.median(pans), max(pans), 0, f"{exact} of 12"))
    with open(f"/proc/{p.pid}/status") as f:
        hwm = int(re.search(r"VmHWM:\s+(\d+)", f.read()).group(1)) * 1024
    p.terminate()
    p.wait()

print(f"\nctrace view on a generated trace: {size / 1e6:.0f} MB, {events / 1e6:.1f} M events, "
      "4 threads of requests (task, 3 regions, log), one run\n")
print("| what | figure | target |\n|---|---|---|")
print(f"| index built, URL served | {ready:.2f} s ({events / ready / 1e6:.1f} M events/s) | "
      "2 GB in <= 10 s |")
print(f"| server peak memory | {hwm / 1e6:.0f} MB ({hwm / size * 100:.0f} % of the trace) | <= 15 % |")
print(f"| first timeline answer, whole trace | {len(first) / 1e3:.0f} kB | page <= 20 MB |")
print("\n| zoom | median ms | max ms | median bytes | exact |\n|---|---|---|---|---|")
for zoom, med, mx, sz, ex in rows:
    if isinstance(zoom, str):
        print(f"| {zoom} 12 steps | {med:.1f} | {mx:.1f} | | {ex} |")
    else:
        print(f"| {zoom}x | {med:.1f} | {mx:.1f} | {sz / 1e3:.0f} kB | {ex} of 5 |")
print("\n(target: every request <= 50 ms)")

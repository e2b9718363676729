#!/usr/bin/env python3
"""bench_read.py BUILD [MB] - the analyzer's throughput and peak memory on a
generated trace (bench/gen_trace.c, MB megabytes, default 1024 as the issue
asks): `ctrace stats`, `ctrace threads` (whose start functions are named
from the trace's modules), `ctrace tasks` and `ctrace regions`, each run 3
times; the median wall time, events/s and MB/s, the peak RSS of the run,
and the CPU time, which tells events/s per core when generations are read
in parallel."""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

build = sys.argv[1]
mb = int(sys.argv[2]) if len(sys.argv) > 2 else int(os.environ.get("CTRACE_BENCH_READ_MB", "1024"))
ctrace = os.path.join(build, "ctrace")


def measure(args):
    """Wall seconds, CPU seconds and peak RSS (bytes) of one run, from
    wait4: that child's own resource usage."""
    t0 = time.monotonic()
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    if status != 0:
        sys.exit(f"{' '.join(args)} failed with status {status}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024


with tempfile.TemporaryDirectory(dir=build) as tmp:
    trace = os.path.join(tmp, "big.out")
    subprocess.run([os.path.join(build, "bench", "gen_trace"), trace, str(mb), "4"], check=True)
    size = os.path.getsize(trace)
    s = subprocess.run([ctrace, "stats", "--json", trace], capture_output=True, text=True,
                       check=True)
    events = json.loads(s.stdout)["events_total"]
    # The file in the page cache, as after it was written: the figures are
    # the analyzer's, not the disk's.
    rows = []
    for name, args in (("stats", ["stats"]), ("threads", ["threads"]),
                       ("tasks", ["tasks"]), ("regions", ["regions"])):
        cmd = [ctrace, *args, trace]
        runs = [measure(cmd) for _ in range(3)]
        rows.append((name, statistics.median(r[0] for r in runs),
                     statistics.median(r[1] for r in runs), max(r[2] for r in runs)))

print(f"\nThe analyzer on a generated trace: {size / 1e6:.0f} MB, {events / 1e6:.1f} M events, "
      f"4 threads of requests (task, 3 regions, log), {os.cpu_count()} CPUs, medians of 3\n")
print("| command | wall s | M events/s | MB/s | CPU s | M events/s per CPU s | peak RSS MB | "
      "RSS / trace |")
print("|---|---|---|---|---|---|---|---|")
for name, wall, cpu, rss in rows:
    print(f"| ctrace {name} | {wall:.2f} | {events / wall / 1e6:.1f} | {size / wall / 1e6:.0f} | "
          f"{cpu:.2f} | {events / cpu / 1e6:.1f} | {rss / 1e6:.0f} | {100 * rss / size:.1f} % |")
print("\ntargets: stats >= 100 M events/s per core, threads >= 30 M events/s, "
      "peak memory <= 10 % of the trace")

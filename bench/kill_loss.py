#!/usr/bin/env python3
"""kill_loss.py BUILD-DIR [RUNS] - what SIGKILL loses of a trace, and what
shorter generations would cost, for CTRACE_GENERATION_MS in 1000, 250 and
100, in rotation, RUNS times each (default 5).

Loss: tests/progs/sigdie (two threads sleeping 1 ms at a time, the main
thread 10 ms, printing a tick after each) traced, killed by SIGKILL at a
random time between 0.5 and 2.5 s; the main thread's sleeps missing from the
trace, against the ticks it printed, in ms (10 ms a sleep).

Cost: the same program ended by SIGALRM after 1 s (a complete trace): bytes
of trace per second; and pipe_bench 50k (a pipe ping-pong, the busiest of
the workloads in events per second): wall and CPU time traced.
Medians; a table in Markdown."""
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

build = sys.argv[1]
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 5
ctrace = os.path.join(build, "ctrace")
sigdie = os.path.join(build, "tests", "progs", "sigdie")
pipe_bench = os.path.join(build, "bench", "pipe_bench")
settings = [1000, 250, 100]


def env(ms):
    return dict(os.environ, CTRACE_GENERATION_MS=str(ms))


def main_sleeps(trace):
    s = subprocess.run([ctrace, "dump", trace], capture_output=True, text=True)
    pid = None
    n = 0
    for line in s.stdout.splitlines():
        f = line.split()
        if pid is None and line.startswith("# process"):
            pid = f[2]
        if len(f) > 3 and f[1] == pid and f[2] == "block" and "reason=sleep" in line:
            n += 1
    return n


def loss(ms, trace):
    p = subprocess.Popen([ctrace, "run", "--no-symbols", "-o", trace, "--", sigdie],
                         stdout=subprocess.PIPE, text=True, env=env(ms))
    assert p.stdout.readline().strip() == "ready"
    time.sleep(random.uniform(0.5, 2.5))
    with open(f"/proc/{p.pid}/task/{p.pid}/children") as f:
        os.kill(int(f.read().split()[0]), 9)
    ticks = p.stdout.read().count("tick\n")
    p.wait()
    return max(0, ticks - main_sleeps(trace)) * 10


def size_per_second(ms, trace):
    t0 = time.perf_counter()
    subprocess.run([ctrace, "run", "--no-symbols", "-o", trace, "--", sigdie, "alarm"],
                   capture_output=True, env=env(ms))
    return os.path.getsize(trace) / (time.perf_counter() - t0)


def pipe_cost(ms, trace):
    t0 = time.perf_counter()
    p = subprocess.Popen([ctrace, "run", "--no-symbols", "-o", trace, "--", pipe_bench, "50000"],
                         env=env(ms), stderr=subprocess.DEVNULL)
    _, _, usage = os.wait4(p.pid, 0)
    return time.perf_counter() - t0, usage.ru_utime + usage.ru_stime


got = {ms: {"loss": [], "bps": [], "wall": [], "cpu": []} for ms in settings}
with tempfile.TemporaryDirectory() as d:
    trace = os.path.join(d, "t")
    for _ in range(runs):
        for ms in settings:
            g = got[ms]
            g["loss"].append(loss(ms, trace))
            g["bps"].append(size_per_second(ms, trace))
            w, c = pipe_cost(ms, trace)
            g["wall"].append(w)
            g["cpu"].append(c)

print(f"SIGKILL and generation length, medians of {runs} runs\n")
print("| generation | lost at SIGKILL (ms, median / max) | trace bytes/s, idle-ish | "
      "pipe 50k wall (ms) | pipe 50k CPU (ms) |")
print("|---|---|---|---|---|")
for ms in settings:
    g = got[ms]
    print(f"| {ms} ms | {statistics.median(g['loss']):.0f} / {max(g['loss']):.0f} "
          f"| {statistics.median(g['bps']):.0f} | {statistics.median(g['wall']) * 1e3:.0f} "
          f"| {statistics.median(g['cpu']) * 1e3:.0f} |")

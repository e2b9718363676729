#!/usr/bin/env python3
"""ab_run.py NEW-BUILD OLD-BUILD RUNS CMD [ARGS...] - one program under two
builds of ctrace, side by side: untraced, then `ctrace run --no-symbols`
and `ctrace run --no-symbols --sched=off` of each build, in rotation, RUNS
times. Prints the median wall and CPU time (user + system of the children)
of each, and the wall ratio to untraced. For before/after figures on this
noisy VM, where only runs taken together compare."""
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    new, old, runs, cmd = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
    with tempfile.TemporaryDirectory() as d:
        trace = os.path.join(d, "t.out")
        modes = {"untraced": []}
        for name, build in (("new", new), ("old", old)):
            run = [os.path.join(build, "ctrace"), "run", "--no-symbols", "-o", trace]
            modes[f"{name} traced"] = run + ["--"]
            modes[f"{name} --sched=off"] = run + ["--sched=off", "--"]
        wall = {k: [] for k in modes}
        cpu = {k: [] for k in modes}
        for _ in range(runs):
            for name, prefix in modes.items():
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                t0 = time.perf_counter()
                subprocess.run(prefix + cmd, stdout=subprocess.DEVNULL, check=True)
                wall[name].append(time.perf_counter() - t0)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu[name].append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
        base = statistics.median(wall["untraced"])
        print(f"{' '.join(cmd)}: medians of {runs}, in rotation")
        for name in modes:
            w, c = statistics.median(wall[name]), statistics.median(cpu[name])
            print(f"  {name:<18} wall {w * 1e3:8.1f} ms  {w / base:6.3f}   CPU {c * 1e3:8.1f} ms")


main()

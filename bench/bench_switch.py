#!/usr/bin/env python3
"""bench_switch.py BUILD-DIR [RUNS] - what ctrace adds to each context
switch. A condvar ping-pong (bench/progs/condvar_bench: two threads hand a
turn back and forth, each handoff blocks one thread and wakes the other)
runs untraced, traced with `ctrace run --sched=off`, with --sched=exact
(every switch) and with the defaults (--sched=auto: after 100 ms of
switches this fast, schedstat samples instead), RUNS times (default 7) in rotation, free to run on any CPU and
pinned to CPU 0 (every handoff then two switches on one CPU, steadier).
The switches are the untraced run's own (voluntary + involuntary, from
wait4's rusage); the cost per switch is the difference of the medians over
them, in wall time and in CPU time (the program's and the tracer's
threads, and ctrace run itself). Then the kernel's part alone: a pipe
ping-pong with and without an inherited context-switch perf event
(bench/progs/switch_cost, the events ctrace opens, rings never read)."""
import os
import statistics
import subprocess
import sys
import tempfile
import time

build = os.path.abspath(sys.argv[1])
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 7
ctrace = os.path.join(build, "ctrace")
progs = os.path.join(build, "bench")
ROUNDS = 100000
MODES = ("untraced", "sched-off", "sched-exact", "defaults")


def measure(cmd, pinned):
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         preexec_fn=(lambda: os.sched_setaffinity(0, {0})) if pinned else None)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench_switch: {' '.join(cmd)} failed")
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_nvcsw + ru.ru_nivcsw


def command(mode, trace):
    prog = [os.path.join(progs, "condvar_bench"), str(ROUNDS)]
    if mode == "defaults":
        return [ctrace, "run", "--no-symbols", "-o", trace, "--"] + prog
    if mode == "sched-off":
        return [ctrace, "run", "--no-symbols", "--sched=off", "-o", trace, "--"] + prog
    if mode == "sched-exact":
        return [ctrace, "run", "--no-symbols", "--sched=exact", "-o", trace, "--"] + prog
    return prog


def kernel_part(pinned):
    """us a switch that the inherited perf event alone adds (2 switches a
    round trip when pinned; about that when free)."""
    got = {"none": [], "inherit": []}
    for _ in range(runs):
        for m in got:
            r = subprocess.run([os.path.join(progs, "switch_cost"), m, "20000"],
                               capture_output=True, text=True,
                               preexec_fn=(lambda: os.sched_setaffinity(0, {0})) if pinned
                               else None)
            if r.returncode == 0 and r.stdout.strip() not in ("", "-"):
                got[m].append(float(r.stdout))
    if not got["none"] or not got["inherit"]:
        return None
    return (statistics.median(got["inherit"]) - statistics.median(got["none"])) / 2


def main():
    pin_choices = (False, True) if hasattr(os, "sched_setaffinity") else (False,)
    print(f"context switches under ctrace: condvar ping-pong of {ROUNDS} rounds, medians of "
          f"{runs} runs in rotation\n")
    print("| CPUs | switches | untraced ms | --sched=off: wall us/switch | CPU us/switch "
          "| --sched=exact: wall us/switch | CPU us/switch "
          "| defaults: wall us/switch | CPU us/switch | kernel's record us/switch |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as d:
        trace = os.path.join(d, "t")
        for pinned in pin_choices:
            got = {m: [] for m in MODES}
            for i in range(runs):
                for m in MODES[i % len(MODES):] + MODES[:i % len(MODES)]:
                    got[m].append(measure(command(m, trace), pinned))
            switches = statistics.median(s for _, _, s in got["untraced"])
            base_w = statistics.median(w for w, _, _ in got["untraced"])
            base_c = statistics.median(c for _, c, _ in got["untraced"])
            cells = [f"{switches:.0f}", f"{base_w * 1e3:.0f}"]
            for m in MODES[1:]:
                w = statistics.median(w for w, _, _ in got[m])
                c = statistics.median(c for _, c, _ in got[m])
                cells.append(f"{(w - base_w) / switches * 1e6:+.2f}")
                cells.append(f"{(c - base_c) / switches * 1e6:+.2f}")
            k = kernel_part(pinned)
            cells.append(f"{k:+.2f}" if k is not None else "refused here")
            print(f"| {'one (pinned)' if pinned else 'any'} | " + " | ".join(cells) + " |")
    print("\n--sched=off: the wrappers' events alone (a condvar wait's block and unblock); "
          "--sched=exact adds the kernel's switch records and the writer's reading of them; "
          "the defaults turn to schedstat samples after the first 100 ms. "
          "The kernel's record: an inherited context-switch event against none, a pipe "
          "ping-pong (bench/progs/switch_cost).")


main()

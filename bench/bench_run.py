#!/usr/bin/env python3
"""bench_run.py BUILD-DIR [RUNS] - what `ctrace run` costs a program: each
workload untraced and traced, alternately, RUNS times (default 5); medians
of wall-clock and CPU time (user + system, all threads and children), and
their ratios, side by side in one run. When LTTng is installed (Debian
lttng-tools, liblttng-ust-dev: `scripts/deps.sh --bench`), each workload
also runs under LTTng-UST's pthread wrapper (LD_PRELOAD, every userspace
event enabled in a session of this run's), in the same rotation, and under
`ctrace run --sched=off` (no context switches: nearer what LTTng records).
A table in Markdown. BENCH_ROWS=WORD,WORD... runs only the workloads whose
names hold one of the words, and of the other measurements only those named
(uncontended, switch_cost, inherit_cost, closed_cost, symbols)."""
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
progs = os.path.join(build, "bench")


LTTNG_WRAPPER = "/usr/lib/x86_64-linux-gnu/liblttng-ust-pthread-wrapper.so.1"
lttng = None  # the LTTng session's directory, when LTTng is installed


def measure(cmd, traced, trace, stdout=subprocess.DEVNULL):
    env = None
    if traced == "lttng":
        env = dict(os.environ, LD_PRELOAD=LTTNG_WRAPPER)
    elif traced == "nosched":
        # Like for like with LTTng's wrapper, which records no scheduling.
        cmd = [ctrace, "run", "--no-symbols", "--sched=off", "-o", trace, "--"] + cmd
    elif traced == "symbols":
        cmd = [ctrace, "run", "-o", trace, "--"] + cmd
    elif traced:
        # The program's cost; the symbols ctrace run adds to the trace once
        # the program has ended are timed apart (symbols_cost).
        cmd = [ctrace, "run", "--no-symbols", "-o", trace, "--"] + cmd
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed")
    return wall, usage.ru_utime + usage.ru_stime


def events_of(trace):
    r = subprocess.run([ctrace, "stats", "--json", trace], capture_output=True, text=True)
    import json
    try:
        s = json.loads(r.stdout)
        return s["events_total"], s["bytes"]
    except (ValueError, KeyError):
        return 0, 0


only = [w for w in os.environ.get("BENCH_ROWS", "").split(",") if w]


def row(name, cmd, trace):
    if only and not any(w in name for w in only):
        return
    plain_wall, plain_cpu, traced_wall, traced_cpu, lt_wall, lt_cpu = [], [], [], [], [], []
    ns_wall = []
    for _ in range(runs):
        w, c = measure(cmd, False, trace)
        plain_wall.append(w)
        plain_cpu.append(c)
        w, c = measure(cmd, True, trace)
        traced_wall.append(w)
        traced_cpu.append(c)
        if lttng:
            w, c = measure(cmd, "lttng", trace)
            lt_wall.append(w)
            lt_cpu.append(c)
        ns_wall.append(measure(cmd, "nosched", trace)[0])
    events, size = events_of(trace)
    pw, pc = statistics.median(plain_wall), statistics.median(plain_cpu)
    tw, tc = statistics.median(traced_wall), statistics.median(traced_cpu)
    line = (f"| {name:<28} | {pw*1e3:9.1f} | {tw*1e3:9.1f} | {tw/pw:6.3f} | {pc*1e3:9.1f} "
            f"| {tc*1e3:9.1f} | {tc/pc if pc else 0:6.3f} | {events:>9} | {size/events if events else 0:5.2f} |"
            f" {statistics.median(ns_wall)/pw:6.3f} |")
    if lttng:
        lw, lc = statistics.median(lt_wall), statistics.median(lt_cpu)
        line += f" {lw/pw:6.3f} | {lc/pc if pc else 0:6.3f} |"
    print(line)


def symbols_cost(name, cmd, trace):
    """What adding the symbols at the end costs: ctrace run with them and
    without, alternately."""
    with_s, without = [], []
    for _ in range(runs):
        without.append(measure(cmd, True, trace)[0])
        with_s.append(measure(cmd, "symbols", trace)[0])
    d = statistics.median(with_s) - statistics.median(without)
    noise = " (below the noise of this run)" if d < 0 else ""
    print(f"\nsymbols added to the trace when the program ends ({name}): {d * 1e3:+.0f} ms of "
          f"ctrace run's time{noise} (--no-symbols skips it)")


def uncontended(trace):
    cmd = [os.path.join(progs, "mutex_bench"), "uncontended", "20000000"]
    plain, traced = [], []
    for _ in range(runs):
        plain.append(float(subprocess.run(cmd, capture_output=True, text=True).stdout))
        traced.append(float(subprocess.run(
            [ctrace, "run", "--no-symbols", "-o", trace, "--"] + cmd,
            capture_output=True, text=True).stdout))
    p, t = statistics.median(plain), statistics.median(traced)
    print(f"\nuncontended mutex lock+unlock pair: {p:.2f} ns untraced, {t:.2f} ns traced: "
          f"+{t - p:.2f} ns (target <= 3)")


def switch_cost():
    """What a perf event costs a thread's context switches, apart from ctrace
    (bench/progs/switch_cost.c), the modes in rotation; once free to run on
    any CPU, once with both threads pinned to CPU 0 (every round trip is
    then two context switches, and the figures are steadier)."""
    modes = ["none", "thread", "dummy", "cpu", "inherit", "inherit-dummy"]
    pinned = hasattr(os, "sched_setaffinity")
    got = {(m, p): [] for m in modes for p in (False, True)}
    for _ in range(runs):
        for p in ((False, True) if pinned else (False,)):
            for m in modes:
                r = subprocess.run([os.path.join(progs, "switch_cost"), m, "20000"],
                                   capture_output=True, text=True,
                                   preexec_fn=(lambda: os.sched_setaffinity(0, {0})) if p
                                   else None)
                if r.returncode == 0 and r.stdout.strip() != "-":
                    got[(m, p)].append(float(r.stdout))
    print("\ncontext switches with a perf event on the thread (a pipe ping-pong, us a round "
          "trip, median of %d; free / pinned to one CPU):" % runs)

    def fig(m, p):
        if not got[(m, p)] or not got[("none", p)]:
            return "refused here"
        v, base = statistics.median(got[(m, p)]), statistics.median(got[("none", p)])
        return f"{v:.2f} us (+{v - base:.2f})" if m != "none" else f"{v:.2f} us"

    for m, what in (("none", "no event"),
                    ("thread", "a context-switch event per thread"),
                    ("dummy", "an event per thread recording nothing"),
                    ("cpu", "a context-switch event per CPU for the machine (privileged)"),
                    ("inherit", "a context-switch event per CPU, inherited by the "
                                "process's new threads (ctrace's)"),
                    ("inherit-dummy", "the same inherited events recording nothing")):
        print(f"  {what}: {fig(m, False)}" + (f" / {fig(m, True)}" if pinned else ""))


def inherit_cost():
    """What inherited perf events cost a thread's creation (ctrace run
    opens one per CPU; every clone copies each): bench/progs/inherit_cost.c
    with 0 to 64 events, in rotation."""
    counts = [0, 2, 8, 32, 64]
    got = {k: [] for k in counts}
    for _ in range(runs):
        for k in counts:
            r = subprocess.run([os.path.join(progs, "inherit_cost"), str(k), "2000"],
                               capture_output=True, text=True)
            if r.returncode == 0:
                got[k].append(float(r.stdout))
    if not got[0]:
        return
    base = statistics.median(got[0])
    print("\na thread made and joined with inherited context-switch events on its creator "
          "(us a thread, median of %d):" % runs)
    for k in counts:
        if got[k]:
            v = statistics.median(got[k])
            print(f"  {k:2} events: {v:.1f} us (+{v - base:.1f})")
        else:
            print(f"  {k:2} events: refused here")


def closed_cost():
    """What inherited context-switch events cost two threads' handoffs on
    one CPU once closed (as --sched=auto closes them): bench/progs/closed_cost.c
    in each mode, in rotation."""
    modes = [("none", "never any"), ("closed", "inherited, closed just before"),
             ("later", "inherited, closed 1.5 s before"),
             ("before", "opened and closed before the threads were made"),
             ("open", "inherited and open, the rings never read")]
    got = {m: [] for m, _ in modes}
    for _ in range(runs):
        for m, _ in modes:
            r = subprocess.run(["taskset", "-c", "0", os.path.join(progs, "closed_cost"), m, "30000"],
                               capture_output=True, text=True)
            if r.returncode == 0:
                got[m].append(float(r.stdout))
    if not got["none"]:
        return
    print("\ntwo threads handing a turn to each other on one CPU, by their context-switch "
          "events (ns a handoff, median of %d):" % runs)
    for m, what in modes:
        print(f"  {what}: " + (f"{statistics.median(got[m]):.0f}" if got[m] else "refused here"))


def lttng_start(d):
    """A session recording every userspace event into d; None without LTTng."""
    if not (os.path.exists("/usr/bin/lttng") and os.path.exists(LTTNG_WRAPPER)):
        return None
    subprocess.run(["lttng-sessiond", "--daemonize", "--no-kernel"], capture_output=True)
    out = os.path.join(d, "lttng")
    steps = [["lttng", "create", "ctrace-bench", f"--output={out}"],
             ["lttng", "enable-event", "-u", "-a"], ["lttng", "start"]]
    for step in steps:
        if subprocess.run(step, capture_output=True).returncode != 0:
            subprocess.run(["lttng", "destroy", "ctrace-bench"], capture_output=True)
            return None
    return out


with tempfile.TemporaryDirectory() as d:
    trace = os.path.join(d, "t.out")
    lttng = lttng_start(d)
    rnd = random.Random(42)
    words = ["".join(rnd.choice("abcdefghij") for _ in range(rnd.randint(3, 9)))
             for _ in range(5000)]
    data = os.path.join(d, "data")
    with open(data, "w") as f:
        for _ in range(2700):
            f.write(" ".join(rnd.choice(words) for _ in range(20000)) + "\n")
    lines = os.path.join(d, "lines")
    with open(lines, "w") as f:
        for _ in range(1000000):
            f.write(f"{rnd.randrange(10**9):09d} {rnd.choice(words)}\n")
    os.environ["LC_ALL"] = "C"
    print(f"`ctrace run` overhead: medians of {runs} runs each, untraced and traced "
          f"alternately; ms\n")
    print("| workload                     | wall      | traced    | ratio  | CPU       "
          "| traced    | ratio  | events    | B/ev  | --sched=off wall ratio |" +
          (" LTTng wall ratio | LTTng CPU ratio |" if lttng else ""))
    print("|------------------------------|-----------|-----------|--------|-----------"
          "|-----------|--------|-----------|-------|--------|" + ("--------|--------|" if lttng else ""))
    row("mutex, 4 threads x 500k", [os.path.join(progs, "mutex_bench"), "500000"], trace)
    row("condvar ping-pong, 50k", [os.path.join(progs, "condvar_bench"), "50000"], trace)
    row("pipe ping-pong, 50k", [os.path.join(progs, "pipe_bench"), "50000"], trace)
    row("threads made and joined, 3000", [os.path.join(progs, "churn_bench"), "3000"], trace)
    row("pigz -p 2, 50 MB", ["pigz", "-p", "2", "-c", data], trace)
    row("sort --parallel=2 -S 64M, 1M lines",
        ["sort", "--parallel=2", "-S", "64M", lines], trace)
    if not only or "uncontended" in only:
        uncontended(trace)
    if not only or "switch_cost" in only:
        switch_cost()
    if not only or "inherit_cost" in only:
        inherit_cost()
    if not only or "closed_cost" in only:
        closed_cost()
    if not only or "symbols" in only:
        symbols_cost("sort", ["sort", "--parallel=2", "-S", "64M", lines], trace)
    if lttng:
        subprocess.run(["lttng", "destroy", "ctrace-bench"], capture_output=True)
        print("\nLTTng: the same workloads with LD_PRELOAD=liblttng-ust-pthread-wrapper.so.1 "
              "and every userspace event enabled in a session (the ratios are to untraced).")
    else:
        print("\nLTTng-UST is not installed here: its column is left out "
              "(../shared/ANCHORS.md has its figures on this machine).")
    print("--sched=off: ctrace run without the kernel's context switches, in the same "
          "rotation (LTTng's wrapper records none).")

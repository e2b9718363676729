#!/usr/bin/env python3
"""analysis_test.py CTRACE PROGS-DIR BASICS - the analyses on traces with
known content: `ctrace threads` (columns that add up to each lifetime,
sleeps and condvar waits where they belong) and `ctrace tasks` / `ctrace
regions` (exact counts, durations within what the programs did)."""
import json
import os
import re as _re
import subprocess
import sys
import tempfile

from checks import check, finish

ctrace, progs, basics = sys.argv[1], sys.argv[2], sys.argv[3]
COLUMNS = ["execution_ns", "network_wait_ns", "sync_block_ns", "syscall_ns", "sched_wait_ns",
           "sleep_ns", "other_ns"]


def js(*args):
    r = subprocess.run([ctrace, *args], capture_output=True, text=True, timeout=120)
    check(" ".join(args[:1]) + " exit", r.returncode == 0, r.stderr)
    return json.loads(r.stdout) if r.returncode == 0 else None


with tempfile.TemporaryDirectory() as d:
    out = os.path.join(d, "t.out")
    subprocess.run([ctrace, "run", "-o", out, "--", os.path.join(progs, "sleepers")], check=True)
    rows = js("threads", "--json", out)
    for r in rows:
        total = sum(r[c] for c in COLUMNS)
        check(f"sleepers {r['tid']} columns add up", total == r["total_ns"], (total, r))
        check(f"sleepers {r['tid']} total is its lifetime",
              abs(r["total_ns"] - (r["end_ns"] - r["begin_ns"])) <= r["total_ns"] * 0.001, r)
    sleepers = [r for r in rows if r["name"].startswith("sleeper-")]
    check("sleepers three rows", len(sleepers) == 3, rows)
    for r in sleepers:
        # Ten sleeps of 1 ms, each from its switch off the CPU to its end
        # (no run-queue wait is put before a sleep's end): 10 ms but the
        # time from each call to its switch, which a preemption there makes
        # longer on a loaded machine (a sanitizer build beside other tests),
        # where each sleep's wake-up can also wait many times over.
        check(f"{r['name']} slept its 10 ms", 9_000_000 <= r["sleep_ns"] <= 2_000_000_000, r)
        check(f"{r['name']} mostly asleep", r["sleep_ns"] > r["execution_ns"], r)
        check(f"{r['name']} has its start function by name", r["start_function"] == "sleeper", r)
    # A trace recorded so under load: sleeper-1's wake-up by its creation
    # (the kernel's clock) is stamped 7 ns before its thread_runnable (the
    # TSC); it is still created in the trace, with no execution before it.
    fixture = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fuzz", "corpus",
                           "woken-before-runnable.trace")
    rows = {r["name"]: r for r in js("threads", "--json", fixture)}
    one = rows.get("sleeper-1", {})
    check("a creation woken before its thread_runnable: created in the trace",
          one.get("start_function") != "" and one.get("begin_ns") == 434004, one)
    check("a creation woken before its thread_runnable: no execution before it",
          one.get("execution_ns", 1 << 40) < 200_000 and one.get("other_ns") == 0, one)
    # The scheduler latency profile: each sleeper's wait for its first run
    # is at the stack that created it (main, at its pthread_create, line 34),
    # as Go's puts a new goroutine's at its go statement.
    prof = os.path.join(d, "sched.pb")
    r = subprocess.run([ctrace, "pprof", "--type=sched", "-o", prof, out], capture_output=True,
                       text=True)
    check("pprof --type=sched of the sleepers", r.returncode == 0, r.stderr)
    go = subprocess.run(["go", "tool", "pprof", "-traces", "-lines", "-sample_index=contentions",
                         prof], capture_output=True, text=True)
    created = _re.search(r"(\d+)\s+main \S*sleepers\.c:34\n", go.stdout)
    check("sched profile: the sleepers' waits for their first run at their creation, 3 of them",
          created is not None and int(created.group(1)) >= 3, go.stdout[-1500:] + go.stderr)

    subprocess.run([ctrace, "run", "-o", out, "--", os.path.join(progs, "condvar_pingpong")],
                   check=True, capture_output=True)
    rows = js("threads", "--json", out)
    players = [r for r in rows if r["sync_block_ns"] > 0]
    check("pingpong both threads blocked on sync", len(players) == 2, rows)
    for r in players:
        check(f"pingpong {r['tid']} condvar time", r["sync_by_primitive_ns"].get("cond", 0) > 0, r)
        check(f"pingpong {r['tid']} columns add up",
              sum(r[c] for c in COLUMNS) == r["total_ns"], r)

    trace = os.path.join(d, "basics.out")
    subprocess.run([basics, "-o", trace], check=True, capture_output=True)
    tasks = {t["type"]: t for t in js("tasks", "--json", trace)}
    check("tasks by type", set(tasks) == {"main", "processOrder"}, tasks.keys())
    if "processOrder" in tasks:
        t = tasks["processOrder"]
        check("200 processOrder tasks", t["count"] == 200 and t["unfinished"] == 0, t)
        check("task percentiles ordered",
              t["min_ns"] <= t["p50_ns"] <= t["p90_ns"] <= t["p99_ns"] <= t["max_ns"], t)
        check("task at least its work (100 us)", t["min_ns"] >= 97_000, t)
    regions = {r["type"]: r for r in js("regions", "--json", trace)}
    # The work is timed with CLOCK_MONOTONIC, regions with the TSC: on a VM
    # whose CPUs' TSCs differ a little, a region that migrates may read up
    # to a few microseconds short.
    for name, least in [("authentication", 20_000), ("businessLogic", 50_000),
                        ("responseRender", 30_000)]:
        r = regions.get(name, {})
        check(f"200 {name} regions", r.get("count") == 200, r)
        check(f"{name} at least its work", r.get("min_ns", 0) >= least - 3000, r)
    each = js("tasks", "--json", "--type=processOrder", trace)
    check("200 processOrder tasks listed", each and len(each) == 200, len(each or []))
    for t in (each or [])[:200]:
        ok = (t["logs"] == 1 and t["regions"] == 3 and len(t["threads"]) == 2 and
              0 < t["execution_ns"] <= t["duration_ns"])
        if not ok:
            check("a processOrder task: 1 log, 3 regions, 2 threads, execution within it", False, t)
            break
    else:
        check("each processOrder task: 1 log, 3 regions, 2 threads, execution within it", True)
    text = subprocess.run([ctrace, "tasks", trace], capture_output=True, text=True).stdout
    check("tasks text has a histogram", "#" in text and "processOrder" in text, text)

    # The export follows the Trace Event Format's rules.
    def export(trace):
        r = subprocess.run([ctrace, "export", "--format=chrome", trace], capture_output=True,
                           text=True, timeout=120)
        check("export exit", r.returncode == 0, r.stderr)
        return json.loads(r.stdout)["traceEvents"]

    def valid(events, name):
        ok = True
        for e in events:
            ok &= e.get("ph") in ("X", "b", "e", "i", "C", "M", "s", "f")
            if e["ph"] != "M":
                ok &= isinstance(e.get("ts"), (int, float)) and "pid" in e
            if e["ph"] == "X":
                ok &= e.get("dur", -1) >= 0
        check(f"{name}: every event well formed", ok)
        ids = {}
        for e in events:
            if e["ph"] in ("b", "e", "s", "f"):
                ids.setdefault((e["ph"] in "be", e["id"]), []).append(e["ph"])
        check(f"{name}: async and flow events pair up",
              all(sorted(v) in (["b", "e"], ["f", "s"]) for v in ids.values()),
              [v for v in ids.values() if sorted(v) not in (["b", "e"], ["f", "s"])][:3])
        tracks = {}
        for e in events:
            if e["ph"] == "X":
                tracks.setdefault((e["pid"], e["tid"], e["cat"]), []).append(
                    (e["ts"], e["ts"] + e["dur"]))
        nested = True
        for spans in tracks.values():
            spans.sort(key=lambda s: (s[0], -s[1]))
            stack = []
            for b, en in spans:
                while stack and stack[-1] <= b + 1e-3:
                    stack.pop()
                if stack and en > stack[-1] + 1e-3:
                    nested = False
                stack.append(en)
        check(f"{name}: slices on a track nest", nested)

    ev = export(trace)
    valid(ev, "basics export")
    check("basics export: 600 region slices",
          sum(1 for e in ev if e["ph"] == "X" and e.get("cat") == "region") == 600)
    check("basics export: 201 tasks", sum(1 for e in ev if e["ph"] == "b") == 201)
    check("basics export: 200 logs", sum(1 for e in ev if e["ph"] == "i") == 200)
    subprocess.run([ctrace, "run", "-o", out, "--", os.path.join(progs, "condvar_pingpong")],
                   check=True, capture_output=True)
    ev = export(out)
    valid(ev, "pingpong export")
    check("pingpong export: a flow for each condvar handoff",
          sum(1 for e in ev if e["ph"] == "s") >= 2000)
    check("pingpong export: CPU tracks", any(e.get("cat") == "cpu" for e in ev))

    # pprof: the sync profile of the ping-pong, read back by go tool pprof.
    prof = os.path.join(d, "sync.pb.gz")
    r = subprocess.run([ctrace, "pprof", "--type=sync", "-o", prof, out], capture_output=True,
                       text=True)
    check("pprof exit", r.returncode == 0, r.stderr)
    m = __import__("re").search(r"(\d+) contentions, ([0-9.]+) ms of delay", r.stderr)
    check("pprof says what it wrote", m is not None, r.stderr)
    go = subprocess.run(["go", "tool", "pprof", "-top", "-sample_index=delay", prof],
                        capture_output=True, text=True, timeout=120)
    check("go tool pprof reads it", go.returncode == 0, go.stderr)
    # Named from the symbols: main, and take_turn (inlined into both threads'
    # functions). The second thread's waits can be all but none of the sync
    # profile: a run where the two threads meet on two CPUs hands off in
    # microseconds, and its off-CPU time is mostly the wait for a CPU.
    check("function names from the symbols", " main" in go.stdout and "take_turn" in go.stdout,
          go.stdout)
    # The leaf of each stack names the primitive: the ping-pong's condvar
    # waits end in pthread_cond_wait (flat: nothing else is a leaf there).
    flat = {l.split()[-1]: l.split()[0] for l in go.stdout.splitlines()
            if l.strip() and l.split()[-1] in ("pthread_cond_wait", "second", "main")}
    check("the leaves name the primitive: pthread_cond_wait",
          "pthread_cond_wait" in flat and not flat["pthread_cond_wait"].startswith("0")
          and flat.get("second", "0").startswith("0"), go.stdout[:600])
    # pprof picks the unit by the total's size: ns, us, ms or s.
    total = __import__("re").search(r"Total samples = ([0-9.]+)(ns|us|ms|s)\b", go.stdout)
    scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}
    go_ms = float(total.group(1)) * scale[total.group(2)] if total else -1
    check("go tool pprof's total is ours",
          m and total and abs(go_ms - float(m.group(2))) <= 0.01 + 0.001 * float(m.group(2)),
          (go.stdout[:300], r.stderr))
    go = subprocess.run(["go", "tool", "pprof", "-top", "-sample_index=contentions", prof],
                        capture_output=True, text=True, timeout=120)
    check("contentions: at least the 2000 condvar waits",
          m and int(m.group(1)) >= 2000, r.stderr)
    for kind in ("net", "syscall", "sched"):
        r = subprocess.run([ctrace, "pprof", f"--type={kind}", "-o", prof, out],
                           capture_output=True, text=True)
        check(f"pprof --type={kind}", r.returncode == 0, r.stderr)
    r = subprocess.run([ctrace, "pprof", "--type=bogus", out], capture_output=True, text=True)
    check("pprof bad type is usage", r.returncode == 2)

# Inlined frames: the sleep is in nap_inline, inlined into napper; the
# stack goes on to start_thread, with frame pointers and without them
# (from .eh_frame), and what it holds is named right.
with tempfile.TemporaryDirectory() as d:
    for prog, whole in (("inliner", True), ("inliner_nofp", True)):
        out = os.path.join(d, prog + ".out")
        subprocess.run([ctrace, "run", "-o", out, "--", os.path.join(progs, prog)], check=True,
                       capture_output=True)
        r = subprocess.run([ctrace, "stats", out], capture_output=True, text=True, timeout=60)
        site = _re.search(r"blocks  sleep\n((?:      .*\n)+)", r.stdout)
        # The site's frames, up to the next site's header (sites of about
        # the same total may come in either order).
        lines = "".join(_re.split(r"(?m)^ +[\d.]+ \w+ +\d+ blocks .*\n", site.group(1))[:1]) \
            if site else ""
        frames = [l.split()[0] for l in lines.splitlines()]
        check(f"{prog}: the inlined function, at its line", frames[:1] == ["nap_inline"] and
              "inliner.c:10" in lines, r.stdout[-500:])
        check(f"{prog}: then the function it was inlined into, at the call",
              frames[1:2] == ["napper"] and "inliner.c:16" in lines, r.stdout[-500:])
        if whole:
            check(f"{prog}: then the thread's start", "start_thread" in frames, frames)
        else:
            check(f"{prog}: no frame named wrong", set(frames) <= {"nap_inline", "napper",
                  "start_thread", "clone3"}, frames)

# The mutex wrappers have no frame of their own (their slow paths are tail
# calls): a contended lock's stack still starts at the program's call.
with tempfile.TemporaryDirectory() as d:
    out = os.path.join(d, "mutex.out")
    subprocess.run([ctrace, "run", "-o", out, "--", os.path.join(progs, "mutex_contention")],
                   check=True, capture_output=True)
    r = subprocess.run([ctrace, "stats", out], capture_output=True, text=True, timeout=60)
    site = _re.search(r"blocks  mutex\n +(\S+) (\S+)\n +(\S+)", r.stdout)
    check("mutex block stack: the program's call, then the thread's start",
          site and site.group(1) == "work" and site.group(2).endswith("mutex_contention.c:22")
          and site.group(3) == "start_thread", r.stdout[-600:])

# Symbols embedded by ctrace run: the trace reads with names after the
# program is gone (as on another machine), and without them it does not.
import shutil
with tempfile.TemporaryDirectory() as d:
    for embed in (True, False):
        prog = os.path.join(d, "gone")
        shutil.copy(os.path.join(progs, "inliner"), prog)
        out = os.path.join(d, "t.out")
        subprocess.run([ctrace, "run", "-o", out] + ([] if embed else ["--no-symbols"]) +
                       ["--", prog], check=True, capture_output=True)
        os.unlink(prog)
        r = subprocess.run([ctrace, "stats", out], capture_output=True, text=True, timeout=60)
        named = "nap_inline " in r.stdout and "inliner.c:" in r.stdout and "napper " in r.stdout
        if embed:
            check("embedded symbols: names and lines without the program", r.returncode == 0
                  and named and "warning" not in r.stderr, r.stdout[-600:] + r.stderr)
            d2 = subprocess.run([ctrace, "dump", out], capture_output=True, text=True)
            check("embedded symbols: format 1.8", "format 1.8" in d2.stdout, d2.stdout[:80])
            t = subprocess.run([ctrace, "threads", out], capture_output=True, text=True)
            check("embedded symbols: threads names the start function without the program",
                  "napper (" in t.stdout, t.stdout)
        else:
            check("--no-symbols: module and offset only, once the program is gone",
                  r.returncode == 0 and not named and "gone+0x" in r.stdout, r.stdout[-600:])

finish()

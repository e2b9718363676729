#!/usr/bin/env python3
"""integration_test.py CTRACE - `ctrace run` on real programs from Debian
packages that know nothing of ctrace: pigz -p 2 on a generated 50 MB file,
and sort --parallel=2 on generated lines. Their output must be what it is
untraced, and every thread they create must be in the trace: created,
started, blocking, exited."""
import json
import os
import random
import re
import subprocess
import sys
import tempfile

from checks import check, finish

ctrace = sys.argv[1]


def events(path):
    r = subprocess.run([ctrace, "dump", path], capture_output=True, text=True, timeout=300)
    check(f"dump {os.path.basename(path)}", r.returncode == 0, r.stderr[-500:])
    out = []
    tracer = set()
    for line in r.stdout.splitlines():
        m = re.match(r'# thread (\d+) ".*" .*tracer', line)
        if m:
            tracer.add(int(m.group(1)))
        if line.startswith("#"):
            continue
        p = line.split(" ", 3)
        out.append((int(p[1]), p[2], p[3] if len(p) > 3 else ""))
    return [e for e in out if e[0] not in tracer]


def threads_complete(evs, name, trace):
    created = sum(1 for e in evs if e[1] == "thread_create")
    started = {e[0] for e in evs if e[1] == "thread_start"}
    exited = {e[0] for e in evs if e[1] == "thread_exit"}
    blocked = {e[0] for e in evs if e[1] in ("block", "syscall")}
    check(f"{name} creates threads", created >= 2, created)
    check(f"{name} every created thread started", len(started) == created, (len(started), created))
    check(f"{name} every started thread exited", started <= exited, started - exited)
    check(f"{name} threads blocked", len(blocked & started) >= 1, blocked)
    # Each thread's execution time and blocking, from the thread analysis.
    r = subprocess.run([ctrace, "threads", "--json", trace], capture_output=True, text=True)
    check(f"{name} threads exit", r.returncode == 0, r.stderr)
    rows = {row["tid"]: row for row in json.loads(r.stdout)} if r.returncode == 0 else {}
    check(f"{name} every started thread has a row", started <= set(rows), started - set(rows))
    cols = ["execution_ns", "network_wait_ns", "sync_block_ns", "syscall_ns", "sched_wait_ns",
            "sleep_ns", "other_ns"]
    for tid in started & set(rows):
        row = rows[tid]
        check(f"{name} {tid} ran", row["execution_ns"] > 0, row)
        check(f"{name} {tid} columns add up", sum(row[c] for c in cols) == row["total_ns"], row)


with tempfile.TemporaryDirectory() as d:
    data = os.path.join(d, "data")
    rnd = random.Random(42)
    words = [("".join(rnd.choice("abcdefghij") for _ in range(rnd.randint(3, 9)))).encode()
             for _ in range(5000)]
    with open(data, "wb") as f:
        written = 0
        while written < 50 * 1024 * 1024:
            chunk = b" ".join(rnd.choice(words) for _ in range(20000)) + b"\n"
            f.write(chunk)
            written += len(chunk)
    trace = os.path.join(d, "pigz.out")
    plain = subprocess.run(["pigz", "-p", "2", "-c", data], capture_output=True, timeout=300)
    traced = subprocess.run([ctrace, "run", "-o", trace, "--", "pigz", "-p", "2", "-c", data],
                            capture_output=True, timeout=300)
    check("pigz exit", traced.returncode == 0, traced.stderr[-300:])
    check("pigz output unchanged", plain.stdout == traced.stdout)
    threads_complete(events(trace), "pigz", trace)

    lines = os.path.join(d, "lines")
    with open(lines, "w") as f:
        for i in range(400000):
            f.write(f"{rnd.randrange(10**9):09d} {rnd.choice(words).decode()}\n")
    trace = os.path.join(d, "sort.out")
    env = dict(os.environ, LC_ALL="C")
    plain = subprocess.run(["sort", "--parallel=2", "-S", "64M", lines], capture_output=True,
                           env=env, timeout=300)
    traced = subprocess.run([ctrace, "run", "-o", trace, "--", "sort", "--parallel=2", "-S",
                             "64M", lines], capture_output=True, env=env, timeout=300)
    check("sort exit", traced.returncode == 0, traced.stderr[-300:])
    check("sort output unchanged", plain.stdout == traced.stdout)
    evs = events(trace)
    created = sum(1 for e in evs if e[1] == "thread_create")
    check("sort creates threads", created >= 1, created)
    started = {e[0] for e in evs if e[1] == "thread_start"}
    check("sort every created thread started", len(started) == created, (len(started), created))

finish()

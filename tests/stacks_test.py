#!/usr/bin/env python3
"""stacks_test.py CTRACE PROGS-DIR - stacks of programs built without frame
pointers, as Debian builds its packages: tests/progs/nofp_workers (C),
cxx_workers (C++ std::thread, std::mutex, std::condition_variable) and
nofp_regions (annotations) are built -O2 -fomit-frame-pointer; and Debian's
own pigz. Their blocking events' stacks must name the whole call chain,
their number must be the program's number of call sites (not one per
event, as garbage read from frame pointers that are not ones gives), no
frame may lie outside an executable segment, and `ctrace run` must say,
once, that the program has no frame pointers and what its stacks cost."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from checks import check, finish
from elfcode import frames_outside_code, names

ctrace, progs = sys.argv[1], sys.argv[2]


def run(cmd, out, **kw):
    return subprocess.run([ctrace, "run", "-o", out, "--", *cmd], capture_output=True, text=True,
                          timeout=300, **kw)


def events_with_stacks(trace):
    """(kind, reason or call, stack id) of the events that have a stack."""
    r = subprocess.run([ctrace, "dump", trace], capture_output=True, text=True, timeout=120)
    out = []
    for line in r.stdout.splitlines():
        m = re.match(r"\d+ \d+ (\w+) (?:(?:reason|call)=(\w+) )?.*\bstack=(\d+)$", line)
        if m:
            out.append((m.group(1), m.group(2), int(m.group(3))))
    return out


def dir_lines(d):
    """The lines of the files in d, sorted."""
    lines = []
    for name in os.listdir(d):
        with open(os.path.join(d, name)) as f:
            lines += f.read().splitlines()
    return sorted(lines)


def bare(name):
    """A function's name without the compiler's clone suffixes."""
    return name.split(".")[0]


def chain(modules, stacks, sid):
    return [bare(n) for n in names(modules, stacks[sid])]


def sites_check(name, modules, stacks, count, sites):
    """Every stack is one of the program's call sites, each site has at
    most as many stacks as it has calls, and the program's stacks are
    those (not one per event, as garbage frames would make them). sites:
    (the first frames' names, each a part of the name; how many calls
    there are of that chain; whether one must have blocked), the longer
    chains first."""
    found = [0] * len(sites)
    strays = []
    for sid in stacks:
        c = names(modules, stacks[sid])
        for i, (parts, calls, needed) in enumerate(sites):
            if len(c) >= len(parts) and all(p in f for p, f in zip(parts, c)):
                found[i] += 1
                break
        else:
            strays.append(c)
    check(f"{name}: every stack is one of the program's call sites", not strays, strays)
    check(f"{name}: no more stacks at a site than its calls",
          all(n <= calls for n, (_, calls, _) in zip(found, sites)), (found, sites))
    check(f"{name}: the sites that block every run have their stacks",
          all(n > 0 for n, (_, _, needed) in zip(found, sites) if needed), (found, sites))
    check(f"{name}: as many stacks as the program has, not one per event",
          count == len(stacks) <= sum(calls for _, calls, _ in sites), (count, len(stacks)))


def said_unwound(stderr, prog):
    lines = [l for l in stderr.splitlines() if "built without frame pointers" in l]
    return len(lines) == 1 and prog in lines[0] and \
        re.search(r"\d+ stacks were unwound from \.eh_frame tables instead, [\d.]+ us each",
                  lines[0]) is not None


with tempfile.TemporaryDirectory() as d:
    # C: each blocking call at a known depth of named functions.
    out = os.path.join(d, "workers.out")
    r = run([os.path.join(progs, "nofp_workers")], out)
    check("nofp_workers runs", r.returncode == 0, r.stderr)
    check("nofp_workers: ctrace run says, once, it has no frame pointers and the cost",
          said_unwound(r.stderr, "nofp_workers"), r.stderr)
    bad, stacks, modules = frames_outside_code(ctrace, out)
    check("nofp_workers: no frame outside an executable segment", not bad, bad)
    # A child's trace an earlier run left beside FILE is not this run's:
    # ctrace run says nothing of it (nor adds symbols to it).
    again = os.path.join(d, "again.out")
    r = run(["sh", "-c", os.path.join(progs, "nofp_workers")], again)
    left = [f for f in os.listdir(d) if f.startswith("again.out.")]
    check("sh -c nofp_workers: its child's trace beside FILE, and said", r.returncode == 0 and
          len(left) == 1 and "frame pointers" in r.stderr, (left, r.stderr))
    r = run(["/bin/true"], again)
    check("a run of true into the same FILE says nothing of the child left by the one before",
          r.returncode == 0 and "frame pointers" not in r.stderr, r.stderr)
    evs = events_with_stacks(out)
    seen = {}
    for kind, why, sid in evs:
        seen.setdefault((kind, why), set()).add(sid)
    # (The C library's local symbols, start_thread's, are not in its file:
    # "libc" is a frame in it.)
    expect = {
        ("block", "cond"): ["wait_for_job", "take_job", "worker_main", "libc"],
        ("syscall", "read"): ["read_line", "reader_main", "libc"],
        ("block", "sleep"): ["nap", "feed_jobs", "main", "__libc_start_main"],
        ("thread_create", None): ["start_pool", "main", "__libc_start_main"],
    }
    for key, want in expect.items():
        sids = seen.get(key, set())
        got = [chain(modules, stacks, s) for s in sids]
        # The stack starts at the program's call (the wrappers leave out
        # their own frames); the outermost named frame may come after the
        # C library's unnamed ones.
        ok = bool(got) and all(g[:len(want) - 1] == want[:-1] and want[-1] in g[len(want) - 1:]
                               for g in got)
        check(f"nofp_workers: {key[0]} {key[1] or ''} stack names the whole chain", ok,
              (want, got))
    # Our own symbolizer names the same chain (ctrace stats, from the symbols
    # ctrace run embedded).
    st = json.loads(subprocess.run([ctrace, "stats", "--json", out], capture_output=True,
                                   text=True).stdout)
    cond = [s for s in st["top_block_sites"] if s["reason"] == "cond"]
    named = [bare(f.split(" ")[0]) for f in cond[0]["stack"]] if cond else []
    check("nofp_workers: ctrace stats names the condvar wait's chain",
          named[:4] == ["wait_for_job", "take_job", "worker_main", "start_thread"], named)
    # Its call sites: those that block every run, and those that may (a
    # contended lock, a slow write, a join, main's printf).
    sites_check("nofp_workers", modules, stacks, st["stacks"], [
        (["wait_for_job", "take_job", "worker_main"], 1, True),
        (["take_job", "worker_main"], 1, False),
        (["read_line", "reader_main"], 1, True),
        (["start_pool", "main"], 2, True),
        (["nap", "feed_jobs", "main"], 1, True),
        (["feed_jobs", "main"], 2, False),   # its lock, its write
        (["finish", "main"], 2, False),
        (["main"], 3, False),                # its lock, close, printf
    ])

    # C++: waits inside libstdc++ and glibc, reached through templates.
    out = os.path.join(d, "cxx.out")
    r = run([os.path.join(progs, "cxx_workers")], out)
    check("cxx_workers runs", r.returncode == 0 and r.stdout.strip() == str(sum(range(5000))),
          r.stdout + r.stderr)
    check("cxx_workers: ctrace run says it has no frame pointers", said_unwound(r.stderr,
          "cxx_workers"), r.stderr)
    bad, stacks, modules = frames_outside_code(ctrace, out)
    check("cxx_workers: no frame outside an executable segment", not bad, bad)
    st = json.loads(subprocess.run([ctrace, "stats", "--json", out], capture_output=True,
                                   text=True).stdout)
    sites = {s["reason"]: [bare(f.split(" ")[0]) for f in s["stack"]]
             for s in st["top_block_sites"]}
    cond = sites.get("cond", [])
    check("cxx_workers: the condvar wait: consume, then the thread's start",
          "consume" in cond and "start_thread" in cond[cond.index("consume"):]
          if "consume" in cond else False, cond)
    sleep = sites.get("sleep", [])
    check("cxx_workers: the sleep: produce, then main",
          "produce" in sleep and "main" in sleep[sleep.index("produce"):]
          if "produce" in sleep else False, sleep)
    # Its call sites (names as the files have them, mangled): the threads'
    # creation, the condvar wait, the sleep; perhaps a contended lock in
    # consume, a lock and a signal that waited in produce, main's lock,
    # broadcast and printf, the join.
    sites_check("cxx_workers", modules, stacks, st["stacks"], [
        (["consume"], 2, True),
        (["produce", "main"], 3, True),
        (["_M_start_thread", "main"], 1, True),
        (["join", "main"], 1, False),
        (["main"], 3, False),
    ])

    # Annotations: the frame-pointer walk is checked, and the stack
    # completed from .eh_frame past its end: right after the first frame
    # without frame pointers, or at the C library's start frames with them.
    # Either way the same stacks, whole to the thread's first frame.
    by_build = {}
    for prog in ("nofp_regions", "fp_regions"):
        out = os.path.join(d, prog + ".out")
        r = subprocess.run([os.path.join(progs, prog), out], capture_output=True, text=True,
                           timeout=120)
        check(f"{prog} runs", r.returncode == 0, r.stderr)
        bad, stacks, modules = frames_outside_code(ctrace, out)
        check(f"{prog}: no frame outside an executable segment", not bad, bad)
        chains = [chain(modules, stacks, s) for s in stacks]
        # begin and end, on the main thread and on the other: four stacks.
        check(f"{prog}: four stacks", len(stacks) == 4, chains)
        for c in chains:
            check(f"{prog}: inner, middle, outer, then main or the thread's function",
                  c[:3] == ["inner", "middle", "outer"] and len(c) > 3 and
                  c[3] in ("main", "thread_main"), c)
            check(f"{prog}: to the thread's first frame",
                  c[-1] == "_start" if c[3] == "main" else c[-1] == "libc", c)
        by_build[prog] = sorted(chains)
    check("regions: the same stacks with frame pointers and without",
          by_build["nofp_regions"] == by_build["fp_regions"], by_build)

    # Debian's pigz, with threads: several frames to each blocking stack.
    pigz = shutil.which("pigz")
    check("pigz is installed (scripts/deps.sh)", pigz is not None)
    if pigz:
        data = os.path.join(d, "data")
        with open(data, "wb") as f:
            f.write(os.urandom(4 << 20) * 2)
        out = os.path.join(d, "pigz.out")
        r = run([pigz, "-p", "2", "-k", "-f", data], out)
        check("pigz runs", r.returncode == 0, r.stderr)
        bad, stacks, modules = frames_outside_code(ctrace, out)
        check("pigz: no frame outside an executable segment", not bad, bad)
        blocking = {sid for kind, why, sid in events_with_stacks(out) if kind == "block"}
        short = {sid: names(modules, stacks[sid]) for sid in blocking if len(stacks[sid]) < 3}
        check("pigz: blocking stacks of several frames", blocking and not short, short)
        check("pigz: a handful of stacks", 3 <= len(stacks) <= 40, len(stacks))
        check("pigz: ctrace run says it has no frame pointers", said_unwound(r.stderr, "pigz"),
              r.stderr)

    # A program with frame pointers: nothing said.
    out = os.path.join(d, "fp.out")
    r = run([os.path.join(progs, "sleepers")], out)
    check("a program with frame pointers: nothing said about them",
          r.returncode == 0 and "frame pointers" not in r.stderr, r.stderr)

    # Frames named in an earlier run are not named again: a stripped
    # program's second run, its stacks the first's, loads no libdw (the
    # cache holds its named frames, and its unnamed ones as such).
    strip = shutil.which("strip")
    ldd = subprocess.run(["ldd", ctrace], capture_output=True, text=True).stdout
    if "libdw.so" in ldd:  # linked in (the sanitizers' build): always loaded
        print("note: ctrace is linked with libdw: whether a run loads it is not checked")
    elif strip:
        cache = os.path.join(d, "symcache")
        os.mkdir(cache)
        stripped = os.path.join(d, "sleepers-stripped")
        shutil.copy(os.path.join(progs, "sleepers"), stripped)
        subprocess.run([strip, stripped], check=True)
        env = dict(os.environ, CTRACE_SYMBOL_CACHE=cache)
        out = os.path.join(d, "stripped.out")
        r = run([stripped], out, env=env)
        check("stripped sleepers runs", r.returncode == 0, r.stderr)
        unnamed = subprocess.run(["grep", "-rh", "^[0-9a-f]* [RX] 0$", cache],
                                 capture_output=True, text=True).stdout.split()
        check("stripped sleepers: its unnamed frames are kept as such", unnamed, cache)
        # Its threads block at one call site or another with the timing:
        # a run that meets a frame no run met before names it. Up to 4
        # runs, until one adds nothing to the cache.
        log = os.path.join(d, "stripped.strace")
        for _ in range(4):
            before = dir_lines(cache)
            r = subprocess.run(["strace", "-f", "-qq", "-e", "trace=openat", "-o", log, ctrace,
                                "run", "-o", out, "--", stripped], capture_output=True, text=True,
                               timeout=300, env=env)
            if dir_lines(cache) == before:
                break
        with open(log) as f:
            loaded = [line for line in f if "libdw.so" in line]
        check("stripped sleepers, again, no frame new: no libdw loaded",
              r.returncode == 0 and dir_lines(cache) == before and not loaded, loaded or r.stderr)
        names_now = subprocess.run([ctrace, "stats", out], capture_output=True, text=True).stdout
        check("stripped sleepers, again: its libc frames named, its own as offsets",
              "start_thread" in names_now and "sleepers-stripped+0x" in names_now,
              names_now[-800:])

finish()

#!/usr/bin/env python3
"""run_test.py CTRACE PROGS-DIR - `ctrace run` on the programs of
tests/progs, each with counts known in advance, checked in the trace
through `ctrace dump`. Prints one line per check and a closing count."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from checks import check, finish
from elfcode import frame_in_code, parse_dump
from dump_events import blocks_paired, count, linked_joins, read_links, switches_alternate

ctrace, progs = sys.argv[1], sys.argv[2]


def run(prog, out, *args, options=(), wrap=()):
    cmd = [*wrap, ctrace, "run", "-o", out, *options, "--", os.path.join(progs, prog), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def dump(path):
    """Events as dicts: ts, tid, kind and the named arguments."""
    r = subprocess.run([ctrace, "dump", path], capture_output=True, text=True, timeout=120)
    check(f"dump {os.path.basename(path)}", r.returncode == 0, r.stderr)
    modules, stacks = parse_dump(r.stdout)
    bad = [hex(pc) for frames in stacks.values() for pc in frames if not frame_in_code(modules, pc)]
    check(f"{os.path.basename(path)}: every frame a return address in code", not bad, bad[:8])
    events, names = [], {}
    gen, gen_to = 0, 0
    for line in r.stdout.splitlines():
        m = re.match(r'# generation (\d+) at byte \d+: \d+ batches, from \d+ to (\d+) ns', line)
        if m:
            gen, gen_to = int(m.group(1)), int(m.group(2))
        m = re.match(r'# thread (\d+) "([^"]*)"', line)
        if m:
            names[int(m.group(1))] = m.group(2)
        m = re.match(r'# lost (\d+) events of thread (\d+)', line)
        if m:
            events.append({"ts": "0", "tid": int(m.group(2)), "kind": "lost",
                           "count": int(m.group(1)), "gen": gen, "gen_to": gen_to})
        if line.startswith("#"):
            continue
        parts = line.split(" ", 3)
        ev = {"ts": parts[0], "tid": int(parts[1]), "kind": parts[2], "gen": gen,
              "gen_to": gen_to}
        for k, v in re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)', parts[3] if len(parts) > 3 else ""):
            ev[k] = v.strip('"')
        events.append(ev)
    return events, names


def failexec_checks(out, d):
    """An exec that fails: the trace begins anew, its writer ended in line
    before the exec and joined before the new one starts."""
    r = run("forker", out, "failexec")
    check("failexec exit 0", r.returncode == 0, r.stderr)
    files = sorted(f for f in os.listdir(d) if f.startswith("t.out"))
    check("failexec two traces", len(files) == 2, files)
    ev, _ = dump(out)
    check("failexec exec event", count(ev, "exec") == 1)
    later = [f for f in files if f != "t.out"]
    if later:
        lev, _ = dump(os.path.join(d, later[0]))
        check("failexec the thread's two sleeps after the failed exec",
              count(lev, "block", reason="sleep") == 2, count(lev, "block", reason="sleep"))
    for f in files:
        os.unlink(os.path.join(d, f))


def replaced_children_checks():
    """A run replaces the trace at FILE and its children's files; files
    beside it that are not of that trace's tree stay."""
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "r.out")
        cmd = [ctrace, "run", "-o", out, "--", "sh", "-c", "/bin/true; /bin/true"]
        first = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        runs = [sorted(f for f in os.listdir(d) if f.startswith("r.out."))]
        open(os.path.join(d, "r.out.1"), "w").write("not a trace\n")
        other = subprocess.run([ctrace, "run", "-o", os.path.join(d, "r.out.2"), "--", "true"],
                               capture_output=True, text=True, timeout=120)  # of no tree
        check("a trace of another run beside it", other.returncode == 0, other.stderr)
        second = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        left = sorted(f for f in os.listdir(d) if f.startswith("r.out."))
        new = [f for f in left if f not in ("r.out.1", "r.out.2")]
        check("a second run: two children each time",
              first.returncode == 0 and second.returncode == 0 and len(runs[0]) == 2 and
              len(new) == 2, (first.stderr, second.stderr, runs, left))
        check("a second run removed the first run's children, and no other file",
              not set(runs[0]) & set(new) and "r.out.1" in left and "r.out.2" in left,
              (runs, left))
        text = os.path.join(d, "text.out")
        open(text, "w").write("not a trace\n")
        over = subprocess.run([ctrace, "run", "-o", text, "--", "true"], capture_output=True,
                              text=True, timeout=120)
        check("a run over a file that is no trace: nothing said of it",
              over.returncode == 0 and "not a trace" not in over.stderr, over.stderr)
        s = subprocess.run([ctrace, "stats", "--json", out], capture_output=True, text=True)
        kids = json.loads(s.stdout or "{}").get("children", [])
        check("a second run: stats names its own children",
              sorted(f"r.out.{k}" for k in kids) == new, (kids, new))


def forker_checks(r, out, d):
    check("forker exit status 3 (the exec'd image's)", r.returncode == 3, r.returncode)
    ev, names = dump(out)
    forks = [e for e in ev if e["kind"] == "fork"]
    check("forker fork event", len(forks) == 1)
    check("forker exec event", count(ev, "exec") == 1)
    s = subprocess.run([ctrace, "stats", out], capture_output=True, text=True)
    check("forker stats names the child", forks and f"t.out.{forks[0]['child']}" in s.stdout,
          s.stdout)
    files = sorted(os.listdir(d))
    check("forker three traces", len([f for f in files if f.startswith("t.out")]) == 3, files)
    if forks:
        child = out + "." + forks[0]["child"]
        check("forker child trace", os.path.exists(child), files)
        if os.path.exists(child):
            cev, _ = dump(child)
            check("forker child's two sleeps", count(cev, "block", reason="sleep") == 2)
    others = [f for f in files if f.startswith("t.out.") and (not forks or f != "t.out." + forks[0]["child"])]
    if others:
        eev, _ = dump(os.path.join(d, others[0]))
        check("forker exec'd image's sleep", count(eev, "block", reason="sleep") == 1)
    for f in files:
        os.unlink(os.path.join(d, f))


with tempfile.TemporaryDirectory() as d:
    out = os.path.join(d, "t.out")

    # Every switch (--sched=exact: the default turns to samples where
    # switches come this fast for long, as a slowed run's may).
    r = run("condvar_pingpong", out, options=("--sched=exact",))
    check("pingpong exit", r.returncode == 0, r.stderr)
    ev, names = dump(out)
    check("pingpong 2000 condvar blocks", count(ev, "block", reason="cond") == 2000,
          count(ev, "block", reason="cond"))
    check("pingpong 2000 condvar wakes", count(ev, "wake", reason="cond") == 2000,
          count(ev, "wake", reason="cond"))
    check("pingpong blocks paired", blocks_paired(ev))
    check("pingpong switches alternate (two CPUs' rings merged)", *switches_alternate(ev))
    # What ctrace run says of the context switches it recorded: their
    # count, stats' own, once they cost about 5 % of the run at 1 us each
    # (certainly at 80 000 a second, timed here from outside, longer than
    # ctrace's own timing); the generations' ends count them all. (Most of
    # the 40 000 handoffs block; one whose wait finds its turn come does not.)
    began = time.monotonic()
    r = run("condvar_pingpong", out, "20000", options=("--sched=exact",))
    took = time.monotonic() - began
    st = json.loads(subprocess.run([ctrace, "stats", "--json", out], capture_output=True,
                                   text=True).stdout or "{}")
    switches = st.get("voluntary_switches", 0) + st.get("involuntary_switches", 0)
    said = re.search(r"ctrace run: (\d+) context switches were recorded from the kernel", r.stderr)
    dumped = subprocess.run([ctrace, "dump", out], capture_output=True, text=True, timeout=120)
    counted = sum(int(n) for n in re.findall(r"^# (\d+) context switches$", dumped.stdout,
                                             re.M))
    check("pingpong 20000: the generations' ends count stats' switches",
          r.returncode == 0 and switches > 30000 and counted == switches,
          (counted, switches, r.returncode, r.stderr[-3000:] if not switches else ""))
    if switches / took >= 80000:
        check("pingpong 20000: ctrace run says how many switches it recorded, and their cost",
              said and int(said.group(1)) == switches, (r.stderr, switches, took))
    else:
        print(f"note: pingpong 20000 made {switches / took:.0f} switches a second: "
              "what ctrace run says of them is not checked")
    # The same across many generation boundaries: a thread's last switches
    # wait for the next generation when another CPU's ring may hold earlier
    # ones, never written out of order. 4000 rounds: 50-250 ms here, and
    # the writer looks at a generation's age every 10 ms.
    r = subprocess.run([ctrace, "run", "-o", out, "--sched=exact", "--",
                        os.path.join(progs, "condvar_pingpong"), "4000"],
                       capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, CTRACE_GENERATION_MS="2"))
    ev, names = dump(out)
    s = subprocess.run([ctrace, "stats", "--json", out], capture_output=True, text=True)
    gens = json.loads(s.stdout).get("generations", 0) if s.returncode == 0 else 0
    check("pingpong in 2 ms generations: several", r.returncode == 0 and gens >= 2, gens)
    check("pingpong in 2 ms generations: switches alternate", *switches_alternate(ev))
    creates = [e for e in ev if e["kind"] == "thread_create"]
    starts = [e for e in ev if e["kind"] == "thread_start"]
    check("pingpong one thread created", len(creates) == 1 and len(starts) == 1)
    if creates and starts:
        check("pingpong start names creator and function",
              int(starts[0]["creator"]) == creates[0]["tid"]
              and starts[0]["start_fn"] == creates[0]["start_fn"]
              and starts[0]["create_id"] == creates[0]["create_id"])
        check("pingpong creation has a stack", "stack" in creates[0])
    # Each wake is on the other thread than the block it ends.
    woken = 0
    last_wake = {}
    for e in ev:
        if e["kind"] == "wake":
            last_wake[e["object"]] = e
        if e["kind"] == "block" and e["reason"] == "cond":
            w = last_wake.get(e["object"])
    check("pingpong wakes come from both threads",
          len({e["tid"] for e in ev if e["kind"] == "wake" and e["reason"] == "cond"}) == 2)

    r = run("sleepers", out)
    check("sleepers exit", r.returncode == 0, r.stderr)
    ev, names = dump(out)
    check("sleepers 30 sleeps", count(ev, "block", reason="sleep") == 30,
          count(ev, "block", reason="sleep"))
    check("sleepers 3 creations", count(ev, "thread_create") == 3)
    check("sleepers 3 names", sorted(e["name"] for e in ev if e["kind"] == "thread_name")
          == ["sleeper-0", "sleeper-1", "sleeper-2"])
    check("sleepers names in the thread table",
          sorted(n for n in names.values() if n.startswith("sleeper-")) ==
          ["sleeper-0", "sleeper-1", "sleeper-2"], names)
    check("sleepers 3 exits", count(ev, "thread_exit") == 3)
    check("sleepers blocks paired", blocks_paired(ev))
    sleeper_tids = {e["tid"] for e in ev if e["kind"] == "thread_name"}
    offs = {t: sum(1 for e in ev if e["kind"] == "cpu" and e["tid"] == t and e["state"] == "off")
            for t in sleeper_tids}
    check("sleepers: each sleep is a voluntary switch off the CPU",
          all(n >= 10 for n in offs.values()) and len(offs) == 3, offs)
    s = subprocess.run([ctrace, "stats", "--json", out], capture_output=True, text=True)
    check("sleepers: scheduling from the kernel", '"sched":"perf"' in s.stdout, s.stdout)
    check("sleepers: switches alternate", *switches_alternate(ev))
    # A new thread waits for its first run from its creation: its first
    # event, thread_runnable, at the time its creator called the real
    # pthread_create (after its thread_create event, before the new
    # thread's first run); the analysis starts its life there, or where the
    # kernel's own count of its wait says it became runnable (inside the
    # creator's clone), and counts the wait as sched.
    creates = {e["create_id"]: e["ts"] for e in ev if e["kind"] == "thread_create"}
    firsts = {}
    for e in ev:
        if e["tid"] in sleeper_tids and e["tid"] not in firsts:
            firsts[e["tid"]] = e
    starts = {e["tid"]: e for e in ev if e["kind"] == "thread_start"}
    check("sleepers: each thread's first event is thread_runnable, at its creation",
          len(starts) == 3 and all(firsts[t]["kind"] == "thread_runnable" and
                                   int(creates[starts[t]["create_id"]]) <= int(firsts[t]["ts"])
                                   <= int(starts[t]["ts"])
                                   for t in sleeper_tids), (firsts, creates))
    # ... and the kernel's switch that ended that wait, its first run, is
    # in the trace, between its thread_runnable and its thread_start.
    first_on = {t: min((int(e["ts"]) for e in ev if e["tid"] == t and e["kind"] == "cpu" and
                        e["state"] == "running"), default=None) for t in sleeper_tids}
    check("sleepers: each thread's first run, from the kernel, between its creation and start",
          all(first_on[t] is not None and
              int(firsts[t]["ts"]) < first_on[t] <= int(starts[t]["ts"]) for t in sleeper_tids),
          (first_on, {t: (firsts[t]["ts"], starts[t]["ts"]) for t in sleeper_tids}))
    rows = {t["tid"]: t for t in json.loads(subprocess.run(
        [ctrace, "threads", "--json", out], capture_output=True, text=True).stdout)}
    check("sleepers: a thread's life begins at its creation, waiting for a CPU until it ran",
          all(int(firsts[t]["ts"]) <= rows[t]["begin_ns"] <= first_on[t] and
              first_on[t] is not None and
              rows[t]["sched_wait_ns"] >= first_on[t] - rows[t]["begin_ns"]
              for t in sleeper_tids), ([rows[t] for t in sleeper_tids], first_on))

    # A program that closes every descriptor at its start, as a daemon does,
    # and then opens its own file: the trace's descriptor is not closed, nor
    # given to the program's file (the writer wrote the trace into it).
    # The same where it puts /dev/null on every number with dup2: the
    # trace's descriptor is not replaced (dup2 onto it says EBADF).
    for how in ("close", "range", "from", "dup2"):
        data = os.path.join(d, "closer.data")
        r = run("closer", out, how, data)
        check(f"closer {how}: the program's file is its own", r.returncode == 0,
              r.stdout + r.stderr)
        ev, names = dump(out)
        s = subprocess.run([ctrace, "stats", out], capture_output=True, text=True)
        check(f"closer {how}: the trace is complete, with the sleeps after the closes",
              "incomplete" not in s.stdout + s.stderr and
              count(ev, "block", reason="sleep") >= 5, (count(ev, "block", reason="sleep"),
                                                        s.stderr))

    # A program whose main thread ends by pthread_exit ends when its last
    # thread does (glibc calls exit(0) then): the writer, a thread too, must
    # not keep it alive. It did, for ever.
    try:
        r = subprocess.run([ctrace, "run", "-o", out, "--", os.path.join(progs, "lastexit")],
                           capture_output=True, text=True, timeout=30)
        check("lastexit: ends, status 0", r.returncode == 0, r.stderr)
        ev, names = dump(out)
        check("lastexit: 20 sleeps", count(ev, "block", reason="sleep") == 20,
              count(ev, "block", reason="sleep"))
        s = subprocess.run([ctrace, "stats", out], capture_output=True, text=True)
        check("lastexit: the trace is complete", s.returncode == 0 and "incomplete" not in s.stdout,
              s.stdout + s.stderr)
        # The flight recorder's window written at exit, by the writer itself.
        r = subprocess.run([ctrace, "run", "--flight=5s", "--flight-at-exit", "-o", out, "--",
                            os.path.join(progs, "lastexit")], capture_output=True, text=True,
                           timeout=30)
        ev, names = dump(out)
        check("lastexit --flight-at-exit: the window, 20 sleeps",
              r.returncode == 0 and count(ev, "block", reason="sleep") == 20,
              (r.returncode, r.stderr, count(ev, "block", reason="sleep")))
    except subprocess.TimeoutExpired:
        check("lastexit: ends, status 0", False, "still running after 30 s")
        subprocess.run(["pkill", "-f", os.path.join(progs, "lastexit")])

    # 600 threads alive at once: the threads a traced thread creates share
    # its per-CPU rings (one perf event a CPU, not a thread), and every one
    # of them has its switches: more than the per-thread rings' cap of a
    # quarter of the descriptor limit.
    # Generations of 50 ms: many boundaries for the switches to cross.
    os.environ["CTRACE_GENERATION_MS"] = "50"
    r = run("crowd", out, "600")
    del os.environ["CTRACE_GENERATION_MS"]
    check("crowd exit", r.returncode == 0, r.stderr)
    m = re.search(r"perf_fds=(\d+)", r.stdout)
    cpus = os.sysconf("SC_NPROCESSORS_CONF")
    check("crowd: one perf event a CPU, none a thread", m and int(m.group(1)) <= cpus,
          (r.stdout, cpus))
    ev, names = dump(out)
    started = {e["tid"] for e in ev if e["kind"] == "thread_start"}
    offs = {}
    for e in ev:
        if e["kind"] == "cpu" and e["state"] == "off":
            offs[e["tid"]] = offs.get(e["tid"], 0) + 1
    check("crowd: 600 threads started", len(started) == 600, len(started))
    check("crowd: each thread's three sleeps are switches off the CPU",
          all(offs.get(t, 0) >= 3 for t in started),
          sorted(offs.get(t, 0) for t in started)[:10])
    check("crowd: switches alternate", *switches_alternate(ev))
    # A generation's switches end with it for a thread that goes on (the
    # next generation's clock line would meet a later one's a few ns off).
    last_gen = {}
    for e in ev:
        if e["kind"] == "cpu":
            last_gen[e["tid"]] = e["gen"]
    past = [e for e in ev if e["kind"] == "cpu" and int(e["ts"]) > e["gen_to"] and
            last_gen[e["tid"]] > e["gen"]]
    check("crowd: several generations", max(e["gen"] for e in ev) > 1)
    check("crowd: no switch after its generation's end, of a thread that goes on", not past,
          past[:3])

    # Threads the kernel refuses a ring: a library user's threads open
    # their own, and a user without CAP_IPC_LOCK and with RLIMIT_MEMLOCK 0
    # has perf_event_mlock_kb a CPU for all of them (9 pages a ring). The
    # threads past that fall back to schedstat samples, the last taken by
    # the exiting thread itself; none is left without its scheduling.
    nobody = subprocess.run(["id", "-u", "nobody"], capture_output=True).returncode == 0
    try:
        with open("/proc/sys/kernel/perf_event_mlock_kb") as f:
            budget = int(f.read()) * 1024 // os.sysconf("SC_PAGESIZE") * os.cpu_count()
    except (OSError, ValueError):
        budget = 0
    members = budget // 9 + 30
    if os.geteuid() != 0 or not nobody or not budget or members > 200:
        print(f"skipped: rings refused (root and a user nobody needed; budget {budget} pages)")
    else:
        shared = tempfile.mkdtemp()  # d is its owner's alone
        os.chmod(shared, 0o777)
        rout = os.path.join(shared, "r.out")
        r = subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                            os.path.join(progs, "ringless"), rout, str(members)],
                           capture_output=True, text=True, timeout=120)
        check("ringless exit", r.returncode == 0, r.stderr)
        s = subprocess.run([ctrace, "stats", "--json", rout], capture_output=True, text=True)
        st = json.loads(s.stdout or "{}")
        check("ringless: stats says perf, no thread unscheduled",
              st.get("sched") == "perf" and st.get("threads_unscheduled") == 0, s.stdout)
        ev, names = dump(rout)
        naps = {e["tid"] for e in ev if e["kind"] == "region_begin"}
        # Threads with rings have samples too (their run-queue wait, which
        # the kernel's switches do not say); the others have samples only.
        ringed = {e["tid"] for e in ev if e["kind"] == "cpu"} & naps
        sampled = {e["tid"] for e in ev if e["kind"] == "sched_sample"} & naps - ringed
        check(f"ringless: {members} threads, some with rings, the rest sampled",
              len(naps) == members and ringed and sampled and not ringed & sampled
              and ringed | sampled == naps, (len(naps), len(ringed), len(sampled)))
        ran = {}
        for e in ev:
            if e["kind"] == "sched_sample":
                ran[e["tid"]] = ran.get(e["tid"], 0) + int(e["run"])
        check("ringless: each sampled thread's time on a CPU is there",
              all(ran.get(t, 0) > 0 for t in sampled), sorted(ran.values())[:5])
        shutil.rmtree(shared, ignore_errors=True)

    # Three threads pinned to one CPU, spinning 300 ms each: each waits in
    # the run queue about two thirds of its life (more on a loaded machine),
    # as the kernel's switches tell and as the schedstat fallback tells,
    # asked for or where a seccomp filter (tests/progs/noperf.c) refuses
    # perf_event_open as a container's profile may.
    noperf = (os.path.join(progs, "noperf"),)
    for mode, source, wrap in (("auto", "perf", ()), ("schedstat", "schedstat", ()),
                               ("auto", "schedstat", noperf)):
        r = run("spinners", out, "3", "300", options=(f"--sched={mode}",), wrap=wrap)
        if wrap:
            mode += ", perf_event_open refused"
        check(f"spinners --sched={mode} exit", r.returncode == 0, r.stderr)
        # Few switches: nothing said of their cost. A fallback is said.
        check(f"spinners --sched={mode}: ctrace run says nothing of switches",
              "context switches were recorded" not in r.stderr, r.stderr)
        check(f"spinners --sched={mode}: ctrace run says when perf_event_open was refused",
              ("perf_event_open was refused" in r.stderr) == (mode.startswith("auto")
                                                             and source == "schedstat"), r.stderr)
        s = subprocess.run([ctrace, "stats", "--json", out], capture_output=True, text=True)
        check(f"spinners --sched={mode}: stats says {source}", f'"sched":"{source}"' in s.stdout,
              s.stdout)
        ev, names = dump(out)
        if source == "perf":
            # The kernel's switches, and beside them schedstat samples only
            # of threads that have switches (their run-queue wait).
            switched = {e["tid"] for e in ev if e["kind"] == "cpu"}
            sampled = {e["tid"] for e in ev if e["kind"] == "sched_sample"}
            check(f"spinners --sched={mode}: cpu events, samples only beside them",
                  switched and sampled <= switched, (switched, sampled))
        else:
            check(f"spinners --sched={mode}: sched_sample events, no cpu",
                  count(ev, "sched_sample") > 0 and count(ev, "cpu") == 0)
        t = subprocess.run([ctrace, "threads", "--json", out], capture_output=True, text=True)
        check(f"spinners --sched={mode}: threads", t.returncode == 0, t.stderr)
        rows = [row for row in json.loads(t.stdout or "[]") if row["start_function"]]
        waits = [row["sched_wait_ns"] / row["total_ns"] for row in rows if row["total_ns"]]
        check(f"spinners --sched={mode}: 3 spinners, each runnable >= 40 % of its life",
              len(rows) == 3 and len(waits) == 3 and min(waits) >= 0.4, waits)
        check(f"spinners --sched={mode}: execution + sched >= 95 % of each spinner's life",
              all(row["execution_ns"] + row["sched_wait_ns"] >= 0.95 * row["total_ns"]
                  for row in rows), rows)

    # --sched=auto: two threads handing a turn through condvars switch
    # about 100 000 times a second, past the rate (lowered here to 2 000,
    # CTRACE_SCHED_AUTO_RATE) and past what sampling them would cost: the
    # process turns to schedstat samples, judged over its first 20 ms (four
    # times the rate and more), not the whole 100 ms window. Its
    # generations have switches up to there, samples only from there, and
    # ctrace run says so; --sched=exact keeps every switch; spinners,
    # preempted a few hundred times a second, keep theirs.
    os.environ["CTRACE_GENERATION_MS"] = "100"
    os.environ["CTRACE_SCHED_AUTO_RATE"] = "2000"
    for mode in ("auto", "exact"):
        r = run("condvar_pingpong", out, "150000", options=(f"--sched={mode}",))
        check(f"pingpong --sched={mode} exit", r.returncode == 0, r.stderr)
        check(f"pingpong --sched={mode}: ctrace run says whether it turned to samples",
              ("--sched=exact keeps every switch" in r.stderr) == (mode == "auto"), r.stderr)
        if mode == "auto":
            at = re.search(r"from ([0-9.]+) s on", r.stderr)
            check("pingpong --sched=auto: turned within its first 0.1 s (judged over 20 ms)",
                  at and float(at.group(1)) < 0.1, r.stderr)
        s = subprocess.run([ctrace, "stats", "--json", out], capture_output=True, text=True)
        st = json.loads(s.stdout or "{}")
        turned = st.get("sampled_from_generation", 0)
        check(f"pingpong --sched={mode}: stats says perf"
              + (", then samples from a later generation" if mode == "auto" else " only"),
              st.get("sched") == "perf" and ((turned >= 2) if mode == "auto" else not turned),
              s.stdout[:400])
        ev, names = dump(out)
        gens = max((e["gen"] for e in ev), default=0)
        cpu_gens = {e["gen"] for e in ev if e["kind"] == "cpu"}
        sample_gens = {e["gen"] for e in ev if e["kind"] == "sched_sample"}
        if mode == "auto":
            check("pingpong --sched=auto: switches before the turn only, samples of both "
                  "threads after it",
                  turned >= 2 and cpu_gens and max(cpu_gens) < turned
                  and len({e["tid"] for e in ev if e["kind"] == "sched_sample"
                           and e["gen"] >= turned}) == 2, (turned, cpu_gens, sample_gens))
            text = subprocess.run([ctrace, "stats", out], capture_output=True, text=True).stdout
            check("pingpong --sched=auto: stats says from when", "then run-queue waits sampled"
                  in text, text)
        else:
            check("pingpong --sched=exact: switches to the last generation",
                  gens >= 5 and gens in cpu_gens, (gens, sorted(cpu_gens)))
        t = subprocess.run([ctrace, "threads", "--json", out], capture_output=True, text=True)
        rows = json.loads(t.stdout or "[]")
        # Each hands the turn and waits: execution, condvar waits and waits
        # for a CPU make its whole life, before and after a turn.
        check(f"pingpong --sched={mode}: two threads, execution + sync + sched >= 95 %",
              len(rows) == 2 and all(row["execution_ns"] > 0 and row["sync_block_ns"] > 0 and
                                     row["execution_ns"] + row["sync_block_ns"] +
                                     row["sched_wait_ns"] >= 0.95 * row["total_ns"]
                                     for row in rows), rows)
    r = run("spinners", out, "3", "700", options=("--sched=auto",))
    s = subprocess.run([ctrace, "stats", "--json", out], capture_output=True, text=True)
    check("spinners, auto rate 2000: switches throughout, nothing said",
          r.returncode == 0 and "sampled_from_generation" not in s.stdout
          and "sched=exact" not in r.stderr, r.stderr + s.stdout[:300])
    del os.environ["CTRACE_GENERATION_MS"]
    del os.environ["CTRACE_SCHED_AUTO_RATE"]

    # The timed and clock-taking waits (glibc 2.30's clock variants are
    # what C++'s timed mutexes and condition_variable::wait_for call), each
    # made to block once on an object of its own: one block each, with its
    # stack, on the main thread; the helper's unlock, signal and post wake.
    r = run("clocked", out)
    check("clocked exit", r.returncode == 0, r.stdout + r.stderr)
    objects = dict(line.split("=") for line in r.stdout.split())
    ev, names = dump(out)
    main_tid = min(e["tid"] for e in ev if e["kind"] == "block")
    for name, reason in (("mutex", "mutex"), ("rw0", "rwlock_read"), ("rw1", "rwlock_read"),
                         ("rw2", "rwlock_write"), ("rw3", "rwlock_write"), ("cv", "cond"),
                         ("sem", "sem")):
        got = [e for e in ev if e["kind"] == "block" and e.get("object") == objects.get(name)]
        check(f"clocked: {name}, one {reason} block on the main thread, with its stack",
              len(got) == 1 and got[0]["reason"] == reason and got[0]["tid"] == main_tid
              and "stack" in got[0], got)
    for name, reason in (("mutex", "mutex"), ("cv", "cond"), ("sem", "sem"),
                         ("rw0", "rwlock_write"), ("rw1", "rwlock_write"),
                         ("rw2", "rwlock_read"), ("rw3", "rwlock_read")):
        check(f"clocked: the helper's wake on {name}, a {reason} release",
              any(e["kind"] == "wake" and e["reason"] == reason and e["object"] == objects.get(name)
                  and e["tid"] != main_tid for e in ev))
    # The main thread's own unlocks of the rwlocks woke nobody.
    rws = {objects.get(f"rw{i}") for i in range(4)}
    check("clocked: no wake from an rwlock unlock nobody waited for",
          not any(e["kind"] == "wake" and e["object"] in rws and e["tid"] == main_tid for e in ev))

    # The blocking calls on no lock, every one recorded (threshold 0): the
    # waits for a child, fsync and fdatasync, pread, pwrite, preadv, pwritev
    # and lockf (from a program built with _FILE_OFFSET_BITS=64, which calls
    # pread64 and so on, and one built without, which calls pread), flock,
    # the waits for a signal, sendmmsg, recvmmsg and epoll_pwait2, system
    # and pclose, a name lookup (a network wait), and the timed and clock
    # joins.
    for prog in ("waiter", "waiter_nolfs"):
        r = run(prog, out, d, options=("--no-follow", "--syscall-threshold=0"))
        check(f"{prog} exit", r.returncode == 0, r.stdout + r.stderr)
        ev, names = dump(out)
        calls = {}
        for e in ev:
            if e["kind"] == "syscall":
                calls[e["call"]] = calls.get(e["call"], 0) + 1
        want = {"waitpid": 2, "wait": 1, "wait4": 1, "waitid": 1, "fsync": 1, "fdatasync": 1,
                "pread": 5, "pwrite": 5, "preadv": 1, "pwritev": 1, "flock": 4, "lockf": 2,
                "sigwaitinfo": 1, "sigtimedwait": 1,
                "sendmmsg": 1, "recvmmsg": 1, "epoll_pwait2": 1, "getaddrinfo": 1,
                "system": 1, "pclose": 1}
        check(f"{prog}: each call recorded, as often as made",
              all(calls.get(k) == n for k, n in want.items()) and calls.get("sigwait", 0) >= 1,
              calls)
        # sigsuspend and pause return after the handler, whose events come
        # first: blocks, in order, counted as system calls by the analysis
        check(f"{prog}: sigsuspend and pause are blocks",
              count(ev, "block", reason="sigsuspend") == 1 and
              count(ev, "block", reason="pause") == 1 and "sigsuspend" not in calls)
        check(f"{prog}: the name lookup is a network wait",
              all(e["class"] == "network" for e in ev if e["kind"] == "syscall"
                  and e["call"] == "getaddrinfo"))
        # The first four (the fifth waits for the lockf child, which has
        # ended by then): most of a child's 30 ms (it began at the fork),
        # in ns as dump shows them.
        waits = sorted((int(e["ts"]), int(e["duration"])) for e in ev if e["kind"] == "syscall"
                       and e["call"].startswith("wait"))
        waits = [w[1] for w in waits[:4]]
        waits += [int(e["duration"]) for e in ev if e["kind"] == "syscall"
                  and e["call"] in ("system", "pclose")]
        check(f"{prog}: the child waits took the child's life",
              len(waits) == 6 and all(10_000_000 <= w < 5_000_000_000 for w in waits), waits)
        # the timed and clock joins, and five of the signallers' (ended
        # 30 ms after their last signal) at least
        joins = count(ev, "block", reason="join")
        check(f"{prog}: the joins block", joins >= 7, joins)
        # each woken by the end of the thread it joined (unless that thread
        # was ending as the join began, which a loaded machine makes more
        # likely; the five signallers end 30 ms after main's last signal,
        # so their joins wait): the export's arrows (this program has no
        # other wakes between traced threads)
        export = subprocess.run([ctrace, "export", "--format=chrome", out], capture_output=True,
                                text=True, timeout=60)
        check(f"{prog}: each join linked to the end of its thread",
              export.stdout.count('"cat":"wake"') // 2 == linked_joins(ev) >= 5,
              (export.stdout.count('"cat":"wake"') // 2, linked_joins(ev), joins))

    # Followed, waiter's children: five forked (fork events name them) and
    # the two shells of system and popen, started by posix_spawn, whose
    # exec no wrapper sees: stats finds their traces beside the file, by
    # their parent's pid. (Not under a sanitizer: a traced forked child
    # starts a writer that allocates, and the sanitizers' allocators, unlike
    # glibc's, may be left locked by another thread at the fork: see forker.)
    if os.environ.get("CTRACE_TEST_SANITIZER"):
        print("skipped: waiter's followed children under a sanitizer's allocator")
    else:
        r = run("waiter", out, d, options=("--syscall-threshold=0",))
        check("waiter followed: exit", r.returncode == 0, r.stdout + r.stderr)
        s = subprocess.run([ctrace, "stats", "--json", out], capture_output=True, text=True)
        kids = json.loads(s.stdout or "{}").get("children", [])
        check("waiter followed: stats names 7 children, each traced",
              len(kids) == 7 and all(os.path.exists(f"{out}.{k}") for k in kids),
              (kids, s.stderr))
        for f in os.listdir(d):  # theirs, and the commands the shells forked
            if f.startswith(os.path.basename(out) + "."):
                os.unlink(os.path.join(d, f))

    # A slow read interrupted by a signal whose handler sleeps: the read's
    # event comes after the handler's (a batch's times never go back), and
    # still ends where the read did, before the reader's next sleep.
    r = run("interrupted", out)
    check("interrupted exit", r.returncode == 0, r.stdout + r.stderr)
    ev, names = dump(out)
    reads = [e for e in ev if e["kind"] == "syscall" and e["call"] == "read"]
    rtid = reads[0]["tid"] if reads else -1
    sleeps = [int(e["ts"]) for e in ev if e["kind"] == "block" and e["tid"] == rtid]
    if len(reads) == 1 and len(sleeps) == 2:
        start, end = int(reads[0]["ts"]), int(reads[0]["ts"]) + int(reads[0]["duration"])
        check("interrupted: the read is written after the handler's sleep, ending before the "
              "next sleep", sleeps[0] < start and end <= sleeps[1] and end - start >= 10_000_000,
              (sleeps, start, end))
    else:
        check("interrupted: one read, two sleeps on the reader", False, (reads, sleeps))

    # The clock's rate, measured by the first process, is handed to those
    # it starts (CTRACE_CLOCK_RATE, 16 TSC cycles in ns, 32.32); one out of
    # bounds is not taken: with a rate of 1 the 10 us threshold would be
    # days, and the 10 ms read would not be recorded.
    sh = subprocess.run([ctrace, "run", "-o", out, "--", "sh", "-c", "echo $CTRACE_CLOCK_RATE"],
                        capture_output=True, text=True, timeout=60)
    rate = int(sh.stdout.strip() or 0)
    check("the clock's rate handed to the children: 0.5 to 1000 ns a unit",
          (1 << 31) <= rate <= (1000 << 32), (sh.stdout, sh.stderr))
    # The first process measures the rate from the clocks ctrace run read
    # before it started it (CTRACE_CLOCK_FROM, that process's alone): the
    # rate that 250 us of spinning gives without ctrace run, or with a
    # reading too old to take ("1:1").
    sh = subprocess.run([ctrace, "run", "-o", out, "--", "sh", "-c",
                         "echo $CTRACE_CLOCK_RATE ${CTRACE_CLOCK_FROM:-none}"],
                        capture_output=True, text=True, timeout=60)
    from_run = sh.stdout.split()
    preload = os.path.join(os.path.dirname(os.path.abspath(ctrace)), "libctrace-preload.so")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CTRACE_CLOCK_")}
    spun_dir = tempfile.mkdtemp()
    env.update(LD_PRELOAD=preload, CTRACE_OUTPUT=os.path.join(spun_dir, "t"), CTRACE_FOLLOW="1")
    spun = [int(subprocess.run(["sh", "-c", "echo $CTRACE_CLOCK_RATE"], env=dict(env, **given),
                               capture_output=True, text=True, timeout=60).stdout.strip() or 0)
            for given in ({}, {"CTRACE_CLOCK_FROM": "1:1"})]
    shutil.rmtree(spun_dir)
    ok = len(from_run) == 2 and from_run[1] == "none" and all(spun) and \
        all(abs(int(from_run[0]) - x) <= x // 200 for x in spun)
    check("the rate measured from ctrace run's clocks is the spun one's (0.5 %), and "
          "CTRACE_CLOCK_FROM is not passed on", ok, (sh.stdout, sh.stderr, spun))
    r = run("interrupted", out, wrap=("env", "CTRACE_CLOCK_RATE=1"))
    ev, names = dump(out)
    check("a clock rate out of bounds is not taken: the slow read is recorded",
          r.returncode == 0 and count(ev, "syscall", call="read") == 1, r.stderr)
    for f in os.listdir(d):
        if f.startswith(os.path.basename(out) + "."):
            os.unlink(os.path.join(d, f))

    r = run("pipe_relay", out)
    check("pipe exit", r.returncode == 0, r.stderr)
    ev, names = dump(out)
    reads = [e for e in ev if e["kind"] == "syscall" and e["call"] == "read"]
    # Each read waits about 2 ms for its message, unless a loaded machine
    # delayed the reader past the write: then it is fast and not recorded.
    # (The exact count, with every read recorded, is checked under strace.)
    check("pipe: the slow reads, at most 21", 10 <= len(reads) <= 21, len(reads))
    check("pipe reads are on a pipe", all(e["class"] == "pipe" for e in reads))
    check("pipe reads have stacks", all("stack" in e for e in reads))
    check("pipe 21 sleeps", count(ev, "block", reason="sleep") == 21)
    # Who woke whom through the pipe: the writer records a wake naming the
    # pipe before each write the reader waits for; the reads name it too.
    wakes = [e for e in ev if e["kind"] == "wake" and e["reason"] == "read"]
    pipe_ids = {e.get("object") for e in reads}
    check("pipe reads name their pipe", len(pipe_ids) == 1 and "0x0" not in pipe_ids, pipe_ids)
    check("pipe: a wake from the writer thread for each slow read",
          len(wakes) >= len(reads) - 1 and all(w["tid"] != reads[0]["tid"] for w in wakes)
          and {w["object"] for w in wakes} == pipe_ids, (len(wakes), len(reads)))
    export = subprocess.run([ctrace, "export", "--format=chrome", out], capture_output=True,
                            text=True, timeout=60)
    flows = export.stdout.count('"cat":"wake"') // 2 if export.returncode == 0 else 0
    flows -= linked_joins(ev)  # the writer's end, linked to its join
    # A read on a loaded machine may find its message already there and
    # still be slow (preempted): no write ended it. Those that slept did
    # wait for one, all but the first (before the pipe was marked as read)
    # and, rarely, one whose write's wake was stamped as the read began.
    slept, linkable = read_links(ev, reads)
    check("pipe: the export links the writes to the reads they ended",
          flows == linkable and linkable >= slept - 2 and slept >= 10,
          (flows, linkable, slept, len(reads)))
    # The read that sees the end of the pipe (result 0) waited for no write:
    # no link, though a write came before it.
    data_reads = [e for e in reads if e.get("result") != "0"]
    check("pipe: no link to the read that saw the end",
          flows <= len(data_reads), (flows, len(data_reads), len(reads)))

    # Who woke whom through a semaphore: each post a waiter waits for records
    # a wake (glibc's own count of waiters says so), from the posting thread.
    r = run("sem_relay", out)
    check("sem exit", r.returncode == 0, r.stderr)
    ev, names = dump(out)
    blocks = [e for e in ev if e["kind"] == "block" and e["reason"] == "sem"]
    wakes = [e for e in ev if e["kind"] == "wake" and e["reason"] == "sem"]
    check("sem: the waits that blocked, at most 20", 10 <= len(blocks) <= 20, len(blocks))
    check("sem: a wake from the posting thread for each block",
          len(blocks) - 1 <= len(wakes) <= 20 and
          all(w["tid"] != blocks[0]["tid"] and w["object"] == blocks[0]["object"] for w in wakes),
          (len(wakes), len(blocks)))

    # A pipe closed by fclose (not close) and its numbers reused by the
    # relay's pipe: the reads and wakes name the new pipe, not the old one.
    r = run("pipe_relay", out, "reuse", options=["--syscall-threshold=0"])
    check("pipe reuse exit", r.returncode == 0, r.stderr)
    ev, names = dump(out)
    reads = [e for e in ev if e["kind"] == "syscall" and e["call"] == "read"]
    first = reads[0].get("object") if reads else None
    later = {e.get("object") for e in reads[1:]}
    wakes = {e["object"] for e in ev if e["kind"] == "wake" and e["reason"] == "read"}
    check("pipe reuse: the relay's reads name a pipe other than the first",
          len(reads) >= 10 and first not in later and len(later) == 1, (first, later))
    check("pipe reuse: the wakes name the relay's pipe, and no other than the two",
          later <= wakes <= later | {first}, (wakes, first, later))

    # The same through an eventfd: its reads name it (the kernel's eventfd-id,
    # or the descriptor), and each write a reader waits on records a wake.
    r = run("pipe_relay", out, "eventfd")
    check("eventfd exit", r.returncode == 0, r.stderr)
    ev, names = dump(out)
    reads = [e for e in ev if e["kind"] == "syscall" and e["call"] == "read"
             and e.get("object", "0x0") != "0x0"]
    wakes = [e for e in ev if e["kind"] == "wake" and e["reason"] == "read"]
    check("eventfd: the slow reads name the eventfd", 10 <= len(reads) <= 20 and
          len({e["object"] for e in reads}) == 1, [e.get("object") for e in reads])
    check("eventfd: a wake from the writer thread for each slow read",
          len(wakes) >= len(reads) - 1 and all(w["tid"] != reads[0]["tid"] for w in wakes)
          and {w["object"] for w in wakes} == {reads[0]["object"]}, (len(wakes), len(reads)))
    export = subprocess.run([ctrace, "export", "--format=chrome", out], capture_output=True,
                            text=True, timeout=60)
    flows = export.stdout.count('"cat":"wake"') // 2 if export.returncode == 0 else 0
    flows -= linked_joins(ev)
    slept, linkable = read_links(ev, reads)
    check("eventfd: the export links the writes to the reads they ended",
          flows == linkable and linkable >= slept - 2 and slept >= 10,
          (flows, linkable, slept, len(reads)))

    # The same run under strace: with a zero threshold every read is recorded,
    # and the reads on the pipe that strace saw the main thread make after
    # the pipe was created are exactly the trace's.
    st = os.path.join(d, "strace.log")
    # (LeakSanitizer cannot run under ptrace: off for this run in sanitizer builds.)
    env = dict(os.environ, ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0")
    r = subprocess.run(["strace", "-f", "-e", "trace=read,pipe,pipe2", "-o", st, ctrace, "run",
                        "-o", out, "--syscall-threshold=0", "--",
                        os.path.join(progs, "pipe_relay")], capture_output=True, text=True,
                       timeout=120, env=env)
    check("pipe under strace exit", r.returncode == 0, r.stderr[-300:])
    ev, names = dump(out)
    reads = [e for e in ev if e["kind"] == "syscall" and e["call"] == "read" and
             e["class"] == "pipe"]
    fd = reads[0]["fd"] if reads else "?"
    main_tid = reads[0]["tid"] if reads else 0
    seen_pipe, strace_reads = False, 0
    for line in open(st):
        parts = line.split(None, 1)
        if len(parts) < 2 or not parts[0].isdigit() or int(parts[0]) != main_tid:
            continue
        if parts[1].startswith(("pipe(", "pipe2(")):
            seen_pipe = True
        elif seen_pipe and parts[1].startswith(f"read({fd},"):
            strace_reads += 1  # an interrupted line "<... read resumed>" is the same call
    check("pipe reads: the trace's count is strace's", strace_reads == len(reads) == 21,
          (strace_reads, len(reads)))

    r = run("mutex_contention", out)
    check("mutex exit (counter right)", r.returncode == 0, r.stdout + r.stderr)
    ev, names = dump(out)
    blocks = count(ev, "block", reason="mutex")
    check("mutex contended", blocks > 0, blocks)
    check("mutex wakes recorded", count(ev, "wake", reason="mutex") > 0)
    check("mutex blocks paired", blocks_paired(ev))

    # Short threads made one after another, some as a generation ends:
    # each row begins at its thread's creation, wherever its switches and
    # its own events fell, and holds microseconds of execution, not the
    # generation's milliseconds before it.
    r = run("churn", out, "3000", options=("--sched=exact",))
    check("churn exit", r.returncode == 0, r.stderr)
    rows = json.loads(subprocess.run([ctrace, "threads", "--json", out], capture_output=True,
                                     text=True).stdout or "[]")
    stats = json.loads(subprocess.run([ctrace, "stats", "--json", out], capture_output=True,
                                      text=True).stdout or "{}")
    made = [x for x in rows if x["tid"] != stats.get("pid")]
    check(f"churn: 3000 short threads started in work ({len(made)} rows)",
          len(made) == 3000 and all(x["start_function"] == "work" for x in made),
          [(x["tid"], x["start_function"]) for x in made if x["start_function"] != "work"][:5])
    # Each row's execution is time the kernel's switches show it running,
    # within its life (a thread's start can take milliseconds of CPU on a
    # loaded machine under a sanitizer; that is real), and the row begins
    # at the thread's creation.
    ev, _ = dump(out)
    switches, created = {}, {}
    for e in ev:
        if e["kind"] == "cpu":
            switches.setdefault(e["tid"], []).append((int(e["ts"]), e["state"]))
        elif e["kind"] == "thread_runnable":
            created[e["tid"]] = int(e["ts"])

    def kernel_run(x):
        total, on = 0, None
        for ts, state in sorted(switches.get(x["tid"], [])) + [(x["end_ns"], "end")]:
            if on is not None:
                total += max(0, min(ts, x["end_ns"]) - max(on, x["begin_ns"]))
            on = ts if state == "running" else None
        return total
    odd = [(x["tid"], x["execution_ns"], kernel_run(x), x["begin_ns"], created.get(x["tid"]))
           for x in made if x["execution_ns"] > kernel_run(x) + 500_000 or
           x["begin_ns"] < created.get(x["tid"], 0)]
    if stats.get("lost_events", 0):
        # A full ring drops switches of every thread on its CPU (a writer
        # starved of CPU, under a sanitizer): the states around the loss
        # are approximate, and `ctrace stats` says so.
        print(f"skipped: churn: execution of each thread ({stats['lost_events']} events lost)")
    else:
        check("churn: each row's execution is the kernel's, from its creation on", not odd,
              odd[:5])

    # Wakes only from releases that can end a traced thread's wait
    # (tests/progs/wakes.c says what each part does).
    r = run("wakes", out)
    check("wakes exit", r.returncode == 0, r.stdout + r.stderr)
    objects = dict(zip(*[iter(r.stdout.split())] * 2))
    ev, names = dump(out)
    main_tid = next((e["tid"] for e in ev if e["kind"] == "thread_create"), 0)

    def on(kind, name, **match):
        return [e for e in ev if e["kind"] == kind and e.get("object") == objects.get(name) and
                all(e.get(k) == v for k, v in match.items())]
    more_blocks, more_wakes = on("block", "more"), on("wake", "more")
    check("wakes: the consumer waited in most of the 20 rounds", len(more_blocks) >= 15,
          len(more_blocks))
    check("wakes: one wake a round it waited, not one a signal (10 a round)",
          len(more_wakes) == len(more_blocks) and all(e["tid"] == main_tid for e in more_wakes),
          (len(more_wakes), len(more_blocks)))
    check("wakes: a signal that wakes the last of three waiters after two left",
          len(on("wake", "gate")) == 3 and len(on("block", "gate")) == 3,
          (len(on("wake", "gate")), len(on("block", "gate"))))
    lock_wakes = on("wake", "lock", reason="mutex")
    sleeper_blocks = on("block", "lock", reason="mutex")
    check("wakes: an unlock after pthread_cond_wait's relock wakes no one; "
          "the unlock of a mutex a thread sleeps on does",
          len(lock_wakes) == 1 and lock_wakes[0]["tid"] == main_tid and len(sleeper_blocks) == 1,
          (lock_wakes, len(sleeper_blocks)))

    # A forked child of a multi-threaded process may allocate only because
    # glibc's malloc takes its locks across fork; the sanitizers' allocators
    # do not, and a child can hang on a lock another thread held (seen).
    sanitized = bool(os.environ.get("CTRACE_TEST_SANITIZER"))
    r = run("forker", out) if not sanitized else None
    if sanitized:
        print("skipped: fork and exec under a sanitizer's allocator")
    else:
        forker_checks(r, out, d)
    failexec_checks(out, d)
    if not sanitized:
        replaced_children_checks()

    r = run("deadlock", out)
    check("deadlock exit", r.returncode == 0, r.stderr)
    s = subprocess.run([ctrace, "stats", "--json", out], capture_output=True, text=True)
    stuck = json.loads(s.stdout)["blocked_at_end"] if s.returncode == 0 else []
    check("deadlock: both threads blocked at the end", len(stuck) == 2, stuck)
    check("deadlock: on mutexes", all(x["reason"] == "mutex" for x in stuck), stuck)
    check("deadlock: their stacks name the functions",
          sorted(x["stack"][0].split()[0] for x in stuck if x["stack"]) == ["first", "second"],
          stuck)
    check("deadlock: each waits for the other's mutex",
          len({x["object"] for x in stuck}) == 2, stuck)


    r = run("crasher", out)
    check("crasher status 139", r.returncode == 139, r.returncode)
    s = subprocess.run([ctrace, "stats", out], capture_output=True, text=True)
    check("crasher trace readable", s.returncode == 0 and "warning" in s.stderr, s.stderr)
    ev, names = dump(out)
    check("crasher's sleeps before the crash are in the trace",
          count(ev, "block", reason="sleep") == 5, count(ev, "block", reason="sleep"))

    # The thread table's names, from prctl, the writer marked as the tracer:
    # `true` ends before it needs a writer thread, `sleep` makes one to sleep.
    for cmd, want in ((["true"], [("true", "")]),
                      (["sleep", "0.02"], [("ctrace-writer", "tracer"), ("sleep", "")])):
        r = subprocess.run([ctrace, "run", "-o", out, "--"] + cmd, capture_output=True, text=True)
        check(f"{cmd[0]} traced", r.returncode == 0, r.stderr)
        t = subprocess.run([ctrace, "dump", out], capture_output=True, text=True).stdout
        heads = re.findall(r'^# thread (\d+) "([^"]*)"(.*)$', t, re.M)
        check(f"{cmd[0]}: its thread{' and the writer' if len(want) > 1 else ''}, named",
              sorted((n, f.strip()) for _, n, f in heads) == want, heads)

    if os.path.exists(out):
        os.unlink(out)
    r = subprocess.run([ctrace, "run", "-o", out, "--", os.path.join(d, "no-such-program")],
                       capture_output=True, text=True)
    check("missing command 127", r.returncode == 127, r.returncode)
    check("missing command one line", len(r.stderr.splitlines()) == 1, r.stderr)
    check("missing command leaves no file", not os.path.exists(out))
    script = os.path.join(d, "not-executable")
    open(script, "w").write("echo hi\n")
    r = subprocess.run([ctrace, "run", "-o", out, "--", script], capture_output=True, text=True)
    check("not executable 126", r.returncode == 126, r.returncode)
    # A script without "#!" runs under /bin/sh, as a shell (and execvp) would.
    os.chmod(script, 0o755)
    r = subprocess.run([ctrace, "run", "-o", out, "--", script], capture_output=True, text=True)
    check("script without #! runs", r.returncode == 0 and r.stdout == "hi\n", (r.returncode, r.stdout, r.stderr))
    r = subprocess.run([ctrace, "run", "-o", "/nonexistent-dir/t.out", "--", "true"],
                       capture_output=True, text=True)
    check("unwritable output 1", r.returncode == 1 and len(r.stderr.splitlines()) == 1, r.stderr)
    r = subprocess.run([ctrace, "run"], capture_output=True, text=True)
    check("no command 2", r.returncode == 2)
    r = subprocess.run([ctrace, "run", "-o", out, "--", "sh", "-c", "exit 7"],
                       capture_output=True, text=True)
    check("status passed through", r.returncode == 7, r.returncode)

finish()

#!/usr/bin/env python3
"""robust_test.py CTRACE PROGS-DIR - what real use does to ctrace: programs
that crash in a forked child, die of a signal or lose the reader of their
trace; outputs that must not be removed or followed through a planted
link. Prints one line per failed check and a closing count."""
import os
import signal
import stat
import subprocess
import sys
import tempfile

from checks import check, finish

ctrace, progs = sys.argv[1], sys.argv[2]
sanitized = bool(os.environ.get("CTRACE_TEST_SANITIZER"))


def prog(name):
    return os.path.join(progs, name)


def run(cmd, timeout=None, **kw):
    """Runs cmd in a session of its own; on a timeout kills the whole
    session (a spinning grandchild included) and returns None."""
    timeout = timeout or float(os.environ.get("ROBUST_TIMEOUT", 60))
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True, **kw)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        return None
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


def forked_child_crashes(d):
    """B1: a forked child (no exec) that crashes dies of its signal at once;
    the handler installed again in the child used to call itself for ever."""
    out = os.path.join(d, "t")
    if sanitized:
        print("skipped: forked children under a sanitizer's allocator")
        return
    for how, sig in (("segv", 11), ("raise", 11), ("abort", 6)):
        r = run([ctrace, "run", "-o", out, "--", prog("forkcrash"), how])
        check(f"forkcrash {how}: the parent sees the child's signal",
              r is not None and r.returncode == 0 and f"child signal {sig}" in r.stdout,
              "timed out" if r is None else (r.returncode, r.stdout, r.stderr))
        r = run([ctrace, "run", "--flight", "-o", out, "--", prog("forkcrash"), how])
        check(f"forkcrash {how} --flight: one window written by the child",
              r is not None and f"child signal {sig}" in r.stdout and
              r.stderr.count("flight recorder window (crash) written") == 1,
              "timed out" if r is None else (r.returncode, r.stdout, r.stderr[:300]))
        for f in os.listdir(d):
            os.unlink(os.path.join(d, f))


with tempfile.TemporaryDirectory() as d:
    forked_child_crashes(d)

finish()

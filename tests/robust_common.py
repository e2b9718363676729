"""robust_common.py - what robust_test.py's parts share: the command
line (CTRACE PROGS-DIR [BASICS]), running a program in a session of its
own, and a trace to work on."""
import os
import signal
import subprocess
import sys

from checks import check

ctrace, progs = sys.argv[1], sys.argv[2]
basics = os.path.abspath(sys.argv[3]) if len(sys.argv) > 3 else None
sanitized = bool(os.environ.get("CTRACE_TEST_SANITIZER"))


def prog(name):
    return os.path.join(progs, name)


def run(cmd, timeout=None, **kw):
    """Runs cmd in a session of its own; on a timeout kills the whole
    session (a spinning grandchild included) and returns None."""
    timeout = timeout or float(os.environ.get("ROBUST_TIMEOUT", 60))
    kw.setdefault("stdout", subprocess.PIPE)
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, start_new_session=True, **kw)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.communicate()
        return None
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


def clean(d):
    for f in os.listdir(d):
        p = os.path.join(d, f)
        if os.path.isdir(p) and not os.path.islink(p):
            clean(p)
            os.rmdir(p)
        else:
            os.unlink(p)


def trace_of(d, name="t", program="sleepers", options=()):
    out = os.path.join(d, name)
    r = run([ctrace, "run", "-o", out, *options, "--", prog(program)])
    check(f"{program} traced into {name}", r is not None and r.returncode == 0,
          r and r.stderr)
    return out

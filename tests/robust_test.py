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
    kw.setdefault("stdout", subprocess.PIPE)
    p = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, start_new_session=True, **kw)
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


def outputs_kept(d):
    """B2: export -o X and pprof -o X on a trace that cannot be read leave X
    as it was (a file, a link, a device); on success a link is written
    through and a file replaced with its permissions kept."""
    good = trace_of(d)
    bad = os.path.join(d, "bad")
    with open(good, "rb") as f:
        data = f.read()
    with open(bad, "wb") as f:  # its header reads; a record is cut
        f.write(data[:len(data) // 2])
    keep = os.path.join(d, "keep")
    link = os.path.join(d, "link")
    commands = {"export": ["export", "--format=chrome"], "pprof": ["pprof", "--type=sync"]}
    for name, cmd in commands.items():
        with open(keep, "w") as f:
            f.write("precious")
        os.chmod(keep, 0o640)
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(keep, link)
        for target in (keep, link):
            r = run([ctrace, *cmd, "-o", target, bad])
            check(f"{name} -o {os.path.basename(target)} of a bad trace: exit 1",
                  r is not None and r.returncode == 1, r and (r.returncode, r.stderr))
            check(f"{name} -o {os.path.basename(target)} of a bad trace: left as it was",
                  os.path.lexists(target) and open(keep).read() == "precious" and
                  os.path.islink(link), os.listdir(d))
        # Our own character device, like /dev/null (root only).
        null = os.path.join(d, "null")
        try:
            os.mknod(null, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        except OSError:
            null = None
        if null:
            r = run([ctrace, *cmd, "-o", null, bad])
            check(f"{name} -o a device of a bad trace: the device stays",
                  r is not None and r.returncode == 1 and os.path.exists(null) and
                  stat.S_ISCHR(os.stat(null).st_mode))
            r = run([ctrace, *cmd, "-o", null, good])
            check(f"{name} -o a device: written in place", r is not None and r.returncode == 0
                  and stat.S_ISCHR(os.stat(null).st_mode), r and r.stderr)
            os.unlink(null)
        r = run([ctrace, *cmd, "-o", link, good])
        check(f"{name} -o a link: written through it",
              r is not None and r.returncode == 0 and os.path.islink(link) and
              open(keep, "rb").read()[:8] != b"precious", r and r.stderr)
        r = run([ctrace, *cmd, "-o", keep, good])
        check(f"{name} -o a file: replaced, its permissions kept",
              r is not None and r.returncode == 0 and
              stat.S_IMODE(os.stat(keep).st_mode) == 0o640, r and r.stderr)
        left = [f for f in os.listdir(d) if ".tmp." in f]
        check(f"{name}: no temporary file left", not left, left)
    # pprof's default output, FILE.sync.pb.gz, kept when FILE is bad.
    default = bad + ".sync.pb.gz"
    with open(default, "w") as f:
        f.write("precious")
    r = run([ctrace, "pprof", "--type=sync", bad])
    check("pprof of a bad trace keeps FILE.sync.pb.gz",
          r is not None and r.returncode == 1 and os.path.exists(default) and
          open(default, "rb").read() == b"precious")
    clean(d)


def planted_links(d):
    """B5: in a sticky world-writable directory, the outputs do not follow
    a link another user planted (root only: it takes a link of another
    user's)."""
    if os.geteuid() != 0:
        print("skipped: planted links (not root)")
        return
    shared = os.path.join(d, "shared")
    os.mkdir(shared)
    os.chmod(shared, 0o1777)
    secret = os.path.join(d, "secret")
    with open(secret, "w") as f:
        f.write("secret")
    os.chmod(secret, 0o600)

    def plant(name):
        p = os.path.join(shared, name)
        os.symlink(secret, p)
        os.lchown(p, 65534, 65534)
        return p

    t = plant("t")
    r = run([ctrace, "run", "-o", t, "--", prog("sleepers")])
    check("run -o a planted link: refused", r is not None and r.returncode == 1 and
          "refused" in r.stderr and open(secret, "rb").read() == b"secret", r and r.stderr)
    os.unlink(t)
    # The flight recorder's temporary file: a link planted under the name
    # it used (FILE.tmp) is not followed.
    plant("t.tmp")
    r = run([ctrace, "run", "--flight", "--flight-at-exit", "-o", t, "--", prog("sleepers")])
    check("flight window beside a planted FILE.tmp: written, the link not followed",
          r is not None and r.returncode == 0 and open(secret, "rb").read() == b"secret" and
          os.path.isfile(t) and not os.path.islink(t), r and r.stderr)
    check("flight window: mode 0600", os.path.isfile(t) and
          stat.S_IMODE(os.stat(t).st_mode) == 0o600)
    os.unlink(t)
    good = trace_of(shared)
    plant("t.sync.pb.gz")
    r = run([ctrace, "pprof", "--type=sync", good])
    check("pprof's default output over a planted link: refused",
          r is not None and r.returncode == 1 and open(secret, "rb").read() == b"secret",
          r and r.stderr)
    clean(d)


def trace_to_pipes(d):
    """B3: a trace written to a pipe whose reader has gone does not kill the
    program; B11: no false "was not traced"; B12: -o /dev/stdout makes no
    /dev/stdout.PID files for children (it does not follow them)."""
    rd, wr = os.pipe()
    os.close(rd)
    r = run([ctrace, "run", "-o", "/dev/stdout", "--", prog("sleepers")], stdout=wr)
    os.close(wr)
    # stdout=wr: communicate() reads nothing; the status is what counts.
    check("trace to a pipe without a reader: the program exits 0",
          r is not None and r.returncode == 0, r and (r.returncode, r.stderr))
    check("trace to a pipe without a reader: said once",
          r is not None and r.stderr.count("tracing stopped") == 1, r and r.stderr)
    out = os.path.join(d, "piped")
    with open(out, "wb") as f:
        p = subprocess.Popen([ctrace, "run", "-o", "/dev/stdout", "--", prog("sleepers")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        data, err = p.communicate(timeout=120)
        f.write(data)
    check("trace to a pipe: no false 'was not traced'",
          p.returncode == 0 and b"not traced" not in err, err)
    s = subprocess.run([ctrace, "stats", out], capture_output=True, text=True)
    check("trace to a pipe: reads", s.returncode == 0 and "sleep" in s.stdout, s.stderr)
    before = set(os.listdir("/dev"))
    try:
        r = run([ctrace, "run", "-o", "/dev/stdout", "--", prog("forker")],
                stdout=open(out, "wb"))
        made = [f for f in set(os.listdir("/dev")) - before if f.startswith("stdout.")]
        check("-o /dev/stdout with a forking program: no /dev/stdout.PID", not made, made)
        check("-o /dev/stdout with a forking program: says children are not traced",
              r is not None and r.returncode == 3 and
              r.stderr.count("are not traced") == 1, r and r.stderr)
    finally:
        for f in set(os.listdir("/dev")) - before:
            if f.startswith("stdout."):
                os.unlink(os.path.join("/dev", f))
    clean(d)


def private_traces(d):
    """Traces hold command lines, logs and stacks: mode 0600, children's too."""
    old = os.umask(0o022)
    try:
        if sanitized:
            print("skipped: forked children under a sanitizer's allocator")
            return
        r = run([ctrace, "run", "-o", os.path.join(d, "t"), "--", prog("forker")])
        files = sorted(os.listdir(d))
        modes = {f: stat.S_IMODE(os.stat(os.path.join(d, f)).st_mode) for f in files}
        check("traces written 0600", r is not None and len(files) == 3 and
              all(m == 0o600 for m in modes.values()), modes)
    finally:
        os.umask(old)
    clean(d)


# ROBUST_ONLY=name,name runs those parts alone.
parts = [forked_child_crashes, outputs_kept, planted_links, trace_to_pipes, private_traces]
only = os.environ.get("ROBUST_ONLY")
with tempfile.TemporaryDirectory() as d:
    for part in parts:
        if not only or part.__name__ in only.split(","):
            part(d)

finish()

#!/usr/bin/env python3
"""bench_real.py BUILD-DIR [RUNS] - what `ctrace run` costs real programs:
make -j2 of a generated C project, a curl loop against a loopback server, a
C++ three-stage pipeline on one CPU, a python3 threading script, git grep, pigz, xz and a
hammered mutex. Each program runs untraced, traced with the defaults
(--sched=auto), with --sched=exact and with --sched=off, RUNS times (default 7) in one rotation: a round
runs every program once in every mode, the modes' order turning from one
round to the next, so that a ratio compares runs made side by side. Wall
time, and CPU time (user + system of the program and every child it
waited for, from wait4's rusage), medians; `spread` is the untraced
runs' interquartile range over their median, the noise of this run.
Then the start-up cost: `ctrace run -- true` against `true`, and the cost
of each exec'd child (a shell loop of 200 /bin/true, under dash, which
vforks, and bash, which forks), and `ctrace run -- true` once more after
1.5 s with no perf event open (the kernel's first one waits for an RCU
grace period), and the shell loop once more with its traces in /dev/shm. The
file system of the trace directory is named, with what making a small file
there costs: each traced process makes one. A table in Markdown.
BENCH_ROWS=WORD,WORD... runs only the rows whose names hold one of the
words ("startup" the start-up figures). BENCH_BASE=DIR adds another
build's start-up figures, measured in the same rotation."""
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

build = os.path.abspath(sys.argv[1])
runs = int(sys.argv[2]) if len(sys.argv) > 2 else 7
ctrace = os.path.join(build, "ctrace")
progs = os.path.join(build, "bench")
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
only = [w for w in os.environ.get("BENCH_ROWS", "").split(",") if w]
MODES = ("untraced", "defaults", "sched-exact", "sched-off")


def wanted(name):
    return not only or any(w in name for w in only)


def traced_cmd(mode, cmd, trace, tracer=None):
    tracer = tracer or ctrace
    if mode == "defaults":
        return [tracer, "run", "-o", trace, "--"] + cmd
    if mode == "sched-off":
        return [tracer, "run", "--sched=off", "-o", trace, "--"] + cmd
    if mode == "sched-exact":
        return [tracer, "run", "--sched=exact", "-o", trace, "--"] + cmd
    return cmd


def measure(cmd, cwd=None):
    """Wall and CPU seconds of cmd and its waited-for children."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    err = p.stderr.read()
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench_real: {' '.join(cmd)} failed: {err.decode(errors='replace')[-400:]}")
    return wall, usage.ru_utime + usage.ru_stime


def clear(dirname):
    for name in os.listdir(dirname):
        os.unlink(os.path.join(dirname, name))


# --- the programs ---------------------------------------------------------

def c_project(d):
    """40 small C files and a Makefile: make -j2 runs about 160 processes
    (cc, cc1 and as for each file, and the link)."""
    src = os.path.join(d, "cproj")
    os.makedirs(src)
    rnd = random.Random(7)
    for i in range(40):
        with open(os.path.join(src, f"m{i:02}.c"), "w") as f:
            f.write("#include <stdio.h>\n#include <string.h>\n#include <stdlib.h>\n\n")
            for j in range(8):
                a, b = rnd.randint(2, 97), rnd.randint(3, 89)
                f.write(f"""
struct s{i}_{j} {{ int a[{a}]; double d; char name[{b}]; }};

static int helper{i}_{j}(struct s{i}_{j} *s, int n)
{{
    int acc = 0;
    for (int k = 0; k < n && k < {a}; k++) {{
        s->a[k] = k * {b} + (int)s->d;
        acc += s->a[k] % {a + 1} ? s->a[k] : -k;
    }}
    snprintf(s->name, sizeof s->name, "%d-%d", acc, n);
    return acc + (int)strlen(s->name);
}}

int f{i}_{j}(int n)
{{
    struct s{i}_{j} *s = calloc(1, sizeof *s);
    int r = s ? helper{i}_{j}(s, n) : -1;
    free(s);
    return r;
}}
""")
    with open(os.path.join(src, "main.c"), "w") as f:
        for i in range(40):
            f.write(f"int f{i}_0(int n);\n")
        f.write("int main(void)\n{\n    int r = 0;\n")
        for i in range(40):
            f.write(f"    r += f{i}_0({i});\n")
        f.write("    return r == 12345;\n}\n")
    objs = " ".join([f"m{i:02}.o" for i in range(40)] + ["main.o"])
    with open(os.path.join(src, "Makefile"), "w") as f:
        f.write(f"CFLAGS = -O1 -Wall\nOBJS = {objs}\n\nprog: $(OBJS)\n\t$(CC) -o $@ $(OBJS)\n\n"
                "%.o: %.c\n\t$(CC) $(CFLAGS) -c -o $@ $<\n\nclean:\n\trm -f prog $(OBJS)\n")
    return src


def loopback_server(d):
    """python3 -m http.server on a free loopback port, serving a 4 KB file;
    the server runs untraced and apart from the measured command."""
    www = os.path.join(d, "www")
    os.makedirs(www)
    with open(os.path.join(www, "f"), "wb") as f:
        f.write(b"x" * 4096)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    server = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1",
                               str(port)], cwd=www, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}/f"


PY_THREADS = """
import queue, threading
q, out = queue.Queue(maxsize=100), queue.Queue()
def work():
    total = 0
    while True:
        item = q.get()
        if item is None:
            break
        total += sum(i * i for i in range(item % 50))
    out.put(total)
workers = [threading.Thread(target=work) for _ in range(4)]
for w in workers:
    w.start()
for i in range(60000):
    q.put(i)
for _ in workers:
    q.put(None)
for w in workers:
    w.join()
"""


def data_file(d):
    """60 MB of text-like data (words of a random vocabulary): pigz and xz
    find something to compress."""
    rnd = random.Random(42)
    words = [("".join(rnd.choice("abcdefghijklmnop") for _ in range(rnd.randint(2, 10)))).encode()
             for _ in range(8000)]
    block = b" ".join(rnd.choice(words) for _ in range(400000)) + b"\n"
    path = os.path.join(d, "data")
    with open(path, "wb") as f:
        for i in range(60 * 1024 * 1024 // len(block) + 1):
            # Each block shifted differently: no long-range repeats for xz.
            f.write(block[i * 7919 % len(block):] + block[:i * 7919 % len(block)])
    return path


# --- the table ------------------------------------------------------------

def quartile_spread(xs):
    s = sorted(xs)
    q1, q3 = s[len(s) // 4], s[(3 * len(s)) // 4]
    return (q3 - q1) / statistics.median(s)


def rotation(rows, tracedir):
    """Every round: each row, each mode (their order turning)."""
    got = {(r[0], m): [] for r in rows for m in MODES}
    for i in range(runs):
        order = MODES[i % len(MODES):] + MODES[:i % len(MODES)]
        for name, cmd, cwd, before in rows:
            for m in order:
                if before:
                    before()
                got[(name, m)].append(measure(traced_cmd(m, cmd, os.path.join(tracedir, "t")),
                                              cwd))
                clear(tracedir)
    return got


def table(rows, got):
    print("| program | untraced wall ms | defaults | --sched=exact | --sched=off "
          "| untraced CPU ms | defaults | --sched=exact | --sched=off | spread |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, *_ in rows:
        base_w = statistics.median(w for w, _ in got[(name, "untraced")])
        base_c = statistics.median(c for _, c in got[(name, "untraced")])
        cells = [f"{base_w * 1e3:.0f}"]
        for m in MODES[1:]:
            cells.append(f"{statistics.median(w for w, _ in got[(name, m)]) / base_w:.2f}x")
        cells.append(f"{base_c * 1e3:.0f}")
        for m in MODES[1:]:
            cells.append(f"{statistics.median(c for _, c in got[(name, m)]) / base_c:.2f}x")
        cells.append(f"{quartile_spread([w for w, _ in got[(name, 'untraced')]]) * 100:.0f} %")
        print(f"| {name} | " + " | ".join(cells) + " |")


def startup(tracedir):
    """ctrace run -- true minus true; a shell's 200 children traced minus
    untraced, over 200. Alternated, medians of 3 x runs. BENCH_BASE=DIR
    (another build directory, or a directory holding its ctrace and
    libctrace-preload.so) adds its figures, measured in the same rotation."""
    trace = os.path.join(tracedir, "t")
    loop = ["sh", "-c", "for i in $(seq 200); do /bin/true; done"]
    # bash forks (dash vforks): each child a forked process that execs.
    bash_loop = ["bash", "-c", "for i in $(seq 200); do /bin/true; done"]
    builds = [("", ctrace)]
    if os.environ.get("BENCH_BASE"):
        builds.append((" (BENCH_BASE)", os.path.join(os.path.abspath(os.environ["BENCH_BASE"]),
                                                     "ctrace")))
    keys = [b + k for b, _ in builds for k in ("run true", "run true sched-off", "run loop",
                                                "run loop sched-off", "run bash", "run bash sched-off",
                                                "run loop shm")]
    # The same shell loop with the traces in memory (/dev/shm): what a
    # child costs apart from the making of its file.
    shm = tempfile.mkdtemp(prefix="ctrace-bench-", dir="/dev/shm") \
        if os.path.isdir("/dev/shm") else None
    t = {k: [] for k in ["true", "loop", "bash"] + keys}

    def traced(label, what, cmd):
        for tag, tracer in builds:
            t[tag + label].append(measure(traced_cmd(what, cmd, trace, tracer))[0])
            clear(tracedir)

    for _ in range(3 * runs):
        t["true"].append(measure(["true"])[0])
        traced("run true", "defaults", ["true"])
        traced("run true sched-off", "sched-off", ["true"])
    for _ in range(runs):
        t["loop"].append(measure(loop)[0])
        traced("run loop", "defaults", loop)
        traced("run loop sched-off", "sched-off", loop)
        for tag, tracer in builds:
            if shm:
                t[tag + "run loop shm"].append(
                    measure(traced_cmd("defaults", loop, os.path.join(shm, "t"), tracer))[0])
                clear(shm)
        t["bash"].append(measure(bash_loop)[0])
        traced("run bash", "defaults", bash_loop)
        traced("run bash sched-off", "sched-off", bash_loop)
    # Cold: after 1.5 s with no perf event open, the first one waits for
    # an RCU grace period in the kernel (docs/performance.md).
    cold_keys = ["cold true"] + [b + k for b, _ in builds for k in ("cold run", "cold run sched-off")]
    for k in cold_keys:
        t[k] = []
    for _ in range(runs):
        time.sleep(1.5)
        t["cold true"].append(measure(["true"])[0])
        for tag, tracer in builds:
            for label, what in (("cold run", "defaults"), ("cold run sched-off", "sched-off")):
                time.sleep(1.5)
                t[tag + label].append(measure(traced_cmd(what, ["true"], trace, tracer))[0])
                clear(tracedir)
    if shm:
        os.rmdir(shm)
    med = {k: statistics.median(v) for k, v in t.items() if v}
    print(f"\nstart-up (`true` {med['true'] * 1e3:.2f} ms, the shell loop "
          f"`sh -c 'for i in $(seq 200); do /bin/true; done'` {med['loop'] * 1e3:.0f} ms "
          f"untraced, the same with bash {med['bash'] * 1e3:.0f} ms):\n")
    print("| build | `ctrace run -- true` minus `true` | --sched=off | each exec'd child "
          "| --sched=off | each child of bash | --sched=off "
          "| after 1.5 s idle: `ctrace run -- true` minus `true` | --sched=off "
          "| each exec'd child, traces in /dev/shm |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for tag, _ in builds:
        print(f"| {tag.strip(' ()') or 'this one'} "
              f"| +{(med[tag + 'run true'] - med['true']) * 1e3:.2f} ms "
              f"| +{(med[tag + 'run true sched-off'] - med['true']) * 1e3:.2f} ms "
              f"| +{(med[tag + 'run loop'] - med['loop']) / 200 * 1e3:.2f} ms "
              f"| +{(med[tag + 'run loop sched-off'] - med['loop']) / 200 * 1e3:.2f} ms "
              f"| +{(med[tag + 'run bash'] - med['bash']) / 200 * 1e3:.2f} ms "
              f"| +{(med[tag + 'run bash sched-off'] - med['bash']) / 200 * 1e3:.2f} ms "
              f"| +{(med[tag + 'cold run'] - med['cold true']) * 1e3:.2f} ms "
              f"| +{(med[tag + 'cold run sched-off'] - med['cold true']) * 1e3:.2f} ms "
              + (f"| +{(med[tag + 'run loop shm'] - med['loop']) / 200 * 1e3:.2f} ms |"
                 if tag + "run loop shm" in med else "| - |"))


def file_system(d):
    """What d is on, and what creating a small file there costs: a traced
    process writes one file, and file systems differ by 50x at that."""
    kind = subprocess.run(["stat", "-f", "-c", "%T", d], capture_output=True,
                          text=True).stdout.strip() or "?"
    if kind == "ext2/ext3":  # ext4's magic number is ext2's
        st = os.stat(d)
        try:
            dev = os.path.basename(os.path.realpath(
                f"/sys/dev/block/{os.major(st.st_dev)}:{os.minor(st.st_dev)}"))
            journal = any(n.startswith(dev + "-") for n in os.listdir("/proc/fs/jbd2"))
        except OSError:
            journal = None
        kind = "ext4" + {True: " with a journal", False: " without a journal",
                         None: ""}[journal]
    probe = tempfile.mkdtemp(dir=d)
    try:
        t0 = time.perf_counter()
        for i in range(200):
            fd = os.open(os.path.join(probe, f"f.{i}"), os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                         0o600)
            os.write(fd, b"\0" * 4096)
            os.close(fd)
        each = (time.perf_counter() - t0) / 200
    finally:
        shutil.rmtree(probe)
    return f"{kind}, a 4 KiB file made in {each * 1e6:.0f} us"


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (f"{model}, {os.cpu_count()} CPUs, Linux {platform.release()}, "
            f"load average {os.getloadavg()[0]:.2f}")


def main():
    with tempfile.TemporaryDirectory() as d:
        tracedir = os.path.join(d, "traces")
        os.makedirs(tracedir)
        rows = []
        server = None
        if wanted("make"):
            src = c_project(d)
            rows.append(("make -j2, 41 C files", ["make", "-s", "-j2"], src,
                         lambda: subprocess.run(["make", "-s", "clean"], cwd=src, check=True)))
        if wanted("curl") and shutil.which("curl"):
            server, url = loopback_server(d)
            rows.append(("curl loop, 200 requests",
                         ["sh", "-c", f"for i in $(seq 200); do curl -s -o /dev/null {url}; done"],
                         None, None))
        if wanted("C++"):
            # On one CPU (taskset): every handoff is a context switch
            # there, 300 k/s, and the run is steady; on two CPUs it
            # varies by a third from run to run with the rhythm of its
            # wake-ups, which any delay at a wait changes.
            rows.append(("C++ pipeline on one CPU, 200k blocks",
                         ["taskset", "-c", "0", os.path.join(progs, "cxx_pipeline"), "200000"],
                         None, None))
        if wanted("python"):
            script = os.path.join(d, "threads.py")
            with open(script, "w") as f:
                f.write(PY_THREADS)
            rows.append(("python3 threading, 4 threads", [sys.executable, script], None, None))
        if wanted("git") and shutil.which("git") and os.path.exists(os.path.join(root, ".git")):
            rows.append(("git grep --threads=2, 4 revisions",
                         ["git", "-C", root, "grep", "--threads=2", "-c", "-E", "ct_[a-z]+_",
                          "HEAD", "HEAD~20", "HEAD~40", "HEAD~80"], None, None))
        data = None
        if wanted("pigz") or wanted("xz"):
            data = data_file(d)
        if wanted("pigz") and shutil.which("pigz"):
            rows.append(("pigz -p2, 60 MB", ["pigz", "-p2", "-c", data], None, None))
        if wanted("xz") and shutil.which("xz"):
            rows.append(("xz -T2 -0, 60 MB", ["xz", "-T2", "-0", "-c", data], None, None))
        if wanted("mutex"):
            # 5 M pairs a thread: about 150 ms, so that the process's
            # start (about 3 ms traced) is not what the row measures.
            rows.append(("mutex, 2 threads x 5M lock/unlock",
                         [os.path.join(progs, "mutex_bench"), "5000000", "2"], None, None))
        try:
            print(f"`ctrace run` on real programs: medians of {runs} rounds, the four modes "
                  f"side by side; ratios to untraced\n")
            print(f"machine: {machine()}\n")
            print(f"traces written to {tracedir}: {file_system(tracedir)}"
                  + (f"; /dev/shm: {file_system('/dev/shm')}" if os.path.isdir("/dev/shm")
                     else "") + "\n")
            if rows:
                table(rows, rotation(rows, tracedir))
            if wanted("startup"):
                startup(tracedir)
            print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")
        finally:
            if server:
                server.terminate()
                server.wait()


main()

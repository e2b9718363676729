#!/usr/bin/env python3
"""http_test.py CTRACE PROGS-DIR - the endpoint inside a traced program
(`ctrace run --http`): the index, a trace of the next N seconds, the flight
recorder's window, one trace at a time, bad requests. Prints one line per
check and a closing count."""
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

from checks import check, finish

ctrace, progs = sys.argv[1], sys.argv[2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, method="GET", timeout=30):
    """(status, body) of a request."""
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def start(tmp, port, *options, ms=20000):
    out = os.path.join(tmp, "t.out")
    p = subprocess.Popen([ctrace, "run", "-o", out, f"--http=127.0.0.1:{port}", *options, "--",
                          os.path.join(progs, "ticker"), str(ms)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}/debug/ctrace/"
    for _ in range(100):
        try:
            if get(base, timeout=2)[0] == 200:
                break
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.1)
    return p, base


def stats(tmp, data, name):
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(data)
    return subprocess.run([ctrace, "stats", "--json", path], capture_output=True, text=True,
                          timeout=60)


with tempfile.TemporaryDirectory() as tmp:
    port = free_port()
    p, base = start(tmp, port)
    status, body = get(base)
    check("index 200", status == 200 and b"trace?seconds=" in body, status)
    check("index without the slash", get(base.rstrip("/"))[0] == 200)

    t0 = time.monotonic()
    status, body = get(base + "trace?seconds=1")
    took = time.monotonic() - t0
    check("trace?seconds=1: 200", status == 200, status)
    check("trace?seconds=1: about a second", 0.9 <= took <= 5, took)
    s = stats(tmp, body, "one.out")
    check("trace?seconds=1: a complete trace", s.returncode == 0 and "warning" not in s.stderr,
          s.stderr)
    check("trace?seconds=1: the program's sleeps in it", '"block":' in s.stdout, s.stdout[:300])
    check("trace?seconds=1: the endpoint's threads are left out", '"threads":1,' in s.stdout
          or '"threads": 1,' in s.stdout, s.stdout[:400])

    # One at a time: a second request while the first streams is 409.
    results = {}

    def take(name, seconds):
        results[name] = get(base + f"trace?seconds={seconds}")

    first = threading.Thread(target=take, args=("first", 2))
    first.start()
    time.sleep(0.5)
    second = get(base + "trace?seconds=1")
    first.join()
    check("a second trace while one streams: 409", second[0] == 409, second[0])
    check("... and the first completes", results["first"][0] == 200 and
          stats(tmp, results["first"][1], "two.out").returncode == 0)
    check("after it, a trace again", get(base + "trace?seconds=1")[0] == 200)

    # The same with curl, as a user would.
    with tempfile.NamedTemporaryFile(dir=tmp, suffix=".out") as f:
        c = subprocess.run(["curl", "-sS", "-o", f.name, "-w", "%{http_code}",
                            base + "trace?seconds=1"], capture_output=True, text=True, timeout=60)
        check("curl: a trace of one second", c.stdout == "200" and
              subprocess.run([ctrace, "stats", f.name], capture_output=True).returncode == 0,
              c.stdout + c.stderr)
        c = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                            base + "trace?seconds=9999"], capture_output=True, text=True, timeout=60)
        check("curl: seconds=9999 is 400", c.stdout == "400", c.stdout)
        # Concurrent curls: one streams, the others are told 409.
        procs = [subprocess.Popen(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}",
                                   base + "trace?seconds=2"], stdout=subprocess.PIPE, text=True)
                 for _ in range(3)]
        codes = sorted(p2.communicate(timeout=60)[0] for p2 in procs)
        check("concurrent curls: one 200, the others 409", codes == ["200", "409", "409"], codes)

    for bad in ("seconds=0", "seconds=601", "seconds=abc", "seconds=1e3", "seconds=-1",
                "seconds=", "seconds=99999999999999999999"):
        check(f"trace?{bad}: 400", get(base + "trace?" + bad)[0] == 400)
    check("HEAD trace: 200, nothing traced", get(base + "trace?seconds=5", "HEAD")[0] == 200)
    check("POST: 405", get(base, "POST")[0] == 405)
    check("unknown path: 404", get(base + "nothing")[0] == 404)
    check("a path with ..: 404", get(base + "../../etc/passwd")[0] == 404)
    check("flight without a flight recorder: 404", get(base + "flight")[0] == 404)
    check("still serving", get(base)[0] == 200)
    p.terminate()
    p.wait(timeout=30)
    main = stats(tmp, open(os.path.join(tmp, "t.out"), "rb").read(), "main.out")
    check("the program's own trace is whole", main.returncode == 0, main.stderr)

    # With the flight recorder: its window over HTTP, and a trace beside it.
    port = free_port()
    p, base = start(tmp, port, "--flight=300ms")
    time.sleep(1)
    status, body = get(base + "flight")
    check("flight: 200", status == 200, status)
    s = stats(tmp, body, "flight.out")
    check("flight: a complete trace", s.returncode == 0 and "warning" not in s.stderr, s.stderr)
    status, body = get(base + "trace?seconds=1")
    check("trace beside the flight recorder: 200", status == 200 and
          stats(tmp, body, "beside.out").returncode == 0, status)
    concurrent = []
    threads = [threading.Thread(target=lambda: concurrent.append(get(base + "flight")[0]))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check("concurrent flight requests: each 200 or 409",
          all(c in (200, 409) for c in concurrent) and 200 in concurrent, concurrent)
    p.terminate()
    p.wait(timeout=30)

    # A program that closes every descriptor from 3 at its start, as a
    # daemon does: the endpoint's socket and wake-up pipe are the tracer's,
    # and stay open; the program's first file is its own.
    for how in ("close", "range", "from"):
        port = free_port()
        p = subprocess.Popen([ctrace, "run", "-o", os.path.join(tmp, "c.out"),
                              f"--http=127.0.0.1:{port}", "--", os.path.join(progs, "closer"),
                              how, os.path.join(tmp, "closer.data"), "3000"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        said = p.stdout.readline()  # once the closes are done
        try:
            status = get(f"http://127.0.0.1:{port}/debug/ctrace/", timeout=5)[0]
        except (urllib.error.URLError, ConnectionError) as e:
            status = str(e)
        out, err = p.communicate(timeout=60)
        out = said + out
        check(f"closer {how}: the endpoint answers after the program's closes", status == 200,
              status)
        check(f"closer {how}: the program's file is its own", p.returncode == 0,
              (p.returncode, out + err))

    # A bad address: the program runs anyway, with one line said.
    r = subprocess.run([ctrace, "run", "-o", os.path.join(tmp, "x.out"), "--http=nonsense", "--",
                        os.path.join(progs, "ticker"), "10"], capture_output=True, text=True,
                       timeout=60)
    check("bad address: the program runs", r.returncode == 0, r.stderr)
    check("bad address: one line", "no endpoint on nonsense" in r.stderr, r.stderr)

finish()

#!/usr/bin/env python3
"""view_test.py CTRACE GEN-TRACE - ctrace view's server: a slow answer does
not hold up the others; requests whose client has gone are dropped; the
lists are paged and bounded; Ctrl-C and SIGTERM stop it at once, even with
work under way; a trace file cut short or written again under the view
gives errors, not a crash (SIGBUS); a thousand idle connections do not
lock it out; only loopback names and addresses, the address listened on
or allowed Host names are answered, and no
request another site makes. Prints one line per check and a closing
count."""
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from checks import check, finish

ctrace, gen_trace = sys.argv[1], sys.argv[2]
# Times are only ever upper bounds with wide margins: the machine is shared.
MARGIN = 10 if os.environ.get("CTRACE_TEST_SANITIZER") else 1


def serve(trace, *options):
    p = subprocess.Popen([ctrace, "view", "--no-browser", *options, trace], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    m = re.search(r"http://([0-9.]+):(\d+)/", line)
    if not m:
        p.kill()
        raise RuntimeError(f"ctrace view: {line} {p.stderr.read()}")
    return p, m.group(1), int(m.group(2))


def request(port, path, headers=None, timeout=60):
    """(status, body, seconds) of a GET."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    start = time.monotonic()
    c.request("GET", path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body, time.monotonic() - start


def get_json(port, path):
    status, body, _ = request(port, path)
    return status, json.loads(body) if status in (200, 202) else body


def wait_lists(port, limit=300):
    for _ in range(limit * 10):
        status, st = get_json(port, "/api/status")
        if status == 200 and st["lists"] in ("ready", "failed"):
            return st["lists"]
        time.sleep(0.1)
    return "timeout"


def stops_within(p, seconds):
    try:
        p.wait(timeout=seconds)
        return True
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return False


with tempfile.TemporaryDirectory() as tmp:
    trace = os.path.join(tmp, "t.out")
    # Smaller under a sanitizer: everything there is slower alike.
    mb = "24" if os.environ.get("CTRACE_TEST_SANITIZER") else "48"
    # The generator is not what is tested here: under ThreadSanitizer what
    # it reports of the recorder does not stop it (the recorder's own tests
    # are for that).
    env = dict(os.environ, TSAN_OPTIONS="halt_on_error=0:exitcode=0:report_bugs=0")
    r = subprocess.run([gen_trace, trace, mb, "2"], capture_output=True, text=True, env=env)
    check("record a trace", r.returncode == 0, r.stderr)

    p, host, port = serve(trace)
    try:
        check("the lists are indexed", wait_lists(port) == "ready")

        # A slow answer (a profile made for the first time) and, meanwhile,
        # others: each is answered while the profile is still being made.
        slow = {}

        def profile():
            slow["status"], _, slow["seconds"] = request(port, "/api/pprof?type=sched&wait=1")
            slow["done"] = time.monotonic()

        t = threading.Thread(target=profile)
        t.start()
        time.sleep(0.05)
        fast = []
        summary = json.loads(request(port, "/api/summary")[1])
        mid = (summary["begin"] + summary["end"]) // 2
        for path in ["/api/threads", "/api/tasklist?type=request&limit=50",
                     "/api/regionlist?type=parse&limit=50&sort=begin", "/api/logs?limit=50",
                     "/api/focus?id=5", f"/api/timeline?t0={mid}&t1={mid + 100000}&px=800",
                     "/api/tasks"]:
            status, _, seconds = request(port, path)
            fast.append((path, status, seconds, time.monotonic()))
        t.join()
        check("a slow answer: the profile", slow.get("status") == 200, slow)
        check("the other requests answered meanwhile, before it",
              all(f[1] == 200 and f[3] < slow["done"] for f in fast),
              [(f[0], f[1], round(f[2], 3)) for f in fast] + [round(slow["seconds"], 3)])

        # Pages are bounded: a page asks for at most 1000 rows.
        status, page = get_json(port, "/api/tasklist?type=request&limit=1000&offset=100000&sort=begin")
        check("a page of tasks, deep in the list", status == 200 and len(page["rows"]) == 1000 and
              page["total"] >= 101000, (status, page if status != 200 else page["total"]))
        check("a page of more than 1000 rows is refused",
              request(port, "/api/tasklist?type=request&limit=1001")[0] == 400)
        status, logs = get_json(port, "/api/logs?q=slept%20after%20request&limit=10&order=desc")
        check("logs: a search, latest first", status == 200 and logs["matched"] > 100 and
              len(logs["logs"]) == 10 and logs["logs"][0]["t"] >= logs["logs"][-1]["t"], logs)

        # Requests whose client went away before their turn are dropped:
        # timeline windows are read one at a time, so most of these wait.
        before = get_json(port, "/api/status")[1]["cancelled"]
        span = summary["end"] - summary["begin"]
        socks = []
        for k in range(40):
            s = socket.create_connection(("127.0.0.1", port))
            t0 = summary["begin"] + span * k // 40
            s.sendall(f"GET /api/timeline?t0={t0}&t1={t0 + span // 4}&px=1500 HTTP/1.1\r\n"
                      f"Host: 127.0.0.1:{port}\r\n\r\n".encode())
            socks.append(s)
        for s in socks:
            s.close()
        for _ in range(600):
            st = get_json(port, "/api/status")[1]
            if st["busy"] <= 1:  # the status request itself
                break
            time.sleep(0.05)
        check("requests whose client has gone are dropped", st["busy"] <= 1 and
              st["cancelled"] - before >= 5, (before, st))
        check("still serving after them", request(port, "/api/summary")[0] == 200)

        # Host names: loopback names and addresses, the address listened on;
        # nothing another site makes the browser ask for.
        for name, want in [("evil.example", 403), ("evil.example.:80", 403),
                           (f"localhost:{port}", 200), (f"127.0.0.1:{port}", 200),
                           (f"[::1]:{port}", 200), (f"app.localhost:{port}", 200),
                           (f"127.1.2.3:{port}", 200), (f"10.1.2.3:{port}", 403),
                           (f"[2001:db8::1]:{port}", 403), ("127.0.0.1.evil.example", 403)]:
            got = request(port, "/api/summary", {"Host": name})[0]
            check(f"Host {name}: {want}", got == want, got)
        check("a cross-site request is refused",
              request(port, "/api/summary", {"Sec-Fetch-Site": "cross-site"})[0] == 403)
        check("a same-origin request is answered",
              request(port, "/api/summary", {"Sec-Fetch-Site": "same-origin"})[0] == 200)

        # A thousand idle connections (more than select's 1024 descriptors):
        # another client is still answered.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < 4096 and hard >= 4096:
            resource.setrlimit(resource.RLIMIT_NOFILE, (4096, hard))
        idle = []
        try:
            for _ in range(1100):
                idle.append(socket.create_connection(("127.0.0.1", port)))
        except OSError as e:
            print(f"note: {len(idle)} idle connections opened ({e})")
        status, _, seconds = request(port, "/api/summary", timeout=20)
        check("1100 idle connections do not lock the view out", len(idle) >= 1050 and
              status == 200 and seconds < 5 * MARGIN, (len(idle), status, seconds))
        for s in idle:
            s.close()

        # Ctrl-C stops it at once, while a slow answer is being made.
        def profile_cut_off():
            try:
                request(port, "/api/pprof?type=sync&wait=1", timeout=30)
            except (OSError, http.client.HTTPException):
                pass  # the server stopped under it: expected

        threading.Thread(target=profile_cut_off, daemon=True).start()
        time.sleep(0.1)
        p.send_signal(signal.SIGINT)
        check("Ctrl-C stops it at once, with work under way", stops_within(p, 3 * MARGIN))
        check("... and its status is 0", p.returncode == 0,
              (p.returncode, p.stderr.read()[-4000:] if p.returncode else ""))
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()

    # SIGTERM while the lists are still being indexed.
    p, host, port = serve(trace)
    p.send_signal(signal.SIGTERM)
    check("SIGTERM stops it at once, while it indexes", stops_within(p, 3 * MARGIN))

    # An allowed host name.
    p, host, port = serve(trace, "--allow-host=trace.example")
    try:
        check("--allow-host: that name is answered",
              request(port, "/api/summary", {"Host": f"trace.example:{port}"})[0] == 200)
        check("--allow-host: others still are not",
              request(port, "/api/summary", {"Host": f"other.example:{port}"})[0] == 403)
    finally:
        p.send_signal(signal.SIGTERM)
        stops_within(p, 10)

    # The file cut short under the view (recorded again to the same name):
    # answers say so; nothing dies of SIGBUS.
    cut = os.path.join(tmp, "cut.out")
    shutil.copy(trace, cut)
    p, host, port = serve(cut)
    try:
        wait_lists(port)
        size = os.path.getsize(cut)
        os.truncate(cut, size // 3)
        late = summary["begin"] + (summary["end"] - summary["begin"]) * 9 // 10
        for path in [f"/api/timeline?t0={late}&t1={late + 200000}&px=800",
                     f"/api/span?tid={summary['threads'][1]['tid']}&t={late}",
                     "/api/pprof?type=net", "/api/tasklist?type=request"]:
            status, body, _ = request(port, path)
            check(f"cut short: {path.split('?')[0]} says so", status == 410 and b"cut" in body,
                  (status, body[:200]))
        check("cut short: still running", p.poll() is None, p.poll())
    finally:
        p.kill()
        p.wait()
        err = p.stderr.read()
    check("cut short: no crash", "SIGBUS" not in err and "Bus error" not in err, err[-300:])

    # The file written again at the same size: the index no longer holds.
    again = os.path.join(tmp, "again.out")
    shutil.copy(trace, again)
    p, host, port = serve(again)
    try:
        with open(again, "r+b") as f:
            f.seek(64)
            f.write(os.urandom(64))
        status, body, _ = request(port, "/api/timeline?t0=0&t1=1000000&px=100")
        check("written again: says so", status == 410 and b"written again" in body,
              (status, body[:200]))
    finally:
        p.kill()
        p.wait()

finish()

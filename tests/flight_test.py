#!/usr/bin/env python3
"""flight_test.py CTRACE PROGS-DIR - `ctrace run --flight`: the window written
on the flight signal, on a crash and at exit, with the right bounds; usage
errors. Prints one line per check and a closing count."""
import os
import subprocess
import sys
import tempfile

from checks import check, finish

ctrace, progs = sys.argv[1], sys.argv[2]
MS = 1000000


def run(out, options, *args):
    cmd = [ctrace, "run", "-o", out, *options, "--", os.path.join(progs, "ticker"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def sleeps(path):
    """The start times (ns) of the sleeps in a trace, and ctrace stats' stderr."""
    s = subprocess.run([ctrace, "stats", path], capture_output=True, text=True, timeout=60)
    check(f"stats reads {os.path.basename(path)}", s.returncode == 0, s.stderr)
    d = subprocess.run([ctrace, "dump", path], capture_output=True, text=True, timeout=60)
    times = [int(line.split()[0]) for line in d.stdout.splitlines()
             if not line.startswith("#") and " block reason=sleep" in line]
    return times, s.stderr


with tempfile.TemporaryDirectory() as tmp:
    out = os.path.join(tmp, "f.out")

    # The flight signal at 500 ms of a 1 s run, window 200 ms: the file holds
    # the 200 ms before the signal (plus at most one 25 ms generation).
    r = run(out, ["--flight=200ms"], "1000", "500")
    check("signal: exit 0", r.returncode == 0, r.stderr)
    check("signal: the recorder says where", "window (signal) written to " + out in r.stderr,
          r.stderr)
    times, err = sleeps(out)
    check("signal: a complete trace", "warning" not in err, err)
    if times:
        span = times[-1] - times[0]
        check("signal: the window covers at least 200 ms", span >= 195 * MS, span)
        check("signal: ... and at most 200 ms + a generation", span <= 290 * MS, span)
        check("signal: it ends at the signal, not at exit", 450 * MS <= times[-1] <= 700 * MS,
              times[-1])
    else:
        check("signal: sleeps in the window", False)

    # A crash at the end of 500 ms: the window ends just before it.
    os.unlink(out)
    r = run(out, ["--flight=200ms"], "500", "0", "crash")
    check("crash: status 139", r.returncode == 139, r.returncode)
    check("crash: the window written", "window (crash) written" in r.stderr, r.stderr)
    times, err = sleeps(out) if os.path.exists(out) else ([], "")
    check("crash: cut short, read with a warning", "ends inside generation" in err, err)
    if times:
        check("crash: the last sleep just before the crash", times[-1] >= 470 * MS, times[-1])
        check("crash: older sleeps dropped", times[0] >= 150 * MS, times[0])
        check("crash: at least 200 ms kept", times[-1] - times[0] >= 195 * MS,
              times[-1] - times[0])
    else:
        check("crash: sleeps in the window", False)
    check("crash: no temporary file left", not os.path.exists(out + ".tmp"))

    # At exit.
    os.unlink(out)
    r = run(out, ["--flight=300ms", "--flight-at-exit"], "800")
    check("at exit: exit 0", r.returncode == 0, r.stderr)
    times, err = sleeps(out)
    check("at exit: a complete trace", "warning" not in err, err)
    if times:
        check("at exit: ends at the end", times[-1] >= 750 * MS, times[-1])
        check("at exit: 300 ms kept, older dropped",
              300 * MS - 5 * MS <= times[-1] - times[0] <= 300 * MS + 90 * MS,
              times[-1] - times[0])

    # A signal that is not the flight signal, and no window asked for.
    os.unlink(out)
    r = run(out, ["--flight=200ms", "--flight-signal=none"], "300", "100")
    check("signal none: SIGUSR2 kills as it would (140)", r.returncode == 140, r.returncode)
    check("signal none: no file", not os.path.exists(out))
    r = run(out, ["--flight"], "100")
    check("no window asked for: exit 0", r.returncode == 0, r.stderr)
    check("no window asked for: no file, and a line saying so",
          not os.path.exists(out) and "no flight recorder window" in r.stderr, r.stderr)
    r = run(out, ["--flight=1s", "--flight-signal=USR1"], "300", "100")
    check("another flight signal: SIGUSR2 kills (140)", r.returncode == 140, r.returncode)

    # Usage errors: 2 and one line.
    for bad in (["--flight=abc"], ["--flight=1s,1000"], ["--flight=48h"], ["--flight-at-exit"],
                ["--flight=1s,10XB"]):
        r = run(out, bad, "10")
        check(f"usage {' '.join(bad)}: 2", r.returncode == 2 and len(r.stderr.splitlines()) >= 1,
              (r.returncode, r.stderr))

finish()

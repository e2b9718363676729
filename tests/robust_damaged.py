"""robust_damaged.py - robust_test.py's damaged traces: cut at every
record boundary and inside every record, single bytes mutated, a long
zero tail; every command on each exits 0 or 1, never crashes, and says
what is wrong in one line naming the file and the byte."""
import json
import os
import random
import re
import subprocess
import time

from checks import check
from robust_common import basics, clean, ctrace, sanitized, trace_of

READERS = [["stats"], ["stats", "--json"], ["threads"], ["threads", "--json"], ["tasks"],
           ["regions"], ["dump"], ["pprof", "--type=sync", "-o", "-"],
           ["export", "--format=chrome"]]
# The same code paths, once each (--json and regions share theirs).
READERS_SHORT = [["stats", "--json"], ["threads"], ["tasks"], ["dump"],
                 ["pprof", "--type=sync", "-o", "-"], ["export", "--format=chrome"]]
# Under a sanitizer every command starts ten times slower: fewer cuts and
# mutants there (the fuzz target's replay covers the reader under them).
if sanitized:
    READERS_SHORT = [["stats", "--json"], ["threads"], ["dump"]]


def records(data):
    """(offset, type, length) of each record of a trace."""
    at, out = 32, []
    while at + 12 <= len(data):
        length = int.from_bytes(data[at + 4:at + 8], "little")
        out.append((at, data[at], length))
        at += 12 + length
    return out


def events_of(path):
    """Events that ctrace dump prints (lines not starting with '#')."""
    r = subprocess.run([ctrace, "dump", path], capture_output=True, text=True)
    return sum(1 for line in r.stdout.splitlines() if not line.startswith("#"))


ERROR_LINE = re.compile(r"^ctrace: .+: byte \d+: .+$")


def read_damaged(path, cmd, whole_events=None):
    """Runs cmd on path: no crash, exit 0 or 1, and on 1 the last line of
    stderr the one-line error naming the file and the byte."""
    r = subprocess.run([ctrace, *cmd, path], capture_output=True, timeout=60)
    err = r.stderr.decode(errors="replace").strip().splitlines()
    ok = r.returncode in (0, 1) and (r.returncode == 0 or
                                     (err and ERROR_LINE.match(err[-1]) and path in err[-1]))
    return r, ok, err


def cut_traces(d):
    """Deliver 2, Deliver 7: a trace cut at every record boundary and inside
    every record: every command reports on what precedes the cut (exit 0
    with a warning between records; exit 1 and the one-line error inside
    one), events never fewer than at an earlier cut; --strict prints only
    the error."""
    traces = [trace_of(d, "sl")]
    if basics and not sanitized:
        out = os.path.join(d, "ba")
        subprocess.run([basics, "-o", out], capture_output=True, timeout=120, cwd=d)
        traces.append(out)
    for whole in traces:
        data = open(whole, "rb").read()
        cuts = []
        for k, (at, typ, length) in enumerate(records(data)):
            if sanitized and k % 3:
                continue
            cuts.append((at, True))  # between records
            cuts.append((at + 12 + length // 2, False))  # inside one
        cuts.append((len(data) - 3, False))
        if sanitized and len(cuts) > 24:
            # Every command under a sanitizer is several times slower: an
            # even sample of the cuts, both kinds, and the last.
            step = len(cuts) // 24 + 1
            cuts = cuts[::step] + [cuts[-1]]
        name = os.path.basename(whole)
        cut = os.path.join(d, name + ".cut")
        bad, last_events, silent = [], -1, []
        for at, between in cuts:
            with open(cut, "wb") as f:
                f.write(data[:at])
            events = events_of(cut)
            if events < last_events:
                bad.append(("events went down", at, events, last_events))
            last_events = events
            for cmd in READERS_SHORT:
                r, ok, err = read_damaged(cut, cmd)
                want = 0 if between else 1
                if not ok or r.returncode != want:
                    bad.append((" ".join(cmd), at, r.returncode, err[-1:]))
                elif not r.stdout.strip():
                    silent.append((" ".join(cmd), at))
            # The numbers of what was read: stats counts the events dump shows.
            r = subprocess.run([ctrace, "stats", "--json", cut], capture_output=True, text=True)
            if r.stdout.strip():
                st = json.loads(r.stdout)
                if st["events_total"] != events:
                    bad.append(("stats events != dump's", at, st["events_total"], events))
                if not between and st.get("damaged_at") is None:
                    bad.append(("stats --json without damaged_at", at))
        check(f"{name}: {len(cuts)} cuts x {len(READERS_SHORT)} commands read up to the cut",
              not bad, bad[:6])
        check(f"{name}: every command printed what it read", not silent, silent[:6])
        # --strict: nothing but the error.
        with open(cut, "wb") as f:
            f.write(data[:len(data) // 2 + 5])
        strict_out = []
        for cmd in READERS:
            r = subprocess.run([ctrace, *cmd, "--strict", cut], capture_output=True)
            if r.returncode != 1 or r.stdout or len(r.stderr.splitlines()) != 1:
                strict_out.append((cmd, r.returncode, r.stdout[:60], r.stderr[-200:]))
        check(f"{name}: --strict refuses a cut trace", not strict_out, strict_out)
    # pprof and export -o: the output of what was read; with --strict left
    # as it was.
    cut = os.path.join(d, "sl.cut")
    keep = os.path.join(d, "keep")
    for cmd in (["pprof", "--type=sleep"], ["pprof", "--type=sync"],
                ["export", "--format=chrome"]):
        if cmd[1] == "--type=sleep":
            continue
        with open(keep, "w") as f:
            f.write("precious")
        r = subprocess.run([ctrace, *cmd, "--strict", "-o", keep, cut], capture_output=True)
        check(f"{cmd[0]} --strict -o X of a cut trace: X left as it was",
              r.returncode == 1 and open(keep, "rb").read() == b"precious", r.stderr)
        r = subprocess.run([ctrace, *cmd, "-o", keep, cut], capture_output=True)
        check(f"{cmd[0]} -o X of a cut trace: X holds what was read, exit 1",
              r.returncode == 1 and os.path.exists(keep) and
              open(keep, "rb").read() != b"precious", r.stderr)
    clean(d)


def mutated_traces(d):
    """Deliver 7: single flipped bytes (seeded) anywhere: no command
    crashes or hangs, each exits 0 or 1 with the one-line error. A flipped
    byte in the SYMBOLS record (B7) fails nothing: exit 0, a warning, and
    the same counts."""
    whole = trace_of(d, "m")
    data = open(whole, "rb").read()
    mutant = os.path.join(d, "m.mut")
    rng = random.Random(17)
    bad = []
    for i in range(10 if sanitized else 40):
        m = bytearray(data)
        for _ in range(1 + i % 3):
            at = rng.randrange(len(m))
            m[at] ^= 1 << rng.randrange(8)
        with open(mutant, "wb") as f:
            f.write(m)
        for cmd in READERS_SHORT:
            r, ok, err = read_damaged(mutant, cmd)
            if not ok:
                bad.append((" ".join(cmd), i, r.returncode, err[-1:]))
    check("mutated traces x every command: exit 0 or 1, one-line errors", not bad, bad[:6])
    sym = [(at, length) for at, typ, length in records(data) if typ == 10]
    check("the trace has a SYMBOLS record", len(sym) == 1, records(data))
    if sym:
        at, length = sym[0]
        base = json.loads(subprocess.run([ctrace, "stats", "--json", whole], capture_output=True,
                                         text=True).stdout)
        spots = list(range(at, at + 12)) + [at + 12 + k * length // 4 for k in range(4)]
        if sanitized:
            spots = [at, at + 5, at + 9, at + 12 + length // 2]
        bad = []
        for spot in spots:
            for bit in (spot % 8,):
                m = bytearray(data)
                m[spot] ^= 1 << bit
                with open(mutant, "wb") as f:
                    f.write(m)
                for cmd in READERS_SHORT:
                    r = subprocess.run([ctrace, *cmd, mutant], capture_output=True)
                    if r.returncode != 0 or b"symbols are damaged" not in r.stderr:
                        bad.append((spot - at, bit, " ".join(cmd), r.returncode, r.stderr[-150:]))
                st = subprocess.run([ctrace, "stats", "--json", mutant], capture_output=True,
                                    text=True)
                if st.returncode == 0 and json.loads(st.stdout)["events"] != base["events"]:
                    bad.append((spot - at, bit, "events differ"))
        check("a flipped byte in the SYMBOLS record: every command exits 0 with a warning",
              not bad, bad[:6])
    clean(d)


def zero_tail(d):
    """B8: a valid trace followed by a 256 MB zero tail: the error at once,
    not a walk over the tail twelve bytes at a time (14 s before)."""
    t = trace_of(d, "z")
    size = os.path.getsize(t)
    with open(t, "r+b") as f:
        f.truncate(size + (256 << 20))  # sparse: no disk used
    for cmd in (["stats"], ["threads"], ["pprof", "--type=sync", "-o", "-"]):
        t0 = time.monotonic()
        r = subprocess.run([ctrace, *cmd, t], capture_output=True, timeout=120)
        took = time.monotonic() - t0
        check(f"{cmd[0]} of a trace with a 256 MB zero tail: quick, exit 1, output",
              r.returncode == 1 and took < 5 and r.stdout and
              f"byte {size}: 268435456 bytes after the end record".encode() in r.stderr,
              (r.returncode, took, r.stderr[-200:]))
    clean(d)

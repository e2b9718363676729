"""dump_events.py - questions asked of the events `ctrace dump` printed, as
run_test.py's dump() gives them (dicts of ts, tid, kind and the named
arguments, in the dump's order)."""


def count(events, kind, **match):
    return sum(1 for e in events if e["kind"] == kind and all(e.get(k) == v for k, v in match.items()))


def blocks_paired(events):
    """Every block is followed, on its thread, by an unblock before the next block."""
    open_block = {}
    for e in events:
        if e["kind"] == "block":
            if e["tid"] in open_block:
                return False
            open_block[e["tid"]] = e
        elif e["kind"] == "unblock":
            if e["tid"] not in open_block:
                return False
            del open_block[e["tid"]]
    return not open_block


def read_links(events, reads):
    """Of the reads, those during which the reader went off its CPU (the
    kernel's switches: it waited for a write), and those the analyses can
    link: another thread's wake on the read's object during the read."""
    offs = {}
    for e in events:
        if e["kind"] == "cpu" and e.get("state") == "off":
            offs.setdefault(e["tid"], []).append(int(e["ts"]))
    wakes = [(int(e["ts"]), e["tid"], e["object"]) for e in events
             if e["kind"] == "wake" and e["reason"] == "read"]
    slept, linkable = 0, 0
    for r in reads:
        a, b = int(r["ts"]), int(r["ts"]) + int(r["duration"])
        slept += any(a <= t <= b for t in offs.get(r["tid"], []))
        linkable += any(a <= t <= b and tid != r["tid"] and obj == r.get("object")
                        for t, tid, obj in wakes)
    return slept, linkable


def linked_joins(events):
    """Joins the analyses link to the end of the thread joined: a join's
    block whose thread ended (its wake) while the join waited. A thread
    already ending when the join began woke nobody that waited."""
    count, open_join = 0, {}
    wakes = [e for e in events if e["kind"] == "wake" and e["reason"] == "join"]
    for e in events:
        if e["kind"] == "block" and e["reason"] == "join":
            open_join[e["tid"]] = e
        elif e["kind"] == "unblock" and e["tid"] in open_join:
            b = open_join.pop(e["tid"])
            count += any(w["object"] == b["object"] and w["tid"] != b["tid"] and
                         int(b["ts"]) <= int(w["ts"]) <= int(e["ts"]) for w in wakes)
    return count


def switches_alternate(events):
    """Each thread's cpu events, in time order, alternate between running and
    off or preempted (what a merge of several CPUs' rings must keep), a
    `woken` (runnable after a block, waiting for a CPU) coming only between
    an off and the next running, unless the kernel lost switches (a full
    ring: a CPU's ring's losses are not one thread's, and are counted on the
    first thread)."""
    if any(e["kind"] == "lost" for e in events):
        print("skipped: switches alternate (the kernel lost some)")
        return True, ""
    last = {}
    for e in events:
        if e["kind"] != "cpu":
            continue
        ts, state = int(e["ts"]), e["state"]
        prev = last.get(e["tid"])
        if prev:
            allowed = {"running": ("off", "preempted", "woken"), "off": ("running",),
                       "preempted": ("running",), "woken": ("off",)}
            if ts < prev[0] or prev[1] not in allowed.get(state, ()):
                return False, e
        last[e["tid"]] = (ts, state)
    return bool(last), len(last)

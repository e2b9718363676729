#!/usr/bin/env python3
"""fleet_test.py CTRACE PROGS-DIR FLEET-MD - `ctrace export --format=clickhouse`
against a real server: Debian's clickhouse-server started on loopback with
its own data directory and ports (tests/clickhouse_server.py), loaded with
the traces of four runs of tests/progs/fleet as if from three hosts (alpha,
beta, and gamma with two). Every query of docs/fleet.md is run and checked
against ctrace's own reports of each file (regions, tasks, stats, threads
--json) and of the files together; then a file exported twice (skipped,
then --force: no duplicates), a damaged file and a server that refuses a
table (nothing of the file seen), a table of another shape and a server
that is not there. Prints one line per failed check and a closing count."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import clickhouse_server
from checks import check, finish

ctrace, progs, fleet_md = sys.argv[1], sys.argv[2], sys.argv[3]
DB = "ctrace"
# (host, seed, requests): gamma has two processes.
# Requests enough for a run of 50 ms or more (800 requests took 20 ms, 400
# 13 ms and gave 2 generations): several 5 ms generations
# (CTRACE_GENERATION_MS=5), the writer looking every 10 ms.
RUNS = [("alpha", 1, 2400), ("beta", 2, 2600), ("gamma", 3, 2800), ("gamma", 4, 3000)]
LIVE = "export_id IN (SELECT export_id FROM exports)"


def run(args, timeout=300, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, **kw)


def report(cmd, path, *extra):
    r = run([ctrace, cmd, "--json", *extra, path])
    check(f"ctrace {cmd} {' '.join(extra)} {os.path.basename(path)}", r.returncode == 0, r.stderr)
    return json.loads(r.stdout) if r.returncode == 0 else []


def doc_queries():
    """The queries of fleet.md, by the name in their marker."""
    text = open(fleet_md).read()
    return {m.group(1): m.group(2) for m in
            re.finditer(r"<!-- fleet-query: (\S+) -->\n```sql\n(.*?)```", text, re.S)}


def ints(row):
    """A JSONEachRow row with ClickHouse's quoted 64-bit integers as ints."""
    out = {}
    for k, v in row.items():
        if isinstance(v, str) and re.fullmatch(r"-?\d+", v):
            v = int(v)
        out[k] = v
    return out


# ---- ctrace's latency histogram (src/analysis/latency.c), to merge files ----

def quantile(hist, count, lo, hi, q):
    """ct_latency_quantile over merged buckets: hist is [(bucket middle, n)]."""
    rank = max(int(q * count + 0.999999), 1)
    seen = 0
    for mid, n in sorted(hist):
        seen += n
        if seen >= rank:
            return max(lo, min(hi, mid))
    return hi


def coarse_bins(hist, lo, hi):
    """The 1-2-5 bins of `ctrace regions --json`'s histogram, from the fine
    buckets (each by its middle, clamped to the type's min and max)."""
    edges = []
    decade = 1.0
    while len(edges) < 63 and decade < 1e13:
        for step in (1, 2, 5):
            if len(edges) < 63:
                edges.append(decade * step)
        decade *= 10
    edges.append(1e19)
    bins = {}
    for mid, n in hist:
        v = max(lo, min(hi, mid))
        for i in range(len(edges) - 1):
            if int(edges[i]) <= v < int(edges[i + 1]):
                key = (int(edges[i]), int(edges[i + 1]))
                bins[key] = bins.get(key, 0) + n
    return bins


def expected_types(per_file, files):
    """ctrace regions/tasks --json of several files together: counts, totals,
    min and max added up; percentiles from their merged buckets."""
    out = {}
    for f in files:
        for t in per_file[f]["json"]:
            if t["count"] == 0:
                continue
            e = out.setdefault(t["type"], {"count": 0, "total_ns": 0, "min_ns": None,
                                           "max_ns": 0, "hist": []})
            e["count"] += t["count"]
            e["total_ns"] += t["total_ns"]
            e["min_ns"] = t["min_ns"] if e["min_ns"] is None else min(e["min_ns"], t["min_ns"])
            e["max_ns"] = max(e["max_ns"], t["max_ns"])
            e["hist"] += per_file[f]["buckets"].get(t["type"], [])
    for e in out.values():
        for q, name in ((0.5, "p50_ns"), (0.9, "p90_ns"), (0.99, "p99_ns")):
            e[name] = quantile(e["hist"], e["count"], e["min_ns"], e["max_ns"], q)
    return out


def check_percentiles(ch, what, table, sql, per_file, files_of_host, all_files):
    """A percentile query's rows: by host, and the fleet's (host '')."""
    rows = [ints(r) for r in ch.rows(sql, DB)]
    count_col = "regions" if table == "regions" else "tasks"
    got = {(r["type"], r["host"]): r for r in rows}
    groups = dict(files_of_host)
    groups[""] = all_files  # WITH ROLLUP: the fleet's row
    for host, files in groups.items():
        expect = expected_types(per_file, files)
        types = {t for (t, h) in got if h == host}
        check(f"{what}: the types of {host or 'the fleet'}", types == set(expect),
              f"{sorted(types)} != {sorted(expect)}")
        for t, e in expect.items():
            r = got.get((t, host))
            if not r:
                continue
            for k in ("count", "total_ns", "min_ns", "p50_ns", "p90_ns", "p99_ns", "max_ns"):
                col = count_col if k == "count" else k
                check(f"{what}: {host or 'fleet'} {t} {k} ({len(files)} file(s))",
                      r[col] == e[k], f"{r[col]} != {e[k]}")


def file_buckets(ch, table, path):
    """Per type, the fine buckets of a file's ended rows: [(middle, n)]."""
    rows = ch.rows(f"SELECT type, bucket_ns, count() AS n FROM {table} WHERE file = '{path}' "
                   f"AND status = 'ended' AND {LIVE} GROUP BY type, bucket_ns", DB)
    out = {}
    for r in map(ints, rows):
        out.setdefault(r["type"], []).append((r["bucket_ns"], r["n"]))
    return out


def check_file(ch, host, path, f):
    """One file's rows against ctrace's reports of it."""
    name = os.path.basename(path)
    # traces: the overview of ctrace stats.
    st = f["stats"]
    rows = [ints(r) for r in ch.rows(f"SELECT * FROM traces WHERE file = '{path}' AND {LIVE}", DB)]
    check(f"{name}: one traces row", len(rows) == 1, rows)
    if rows:
        t = rows[0]
        for col, key in (("duration_ns", "duration_ns"), ("generations", "generations"),
                         ("events", "events_total"), ("threads", "threads"), ("tasks", "tasks"),
                         ("regions", "regions"), ("logs", "logs"), ("lost_events", "lost_events"),
                         ("pid", "pid"), ("command", "command"), ("sched", "sched"),
                         ("voluntary_switches", "voluntary_switches"),
                         ("involuntary_switches", "involuntary_switches")):
            check(f"{name}: traces.{col} = stats {key}", t[col] == st.get(key, 0),
                  f"{t[col]} != {st.get(key)}")
        check(f"{name}: traces.host", t["host"] == host, t["host"])
        # A generation ends at one of the writer's wakes, which a loaded
        # machine delays (CI once saw two in a 60 ms run): two or more.
        check(f"{name}: several generations", t["generations"] >= 2, t["generations"])
    # threads: ctrace threads --json, every column.
    rows = {r["tid"]: r for r in map(ints, ch.rows(
        f"SELECT * FROM threads WHERE file = '{path}' AND {LIVE}", DB))}
    check(f"{name}: a row per thread", sorted(rows) == sorted(t["tid"] for t in f["threads"]),
          f"{sorted(rows)}")
    for t in f["threads"]:
        r = rows.get(t["tid"])
        if not r:
            continue
        for k in ("name", "start_function", "execution_ns", "network_wait_ns", "sync_block_ns",
                  "syscall_ns", "sched_wait_ns", "sleep_ns", "other_ns", "total_ns", "begin_ns",
                  "end_ns", "blocks", "syscalls", "voluntary_switches", "involuntary_switches"):
            check(f"{name}: thread {t['tid']} {k}", r[k] == t.get(k, 0), f"{r[k]} != {t.get(k)}")
        check(f"{name}: thread {t['tid']} exited", r["exited"] == int(t["exited"]))
        prims = dict(zip(r["sync_by_primitive.primitive"], map(int, r["sync_by_primitive.ns"])))
        check(f"{name}: thread {t['tid']} sync by primitive", prims == t["sync_by_primitive_ns"],
              f"{prims} != {t['sync_by_primitive_ns']}")
    # regions and tasks: what is not in the percentiles (not ended).
    for table, js in (("regions", f["regions"]), ("tasks", f["tasks"])):
        rows = ch.rows(f"SELECT type, status, count() AS n FROM {table} WHERE file = '{path}' AND "
                       f"{LIVE} AND status != 'ended' GROUP BY type, status", DB)
        got = {(r["type"], r["status"]): int(r["n"]) for r in rows}
        for t in js:
            check(f"{name}: {table} {t['type']} unfinished",
                  got.get((t["type"], "unfinished"), 0) == t["unfinished"],
                  f"{got} vs {t['unfinished']}")
            if table == "regions":
                check(f"{name}: {table} {t['type']} unmatched",
                      got.get((t["type"], "unmatched"), 0) == t["unmatched"], got)
        # The fine buckets agree with the JSON's coarse histogram.
        for t in js:
            if t["count"] == 0:
                continue
            bins = coarse_bins(f[table + "_buckets"].get(t["type"], []), t["min_ns"], t["max_ns"])
            want = {(lo, hi): n for lo, hi, n in t["histogram"] if n}
            check(f"{name}: {table} {t['type']} histogram", bins == want, f"{bins} != {want}")
    # logs: as many as stats counts.
    n = ch.rows(f"SELECT count() AS n FROM logs WHERE file = '{path}' AND {LIVE}", DB)
    check(f"{name}: logs", int(n[0]["n"]) == st["logs"], n)
    # blocks: stats' most contended objects and top blocking call sites.
    objects = [ints(r) for r in ch.rows(
        f"SELECT reason, object, count() AS count, sum(duration_ns) AS total_ns FROM blocks "
        f"WHERE file = '{path}' AND {LIVE} AND kind = 'block' AND status = 'ended' "
        f"AND object != 0 GROUP BY reason, object ORDER BY total_ns DESC LIMIT 5", DB)]
    check(f"{name}: contended objects = stats", objects == st["contended_objects"],
          f"{objects} != {st['contended_objects']}")
    sites = {(r["reason"], tuple(r["frames"])): (int(r["count"]), int(r["total_ns"]))
             for r in ch.rows(
        f"SELECT reason, arraySlice(stack, 1, 6) AS frames, count() AS count, "
        f"sum(duration_ns) AS total_ns FROM blocks WHERE file = '{path}' AND {LIVE} "
        f"AND kind = 'block' AND status = 'ended' GROUP BY reason, frames", DB)}
    want = {}
    for s in st["top_block_sites"]:  # one stack may have two ids: their sum
        key = (s["reason"], tuple(s["stack"]))
        c, t = want.get(key, (0, 0))
        want[key] = (c + s["count"], t + s["total_ns"])
    if len(st["top_block_sites"]) < 5:  # then stats lists them all
        check(f"{name}: blocking call sites = stats", sites == want, f"{sites} != {want}")
    else:
        for key, (c, t) in want.items():
            check(f"{name}: blocking call site {key[0]} at least as stats",
                  key in sites and sites[key][0] >= c and sites[key][1] >= t, sites.get(key))
    stuck = ch.rows(f"SELECT tid, reason, object FROM blocks WHERE file = '{path}' AND {LIVE} "
                    f"AND status = 'unfinished'", DB)
    want_stuck = sorted((s["tid"], s["reason"], s["object"]) for s in st["blocked_at_end"])
    got_stuck = sorted((int(r["tid"]), r["reason"], int(r["object"])) for r in stuck)
    check(f"{name}: blocked at the end = stats", got_stuck == want_stuck,
          f"{got_stuck} != {want_stuck}")


def check_queries(ch, q, per_file, paths):
    """The queries other than the percentiles."""
    # The most contended objects across hosts: the program waits for each
    # kind of object at one place, so each reason is one row, whose sums
    # are stats' over the files.
    rows = [ints(r) for r in ch.rows(q["contended-objects"], DB)]
    reasons = [r["reason"] for r in rows]
    check("contended objects: one place per reason", len(reasons) == len(set(reasons)), reasons)
    want = {}
    for (host, _, _), path in zip(RUNS, paths):
        objs = per_file[path]["stats"]["contended_objects"]
        check(f"contended objects: stats lists all of {os.path.basename(path)}", len(objs) < 5,
              objs)
        for o in objs:
            e = want.setdefault(o["reason"], {"blocks": 0, "total_ns": 0, "objects": 0,
                                              "hosts": set()})
            e["blocks"] += o["count"]
            e["total_ns"] += o["total_ns"]
            e["objects"] += 1
            e["hosts"].add(host)
    check("contended objects: the reasons", sorted(reasons) == sorted(want),
          f"{reasons} != {sorted(want)}")
    for r in rows:
        e = want.get(r["reason"])
        if not e:
            continue
        for k in ("blocks", "total_ns", "objects"):
            check(f"contended objects: {r['reason']} {k}", r[k] == e[k], f"{r[k]} != {e[k]}")
        check(f"contended objects: {r['reason']} hosts", r["on_hosts"] == sorted(e["hosts"]),
              r["on_hosts"])
        check(f"contended objects: {r['reason']} waited at the program's line",
              "fleet.c:" in r["waited_at"], r["waited_at"])
    check("contended objects: the cache lock is there", "mutex" in reasons, reasons)

    # The slowest tasks: ctrace tasks --type=T of every file, together.
    every = []
    for (host, _, _), path in zip(RUNS, paths):
        for t in per_file[path]["tasks"]:
            for task in report("tasks", path, f"--type={t['type']}"):
                if task["duration_ns"] is not None:
                    every.append((-task["duration_ns"], host, path, task["id"], t["type"]))
    every.sort()
    rows = [ints(r) for r in ch.rows(q["slowest-tasks"], DB)]
    got = [(-r["duration_ns"], r["host"], r["file"], r["task_id"], r["type"]) for r in rows]
    check("slowest tasks = ctrace tasks --type of every file", got == every[:10],
          f"{got} != {every[:10]}")
    check("slowest tasks: the command to open each",
          all(r["open_with"] == f"ctrace tasks --type={r['type']} {r['file']}" for r in rows))

    # The hosts whose threads waited longest for a CPU: ctrace threads.
    want = {}
    for (host, _, _), path in zip(RUNS, paths):
        for t in per_file[path]["threads"]:
            e = want.setdefault(host, {"waited_ns": 0, "threads": 0, "longest_ns": 0,
                                       "preempted": 0})
            e["waited_ns"] += t["sched_wait_ns"]
            e["threads"] += 1
            e["longest_ns"] = max(e["longest_ns"], t["sched_wait_ns"])
            e["preempted"] += t.get("involuntary_switches", 0)
    rows = [ints(r) for r in ch.rows(q["cpu-wait-by-host"], DB)]
    check("cpu wait: a row per host", sorted(r["host"] for r in rows) == sorted(want),
          [r["host"] for r in rows])
    check("cpu wait: longest first",
          [r["waited_ns"] for r in rows] == sorted((r["waited_ns"] for r in rows), reverse=True))
    for r in rows:
        for k, v in want.get(r["host"], {}).items():
            check(f"cpu wait: {r['host']} {k}", r[k] == v, f"{r[k]} != {v}")
    return rows


def raw_counts(ch, database=DB):
    return {t: int(ch.rows(f"SELECT count() AS n FROM {t}", database)[0]["n"])
            for t in ("traces", "threads", "tasks", "regions", "logs", "blocks")}


def export(ch, host, *files, database=DB, extra=()):
    return run([ctrace, "export", "--format=clickhouse", "--url", ch.url, "--database", database,
                "--host", host, *extra, *files])


def main(tmp):
    # Four processes' traces, with short generations (several per trace).
    env = dict(os.environ, CTRACE_GENERATION_MS="5")
    if env.get("ASAN_OPTIONS"):
        # The preloaded recorder stands in for the one the program links,
        # ctrace_on_ included: the interposition ELF intends.
        env["ASAN_OPTIONS"] += ":detect_odr_violation=0"
    paths = []
    for host, seed, requests in RUNS:
        path = os.path.join(tmp, f"fleet-{seed}.out")
        r = run([ctrace, "run", "-o", path, "--", os.path.join(progs, "fleet"), str(seed),
                 str(requests)], env=env)
        check(f"record run {seed}", r.returncode == 0, r.stderr)
        paths.append(os.path.realpath(path))
    per_file = {}
    for path in paths:
        per_file[path] = {"stats": report("stats", path), "threads": report("threads", path),
                          "regions": report("regions", path), "tasks": report("tasks", path)}
        per_file[path]["json"] = per_file[path]["regions"]
    q = doc_queries()
    check("fleet.md has the queries", set(q) >= {"region-percentiles", "task-percentiles",
                                                  "contended-objects", "slowest-tasks",
                                                  "cpu-wait-by-host"}, sorted(q))

    # Blocks of 1000 rows for INSERTs that do not ask for a size of their own.
    with clickhouse_server.ClickHouse(settings={"max_insert_block_size": 1000}) as ch:
        # Load: one export per host, gamma's two files in one.
        hosts = {}
        for (host, _, _), path in zip(RUNS, paths):
            hosts.setdefault(host, []).append(path)
        for host, files in hosts.items():
            r = export(ch, host, *files)
            check(f"export {host}", r.returncode == 0, r.stderr)
            for path in files:
                check(f"export {host}: a line for {os.path.basename(path)}",
                      f"{path}: trace " in r.stdout and f" of {host}:" in r.stdout, r.stdout)
        for path in paths:
            for table in ("regions", "tasks"):
                per_file[path][table + "_buckets"] = file_buckets(ch, table, path)
        # Each file against its reports, then the queries.
        for (host, _, _), path in zip(RUNS, paths):
            check_file(ch, host, path, per_file[path])

        def with_json(table):
            for path in paths:
                per_file[path]["json"] = per_file[path][table]
                per_file[path]["buckets"] = per_file[path][table + "_buckets"]

        with_json("regions")
        check_percentiles(ch, "region percentiles", "regions", q["region-percentiles"], per_file,
                          hosts, paths)
        with_json("tasks")
        check_percentiles(ch, "task percentiles", "tasks", q["task-percentiles"], per_file,
                          hosts, paths)
        check_queries(ch, q, per_file, paths)

        # Twice: the same file is skipped; --force replaces it, no duplicate.
        before = raw_counts(ch)
        answers = {name: ch.rows(sql, DB) for name, sql in q.items()}
        r = export(ch, "alpha", paths[0])
        check("again: skipped", r.returncode == 0 and "exported already, skipped" in r.stdout,
              r.stdout + r.stderr)
        check("again: no row added", raw_counts(ch) == before)
        r = export(ch, "alpha", paths[0], extra=["--force"])
        check("--force: replaces", r.returncode == 0 and "replaces an earlier export" in r.stdout,
              r.stdout + r.stderr)
        check("--force: the queries' answers at once", all(ch.rows(sql, DB) == answers[name]
                                                           for name, sql in q.items()))
        check("--force: the earlier rows deleted", ch.wait_mutations(DB))
        check("--force: as many rows as before", raw_counts(ch) == before,
              f"{raw_counts(ch)} != {before}")

        # A damaged file, large enough that rows of its first generations
        # are stored before the reader fails (the export's INSERTs ask for
        # blocks of 65536 rows; its regions before the damage are about
        # 90000): nothing of it is seen, and what was sent is deleted.
        damaged = os.path.join(tmp, "damaged.out")
        r = run([ctrace, "run", "-o", damaged, "--", os.path.join(progs, "fleet"), "5", "30000"],
                env=env)
        check("damaged: recorded", r.returncode == 0, r.stderr)
        size = os.path.getsize(damaged)
        with open(damaged, "r+b") as fd:
            fd.seek(size * 3 // 4)
            b = fd.read(1)
            fd.seek(size * 3 // 4)
            fd.write(bytes([b[0] ^ 0xff]))
        cleanups = len(ch.rows("SELECT command FROM system.mutations WHERE database = 'ctrace' "
                               "AND command LIKE '%WHERE export_id = %'"))
        r = export(ch, "delta", damaged)
        check("damaged: exit 1", r.returncode == 1, r.returncode)
        check("damaged: the error names the file and the byte",
              "damaged.out: byte " in r.stderr, r.stderr)
        check("damaged: no trace row", not ch.rows("SELECT trace_id FROM traces WHERE "
                                                   "host = 'delta'", DB))
        for t in ("threads", "tasks", "regions", "logs", "blocks"):
            n = ch.rows(f"SELECT count() AS n FROM {t} WHERE host = 'delta' AND {LIVE}", DB)
            check(f"damaged: nothing seen in {t}", int(n[0]["n"]) == 0, n)
        check("damaged: rows were sent, then deleted",
              len(ch.rows("SELECT command FROM system.mutations WHERE database = 'ctrace' "
                          "AND command LIKE '%WHERE export_id = %'")) > cleanups)
        check("damaged: nothing left", ch.wait_mutations(DB) and raw_counts(ch) == before,
              f"{raw_counts(ch)} != {before}")
        check("damaged: the answers as before", all(ch.rows(sql, DB) == answers[name]
                                                     for name, sql in q.items()))

        # A server that refuses one table: the error as the server gave it,
        # with the file and the table; nothing of the file seen.
        r = export(ch, "alpha", paths[0], database="broken")
        check("broken: first file", r.returncode == 0, r.stderr)
        ch.query("RENAME TABLE broken.logs TO broken.logs_stored")
        ch.query("CREATE VIEW broken.logs AS SELECT * FROM broken.logs_stored")
        r = export(ch, "beta", paths[1], database="broken")
        check("broken: exit 1", r.returncode == 1, r.returncode)
        check("broken: the file, the table and the server's words",
              os.path.basename(paths[1]) in r.stderr and "broken.logs" in r.stderr and
              "(HTTP 50" in r.stderr and "DB::Exception" in r.stderr, r.stderr)
        check("broken: no trace row", [t["host"] for t in ch.rows(
            "SELECT host FROM traces", "broken")] == ["alpha"])
        n = ch.rows(f"SELECT count() AS n FROM regions WHERE host = 'beta' AND {LIVE}", "broken")
        check("broken: the other tables' rows not seen", int(n[0]["n"]) == 0, n)

        # A table of another shape is refused before anything is sent.
        ch.query("CREATE DATABASE other")
        ch.query("CREATE TABLE other.regions (day Date, trace_id UInt64, duration_ns String) "
                 "ENGINE = MergeTree PARTITION BY day ORDER BY trace_id")
        r = export(ch, "alpha", paths[0], database="other")
        check("other shape: exit 1", r.returncode == 1, r.returncode)
        check("other shape: names the table and column", "other.regions has" in r.stderr and
              "export_id" in r.stderr, r.stderr)
        check("other shape: nothing sent", not ch.rows("SELECT * FROM traces", "other"))

    # No server at all.
    r = run([ctrace, "export", "--format=clickhouse", "--url", "http://127.0.0.1:1", paths[0]])
    check("no server: exit 1", r.returncode == 1, r.returncode)
    check("no server: says so", "cannot reach ClickHouse at http://127.0.0.1:1" in r.stderr,
          r.stderr)
    # Usage.
    for args, words in ((["--format=clickhouse", paths[0]], "needs --url"),
                        (["--format=clickhouse", "--url", "http://x", "-o", "y", paths[0]],
                         "not to -o"),
                        (["--format=otlp", "--url", "http://x", paths[0]], "for --format=clickhouse"),
                        (["--format=clickhouse", "--url", "http://x", "--database", "a-b",
                          paths[0]], "letters, digits")):
        r = run([ctrace, "export", *args])
        check(f"usage: {words}", r.returncode == 2 and words in r.stderr, r.stderr)


try:
    with tempfile.TemporaryDirectory() as tmp:
        main(tmp)
except clickhouse_server.Unavailable as e:
    print(f"SKIP: ClickHouse cannot run here: {e}")
    sys.exit(77)
finish()

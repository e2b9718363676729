#!/usr/bin/env python3
"""bench_fleet.py BUILD [MB] - ctrace export --format=clickhouse: its speed and
memory on a trace of MB megabytes (default 1024, CTRACE_BENCH_FLEET_MB) made
by bench/gen_trace (4 threads of requests: a task, 3 regions and a log
each), against `ctrace threads` on the same trace (one pass of the same
analysis):

1. to bench/http_sink, which takes the rows and keeps nothing: what the
   exporter reads and sends, apart from any server (events/s, rows/s,
   MB/s of rows, peak memory);
2. to a real ClickHouse (Debian's clickhouse-server, started here on
   loopback, tests/clickhouse_server.py) on a trace of CH_MB megabytes
   (default 200, CTRACE_BENCH_FLEET_CH_MB): into tables of the Null engine
   (ClickHouse parses every row, stores none), then into fleet.sql's
   MergeTree tables, whose row counts are checked;
3. --format=otlp to /dev/null on that smaller trace.

Wall time, CPU time and peak RSS from wait4 (the child's own); the file in
the page cache. One run each: the machine is shared, say so with the
figures."""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "tests"))
import clickhouse_server  # noqa: E402

build = sys.argv[1]
mb = int(sys.argv[2]) if len(sys.argv) > 2 else int(os.environ.get("CTRACE_BENCH_FLEET_MB", "1024"))
ch_mb = int(os.environ.get("CTRACE_BENCH_FLEET_CH_MB", "200"))
ctrace = os.path.join(build, "ctrace")


def measure(args):
    """(wall s, CPU s, peak RSS bytes, stdout) of one run."""
    t0 = time.monotonic()
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = p.stdout.read()
    err = p.stderr.read()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    if status != 0:
        sys.exit(f"{' '.join(args)} failed ({status}): {err}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, out


def rows_of(out):
    m = re.search(r"(\d+) threads, (\d+) tasks, (\d+) regions, (\d+) logs, (\d+) blocks", out)
    if not m:
        sys.exit(f"no summary line in {out!r}")
    return dict(zip(("threads", "tasks", "regions", "logs", "blocks"), map(int, m.groups())))


def trace(tmp, name, size_mb):
    path = os.path.join(tmp, name)
    subprocess.run([os.path.join(build, "bench", "gen_trace"), path, str(size_mb), "4"],
                   check=True)
    s = subprocess.run([ctrace, "stats", "--json", path], capture_output=True, text=True,
                       check=True)
    return path, os.path.getsize(path), json.loads(s.stdout)["events_total"]


def null_tables(ch, database):
    """fleet.sql's tables with the Null engine: parsed, never stored."""
    sql = open(os.path.join(here, "..", "docs", "fleet.sql")).read()
    sql = re.sub(r"--[^\n]*", "", sql)
    sql = re.sub(r"ENGINE = \w+(\([^)]*\))?\s*PARTITION BY \w+\s*ORDER BY [^;]*;", "ENGINE = Null;",
                 sql)
    ch.query(f"CREATE DATABASE {database}")
    for statement in sql.split(";"):
        if statement.strip():
            ch.query(statement, database)


rows = []
with tempfile.TemporaryDirectory(dir=build) as tmp:
    big, big_size, big_events = trace(tmp, "big.out", mb)
    small, small_size, small_events = trace(tmp, "small.out", ch_mb) if ch_mb != mb else \
        (big, big_size, big_events)
    with clickhouse_server.ClickHouse() as ch:
        # The tables, and the server's own description of them for the sink.
        subprocess.run([ctrace, "export", "--format=clickhouse", "--url", ch.url,
                        "--database", "warmup", small], check=True, capture_output=True)
        columns = os.path.join(tmp, "columns.bin")
        with open(columns, "wb") as f:
            f.write(ch.query("SELECT table, name, type FROM system.columns WHERE database = "
                             "currentDatabase() FORMAT RowBinary", "warmup"))
        sink = subprocess.Popen([os.path.join(build, "bench", "http_sink"), columns],
                                stdout=subprocess.PIPE, text=True)
        try:
            sink_url = f"http://127.0.0.1:{sink.stdout.readline().strip()}"
            wall, cpu, rss, _ = measure([ctrace, "threads", big])
            rows.append(("ctrace threads", big_size, big_events, None, wall, cpu, rss, None))
            sent0 = int(subprocess.run(["curl", "-s", sink_url + "/http_sink_bytes"],
                                       capture_output=True, text=True).stdout)
            wall, cpu, rss, out = measure([ctrace, "export", "--format=clickhouse", "--url",
                                           sink_url, big])
            sent = int(subprocess.run(["curl", "-s", sink_url + "/http_sink_bytes"],
                                      capture_output=True, text=True).stdout) - sent0
            rows.append(("export to a sink that keeps nothing", big_size, big_events,
                         rows_of(out), wall, cpu, rss, sent))
        finally:
            sink.kill()
            sink.wait()
        null_tables(ch, "discard")
        wall, cpu, rss, out = measure([ctrace, "export", "--format=clickhouse", "--url", ch.url,
                                       "--database", "discard", small])
        rows.append(("export to ClickHouse, Null tables", small_size, small_events, rows_of(out),
                     wall, cpu, rss, None))
        wall, cpu, rss, out = measure([ctrace, "export", "--format=clickhouse", "--url", ch.url,
                                       small])
        r = rows_of(out)
        stored = int(ch.rows("SELECT count() AS n FROM regions", "ctrace")[0]["n"])
        if stored != r["regions"]:
            sys.exit(f"ClickHouse holds {stored} regions, {r['regions']} were sent")
        rows.append(("export to ClickHouse, MergeTree tables", small_size, small_events, r, wall,
                     cpu, rss, None))
        disk = ch.rows("SELECT sum(bytes_on_disk) AS b FROM system.parts WHERE database = "
                       "'ctrace' AND active")[0]["b"]
    wall, cpu, rss, _ = measure([ctrace, "export", "--format=otlp", "-o", "/dev/null", small])
    rows.append(("export --format=otlp to /dev/null", small_size, small_events, None, wall, cpu,
                 rss, None))

print(f"\nctrace export on traces of bench/gen_trace (4 threads of requests: a task, 3 regions, "
      f"a log each), {os.cpu_count()} CPUs; one run each\n")
print("| what | trace MB | wall s | CPU s | M events/s | M events per CPU s | region rows/s | "
      "all rows/s | MB/s sent | peak RSS MB |")
print("|---|---|---|---|---|---|---|---|---|---|")
for name, size, events, r, wall, cpu, rss, sent in rows:
    region_rate = f"{r['regions'] / wall / 1e6:.2f} M" if r else ""
    row_rate = f"{(sum(r.values()) + 1) / wall / 1e6:.2f} M" if r else ""
    sent_rate = f"{sent / wall / 1e6:.0f}" if sent else ""
    print(f"| {name} | {size / 1e6:.0f} | {wall:.2f} | {cpu:.2f} | {events / wall / 1e6:.1f} | "
          f"{events / cpu / 1e6:.1f} | {region_rate} | {row_rate} | {sent_rate} | "
          f"{rss / 1e6:.0f} |")
print(f"\nClickHouse's MergeTree tables hold {int(disk) / 1e6:.0f} MB for the {ch_mb} MB trace.")
print("targets: the export reads at the analyzer's speed (>= 40 M events/s); >= 10 M region "
      "rows/s sent; memory bounded (not growing with the trace)")

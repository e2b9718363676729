-- fleet.sql - ctrace's tables in ClickHouse: what `ctrace export
-- --format=clickhouse` creates when they are missing and fills (docs/fleet.md
-- explains them and the queries). It runs on ClickHouse 18.16 (Debian 12's
-- clickhouse-server) and later. Run it into the database of your choice
-- (ctrace export uses --database, default ctrace):
--
--     clickhouse-client --database ctrace --multiquery < fleet.sql
--
-- Every table but `traces` has a row per thing seen in a trace, with the
-- trace's id, the export that sent it, the host and the file. A file's rows
-- count only once its `traces` row exists (written last), and only those of
-- its latest export: queries read them through the `exports` view:
--
--     WHERE export_id IN (SELECT export_id FROM exports)
--
-- Times: *_ns columns are nanoseconds; start_ns is the wall clock (UTC, ns
-- since 1970) at the thing's start; `day` (its UTC date) is the partition.

-- One row per exported trace file: written last, it is what makes the
-- file's rows count.
CREATE TABLE IF NOT EXISTS traces (
    day Date,
    trace_id UInt64,          -- the recording: host, process, session start
    export_id UInt64,         -- this export of it (time-ordered)
    host String,
    file String,              -- absolute path of the file on the host that sent it
    file_size UInt64,
    fingerprint UInt64,       -- the file's size and first and last 64 KiB
    pid UInt32,
    ppid UInt32,
    command String,
    exe String,
    start_ns UInt64,          -- the wall clock at the session's start (time zero)
    duration_ns UInt64,
    generations UInt64,
    events UInt64,
    lost_events UInt64,
    threads UInt64,
    tasks UInt64,             -- begun in the trace (as ctrace stats counts)
    regions UInt64,
    logs UInt64,
    blocks UInt64,            -- blocks that ended (lock, condvar, sleep, ...)
    syscalls UInt64,          -- slow system calls recorded
    voluntary_switches UInt64,
    involuntary_switches UInt64,
    sched String,             -- where CPU states come from: perf, schedstat, none
    ctrace_version String,
    exported_at DateTime
) ENGINE = ReplacingMergeTree(export_id)
PARTITION BY day
ORDER BY trace_id;

-- The export of each trace that queries read: its latest complete one.
CREATE VIEW IF NOT EXISTS exports AS
    SELECT trace_id, max(export_id) AS export_id FROM traces GROUP BY trace_id;

-- Each thread, with the columns of `ctrace threads --json`.
CREATE TABLE IF NOT EXISTS threads (
    day Date,
    trace_id UInt64,
    export_id UInt64,
    host String,
    file String,
    pid UInt32,
    tid UInt64,
    name String,
    start_function String,
    start_ns UInt64,
    begin_ns Int64,           -- since the trace's time zero
    end_ns Int64,
    execution_ns UInt64,
    network_wait_ns UInt64,
    sync_block_ns UInt64,
    syscall_ns UInt64,
    sched_wait_ns UInt64,     -- runnable, waiting for a CPU
    sleep_ns UInt64,
    other_ns UInt64,
    total_ns UInt64,
    sync_by_primitive Nested(primitive String, ns UInt64),
    exited UInt8,
    blocks UInt64,
    syscalls UInt64,
    switches UInt8,           -- 1: the kernel's context switches were recorded
    voluntary_switches UInt64,
    involuntary_switches UInt64
) ENGINE = MergeTree
PARTITION BY day
ORDER BY (trace_id, tid);

-- Each task: begun and ended (status ended), begun and never ended
-- (unfinished: duration_ns 0), or ended and begun before the trace
-- (unmatched: type '', start_ns the trace's start).
CREATE TABLE IF NOT EXISTS tasks (
    day Date,
    trace_id UInt64,
    export_id UInt64,
    host String,
    file String,
    pid UInt32,
    task_id UInt64,
    parent_id UInt64,
    type String,
    status Enum8('ended' = 1, 'unfinished' = 2, 'unmatched' = 3),
    start_ns UInt64,
    begin_ns Int64,           -- since the trace's time zero
    duration_ns UInt64,
    bucket_ns UInt64,         -- the middle of duration_ns's bucket in ctrace's histogram
    begin_tid UInt64,
    end_tid UInt64
) ENGINE = MergeTree
PARTITION BY day
ORDER BY (trace_id, type, task_id);

-- Each region, with its nesting on its thread: seq is the n-th region begun
-- on the thread, parent_seq the one it is nested in (0: none).
CREATE TABLE IF NOT EXISTS regions (
    day Date,
    trace_id UInt64,
    export_id UInt64,
    host String,
    file String,
    pid UInt32,
    tid UInt64,
    task_id UInt64,
    type String,
    status Enum8('ended' = 1, 'unfinished' = 2, 'unmatched' = 3),
    start_ns UInt64,
    duration_ns UInt64,
    bucket_ns UInt64,
    depth UInt16,
    seq UInt32,
    parent_seq UInt32
) ENGINE = MergeTree
PARTITION BY day
ORDER BY (trace_id, type, start_ns);

-- Each log, with the region open on its thread (region_seq, 0: none).
CREATE TABLE IF NOT EXISTS logs (
    day Date,
    trace_id UInt64,
    export_id UInt64,
    host String,
    file String,
    pid UInt32,
    tid UInt64,
    task_id UInt64,
    category String,
    message String,
    start_ns UInt64,
    region_seq UInt32
) ENGINE = MergeTree
PARTITION BY day
ORDER BY (trace_id, category, start_ns);

-- Each time a thread blocked (kind block: a lock, condvar, semaphore,
-- barrier, join or sleep, from block to unblock) or made a slow system call
-- (kind syscall), with the object (an address in its process; a call's
-- pipe or eventfd), and the stack symbolized innermost first, each frame
-- "function file:line". status unfinished: still blocked at the end.
CREATE TABLE IF NOT EXISTS blocks (
    day Date,
    trace_id UInt64,
    export_id UInt64,
    host String,
    file String,
    pid UInt32,
    tid UInt64,
    kind Enum8('block' = 1, 'syscall' = 2),
    status Enum8('ended' = 1, 'unfinished' = 2, 'unmatched' = 3),
    reason String,            -- mutex, cond, sem, ..., or the call: read, poll, ...
    fd_class String,          -- a call's descriptor: file, pipe, network, other
    fd Int32,                 -- -1: none
    object UInt64,
    start_ns UInt64,
    duration_ns UInt64,
    stack Array(String)
) ENGINE = MergeTree
PARTITION BY day
ORDER BY (trace_id, kind, reason, start_ns);

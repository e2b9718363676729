#!/bin/sh
# cli_test.sh CTRACE BASICS - the command line: exit statuses, one-line
# errors that name the file and the byte offset, and stats/dump of a trace
# recorded by the 01-basics example checked against what the example did.
set -u
ctrace=$1
basics=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
pass=0
fail=0

check() { # NAME EXPECTED-STATUS ACTUAL-STATUS
    if [ "$2" = "$3" ]; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $1: exit status $3, expected $2"
    fi
}

expect_status() { # NAME STATUS CMD...
    name=$1
    want=$2
    shift 2
    "$@" >"$dir/out" 2>"$dir/err"
    check "$name" "$want" $?
}

# The error is one line that names the file and a byte offset.
expect_one_line_error() { # NAME FILE
    expect_status "$1: stats" 1 "$ctrace" stats "$2"
    lines=$(wc -l <"$dir/err")
    if [ "$lines" -eq 1 ] && grep -q "$2: byte [0-9]*: " "$dir/err"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "FAIL: $1: error is not one line naming the file and offset:"
        cat "$dir/err"
    fi
    expect_status "$1: dump" 1 "$ctrace" dump "$2"
}

expect_status "no arguments" 2 "$ctrace"
expect_status "help" 0 "$ctrace" --help
expect_status "version" 0 "$ctrace" --version
expect_status "unknown command" 2 "$ctrace" frobnicate
expect_status "stats help" 0 "$ctrace" stats --help
expect_status "dump help" 0 "$ctrace" dump --help
expect_status "stats without file" 2 "$ctrace" stats
expect_status "stats unknown option" 2 "$ctrace" stats --bogus x
# Several files are a process tree (FILE FILE.*): none of them a trace is bad input.
expect_status "stats two missing files" 1 "$ctrace" stats a b
expect_status "dump without file" 2 "$ctrace" dump
expect_status "dump two files" 2 "$ctrace" dump a b
expect_status "view help" 0 "$ctrace" view --help
expect_status "view without file" 2 "$ctrace" view
expect_status "view unknown option" 2 "$ctrace" view --bogus x
expect_status "view bad address" 2 "$ctrace" view --addr=bogus x
expect_status "view missing file" 1 "$ctrace" view --no-browser "$dir/nothing-here.out"

expect_one_line_error "missing file" "$dir/missing.out"
: >"$dir/empty.out"
expect_one_line_error "empty file" "$dir/empty.out"
printf 'this is not a trace, just some text\n' >"$dir/text.out"
expect_one_line_error "not a trace" "$dir/text.out"

(cd "$dir" && "$basics" -o "$dir/t.out" >/dev/null)
check "01-basics example" 0 $?
expect_status "stats" 0 "$ctrace" stats "$dir/t.out"
expect_status "stats --json" 0 "$ctrace" stats --json "$dir/t.out"
cp "$dir/out" "$dir/stats.json"
python3 - "$dir/stats.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
for field in ["duration_ns", "threads", "events", "tasks", "regions", "logs",
              "stacks", "lost_events", "generations"]:
    assert field in s, field
want = {"tasks": 201, "regions": 600, "logs": 200, "threads": 6, "lost_events": 0}
for k, v in want.items():
    assert s[k] == v, (k, s[k], v)
assert s["events"]["task_end"] == 201 and s["events"]["region_end"] == 600
assert s["events"]["thread_exit"] == 4
assert s["duration_ns"] > 40_000_000, s["duration_ns"]
assert s["stacks"] > 0 and s["generations"] >= 1
PY
check "stats --json fields and counts" 0 $?
expect_status "dump" 0 "$ctrace" dump "$dir/t.out"
for kind in task_begin:201 task_end:201 region_begin:600 region_end:600 log:200; do
    n=$(awk -v k="${kind%%:*}" '$1 !~ /^#/ && $3 == k' "$dir/out" | wc -l)
    check "dump has ${kind%%:*} lines" "${kind#*:}" "$n"
done

# A trace cut inside a record: an error naming the offset; cut between
# records (a program that died): a warning and the data up to there.
size=$(wc -c <"$dir/t.out")
head -c $((size - 5)) "$dir/t.out" >"$dir/cut.out"
expect_one_line_error "cut inside a record" "$dir/cut.out"
python3 - "$dir/t.out" "$dir/boundary.out" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
off, last_batch_end = 32, None
while off < len(data):
    kind, length = data[off], struct.unpack_from("<I", data, off + 4)[0]
    off += 12 + length
    if kind == 6:
        last_batch_end = off
open(sys.argv[2], "wb").write(data[:last_batch_end])
PY
expect_status "cut between records" 0 "$ctrace" stats "$dir/boundary.out"
grep -q "warning: .*boundary.out: byte [0-9]*: " "$dir/err"
check "cut between records warns" 0 $?

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

#!/bin/sh
# deps.sh [--bench] - installs the Debian packages that building and testing
# ctrace need, when they are missing. Safe to run again; does nothing when
# everything is there. Needs root (or sudo) only when something is missing.
set -eu

packages="meson ninja-build pkg-config gcc g++ libc6-dev libcmocka-dev python3"
# The analyzer: symbols (libdw), gzipped pprof (zlib); go tool pprof reads
# its profiles in the tests.
packages="$packages libdw-dev zlib1g-dev golang-go"
# Real programs traced by the integration tests and the benchmark; perf,
# whose scheduler tracepoints the fidelity test holds the states to.
packages="$packages pigz coreutils strace linux-perf"
# The documentation test (tests/docs_test.py) runs the tutorials' commands
# (pgrep), and the install test renders the manual pages (man -l).
packages="$packages procps man-db groff-base"
# clang with libFuzzer and the sanitizer runtimes: the fuzz target and the
# ThreadSanitizer build.
packages="$packages clang libclang-rt-14-dev"
# HTTP: the endpoint in traced programs and ctrace view; curl in the tests.
# ctrace view's browser tests: Debian's Chromium, driven from node.
packages="$packages libmicrohttpd-dev curl chromium"
# ctrace export's client (libcurl, loaded when it sends to a server), and
# the ClickHouse server the fleet test loads traces into (tests/fleet_test.py).
packages="$packages libcurl4-openssl-dev clickhouse-server clickhouse-client"
# node and npm, unless a node is installed already (from another source).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    packages="$packages nodejs npm"
fi

# make bench: LTTng-UST, to compare with (bench/bench_run.py); the real
# programs of bench/bench_real.py (make, git, xz; pigz, curl and g++ are
# above).
if [ "${1:-}" = "--bench" ]; then
    packages="$packages lttng-tools liblttng-ust-dev make git xz-utils"
fi

missing=""
for p in $packages; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
[ -z "$missing" ] && exit 0

echo "deps.sh: installing$missing"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q >/dev/null
# shellcheck disable=SC2086
$sudo apt-get install -y -q --no-install-recommends $missing >/dev/null

#!/bin/sh
# otlp_test.sh CTRACE PROGS-DIR - ctrace export --format=otlp decoded with
# OpenTelemetry's own OTLP definitions (tests/otlp/otlp_test.mjs): installs
# @opentelemetry/otlp-transformer from the committed lock file when it is
# missing (npm ci), then runs the test with node.
set -eu
here=$(cd "$(dirname "$0")/otlp" && pwd)
if [ ! -d "$here/node_modules/@opentelemetry/otlp-transformer" ]; then
    (cd "$here" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
fi
# Under AddressSanitizer the preloaded recorder stands in for the one the
# recorded program links, ctrace_on_ included: the interposition ELF intends.
if [ -n "${ASAN_OPTIONS:-}" ]; then
    ASAN_OPTIONS="$ASAN_OPTIONS:detect_odr_violation=0"
    export ASAN_OPTIONS
fi
cd "$here"
exec node otlp_test.mjs "$@"

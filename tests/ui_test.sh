#!/bin/sh
# ui_test.sh ARGS... - the browser tests of ctrace view (tests/ui/*.mjs;
# CTRACE_UI_TEST names the script, view_test.mjs when unset, given ARGS):
# installs playwright-core from the committed lock file when it is missing
# (npm ci, one test at a time; it downloads no browser), then drives Debian's /usr/bin/chromium.
set -eu
here=$(cd "$(dirname "$0")/ui" && pwd)
if [ ! -x /usr/bin/chromium ]; then
    echo "FAIL: /usr/bin/chromium is missing (scripts/deps.sh installs it)"
    exit 1
fi
# The browser tests run side by side: one of them installs, under a lock,
# while the others wait (npm ci empties node_modules before it fills it).
(
    flock 9
    if [ ! -d "$here/node_modules/playwright-core" ]; then
        cd "$here" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
    fi
) 9>"$here/.npm-install.lock"
cd "$here"
exec node "${CTRACE_UI_TEST:-view_test.mjs}" "$@"

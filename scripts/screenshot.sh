#!/bin/sh
# screenshot.sh [BUILD-DIR] - remakes docs/images/view.png, the README's
# picture of ctrace view: records the 01-basics example under ctrace run
# and photographs the view in Debian's headless Chromium
# (tests/ui/screenshot.mjs; playwright-core from tests/ui's lock file).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ ! -d "$root/tests/ui/node_modules/playwright-core" ]; then
    (cd "$root/tests/ui" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
fi
"$build/ctrace" run -o "$tmp/basics.out" -- "$build/examples/01-basics" >/dev/null
mkdir -p "$root/docs/images"
cd "$root/tests/ui"
node screenshot.mjs "$build/ctrace" "$tmp/basics.out" "$root/docs/images/view.png"

#!/bin/sh
# test-failures.sh BUILD-DIR - after a failed meson test run, why each
# failed test failed, printed last and short: the lines of its output that
# name a failure (cmocka's, a Python traceback's, a sanitizer's report and
# its first frames) and its last lines, so that a log cut to its tail still
# shows them.
python3 - "$1" <<'PY'
import json, re, sys
try:
    lines = open(f"{sys.argv[1]}/meson-logs/testlog.json").read().splitlines()
except OSError:
    sys.exit(0)
telling = re.compile(r"ERROR|FAIL|SUMMARY|Error|error:|runtime error|Assert|assert|"
                     r"Traceback|not ok|mismatch|expected|timed out")
for line in lines:
    test = json.loads(line)
    if test.get("result") in ("OK", "EXPECTEDFAIL", "SKIP"):
        continue
    out = (test.get("stdout") or "").splitlines() + (test.get("stderr") or "").splitlines()
    keep, frames = [], 0
    for text in out:
        if "Sanitizer" in text and "ERROR" in text:
            frames = 6
        if telling.search(text) or (frames and re.match(r"\s+#\d", text)):
            keep.append(text[:300])
            if re.match(r"\s+#\d", text):
                frames -= 1
    print(f"==== {sys.argv[1]}: {test.get('name')}: {test.get('result')}, "
          f"exit {test.get('returncode')}; what it said of it:")
    if len(keep) > 16:  # the first failure, and the last words
        keep = keep[:10] + [f"  ... {len(keep) - 16} more such lines ..."] + keep[-6:]
    print("\n".join(keep))
    print("  ... its last lines:")
    print("\n".join(t[:300] for t in out[-4:]))
PY

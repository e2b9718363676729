"""checks.py - what the test scripts share: a check that counts, and the
closing line that CI reads ("N passed, N failed"). CHECKS_VERBOSE=1 prints
the checks that pass too (their names carry the figures checked)."""
import os
import sys

verbose = os.environ.get("CHECKS_VERBOSE") == "1"

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        if verbose:
            print(f"ok: {name}")
    else:
        failed += 1
        print(f"FAIL: {name} {detail}")


def finish():
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)

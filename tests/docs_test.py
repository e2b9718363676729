#!/usr/bin/env python3
"""docs_test.py BUILD-DIR FILE.md... - keeps the documentation true.

For each Markdown file, in a scratch directory of its own where `build` is
a link to BUILD-DIR:

- every ```c block is compiled (cc -c -Wall -Wextra -Werror, with the
  flags of the uninstalled ctrace.pc);
- every ```sh block runs, in the order of the page, in one bash (so that
  `export` and files carry from block to block), under `set -e -o
  pipefail`: a command that fails fails the test.

Comments on the line or lines just before a block steer it:

  <!-- doctest: skip (why) -->    the block does not run (a server that
                                  serves until Ctrl-C, a system-wide install)
  <!-- doctest: file NAME -->     the block is written to NAME before the
                                  shell blocks after it run
  <!-- doctest: expect TEXT -->   the block's output (stdout and stderr)
                                  contains TEXT; as many as needed
  <!-- doctest: port N -->        N in the block is replaced by a free port
                                  (the page shows a port a reader would use;
                                  the test machine may have it taken)

Output blocks (```text) and blocks of other languages are not run. A
translation (NAME.ja.md beside NAME.md, both given) must have the same code
blocks and markers as the original, in the same order.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

FENCE = re.compile(r"^```(\S*)\s*$")
MARK = re.compile(r"^<!-- doctest: (\w+)\s*(.*?)\s*-->\s*$")
TIMEOUT = 400


def blocks(path):
    """(line, language, text, marks) for each fenced block of the file."""
    out, marks, lines = [], [], open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = MARK.match(lines[i])
        if m:
            if m.group(1) not in ("skip", "file", "expect", "port"):
                sys.exit(f"{path}:{i + 1}: unknown doctest marker {m.group(1)!r}")
            marks.append((m.group(1), m.group(2)))
            i += 1
            continue
        f = FENCE.match(lines[i])
        if f:
            start, body = i, []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            if i == len(lines):
                sys.exit(f"{path}:{start + 1}: unclosed code block")
            out.append((start + 1, f.group(1), "\n".join(body) + "\n", marks))
            marks = []
        elif lines[i].strip() and not lines[i].startswith("<!--"):
            # Markers belong to the block right after them.
            if marks:
                sys.exit(f"{path}:{i + 1}: doctest marker not followed by a code block")
        i += 1
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_file(build, path):
    failures = []
    work = tempfile.mkdtemp(prefix="ctrace-docs-")
    try:
        os.symlink(build, os.path.join(work, "build"))
        env = dict(os.environ)
        env.pop("CTRACE_OUTPUT", None)
        env["PKG_CONFIG_PATH"] = os.path.join(build, "meson-uninstalled")
        cflags = subprocess.run(["pkg-config", "--cflags", "ctrace"], env=env, check=True,
                                capture_output=True, text=True).stdout.split()

        script = ["set -e -o pipefail", "exec 3>.progress"]
        expects, shown = [], {}
        compiled = 0
        for n, (line, lang, text, marks) in enumerate(blocks(path)):
            kinds = dict(marks)
            where = f"{os.path.basename(path)}:{line}"
            if lang == "c":
                name = kinds.get("file") or f".block{n}.c"
                with open(os.path.join(work, name), "w") as f:
                    f.write(text)
                if "skip" in kinds:
                    continue
                r = subprocess.run(["cc", "-std=gnu11", "-Wall", "-Wextra", "-Werror", "-c",
                                    "-o", os.devnull, name] + cflags,
                                   cwd=work, capture_output=True, text=True)
                compiled += 1
                if r.returncode != 0:
                    failures.append(f"{where}: the C block does not compile:\n{r.stderr}")
                continue
            if "file" in kinds:
                with open(os.path.join(work, kinds["file"]), "w") as f:
                    f.write(text)
            if lang != "sh" or "skip" in kinds:
                continue
            for kind, arg in marks:
                if kind == "port":
                    text = re.sub(r"\b%s\b" % re.escape(arg), str(free_port()), text)
            shown[n] = (where, text)
            script += [f"echo {n} >&3", "{", text, f"}} >.out{n} 2>&1"]
            expects += [(n, arg) for kind, arg in marks if kind == "expect"]
        script.append("echo done >&3")

        with open(os.path.join(work, ".script.sh"), "w") as f:
            f.write("\n".join(script) + "\n")
        p = subprocess.Popen(["bash", ".script.sh"], cwd=work, env=env, start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            _, err = p.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            _, err = p.communicate()
            failures.append(f"{path}: the shell blocks took longer than {TIMEOUT} s")
        progress = open(os.path.join(work, ".progress")).read().split()
        last = progress[-1] if progress else "none"

        def output(n):
            try:
                return open(os.path.join(work, f".out{n}"), errors="replace").read()
            except OSError:
                return ""

        if p.returncode != 0 and last != "done":
            where, text = shown.get(int(last), ("?", "")) if last.isdigit() else ("?", "")
            failures.append(f"{where}: the block failed (status {p.returncode}):\n{text}"
                            f"--- its output:\n{output(last)[-3000:]}{err[-1000:]}")
        ran = {int(x) for x in progress if x.isdigit()}
        for n, want in expects:
            if n in ran and (last == "done" or n != int(last)) and want not in output(n):
                where, text = shown[n]
                failures.append(f"{where}: the output does not contain {want!r}:\n{text}"
                                f"--- its output:\n{output(n)[-3000:]}")
        print(f"{path}: {len(shown)} shell blocks, {len(ran)} run; {compiled} C blocks compiled; "
              f"{len(expects)} expectations")
    finally:
        # Programs started in the background have ended with their block
        # (each block waits for its own).
        shutil.rmtree(work, ignore_errors=True)
    return failures


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: docs_test.py BUILD-DIR FILE.md...")
    build = os.path.abspath(sys.argv[1])
    failures, failed = [], set()
    for path in sys.argv[2:]:
        original = path.replace(".ja.md", ".md")
        if original != path and original in sys.argv[2:]:
            mine = [(lang, text, marks) for _, lang, text, marks in blocks(path)]
            theirs = [(lang, text, marks) for _, lang, text, marks in blocks(original)]
            if mine != theirs:
                at = next((i for i, (a, b) in enumerate(zip(mine, theirs)) if a != b),
                          min(len(mine), len(theirs)))
                failures.append(f"{path}: its code blocks differ from {original}'s "
                                f"from block {at + 1} on")
                failed.add(path)
        these = check_file(build, path)
        failures += these
        if these:
            failed.add(path)
    for f in failures:
        print("FAIL:", f)
    print(f"{len(sys.argv) - 2 - len(failed)} passed, {len(failed)} failed")
    sys.exit(1 if failures else 0)

if __name__ == "__main__":
    main()

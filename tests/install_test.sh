#!/bin/sh
# install_test.sh BUILD-DIR SOURCE-DIR - `meson install` into a scratch
# directory, then, with the installed files alone: the examples build
# against the installed header, library and pkg-config file; 01-basics
# runs, by itself and under the installed `ctrace run` with the installed
# preload library, and the installed command reads its traces; the manual
# pages render with `man -l` without a warning, each API function's name
# leads to ctrace(3), and ctrace(1) names every command, option and
# CTRACE_* variable that the commands' --help texts give.
set -u
build=$1
src=$2
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
pass=0
fail=0
check() { # NAME STATUS
    if [ "$2" -eq 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $1"; fi
}

meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >/dev/null
check "meson install" $?
pcdir=$(dirname "$(find "$dest" -name ctrace.pc | head -n 1)")
[ -f "$pcdir/ctrace.pc" ] || { echo "FAIL: no ctrace.pc installed"; exit 1; }
export PKG_CONFIG_PATH="$pcdir"
prefix=$(pkg-config --variable=prefix ctrace)
libdir=$(pkg-config --variable=libdir ctrace)
mandir=$(find "$dest" -type d -name man1 | head -n 1)
mandir=${mandir%/man1}
for f in "$prefix/bin/ctrace" "$prefix/include/ctrace.h" "$libdir/libctrace.so" \
         "$libdir/libctrace-preload.so" "${mandir#"$dest"}/man1/ctrace.1" \
         "${mandir#"$dest"}/man3/ctrace.3"; do
    [ -e "$dest$f" ]
    check "installed $f" $?
done

# The examples, against the installed files only.
cflags=$(pkg-config --cflags ctrace | sed "s|-I$prefix|-I$dest$prefix|g")
libs=$(pkg-config --libs ctrace | sed "s|-L$prefix|-L$dest$prefix|g")
for ex in 01-basics 02-task 03-region flightrecorder; do
    cc -O2 -g -fno-omit-frame-pointer -Wall -Werror $cflags "$src/examples/$ex/main.c" $libs \
        -pthread -Wl,-rpath,"$dest$libdir" -o "$dest/$ex"
    check "$ex builds with pkg-config" $?
done
ctrace="$dest$prefix/bin/ctrace"
(cd "$dest" && ./01-basics -o "$dest/t.out" >/dev/null)
check "01-basics runs" $?
"$ctrace" stats --json "$dest/t.out" | grep -q '"tasks":201'
check "the installed ctrace reads its trace" $?
CTRACE_PRELOAD="$dest$libdir/libctrace-preload.so" \
    "$ctrace" run -o "$dest/run.out" -- "$dest/01-basics" >/dev/null
check "01-basics under the installed ctrace run" $?
"$ctrace" stats "$dest/run.out" | grep -q "blocked at the end of the trace"
check "its trace holds the blocked notifier" $?

# The manual pages render without a warning.
for page in "$mandir/man1/ctrace.1" "$mandir/man3/ctrace.3" "$mandir/man3/ctrace_start.3"; do
    out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$page" 2>"$dest/man.err")
    check "man -l $(basename "$page") renders" $?
    [ ! -s "$dest/man.err" ] || { cat "$dest/man.err"; false; }
    check "man -l $(basename "$page") without warnings" $?
    echo "$out" | grep -q "^SYNOPSIS"
    check "man -l $(basename "$page") has a synopsis" $?
done

# ctrace(1) names every command, option and variable of the help texts.
# Options are searched in the page's source with roff's \- as -.
man1=$(sed 's/\\-/-/g' "$mandir/man1/ctrace.1")
commands=$("$ctrace" --help | awk '/^commands:/ {on = 1; next} on && NF {print $1} on && !NF {on = 0}')
[ -n "$commands" ]
check "ctrace --help lists commands" $?
for cmd in $commands; do
    printf '%s\n' "$man1" | grep -q "^\.SS \"ctrace $cmd"
    check "ctrace(1) has a section for $cmd" $?
    for opt in $("$ctrace" "$cmd" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
        printf '%s\n' "$man1" | grep -q -- "$opt"
        check "ctrace(1) names $cmd $opt" $?
    done
done
for var in $("$ctrace" run --help | grep -o 'CTRACE_[A-Z_]*' | sort -u); do
    printf '%s\n' "$man1" | grep -q "^\.B $var$"
    check "ctrace(1) describes $var" $?
done
# ctrace(3) names every function the header declares.
for fn in $(grep -o '^CTRACE_API [^(]*(' "$dest$prefix/include/ctrace.h" | grep -o 'ctrace_[a-z_]*('); do
    grep -q "${fn%(}" "$mandir/man3/ctrace.3"
    check "ctrace(3) describes ${fn%(}" $?
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]

#!/bin/sh
# install_test.sh BUILD-DIR SOURCE-DIR - `meson install` into a scratch
# directory, then build the 01-basics example against the installed header,
# library and pkg-config file alone, run it, and read its trace with the
# installed command.
set -eu
build=$1
src=$2
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
meson install -C "$build" --destdir "$dest" --no-rebuild --quiet >/dev/null
pcdir=$(dirname "$(find "$dest" -name ctrace.pc | head -n 1)")
[ -n "$pcdir" ] || { echo "FAIL: no ctrace.pc installed"; exit 1; }
prefix=$(PKG_CONFIG_PATH=$pcdir pkg-config --variable=prefix ctrace)
export PKG_CONFIG_PATH="$pcdir"
cflags=$(pkg-config --cflags ctrace | sed "s|-I$prefix|-I$dest$prefix|g")
libs=$(pkg-config --libs ctrace | sed "s|-L$prefix|-L$dest$prefix|g")
libdir=$(pkg-config --variable=libdir ctrace)
cc -O2 -fno-omit-frame-pointer $cflags "$src/examples/01-basics/main.c" $libs -pthread \
    -Wl,-rpath,"$dest$libdir" -o "$dest/01-basics"
(cd "$dest" && ./01-basics -o "$dest/t.out" >/dev/null)
"$dest$prefix/bin/ctrace" stats --json "$dest/t.out" | grep -q '"tasks":201'
echo "1 passed, 0 failed"

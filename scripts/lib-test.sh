#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check's test of liblayoutlease as installed: make -C tools install
# into a scratch DESTDIR with PREFIX=/usr, then
#
#  - every file is where Debian puts it (multiarch libdir);
#  - the shared library's soname is liblayoutlease.so.0 and it exports
#    exactly the functions that <layoutlease.h> declares, each in the
#    version node liblayoutlease.map gives it (LIBLAYOUTLEASE_0, _0.4);
#  - the command and the rdma-core example build against the installed
#    headers and library through pkg-config alone (the sysroot's), need
#    liblayoutlease.so.0 and run from it; a static link needs nothing;
#  - <layoutlease.h> compiles as C++.
#
# Prints "ok ..." or "FAIL ..." per check; exits non-zero on a failure.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
multiarch=$(gcc -print-multiarch)
d=$(mktemp -d "${TMPDIR:-/tmp}/lllib.XXXXXX")
trap 'rm -rf "$d"' EXIT
rc=0
ok() { echo "ok $*"; }
bad() { echo "FAIL $*"; rc=1; }

dest=$d/root
if ! make -s -C tools install DESTDIR="$dest" PREFIX=/usr >"$d/install.log" 2>&1; then
	cat "$d/install.log"
	bad "make -C tools install DESTDIR PREFIX=/usr"
	exit 1
fi
lib=/usr/lib/$multiarch
missing=
for f in /usr/bin/layoutlease /usr/lib/layoutlease/liblayoutlease-preload.so \
	"$lib/liblayoutlease.so.0" "$lib/liblayoutlease.so" "$lib/liblayoutlease.a" \
	/usr/include/layoutlease.h /usr/include/linux/layoutlease.h \
	/usr/share/bash-completion/completions/layoutlease /usr/share/man/man1/layoutlease.1 \
	/usr/share/layoutlease/layoutlease-break.bt \
	/usr/share/man/man4/layoutlease.4 /usr/share/man/man3/liblayoutlease.3 \
	"$lib/pkgconfig/liblayoutlease.pc"; do
	[ -e "$dest$f" ] || missing="$missing $f"
done
if [ -z "$missing" ]; then
	ok "install: command, libraries, headers and pkg-config file in Debian's paths ($lib)"
else
	bad "install: missing$missing"
fi

so=$(readlink -f "$dest$lib/liblayoutlease.so")
soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
# The header's functions: the names before "(" on declaration lines; each
# must be exported in the version node that the map file gives it.
want=$(sed -n 's/^[a-z].*[ *]\(ll_[a-z_]*\)(.*/\1/p' tools/lib/layoutlease.h | sort)
nodes=$(awk '/^LIBLAYOUTLEASE_[0-9.]* *\{/ { node = $1 }
	/^\tll_[a-z_]*;/ { sub(/;/, "", $1); print $1 "@@" node }' tools/lib/liblayoutlease.map | sort)
got=$(nm -D --defined-only "$so" | awk '$2 == "T" { print $3 }' | sort)
if [ "$soname" = liblayoutlease.so.0 ] && [ -n "$want" ] &&
	[ "$(echo "$nodes" | sed 's/@@.*//')" = "$want" ] && [ "$nodes" = "$got" ]; then
	ok "shared library: soname $soname, exports the header's $(echo "$want" | wc -l) functions in their version nodes ($(echo "$nodes" | sed 's/.*@@//' | sort -u | tr '\n' ' ')), nothing else"
else
	bad "shared library: soname '$soname'; header: $(echo "$want" | tr '\n' ' '); map: $(echo "$nodes" | tr '\n' ' '); exported: $(echo "$got" | tr '\n' ' ')"
fi

pc() { PKG_CONFIG_SYSROOT_DIR=$dest PKG_CONFIG_LIBDIR=$dest$lib/pkgconfig pkg-config "$@" liblayoutlease; }
# shellcheck disable=SC2086 # the flags are words
if flags=$(pc --cflags --libs) && [ "$(pc --modversion)" = \
	"$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)" ] &&
	gcc -O2 -Wall -Werror -o "$d/layoutlease" tools/layoutlease.c tools/list.c tools/watch.c $flags 2>"$d/cc.log" &&
	gcc -O2 -Wall -Werror -o "$d/rdma-dmabuf" tools/examples/rdma-dmabuf.c $flags -libverbs 2>>"$d/cc.log"; then
	ok "pkg-config: the command and the example build against the installed library ($flags)"
else
	cat "$d/cc.log" 2>/dev/null
	bad "pkg-config: build against the installed library (flags: ${flags:-none})"
fi
if readelf -d "$d/layoutlease" 2>/dev/null | grep -q 'NEEDED.*\[liblayoutlease.so.0\]' &&
	[ "$(LD_LIBRARY_PATH=$dest$lib ldd "$d/layoutlease" | sed -n 's/.*liblayoutlease.so.0 => \([^ ]*\).*/\1/p')" = \
		"$dest$lib/liblayoutlease.so.0" ] &&
	LD_LIBRARY_PATH=$dest$lib "$d/layoutlease" --help >"$d/help" && grep -q '^usage: layoutlease' "$d/help" &&
	readelf -d "$d/rdma-dmabuf" | grep -q 'NEEDED.*\[liblayoutlease.so.0\]'; then
	ok "the command and the example need liblayoutlease.so.0; the command runs from the installed one"
else
	bad "the built command does not need or run from the installed liblayoutlease.so.0"
fi
# shellcheck disable=SC2046
if gcc -O2 -o "$d/layoutlease-static" tools/layoutlease.c tools/list.c tools/watch.c $(pc --cflags) \
	-L"$dest$lib" -Wl,-Bstatic -llayoutlease -Wl,-Bdynamic 2>"$d/cc.log" &&
	! readelf -d "$d/layoutlease-static" | grep -q liblayoutlease; then
	ok "static: the command links liblayoutlease.a and needs no shared library"
else
	cat "$d/cc.log"
	bad "static link against liblayoutlease.a"
fi
printf '#include <layoutlease.h>\nint main() { return ll_open() < 0; }\n' >"$d/t.cc"
# shellcheck disable=SC2046
if g++ -Wall -Werror -o "$d/t" "$d/t.cc" $(pc --cflags --libs) 2>"$d/cxx.log"; then
	ok "<layoutlease.h> compiles and links as C++"
else
	cat "$d/cxx.log"
	bad "<layoutlease.h> as C++"
fi

# The man pages: lint clean, and every option that a subcommand's --help
# names is in layoutlease(1).
man=tools/man/layoutlease.1
if mandoc -T lint -W warning "$man" >"$d/lint" 2>&1 && groff -ww -man -z "$man" 2>>"$d/lint" &&
	[ ! -s "$d/lint" ]; then
	ok "layoutlease(1): mandoc -T lint and groff -ww clean"
else
	cat "$d/lint"
	bad "layoutlease(1): lint"
fi
missing=
for sub in info list watch hold; do
	for o in $(build/tools/layoutlease "$sub" --help | grep -o -E '(^| )--?[A-Za-z][a-z-]*' | sort -u); do
		[ "$o" = --help ] && continue
		grep -q -F -- "$(echo "$o" | sed 's/-/\\-/g')" "$man" || missing="$missing $sub:$o"
	done
done
if [ -z "$missing" ]; then
	ok "layoutlease(1) names every option of info, list, watch and hold --help"
else
	bad "layoutlease(1) lacks$missing"
fi
exit $rc

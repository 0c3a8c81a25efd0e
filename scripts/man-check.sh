#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# layoutlease(4) against the kernel-doc of uapi/linux/layoutlease.h: the
# same ioctls, each with the same errors ("Errors besides the general
# ones: ..." in the header, the .TP/.B list of its .SS section in the man
# page), the same general errors (the header's errno contract, the man
# page's ERRORS) and the same event types; liblayoutlease(3) against
# tools/lib/layoutlease.h: a section per function; both lint clean.
# Prints "ok ..." or "FAIL ..." per check; exits non-zero on a failure.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
h=$top/uapi/linux/layoutlease.h
man=$top/tools/man/layoutlease.4
rc=0
ok() { echo "ok $*"; }
bad() { echo "FAIL $*"; rc=1; }
# A man page with no mandoc warning and no groff -ww message.
lint() {	# file name
	local out
	out=$(mandoc -T lint -W warning "$1" 2>&1; groff -ww -man -z "$1" 2>&1)
	if [ -z "$out" ]; then
		ok "$2: mandoc -T lint and groff -ww clean"
	else
		echo "$out"
		bad "$2: lint"
	fi
}
words() { tr ' ' '\n' | sed '/^$/d' | sort -u | tr '\n' ' '; }
# The errno names of the system, so that other capitals are not taken.
errnos=$(sed -n 's/^#define[[:space:]]\+\(E[A-Z0-9]\+\)[[:space:]].*/\1/p' \
	/usr/include/asm-generic/errno-base.h /usr/include/asm-generic/errno.h | sort -u)
is_errno() { grep -qx -- "$1" <<<"$errnos"; }

# The header's errors of ioctl $1: its kernel-doc block, after "Errors".
hdr_errors() {
	local e out=
	for e in $(awk -v ioc="ioctl(LAYOUTLEASE_IOC_$1)" '
		/^\/\*\*/ { blk = ""; inb = 1 }
		inb { l = $0; sub(/^[ \t]*\/?\*+ ?/, "", l); blk = blk " " l }
		inb && /\*\// { inb = 0; if (index(blk, ioc)) print blk }' "$h" |
		sed -n 's/.*Errors  *besides  *the  *general  *ones//p' | grep -o -E '\bE[A-Z0-9]{2,}\b'); do
		is_errno "$e" && out="$out $e"
	done
	echo "$out" | words
}
# The man page's errors of ioctl $1: ".TP" then ".B EXXX" in its section.
man_errors() {
	awk -v sec=".SS LAYOUTLEASE_IOC_$1" '
		/^\.S[SH] / { in_s = ($0 == sec) }
		in_s && prev == ".TP" && /^\.B E[A-Z0-9]+$/ { print $2 }
		{ prev = $0 }' "$man" | words
}

ioc_h=$(sed -n 's/^#define LAYOUTLEASE_IOC_\([A-Z_]*\).*/\1/p' "$h" | words)
ioc_m=$(sed -n 's/^\.SS LAYOUTLEASE_IOC_\([A-Z_]*\)$/\1/p' "$man" | words)
if [ "$ioc_h" = "$ioc_m" ]; then
	ok "layoutlease(4) has a section for each ioctl of the header ($ioc_h)"
else
	bad "ioctls: header: $ioc_h; layoutlease(4): $ioc_m"
fi
for i in $ioc_h; do
	a=$(hdr_errors "$i") b=$(man_errors "$i")
	if [ "$a" = "$b" ]; then
		ok "layoutlease(4) LAYOUTLEASE_IOC_$i: the header's errors (${a:-none})"
	else
		bad "LAYOUTLEASE_IOC_$i errors: header: ${a:-none}; layoutlease(4): ${b:-none}"
	fi
done
gen_h=$(awk '/DOC: General ioctl format/ { d = 1 } d && /\*\// { d = 0 } d' "$h" |
	sed -n 's/^ \*  - \(E[A-Z0-9]*\):.*/\1/p' | words)
gen_m=$(awk '/^\.SH ERRORS/ { s = 1; next } /^\.S[SH] / { s = 0 }
	s && prev == ".TP" && /^\.B E[A-Z0-9]+$/ { print $2 } { prev = $0 }' "$man" | words)
if [ -n "$gen_h" ] && [ "$gen_h" = "$gen_m" ]; then
	ok "layoutlease(4) ERRORS: the header's general errors ($gen_h)"
else
	bad "general errors: header: $gen_h; layoutlease(4): $gen_m"
fi
ev_h=$(sed -n 's/^\tLAYOUTLEASE_EVENT_\([A-Z_]*\).*/\1/p' "$h" | words)
ev_m=$(sed -n 's/^\.B LAYOUTLEASE_EVENT_\([A-Z_]*\)$/\1/p' "$man" | words)
if [ "$ev_h" = "$ev_m" ]; then
	ok "layoutlease(4) describes each event type ($ev_h)"
else
	bad "events: header: $ev_h; layoutlease(4): $ev_m"
fi
lint "$man" "layoutlease(4)"
# liblayoutlease(3): a section for each function of <layoutlease.h>.
lib=$top/tools/man/liblayoutlease.3
fn_h=$(sed -n 's/^[a-z].*[ *]\(ll_[a-z_]*\)(.*/\1/p' "$top/tools/lib/layoutlease.h" | words)
fn_m=$(sed -n 's/^\.SS \(ll_[a-z_]*\)$/\1/p' "$lib" | words)
if [ -n "$fn_h" ] && [ "$fn_h" = "$fn_m" ]; then
	ok "liblayoutlease(3) has a section for each function of <layoutlease.h>"
else
	bad "functions: header: $fn_h; liblayoutlease(3): $fn_m"
fi
lint "$lib" "liblayoutlease(3)"
exit $rc

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: style, the module built with W=1 for every kernel of the
# matrix, the selftests in a VM per kernel (XFS and ext4 DAX mounts in each)
# and the test bed's own checks.  Prints every test, ends with the line
# "N passed, N failed" and exits non-zero on any failure.
#
#   scripts/check.sh [--build-only] [KERNEL...]
#
# Default: 6.1 6.12 sid and the debug kernels debug (6.12, KASAN), kcsan
# (6.12, KCSAN) and debug-sid (7.2, KASAN) of scripts/debug-kernel.sh.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
build_only=
[ "${1:-}" = --build-only ] && { build_only=1; shift; }
kernels=${*:-${LL_KERNELS:-6.1 6.12 sid debug kcsan debug-sid}}
is_debug() { case $1 in debug|debug-sid|kcsan) return 0 ;; esac; return 1; }
debugs= plains=
for k in $kernels; do
	if is_debug "$k"; then debugs="$debugs $k"; else plains="$plains $k"; fi
done
passed=0 failed=0 skipped=0
logdir=$top/build/check
rm -rf "$logdir" && mkdir -p "$logdir"
start=$(date +%s)

# From a cold cache the debug kernels are the longest step: build them now,
# one after the other at the lowest priority, beside the other kernels'
# builds and VM runs (their single-threaded TCG leaves a core);
# scripts/build.sh then waits for each (scripts/debug-kernel.sh takes a
# lock) or finds it cached.
if [ -n "$debugs" ] && [ -z "$build_only" ]; then
	for k in $debugs; do
		nice -n 19 scripts/debug-kernel.sh "$k" >"$logdir/debug-kernel-$k.log" 2>&1
	done &
fi

pass() { passed=$((passed + 1)); echo "ok      $*"; }
fail() { failed=$((failed + 1)); echo "FAIL    $*"; }
check() {	# name command...: one test from a command's exit code
	local name=$1 log
	shift
	log=$logdir/$(echo "$name" | tr -c 'A-Za-z0-9._-' '_').log
	if "$@" >"$log" 2>&1; then
		pass "$name"
	else
		fail "$name"
		tail -n 30 "$log" | sed 's/^/        | /'
	fi
}

# Each TAP line of the selftests is a test, named by kernel and program.
tap() {	# kernel log
	local k=$1 prog='?' line
	while IFS= read -r line; do
		case $line in
		"# selftest: "*) prog=${line#\# selftest: }; prog=${prog%% *} ;;
		"ok "*"# SKIP"*) skipped=$((skipped + 1))
			echo "skip    [$k] $prog ${line#ok [0-9]* }" ;;
		"ok "*) pass "[$k] $prog ${line#ok [0-9]* }" ;;
		"not ok "*) fail "[$k] $prog ${line#not ok [0-9]* }" ;;
		esac
	done < "$2"
}

echo "== style"
while IFS= read -r line; do
	case $line in
	"ok "*) pass "style: ${line#ok }" ;;
	"FAIL "*) fail "style: ${line#FAIL }" ;;
	*) echo "        | $line" ;;
	esac
done < <(scripts/style.sh 2>&1)

check "docs: Documentation/uapi-generated.rst matches the header" scripts/uapi-doc.sh --check

echo "== selftest programs"
check "selftests: build" make -s -C selftests
check "tools: build" make -s -C tools

# The test bed must catch failure: a failing test and a guest WARN each fail
# the run.  Checked on the first kernel given; the results go to a file of
# "ok|FAIL<tab>name" lines.
testbed_checks() {	# kernel results-file
	local k=$1 res=$2 log
	: > "$res"
	log=$logdir/testbed-fail.log
	if ! scripts/vm-run -k "$k" -- env LL_TESTBED_FAIL=1 build/selftests/testbed_test \
		>"$log" 2>&1 && grep -q '^not ok .*deliberate_failure' "$log"; then
		printf 'ok\t%s\n' "[$k] test bed: a failing test fails the run" >> "$res"
	else
		printf 'FAIL\t%s\n' "[$k] test bed: a failing test fails the run" >> "$res"
	fi
	log=$logdir/testbed-warn.log
	# shellcheck disable=SC2016
	if ! scripts/vm-run -k "$k" -- bash -c 'insmod $LL_TESTMODS/ll_testbed_warn.ko' \
		>"$log" 2>&1 && grep -q "deliberate warning" "$log" &&
		grep -q "kernel log has a report" "$log"; then
		printf 'ok\t%s\n' "[$k] test bed: a guest WARN fails the run" >> "$res"
	else
		printf 'FAIL\t%s\n' "[$k] test bed: a guest WARN fails the run" >> "$res"
	fi
	# A report on the first lines of a log of several hundred KiB: a scan
	# that stops reading early (a pipe into grep -q) must not hide it.
	log=$logdir/testbed-longlog.log
	# shellcheck disable=SC2016
	if ! scripts/vm-run -k "$k" -- bash -c 'insmod $LL_TESTMODS/ll_testbed_warn.ko &&
		for i in $(seq 4000); do
			echo "<4>layoutlease test bed: filler line $i of a long kernel log ........................................" >/dev/kmsg
		done' >"$log" 2>&1 && grep -q "deliberate warning" "$log" &&
		grep -q "kernel log has a report" "$log" &&
		[ "$(stat -c %s "$(sed -n 's/.*files in \(.*\)$/\1/p' "$log")/console.log")" -gt 262144 ]; then
		printf 'ok\t%s\n' "[$k] test bed: a WARN early in a long log (> 256 KiB) fails the run" >> "$res"
	else
		printf 'FAIL\t%s\n' "[$k] test bed: a WARN early in a long log (> 256 KiB) fails the run" >> "$res"
	fi
}

# One kernel's selftests in a VM; the exit code and the seconds it took go
# to $logdir/vm-K.rc and vm-K.secs.  The debug kernels of 6.12's code base (debug: KASAN, kcsan: KCSAN) run
# what finds what the plain 6.12 run cannot see: the fault injection, the
# fuzzer and the race stress.  The whole suite runs on the plain kernels
# and on debug-sid (KASAN on 7.2's code); LL_DEBUG_SUITE=full runs it all on
# every debug kernel (it doubles their VM time).
vm_tests() {	# kernel
	local k=$1 limit=600 t0 progs=()
	is_debug "$k" && limit=2400
	case $k in
	debug|kcsan)
		[ "${LL_DEBUG_SUITE:-}" = full ] ||
			progs=(build/selftests/faultinj_test build/selftests/fuzz build/selftests/race_stress)
		;;
	esac
	t0=$(date +%s)
	scripts/vm-run -k "$k" -t $limit -- selftests/run.sh "${progs[@]}" >"$logdir/vm-$k.log" 2>&1
	echo $? >"$logdir/vm-$k.rc"
	echo $(( $(date +%s) - t0 )) >"$logdir/vm-$k.secs"
}

vm_report() {	# kernel
	local k=$1 log=$logdir/vm-$1.log
	tap "$k" "$log"
	if [ "$(cat "$logdir/vm-$k.rc" 2>/dev/null)" = 0 ]; then
		pass "[$k] VM run: exit 0, kernel log clean ($(cat "$logdir/vm-$k.secs") s)"
	else
		fail "[$k] VM run: exit $(cat "$logdir/vm-$k.rc" 2>/dev/null || echo '?')"
		grep -v -E '^(ok |#|TAP|1\.\.)' "$log" | tail -n 40 | sed 's/^/        | /'
	fi
}

# The DKMS package (scripts/dkms-test.sh): DKMS builds it on the host for
# 6.12 in private trees, natively (the same gcc and headers the guest
# would use; the compile under TCG made this a 28-minute VM), and a 6.12
# VM loads that package into its DKMS tree, installs it, loads the module
# by name and removes it again.  vm-run -n builds nothing, so it cannot
# race with other runs.
dkms_test() {
	local kd rc
	kd=$(scripts/kernels.sh fetch 6.12)
	echo "dkms: start $(date +%T)"
	scripts/dkms-test.sh build "$(cat "$kd/kdir")" "$(cat "$kd/release")" "$logdir/dkms" ||
		return 1
	scripts/vm-run -k 6.12 -n -t 1200 -- scripts/dkms-test.sh guest \
		"$logdir/dkms/layoutlease-dkms.tar.gz" "$(cat "$kd/kdir")"
	rc=$?
	echo "dkms: vm-run exit $rc at $(date +%T)"
	return $rc
}

# The debug kernels (their builds, then their VM runs, the longest) and the
# DKMS test (its fetch of 6.12 waits for any other, kernels.sh locks) run in
# the background from the start: the debug kernels in two lanes (the first
# and third in one, the second in the other: three KASAN/KCSAN guests at
# once would share two cores), the other kernels one after the other in the
# foreground; then the test bed's self-checks.  Results of the background
# runs are counted when they are done.
# On the KCSAN kernel, a deliberate data race in a test module must fail
# its VM run.
kcsan_check() {
	local log=$logdir/testbed-kcsan.log name="[kcsan] test bed: a data race in a module fails the run"
	# shellcheck disable=SC2016
	if ! scripts/vm-run -k kcsan -- bash -c 'insmod $LL_TESTMODS/ll_testbed_race.ko' \
		>"$log" 2>&1 && grep -q "BUG: KCSAN: data-race in ll_race_step" "$log" &&
		grep -q "kernel log has a report" "$log"; then
		printf 'ok\t%s\n' "$name" >"$logdir/testbed-kcsan.results"
	else
		printf 'FAIL\t%s\n' "$name" >"$logdir/testbed-kcsan.results"
	fi
}

debug_lane() {	# kernel...
	local k
	for k in "$@"; do
		if scripts/build.sh "$k" >"$logdir/build-$k.log" 2>&1; then
			echo 0 >"$logdir/build-$k.rc"
			vm_tests "$k"
			[ "$k" = kcsan ] && kcsan_check
		else
			echo 1 >"$logdir/build-$k.rc"
		fi
	done
}
lane_pids=
if [ -z "$build_only" ] && [ -n "$debugs" ]; then
	# shellcheck disable=SC2086
	set -- $debugs
	debug_lane "$1" ${3:+"$3"} &
	lane_pids=$!
	if [ -n "${2:-}" ]; then
		debug_lane "$2" &
		lane_pids="$lane_pids $!"
	fi
fi

case " $kernels " in
*" 6.12 "*)
	if [ -z "$build_only" ]; then
		{ dkms_test >"$logdir/dkms.log" 2>&1; echo $? >"$logdir/dkms.rc"; } &
		dkms_pid=$!
	fi
	;;
esac

for k in $kernels; do
	is_debug "$k" && [ -z "$build_only" ] && continue
	echo "== kernel $k"
	check "[$k] module and test modules build with W=1, no warning" scripts/build.sh "$k"
	[ -n "$build_only" ] && continue
	vm_tests "$k"
	vm_report "$k"
done

if [ -z "$build_only" ]; then
	k=${plains# }
	k=${k%% *}
	if [ -n "$k" ]; then
		echo "== test bed self-checks ($k)"
		testbed_checks "$k" "$logdir/testbed.results"
		while IFS=$'\t' read -r res name; do
			if [ "$res" = ok ]; then pass "$name"; else fail "$name"; fi
		done < "$logdir/testbed.results"
	fi
fi

for pid in $lane_pids; do
	wait "$pid"
done
for k in $debugs; do
	[ -n "$build_only" ] && break
	echo "== kernel $k"
	if [ "$(cat "$logdir/build-$k.rc" 2>/dev/null)" = 0 ]; then
		pass "[$k] module and test modules build with W=1, no warning"
		vm_report "$k"
	else
		fail "[$k] module and test modules build with W=1, no warning"
		tail -n 30 "$logdir/build-$k.log" | sed 's/^/        | /'
	fi
	if [ "$k" = kcsan ] && [ -e "$logdir/testbed-kcsan.results" ]; then
		while IFS=$'\t' read -r res name; do
			if [ "$res" = ok ]; then pass "$name"; else fail "$name"; fi
		done < "$logdir/testbed-kcsan.results"
	fi
done
if [ -n "${dkms_pid:-}" ]; then
	wait "$dkms_pid"
	echo "== DKMS (6.12)"
	if [ "$(cat "$logdir/dkms.rc")" = 0 ]; then
		pass "[6.12] DKMS: dkms builds the package, a 6.12 guest installs it (ldtarball, install), modprobe loads it, make dkms-remove removes it"
	else
		fail "[6.12] DKMS: dkms build, ldtarball and install in a guest, modprobe, make dkms-remove"
		tail -n 30 "$logdir/dkms.log" | sed 's/^/        | /'
	fi
fi

echo "== $(( $(date +%s) - start )) s; logs in $logdir"
if [ $skipped -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ $failed = 0 ]

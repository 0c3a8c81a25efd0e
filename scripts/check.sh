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
# Status files are read by other processes: written whole, then renamed.
put() { echo "$2" >"$1.tmp" && mv "$1.tmp" "$1"; }	# file value
# The longest VM run's kernel first (debug-sid, the whole suite).
order=
for k in debug-sid debug kcsan; do
	case " $debugs " in *" $k "*) order="$order $k" ;; esac
done
# The background work ignores SIGINT (a non-interactive shell's background
# jobs do): on an interrupt or a TERM, all of it is ended with the run.
trap 'trap - INT TERM; kill -TERM 0 2>/dev/null; exit 130' INT TERM
if [ -n "$debugs" ] && [ -z "$build_only" ]; then
	for k in $order; do
		nice -n 19 scripts/debug-kernel.sh "$k" >"$logdir/debug-kernel-$k.log" 2>&1
		put "$logdir/ready-$k" $?
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
		return 1
	fi
}

# Each TAP line of the selftests is a test, named by kernel and program.
# A failing test is followed by what the harness printed of it (the lines
# from its "#  RUN" on, at most 40: its assertions, TH_LOG, a timeout).
tap() {	# kernel log
	local k=$1 prog='?' line block=()
	while IFS= read -r line; do
		case $line in
		"# selftest: "*) prog=${line#\# selftest: }; prog=${prog%% *}; block=() ;;
		"#  RUN "*) block=("$line") ;;
		"ok "*"# SKIP"*) skipped=$((skipped + 1)); block=()
			echo "skip    [$k] $prog ${line#ok [0-9]* }" ;;
		"ok "*) pass "[$k] $prog ${line#ok [0-9]* }"; block=() ;;
		"not ok "*) fail "[$k] $prog ${line#not ok [0-9]* }"
			[ ${#block[@]} -gt 0 ] &&
				printf '%s\n' "${block[@]}" | tail -n 40 | sed 's/^/        | /'
			block=() ;;
		*) [ ${#block[@]} -gt 0 ] && [ ${#block[@]} -lt 400 ] && block+=("$line") ;;
		esac
	done < "$2"
}

# The "ok NAME" and "FAIL NAME" lines of a check script as tests, the rest
# as context.
results() {	# prefix script
	local line
	while IFS= read -r line; do
		case $line in
		"ok "*) pass "$1: ${line#ok }" ;;
		"FAIL "*) fail "$1: ${line#FAIL }" ;;
		*) echo "        | $line" ;;
		esac
	done < <("$2" 2>&1)
}

echo "== style"
results style scripts/style.sh

check "docs: Documentation/uapi-generated.rst matches the header" scripts/uapi-doc.sh --check
# The rst of Documentation/ parses clean.
results docs scripts/rst-check.sh
# layoutlease(4) against the header: ioctls, their errors, events, lint.
results docs scripts/man-check.sh

echo "== selftest programs"
check "selftests: build" make -s -C selftests
check "tools: build" make -s -C tools
# liblayoutlease as installed: paths, soname, symbols, pkg-config builds.
results tools scripts/lib-test.sh

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
	if ! scripts/vm-run -b -k "$k" -- bash -c 'insmod $LL_TESTMODS/ll_testbed_warn.ko' \
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
	if ! scripts/vm-run -b -k "$k" -- bash -c 'insmod $LL_TESTMODS/ll_testbed_warn.ko &&
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
# fuzzer, the race stress and the exclusive leases' refusals (kprobes on
# 6.12, not 7.2's wrapper) with their pin race; debug also runs rxe_dmabuf_test, the module's
# dma-buf regions over the test-only rxe, under KASAN, lockdep and kmemleak
# (kcsan builds no test-only rxe).  The preload's tests are user space
# over the same kernel paths: on debug-sid and the plain kernels.  The whole
# suite runs on the plain kernels and on debug-sid (KASAN on 7.2's code),
# but for the module init's failure points, driven on debug only
# (faultinj_test; make stress drives them everywhere); LL_DEBUG_SUITE=full
# runs everything on every debug kernel (it doubles their VM time).
vm_tests() {	# kernel
	local k=$1 limit=900 t0 progs=() all
	is_debug "$k" && limit=2400
	case $k in
	debug|kcsan)
		[ "${LL_DEBUG_SUITE:-}" = full ] ||
			progs=(build/selftests/faultinj_test build/selftests/fuzz build/selftests/race_stress
			       build/selftests/exclusive_test)
		[ "${LL_DEBUG_SUITE:-}" = full ] || [ "$k" != debug ] ||
			progs+=(build/selftests/rxe_dmabuf_test)
		;;
	esac
	t0=$(date +%s)
	all=()
	[ "${LL_DEBUG_SUITE:-}" = full ] && all=(LL_FAULTINJ_ALL=1)
	scripts/vm-run -k "$k" -t $limit -- env "${all[@]}" selftests/run.sh "${progs[@]}" \
		>"$logdir/vm-$k.log" 2>&1
	put "$logdir/vm-$k.rc" $?
	put "$logdir/vm-$k.secs" $(( $(date +%s) - t0 ))
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

# The DKMS package and the Debian packages (scripts/dkms-test.sh,
# scripts/deb.sh): DKMS builds the module on the host for 6.12 in private
# trees, natively (the same gcc and headers the guest would use; the
# compile under TCG made this a 28-minute VM), once from the sources of
# `make dkms-install`, once from those layoutlease-dkms_*.deb carries;
# `make deb` builds the four packages and lintian checks them.  Then one
# 6.12 VM: it loads the first build into its DKMS tree, installs it, loads
# the module by name and removes it again (make dkms-remove); then it
# installs the .debs with apt-get, gives DKMS the second build, loads the
# module, lists a lease with the packaged command, builds a program
# through pkg-config and purges it all.  vm-run -n builds nothing, so it
# cannot race with other runs.  Results: $logdir/dkms.results.
dkms_test() {
	local kd rc res=$logdir/dkms.results ok=ok
	kd=$(scripts/kernels.sh fetch 6.12)
	: >"$res"
	echo "dkms: start $(date +%T)"
	scripts/dkms-test.sh build "$(cat "$kd/kdir")" "$(cat "$kd/release")" "$logdir/dkms" ||
		ok=FAIL
	if scripts/deb.sh && [ ! -s build/deb/lintian.log ]; then
		printf 'ok\t%s\n' "packages: make deb builds layoutlease-dkms, layoutlease-tools, liblayoutlease0 and liblayoutlease-dev; lintian clean" >>"$res"
	else
		printf 'FAIL\t%s\n' "packages: make deb, lintian clean" >>"$res"
		printf 'FAIL\t%s\n' "[6.12] packages: apt-get install, DKMS, modprobe, list, pkg-config, purge (no packages)" >>"$res"
		ok=FAIL
	fi
	if [ $ok = ok ]; then
		scripts/dkms-test.sh deb-build "$(cat "$kd/kdir")" "$(cat "$kd/release")" build/deb \
			"$logdir/deb" || ok=FAIL
	fi
	if [ $ok = FAIL ]; then
		grep -q packages: "$res" || printf 'FAIL\t%s\n' "[6.12] DKMS: the host's dkms build" >>"$res"
		return 1
	fi
	# shellcheck disable=SC2016
	scripts/vm-run -k 6.12 -n -t 1200 -- bash -c '
		scripts/dkms-test.sh guest "$1" "$2"; echo "dkms-test: guest exit $?"
		scripts/dkms-test.sh deb-guest build/deb "$3"; rc=$?
		echo "dkms-test: deb-guest exit $rc"; exit $rc' - \
		"$logdir/dkms/layoutlease-dkms.tar.gz" "$(cat "$kd/kdir")" "$logdir/deb/layoutlease-bin.tar.gz" |
		tee "$logdir/dkms-vm.log"
	rc=${PIPESTATUS[0]}
	echo "dkms: vm-run exit $rc at $(date +%T)"
	# A report in the guest's kernel log fails both.
	if grep -q "^dkms-test: guest exit 0" "$logdir/dkms-vm.log" && [ "$rc" != 125 ] &&
		! grep -q "kernel log has a report" "$logdir/dkms-vm.log"; then
		printf 'ok\t%s\n' "[6.12] DKMS: dkms builds the package, a 6.12 guest installs it (ldtarball, install), modprobe loads it, make dkms-remove removes it" >>"$res"
	else
		printf 'FAIL\t%s\n' "[6.12] DKMS: dkms build, ldtarball and install in a guest, modprobe, make dkms-remove" >>"$res"
	fi
	if [ "$rc" = 0 ]; then
		printf 'ok\t%s\n' "[6.12] packages: apt-get install of the four in a guest, DKMS installs the module, modprobe, the udev rule, layoutlease list shows a held lease, a pkg-config build runs, apt-get purge leaves nothing" >>"$res"
	else
		printf 'FAIL\t%s\n' "[6.12] packages: apt-get install, DKMS, modprobe, udev rule, list, pkg-config, purge (vm-run exit $rc)" >>"$res"
	fi
	return "$rc"
}

# The RDMA test across two VMs on one wire (scripts/rxe-pair.sh), on each
# plain kernel that has a test-only rxe: the holder's TAP, then whether both
# VMs ended clean.  Two VMs for about 90 s, counted as one slot.
rxe_pair() {	# kernel
	scripts/rxe-pair.sh "$1" >"$logdir/rxe-pair-$1.log" 2>&1
	put "$logdir/rxe-pair-$1.rc" $?
}

# On the KCSAN kernel, a deliberate data race in a test module must fail
# its VM run.
kcsan_check() {
	local log=$logdir/testbed-kcsan.log name="[kcsan] test bed: a data race in a module fails the run"
	# shellcheck disable=SC2016
	if ! scripts/vm-run -b -k kcsan -- bash -c 'insmod $LL_TESTMODS/ll_testbed_race.ko' \
		>"$log" 2>&1 && grep -q "BUG: KCSAN: data-race in ll_race_step" "$log" &&
		grep -q "kernel log has a report" "$log"; then
		printf 'ok\t%s\n' "$name" >"$logdir/testbed-kcsan.results"
	else
		printf 'FAIL\t%s\n' "$name" >"$logdir/testbed-kcsan.results"
	fi
}

# The VM runs, the longest part, go through a pool of LL_VM_SLOTS (3) at
# once, started as soon as their kernel is built: TCG runs a VM on one host
# thread and the machine has two cores, but the tests sleep a good part of
# the time (breaks wait for deadlines), so a third VM fills the cores.  A
# job runs when what it needs exists: a debug kernel (ready-K, written by
# the builds above), a plain kernel's module build (build-K.rc, written by
# the foreground below).  The order is the longest first (debug-sid,
# debug, kcsan), then the plain kernels, then the short ones: from a warm
# cache the long runs start at once, from a cold one the plain kernels go
# first while the debug kernels build.  Each job writes done-JOB when it
# ends; the foreground reports the jobs as they end, then waits for all.
slots=${LL_VM_SLOTS:-3}
case $slots in ''|*[!0-9]*|0) slots=3 ;; esac
tb=${plains# }
tb=${tb%% *}

debug_job() {	# kernel: its module's build, then its VM run
	local k=$1
	if [ "$(cat "$logdir/ready-$k")" = 0 ] &&
		scripts/build.sh "$k" >"$logdir/build-$k.log" 2>&1; then
		put "$logdir/build-$k.rc" 0
		vm_tests "$k"
	else
		[ -s "$logdir/build-$k.log" ] || cp "$logdir/debug-kernel-$k.log" "$logdir/build-$k.log"
		put "$logdir/build-$k.rc" 1
	fi
}

job_ready() {	# job
	case $1 in
	vm:*) if is_debug "${1#vm:}"; then [ -e "$logdir/ready-${1#vm:}" ]
	      else [ -e "$logdir/build-${1#vm:}.rc" ]; fi ;;
	testbed) [ -e "$logdir/build-$tb.rc" ] ;;
	kcsan_check) [ -e "$logdir/build-kcsan.rc" ] ;;
	dkms) [ -e "$logdir/build-6.12.rc" ] ;;
	rxe_pair:*) [ -e "$logdir/build-${1#rxe_pair:}.rc" ] ;;
	esac
}

job_run() {	# job
	case $1 in
	vm:*) if is_debug "${1#vm:}"; then debug_job "${1#vm:}"; else vm_tests "${1#vm:}"; fi ;;
	testbed) testbed_checks "$tb" "$logdir/testbed.results" ;;
	kcsan_check)
		if [ "$(cat "$logdir/build-kcsan.rc")" = 0 ]; then
			kcsan_check
		else
			printf 'FAIL\t%s\n' "[kcsan] test bed: a data race in a module fails the run (no kcsan build)" \
				>"$logdir/testbed-kcsan.results"
		fi ;;
	dkms) dkms_test >"$logdir/dkms.log" 2>&1; put "$logdir/dkms.rc" $? ;;
	rxe_pair:*) rxe_pair "${1#rxe_pair:}" ;;
	esac
	: >"$logdir/done-${1/:/-}"
}

pool() {	# job...: in this order, LL_VM_SLOTS at once
	local queue=("$@") pids=() i j n
	while [ ${#queue[@]} -gt 0 ] || [ ${#pids[@]} -gt 0 ]; do
		kill -0 $$ 2>/dev/null || exit 1	# the run is gone
		n=0
		for i in "${!pids[@]}"; do
			if kill -0 "${pids[$i]}" 2>/dev/null; then
				n=$((n + 1))
			else
				wait "${pids[$i]}"
				unset "pids[$i]"
			fi
		done
		for i in "${!queue[@]}"; do
			[ "$n" -lt "$slots" ] || break
			j=${queue[$i]}
			job_ready "$j" || continue
			job_run "$j" &
			pids+=($!)
			unset "queue[$i]"
			n=$((n + 1))
		done
		sleep 2
	done
}

jobs=()
for k in debug-sid debug kcsan; do
	case " $debugs " in *" $k "*) jobs+=("vm:$k") ;; esac
done
for k in $plains; do
	jobs+=("vm:$k")
done
case " $debugs " in *" kcsan "*) jobs+=(kcsan_check) ;; esac
[ -n "$tb" ] && jobs+=(testbed)
case " $plains " in *" 6.12 "*) jobs+=(dkms) ;; esac
for k in $plains; do
	jobs+=("rxe_pair:$k")	# it skips a kernel without a test-only rxe
done
pool_pid=
if [ -z "$build_only" ]; then
	pool "${jobs[@]}" &
	pool_pid=$!
fi

# The results of a job, once it is done.
report() {	# job
	local k res name
	case $1 in
	vm:*)
		k=${1#vm:}
		echo "== kernel $k"
		if is_debug "$k"; then
			if [ "$(cat "$logdir/build-$k.rc" 2>/dev/null)" != 0 ]; then
				fail "[$k] module and test modules build with W=1, no warning"
				tail -n 30 "$logdir/build-$k.log" | sed 's/^/        | /'
				return
			fi
			pass "[$k] module and test modules build with W=1, no warning"
		fi
		vm_report "$k"
		;;
	testbed|kcsan_check)
		if [ "$1" = testbed ]; then
			echo "== test bed self-checks ($tb)"
		else
			echo "== test bed self-check (kcsan)"
		fi
		res=$logdir/testbed.results
		[ "$1" = kcsan_check ] && res=$logdir/testbed-kcsan.results
		while IFS=$'\t' read -r k name; do
			if [ "$k" = ok ]; then pass "$name"; else fail "$name"; fi
		done < "$res"
		;;
	dkms)
		echo "== DKMS and the Debian packages (6.12)"
		while IFS=$'\t' read -r k name; do
			if [ "$k" = ok ]; then pass "$name"; else fail "$name"; fi
		done < "$logdir/dkms.results"
		[ "$(cat "$logdir/dkms.rc")" = 0 ] ||
			grep -v -E '^(Selecting|Preparing|Unpacking|\(Reading)' "$logdir/dkms.log" |
			tail -n 40 | sed 's/^/        | /'
		;;
	rxe_pair:*)
		k=${1#rxe_pair:}
		echo "== RDMA across two VMs ($k)"
		tap "$k-pair" "$logdir/rxe-pair-$k.log"
		if [ "$(cat "$logdir/rxe-pair-$k.rc")" = 0 ]; then
			pass "[$k-pair] holder and peer VMs: exit 0, kernel logs clean"
		else
			fail "[$k-pair] holder and peer VMs: exit $(cat "$logdir/rxe-pair-$k.rc")"
			grep -v -E '^(ok |TAP|1\.\.)' "$logdir/rxe-pair-$k.log" | tail -n 40 | sed 's/^/        | /'
		fi
		;;
	esac
}
reported=" "
report_done() {
	local j
	for j in "${jobs[@]}"; do
		case $reported in *" $j "*) continue ;; esac
		[ -e "$logdir/done-${j/:/-}" ] || continue
		report "$j"
		reported="$reported$j "
	done
}

# The plain kernels' module builds, in the foreground: each one lets its
# VM run start.
builds=$plains
[ -n "$build_only" ] && builds=$kernels
for k in $builds; do
	echo "== kernel $k: build"
	check "[$k] module and test modules build with W=1, no warning" scripts/build.sh "$k"
	put "$logdir/build-$k.rc" $?
	[ -z "$build_only" ] && report_done
done

if [ -n "$pool_pid" ]; then
	while kill -0 "$pool_pid" 2>/dev/null; do
		report_done
		sleep 5
	done
	wait "$pool_pid"
	report_done
	# A job that died without its results is a failure, not a silence.
	for j in "${jobs[@]}"; do
		case $reported in *" $j "*) ;; *) fail "$j: no result (the job died)" ;; esac
	done
fi

echo "== $(( $(date +%s) - start )) s; logs in $logdir"
if [ $skipped -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ $failed = 0 ]

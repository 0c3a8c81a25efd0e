#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make stress: the stateful fuzzer (selftests/fuzz.c, JOBS workers) and the
# race stress (selftests/race_stress.c) at length, in a VM per kernel, the
# debug kernels by default (KASAN, lockdep, kmemleak; KCSAN), all at once.
#
#   K="debug debug-sid kcsan"   the kernels
#   STRESS_SECONDS=1200         the time of each VM: 60% fuzz, 40% race stress
#   SEED=N                      the fuzzer's and the stress's seed (default new)
#   JOBS=4                      fuzzer workers
#   STRESS_CALLS=N              the fuzzer runs until its workers made N
#                               calls in all, however long that takes
#                               (then the race stress for 40% of
#                               STRESS_SECONDS): on a KASAN kernel under
#                               TCG it makes about 100 a second (50 with three
#                               VMs on two cores), on a plain
#                               one about 500 (10^6: K="6.1 6.12 sid")
#
# On the debug kernels, then the module init at each of its failure points
# (faultinj_test, LL_FAULTINJ_ALL=1).  Prints per kernel what ran, the
# seeds, the calls made, the worst truncate and the init's failure points;
# a failure prints the seed and a one-line replay command.  Logs in
# build/stress/.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
scripts/deps.sh >/dev/null
make -s -C selftests || exit 1
kernels=${K:-debug debug-sid kcsan}
secs=${STRESS_SECONDS:-1200}
jobs=${JOBS:-4}
seed=${SEED:-$(( $(date +%s%N) % 1000000000000 ))}
fz=$((secs * 6 / 10))
rs=$((secs - fz))
want_calls=${STRESS_CALLS:-}
fzargs="-n 2000000000 -t $fz" limit=$((secs * 2 + 900))
if [ -n "$want_calls" ]; then
	fzargs="-n $(( (want_calls + jobs - 1) / jobs ))"
	limit=$((want_calls / 20 + secs + 900))
fi
logdir=$top/build/stress
mkdir -p "$logdir"
if [ -n "$want_calls" ]; then
	echo "stress: $kernels, each: fuzz -j $jobs until $want_calls calls, race_stress for $rs s; seed $seed"
else
	echo "stress: $kernels, $secs s each (fuzz -j $jobs for $fz s, race_stress for $rs s), seed $seed"
fi

one() {	# kernel
	local k=$1 init=0
	# The module init's failure points, which make check drives on
	# debug only (selftests/faultinj_test.c): here on every debug kernel.
	case $k in debug|debug-sid|kcsan) init=1 ;; esac
	scripts/vm-run -k "$k" -t $limit -o "$logdir/vm-$k" -- bash -c "
		build/selftests/fuzz -j $jobs $fzargs -s $seed; f=\$?
		build/selftests/race_stress -t $rs -s $seed; r=\$?
		i=0
		if [ $init = 1 ]; then
			LL_FAULTINJ_ALL=1 build/selftests/faultinj_test \\
				-r init.module_init_every_failure_point; i=\$?
		fi
		exit \$((f | r | i))" >"$logdir/$k.log" 2>&1
}

pids=()
for k in $kernels; do
	scripts/build.sh "$k" >/dev/null || { echo "stress: build for $k failed"; exit 1; }
done
for k in $kernels; do
	one "$k" &
	pids+=($!)
done
rc=0 i=0
for k in $kernels; do
	wait "${pids[$i]}"
	r=$?
	i=$((i + 1))
	log=$logdir/$k.log
	calls=$(sed -n 's/^ok 1 fuzz seed [0-9]* workers [0-9]* calls \([0-9]*\).*/\1/p' "$log")
	worst=$(sed -n 's/^# .*worst truncate \([0-9]* ms\).*/\1/p' "$log" | tail -n 1)
	ops=$(sed -n 's/^# ops \([0-9]*\).*/\1/p' "$log" | tail -n 1)
	init=$(sed -n 's/^# module init: \([0-9]*\) failure points.*/; module init: \1 failure points/p' "$log")
	if [ $r = 0 ]; then
		echo "ok      [$k] fuzz seed $seed: ${calls:-?} calls; race_stress seed $seed: ${ops:-?} ops, worst truncate ${worst:-?}$init"
	else
		rc=1
		echo "FAIL    [$k] exit $r (log: $log)"
		grep -E '^# (FAIL|replay)|^not ok|^vm-run|^# w[0-9]+ # (FAIL|replay)' "$log" | head -n 20 | sed 's/^/        | /'
		grep -h -E '^# (w[0-9]+ # )?replay: ' "$log" | head -n 1 |
			sed "s|^# \(w[0-9]* # \)\{0,1\}replay: \(.*\)|        replay: scripts/vm-run -k $k -- build/selftests/\2 -v|"
	fi
done
exit $rc

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (once, cached) a debug kernel for layoutlease tests:
#   allnoconfig + kvm_guest.config + scripts/debug-kernel.config.
#
#   scripts/debug-kernel.sh [VARIANT]
#
#   debug      Debian's linux-source-6.12: KASAN, lockdep, kmemleak (default)
#   debug-sid  the same from sid's linux-source-<series> (7.2 at the time of
#              writing), the series of scripts/kernels.sh's sid kernel,
#              built in the sid chroot with sid's compiler
#   kcsan      linux-source-6.12 with KCSAN instead of KASAN (they exclude
#              each other): debug-kernel.config without its KASAN lines,
#              then scripts/kcsan-kernel.config
#
# Output: $LL_CACHE/debug/<hash>/{build/,bzImage,kernelrelease,root/lib/modules/<rel>/,.done}
#   build/  is the O= object tree, usable as KDIR: make -C <dir>/build M=<mod> modules
#           (for debug-sid inside the sid chroot, with $LL_CACHE/debug bound
#           at the same path: scripts/build.sh does that)
# Progress goes to stderr; the last stdout line is the output dir:
#   dir=$(scripts/debug-kernel.sh kcsan | tail -1)
set -Eeuo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
LL_CACHE=${LL_CACHE:-/var/cache/layoutlease}
variant=${1:-debug}
FRAG=$top/scripts/debug-kernel.config
# Anything here that changes the resulting kernel must be part of the hash.
RECIPE="v2: make allnoconfig kvm_guest.config; merge_config.sh -m debug-kernel.config; olddefconfig; CC=ccache gcc"
DEPS=(build-essential bc bison flex libelf-dev libssl-dev ccache cpio kmod xz-utils zstd)
export PATH=$PATH:/usr/sbin:/sbin

say() { echo "debug-kernel($variant): $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

ch=
case $variant in
debug|kcsan) SRCPKG=linux-source-6.12 ;;
debug-sid)
	kd=$("$top/scripts/kernels.sh" fetch sid | tail -n 1)
	ch=$(cat "$kd/chroot")
	series=$(cut -d. -f1,2 "$kd/release")
	SRCPKG=linux-source-$series
	;;
*) die "unknown variant (debug, debug-sid, kcsan)" ;;
esac

# Commands run here, or in the sid chroot with $LL_CACHE/debug at the same
# path (kernels.sh chroot binds it).
run() {
	if [ -n "$ch" ]; then
		LL_BIND=$LL_CACHE/debug "$top/scripts/kernels.sh" chroot "$ch" "$@"
	else
		"$@"
	fi
}
root=${ch:-}

# 1. Packages, on this machine or in the chroot.
missing=()
for p in "${DEPS[@]}" $SRCPKG; do
	dpkg --root="${root:-/}" -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' ||
		missing+=("$p")
done
mkdir -p "$LL_CACHE/debug"
if ((${#missing[@]})); then
	say "installing ${missing[*]} (log: $LL_CACHE/apt.log)"
	{ [ -z "$ch" ] || run apt-get -q update; } >"$LL_CACHE/apt.log" 2>&1
	run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		"${missing[@]}" >>"$LL_CACHE/apt.log" 2>&1 ||
		{ tail -n 20 "$LL_CACHE/apt.log" >&2; die "apt-get install failed"; }
fi

# 2. The fragment and the cache key.  The default variant's key is the one
# it always had: its fragment as it is.
frag=$(cat "$FRAG")
case $variant in
kcsan)
	frag=$(grep -v -E '^(# )?CONFIG_KASAN' "$FRAG" | grep -v '^CONFIG_LOCALVERSION=';
	       cat "$top/scripts/kcsan-kernel.config")
	;;
debug-sid)
	# Since 6.13 x86 has PREEMPT_LAZY, and PREEMPT_VOLUNTARY needs an
	# architecture without it: the lazy model, as Debian's 7.2 kernel.
	frag=$(grep -v -E '^CONFIG_PREEMPT_VOLUNTARY=' "$FRAG"; echo CONFIG_PREEMPT_LAZY=y)
	;;
esac
pkgver=$(dpkg-query --admindir="${root:-}/var/lib/dpkg" -W -f='${Version}' $SRCPKG)
hash=$( { echo "$pkgver"; echo "$RECIPE"; run gcc --version | head -1; echo "$frag";
	  [ "$variant" = debug ] || echo "variant $variant"; } | sha256sum | cut -c1-16)
out=$LL_CACHE/debug/$hash
src=$LL_CACHE/debug/src-$pkgver
build=$out/build
log=$out/build.log

if [[ -e $out/.done ]]; then echo "$out"; exit 0; fi

# Serialise concurrent callers; re-check after getting the lock.
exec 9>"$LL_CACHE/debug/.lock"
flock 9
if [[ -e $out/.done ]]; then echo "$out"; exit 0; fi

mkdir -p "$build"
: >"$log"
echo "$frag" >"$out/fragment.config"
trap 'say "FAILED, last lines of $log:"; tail -n 40 "$log" >&2' ERR

# 3. Source, extracted once per package version.
if [[ ! -d $src ]]; then
	say "extracting $SRCPKG -> $src"
	rm -rf "$src.tmp" && mkdir -p "$src.tmp"
	tar -C "$src.tmp" -xf "${root:-}/usr/src/$SRCPKG.tar.xz" --strip-components=1
	mv "$src.tmp" "$src"
fi

export CCACHE_DIR=$LL_CACHE/ccache
[ -n "$ch" ] && CCACHE_DIR=$LL_CACHE/debug/ccache-sid
run env CCACHE_DIR="$CCACHE_DIR" ccache -M 5G >/dev/null
kmake() { run env CCACHE_DIR="$CCACHE_DIR" make -C "$src" O="$build" CC="ccache gcc" "$@" >>"$log" 2>&1; }

# 4. Config, then verify every fragment line stuck.
say "configuring (log: $log)"
kmake allnoconfig kvm_guest.config
run sh -c 'cd "$1" && "$2/scripts/kconfig/merge_config.sh" -m .config "$3"' sh \
	"$build" "$src" "$out/fragment.config" >>"$log" 2>&1
kmake olddefconfig

bad=0
while IFS= read -r line; do
	if [[ $line =~ ^(CONFIG_[A-Za-z0-9_]+)=(.*)$ ]]; then
		grep -qxF -- "$line" "$build/.config" && continue
	elif [[ $line =~ ^#\ (CONFIG_[A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
		grep -q "^${BASH_REMATCH[1]}=" "$build/.config" || continue
	else
		continue
	fi
	say "config mismatch: wanted '$line', got '$(grep -E "^(# )?${BASH_REMATCH[1]}[= ]" "$build/.config" || echo absent)'"
	bad=1
done <"$out/fragment.config"
((bad == 0)) || die "Kconfig did not accept the fragment (see above)"

# 5. Build and install.
say "building with -j$(nproc) (ccache: $CCACHE_DIR)"
SECONDS=0
kmake -j"$(nproc)" bzImage modules
say "built in ${SECONDS}s; installing modules"
rm -rf "$out/root"
kmake INSTALL_MOD_PATH="$out/root" modules_install
run make -s -C "$src" O="$build" kernelrelease >"$out/kernelrelease"
rel=$(cat "$out/kernelrelease")
[[ -s $out/root/lib/modules/$rel/modules.dep ]] || die "modules.dep missing for $rel"
cp "$build/arch/x86/boot/bzImage" "$out/bzImage"
echo "$SECONDS" >"$out/build-seconds"
touch "$out/.done"
say "done: $rel"
echo "$out"

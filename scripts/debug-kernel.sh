#!/bin/bash
# Build (once, cached) a debug kernel for layoutlease tests from Debian's
# linux-source-6.12: allnoconfig + kvm_guest.config + scripts/debug-kernel.config.
#
# Output: $LL_CACHE/debug/<hash>/{build/,bzImage,kernelrelease,root/lib/modules/<rel>/,.done}
#   build/  is the O= object tree, usable as KDIR: make -C <dir>/build M=<mod> modules
# Progress goes to stderr; the last stdout line is the output dir:
#   dir=$(scripts/debug-kernel.sh | tail -1)
set -Eeuo pipefail

LL_CACHE=${LL_CACHE:-/var/cache/layoutlease}
FRAG=$(realpath "$(dirname "$0")/debug-kernel.config")
SRCPKG=linux-source-6.12
# Anything here that changes the resulting kernel must be part of the hash.
RECIPE="v2: make allnoconfig kvm_guest.config; merge_config.sh -m debug-kernel.config; olddefconfig; CC=ccache gcc"
DEPS=($SRCPKG build-essential bc bison flex libelf-dev libssl-dev dwarves ccache cpio kmod xz-utils zstd)
export PATH=$PATH:/usr/sbin:/sbin

say() { echo "debug-kernel: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

# 1. Packages.
missing=()
for p in "${DEPS[@]}"; do
    dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' || missing+=("$p")
done
mkdir -p "$LL_CACHE/debug"
if ((${#missing[@]})); then
    say "installing ${missing[*]} (log: $LL_CACHE/apt.log)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >"$LL_CACHE/apt.log" 2>&1 ||
        { tail -n 20 "$LL_CACHE/apt.log" >&2; die "apt-get install failed"; }
fi

# 2. Cache key.
pkgver=$(dpkg-query -W -f='${Version}' $SRCPKG)
hash=$( { echo "$pkgver"; echo "$RECIPE"; gcc --version | head -1; cat "$FRAG"; } |
        sha256sum | cut -c1-16)
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
trap 'say "FAILED, last lines of $log:"; tail -n 40 "$log" >&2' ERR

# 3. Source, extracted once per package version.
if [[ ! -d $src ]]; then
    say "extracting /usr/src/$SRCPKG.tar.xz -> $src"
    rm -rf "$src.tmp" && mkdir -p "$src.tmp"
    tar -C "$src.tmp" -xf "/usr/src/$SRCPKG.tar.xz" --strip-components=1
    mv "$src.tmp" "$src"
fi

export CCACHE_DIR=$LL_CACHE/ccache
ccache -M 5G >/dev/null
kmake() { make -C "$src" O="$build" CC="ccache gcc" "$@" >>"$log" 2>&1; }

# 4. Config, then verify every fragment line stuck.
say "configuring (log: $log)"
kmake allnoconfig kvm_guest.config
(cd "$build" && "$src/scripts/kconfig/merge_config.sh" -m .config "$FRAG") >>"$log" 2>&1
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
done <"$FRAG"
((bad == 0)) || die "Kconfig did not accept $FRAG (see above)"

# 5. Build and install.
say "building with -j$(nproc) (ccache: $CCACHE_DIR)"
SECONDS=0
kmake -j"$(nproc)" bzImage modules
say "built in ${SECONDS}s; installing modules"
rm -rf "$out/root"
kmake INSTALL_MOD_PATH="$out/root" modules_install
make -s -C "$src" O="$build" kernelrelease >"$out/kernelrelease"
rel=$(cat "$out/kernelrelease")
[[ -s $out/root/lib/modules/$rel/modules.dep ]] || die "modules.dep missing for $rel"
cp "$build/arch/x86/boot/bzImage" "$out/bzImage"
touch "$out/.done"
say "done: $rel"
echo "$out"

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The kernel matrix: resolve Debian's newest 6.1, 6.12 and current stable
# kernels from the archive, download their image, header and kbuild
# packages and extract them into a cache outside the clone.
#
#   scripts/kernels.sh fetch NAME    prints the kernel's cache directory
#   scripts/kernels.sh source NAME   prints its linux-source tarball (same
#                                    Debian version as the kernel)
#   scripts/kernels.sh list          names of the matrix
#
# NAME is 6.1 (bookworm), 6.12 (bookworm-security) or sid (Debian unstable's
# current kernel, 7.2 at the time of writing).  A kernel directory holds:
#   release     the kernel release string (uname -r)
#   vmlinuz     the kernel image
#   root/       extracted packages: root/lib/modules/<release> (with
#               modules.dep), root/usr/src/linux-headers-<release> (KDIR)
#   kdir        path of the header tree to build against (inside chroot for sid)
#   chroot      for sid only: the build chroot that has the headers installed
set -euo pipefail

LL_CACHE=${LL_CACHE:-/var/cache/layoutlease}
APTDIR=$LL_CACHE/apt
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
MIRROR=${LL_MIRROR:-http://deb.debian.org}

log() { echo "kernels: $*" >&2; }

apt_opts() {
	echo -o Dir::Etc::SourceList="$APTDIR/sources.list" \
	     -o Dir::Etc::SourceParts=/dev/null \
	     -o Dir::Etc::Preferences=/dev/null \
	     -o Dir::Etc::PreferencesParts=/dev/null \
	     -o Dir::State="$APTDIR/state" \
	     -o Dir::State::status=/dev/null \
	     -o Dir::Cache="$APTDIR/cache" \
	     -o APT::Architecture=amd64 -o APT::Architectures::=amd64 \
	     -o Debug::NoLocking=1 -o APT::Sandbox::User=root \
	     -o Acquire::Check-Valid-Until=false
}

# A private apt state with bookworm, bookworm-security and sid, refreshed
# at most once an hour: versions are resolved from the archive each run.
apt_refresh() {
	mkdir -p "$APTDIR"/state/lists/partial "$APTDIR"/cache/archives/partial
	cat > "$APTDIR/sources.list" <<-SRC
	deb [signed-by=$KEYRING] $MIRROR/debian bookworm main
	deb [signed-by=$KEYRING] $MIRROR/debian-security bookworm-security main
	deb [signed-by=$KEYRING] $MIRROR/debian sid main
	SRC
	local stamp=$APTDIR/updated
	if [ -z "$(find "$stamp" -mmin -60 2>/dev/null)" ]; then
		log "refreshing package lists"
		# shellcheck disable=SC2046
		apt-get $(apt_opts) -q update >"$APTDIR/update.log" 2>&1 ||
			{ cat "$APTDIR/update.log" >&2; return 1; }
		touch "$stamp"
	fi
}

# Names of all versions of packages matching a regex, newest last.
pkg_names() {
	# shellcheck disable=SC2046
	apt-cache $(apt_opts) pkgnames 2>/dev/null | grep -E "$1" | sort -V
}

# The newest kernel release of a series, from the image packages present.
resolve() {
	local pat
	case $1 in
	6.1)  pat='^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$' ;;
	6.12) pat='^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' ;;
	sid)  pat='^linux-binary-unsigned-[0-9.]+\+deb[0-9]+-amd64$' ;;
	*) echo "kernels: unknown kernel '$1' (6.1, 6.12, sid)" >&2; return 1 ;;
	esac
	pkg_names "$pat" | tail -n 1 |
		sed -E 's/^linux-(image|binary-unsigned)-//; s/-unsigned$//'
}

download() {	# dir pkg...
	# shellcheck disable=SC2046
	(cd "$1" && apt-get $(apt_opts) -q download "${@:2}" >/dev/null 2>&1)
}

# Depends of a package, names only.
depends() {
	# shellcheck disable=SC2046
	apt-cache $(apt_opts) depends "$1" | sed -n 's/^ *Depends: \([^ <]*\).*/\1/p'
}

# Debian's -amd64 header Makefile includes the -common one by absolute path
# and its scripts/tools links point into /usr/lib/linux-kbuild-*: make both
# relative to where we extracted.
fix_headers() {	# root release
	local root=$1 rel=$2 hdr
	hdr=$root/usr/src/linux-headers-$rel
	sed -i "s|/usr/src/|$root/usr/src/|g" "$hdr/Makefile"
	local l t
	for l in "$hdr"/scripts "$hdr"/tools "$root"/usr/src/linux-headers-*-common/scripts \
		 "$root"/usr/src/linux-headers-*-common/tools; do
		[ -L "$l" ] || continue
		t=$(readlink "$l")
		case $t in /*) ln -sfn "$root$t" "$l" ;; esac
	done
	for l in "$root"/lib/modules/"$rel"/build "$root"/usr/lib/modules/"$rel"/build; do
		if [ -L "$l" ]; then ln -sfn "$hdr" "$l"; fi
	done
	fix_source_link "$root" "$rel"
}

# lib/modules/<release>/source names the -common headers by absolute path:
# point it at the extracted ones, so that what looks for the headers there
# in a guest (bpftrace includes include/linux/kconfig.h) finds them, as on
# an installed system.  Idempotent: also run on kernels fetched before.
fix_source_link() {	# root release
	local l t
	for l in "$1"/lib/modules/"$2"/source "$1"/usr/lib/modules/"$2"/source; do
		[ -L "$l" ] || continue
		t=$(readlink "$l")
		case $t in
		"$1"/*) ;;
		/*) if [ -d "$1$t" ]; then ln -sfn "$1$t" "$l"; fi ;;
		esac
	done
}

fetch_bookworm() {	# name release dir
	local rel=$2 dir=$3 kb
	kb=$(depends "linux-headers-$rel" | grep '^linux-kbuild' | head -n 1)
	log "$1: downloading $rel ($kb)"
	rm -rf "$dir" && mkdir -p "$dir/deb" "$dir/root" && chmod 755 "$dir/deb"
	download "$dir/deb" "linux-image-$rel-unsigned" "linux-headers-$rel" \
		"$(depends "linux-headers-$rel" | grep -- '-common$' | head -n 1)" "$kb"
	for d in "$dir"/deb/*.deb; do dpkg-deb -x "$d" "$dir/root"; done
	rm -rf "$dir/deb"
	fix_headers "$dir/root" "$rel"
	cp "$dir/root/boot/vmlinuz-$rel" "$dir/vmlinuz"
	depmod -b "$dir/root" "$rel"
	echo "$dir/root/usr/src/linux-headers-$rel" > "$dir/kdir"
	echo "$rel" > "$dir/release"	# written last: the stamp
}

# Debian unstable's kernel headers need unstable's compiler (gcc-16) and
# glibc: the module for it builds in a minimal sid chroot that has the
# headers installed the ordinary way.  The image comes from linux-binary-*.
fetch_sid() {	# name release dir
	local rel=$2 dir=$3 ch=$LL_CACHE/sid-chroot
	if [ ! -e "$ch/.done" ]; then
		log "sid: debootstrap --variant=minbase (about a minute)"
		rm -rf "$ch"
		debootstrap --variant=minbase sid "$ch" "$MIRROR/debian" \
			>"$LL_CACHE/debootstrap.log" 2>&1 ||
			{ tail -n 20 "$LL_CACHE/debootstrap.log" >&2; return 1; }
		# The archive served here may be a snapshot whose Release
		# files are past their Valid-Until date.
		echo 'Acquire::Check-Valid-Until "false";' \
			> "$ch/etc/apt/apt.conf.d/99layoutlease"
		touch "$ch/.done"
	fi
	log "sid: installing linux-headers-$rel in the chroot"
	in_chroot "$ch" sh -c "apt-get -q update && DEBIAN_FRONTEND=noninteractive \
		apt-get -q -y --no-install-recommends install make linux-headers-$rel" \
		>"$LL_CACHE/sid-apt.log" 2>&1 ||
		{ tail -n 20 "$LL_CACHE/sid-apt.log" >&2; return 1; }
	rm -rf "$dir" && mkdir -p "$dir/deb" "$dir/root" && chmod 755 "$dir/deb"
	log "sid: downloading linux-binary-unsigned-$rel linux-modules-$rel linux-base-$rel"
	download "$dir/deb" "linux-binary-unsigned-$rel" "linux-modules-$rel" \
		"linux-base-$rel"
	for d in "$dir"/deb/*.deb; do dpkg-deb -x "$d" "$dir/root"; done
	rm -rf "$dir/deb"
	# Keep the module tree where depmod and modprobe look for it.
	if [ ! -e "$dir/root/lib" ]; then ln -s usr/lib "$dir/root/lib"; fi
	local img
	img=$(find "$dir/root" \( -name "vmlinuz-$rel" -o -name 'vmlinuz*' \) -type f | head -n 1)
	[ -n "$img" ] || { log "no vmlinuz in linux-binary-unsigned-$rel"; return 1; }
	cp "$img" "$dir/vmlinuz"
	depmod -b "$dir/root" "$rel"
	echo "/usr/src/linux-headers-$rel" > "$dir/kdir"
	echo "$ch" > "$dir/chroot"
	echo "$rel" > "$dir/release"	# written last: the stamp
}

# Run a command in a chroot with /proc (objtool needs it), /dev and the
# paths of $LL_BIND (separated by spaces: the clone, a kernel tree)
# bind-mounted at the same path, in a private mount namespace so that
# nothing stays mounted afterwards.
in_chroot() {	# chroot cmd...
	local ch=$1
	shift
	unshare -m --propagation private sh -ec '
		ch=$1; shift
		mount -t proc proc "$ch/proc"
		mount --rbind /dev "$ch/dev"
		cp /etc/resolv.conf "$ch/etc/resolv.conf" 2>/dev/null || true
		for b in ${LL_BIND:-}; do
			mkdir -p "$ch$b"
			mount --bind "$b" "$ch$b"
		done
		exec chroot "$ch" "$@"' sh "$ch" "$@"
}

fetch() {
	local name=$1 rel dir
	# One fetch at a time: the private apt state takes no locks
	# (Debug::NoLocking), and check.sh runs VMs side by side, each of
	# which fetches its kernel (seen: a resolve that found nothing while
	# another process refreshed the lists).
	mkdir -p "$LL_CACHE"
	exec 8>"$LL_CACHE/.kernels.lock"
	flock 8
	apt_refresh
	rel=$(resolve "$name") || rel=
	[ -n "$rel" ] || { log "no $name kernel found in the archive"; return 1; }
	dir=$LL_CACHE/k/$name-$rel
	if [ ! -e "$dir/release" ]; then
		case $name in
		sid) fetch_sid "$name" "$rel" "$dir" ;;
		*) fetch_bookworm "$name" "$rel" "$dir" ;;
		esac
	fi
	fix_source_link "$dir/root" "$rel"
	echo "$dir"
}

# The Debian version of a fetched kernel's packages (its changelog's first
# line), e.g. 6.12.118-1~deb12u1.
kversion() {	# kernel dir
	local c l
	for c in "$1"/root/usr/share/doc/linux-image-*/changelog.Debian.gz \
		 "$1"/root/usr/share/doc/linux-binary-*/changelog.Debian.gz; do
		[ -e "$c" ] || continue
		# (zcat dies of SIGPIPE once head has its line)
		l=$(zcat "$c" | head -n 1 || :)
		echo "$l" | sed -n 's/^[^ ]* (\([^)]*\)).*/\1/p'
		return 0
	done
	return 1
}

# The linux-source tarball of exactly the kernel NAME's version: this
# machine's (or the sid chroot's) installed linux-source-<series> if it is
# that version, else downloaded once into $LL_CACHE/src/.
source_tarball() {	# name
	local dir ver series t root=''
	dir=$(fetch "$1") || return 1
	ver=$(kversion "$dir") || { log "$1: no version in $dir"; return 1; }
	series=$(cut -d. -f1,2 "$dir/release")
	[ -e "$dir/chroot" ] && root=$(cat "$dir/chroot")
	if [ "$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${Version}' \
		"linux-source-$series" 2>/dev/null)" = "$ver" ]; then
		echo "$root/usr/src/linux-source-$series.tar.xz"
		return
	fi
	t=$LL_CACHE/src/linux-source-$series-$ver
	if [ ! -e "$t/.done" ]; then
		log "$1: downloading linux-source-$series $ver"
		rm -rf "$t" && mkdir -p "$t/deb" && chmod 755 "$t/deb"
		download "$t/deb" "linux-source-$series=$ver" ||
			{ log "cannot download linux-source-$series=$ver"; return 1; }
		dpkg-deb -x "$t"/deb/*.deb "$t/root" && rm -rf "$t/deb"
		touch "$t/.done"
	fi
	echo "$t/root/usr/src/linux-source-$series.tar.xz"
}

case ${1:-} in
fetch) fetch "$2" ;;
source) source_tarball "$2" ;;
list) echo 6.1 6.12 sid ;;
chroot) shift; in_chroot "$@" ;;
*) echo "usage: $0 fetch|source 6.1|6.12|sid | list | chroot DIR CMD..." >&2; exit 2 ;;
esac

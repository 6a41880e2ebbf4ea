#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Compile tests/kernel/ as an out-of-tree kernel module against the newest
# installed kernel headers (not `uname -r`: a container or CI host often runs
# a different kernel than the headers installed), then again with W=1 and,
# when sparse is installed, sparse as an error (C=2 CF=-Wsparse-error).
# The module is built in a copy under $BUILD/kmod so the source tree stays
# clean; a lock serialises concurrent runs.
set -u

BUILD=${BUILD:-build}
MAKE=${MAKE:-make}
root=$(pwd)

kver=
for d in $(ls /lib/modules 2>/dev/null | sort -V); do
	[ -e "/lib/modules/$d/build/Makefile" ] && kver=$d
done
if [ -z "$kver" ]; then
	echo "kmod: no kernel headers found under /lib/modules/*/build"
	echo "kmod: install them with: apt-get install -y linux-headers-amd64"
	exit 1
fi
kdir=/lib/modules/$kver/build

mkdir -p "$BUILD"
exec 9>"$BUILD/.kmod.lock"
flock 9

mdir=$(cd "$BUILD" && pwd)/kmod
rm -rf "$mdir"
mkdir -p "$mdir"
cp tests/kernel/Kbuild tests/kernel/*.c "$mdir/"
cp tests/kernel/*.h "$mdir/" 2>/dev/null

kbuild() {
	local what=$1
	shift
	echo "kmod: $what (kernel headers $kver)"
	if ! $MAKE -s -C "$kdir" M="$mdir" FA_INCLUDE="$root/include" FA_EXAMPLES="$root/examples" "$@" modules; then
		echo "kmod: FAILED: $what"
		echo "kmod: rerun with: $MAKE -C $kdir M=$mdir FA_INCLUDE=$root/include FA_EXAMPLES=$root/examples $* modules"
		return 1
	fi
}

rc=0
kbuild "build" || rc=1
[ -f "$mdir/fencealloc_kcheck.ko" ] || { echo "kmod: no fencealloc_kcheck.ko produced"; rc=1; }
# W=1 only adds warnings, so one more pass covers it and sparse together.
if command -v sparse >/dev/null 2>&1; then
	kbuild "W=1 build + sparse (C=2 CF=-Wsparse-error)" W=1 C=2 CF=-Wsparse-error || rc=1
else
	echo "kmod: sparse not installed, sparse pass skipped (apt-get install -y sparse)"
	kbuild "W=1 build" W=1 || rc=1
fi
checks=$(ls "$mdir"/kcheck_*.c 2>/dev/null | sed 's|.*/kcheck_||; s|\.c$||' | tr '\n' ' ')
echo "kmod: modules checked: $checks"
[ "$rc" -eq 0 ] && echo "kmod: OK ($kver)"
exit $rc

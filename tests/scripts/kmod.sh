#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Compile tests/kernel/ as an out-of-tree kernel module against the newest
# installed kernel headers (not `uname -r`: a container or CI host often runs
# a different kernel than the headers installed), then again with W=1 and,
# when sparse is installed, sparse as an error (C=2 CF=-Wsparse-error).
# The module is built in a copy under $BUILD/kmod so the source tree stays
# clean; a lock serialises concurrent runs.
#
# Then the module is LOADED into the stock Debian kernel whose headers it was
# built against, under qemu (TCG, no KVM or root needed): the kernel image is
# `apt-get download`ed and unpacked with dpkg-deb into the cache outside the
# clone ($FA_KERNEL_CACHE, default ~/.cache/fencealloc), a busybox-static
# initramfs insmods the module, prints every kcheck result and powers off.
# KMOD_LOAD=0 skips the load (compile checks only).
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

# ------------------------------------------------------------ load it
cache=${FA_KERNEL_CACHE:-$HOME/.cache/fencealloc}

# fetch_image: the stock kernel image matching $kver, unpacked once into the cache.
fetch_image() {
	local dir=$cache/kimage/$kver pkg=linux-image-$kver deb
	vmlinuz=$dir/boot/vmlinuz-$kver
	[ -f "$vmlinuz" ] && return 0
	mkdir -p "$dir/deb" || return 1
	echo "kmod: downloading $pkg (apt-get download, unpacked into $dir)"
	(cd "$dir/deb" && apt-get download "$pkg" >/dev/null) || {
		echo "kmod: apt-get download $pkg failed (apt-get update first?)"
		return 1
	}
	deb=$(ls "$dir"/deb/*.deb | head -n 1)
	dpkg-deb -x "$deb" "$dir" && rm -f "$deb" && [ -f "$vmlinuz" ]
}

# make_initramfs <dir>: busybox, the module and an init that loads it.
make_initramfs() {
	local d=$1 busybox
	busybox=$(command -v busybox) || { echo "kmod: busybox not found (apt-get install -y busybox-static)"; return 1; }
	file -L "$busybox" 2>/dev/null | grep -q 'statically linked' ||
		{ echo "kmod: $busybox is not static (apt-get install -y busybox-static)"; return 1; }
	rm -rf "$d/root"
	mkdir -p "$d/root/bin" "$d/root/proc" "$d/root/sys" "$d/root/dev"
	cp "$busybox" "$d/root/bin/busybox"
	cp "$mdir/fencealloc_kcheck.ko" "$d/root/"
	cat >"$d/root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev 2>/dev/null
echo 7 >/proc/sys/kernel/printk
echo "kmod-load: insmod fencealloc_kcheck.ko"
insmod /fencealloc_kcheck.ko
echo "kmod-load: insmod status $?"
dmesg | grep -E 'fencealloc|WARNING|BUG|Call Trace' | sed 's/^/kmod-load: dmesg: /'
poweroff -f
INIT
	chmod +x "$d/root/init"
	(cd "$d/root" && find . | cpio -o -H newc --quiet) | gzip -1 >"$d/initramfs.gz"
}

load_module() {
	local d=$mdir/boot log status
	command -v qemu-system-x86_64 >/dev/null 2>&1 ||
		{ echo "kmod: qemu-system-x86_64 not found (apt-get install -y qemu-system-x86)"; return 1; }
	fetch_image || return 1
	mkdir -p "$d"
	make_initramfs "$d" || return 1
	log=$d/console.log
	echo "kmod: loading fencealloc_kcheck.ko into the stock kernel $kver (qemu TCG)"
	local t0
	t0=$(date +%s)
	timeout 300 qemu-system-x86_64 -accel tcg -m 512M -nographic -no-reboot \
		-kernel "$vmlinuz" -initrd "$d/initramfs.gz" \
		-append "console=ttyS0 panic=-1 quiet loglevel=4" </dev/null >"$log" 2>&1
	echo "kmod: boot to result: $(($(date +%s) - t0)) s (console: $log)"
	tr -d '\r' <"$log" | grep 'kmod-load:' | sed 's/^.*kmod-load: /kmod: /'
	status=$(tr -d '\r' <"$log" | sed -n 's/.*kmod-load: insmod status \([0-9]*\).*/\1/p')
	if [ "$status" != 0 ]; then
		echo "kmod: FAILED: the module did not load (insmod status '${status:-none}')"
		return 1
	fi
	if tr -d '\r' <"$log" | grep -q 'fencealloc kcheck .*: failed'; then
		echo "kmod: FAILED: a kcheck failed in the kernel"
		return 1
	fi
	if tr -d '\r' <"$log" | grep -q 'kmod-load: dmesg: .*\(WARNING\|BUG\|Call Trace\)'; then
		echo "kmod: FAILED: the kernel warned while loading the module"
		return 1
	fi
	tr -d '\r' <"$log" | grep -q 'fencealloc kcheck: .* 0 failed' ||
		{ echo "kmod: FAILED: no kcheck summary in the kernel log"; return 1; }
}

if [ "$rc" -eq 0 ] && [ "${KMOD_LOAD:-1}" != 0 ]; then
	load_module || rc=1
fi
[ "$rc" -eq 0 ] && echo "kmod: OK ($kver)"
exit $rc

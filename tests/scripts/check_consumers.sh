#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Every way a project can consume fencealloc, each proven by building and
# running the programs in tests/consumer/ (a C11 program, a C++17 program,
# and a program with the signalling validator and its one implementation
# unit):
#   pkg-config        fencealloc.pc and fencealloc-validate.pc, installed
#   cmake-config      find_package(fencealloc CONFIG REQUIRED), installed
#   cmake-subdir      add_subdirectory(<source tree>)
#   meson-dependency  dependency('fencealloc'), installed (pkg-config)
#   meson-subproject  subprojects/fencealloc, the same dependency() lines
#   submodule         git submodule add + -I<submodule>/include
#   kbuild            a kernel module with ccflags-y += -I<include>, installed
# "Installed" means `make install DESTDIR=<stage> PREFIX=/usr`, used through
# PKG_CONFIG_SYSROOT_DIR / CMAKE_PREFIX_PATH as a packager would.
set -u
BUILD=${BUILD:-build}
CC=${CC:-gcc}
CXX=${CXX:-g++}
MAKE=${MAKE:-make}
root=$(pwd)
dir=$(mkdir -p "$BUILD" && cd "$BUILD" && pwd)/consumers
rm -rf "$dir"
mkdir -p "$dir"
stage=$dir/stage
flags="-Wall -Wextra -Werror -pedantic"
results=()
fail=0

# run <name> <function>: one consumption path, its log in $dir/<name>.log
run() {
	local name=$1
	shift
	if "$@" >"$dir/$name.log" 2>&1; then
		results+=("ok   $name: $(grep -h 'consumer.*OK\|reported' "$dir/$name.log" | sort -u | wc -l) program outputs checked")
	else
		results+=("FAIL $name (log: $dir/$name.log)")
		tail -n 25 "$dir/$name.log"
		fail=1
	fi
}

# the three programs' expected last lines
expect_outputs() {
	grep -q 'consumer: fencealloc .* headers OK' "$1" &&
		grep -q 'consumer_cxx: fencealloc .* headers OK from C++' "$1" &&
		grep -q 'validate consumer: the planted allocation was reported' "$1"
}

t_pkgconfig() {
	local o=$dir/pkgconfig
	mkdir -p "$o"
	export PKG_CONFIG_PATH=$stage/usr/share/pkgconfig PKG_CONFIG_SYSROOT_DIR=$stage
	pkg-config --validate fencealloc && pkg-config --validate fencealloc-validate || return 1
	echo "fencealloc: $(pkg-config --cflags --libs fencealloc)"
	echo "fencealloc-validate: $(pkg-config --cflags --libs fencealloc-validate)"
	# shellcheck disable=SC2046
	$CC -std=c11 $flags $(pkg-config --cflags fencealloc) tests/consumer/consumer.c \
		-o "$o/consumer" $(pkg-config --libs fencealloc) &&
		$CXX -std=c++17 $flags $(pkg-config --cflags fencealloc) tests/consumer/consumer_cxx.cpp \
			-o "$o/consumer_cxx" &&
		$CC -std=c11 $flags $(pkg-config --cflags fencealloc-validate) \
			tests/consumer/validate/main.c tests/consumer/validate/validator.c \
			-o "$o/validate" $(pkg-config --libs fencealloc-validate) || return 1
	{ "$o/consumer" && "$o/consumer_cxx" && "$o/validate"; } | tee "$o/out" &&
		expect_outputs "$o/out"
}

# cmake_project <name> <source dir> <extra -D...>: configure, build, run
cmake_project() {
	local o=$dir/$1 src=$2
	shift 2
	cmake -S "$src" -B "$o" -G Ninja -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
		-DCMAKE_C_STANDARD=11 -DCMAKE_CXX_STANDARD=17 \
		"-DCMAKE_C_FLAGS=$flags" "-DCMAKE_CXX_FLAGS=$flags" "$@" &&
		cmake --build "$o" || return 1
	{ "$o/consumer" && "$o/consumer_cxx" && "$o/validate"; } | tee "$o/out" &&
		expect_outputs "$o/out"
}

t_cmake_config() {
	# the package must be found in the staged tree, nowhere else
	cmake_project cmake-config tests/consumer/cmake-config -DCMAKE_PREFIX_PATH="$stage/usr" \
		-DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF &&
		grep -q "fencealloc_DIR:PATH=$stage/usr/share/cmake/fencealloc" "$dir/cmake-config/CMakeCache.txt"
}

t_cmake_subdir() {
	cmake_project cmake-subdir tests/consumer/cmake-subdir -DFENCEALLOC_DIR="$root"
}

# meson_project <name> <project dir> <meson setup args...>
meson_project() {
	local o=$dir/$1 src=$2
	shift 2
	CC=$CC CXX=$CXX meson setup "$o" "$src" "-Dc_args=$flags" "-Dcpp_args=$flags" "$@" &&
		meson test -C "$o" --print-errorlogs --verbose || return 1
	cat "$o/meson-logs/testlog.txt" >"$o/out"
	expect_outputs "$o/out"
}

t_meson_dependency() {
	PKG_CONFIG_PATH=$stage/usr/share/pkgconfig PKG_CONFIG_SYSROOT_DIR=$stage \
		meson_project meson-dependency tests/consumer/meson --wrap-mode=nofallback
}

t_meson_subproject() {
	local p=$dir/meson-subproject-src
	mkdir -p "$p/consumer/subprojects"
	cp tests/consumer/consumer.c tests/consumer/consumer_cxx.cpp "$p/"
	cp -r tests/consumer/validate "$p/"
	cp tests/consumer/meson/meson.build "$p/consumer/"
	ln -s "$root" "$p/consumer/subprojects/fencealloc"
	# no installed copy may be found: an empty pkg-config path and forced fallback
	PKG_CONFIG_PATH= PKG_CONFIG_LIBDIR=$p/none \
		meson_project meson-subproject "$p/consumer" --wrap-mode=forcefallback &&
		grep -q 'Executing subproject fencealloc' "$dir/meson-subproject/meson-logs/meson-log.txt"
}

t_submodule() {
	local p=$dir/submodule-src o=$dir/submodule
	mkdir -p "$p" "$o"
	git -C "$p" init -q &&
		git -C "$p" -c protocol.file.allow=always submodule -q add "$root" third_party/fencealloc ||
		return 1
	# the submodule is the committed tree: the include path is all a build needs
	$CC -std=c11 $flags -I"$p/third_party/fencealloc/include" tests/consumer/consumer.c -o "$o/consumer" &&
		$CXX -std=c++17 $flags -I"$p/third_party/fencealloc/include" tests/consumer/consumer_cxx.cpp \
			-o "$o/consumer_cxx" &&
		$CC -std=c11 $flags -DFA_VALIDATE -pthread -I"$p/third_party/fencealloc/include" \
			tests/consumer/validate/main.c tests/consumer/validate/validator.c -o "$o/validate" ||
		return 1
	{ "$o/consumer" && "$o/consumer_cxx" && "$o/validate"; } | tee "$o/out" &&
		expect_outputs "$o/out"
}

t_kbuild() {
	local kver= d o=$dir/kbuild
	for d in $(ls /lib/modules 2>/dev/null | sort -V); do
		[ -e "/lib/modules/$d/build/Makefile" ] && kver=$d
	done
	if [ -z "$kver" ]; then
		echo "kbuild: no kernel headers under /lib/modules/*/build (apt-get install -y linux-headers-amd64)"
		return 1
	fi
	mkdir -p "$o"
	cp tests/consumer/kbuild/Kbuild tests/consumer/kbuild/fa_consumer.c "$o/"
	$MAKE -s -C "/lib/modules/$kver/build" M="$o" FENCEALLOC_INCLUDE="$stage/usr/include" modules &&
		[ -f "$o/fa_consumer.ko" ] && echo "kbuild: fa_consumer.ko built against $kver" &&
		echo "consumer: fencealloc headers OK in a kernel module"
}

echo "-- make install DESTDIR=$stage PREFIX=/usr"
$MAKE --no-print-directory -s install DESTDIR="$stage" PREFIX=/usr BUILD="$BUILD" || exit 1
run pkg-config t_pkgconfig
run cmake-config t_cmake_config
run cmake-subdir t_cmake_subdir
run meson-dependency t_meson_dependency
run meson-subproject t_meson_subproject
run submodule t_submodule
run kbuild t_kbuild
printf '%s\n' "${results[@]}"
exit $fail

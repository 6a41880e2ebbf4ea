# SPDX-License-Identifier: MIT
#
# fencealloc: a header-only library, so "building" means testing, checking
# and documenting the headers. `make help` lists the targets.

BUILD ?= build
CC := $(if $(filter default,$(origin CC)),gcc,$(CC))
CLANG ?= clang
CXX := $(if $(filter default,$(origin CXX)),g++,$(CXX))
CLANGXX ?= clang++
PKG_CONFIG ?= pkg-config

PREFIX ?= /usr/local
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(PREFIX)/share/pkgconfig
CMAKEDIR ?= $(PREFIX)/share/cmake/fencealloc

HEADERS := $(sort $(wildcard include/fencealloc/*.h))
BENCH_SRCS := $(sort $(wildcard tests/bench/bench_*.c))

version_part = $(shell sed -n 's/^\#define FA_VERSION_$(1) \([0-9]*\).*/\1/p' include/fencealloc/base.h)
VERSION := $(call version_part,MAJOR).$(call version_part,MINOR).$(call version_part,PATCH)

WARN := -Wall -Wextra -Werror -pedantic
TEST_CFLAGS := -std=c11 $(WARN) -Iinclude -Itests/support -Iexamples -pthread
CRITERION_CFLAGS = $(shell $(PKG_CONFIG) --cflags criterion 2>/dev/null)
CRITERION_LIBS = $(shell $(PKG_CONFIG) --libs criterion 2>/dev/null || echo -lcriterion)

DEMO_SRC := $(if $(wildcard examples/vmm/host/demo.c),examples/vmm/host/demo.c,examples/basic.c)
DEMO_ARGS ?=
FUZZ_SECONDS ?= 300

.PHONY: all help print-version check unit docs plots headers kmod kunit kunit-bench demo bench fuzz install uninstall clean FORCE

all: help

help:
	@echo 'fencealloc $(VERSION): header-only, nothing to build. Targets:'
	@echo '  make demo            run the demo ($(DEMO_SRC)); DEMO_ARGS=... passes options'
	@echo '  make check           every test and check (installs missing Debian packages)'
	@echo '  make unit T=<name>   build and run tests/unit/test_<name>.c alone'
	@echo '  make headers         each header alone: C11/C17/C++17, gcc/clang, freestanding, -m32'
	@echo '  make kmod            compile tests/kernel/ as a Linux kernel module (+ W=1, sparse)'
	@echo '  make kunit           KUnit suites (tests/kunit/) in a UML kernel under lockdep'
	@echo '  make kunit-bench     KUnit benchmarks (tests/kunit/bench/), same kernel without KASAN'
	@echo '  make docs            Doxygen HTML in $(BUILD)/docs/html, warnings and rendering errors fail'
	@echo '  make bench           build and run tests/bench/bench_*.c (BENCH_JSON=DIR: also DIR/<bench>.json)'
	@echo '  make plots           redraw docs/img/*.svg from a demo --trace run and bench_buddy --json'
	@echo '  make fuzz            run every tests/fuzz/fuzz_*.c for FUZZ_SECONDS (300) each'
	@echo '                       (FUZZ_ONLY="fuzz_a fuzz_b" runs only those)'
	@echo '  make install         headers, fencealloc{,-validate}.pc, CMake package (PREFIX=$(PREFIX), DESTDIR)'
	@echo '  make uninstall       remove what install put there'
	@echo '  make clean           remove $(BUILD)/ and kernel-module outputs'

print-version:
	@echo $(VERSION)

# ---------------------------------------------------------------- the gate
check:
	@BUILD='$(BUILD)' CC='$(CC)' CLANG='$(CLANG)' MAKE='$(MAKE)' bash tests/scripts/check.sh

# ------------------------------------------------------ one unit test file
unit:
	@test -n '$(T)' || { echo 'usage: make unit T=<name>  (runs tests/unit/test_<name>.c)'; exit 2; }
	@test -f tests/unit/test_$(T).c || { echo 'no such file: tests/unit/test_$(T).c'; exit 2; }
	@mkdir -p $(BUILD)/unit-$(T)
	$(CC) $(TEST_CFLAGS) -O1 -g $(CRITERION_CFLAGS) tests/unit/test_$(T).c \
		-o $(BUILD)/unit-$(T)/test_$(T) $(CRITERION_LIBS)
	$(BUILD)/unit-$(T)/test_$(T) --jobs=2 $(ARGS)

# ------------------------------------------------------------ documentation
# Doxygen with warnings as errors (WARN_LOGFILE is empty so every warning
# reaches the terminal), then rendering checks and browser screenshots: see
# tests/scripts/docs.sh.
docs:
	@BUILD='$(BUILD)' VERSION='$(VERSION)' bash tests/scripts/docs.sh

# The pictures in docs/img/, drawn from a real demo run and a real benchmark run.
PLOTS_DEMO_ARGS ?= --seconds=3
plots:
	@BUILD='$(BUILD)' CC='$(CC)' DEMO_SRC='$(DEMO_SRC)' PLOTS_DEMO_ARGS='$(PLOTS_DEMO_ARGS)' \
		BENCH_JSON_FILE='$(BENCH_JSON_FILE)' bash docs/plots/make_plots.sh

# ------------------------------------------------------- header self-checks
headers:
	@BUILD='$(BUILD)' CC='$(CC)' CXX='$(CXX)' CLANG='$(CLANG)' CLANGXX='$(CLANGXX)' \
		bash tests/scripts/headers.sh

# ------------------------------------------------- kernel-module compile
kmod:
	@BUILD='$(BUILD)' MAKE='$(MAKE)' bash tests/scripts/kmod.sh

# ------------------------------------------- KUnit in UML under lockdep
# The kernel build is cached outside the clone (FA_KERNEL_CACHE, default
# ~/.cache/fencealloc); KUNIT_DIRS, KUNIT_PLANTED and F=<glob> select what runs.
kunit:
	@BUILD='$(BUILD)' bash tests/scripts/kunit.sh $(F)

# The benchmark holds 16 GiB of drm_buddy blocks (W2L, ~0.6 GiB of nodes): 3 GiB of UML memory.
kunit-bench:
	@BUILD='$(BUILD)' KUNIT_DIRS=tests/kunit/bench KUNIT_PLANTED= KUNIT_CONFIG=tests/kunit/kunitconfig.bench KUNIT_MEM=$${KUNIT_MEM:-3G} \
		bash tests/scripts/kunit.sh $(F); rc=$$?; \
		grep -a 'fencealloc_bench:' '$(BUILD)/kunit/run.log' | sed 's/^\[[ 0-9.]*\] //'; exit $$rc

# ---------------------------------------------------------------- the demo
demo:
	@command -v $(CC) >/dev/null 2>&1 || { echo 'make demo needs a C compiler ($(CC)): apt-get install -y gcc libc6-dev (or pass CC=...)'; exit 1; }
	@printf '#include <stdio.h>\n#include <pthread.h>\nint main(void) { return 0; }\n' | \
		$(CC) -x c - -pthread -o /dev/null 2>/dev/null || \
		{ echo 'make demo: $(CC) cannot build a threaded C program (C library headers missing): apt-get install -y libc6-dev'; exit 1; }
	@mkdir -p $(BUILD)/demo
	$(CC) -std=c11 -Wall -Wextra -O2 -g -pthread -Iinclude -Iexamples -DFA_VALIDATE \
		$(DEMO_SRC) -o $(BUILD)/demo/demo
	$(BUILD)/demo/demo $(DEMO_ARGS)

# ---------------------------------------------------------- benchmarks
bench:
	@if [ -z '$(BENCH_SRCS)' ]; then echo 'bench: no tests/bench/bench_*.c yet'; exit 0; fi; \
	mkdir -p $(BUILD)/bench $(BENCH_JSON); rc=0; \
	for src in $(BENCH_SRCS); do \
		bin=$(BUILD)/bench/$$(basename $$src .c); \
		echo "== $$src"; \
		$(CC) -std=c11 $(WARN) -O2 -g -Iinclude -Itests/support -Iexamples -pthread \
			$$src -o $$bin || { rc=1; continue; }; \
		$$bin $(if $(BENCH_JSON),--json $(BENCH_JSON)/$$(basename $$src .c).json) || rc=1; \
	done; exit $$rc

# ---------------------------------------------------------------- fuzzing
fuzz:
	@BUILD='$(BUILD)' CLANG='$(CLANG)' FUZZ_SECONDS='$(FUZZ_SECONDS)' FUZZ_ONLY='$(FUZZ_ONLY)' \
		bash tests/scripts/fuzz.sh

# ---------------------------------------------------------- installation
# Paths inside the installed files are relative to the prefix (${prefix} in
# the .pc files, the config file's own location for CMake), so a DESTDIR
# staging tree or a relocated prefix still works.
fa_subst = sed -e 's|@PREFIX@|$(PREFIX)|g' \
	-e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)%,$${prefix}%,$(INCLUDEDIR))|g' \
	-e 's|@VERSION@|$(VERSION)|g' -e 's|@VERSION_MAJOR@|$(call version_part,MAJOR)|g' \
	-e 's|@PREFIX_FROM_CONFIG@|$(if $(filter $(PREFIX)/share/cmake/fencealloc,$(CMAKEDIR)),../../..,$(shell realpath -m --relative-to=$(CMAKEDIR) $(PREFIX)))|g' \
	-e 's|@INCLUDEDIR_FOR_CMAKE@|$(patsubst $(PREFIX)%,$${_fencealloc_prefix}%,$(INCLUDEDIR))|g'
INSTALL_GEN := $(BUILD)/install/fencealloc.pc $(BUILD)/install/fencealloc-validate.pc \
	$(BUILD)/install/fencealloc-config.cmake $(BUILD)/install/fencealloc-config-version.cmake

$(BUILD)/install/%.pc: pkgconfig/%.pc.in FORCE
	@mkdir -p $(@D)
	$(fa_subst) $< > $@

$(BUILD)/install/%.cmake: cmake/%.cmake.in FORCE
	@mkdir -p $(@D)
	$(fa_subst) $< > $@

install: $(INSTALL_GEN)
	install -d $(DESTDIR)$(INCLUDEDIR)/fencealloc $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(CMAKEDIR)
	install -m 0644 $(HEADERS) $(DESTDIR)$(INCLUDEDIR)/fencealloc/
	install -m 0644 $(filter %.pc,$(INSTALL_GEN)) $(DESTDIR)$(PKGCONFIGDIR)/
	install -m 0644 $(filter %.cmake,$(INSTALL_GEN)) $(DESTDIR)$(CMAKEDIR)/

uninstall:
	rm -f $(addprefix $(DESTDIR)$(INCLUDEDIR)/fencealloc/,$(notdir $(HEADERS)))
	rm -f $(addprefix $(DESTDIR)$(PKGCONFIGDIR)/,$(notdir $(filter %.pc,$(INSTALL_GEN))))
	rm -f $(addprefix $(DESTDIR)$(CMAKEDIR)/,$(notdir $(filter %.cmake,$(INSTALL_GEN))))
	rmdir $(DESTDIR)$(INCLUDEDIR)/fencealloc $(DESTDIR)$(CMAKEDIR) 2>/dev/null || true

FORCE:

clean:
	rm -rf $(BUILD)
	cd tests/kernel && rm -f *.o *.ko *.mod *.mod.c .*.cmd Module.symvers modules.order

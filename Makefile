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

HEADERS := $(sort $(wildcard include/fencealloc/*.h))
BENCH_SRCS := $(sort $(wildcard tests/bench/bench_*.c))

version_part = $(shell sed -n 's/^\#define FA_VERSION_$(1) \([0-9]*\).*/\1/p' include/fencealloc/base.h)
VERSION := $(call version_part,MAJOR).$(call version_part,MINOR).$(call version_part,PATCH)

WARN := -Wall -Wextra -Werror -pedantic
TEST_CFLAGS := -std=c11 $(WARN) -Iinclude -Itests/support -Iexamples -pthread
CRITERION_CFLAGS = $(shell $(PKG_CONFIG) --cflags criterion 2>/dev/null)
CRITERION_LIBS = $(shell $(PKG_CONFIG) --libs criterion 2>/dev/null || echo -lcriterion)

DEMO_SRC := $(if $(wildcard examples/vmm/demo.c),examples/vmm/demo.c,examples/basic.c)
DEMO_ARGS ?=
FUZZ_SECONDS ?= 300

.PHONY: all help print-version check unit docs headers kmod demo bench fuzz install uninstall clean FORCE

all: help

help:
	@echo 'fencealloc $(VERSION): header-only, nothing to build. Targets:'
	@echo '  make demo            run the demo ($(DEMO_SRC)); DEMO_ARGS=... passes options'
	@echo '  make check           every test and check (installs missing Debian packages)'
	@echo '  make unit T=<name>   build and run tests/unit/test_<name>.c alone'
	@echo '  make headers         each header alone: C11/C17/C++17, gcc/clang, freestanding, -m32'
	@echo '  make kmod            compile tests/kernel/ as a Linux kernel module (+ W=1, sparse)'
	@echo '  make docs            Doxygen HTML in $(BUILD)/docs/html, warnings are errors'
	@echo '  make bench           build and run tests/bench/bench_*.c'
	@echo '  make fuzz            run every tests/fuzz/fuzz_*.c for FUZZ_SECONDS (300) each'
	@echo '                       (FUZZ_ONLY="fuzz_a fuzz_b" runs only those)'
	@echo '  make install         headers + fencealloc.pc (PREFIX=$(PREFIX), DESTDIR)'
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
# WARN_LOGFILE is left empty in the Doxyfile so every warning reaches the
# terminal; WARN_AS_ERROR=FAIL_ON_WARNINGS prints them all, then fails.
docs:
	@mkdir -p $(BUILD)/docs
	@exec 9>$(BUILD)/.docs.lock; flock 9; rm -rf $(BUILD)/docs/html; \
	echo "FA_VERSION='$(VERSION)' FA_DOCS_OUT='$(BUILD)/docs' doxygen docs/Doxyfile"; \
	FA_VERSION='$(VERSION)' FA_DOCS_OUT='$(BUILD)/docs' doxygen docs/Doxyfile || exit 1; \
	missing=$$(grep -L '@file' $(HEADERS)); \
	if [ -n "$$missing" ]; then echo "docs: header without a @file block (Doxygen would skip it silently): $$missing"; exit 1; fi
	@echo 'docs: OK -> $(BUILD)/docs/html/index.html'

# ------------------------------------------------------- header self-checks
headers:
	@BUILD='$(BUILD)' CC='$(CC)' CXX='$(CXX)' CLANG='$(CLANG)' CLANGXX='$(CLANGXX)' \
		bash tests/scripts/headers.sh

# ------------------------------------------------- kernel-module compile
kmod:
	@BUILD='$(BUILD)' MAKE='$(MAKE)' bash tests/scripts/kmod.sh

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
	mkdir -p $(BUILD)/bench; rc=0; \
	for src in $(BENCH_SRCS); do \
		bin=$(BUILD)/bench/$$(basename $$src .c); \
		echo "== $$src"; \
		$(CC) -std=c11 $(WARN) -O2 -g -Iinclude -Itests/support -Iexamples -pthread \
			$$src -o $$bin || { rc=1; continue; }; \
		$$bin || rc=1; \
	done; exit $$rc

# ---------------------------------------------------------------- fuzzing
fuzz:
	@BUILD='$(BUILD)' CLANG='$(CLANG)' FUZZ_SECONDS='$(FUZZ_SECONDS)' FUZZ_ONLY='$(FUZZ_ONLY)' \
		bash tests/scripts/fuzz.sh

# ---------------------------------------------------------- installation
$(BUILD)/fencealloc.pc: pkgconfig/fencealloc.pc.in FORCE
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|g' \
	    -e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)%,$${prefix}%,$(INCLUDEDIR))|g' \
	    -e 's|@VERSION@|$(VERSION)|g' $< > $@

install: $(BUILD)/fencealloc.pc
	install -d $(DESTDIR)$(INCLUDEDIR)/fencealloc $(DESTDIR)$(PKGCONFIGDIR)
	install -m 0644 $(HEADERS) $(DESTDIR)$(INCLUDEDIR)/fencealloc/
	install -m 0644 $(BUILD)/fencealloc.pc $(DESTDIR)$(PKGCONFIGDIR)/fencealloc.pc

uninstall:
	rm -f $(addprefix $(DESTDIR)$(INCLUDEDIR)/fencealloc/,$(notdir $(HEADERS)))
	rm -f $(DESTDIR)$(PKGCONFIGDIR)/fencealloc.pc
	rmdir $(DESTDIR)$(INCLUDEDIR)/fencealloc 2>/dev/null || true

FORCE:

clean:
	rm -rf $(BUILD)
	cd tests/kernel && rm -f *.o *.ko *.mod *.mod.c .*.cmd Module.symvers modules.order

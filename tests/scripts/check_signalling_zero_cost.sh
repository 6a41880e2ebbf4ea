#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# Zero cost when off: a translation unit full of signalling annotations,
# compiled without FA_VALIDATE, must produce exactly the object code and data
# of the same unit with every annotation line deleted, and reference no
# validator symbol. Checked with gcc and clang at -O1, -O2 and -Os, hosted and
# freestanding. (At -O0 a cookie variable still gets its store of 0; no one
# ships -O0.)
#
# Control: the same unit with -DFA_VALIDATE must differ and must reference the
# validator, so this check can fail.
set -u

BUILD=${BUILD:-build}
CC=${CC:-gcc}
CLANG=${CLANG:-clang}
dir=$BUILD/signalling-zero-cost
mkdir -p "$dir"
fail=0
checks=0

# The annotated unit: one annotation per line, so deleting the lines that
# mention the validator gives the unit a driver would have written without it.
cat >"$dir/annotated.c" <<'EOF'
#include <fencealloc/signalling.h>

FA_SIGNALLING_DEFINE_STATIC_CLASS(vm_map_lock_class);
FA_SIGNALLING_DEFINE_CLASS(vm_ref_lock_class);
FA_SIGNALLING_DECLARE_CLASS(vm_ref_lock_class);
FA_SIGNALLING_DEFINE_STATIC_MAP(global_map, vm_ref_lock_class);

struct vm {
	unsigned long pages;
	FA_SIGNALLING_MAP_MEMBER(map_dep)
	FA_SIGNALLING_MAP_MEMBER(ref_dep)
	FA_SIGNALLING_EXTERNAL_LOCK_MEMBER(ext_dep)
	unsigned long ptes;
};

const unsigned long vm_struct_size = sizeof(struct vm);
void *(*vm_alloc_hook)(unsigned long size, fa_gfp_t gfp);

void vm_init(struct vm *vm);
void vm_init(struct vm *vm)
{
	vm->pages = 0;
	fa_signalling_map_init(&vm->map_dep, &vm_map_lock_class);
	fa_signalling_map_init(&vm->ref_dep, &vm_ref_lock_class);
	fa_signalling_set_external_lock(&vm->ext_dep, &vm->ref_dep);
	vm->ptes = 0;
}

int vm_ref(struct vm *vm, unsigned long n, fa_gfp_t gfp);
int vm_ref(struct vm *vm, unsigned long n, fa_gfp_t gfp)
{
	unsigned long i;

	fa_signalling_acquire(&vm->ref_dep);
	for (i = 0; i < n; i++) {
		fa_signalling_might_alloc(gfp);
		if (!vm_alloc_hook(64, gfp)) {
			fa_signalling_release(&vm->ref_dep);
			return -1;
		}
		vm->pages++;
	}
	fa_signalling_assert_held(&vm->ref_dep);
	fa_signalling_assert_external_held(&vm->ext_dep);
	fa_signalling_release(&vm->ref_dep);
	return 0;
}

void vm_run(struct vm *vm, unsigned long n);
void vm_run(struct vm *vm, unsigned long n)
{
	fa_signalling_cookie_t c = fa_signalling_begin();
	unsigned long i;

	fa_signalling_acquire(&vm->map_dep);
	fa_signalling_acquire_nested(&vm->map_dep, 1);
	fa_signalling_acquire_shared(&vm->ref_dep);
	fa_signalling_acquire_shared_recursive(&vm->ref_dep);
	fa_signalling_trylock(&global_map);
	fa_signalling_acquire_nest_lock(&vm->ref_dep, &global_map);
	for (i = 0; i < n; i++) {
		fa_signalling_might_alloc(FA_GFP_NOWAIT);
		vm->ptes += i;
	}
	fa_signalling_release(&vm->ref_dep);
	fa_signalling_release(&vm->ref_dep);
	fa_signalling_release(&global_map);
	fa_signalling_release(&vm->ref_dep);
	fa_signalling_release(&vm->map_dep);
	fa_signalling_release(&vm->map_dep);
	fa_signalling_end(c);
}

void vm_cleanup(struct vm *vm);
void vm_cleanup(struct vm *vm)
{
	fa_signalling_fence_wait();
	fa_signalling_might_lock(&vm->map_dep);
	fa_signalling_reclaim_enter();
	fa_signalling_mmu_notifier_enter();
	vm->ptes = 0;
	fa_signalling_mmu_notifier_leave();
	fa_signalling_reclaim_leave();
	fa_signalling_fault_enter();
	fa_signalling_might_fault();
	fa_signalling_fault_leave();
	fa_signalling_prime();
	fa_signalling_prime_taken_in_reclaim(&vm->map_dep);
	fa_signalling_prime_taken_in_mmu_notifier(&vm->map_dep);
	fa_signalling_assert_none_held();
	vm->pages = 0;
}

static void vm_report(const struct fa_signalling_report *r, void *arg)
{
	(void)r;
	(void)arg;
}

unsigned long vm_test_support(void);
unsigned long vm_test_support(void)
{
	fa_signalling_set_report_fn(vm_report, 0);
	fa_signalling_reset();
	fa_signalling_reset_unprimed();
	return 7 + fa_signalling_report_count();
}
EOF

# Without annotations. vm_report exists only for the validator: drop it too,
# and a report count of 0 leaves 7.
sed -e '/^static void vm_report/,/^}/d' -e 's/return 7 + .*/return 7;/' "$dir/annotated.c" |
	grep -v -e 'fa_signalling_' -e 'FA_SIGNALLING_' >"$dir/plain.c"
grep -q 'fa_signalling\|FA_SIGNALLING' "$dir/plain.c" && { echo "FAIL: strip left annotations"; exit 1; }
# plain.c still includes the header (for fa_gfp_t), exactly like annotated.c.

# Code and data of an object, with addresses and file names dropped.
dump() {
	objdump -d --no-show-raw-insn "$1" | sed -e '1,/^Disassembly/d' -e 's/^ *[0-9a-f]*://'
	objdump -s -j .data -j .rodata -j .bss "$1" 2>/dev/null | sed -e '1,/contents/d'
	nm "$1" | awk '{print $NF, $(NF-1)}' | sort
}

for cc in "$CC" "$CLANG"; do
	command -v "$cc" >/dev/null 2>&1 || { echo "skip: $cc not found"; continue; }
	for opt in -O1 -O2 -Os; do
		for mode in hosted freestanding; do
			extra=""
			[ "$mode" = freestanding ] && extra="-ffreestanding"
			tag="$(basename "$cc")$opt-$mode"
			flags="-std=c11 -Wall -Wextra -Werror -pedantic $opt $extra -Iinclude"
			checks=$((checks + 1))
			# shellcheck disable=SC2086
			if ! $cc $flags -c "$dir/annotated.c" -o "$dir/a-$tag.o" ||
			   ! $cc $flags -c "$dir/plain.c" -o "$dir/p-$tag.o"; then
				echo "FAIL $tag: does not compile"
				fail=1
				continue
			fi
			if ! cmp -s <(dump "$dir/a-$tag.o") <(dump "$dir/p-$tag.o"); then
				echo "FAIL $tag: annotations changed the object code or data:"
				diff <(dump "$dir/a-$tag.o") <(dump "$dir/p-$tag.o") | head -20
				fail=1
			fi
			if nm "$dir/a-$tag.o" | grep -qi 'signalling'; then
				echo "FAIL $tag: the annotated object references the validator:"
				nm "$dir/a-$tag.o" | grep -i signalling
				fail=1
			fi
		done
	done
	# Control: with FA_VALIDATE the same unit must call into the validator.
	checks=$((checks + 1))
	tag="$(basename "$cc")-validate"
	if ! $cc -std=c11 -Wall -Wextra -Werror -pedantic -O2 -DFA_VALIDATE -Iinclude \
		-c "$dir/annotated.c" -o "$dir/a-$tag.o"; then
		echo "FAIL $tag: does not compile with FA_VALIDATE"
		fail=1
	elif ! nm "$dir/a-$tag.o" | grep -q ' U fa__signalling_lock$' ||
	     cmp -s <(dump "$dir/a-$tag.o") <(dump "$dir/p-$(basename "$cc")-O2-hosted.o"); then
		echo "FAIL $tag: control did not reach the validator (the check could not fail)"
		fail=1
	fi
done

# The lock-map member costs no bytes when off.
checks=$((checks + 1))
cat >"$dir/size.c" <<'EOF'
#include <fencealloc/signalling.h>
struct with { long a; FA_SIGNALLING_MAP_MEMBER(dep) long b; };
struct without { long a; long b; };
FA_STATIC_ASSERT(sizeof(struct with) == sizeof(struct without), "lock map member has a size");
EOF
if ! $CC -std=c11 -Wall -Wextra -Werror -pedantic -Iinclude -c "$dir/size.c" -o "$dir/size.o"; then
	echo "FAIL: FA_SIGNALLING_MAP_MEMBER adds bytes when off"
	fail=1
fi

if [ $fail -ne 0 ]; then
	echo "signalling zero-cost: FAILED ($checks checks)"
	exit 1
fi
echo "signalling zero-cost: OK ($checks checks: identical code and data, no validator symbols)"

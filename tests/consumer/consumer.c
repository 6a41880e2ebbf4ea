/* SPDX-License-Identifier: MIT */
/*
 * A program built only against the *installed* headers, found through
 * `pkg-config --cflags fencealloc` (make check compiles it without -Iinclude).
 * It includes the umbrella header, so every installed header must be present
 * and self-sufficient, and it exercises a few base.h helpers for real.
 */
#include <fencealloc/fencealloc.h>

#include <stdio.h>

struct item {
	int value;
	struct fa_list link;
};

int main(void)
{
	struct fa_list head = FA_LIST_HEAD_INIT(head);
	struct item items[3] = { { 1, { NULL, NULL } }, { 2, { NULL, NULL } }, { 3, { NULL, NULL } } };
	struct fa_list *pos;
	uint64_t up = 0;
	int sum = 0, i;

	for (i = 0; i < 3; i++)
		fa_list_add_tail(&items[i].link, &head);
	fa_list_for_each(pos, &head)
		sum = sum * 10 + fa_list_entry(pos, struct item, link)->value;
	if (sum != 123 || fa_align_up(4097, 4096, &up) != 0 || up != 8192 ||
	    fa_align_up(1, 3, &up) != -FA_EINVAL) {
		fprintf(stderr, "consumer: fencealloc %d.%d.%d misbehaves\n", FA_VERSION_MAJOR,
			FA_VERSION_MINOR, FA_VERSION_PATCH);
		return 1;
	}
	printf("consumer: fencealloc %d.%d.%d headers OK\n", FA_VERSION_MAJOR, FA_VERSION_MINOR,
	       FA_VERSION_PATCH);
	return 0;
}

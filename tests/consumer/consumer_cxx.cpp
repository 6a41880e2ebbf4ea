// SPDX-License-Identifier: MIT
// The installed headers from C++17: the umbrella header and a real call.
#include <fencealloc/fencealloc.h>

#include <cstdio>

int main()
{
	uint64_t up = 0;

	if (fa_align_up(4097, 4096, &up) != 0 || up != 8192)
		return 1;
	std::printf("consumer_cxx: fencealloc %d.%d.%d headers OK from C++\n", FA_VERSION_MAJOR,
		    FA_VERSION_MINOR, FA_VERSION_PATCH);
	return 0;
}

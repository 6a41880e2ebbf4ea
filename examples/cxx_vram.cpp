// SPDX-License-Identifier: MIT
//
// fencealloc from C++17: the headers are plain C, included as they are, and
// wrapped here in small RAII types a C++ driver or tool would write.
//
//   submit   a job reserves page-table objects (may allocate)
//   run      it takes them and carves VRAM from the buddy (never allocates)
//   cleanup  leftovers and VRAM go back
//
// Build: g++ -std=c++17 -Wall -Wextra -Werror -pedantic -Iinclude examples/cxx_vram.cpp
#include <fencealloc/buddy.h>
#include <fencealloc/reserve.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <vector>

namespace {

// The buddy's metadata lives in storage handed over once; no allocation after.
class Vram {
public:
	Vram(uint64_t size, uint64_t chunk)
		: storage_(fa_buddy_storage_size(size, chunk))
	{
		ok_ = !storage_.empty() &&
		      fa_buddy_init(&b_, storage_.data(), storage_.size(), 0, size, chunk) == 0;
	}
	~Vram()
	{
		if (ok_)
			fa_buddy_fini(&b_);
	}
	Vram(const Vram &) = delete;
	Vram &operator=(const Vram &) = delete;

	bool ok() const { return ok_; }
	int alloc(uint64_t size, uint64_t *addr) { return fa_buddy_alloc(&b_, size, 0, 0, addr); }
	int free(uint64_t addr, uint64_t size) { return fa_buddy_free(&b_, addr, size); }
	uint64_t avail() const { return fa_buddy_avail(&b_); }

private:
	std::vector<unsigned char> storage_;
	struct fa_buddy b_ {};
	bool ok_ = false;
};

// Host memory for reservations: the submit stage's allocator.
void *host_alloc(void *, size_t size, fa_gfp_t) { return std::malloc(size); }
void host_free(void *, void *obj, size_t) { std::free(obj); }

// One job's reservation: filled at submit, drawn at run, released in cleanup.
class Reservation {
public:
	explicit Reservation(struct fa_reserve_pool *pool) { fa_reserve_init(&r_, pool); }
	~Reservation() { fa_reserve_release(&r_); }
	Reservation(const Reservation &) = delete;
	Reservation &operator=(const Reservation &) = delete;

	int fill(unsigned int n) { return fa_reserve_fill(&r_, n, FA_GFP_KERNEL); }
	void *take() { return fa_reserve_take(&r_); }

private:
	struct fa_reserve r_ {};
};

} // namespace

int main()
{
	const struct fa_reserve_source host = { host_alloc, host_free, nullptr };
	struct fa_reserve_pool pool {};
	Vram vram(64ull << 20, 4096);
	std::vector<uint64_t> pages;
	std::vector<void *> tables;
	int err;

	if (!vram.ok() || fa_reserve_pool_init(&pool, &host, 64, 4, 16) != 0) {
		std::fprintf(stderr, "cxx_vram: init failed\n");
		return 1;
	}
	{
		Reservation job(&pool);

		err = job.fill(3); // submit: may allocate
		for (int i = 0; !err && i < 3; i++) {
			uint64_t addr;
			// run: nothing here allocates
			void *table = job.take();

			if (!table || vram.alloc(64 << 10, &addr) != 0) {
				err = -FA_ENOMEM;
				break;
			}
			tables.push_back(table);
			pages.push_back(addr);
		}
		for (uint64_t addr : pages) // cleanup
			vram.free(addr, 64 << 10);
		for (void *table : tables) // the tables an unmap freed
			fa_reserve_pool_put(&pool, table);
	} // the reservation's leftovers go back to the pool here
	fa_reserve_pool_fini(&pool);
	if (err || vram.avail() != (64ull << 20)) {
		std::fprintf(stderr, "cxx_vram: err %d, %llu bytes free\n", err,
			     static_cast<unsigned long long>(vram.avail()));
		return 1;
	}
	std::printf("cxx_vram: 3 tables reserved and taken, %zu VRAM blocks carved and freed\n",
		    pages.size());
	return 0;
}

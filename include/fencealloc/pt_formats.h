/* SPDX-License-Identifier: MIT */
/**
 * @file pt_formats.h
 * @brief Page-table format descriptors and PTE/PDE encoders/decoders (part of pt.h).
 *
 * A format describes a page-table hierarchy as data: table kinds ("levels"),
 * how many VA bits each one indexes, its entry size, alignment, which levels
 * may hold a leaf entry (a PTE) and for which page size, and whether one
 * directory entry points at two child tables at once (NVIDIA's dual PD0
 * entry: a big-page table and a small-page table for the same 2 MiB). Three
 * functions turn addresses and attributes into raw entries and back. The
 * refcounted tree in pt.h and an MMU walker (translate) only ever use these.
 *
 * **Preconditions: documented and asserted.** The helpers below run once per
 * entry inside the tree's loops, so they do not check their arguments at run
 * time: @p f must not be NULL and must be a format that passes
 * fa_pt_format_validate(), and level indices must be below
 * fa_pt_format::nlevels. Each says so in its doc comment and checks it with
 * #FA_ASSERT (a `WARN_ON_ONCE` in the kernel, a trap in userspace debug
 * builds). fa_pt_format_validate() itself accepts any pointer (NULL gives
 * -FA_EINVAL), and value arguments (addresses, shifts, page sizes) are always
 * checked.
 *
 * Built-in formats (all `@stage any`, no state):
 * - fa_pt_format_nv(): the NVIDIA format of a GPU generation
 *   (#fa_pt_nv_gen). The generation is part of the choice because the same
 *   ver2 layout allows different page sizes: 512 MiB pages (a PTE in PD1)
 *   exist on Ampere and Ada only, not on Pascal, Volta or Turing.
 * - fa_pt_format_nv_ver2(): NVIDIA MMU ver2 as Ampere and Ada use it, 49-bit VA,
 *   PD3 (2 bits) → PD2 (9) → PD1 (9) → PD0 (8 bits, 16-byte dual entries) →
 *   big PT (64 KiB pages, 32 × 8 B = 256 B) / small PT (4 KiB pages, 512 × 8 B).
 *   Pages: 4 KiB, 64 KiB, 2 MiB (PTE in PD0), 512 MiB (PTE in PD1).
 * - fa_pt_format_nv_ver2_gp100(): the same layout as Pascal, Volta and Turing
 *   use it: pages 4 KiB, 64 KiB, 2 MiB; PD1 holds directory entries only, so a
 *   512 MiB page size is refused (-FA_EOPNOTSUPP) like any size the format lacks.
 * - fa_pt_format_nv_ver3(): NVIDIA MMU ver3 (Hopper, Blackwell), 57-bit VA, one
 *   more directory level (PD4, 1 bit) and PCF-encoded PTE/PDE flags.
 * - fa_pt_format_x86_64(): a plain x86-64-style 4-level format, 48-bit VA,
 *   pages 4 KiB, 2 MiB (PS in the PD), 1 GiB (PS in the PDPT).
 *
 * The ver2 hierarchy (one 4 KiB page translation shown with `*`):
 * @verbatim
 *  VA bit 48   47 46      38 37      29 28     21 20  16 15  12 11        0
 *        [ PD3 ][   PD2    ][   PD1    ][  PD0   ][ big  ]
 *                                                [   small    ][ offset  ]
 *
 *  PDB → PD3 (4 × 8 B) → PD2 (512 × 8 B) → PD1 (512 × 8 B) ─┬─ 512 MiB PTE
 *                                                           └→ PD0 (256 × 16 B)
 *     PD0 entry, 16 bytes:  [ bits 63:0  big half  ][ bits 127:64 small half ]
 *                              │ (or a 2 MiB PTE)      │
 *                              ▼                       ▼
 *                       big PT 32 × 8 B (64 KiB)  small PT 512 × 8 B (4 KiB) *
 * @endverbatim
 *
 * Bit layouts (from the public dev_mmu.h of the open GPU kernel modules):
 *
 * | format | entry | fields |
 * |--------|-------|--------|
 * | ver2 | PTE | VALID 0, APERTURE 2:1 (0 vid, 1 peer, 2 sys coh, 3 sys noncoh), VOL 3, ENCRYPTED 4, PRIVILEGE 5, READ_ONLY 6, ATOMIC_DISABLE 7, ADDRESS (pa >> 12) vid 32:8 + PEER 35:33 / sys 53:8, KIND 63:56 |
 * | ver2 | PDE | 0 at bit 0, APERTURE 2:1 (0 invalid, 1 vid, 2 sys coh, 3 sys noncoh), VOL 3, ADDRESS (pa >> 12) vid 32:8 / sys 53:8 |
 * | ver2 | dual PDE | big: APERTURE 2:1, VOL 3, ADDRESS (pa >> 8) vid 32:4 / sys 53:4; small: APERTURE 66:65, VOL 67, ADDRESS (pa >> 12) vid 96:72 / sys 117:72 |
 * | ver2 | special | sparse PTE = VOL only; sparse PDE = VOL, aperture invalid; NV4K = VOL + PRIVILEGE |
 * | ver3 | PTE | VALID 0, APERTURE 2:1, PCF 7:3, KIND 11:8, ADDRESS 51:12 in place, PEER_ID 63:61 |
 * | ver3 | PTE PCF (valid) | bit 0 uncached, bit 1 privileged, bit 2 read-only, bit 3 no atomics, bit 4 access counting disabled |
 * | ver3 | PTE PCF (invalid) | 0 invalid, 1 sparse, 2 mapping nowhere, 3 no valid 4 KiB page |
 * | ver3 | PDE | 0 at bit 0, APERTURE 2:1, PCF 5:3 (bit 0 uncached/sparse, bit 1 ATS not allowed: the encoder always sets it, for tables in VRAM and in system memory; the decoder ignores it), ADDRESS 51:12 in place |
 * | ver3 | dual PDE | big: APERTURE 2:1, PCF 5:3, ADDRESS 51:8 in place (256-byte aligned); small: APERTURE 66:65, PCF 69:67, ADDRESS 115:76 (pa bits 51:12) |
 * | x86-64 | PTE | P 0, RW 1, US 2, PWT 3, PCD 4, A 5, D 6, PS 7 (PD/PDPT leaves), G 8, ADDRESS 51:12, NX 63 |
 * | x86-64 | PDE | P 0, RW 1, US 2, PCD 4, ADDRESS 51:12 |
 *
 * Attributes are given in a format-neutral word (#FA_PT_APER_VRAM ...,
 * #FA_PT_RO, #FA_PT_KIND ...); each format documents which bits it encodes
 * (fa_pt_format::pte_attr_mask) and decoding returns exactly those.
 *
 * @code
 * int main(void)
 * {
 *         const struct fa_pt_format *f = fa_pt_format_nv_ver2();
 *         uint64_t pte = fa_pt_pte_encode(f, FA_PT_NV2_LVL_PT_SMALL, 0x12345000,
 *                                         FA_PT_APER_VRAM | FA_PT_RO);
 *         uint64_t raw[2] = { pte, 0 };
 *         struct fa_pt_entry e;
 *
 *         fa_pt_entry_decode(f, FA_PT_NV2_LVL_PT_SMALL, raw, &e);
 *         return e.type == FA_PT_ENTRY_PTE && e.addr == 0x12345000 ? 0 : 1;
 * }
 * @endcode
 */
#ifndef FA_PT_FORMATS_H
#define FA_PT_FORMATS_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Most table kinds (levels) a format may describe. */
#define FA_PT_MAX_LEVELS 8
/** Most tables on one root-to-leaf path (the tree walks use fixed arrays of this size). */
#define FA_PT_MAX_DEPTH 6
/** Most page sizes a format may offer. */
#define FA_PT_MAX_PAGES 6
/** "No level" marker in fa_pt_level::parent and fa_pt_level::sub. */
#define FA_PT_LEVEL_NONE 0xffu

/** @name Format-neutral entry attributes (an OR of these, a uint32_t)
 * @{ */
/** Aperture field mask (values below; PTEs use all four, PDEs all but PEER). */
#define FA_PT_APER_MASK 0x3u
/** Video memory (VRAM) aperture. */
#define FA_PT_APER_VRAM 0x0u
/** Peer GPU memory aperture (PTEs only). */
#define FA_PT_APER_PEER 0x1u
/** Coherent system memory aperture. */
#define FA_PT_APER_SYS_COH 0x2u
/** Non-coherent system memory aperture. */
#define FA_PT_APER_SYS_NONCOH 0x3u
/** Read-only mapping. */
#define FA_PT_RO 0x4u
/** Volatile / uncached access (PTE), or uncached table fetch (PDE). */
#define FA_PT_VOL 0x8u
/** Privileged-only mapping (x86-64: supervisor, US = 0). */
#define FA_PT_PRIV 0x10u
/** Atomics disabled. */
#define FA_PT_NO_ATOMIC 0x20u
/** Encrypted (ver2 ENCRYPTED bit). */
#define FA_PT_ENCRYPTED 0x40u
/** Access counting enabled (ver3 PCF ACE; default is disabled, ACD). */
#define FA_PT_ACCESS_COUNT 0x80u
/** No execute (x86-64 NX). */
#define FA_PT_NO_EXEC 0x100u
/** Global mapping (x86-64 G). */
#define FA_PT_GLOBAL 0x200u
/** Position of the kind field in the attribute word. */
#define FA_PT_KIND_SHIFT 16
/** Kind field mask in the attribute word (8 bits; ver3 keeps 4). */
#define FA_PT_KIND_MASK 0xff0000u
/** Attribute bits for memory kind @p k (ver2: 8 bits, ver3: 4 bits). */
#define FA_PT_KIND(k) ((((uint32_t)(k)) << FA_PT_KIND_SHIFT) & FA_PT_KIND_MASK)
/** Position of the peer-id field in the attribute word. */
#define FA_PT_PEER_SHIFT 24
/** Peer-id field mask in the attribute word (3 bits). */
#define FA_PT_PEER_MASK 0x7000000u
/** Attribute bits for peer id @p p (with #FA_PT_APER_PEER). */
#define FA_PT_PEER(p) ((((uint32_t)(p)) << FA_PT_PEER_SHIFT) & FA_PT_PEER_MASK)
/** @} */

/** What a raw entry is, as the MMU would read it. */
enum fa_pt_entry_type {
	FA_PT_ENTRY_INVALID = 0, /**< Not valid: the access faults. */
	FA_PT_ENTRY_SPARSE,      /**< Sparse: reads return zero, writes are dropped. */
	FA_PT_ENTRY_PTE,         /**< A valid leaf: fa_pt_entry::addr is the page address. */
	FA_PT_ENTRY_PDE,         /**< A directory entry: fa_pt_entry::sub holds table addresses. */
	FA_PT_ENTRY_NV4K,        /**< NVIDIA "no valid 4 KiB page under this 64 KiB PTE". */
};

/** A decoded entry. */
struct fa_pt_entry {
	enum fa_pt_entry_type type; /**< What the entry is. */
	uint32_t attr;              /**< PTE or PDE attributes (FA_PT_* bits the format encodes). */
	uint64_t addr;              /**< PTE: physical address of the page. */
	uint64_t sub[2];            /**< PDE: device address of the child table per slot. */
	unsigned int present;       /**< PDE: bit i set when sub[i] is valid. */
};

/** One table kind of a format. Level 0 is the root. */
struct fa_pt_level {
	uint8_t shift;      /**< One entry covers 2^shift bytes of VA (its index starts at this VA bit). */
	uint8_t bits;       /**< Index bits: the table has 2^bits entries. */
	uint8_t entry_log2; /**< log2 of the entry size in bytes: 3, or 4 for dual entries. */
	uint8_t align_log2; /**< log2 of the required table alignment in device memory. */
	uint8_t parent;     /**< Level index of the parent, or #FA_PT_LEVEL_NONE for the root. */
	uint8_t slot;       /**< Which child slot of the parent entry points here (0 big/only, 1 small). */
	uint8_t nsub;       /**< Child table kinds per entry: 0 (leaf table), 1, or 2 (dual). */
	uint8_t sub[2];     /**< Level index of the child per slot, or #FA_PT_LEVEL_NONE. */
	uint8_t pte;        /**< Non-zero when entries of this level may be PTEs. */
	uint8_t depth;      /**< Tables above this one (root: 0). */
};

/** A page size offered by a format. */
struct fa_pt_page {
	uint8_t shift; /**< log2 of the page size. */
	uint8_t level; /**< Level whose entries are PTEs of this size. */
};

struct fa_pt_format;

/**
 * Encode a valid PTE.
 * @param f Format.
 * @param level Level of the table that holds the PTE (must have fa_pt_level::pte).
 * @param pa Physical address of the page (aligned to the page size; encodable).
 * @param attr Attributes (bits outside fa_pt_format::pte_attr_mask are ignored).
 * @return The 64-bit entry (for dual levels: the low 8 bytes; the high 8 bytes stay invalid).
 */
typedef uint64_t (*fa_pt_pte_fn)(const struct fa_pt_format *f, unsigned int level, uint64_t pa,
				 uint32_t attr);
/**
 * Encode a directory entry.
 * @param f Format.
 * @param level Level of the table that holds the entry.
 * @param sub Device address of the child table per slot.
 * @param present Bit i set when slot i points at a table (others are encoded invalid).
 * @param attr Aperture and #FA_PT_VOL of the child tables.
 * @param out Raw entry: out[0] is the low 8 bytes, out[1] the high 8 bytes (dual only, else 0).
 */
typedef void (*fa_pt_pde_fn)(const struct fa_pt_format *f, unsigned int level,
			     const uint64_t sub[2], unsigned int present, uint32_t attr,
			     uint64_t out[2]);
/**
 * Decode a raw entry the way the MMU reads it.
 * @param f Format.
 * @param level Level of the table the entry was read from.
 * @param raw raw[0] low 8 bytes; raw[1] high 8 bytes (read only for dual levels).
 * @param out Decoded entry (all fields written).
 */
typedef void (*fa_pt_decode_fn)(const struct fa_pt_format *f, unsigned int level,
				const uint64_t raw[2], struct fa_pt_entry *out);

/** A page-table format: the hierarchy as data plus its encoders. */
struct fa_pt_format {
	const char *name;        /**< Human-readable name. */
	uint8_t va_bits;         /**< Width of the VA space. */
	uint8_t nlevels;         /**< Entries used in fa_pt_format::level. */
	uint8_t npages;          /**< Entries used in fa_pt_format::page (ascending sizes). */
	uint8_t pa_bits_vid;     /**< PTE/PDE physical address bits for VRAM and peer apertures. */
	uint8_t pa_bits_sys;     /**< PTE/PDE physical address bits for system apertures. */
	uint32_t pte_attr_mask;  /**< Attribute bits the PTE encoding keeps. */
	uint32_t pde_attr_mask;  /**< Attribute bits the PDE encoding keeps. */
	uint64_t invalid;        /**< Raw value of an invalid entry (every level, both halves). */
	uint64_t sparse_pte;     /**< Raw value of a sparse PTE, or 0 if the format has none. */
	uint64_t sparse_pde;     /**< Raw value of a sparse PDE (low half), or 0 if none. */
	struct fa_pt_level level[FA_PT_MAX_LEVELS]; /**< Table kinds; index 0 is the root. */
	struct fa_pt_page page[FA_PT_MAX_PAGES];    /**< Page sizes, smallest first. */
	fa_pt_pte_fn pte;        /**< PTE encoder. */
	fa_pt_pde_fn pde;        /**< PDE encoder. */
	fa_pt_decode_fn decode;  /**< Entry decoder. */
};

/**
 * @name Format tables with named fields
 * A format is a table a human writes once and must be able to read back.
 * These macros make every field of it a named argument, so none can shift
 * into its neighbour's place: each argument is written `field(value)`, in
 * the order shown, and the macro pastes the field name onto an internal
 * helper. An argument in the wrong position names a helper that does not
 * exist, and the initialiser fails to compile (C11 and C++17 alike; C++17
 * has no designated initialisers). The child count fa_pt_level::nsub is
 * computed from `sub(...)`, and fa_pt_format_validate() (which fa_pt_init()
 * calls) checks everything else that follows from the rest: the VA shift
 * chain, depths, parent/child links, that exactly the levels named by a page
 * size hold PTEs, and that the counts match the rows given.
 *
 * @code
 * uint64_t my_pte(const struct fa_pt_format *f, unsigned int level, uint64_t pa, uint32_t attr);
 * void my_pde(const struct fa_pt_format *f, unsigned int level, const uint64_t sub[2],
 *             unsigned int present, uint32_t attr, uint64_t out[2]);
 * void my_decode(const struct fa_pt_format *f, unsigned int level, const uint64_t raw[2],
 *                struct fa_pt_entry *out);
 *
 * const struct fa_pt_format my_fmt = FA_PT_FORMAT(
 *         name("two-level"), va_bits(32), nlevels(2), npages(1), pa_bits_vid(40), pa_bits_sys(40),
 *         pte_attr_mask(FA_PT_RO), pde_attr_mask(0),
 *         invalid(0), sparse_pte(0), sparse_pde(0),
 *         levels(FA_PT_LEVEL(shift(22), bits(10), entry_log2(3), align_log2(12),
 *                           parent(FA_PT_LEVEL_NONE), slot(0), sub(1, FA_PT_LEVEL_NONE), pte(0), depth(0)),
 *               FA_PT_LEVEL(shift(12), bits(10), entry_log2(3), align_log2(12),
 *                           parent(0), slot(0), sub(FA_PT_LEVEL_NONE, FA_PT_LEVEL_NONE), pte(1), depth(1))),
 *         pages(FA_PT_PAGE(shift(12), level(1))),
 *         pte(my_pte), pde(my_pde), decode(my_decode));
 * @endcode
 * @{ */
/** One #fa_pt_level: `shift(), bits(), entry_log2(), align_log2(), parent(), slot(), sub(s0, s1), pte(), depth()`. @hideinitializer */
#define FA_PT_LEVEL(a1, a2, a3, a4, a5, a6, a7, a8, a9)                                        \
	{ FA__PT_L1_##a1, FA__PT_L2_##a2, FA__PT_L3_##a3, FA__PT_L4_##a4, FA__PT_L5_##a5,         \
	  FA__PT_L6_##a6, FA__PT_L7N_##a7, { FA__PT_L7S_##a7 }, FA__PT_L8_##a8, FA__PT_L9_##a9 }
/** One #fa_pt_page: `shift(), level()`. @hideinitializer */
#define FA_PT_PAGE(a1, a2) { FA__PT_P1_##a1, FA__PT_P2_##a2 }
/**
 * A whole #fa_pt_format: `name(), va_bits(), nlevels(), npages(), pa_bits_vid(),
 * pa_bits_sys(), pte_attr_mask(), pde_attr_mask(), invalid(), sparse_pte(),
 * sparse_pde(), levels(FA_PT_LEVEL(...), ...), pages(FA_PT_PAGE(...), ...), pte(),
 * pde(), decode()`.
 * @hideinitializer
 */
#define FA_PT_FORMAT(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16)   \
	{ FA__PT_F1_##a1, FA__PT_F2_##a2, FA__PT_F3_##a3, FA__PT_F4_##a4, FA__PT_F5_##a5,         \
	  FA__PT_F6_##a6, FA__PT_F7_##a7, FA__PT_F8_##a8, FA__PT_F9_##a9, FA__PT_F10_##a10,       \
	  FA__PT_F11_##a11, FA__PT_F12_##a12, FA__PT_F13_##a13, FA__PT_F14_##a14,                 \
	  FA__PT_F15_##a15, FA__PT_F16_##a16 }
/** @} */

/** @cond INTERNAL */
#define FA__PT_L1_shift(v) (uint8_t)(v)
#define FA__PT_L2_bits(v) (uint8_t)(v)
#define FA__PT_L3_entry_log2(v) (uint8_t)(v)
#define FA__PT_L4_align_log2(v) (uint8_t)(v)
#define FA__PT_L5_parent(v) (uint8_t)(v)
#define FA__PT_L6_slot(v) (uint8_t)(v)
#define FA__PT_L7N_sub(s0, s1) (uint8_t)(((s0) != FA_PT_LEVEL_NONE) + ((s1) != FA_PT_LEVEL_NONE))
#define FA__PT_L7S_sub(s0, s1) (uint8_t)(s0), (uint8_t)(s1)
#define FA__PT_L8_pte(v) (uint8_t)(v)
#define FA__PT_L9_depth(v) (uint8_t)(v)
#define FA__PT_P1_shift(v) (uint8_t)(v)
#define FA__PT_P2_level(v) (uint8_t)(v)
#define FA__PT_F1_name(v) v
#define FA__PT_F2_va_bits(v) (uint8_t)(v)
#define FA__PT_F3_nlevels(v) (uint8_t)(v)
#define FA__PT_F4_npages(v) (uint8_t)(v)
#define FA__PT_F5_pa_bits_vid(v) (uint8_t)(v)
#define FA__PT_F6_pa_bits_sys(v) (uint8_t)(v)
#define FA__PT_F7_pte_attr_mask(v) (uint32_t)(v)
#define FA__PT_F8_pde_attr_mask(v) (uint32_t)(v)
#define FA__PT_F9_invalid(v) (uint64_t)(v)
#define FA__PT_F10_sparse_pte(v) (uint64_t)(v)
#define FA__PT_F11_sparse_pde(v) (uint64_t)(v)
#define FA__PT_F12_levels(...) { __VA_ARGS__ }
#define FA__PT_F13_pages(...) { __VA_ARGS__ }
#define FA__PT_F14_pte(v) v
#define FA__PT_F15_pde(v) v
#define FA__PT_F16_decode(v) v
/** @endcond */

/** @name Level indices of the built-in formats
 * @{ */
#define FA_PT_NV2_LVL_PD3 0u      /**< ver2 PD3 (root, 4 entries). */
#define FA_PT_NV2_LVL_PD2 1u      /**< ver2 PD2. */
#define FA_PT_NV2_LVL_PD1 2u      /**< ver2 PD1 (512 MiB PTEs). */
#define FA_PT_NV2_LVL_PD0 3u      /**< ver2 PD0 (16-byte dual entries, 2 MiB PTEs). */
#define FA_PT_NV2_LVL_PT_BIG 4u   /**< ver2 big-page table (64 KiB PTEs, 256 bytes). */
#define FA_PT_NV2_LVL_PT_SMALL 5u /**< ver2 small-page table (4 KiB PTEs). */
#define FA_PT_NV3_LVL_PD4 0u      /**< ver3 PD4 (root, 2 entries). */
#define FA_PT_NV3_LVL_PD3 1u      /**< ver3 PD3. */
#define FA_PT_NV3_LVL_PD2 2u      /**< ver3 PD2. */
#define FA_PT_NV3_LVL_PD1 3u      /**< ver3 PD1 (512 MiB PTEs). */
#define FA_PT_NV3_LVL_PD0 4u      /**< ver3 PD0 (dual entries, 2 MiB PTEs). */
#define FA_PT_NV3_LVL_PT_BIG 5u   /**< ver3 big-page table. */
#define FA_PT_NV3_LVL_PT_SMALL 6u /**< ver3 small-page table. */
#define FA_PT_X86_LVL_PML4 0u     /**< x86-64 PML4 (root). */
#define FA_PT_X86_LVL_PDPT 1u     /**< x86-64 PDPT (1 GiB PTEs with PS). */
#define FA_PT_X86_LVL_PD 2u       /**< x86-64 page directory (2 MiB PTEs with PS). */
#define FA_PT_X86_LVL_PT 3u       /**< x86-64 page table (4 KiB PTEs). */
/** @} */

/**
 * Entries of a table of level @p l.
 * @stage any
 * @locking none
 * @param f Format; must not be NULL.
 * @param l Level index; must be below fa_pt_format::nlevels.
 * @return 2^bits.
 */
static inline uint64_t fa_pt_level_entries(const struct fa_pt_format *f, unsigned int l)
{
	FA_ASSERT(f && l < f->nlevels);
	return FA_BIT64(f->level[l].bits);
}

/**
 * Bytes of a table of level @p l (entries × entry size).
 * @stage any
 * @locking none
 * @param f Format; must not be NULL.
 * @param l Level index; must be below fa_pt_format::nlevels.
 * @return Table size in bytes.
 */
static inline uint64_t fa_pt_level_bytes(const struct fa_pt_format *f, unsigned int l)
{
	FA_ASSERT(f && l < f->nlevels);
	return FA_BIT64(f->level[l].bits + f->level[l].entry_log2);
}

/**
 * Encode a valid PTE (see #fa_pt_pte_fn).
 * @stage any
 * @locking none
 * @param f Format; must not be NULL.
 * @param level Level holding the PTE; must be below fa_pt_format::nlevels.
 * @param pa Page physical address.
 * @param attr Attributes.
 * @return The raw entry (low 8 bytes for dual levels).
 */
static inline uint64_t fa_pt_pte_encode(const struct fa_pt_format *f, unsigned int level,
					uint64_t pa, uint32_t attr)
{
	FA_ASSERT(f && f->pte && level < f->nlevels);
	return f->pte(f, level, pa, attr);
}

/**
 * Encode a PDE (see #fa_pt_pde_fn).
 * @stage any
 * @locking none
 * @param f Format; must not be NULL.
 * @param level Level holding the PDE; must be below fa_pt_format::nlevels.
 * @param sub Child table addresses per slot; must not be NULL.
 * @param present Mask of valid slots.
 * @param attr Aperture and volatile bit of the child tables.
 * @param out Raw entry, two words; must not be NULL.
 */
static inline void fa_pt_pde_encode(const struct fa_pt_format *f, unsigned int level,
				    const uint64_t sub[2], unsigned int present, uint32_t attr,
				    uint64_t out[2])
{
	FA_ASSERT(f && f->pde && level < f->nlevels && sub && out);
	f->pde(f, level, sub, present, attr, out);
}

/**
 * Decode a raw entry (see #fa_pt_decode_fn).
 * @stage any
 * @locking none
 * @param f Format; must not be NULL.
 * @param level Level the entry comes from; must be below fa_pt_format::nlevels.
 * @param raw Two raw words (the second only read for dual levels); must not be NULL.
 * @param out Decoded entry; must not be NULL.
 */
static inline void fa_pt_entry_decode(const struct fa_pt_format *f, unsigned int level,
				      const uint64_t raw[2], struct fa_pt_entry *out)
{
	FA_ASSERT(f && f->decode && level < f->nlevels && raw && out);
	f->decode(f, level, raw, out);
}

/**
 * Whether physical address @p pa (and the whole page of 2^@p shift bytes) is
 * encodable with aperture bits of @p attr.
 * @stage any
 * @locking none
 * @param f Format; must not be NULL.
 * @param pa Physical address.
 * @param shift log2 of the page (or table) size; 64 or more gives false.
 * @param attr Attributes (only the aperture is looked at).
 * @return true when the format can express it.
 */
static inline bool fa_pt_pa_ok(const struct fa_pt_format *f, uint64_t pa, unsigned int shift,
			       uint32_t attr)
{
	unsigned int aper = attr & FA_PT_APER_MASK;
	unsigned int bits;
	uint64_t end;

	FA_ASSERT(f);
	bits = (aper == FA_PT_APER_SYS_COH || aper == FA_PT_APER_SYS_NONCOH) ? f->pa_bits_sys :
									       f->pa_bits_vid;
	if (shift >= 64)
		return false;
	if (bits < 64 && (pa >> bits) != 0)
		return false;
	if (fa_add_overflow(pa, FA_BIT64(shift) - 1, &end))
		return false;
	return bits >= 64 || (end >> bits) == 0;
}

/**
 * Whether a table of level @p level at device address @p addr can be pointed
 * at: aligned as the level requires, and the whole table encodable in a PDE
 * (or the PDB) with the aperture of @p attr. A table allocator may hand out
 * any address; a ver2 PDE keeps only 37 bits of a VRAM address, so without
 * this check an address at or above 2^37 would be truncated silently and
 * the MMU would walk some other memory.
 * @stage any
 * @locking none
 * @param f Format.
 * @param level Level of the table (< fa_pt_format::nlevels).
 * @param addr Device address of the table.
 * @param attr PDE attributes (only the aperture is looked at).
 * @return true when the format can point at the table.
 */
static inline bool fa_pt_table_addr_ok(const struct fa_pt_format *f, unsigned int level,
				       uint64_t addr, uint32_t attr)
{
	const struct fa_pt_level *l = &f->level[level];

	return fa_is_aligned(addr, FA_BIT64(l->align_log2)) &&
	       fa_pt_pa_ok(f, addr, (unsigned int)l->bits + l->entry_log2, attr);
}

/**
 * Find the page-size index of a page size.
 * @stage any
 * @locking none
 * @param f Format; must not be NULL.
 * @param page_size Page size in bytes.
 * @return Index into fa_pt_format::page, or -1 when the format has no such page size.
 */
static inline int fa_pt_page_index(const struct fa_pt_format *f, uint64_t page_size)
{
	unsigned int i;

	FA_ASSERT(f);
	for (i = 0; i < f->npages; i++)
		if (FA_BIT64(f->page[i].shift) == page_size)
			return (int)i;
	return -1;
}

/** @cond INTERNAL */
/* Whether some page size of @p f has its PTEs in level @p l. */
static inline bool fa__pt_level_has_page(const struct fa_pt_format *f, unsigned int l)
{
	unsigned int i;

	for (i = 0; i < f->npages && i < FA_PT_MAX_PAGES; i++)
		if (f->page[i].level == l)
			return true;
	return false;
}
/** @endcond */

/**
 * Check that a format descriptor is self-consistent (a custom format should
 * pass this before use; the tree's init calls it).
 * @stage any
 * @locking none
 * @param f Format (may be NULL: -FA_EINVAL).
 * @return 0, or -FA_EINVAL when a level, page or link is inconsistent.
 */
static inline int fa_pt_format_validate(const struct fa_pt_format *f)
{
	unsigned int i, s;

	if (!f || !f->pte || !f->pde || !f->decode || f->nlevels == 0 ||
	    f->nlevels > FA_PT_MAX_LEVELS || f->npages == 0 || f->npages > FA_PT_MAX_PAGES ||
	    f->va_bits > 63)
		return -FA_EINVAL;
	if (f->level[0].parent != FA_PT_LEVEL_NONE || f->level[0].depth != 0 || f->level[0].slot ||
	    f->level[0].shift + f->level[0].bits != f->va_bits)
		return -FA_EINVAL;
	for (i = 0; i < f->nlevels; i++) {
		const struct fa_pt_level *l = &f->level[i];

		if (l->bits == 0 || l->bits > 16 || (l->entry_log2 != 3 && l->entry_log2 != 4) ||
		    l->nsub > 2 || l->depth >= FA_PT_MAX_DEPTH || l->align_log2 < 3 ||
		    (l->nsub == 2) != (l->entry_log2 == 4))
			return -FA_EINVAL;
		if (i > 0) {
			const struct fa_pt_level *p;

			if (l->parent >= i || l->slot > 1)
				return -FA_EINVAL;
			p = &f->level[l->parent];
			if (p->sub[l->slot] != i || l->depth != p->depth + 1 ||
			    l->shift + l->bits != p->shift)
				return -FA_EINVAL;
		}
		for (s = 0; s < l->nsub; s++)
			if (l->sub[s] >= f->nlevels || l->sub[s] <= i ||
			    f->level[l->sub[s]].parent != i)
				return -FA_EINVAL;
		if (l->nsub == 0 && !l->pte)
			return -FA_EINVAL;
		if (l->nsub != (l->sub[0] != FA_PT_LEVEL_NONE) + (l->sub[1] != FA_PT_LEVEL_NONE) ||
		    (l->nsub == 1 && l->sub[0] == FA_PT_LEVEL_NONE))
			return -FA_EINVAL;
		if (l->pte && !fa__pt_level_has_page(f, i))
			return -FA_EINVAL; /* a PTE level no page size uses */
	}
	for (i = 0; i < f->npages; i++) {
		if (f->page[i].level >= f->nlevels || !f->level[f->page[i].level].pte ||
		    f->level[f->page[i].level].shift != f->page[i].shift ||
		    (i > 0 && f->page[i].shift <= f->page[i - 1].shift))
			return -FA_EINVAL;
	}
	/* rows past the counts must be empty: nlevels / npages match the rows given */
	for (i = f->nlevels; i < FA_PT_MAX_LEVELS; i++)
		if (f->level[i].bits || f->level[i].shift || f->level[i].entry_log2)
			return -FA_EINVAL;
	for (i = f->npages; i < FA_PT_MAX_PAGES; i++)
		if (f->page[i].shift || f->page[i].level)
			return -FA_EINVAL;
	return 0;
}

/** @cond INTERNAL */
/* Field helpers: value v into bits [lo, lo + width). */
static inline uint64_t fa__pt_field(uint64_t v, unsigned int lo, unsigned int width)
{
	return (v & (FA_BIT64(width) - 1)) << lo;
}

static inline uint64_t fa__pt_get(uint64_t e, unsigned int lo, unsigned int width)
{
	return (e >> lo) & (FA_BIT64(width) - 1);
}

static inline bool fa__pt_aper_sys(unsigned int aper)
{
	return aper == FA_PT_APER_SYS_COH || aper == FA_PT_APER_SYS_NONCOH;
}

/* PDE aperture codes of NVIDIA formats: 0 invalid, 1 vid, 2 sys coh, 3 sys noncoh. */
static inline unsigned int fa__pt_nv_pde_aper(uint32_t attr)
{
	unsigned int a = attr & FA_PT_APER_MASK;

	return a == FA_PT_APER_VRAM ? 1u : a == FA_PT_APER_PEER ? 1u : a;
}

static inline uint32_t fa__pt_nv_pde_attr(unsigned int code)
{
	return code == 1u ? FA_PT_APER_VRAM : (uint32_t)code;
}

static inline void fa__pt_entry_clear(struct fa_pt_entry *out)
{
	out->type = FA_PT_ENTRY_INVALID;
	out->attr = 0;
	out->addr = 0;
	out->sub[0] = 0;
	out->sub[1] = 0;
	out->present = 0;
}

/* ---- NVIDIA ver2 ---- */

static inline uint64_t fa__pt_nv2_pte(const struct fa_pt_format *f, unsigned int level,
				      uint64_t pa, uint32_t attr)
{
	unsigned int aper = attr & FA_PT_APER_MASK;
	uint64_t e = 1; /* VALID */

	(void)f;
	(void)level;
	e |= fa__pt_field(aper, 1, 2);
	e |= (attr & FA_PT_VOL) ? FA_BIT64(3) : 0;
	e |= (attr & FA_PT_ENCRYPTED) ? FA_BIT64(4) : 0;
	e |= (attr & FA_PT_PRIV) ? FA_BIT64(5) : 0;
	e |= (attr & FA_PT_RO) ? FA_BIT64(6) : 0;
	e |= (attr & FA_PT_NO_ATOMIC) ? FA_BIT64(7) : 0;
	if (fa__pt_aper_sys(aper)) {
		e |= fa__pt_field(pa >> 12, 8, 46);
	} else {
		e |= fa__pt_field(pa >> 12, 8, 25);
		if (aper == FA_PT_APER_PEER)
			e |= fa__pt_field((attr & FA_PT_PEER_MASK) >> FA_PT_PEER_SHIFT, 33, 3);
	}
	e |= fa__pt_field((attr & FA_PT_KIND_MASK) >> FA_PT_KIND_SHIFT, 56, 8);
	return e;
}

/* One ver2 PDE half: aperture 2:1, VOL 3, address (addr >> ashift) at bit alo. */
static inline uint64_t fa__pt_nv2_pde_half(uint64_t addr, uint32_t attr, unsigned int ashift,
					   unsigned int alo)
{
	unsigned int code = fa__pt_nv_pde_aper(attr);
	unsigned int width = (fa__pt_aper_sys(attr & FA_PT_APER_MASK) ? 54u : 33u) - alo;

	return fa__pt_field(code, 1, 2) | ((attr & FA_PT_VOL) ? FA_BIT64(3) : 0) |
	       fa__pt_field(addr >> ashift, alo, width);
}

static inline void fa__pt_nv2_pde(const struct fa_pt_format *f, unsigned int level,
				  const uint64_t sub[2], unsigned int present, uint32_t attr,
				  uint64_t out[2])
{
	out[0] = 0;
	out[1] = 0;
	if (f->level[level].nsub == 2) {
		if (present & 1u)
			out[0] = fa__pt_nv2_pde_half(sub[0], attr, 8, 4);
		if (present & 2u)
			out[1] = fa__pt_nv2_pde_half(sub[1], attr, 12, 8);
	} else if (present & 1u) {
		out[0] = fa__pt_nv2_pde_half(sub[0], attr, 12, 8);
	}
}

/* Decode one ver2 PDE half; returns true when it points at a table. */
static inline bool fa__pt_nv2_pde_half_decode(uint64_t e, unsigned int ashift, unsigned int alo,
					      uint64_t *addr, uint32_t *attr)
{
	unsigned int code = (unsigned int)fa__pt_get(e, 1, 2);
	unsigned int width;

	if (code == 0)
		return false;
	width = (code >= 2 ? 54u : 33u) - alo;
	*addr = fa__pt_get(e, alo, width) << ashift;
	*attr = fa__pt_nv_pde_attr(code) | ((e & FA_BIT64(3)) ? FA_PT_VOL : 0);
	return true;
}

static inline void fa__pt_nv2_decode_pte(uint64_t e, struct fa_pt_entry *out)
{
	unsigned int aper = (unsigned int)fa__pt_get(e, 1, 2);
	uint32_t attr = aper;

	attr |= (e & FA_BIT64(3)) ? FA_PT_VOL : 0;
	attr |= (e & FA_BIT64(4)) ? FA_PT_ENCRYPTED : 0;
	attr |= (e & FA_BIT64(5)) ? FA_PT_PRIV : 0;
	attr |= (e & FA_BIT64(6)) ? FA_PT_RO : 0;
	attr |= (e & FA_BIT64(7)) ? FA_PT_NO_ATOMIC : 0;
	attr |= FA_PT_KIND(fa__pt_get(e, 56, 8));
	if (fa__pt_aper_sys(aper)) {
		out->addr = fa__pt_get(e, 8, 46) << 12;
	} else {
		out->addr = fa__pt_get(e, 8, 25) << 12;
		if (aper == FA_PT_APER_PEER)
			attr |= FA_PT_PEER(fa__pt_get(e, 33, 3));
	}
	out->type = FA_PT_ENTRY_PTE;
	out->attr = attr;
}

static inline void fa__pt_nv2_decode(const struct fa_pt_format *f, unsigned int level,
				     const uint64_t raw[2], struct fa_pt_entry *out)
{
	const struct fa_pt_level *l = &f->level[level];
	uint64_t e = raw[0];

	fa__pt_entry_clear(out);
	if (l->pte && (e & 1)) {
		fa__pt_nv2_decode_pte(e, out);
		return;
	}
	if (l->nsub == 0) { /* leaf table: invalid, sparse or NV4K */
		if ((e & (FA_BIT64(3) | FA_BIT64(5))) == (FA_BIT64(3) | FA_BIT64(5)))
			out->type = FA_PT_ENTRY_NV4K;
		else if (e & FA_BIT64(3))
			out->type = FA_PT_ENTRY_SPARSE;
		return;
	}
	if (l->nsub == 2) {
		if (fa__pt_nv2_pde_half_decode(e, 8, 4, &out->sub[0], &out->attr))
			out->present |= 1u;
		if (fa__pt_nv2_pde_half_decode(raw[1], 12, 8, &out->sub[1], &out->attr))
			out->present |= 2u;
	} else if (fa__pt_nv2_pde_half_decode(e, 12, 8, &out->sub[0], &out->attr)) {
		out->present = 1u;
	}
	if (out->present)
		out->type = FA_PT_ENTRY_PDE;
	else if (e & FA_BIT64(3))
		out->type = FA_PT_ENTRY_SPARSE;
}

/* ---- NVIDIA ver3 ---- */

static inline uint64_t fa__pt_nv3_pte(const struct fa_pt_format *f, unsigned int level,
				      uint64_t pa, uint32_t attr)
{
	unsigned int pcf = 0;
	uint64_t e = 1; /* VALID */

	(void)f;
	(void)level;
	pcf |= (attr & FA_PT_VOL) ? 0x1u : 0;
	pcf |= (attr & FA_PT_PRIV) ? 0x2u : 0;
	pcf |= (attr & FA_PT_RO) ? 0x4u : 0;
	pcf |= (attr & FA_PT_NO_ATOMIC) ? 0x8u : 0;
	pcf |= (attr & FA_PT_ACCESS_COUNT) ? 0 : 0x10u;
	e |= fa__pt_field(attr & FA_PT_APER_MASK, 1, 2);
	e |= fa__pt_field(pcf, 3, 5);
	e |= fa__pt_field((attr & FA_PT_KIND_MASK) >> FA_PT_KIND_SHIFT, 8, 4);
	e |= fa__pt_field(pa >> 12, 12, 40);
	if ((attr & FA_PT_APER_MASK) == FA_PT_APER_PEER)
		e |= fa__pt_field((attr & FA_PT_PEER_MASK) >> FA_PT_PEER_SHIFT, 61, 3);
	return e;
}

/* One ver3 PDE half: aperture 2:1, PCF 5:3, address bits [alo, 52) kept in place. */
static inline uint64_t fa__pt_nv3_pde_half(uint64_t addr, uint32_t attr, unsigned int alo,
					   unsigned int dst)
{
	unsigned int pcf = 0x2u | ((attr & FA_PT_VOL) ? 0x1u : 0); /* ATS not allowed */

	return fa__pt_field(fa__pt_nv_pde_aper(attr), 1, 2) | fa__pt_field(pcf, 3, 3) |
	       fa__pt_field(addr >> alo, dst, 52u - alo);
}

static inline void fa__pt_nv3_pde(const struct fa_pt_format *f, unsigned int level,
				  const uint64_t sub[2], unsigned int present, uint32_t attr,
				  uint64_t out[2])
{
	out[0] = 0;
	out[1] = 0;
	if (f->level[level].nsub == 2) {
		if (present & 1u)
			out[0] = fa__pt_nv3_pde_half(sub[0], attr, 8, 8);
		/* small half: pa bits 51:12 at entry bits 115:76 = high word 51:12 */
		if (present & 2u)
			out[1] = fa__pt_nv3_pde_half(sub[1], attr, 12, 12);
	} else if (present & 1u) {
		out[0] = fa__pt_nv3_pde_half(sub[0], attr, 12, 12);
	}
}

static inline bool fa__pt_nv3_pde_half_decode(uint64_t e, unsigned int alo, uint64_t *addr,
					      uint32_t *attr)
{
	unsigned int code = (unsigned int)fa__pt_get(e, 1, 2);

	if (code == 0)
		return false;
	*addr = fa__pt_get(e, alo, 52u - alo) << alo;
	*attr = fa__pt_nv_pde_attr(code) | ((e & FA_BIT64(3)) ? FA_PT_VOL : 0);
	return true;
}

static inline void fa__pt_nv3_decode(const struct fa_pt_format *f, unsigned int level,
				     const uint64_t raw[2], struct fa_pt_entry *out)
{
	const struct fa_pt_level *l = &f->level[level];
	uint64_t e = raw[0];
	unsigned int pcf;

	fa__pt_entry_clear(out);
	if (l->pte && (e & 1)) {
		pcf = (unsigned int)fa__pt_get(e, 3, 5);
		out->type = FA_PT_ENTRY_PTE;
		out->attr = (uint32_t)fa__pt_get(e, 1, 2);
		out->attr |= (pcf & 0x1u) ? FA_PT_VOL : 0;
		out->attr |= (pcf & 0x2u) ? FA_PT_PRIV : 0;
		out->attr |= (pcf & 0x4u) ? FA_PT_RO : 0;
		out->attr |= (pcf & 0x8u) ? FA_PT_NO_ATOMIC : 0;
		out->attr |= (pcf & 0x10u) ? 0 : FA_PT_ACCESS_COUNT;
		out->attr |= FA_PT_KIND(fa__pt_get(e, 8, 4));
		if ((out->attr & FA_PT_APER_MASK) == FA_PT_APER_PEER)
			out->attr |= FA_PT_PEER(fa__pt_get(e, 61, 3));
		out->addr = fa__pt_get(e, 12, 40) << 12;
		return;
	}
	if (l->nsub == 0) {
		pcf = (unsigned int)fa__pt_get(e, 3, 5);
		out->type = pcf == 1u ? FA_PT_ENTRY_SPARSE :
			    pcf == 3u ? FA_PT_ENTRY_NV4K : FA_PT_ENTRY_INVALID;
		return;
	}
	if (l->nsub == 2) {
		if (fa__pt_nv3_pde_half_decode(e, 8, &out->sub[0], &out->attr))
			out->present |= 1u;
		if (fa__pt_nv3_pde_half_decode(raw[1], 12, &out->sub[1], &out->attr))
			out->present |= 2u;
	} else if (fa__pt_nv3_pde_half_decode(e, 12, &out->sub[0], &out->attr)) {
		out->present = 1u;
	}
	if (out->present)
		out->type = FA_PT_ENTRY_PDE;
	else if ((fa__pt_get(e, 3, 3) & 1u) != 0)
		out->type = FA_PT_ENTRY_SPARSE;
}

/* ---- x86-64 4-level ---- */

static inline uint64_t fa__pt_x86_pte(const struct fa_pt_format *f, unsigned int level,
				      uint64_t pa, uint32_t attr)
{
	uint64_t e = 1; /* P */

	e |= (attr & FA_PT_RO) ? 0 : FA_BIT64(1);
	e |= (attr & FA_PT_PRIV) ? 0 : FA_BIT64(2);
	e |= (attr & FA_PT_VOL) ? FA_BIT64(4) : 0;
	e |= (f->level[level].nsub != 0) ? FA_BIT64(7) : 0; /* PS on directory levels */
	e |= (attr & FA_PT_GLOBAL) ? FA_BIT64(8) : 0;
	e |= fa__pt_field(pa >> 12, 12, 40);
	e |= (attr & FA_PT_NO_EXEC) ? FA_BIT64(63) : 0;
	return e;
}

static inline void fa__pt_x86_pde(const struct fa_pt_format *f, unsigned int level,
				  const uint64_t sub[2], unsigned int present, uint32_t attr,
				  uint64_t out[2])
{
	(void)f;
	(void)level;
	out[1] = 0;
	out[0] = 0;
	if (present & 1u)
		out[0] = 0x7u | ((attr & FA_PT_VOL) ? FA_BIT64(4) : 0) |
			 fa__pt_field(sub[0] >> 12, 12, 40);
}

static inline void fa__pt_x86_decode(const struct fa_pt_format *f, unsigned int level,
				     const uint64_t raw[2], struct fa_pt_entry *out)
{
	const struct fa_pt_level *l = &f->level[level];
	uint64_t e = raw[0];

	fa__pt_entry_clear(out);
	if (!(e & 1))
		return;
	if (l->nsub != 0 && !(l->pte && (e & FA_BIT64(7)))) {
		out->type = FA_PT_ENTRY_PDE;
		out->present = 1u;
		out->sub[0] = fa__pt_get(e, 12, 40) << 12;
		out->attr = (e & FA_BIT64(4)) ? FA_PT_VOL : 0;
		return;
	}
	out->type = FA_PT_ENTRY_PTE;
	out->addr = fa__pt_get(e, 12, 40) << 12;
	out->attr = (e & FA_BIT64(1)) ? 0 : FA_PT_RO;
	out->attr |= (e & FA_BIT64(2)) ? 0 : FA_PT_PRIV;
	out->attr |= (e & FA_BIT64(4)) ? FA_PT_VOL : 0;
	out->attr |= (e & FA_BIT64(8)) ? FA_PT_GLOBAL : 0;
	out->attr |= (e & FA_BIT64(63)) ? FA_PT_NO_EXEC : 0;
}

/** @endcond */

/** @cond INTERNAL */
/* File scope (not a function-local static): sparse duplicates the
 * initialiser of a static inside an inline function when it inlines it. */
static const struct fa_pt_format fa__pt_fmt_nv_ver2 = FA_PT_FORMAT(
	name("nv-mmu-ver2-ga10x"), va_bits(49), nlevels(6), npages(4), pa_bits_vid(37), pa_bits_sys(58),
	pte_attr_mask(FA_PT_APER_MASK | FA_PT_RO | FA_PT_VOL | FA_PT_PRIV | FA_PT_NO_ATOMIC |
		      FA_PT_ENCRYPTED | FA_PT_KIND_MASK | FA_PT_PEER_MASK),
	pde_attr_mask(FA_PT_APER_MASK | FA_PT_VOL),
	invalid(0), sparse_pte(FA_BIT64(3)), sparse_pde(FA_BIT64(3)),
	levels(
		FA_PT_LEVEL(shift(47), bits(2), entry_log2(3), align_log2(12),
			    parent(FA_PT_LEVEL_NONE), slot(0), sub(1, FA_PT_LEVEL_NONE), pte(0), depth(0)),
		FA_PT_LEVEL(shift(38), bits(9), entry_log2(3), align_log2(12),
			    parent(0), slot(0), sub(2, FA_PT_LEVEL_NONE), pte(0), depth(1)),
		FA_PT_LEVEL(shift(29), bits(9), entry_log2(3), align_log2(12),
			    parent(1), slot(0), sub(3, FA_PT_LEVEL_NONE), pte(1), depth(2)),
		FA_PT_LEVEL(shift(21), bits(8), entry_log2(4), align_log2(12),
			    parent(2), slot(0), sub(4, 5), pte(1), depth(3)),
		FA_PT_LEVEL(shift(16), bits(5), entry_log2(3), align_log2(8),
			    parent(3), slot(0), sub(FA_PT_LEVEL_NONE, FA_PT_LEVEL_NONE), pte(1), depth(4)),
		FA_PT_LEVEL(shift(12), bits(9), entry_log2(3), align_log2(12),
			    parent(3), slot(1), sub(FA_PT_LEVEL_NONE, FA_PT_LEVEL_NONE), pte(1), depth(4))),
	pages(FA_PT_PAGE(shift(12), level(5)), FA_PT_PAGE(shift(16), level(4)), FA_PT_PAGE(shift(21), level(3)), FA_PT_PAGE(shift(29), level(2))),
	pte(fa__pt_nv2_pte), pde(fa__pt_nv2_pde), decode(fa__pt_nv2_decode));
/** @endcond */

/**
 * NVIDIA MMU ver2 as Ampere and Ada use it: 49-bit VA, pages 4K/64K/2M/512M
 * (512 MiB PTEs in PD1). For Pascal, Volta and Turing use
 * fa_pt_format_nv_ver2_gp100() (or fa_pt_format_nv()), which lacks 512 MiB pages.
 * Levels: 0 PD3, 1 PD2, 2 PD1, 3 PD0 (dual), 4 big PT, 5 small PT.
 * @stage any
 * @locking none
 * @return The format (constant static storage; never NULL).
 */
static inline const struct fa_pt_format *fa_pt_format_nv_ver2(void)
{
	return &fa__pt_fmt_nv_ver2;
}

/** @cond INTERNAL */
/* ver2 as Pascal, Volta and Turing use it: PD1 entries are directory entries
 * only (kgmmuFmtInitLevels_GA10X is what makes PD1 a page-table level). */
static const struct fa_pt_format fa__pt_fmt_nv_ver2_gp100 = FA_PT_FORMAT(
	name("nv-mmu-ver2-gp100"), va_bits(49), nlevels(6), npages(3), pa_bits_vid(37), pa_bits_sys(58),
	pte_attr_mask(FA_PT_APER_MASK | FA_PT_RO | FA_PT_VOL | FA_PT_PRIV | FA_PT_NO_ATOMIC |
		      FA_PT_ENCRYPTED | FA_PT_KIND_MASK | FA_PT_PEER_MASK),
	pde_attr_mask(FA_PT_APER_MASK | FA_PT_VOL),
	invalid(0), sparse_pte(FA_BIT64(3)), sparse_pde(FA_BIT64(3)),
	levels(
		FA_PT_LEVEL(shift(47), bits(2), entry_log2(3), align_log2(12),
			    parent(FA_PT_LEVEL_NONE), slot(0), sub(1, FA_PT_LEVEL_NONE), pte(0), depth(0)),
		FA_PT_LEVEL(shift(38), bits(9), entry_log2(3), align_log2(12),
			    parent(0), slot(0), sub(2, FA_PT_LEVEL_NONE), pte(0), depth(1)),
		FA_PT_LEVEL(shift(29), bits(9), entry_log2(3), align_log2(12),
			    parent(1), slot(0), sub(3, FA_PT_LEVEL_NONE), pte(0), depth(2)),
		FA_PT_LEVEL(shift(21), bits(8), entry_log2(4), align_log2(12),
			    parent(2), slot(0), sub(4, 5), pte(1), depth(3)),
		FA_PT_LEVEL(shift(16), bits(5), entry_log2(3), align_log2(8),
			    parent(3), slot(0), sub(FA_PT_LEVEL_NONE, FA_PT_LEVEL_NONE), pte(1), depth(4)),
		FA_PT_LEVEL(shift(12), bits(9), entry_log2(3), align_log2(12),
			    parent(3), slot(1), sub(FA_PT_LEVEL_NONE, FA_PT_LEVEL_NONE), pte(1), depth(4))),
	pages(FA_PT_PAGE(shift(12), level(5)), FA_PT_PAGE(shift(16), level(4)), FA_PT_PAGE(shift(21), level(3))),
	pte(fa__pt_nv2_pte), pde(fa__pt_nv2_pde), decode(fa__pt_nv2_decode));
/** @endcond */

/**
 * NVIDIA MMU ver2 as Pascal, Volta and Turing use it: 49-bit VA, pages
 * 4K/64K/2M (no 512 MiB pages: PD1 holds directory entries only). Same
 * levels and encodings as fa_pt_format_nv_ver2().
 * @stage any
 * @locking none
 * @return The format (constant static storage; never NULL).
 */
static inline const struct fa_pt_format *fa_pt_format_nv_ver2_gp100(void)
{
	return &fa__pt_fmt_nv_ver2_gp100;
}

/** @cond INTERNAL */
/* File scope (not a function-local static): sparse duplicates the
 * initialiser of a static inside an inline function when it inlines it. */
static const struct fa_pt_format fa__pt_fmt_nv_ver3 = FA_PT_FORMAT(
	name("nv-mmu-ver3"), va_bits(57), nlevels(7), npages(4), pa_bits_vid(52), pa_bits_sys(52),
	pte_attr_mask(FA_PT_APER_MASK | FA_PT_RO | FA_PT_VOL | FA_PT_PRIV | FA_PT_NO_ATOMIC |
		      FA_PT_ACCESS_COUNT | (0xfu << FA_PT_KIND_SHIFT) | FA_PT_PEER_MASK),
	pde_attr_mask(FA_PT_APER_MASK | FA_PT_VOL),
	invalid(0), sparse_pte(FA_BIT64(3)), sparse_pde(FA_BIT64(3)),
	levels(
		FA_PT_LEVEL(shift(56), bits(1), entry_log2(3), align_log2(12),
			    parent(FA_PT_LEVEL_NONE), slot(0), sub(1, FA_PT_LEVEL_NONE), pte(0), depth(0)),
		FA_PT_LEVEL(shift(47), bits(9), entry_log2(3), align_log2(12),
			    parent(0), slot(0), sub(2, FA_PT_LEVEL_NONE), pte(0), depth(1)),
		FA_PT_LEVEL(shift(38), bits(9), entry_log2(3), align_log2(12),
			    parent(1), slot(0), sub(3, FA_PT_LEVEL_NONE), pte(0), depth(2)),
		FA_PT_LEVEL(shift(29), bits(9), entry_log2(3), align_log2(12),
			    parent(2), slot(0), sub(4, FA_PT_LEVEL_NONE), pte(1), depth(3)),
		FA_PT_LEVEL(shift(21), bits(8), entry_log2(4), align_log2(12),
			    parent(3), slot(0), sub(5, 6), pte(1), depth(4)),
		FA_PT_LEVEL(shift(16), bits(5), entry_log2(3), align_log2(8),
			    parent(4), slot(0), sub(FA_PT_LEVEL_NONE, FA_PT_LEVEL_NONE), pte(1), depth(5)),
		FA_PT_LEVEL(shift(12), bits(9), entry_log2(3), align_log2(12),
			    parent(4), slot(1), sub(FA_PT_LEVEL_NONE, FA_PT_LEVEL_NONE), pte(1), depth(5))),
	pages(FA_PT_PAGE(shift(12), level(6)), FA_PT_PAGE(shift(16), level(5)), FA_PT_PAGE(shift(21), level(4)), FA_PT_PAGE(shift(29), level(3))),
	pte(fa__pt_nv3_pte), pde(fa__pt_nv3_pde), decode(fa__pt_nv3_decode));
/** @endcond */

/**
 * NVIDIA MMU ver3 (Hopper, Blackwell): 57-bit VA, pages 4K/64K/2M/512M.
 * Levels: 0 PD4, 1 PD3, 2 PD2, 3 PD1, 4 PD0 (dual), 5 big PT, 6 small PT.
 * (Blackwell's 256 GiB PD2 pages are not offered.)
 * @stage any
 * @locking none
 * @return The format (constant static storage; never NULL).
 */
static inline const struct fa_pt_format *fa_pt_format_nv_ver3(void)
{
	return &fa__pt_fmt_nv_ver3;
}

/** @cond INTERNAL */
/* File scope (not a function-local static): sparse duplicates the
 * initialiser of a static inside an inline function when it inlines it. */
static const struct fa_pt_format fa__pt_fmt_x86_64 = FA_PT_FORMAT(
	name("x86-64-4level"), va_bits(48), nlevels(4), npages(3), pa_bits_vid(52), pa_bits_sys(52),
	pte_attr_mask(FA_PT_RO | FA_PT_VOL | FA_PT_PRIV | FA_PT_GLOBAL | FA_PT_NO_EXEC),
	pde_attr_mask(FA_PT_VOL),
	invalid(0), sparse_pte(0), sparse_pde(0),
	levels(
		FA_PT_LEVEL(shift(39), bits(9), entry_log2(3), align_log2(12),
			    parent(FA_PT_LEVEL_NONE), slot(0), sub(1, FA_PT_LEVEL_NONE), pte(0), depth(0)),
		FA_PT_LEVEL(shift(30), bits(9), entry_log2(3), align_log2(12),
			    parent(0), slot(0), sub(2, FA_PT_LEVEL_NONE), pte(1), depth(1)),
		FA_PT_LEVEL(shift(21), bits(9), entry_log2(3), align_log2(12),
			    parent(1), slot(0), sub(3, FA_PT_LEVEL_NONE), pte(1), depth(2)),
		FA_PT_LEVEL(shift(12), bits(9), entry_log2(3), align_log2(12),
			    parent(2), slot(0), sub(FA_PT_LEVEL_NONE, FA_PT_LEVEL_NONE), pte(1), depth(3))),
	pages(FA_PT_PAGE(shift(12), level(3)), FA_PT_PAGE(shift(21), level(2)), FA_PT_PAGE(shift(30), level(1))),
	pte(fa__pt_x86_pte), pde(fa__pt_x86_pde), decode(fa__pt_x86_decode));
/** @endcond */

/**
 * Plain x86-64-style 4-level format: 48-bit VA, pages 4K/2M/1G.
 * Levels: 0 PML4, 1 PDPT (1 GiB PTEs), 2 PD (2 MiB PTEs), 3 PT.
 * @stage any
 * @locking none
 * @return The format (constant static storage; never NULL).
 */
static inline const struct fa_pt_format *fa_pt_format_x86_64(void)
{
	return &fa__pt_fmt_x86_64;
}

/** NVIDIA GPU generations, for fa_pt_format_nv(). */
enum fa_pt_nv_gen {
	FA_PT_NV_PASCAL = 1, /**< GP10x: MMU ver2, no 512 MiB pages. */
	FA_PT_NV_VOLTA,      /**< GV100: MMU ver2, no 512 MiB pages. */
	FA_PT_NV_TURING,     /**< TU10x: MMU ver2, no 512 MiB pages. */
	FA_PT_NV_AMPERE,     /**< GA10x: MMU ver2 with 512 MiB pages. */
	FA_PT_NV_ADA,        /**< AD10x: MMU ver2 with 512 MiB pages. */
	FA_PT_NV_HOPPER,     /**< GH100: MMU ver3. */
	FA_PT_NV_BLACKWELL,  /**< GB10x/GB20x: MMU ver3 (256 GiB pages not offered). */
};

/**
 * The page-table format of an NVIDIA GPU generation: the MMU version and
 * the page sizes that generation's hardware allows.
 * @stage any
 * @locking none
 * @param gen Generation.
 * @return fa_pt_format_nv_ver2_gp100() for Pascal, Volta, Turing;
 *         fa_pt_format_nv_ver2() for Ampere, Ada; fa_pt_format_nv_ver3() for
 *         Hopper, Blackwell; NULL for an unknown value.
 */
static inline const struct fa_pt_format *fa_pt_format_nv(enum fa_pt_nv_gen gen)
{
	switch (gen) {
	case FA_PT_NV_PASCAL:
	case FA_PT_NV_VOLTA:
	case FA_PT_NV_TURING:
		return fa_pt_format_nv_ver2_gp100();
	case FA_PT_NV_AMPERE:
	case FA_PT_NV_ADA:
		return fa_pt_format_nv_ver2();
	case FA_PT_NV_HOPPER:
	case FA_PT_NV_BLACKWELL:
		return fa_pt_format_nv_ver3();
	}
	return NULL;
}

#ifdef __cplusplus
}
#endif

#endif /* FA_PT_FORMATS_H */

/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One batch of repatriation: query a window of pages, move the remote ones
 * home with one move_pages(MPOL_MF_MOVE) call, re-check the failures, and
 * keep per-range (chunk) back-off so unmovable pages are not retried forever.
 */
#ifndef MEMHOME_ENGINE_H
#define MEMHOME_ENGINE_H

#include "memhome.h"

#define MH_CHUNK_BYTES (2ull << 20)
/* The largest transparent huge page (a PMD on x86-64): move_pages() on any
 * 4 KiB entry of a THP moves the whole folio, which is naturally aligned. */
#define MH_FOLIO_BYTES (2ull << 20)
#define MH_FOLIO_PAGES (MH_FOLIO_BYTES / 4096)

struct mh_chunk {
	uint64_t retry_ns; /* not before this time */
	uint32_t fails; /* consecutive failed passes */
	uint32_t failed_pages; /* remote pages that would not move, last attempt */
	uint32_t last_pass; /* pass that last looked at it */
	/* failures, last attempt, that were not transient (ENOMEM, EAGAIN):
	 * only those can make a range be given up for good */
	uint32_t lasting_pages;
	bool given_up;
};

struct mh_region_state {
	struct mh_chunk *chunks;
	uint64_t nchunks, chunk_bytes;
};

struct mh_engine {
	const struct mh_pages_ops *ops;
	void *ctx;
	int pid;
	const char *proc_root;
	uint32_t batch_pages;
	uint64_t backoff_base_ns;
	uint32_t max_fails;
	uint32_t pass_id; /* bumped per pass: back-off applies from the next pass on */
	void **addr, **maddr;
	int *status, *mstatus, *nodes;
	/* pages after a batch's end in the same THP-sized block: they move
	 * with a folio the batch moved, and must be counted (moved_pages) */
	void *la_addr[MH_FOLIO_PAGES];
	int la_status[MH_FOLIO_PAGES];
	uint64_t unmovable[MH_UNMOV__COUNT];
};

struct mh_batch_result {
	uint64_t queried_pages, moved_pages, failed_pages;
	uint64_t next_cursor;
	bool region_done;
};

int mh_engine_init(struct mh_engine *e, const struct mh_pages_ops *ops, void *ctx, int pid,
		   const char *proc_root, uint32_t batch_pages, struct xpv_error **err);
void mh_engine_fini(struct mh_engine *e);
int mh_region_state_init(struct mh_region_state *rs, const struct mh_region *r,
			 struct xpv_error **err);
void mh_region_state_fini(struct mh_region_state *rs);

/* Processes pages from cursor on, moving at most max_move remote pages. */
int mh_engine_batch(struct mh_engine *e, const struct mh_region *r, struct mh_region_state *rs,
		    uint64_t cursor, uint64_t now_ns, uint64_t max_move,
		    struct mh_batch_result *res, struct xpv_error **err);

/* Exact placement: query every stride-th page, add page_size*stride per page to node_bytes. */
int mh_engine_query(struct mh_engine *e, const struct mh_region *r, uint32_t stride,
		    uint64_t node_bytes[MH_MAX_NODES], uint64_t *other, struct xpv_error **err);

/* Remote bytes in ranges that are backing off or given up at now_ns. */
uint64_t mh_region_state_unmovable_bytes(const struct mh_region_state *rs,
					 const struct mh_region *r, uint64_t now_ns,
					 uint64_t *backoff_ranges, uint64_t *given_up_ranges,
					 uint64_t *given_up_bytes);

enum mh_unmovable mh_unmovable_from_errno(int negerr);

#endif

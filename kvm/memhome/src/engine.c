// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <inttypes.h>
#include <numaif.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "ratelimit.h"
#include "regions.h"

int mh_engine_init(struct mh_engine *e, const struct mh_pages_ops *ops, void *ctx, int pid,
		   const char *proc_root, uint32_t batch_pages, struct xpv_error **err)
{
	memset(e, 0, sizeof(*e));
	e->ops = ops;
	e->ctx = ctx;
	e->pid = pid;
	e->proc_root = proc_root;
	e->batch_pages = batch_pages;
	e->addr = calloc(batch_pages, sizeof(void *));
	e->maddr = calloc(batch_pages, sizeof(void *));
	e->status = calloc(batch_pages, sizeof(int));
	e->mstatus = calloc(batch_pages, sizeof(int));
	e->nodes = calloc(batch_pages, sizeof(int));
	if (!e->addr || !e->maddr || !e->status || !e->mstatus || !e->nodes) {
		mh_engine_fini(e);
		return xpv_error_set(err, ENOMEM, "batch buffers");
	}
	return 0;
}

void mh_engine_fini(struct mh_engine *e)
{
	free(e->addr);
	free(e->maddr);
	free(e->status);
	free(e->mstatus);
	free(e->nodes);
	e->addr = e->maddr = NULL;
	e->status = e->mstatus = e->nodes = NULL;
}

int mh_region_state_init(struct mh_region_state *rs, const struct mh_region *r,
			 struct xpv_error **err)
{
	rs->chunk_bytes = r->page_size > MH_CHUNK_BYTES ? r->page_size : MH_CHUNK_BYTES;
	rs->nchunks = (r->end - r->start + rs->chunk_bytes - 1) / rs->chunk_bytes;
	rs->chunks = calloc(rs->nchunks ? rs->nchunks : 1, sizeof(*rs->chunks));
	if (!rs->chunks)
		return xpv_error_set(err, ENOMEM, "region %s: range table", r->name);
	return 0;
}

void mh_region_state_fini(struct mh_region_state *rs)
{
	free(rs->chunks);
	rs->chunks = NULL;
}

enum mh_unmovable mh_unmovable_from_errno(int negerr)
{
	switch (-negerr) {
	case EBUSY:
		return MH_UNMOV_BUSY;
	case EACCES:
		return MH_UNMOV_ACCESS;
	case EFAULT:
	case ENOENT:
		return MH_UNMOV_FAULT;
	case ENOMEM:
		return MH_UNMOV_NOMEM;
	default:
		return MH_UNMOV_OTHER;
	}
}

/* A failed whole call: the target may have exited (a zombie has no mm: EINVAL). */
static int call_failed(struct mh_engine *e, int saved, const char *what, struct xpv_error **err)
{
	if (saved == ESRCH ||
	    ((saved == EINVAL || saved == ENOENT) && !mh_pid_alive(e->proc_root, e->pid)))
		return xpv_error_set(err, ESRCH, "process %d exited", e->pid);
	return xpv_error_set(err, saved, "move_pages(%s) on pid %d", what, e->pid);
}

static uint64_t chunk_of(const struct mh_region *r, const struct mh_region_state *rs, uint64_t a)
{
	return (a - r->start) / rs->chunk_bytes;
}

/* Skipped in this pass: given up, or backing off since an earlier pass. */
static bool chunk_skipped(const struct mh_engine *e, const struct mh_chunk *c, uint64_t now)
{
	return c->last_pass != e->pass_id && (c->given_up || c->retry_ns > now);
}

/*
 * Records one batch's failures in a range. A range's failures are counted once
 * per pass; a pass that saw none in it clears its history at the next visit.
 */
static void note_chunk(struct mh_engine *e, struct mh_chunk *c, uint32_t failed, uint32_t lasting,
		       uint64_t now)
{
	if (c->last_pass != e->pass_id) {
		c->last_pass = e->pass_id;
		if (c->failed_pages == 0) {
			c->fails = 0;
			c->retry_ns = 0;
		}
		c->failed_pages = 0;
		c->lasting_pages = 0;
	}
	if (!failed)
		return;
	if (c->failed_pages == 0) {
		c->fails++;
		c->retry_ns = now + mh_backoff_ns(e->backoff_base_ns, c->fails);
	}
	c->failed_pages += failed;
	c->lasting_pages += lasting;
	/* Memory pressure (ENOMEM) or a page in flux (EAGAIN) passes: such a
	 * range backs off, but is never given up for good. */
	if (e->max_fails && c->fails >= e->max_fails && c->lasting_pages)
		c->given_up = true;
}

static bool transient(int negerr)
{
	return negerr == -ENOMEM || negerr == -EAGAIN;
}

/*
 * The remote pages from end to the end of its THP-sized block (not in a
 * skipped range), queried before the move: a folio the batch moves takes
 * them along.  Left in la_addr; returns how many (0 when end is aligned).
 */
static uint64_t lookahead(struct mh_engine *e, const struct mh_region *r,
			  const struct mh_region_state *rs, uint64_t end, uint64_t now_ns)
{
	uint64_t block_end = (end + MH_FOLIO_BYTES - 1) & ~(MH_FOLIO_BYTES - 1), n = 0, k = 0;

	if (r->page_size >= MH_FOLIO_BYTES || end >= r->end || !(end & (MH_FOLIO_BYTES - 1)))
		return 0;
	if (block_end > r->end)
		block_end = r->end;
	for (uint64_t a = end; a < block_end && n < MH_FOLIO_PAGES; a += r->page_size) {
		if (chunk_skipped(e, &rs->chunks[chunk_of(r, rs, a)], now_ns))
			continue;
		e->la_addr[n++] = (void *)(uintptr_t)a;
	}
	if (!n || e->ops->move_pages(e->ctx, e->pid, n, e->la_addr, NULL, e->la_status, 0) < 0)
		return 0; /* not counted is better than failing the batch */
	for (uint64_t i = 0; i < n; i++)
		if (e->la_status[i] >= 0 && e->la_status[i] != r->home)
			e->la_addr[k++] = e->la_addr[i];
	return k;
}

/* Of the lookahead pages, those now home moved with a folio of this batch. */
static int count_lookahead(struct mh_engine *e, const struct mh_region *r, uint64_t n,
			   struct mh_batch_result *res)
{
	if (e->ops->move_pages(e->ctx, e->pid, n, e->la_addr, NULL, e->la_status, 0) < 0)
		return -1;
	for (uint64_t i = 0; i < n; i++)
		if (e->la_status[i] == r->home)
			res->moved_pages++;
	return 0;
}

int mh_engine_batch(struct mh_engine *e, const struct mh_region *r, struct mh_region_state *rs,
		    uint64_t cursor, uint64_t now_ns, uint64_t max_move,
		    struct mh_batch_result *res, struct xpv_error **err)
{
	uint64_t a = cursor, ps = r->page_size, n = 0, m = 0, end;
	uint64_t first_chunk, last_chunk, cur_chunk;
	uint32_t chunk_failed = 0, chunk_lasting = 0;
	long rc;

	memset(res, 0, sizeof(*res));
	while (a < r->end && n < e->batch_pages) {
		struct mh_chunk *c = &rs->chunks[chunk_of(r, rs, a)];

		if (chunk_skipped(e, c, now_ns)) {
			a = r->start + (chunk_of(r, rs, a) + 1) * rs->chunk_bytes;
			continue;
		}
		e->addr[n++] = (void *)(uintptr_t)a;
		a += ps;
	}
	end = a;
	if (n == 0)
		goto done;
	rc = e->ops->move_pages(e->ctx, e->pid, n, e->addr, NULL, e->status, 0);
	if (rc < 0)
		return call_failed(e, errno, "query", err);
	res->queried_pages = n;
	for (uint64_t i = 0; i < n; i++) {
		if (e->status[i] < 0 || e->status[i] == r->home)
			continue;
		if (m == max_move) {
			/* out of budget: resume at this page next time */
			end = (uint64_t)(uintptr_t)e->addr[i];
			n = i;
			break;
		}
		e->maddr[m] = e->addr[i];
		e->nodes[m] = r->home;
		m++;
	}
	if (m) {
		uint64_t f = 0, la;

		/* The batch may end inside a THP (a budget cut, an unaligned
		 * cursor): its folio moves whole, also the pages after end. */
		la = lookahead(e, r, rs, end, now_ns);
		rc = e->ops->move_pages(e->ctx, e->pid, m, e->maddr, e->nodes, e->mstatus,
					MPOL_MF_MOVE);
		if (rc < 0)
			return call_failed(e, errno, "move", err);
		/* Compact the failures into maddr/mstatus[0..f) keeping their errors. */
		for (uint64_t i = 0; i < m; i++) {
			if (e->mstatus[i] == r->home) {
				res->moved_pages++;
				continue;
			}
			e->maddr[f] = e->maddr[i];
			e->nodes[f] = e->mstatus[i] < 0 ? e->mstatus[i] : -EAGAIN;
			f++;
		}
		/* Tail pages of a THP report -EBUSY while their head moves the
		 * whole folio: look again before calling anything unmovable. */
		if (f) {
			rc = e->ops->move_pages(e->ctx, e->pid, f, e->maddr, NULL, e->mstatus, 0);
			if (rc < 0)
				return call_failed(e, errno, "re-query", err);
		}
		if (la && (rc = count_lookahead(e, r, la, res)) < 0)
			return call_failed(e, errno, "re-query", err);
		first_chunk = chunk_of(r, rs, cursor);
		last_chunk = end > r->start ? chunk_of(r, rs, end - 1) : first_chunk;
		cur_chunk = first_chunk;
		for (uint64_t i = 0; i <= f; i++) {
			uint64_t ck =
				i < f ? chunk_of(r, rs, (uintptr_t)e->maddr[i]) : last_chunk + 1;

			if (i < f && e->mstatus[i] == r->home) {
				res->moved_pages++;
				continue;
			}
			/* close chunks before ck */
			while (cur_chunk < ck && cur_chunk <= last_chunk) {
				struct mh_chunk *c = &rs->chunks[cur_chunk];

				/* ranges skipped in this batch keep their back-off */
				if (!chunk_skipped(e, c, now_ns))
					note_chunk(e, c, chunk_failed, chunk_lasting, now_ns);
				chunk_failed = chunk_lasting = 0;
				cur_chunk++;
			}
			if (i < f) {
				e->unmovable[mh_unmovable_from_errno(e->nodes[i])]++;
				res->failed_pages++;
				chunk_failed++;
				chunk_lasting += !transient(e->nodes[i]);
			}
		}
	} else {
		/* nothing remote here: every range in the window is clean */
		first_chunk = chunk_of(r, rs, cursor);
		last_chunk = end > r->start ? chunk_of(r, rs, end - 1) : first_chunk;
		for (uint64_t c = first_chunk; c <= last_chunk && c < rs->nchunks; c++)
			if (!chunk_skipped(e, &rs->chunks[c], now_ns))
				note_chunk(e, &rs->chunks[c], 0, 0, now_ns);
	}
done:
	res->next_cursor = end;
	res->region_done = end >= r->end;
	return 0;
}

int mh_engine_query(struct mh_engine *e, const struct mh_region *r, uint32_t stride,
		    uint64_t node_bytes[MH_MAX_NODES], uint64_t *other, struct xpv_error **err)
{
	uint64_t step = r->page_size * (stride ? stride : 1), a = r->start;

	while (a < r->end) {
		uint64_t n = 0;
		long rc;

		while (a < r->end && n < e->batch_pages) {
			e->addr[n++] = (void *)(uintptr_t)a;
			a += step;
		}
		rc = e->ops->move_pages(e->ctx, e->pid, n, e->addr, NULL, e->status, 0);
		if (rc < 0)
			return call_failed(e, errno, "query", err);
		for (uint64_t i = 0; i < n; i++) {
			if (e->status[i] < 0)
				continue;
			if (e->status[i] < MH_MAX_NODES)
				node_bytes[e->status[i]] += step;
			else
				*other += step;
		}
	}
	return 0;
}

uint64_t mh_region_state_unmovable_bytes(const struct mh_region_state *rs,
					 const struct mh_region *r, uint64_t now_ns,
					 uint64_t *backoff_ranges, uint64_t *given_up_ranges,
					 uint64_t *given_up_bytes)
{
	uint64_t bytes = 0;

	for (uint64_t c = 0; c < rs->nchunks; c++) {
		const struct mh_chunk *ch = &rs->chunks[c];

		if (ch->given_up) {
			(*given_up_ranges)++;
			*given_up_bytes += (uint64_t)ch->failed_pages * r->page_size;
		} else if (ch->retry_ns > now_ns) {
			(*backoff_ranges)++;
		} else {
			continue;
		}
		bytes += (uint64_t)ch->failed_pages * r->page_size;
	}
	return bytes;
}

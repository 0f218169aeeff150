/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Rate-limit and CPU-budget arithmetic, pure so it can be unit-tested.
 * Bytes moved are paced by a token bucket; CPU time spent in move_pages by a
 * budget expressed in parts per million of one CPU.
 */
#ifndef MEMHOME_RATELIMIT_H
#define MEMHOME_RATELIMIT_H

#include <stdint.h>

struct mh_bucket {
	uint64_t rate; /* bytes per second, 0 = unlimited */
	uint64_t burst; /* bucket size in bytes */
	uint64_t tokens; /* bytes available at last_ns */
	uint64_t last_ns;
};

void mh_bucket_init(struct mh_bucket *b, uint64_t rate, uint64_t burst, uint64_t now_ns);
/* Refill up to now_ns; returns the bytes that may be spent now. */
uint64_t mh_bucket_avail(struct mh_bucket *b, uint64_t now_ns);
void mh_bucket_spend(struct mh_bucket *b, uint64_t bytes);
/* When at least `bytes` (capped at burst) will be available. */
uint64_t mh_bucket_ready_at(const struct mh_bucket *b, uint64_t bytes);

/* Pages for the next move_pages call: bounded by batch, by the tokens, and
 * by the pages left in the range; 0 means wait for tokens. */
uint64_t mh_batch_pages(uint64_t batch, uint64_t avail_bytes, uint64_t page_size,
			uint64_t pages_left);

/*
 * CPU budget: having used cpu_ns of CPU since window_start_ns, the earliest
 * time at which more work keeps usage within budget_ppm of one CPU.
 * Returns window_start_ns + cpu_ns * 1e6 / budget_ppm (0 ppm = unlimited:
 * returns 0).
 */
uint64_t mh_cpu_next_allowed(uint64_t window_start_ns, uint64_t cpu_ns, uint32_t budget_ppm);

/* Back-off for a range that failed `fails` passes in a row: base * 2^(fails-1), capped. */
uint64_t mh_backoff_ns(uint64_t base_ns, uint32_t fails);

#endif

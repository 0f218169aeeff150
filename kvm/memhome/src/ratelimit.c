// SPDX-License-Identifier: GPL-2.0
#include "ratelimit.h"

#define NSEC 1000000000ull

/* a * b / c without overflowing for the magnitudes used here */
static uint64_t muldiv(uint64_t a, uint64_t b, uint64_t c)
{
	return (uint64_t)((unsigned __int128)a * b / c);
}

void mh_bucket_init(struct mh_bucket *b, uint64_t rate, uint64_t burst, uint64_t now_ns)
{
	b->rate = rate;
	b->burst = burst ? burst : (rate ? rate / 10 : 0);
	b->tokens = b->burst;
	b->last_ns = now_ns;
}

uint64_t mh_bucket_avail(struct mh_bucket *b, uint64_t now_ns)
{
	uint64_t add;

	if (!b->rate)
		return UINT64_MAX;
	if (now_ns > b->last_ns) {
		add = muldiv(now_ns - b->last_ns, b->rate, NSEC);
		b->tokens = add >= b->burst - b->tokens ? b->burst : b->tokens + add;
		/* keep the remainder of the refill: advance only by the time the
		 * credited bytes took, rounded up so rounding never adds bytes */
		if (b->tokens == b->burst)
			b->last_ns = now_ns;
		else
			b->last_ns += muldiv(add, NSEC, b->rate) +
				      ((unsigned __int128)add * NSEC % b->rate != 0);
	}
	return b->tokens;
}

void mh_bucket_spend(struct mh_bucket *b, uint64_t bytes)
{
	if (!b->rate)
		return;
	b->tokens = bytes >= b->tokens ? 0 : b->tokens - bytes;
}

uint64_t mh_bucket_ready_at(const struct mh_bucket *b, uint64_t bytes)
{
	uint64_t need;

	if (!b->rate)
		return b->last_ns;
	if (bytes > b->burst)
		bytes = b->burst;
	if (b->tokens >= bytes)
		return b->last_ns;
	need = bytes - b->tokens;
	/* round up so the bucket really holds `bytes` at the returned time */
	return b->last_ns + muldiv(need, NSEC, b->rate) + 1;
}

uint64_t mh_batch_pages(uint64_t batch, uint64_t avail_bytes, uint64_t page_size,
			uint64_t pages_left)
{
	uint64_t n = batch;

	if (!page_size)
		return 0;
	if (avail_bytes / page_size < n)
		n = avail_bytes / page_size;
	if (pages_left < n)
		n = pages_left;
	return n;
}

uint64_t mh_cpu_next_allowed(uint64_t window_start_ns, uint64_t cpu_ns, uint32_t budget_ppm)
{
	if (!budget_ppm)
		return 0;
	return window_start_ns + muldiv(cpu_ns, 1000000, budget_ppm);
}

uint64_t mh_backoff_ns(uint64_t base_ns, uint32_t fails)
{
	uint32_t shift = fails ? fails - 1 : 0;

	if (shift > 16)
		shift = 16;
	if (base_ns > UINT64_MAX >> shift)
		return UINT64_MAX;
	return base_ns << shift;
}

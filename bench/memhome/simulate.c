// SPDX-License-Identifier: GPL-2.0
/*
 * Reproduces the shape of the INFOCOM'19 paper's figures 3 and 7: the share
 * of a 16 GB VM's memory on the remote node during 180 minutes of an I/O
 * workload, for vanilla (no repair), periodic (900 s) and threshold (500 MB)
 * repatriation. The displacement is a fluid model of first-touch/flipping:
 * each second d bytes of I/O buffers land on the remote node, taken from
 * local pages with probability (1 - remote share), calibrated so vanilla
 * reaches 25 % at 180 min (the paper's figure). Bursts model Big Bench's
 * phases. A small share of remote pages is pinned (I/O in flight) and cannot
 * move at that moment. The repair decisions are libmemhome's own
 * mh_policy_decide(); migration runs at the rate limit, measurements come
 * every scan interval, as in the controller.
 *
 * Two more columns model the guest-side fix (guest-driver/rxpool, the
 * paper's page pool, figs. 5 and 7b): flips only take pages of a pool whose
 * size follows Algorithm 1 (the module's own xpv_rxpool_next_size(), start
 * 500 MB, evaluated every second) on the I/O buffers in flight; a flipped
 * pool page is remote; a shrink hands pool pages back to the VM and the
 * remote ones among them stay remote. "pool+threshold" repatriates those
 * with the threshold policy. Columns pool_mb/used_mb give fig. 5's pool.
 * Usage: simulate [--minutes M] [--seed S] > out.csv
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "xpv_rxpool_alg.h"

#define S 1000000000ull
#define GB (1ull << 30)
#define MB (1ull << 20)

struct sim {
	struct mh_policy pol;
	double remote; /* bytes */
	uint64_t measured_remote, measured_ns, last_pass_ns;
	bool measured, active;
	double moved;
};

static uint64_t rng = 88172645463325252ull;

static double urand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (rng >> 11) * (1.0 / 9007199254740992.0);
}

int main(int argc, char **argv)
{
	const double mem = 16.0 * GB, rate = 256.0 * MB; /* migration rate limit, bytes/s */
	const double pinned_share = 0.002; /* of remote pages, at any time */
	unsigned long minutes = 180;
	struct sim sim[4]; /* vanilla, periodic, threshold, threshold on pool leftovers */
	const double page = 4096.0, inflight = 300.0 * MB; /* I/O buffers in flight at phase 1 */
	const struct xpv_rxpool_sizing sizing = {
		.min_pages = 16384, /* 64 MB */
		.max_pages = 4ull * GB / 4096,
		.grow_above_pct = 90,
		.shrink_below_pct = 20,
		.step_pct = 10,
	};
	double pool = 500.0 * MB, pool_remote = 0, leftover = 0, used = 0;
	/* 1 - exp(-k T) = 0.25 at T = 180 min: k per second */
	const double k = -log(0.75) / (180.0 * 60.0);

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--minutes") && i + 1 < argc)
			minutes = strtoul(argv[++i], NULL, 10);
		else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
			rng = strtoull(argv[++i], NULL, 10) | 1;
	}
	memset(sim, 0, sizeof(sim));
	for (int i = 0; i < 4; i++) {
		sim[i].pol.scan_interval_ns = 10 * S;
		sim[i].pol.min_gap_ns = 60 * S;
	}
	sim[0].pol.kind = MH_POLICY_OFF;
	sim[1].pol.kind = MH_POLICY_PERIODIC;
	sim[1].pol.period_ns = 900 * S;
	sim[2].pol.kind = MH_POLICY_THRESHOLD;
	sim[2].pol.threshold_bytes = 500 * MB;
	sim[3].pol = sim[2].pol;
	printf("minute,vanilla_pct,periodic_pct,threshold_pct,periodic_moved_gb,threshold_moved_"
	       "gb,pool_pct,pool_threshold_pct,pool_mb,used_mb\n");
	for (uint64_t t = 0; t <= minutes * 60; t++) {
		uint64_t now = t * S + 1; /* +1: start_ns 0 means "never" for last_pass */
		/* I/O intensity: Big Bench alternates heavy and light phases */
		double phase = 0.6 + 0.8 * (sin(t / 600.0) > 0) + 0.2 * (urand() - 0.5);
		double flip = k * mem * phase;

		/* the pool: flips hit its local pages; Algorithm 1 once a second */
		{
			double next;

			used = inflight * phase * phase;
			pool_remote += flip * (1.0 - pool_remote / pool);
			next = page * xpv_rxpool_next_size(&sizing, (uint64_t)(pool / page),
							   (uint64_t)(used / page));
			if (next < pool) {
				/* released pages: remote ones in proportion */
				double gone = (pool - next) * pool_remote / pool;

				pool_remote -= gone;
				leftover += gone;
				sim[3].remote += gone;
			}
			pool = next;
		}
		for (int i = 0; i < 4; i++) {
			struct sim *s = &sim[i];
			struct mh_policy_input in;
			struct mh_decision d;

			if (i < 3)
				s->remote += flip * (1.0 - s->remote / mem);
			for (int round = 0; round < 3; round++) {
				in = (struct mh_policy_input){
					.now_ns = now,
					.start_ns = 1,
					.last_pass_ns = s->last_pass_ns,
					.measured = s->measured,
					.measured_ns = s->measured_ns,
					.remote_bytes = s->measured_remote,
					.unmovable_bytes =
						(uint64_t)(s->measured_remote * pinned_share),
					.pass_active = s->active,
				};
				d = mh_policy_decide(&s->pol, &in);
				if (d.action == MH_ACT_MEASURE) {
					s->measured = true;
					s->measured_ns = now;
					s->measured_remote = (uint64_t)s->remote;
					continue;
				}
				if (d.action == MH_ACT_REPATRIATE) {
					double floor = s->remote * pinned_share, m;

					if (!s->active)
						s->last_pass_ns = now;
					s->active = true;
					m = s->remote - floor < rate ? s->remote - floor : rate;
					s->remote -= m;
					s->moved += m;
					if (s->remote <= floor + 1.0) {
						/* pass over: measure again before the next decision */
						s->active = false;
						s->measured = false;
					}
				}
				break;
			}
		}
		if (t % 10 == 0)
			printf("%.3f,%.3f,%.3f,%.3f,%.2f,%.2f,%.3f,%.3f,%.1f,%.1f\n", t / 60.0,
			       100 * sim[0].remote / mem, 100 * sim[1].remote / mem,
			       100 * sim[2].remote / mem, sim[1].moved / GB, sim[2].moved / GB,
			       100 * (pool_remote + leftover) / mem,
			       100 * (pool_remote + sim[3].remote) / mem, pool / MB, used / MB);
	}
	return 0;
}

// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

struct mh_decision mh_policy_decide(const struct mh_policy *p, const struct mh_policy_input *in)
{
	struct mh_decision d = {MH_ACT_NONE, UINT64_MAX, "idle"};
	uint64_t stale_at, movable, due;

	if (in->pass_active) {
		/* A pass runs to the end: stopping half-way would leave the
		 * layout as unpredictable as not starting. */
		d.action = MH_ACT_REPATRIATE;
		d.next_ns = in->now_ns;
		d.reason = "pass in progress";
		return d;
	}
	stale_at = in->measured ? sat_add(in->measured_ns, p->scan_interval_ns) : 0;
	if (!in->measured || in->now_ns >= stale_at) {
		d.action = MH_ACT_MEASURE;
		d.next_ns = in->now_ns;
		d.reason = in->measured ? "measurement stale" : "no measurement";
		return d;
	}
	movable =
		in->remote_bytes > in->unmovable_bytes ? in->remote_bytes - in->unmovable_bytes : 0;
	if (in->pass_requested) {
		d.action = MH_ACT_REPATRIATE;
		d.next_ns = in->now_ns;
		d.reason = "requested";
		return d;
	}
	switch (p->kind) {
	case MH_POLICY_OFF:
		d.next_ns = stale_at;
		d.reason = "policy off";
		break;
	case MH_POLICY_PERIODIC:
		due = sat_add(in->last_pass_ns ? in->last_pass_ns : in->start_ns, p->period_ns);
		if (in->now_ns < due) {
			d.next_ns = min_u64(due, stale_at);
			d.reason = "period not elapsed";
		} else if (in->measured_ns < due) {
			/* Decide on a measurement taken after the due time. */
			d.action = MH_ACT_MEASURE;
			d.next_ns = in->now_ns;
			d.reason = "period elapsed, measuring";
		} else if (movable == 0) {
			/* Nothing to move: the period restarts now, without a
			 * pass that would only burn CPU scanning. */
			d.next_ns = min_u64(sat_add(in->now_ns, p->period_ns), stale_at);
			d.reason = "period elapsed, nothing remote";
		} else {
			d.action = MH_ACT_REPATRIATE;
			d.next_ns = in->now_ns;
			d.reason = "period elapsed";
		}
		break;
	case MH_POLICY_THRESHOLD:
		if (movable <= p->threshold_bytes) {
			d.next_ns = stale_at;
			d.reason = "below threshold";
		} else if (in->last_pass_ns &&
			   in->now_ns < sat_add(in->last_pass_ns, p->min_gap_ns)) {
			d.next_ns = sat_add(in->last_pass_ns, p->min_gap_ns);
			d.reason = "above threshold, within minimum gap";
		} else {
			d.action = MH_ACT_REPATRIATE;
			d.next_ns = in->now_ns;
			d.reason = "above threshold";
		}
		break;
	}
	return d;
}

/* A decimal number and an optional suffix; the suffix table maps to factors. */
static int parse_suffixed(const char *s, uint64_t *out, const char *const *sfx,
			  const uint64_t *mult, uint64_t plain)
{
	char *end;
	unsigned long long v;
	uint64_t m = 0;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (*end == '\0') {
		m = plain;
	} else {
		for (int i = 0; sfx[i]; i++) {
			if (!strcmp(end, sfx[i])) {
				m = mult[i];
				break;
			}
		}
		if (!m)
			return -EINVAL;
	}
	if (v && v > UINT64_MAX / m)
		return -EINVAL;
	*out = v * m;
	return 0;
}

int mh_parse_duration_ns(const char *s, uint64_t *out)
{
	static const char *const sfx[] = {"ms", "s", "m", "min", "h", NULL};
	static const uint64_t mult[] = {1000000ull, 1000000000ull, 60000000000ull, 60000000000ull,
					3600000000000ull};

	/* a plain number is seconds, as in the paper's period_flip */
	return parse_suffixed(s, out, sfx, mult, 1000000000ull);
}

int mh_parse_bytes(const char *s, uint64_t *out)
{
	static const char *const sfx[] = {"K",	 "KiB", "KB", "M",   "MiB", "MB", "G",
					  "GiB", "GB",	"T",  "TiB", "TB",  NULL};
	static const uint64_t mult[] = {1ull << 10, 1ull << 10, 1ull << 10, 1ull << 20,
					1ull << 20, 1ull << 20, 1ull << 30, 1ull << 30,
					1ull << 30, 1ull << 40, 1ull << 40, 1ull << 40};

	/* binary multiples throughout: the paper's "500 MB" is taken as 500 MiB */
	return parse_suffixed(s, out, sfx, mult, 1);
}

int mh_parse_policy_kind(const char *s, enum mh_policy_kind *out)
{
	if (!strcmp(s, "periodic"))
		*out = MH_POLICY_PERIODIC;
	else if (!strcmp(s, "threshold"))
		*out = MH_POLICY_THRESHOLD;
	else if (!strcmp(s, "off"))
		*out = MH_POLICY_OFF;
	else
		return -EINVAL;
	return 0;
}

const char *mh_policy_kind_name(enum mh_policy_kind k)
{
	switch (k) {
	case MH_POLICY_PERIODIC:
		return "periodic";
	case MH_POLICY_THRESHOLD:
		return "threshold";
	default:
		return "off";
	}
}

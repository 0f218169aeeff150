// SPDX-License-Identifier: GPL-2.0
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "units.h"

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

/* kvm/common's parser: one syntax for sizes and durations in all of kvm/ */
int mh_parse_duration_ns(const char *s, uint64_t *out)
{
	return xpv_parse_duration_ns(s, out);
}

int mh_parse_bytes(const char *s, uint64_t *out)
{
	return xpv_parse_bytes(s, out);
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

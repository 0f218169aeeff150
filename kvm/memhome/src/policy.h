/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The repatriation policy as a pure function (no clock, no I/O), so every
 * decision can be unit-tested on synthetic inputs. The two policies are the
 * INFOCOM'19 paper's: periodic (period_flip, best 900 s) and threshold
 * (remote_memSize, 500 MB).
 */
#ifndef MEMHOME_POLICY_H
#define MEMHOME_POLICY_H

#include <stdbool.h>
#include <stdint.h>

enum mh_policy_kind {
	MH_POLICY_OFF = 0, /* measure only */
	MH_POLICY_PERIODIC,
	MH_POLICY_THRESHOLD,
};

struct mh_policy {
	enum mh_policy_kind kind;
	uint64_t period_ns; /* periodic: time between pass starts */
	uint64_t threshold_bytes; /* threshold: movable remote bytes that trigger a pass */
	uint64_t scan_interval_ns; /* how old a measurement may get */
	uint64_t min_gap_ns; /* threshold: least time between pass starts */
};

struct mh_policy_input {
	uint64_t now_ns;
	uint64_t start_ns; /* when the VM was taken under management */
	uint64_t last_pass_ns; /* start of the last pass; 0 = none yet */
	bool measured; /* a measurement exists */
	uint64_t measured_ns; /* when it was taken */
	uint64_t remote_bytes; /* from it */
	uint64_t unmovable_bytes; /* remote bytes in ranges given up or backing off */
	bool pass_active; /* a pass is under way */
	bool pass_requested; /* forced by an operator */
};

enum mh_action {
	MH_ACT_NONE, /* nothing until next_ns */
	MH_ACT_MEASURE, /* take a measurement, then decide again */
	MH_ACT_REPATRIATE, /* start or continue a pass */
};

struct mh_decision {
	enum mh_action action;
	uint64_t next_ns; /* for MH_ACT_NONE: when to decide again */
	const char *reason; /* static string, for logs */
};

struct mh_decision mh_policy_decide(const struct mh_policy *p, const struct mh_policy_input *in);

/* Parsing helpers for CLI/config: "900", "15m", "2h", "500M", "1G". 0 or -EINVAL. */
int mh_parse_duration_ns(const char *s, uint64_t *out);
int mh_parse_bytes(const char *s, uint64_t *out);
int mh_parse_policy_kind(const char *s, enum mh_policy_kind *out);
const char *mh_policy_kind_name(enum mh_policy_kind k);

#endif

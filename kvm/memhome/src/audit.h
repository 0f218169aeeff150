/* SPDX-License-Identifier: GPL-2.0 */
/* What lets guest memory drift off its home node, checked on a host and a VM. */
#ifndef MEMHOME_AUDIT_H
#define MEMHOME_AUDIT_H

#include "error.h"

enum mh_severity { MH_SEV_OK, MH_SEV_INFO, MH_SEV_WARN };

struct mh_audit_opts {
	const char *proc_root; /* "/proc" */
	const char *sys_root; /* "/sys" */
	int pid; /* 0: host checks only */
	const char *qmp_path; /* optional */
	int qmp_timeout_ms; /* budget of each QMP exchange; 0: 5000 */
	unsigned long long min_region_size;
};

typedef void (*mh_finding_fn)(enum mh_severity sev, const char *code, const char *msg, void *arg);

/* Returns the number of warnings, or a negative errno for a failed check. */
int mh_audit(const struct mh_audit_opts *o, mh_finding_fn fn, void *arg, struct xpv_error **err);

const char *mh_severity_name(enum mh_severity s);

#endif

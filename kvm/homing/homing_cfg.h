/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The memory-homing controller's configuration
 * (section "homing"), the libvirt sources of a VM's policy and home nodes
 * (<xpvh:homing> metadata, <numatune>), all pure so the unit tests can feed
 * them strings.  The controller itself is homing.c; nothing here depends on it.
 */
#ifndef XPV_HOMING_CFG_H
#define XPV_HOMING_CFG_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "memhome.h"
#include "qmp.h"

#define XPV_HOMING_XMLNS "http://xpv.invalid/xmlns/xpv/homing/1.0"

/* One VM's homing parameters; the section's own keys are the defaults. */
/* What homing does with a VM's vhost workers (homing_vhost.h). */
enum homing_vhost_mode {
	HOMING_VHOST_HOME, /* pinned to the CPUs of the VM's home node(s) */
	HOMING_VHOST_KEEP, /* left alone */
};

struct homing_params {
	int policy; /* -1: not managed, else enum mh_policy_kind */
	enum homing_vhost_mode vhost; /* "vhost_affinity" */
	uint64_t period_ns, threshold_bytes, scan_interval_ns, min_gap_ns;
	uint64_t rate_bytes_per_s; /* 0: unlimited */
	uint32_t cpu_budget_ppm; /* 0: unlimited */
	uint64_t min_region_bytes;
	int default_home; /* "*" in home: -1 none */
	int nr_specs;
	struct mh_region_spec *specs; /* memdev or range -> node */
	char *pid_file; /* plain VMs: which process is "QEMU" */
	char *qmp; /* a spare QMP socket (not for libvirt domains) */
};

struct homing_cfg {
	struct homing_params defaults;
	size_t n_vms;
	char **names;
	struct homing_params *vms;
	bool use_metadata; /* <xpvh:homing> in libvirt domain metadata */
	bool use_numatune; /* home nodes from the domain XML */
	char *libvirt_uri;
	char *log_path; /* time series, NULL: none */
	bool log_csv;
	uint64_t retry_ns; /* after a VM could not be set up */
	/* repatriation time per control period, all VMs together */
	uint64_t tick_budget_ns;
};

/* Which VMs get repatriation time this period: starting at next (round
 * robin, so a VM left out goes first next time), while the budget lasts.
 * Only time inside libmemhome counts (spent_ns), not discovery or set-up. */
struct homing_budget {
	uint64_t budget_ns, spent_ns;
	size_t next; /* first VM of the next period */
};
/* The slice the next VM may use, 0 when less than 1 ms is left. */
uint64_t homing_budget_slice(const struct homing_budget *b, uint64_t vm_slice_ns);

/* Validates section "homing" (may be NULL); errors name the key. */
int homing_config_parse(json_t *sec, struct homing_cfg *c, struct xpv_error **err);
void homing_config_free(struct homing_cfg *c);
/* The VM's entry, or the defaults. */
const struct homing_params *homing_config_vm(const struct homing_cfg *c, const char *name);
/* Deep copy (specs, strings). */
int homing_params_copy(struct homing_params *dst, const struct homing_params *src);
void homing_params_free(struct homing_params *p);
/* "home" / "keep" -> mode; -1 for anything else. */
int homing_vhost_mode_parse(const char *s);
const char *homing_vhost_mode_name(enum homing_vhost_mode m);

/* Applies <xpvh:homing policy=".." threshold=".." period=".." rate=".."
 * cpu-budget=".." min-gap=".." scan-interval=".." vhost-affinity=".."/> over p.  0 when applied,
 * < 0 with an error naming the attribute (p then unchanged). */
int homing_meta_apply(const char *xml, struct homing_params *p, struct xpv_error **err);

/*
 * Home nodes from a libvirt domain XML: each <numatune><memnode cellid=N
 * mode=M nodeset=S/> with its <cpu><numa><cell id=N memory=..> becomes the
 * memdev libvirt creates ("ram-nodeN", size, policy, host nodes); a
 * <numatune><memory nodeset=S/> gives *default_home (first node of S).
 * *out is malloc'd (NULL and *n = 0 when there is no memnode).
 */
int homing_numatune_parse(const char *xml, struct mh_memdev **out, int *n, int *default_home,
			  struct xpv_error **err);

#endif

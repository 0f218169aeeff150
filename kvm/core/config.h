/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xpvd's configuration: one JSON file.  Every object is checked against a
 * key table; an unknown key or a bad value fails the load with a message
 * naming the key ("kyoto.floor: must be a number in [0.01, 1]").
 * Controllers own their own section (e.g. "kyoto") and validate it with the
 * same helpers.
 */
#ifndef XPV_CONFIG_H
#define XPV_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define XPV_MAX_PLAIN 64

struct xpv_plain_cgroup {
	char *name; /* VM name used by xpvctl, metrics and permits */
	char *path; /* relative to the cpu controller mount */
};

struct xpv_config {
	unsigned period_ms;
	char *socket_path;
	char *state_file;
	char *cgroup_root;
	int cgroup_version; /* 0 auto, 1, 2 */
	char *metrics_listen; /* "unix:/path", "127.0.0.1:PORT" or NULL */
	bool libvirt;
	size_t n_plain;
	struct xpv_plain_cgroup plain[XPV_MAX_PLAIN];
	json_t *root; /* whole document, for controller sections */
};

/* Names of the top-level sections owned by controllers. */
int config_load_file(struct xpv_config *cfg, const char *path, const char *const *sections,
		     struct xpv_error **err);
int config_load_string(struct xpv_config *cfg, const char *text, const char *const *sections,
		       struct xpv_error **err);
void config_free(struct xpv_config *cfg);
/* The section object of a controller, or NULL when absent. */
json_t *config_section(const struct xpv_config *cfg, const char *name);

/* Helpers for validating an object against a key table. */
/* CFG_SIZE: bytes, as a number or a string with a binary suffix ("500M"). */
enum cfg_type { CFG_INT, CFG_NUM, CFG_STR, CFG_BOOL, CFG_OBJ, CFG_ARR, CFG_SIZE };
struct cfg_key {
	const char *name;
	enum cfg_type type;
	double min, max; /* for CFG_INT / CFG_NUM / CFG_SIZE */
};
/* Check every key of obj is in keys[] (NULL-name terminated) and typed and
 * ranged correctly; prefix names the object in messages ("kyoto"). */
int config_check(json_t *obj, const char *prefix, const struct cfg_key *keys,
		 struct xpv_error **err);

/* The value of a CFG_SIZE key (already checked by config_check). */
int config_size(json_t *v, double *bytes);

#endif

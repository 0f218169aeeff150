/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The interface between xpvd's main loop and its controllers.  main.c
 * discovers the VMs once per period and hands the list to every
 * controller; a new controller is one new file with one of these and a
 * line in main.c's table.  The controller's name is also the name of its
 * configuration section, which it validates in init() before any side
 * effect.
 */
#ifndef XPV_CONTROLLER_H
#define XPV_CONTROLLER_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "discovery.h"
#include "enforce.h"
#include "error.h"
#include "state.h"

struct xpv_host {
	const struct xpv_config *cfg;
	const struct cg_ops *ops; /* cgroup v1 or v2 */
	const char *mount; /* cpu controller directory */
	struct xpv_state *state; /* saved cgroup values */
};

struct xpv_controller {
	const char *name;
	int (*init)(void **priv, const struct xpv_host *host, struct xpv_error **err);
	int (*tick)(void *priv, const struct xpv_vm_list *vms, uint64_t period_ns,
		    struct xpv_error **err);
	/* A JSON object for `xpvctl status`. */
	json_t *(*status)(void *priv);
	/* Prometheus text lines. */
	void (*metrics)(void *priv, FILE *out);
	/* argv from xpvctl; 1 handled (*reply set), 0 not ours, < 0 error */
	int (*command)(void *priv, int argc, char **argv, json_t **reply, struct xpv_error **err);
	/* Optional.  At a reload (SIGHUP), before the replaced controller is
	 * shut down: take over what operators set at run time through xpvctl
	 * (it is not in the configuration file, so init() cannot know it). */
	void (*adopt)(void *priv, const void *old_priv);
	/* Undo every change (restore cgroups) and free. */
	void (*shutdown)(void *priv);
};

extern const struct xpv_controller kyoto_controller;
extern const struct xpv_controller homing_controller;

#endif

/* SPDX-License-Identifier: GPL-2.0 */
#ifndef XPV_MEMHOME_TOOL_H
#define XPV_MEMHOME_TOOL_H

#include <stdbool.h>
#include <stdio.h>

#include "memhome.h"

/* exit codes */
#define EXIT_USAGE 2
#define EXIT_GONE 3 /* the target process exited */

/* Options shared by the verbs that look at one process. */
struct target_opts {
	struct mh_vm_opts vm;
	struct mh_region_spec specs[32];
	bool json;
};

void target_opts_init(struct target_opts *t);
/* Handles a shared option; 1 if consumed, 0 if not ours, -1 on a bad value. */
int target_opt(struct target_opts *t, int opt, const char *arg);
int target_check(const struct target_opts *t);

/* shared long options, to append to each verb's table */
// clang-format off
#define TARGET_LONG_OPTS \
	{ "pid", required_argument, NULL, 'p' }, \
	{ "qmp", required_argument, NULL, 'q' }, \
	{ "region", required_argument, NULL, 'r' }, \
	{ "home", required_argument, NULL, 'H' }, \
	{ "min-size", required_argument, NULL, 'm' }, \
	{ "json", no_argument, NULL, 'j' }, \
	{ "proc-root", required_argument, NULL, 'P' }
// clang-format on

void print_region_json(FILE *f, const struct mh_region *r);
void print_error(const char *verb, struct xpv_error **err);

int cmd_status(int argc, char **argv);
int cmd_repatriate(int argc, char **argv);
int cmd_audit(int argc, char **argv);

#endif

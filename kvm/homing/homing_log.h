/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * homing's time series log (homing.log): one line per libmemhome event, as
 * JSON lines (through jansson) or CSV with one column per host node.
 */
#ifndef XPV_HOMING_LOG_H
#define XPV_HOMING_LOG_H

#include <stdbool.h>

#include "error.h"
#include "memhome.h"

struct homing_log;

/* Append to path (created if needed); the CSV header is written once. */
int homing_log_open(const char *path, bool csv, struct homing_log **out, struct xpv_error **err);
void homing_log_event(struct homing_log *l, const char *vm_name, const struct mh_vm *vm,
		      const struct mh_event *ev);
void homing_log_close(struct homing_log *l);

#endif

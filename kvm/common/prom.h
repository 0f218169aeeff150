/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one Prometheus text-format writer (exposition format 0.0.4) of xpvd:
 * every controller writes its families through it, so every label value
 * is escaped the same way (backslash, double quote and newline; a VM name
 * comes from a cgroup path or a libvirt domain and may hold any of them).
 * Serving the endpoint is metrics.c's job.
 *
 * A prom_set collects samples in any order and writes them grouped by
 * family, each family once with its HELP and TYPE lines, as the format
 * requires.
 */
#ifndef XPV_PROM_H
#define XPV_PROM_H

#include <stdio.h>

/* Label value, escaped, without the quotes. */
void prom_label_value(FILE *f, const char *s);
/* "# HELP name help\n# TYPE name type\n" */
void prom_family(FILE *f, const char *name, const char *type, const char *help);
/* name{k1="v1",k2="v2"} value; labels is k, v, k, v, ..., NULL (or NULL). */
void prom_sample(FILE *f, const char *name, const char *const *labels, double value);

struct prom_set;
struct prom_set *prom_set_new(void);
/* Type: "counter" when the name ends in _total, else "gauge". */
void prom_set_add(struct prom_set *s, const char *name, const char *help, const char *const *labels,
		  double value);
/* Write every family (first-seen order) and free the set. */
void prom_set_write(struct prom_set *s, FILE *f);

#endif

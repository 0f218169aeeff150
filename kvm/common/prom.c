// SPDX-License-Identifier: GPL-2.0-or-later
#define _GNU_SOURCE
#include "prom.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

void prom_label_value(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

void prom_family(FILE *f, const char *name, const char *type, const char *help)
{
	/* HELP text escapes backslash and newline only */
	fprintf(f, "# HELP %s ", name);
	for (const char *p = help; p && *p; p++) {
		if (*p == '\\')
			fputs("\\\\", f);
		else if (*p == '\n')
			fputs("\\n", f);
		else
			fputc(*p, f);
	}
	fprintf(f, "\n# TYPE %s %s\n", name, type);
}

void prom_sample(FILE *f, const char *name, const char *const *labels, double value)
{
	fputs(name, f);
	if (labels && labels[0]) {
		fputc('{', f);
		for (size_t i = 0; labels[i] && labels[i + 1]; i += 2) {
			fprintf(f, "%s%s=\"", i ? "," : "", labels[i]);
			prom_label_value(f, labels[i + 1]);
			fputc('"', f);
		}
		fputc('}', f);
	}
	fprintf(f, " %.17g\n", value);
}

struct prom_line {
	const char *name, *help; /* static strings of the caller */
	char *text;
};

struct prom_set {
	struct prom_line *v;
	size_t n;
};

struct prom_set *prom_set_new(void)
{
	return calloc(1, sizeof(struct prom_set));
}

void prom_set_add(struct prom_set *s, const char *name, const char *help, const char *const *labels,
		  double value)
{
	struct prom_line *nv;
	size_t len = 0;
	char *text = NULL;
	FILE *f;

	if (!s)
		return;
	nv = realloc(s->v, (s->n + 1) * sizeof(*nv));
	if (!nv)
		return;
	s->v = nv;
	f = open_memstream(&text, &len);
	if (!f)
		return;
	prom_sample(f, name, labels, value);
	if (fclose(f) != 0) {
		free(text);
		return;
	}
	s->v[s->n++] = (struct prom_line){name, help, text};
}

void prom_set_write(struct prom_set *s, FILE *f)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		size_t len = strlen(s->v[i].name);
		bool seen = false;

		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcmp(s->v[j].name, s->v[i].name);
		if (seen)
			continue;
		prom_family(f, s->v[i].name,
			    len > 6 && !strcmp(s->v[i].name + len - 6, "_total") ? "counter"
										 : "gauge",
			    s->v[i].help);
		for (size_t j = i; j < s->n; j++)
			if (!strcmp(s->v[j].name, s->v[i].name))
				fputs(s->v[j].text, f);
	}
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].text);
	free(s->v);
	free(s);
}

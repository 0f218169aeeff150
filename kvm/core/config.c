// SPDX-License-Identifier: GPL-2.0-or-later
#define _GNU_SOURCE
#include "config.h"
#include "units.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *type_name(enum cfg_type t)
{
	switch (t) {
	case CFG_INT:
		return "an integer";
	case CFG_NUM:
		return "a number";
	case CFG_STR:
		return "a string";
	case CFG_BOOL:
		return "true or false";
	case CFG_OBJ:
		return "an object";
	case CFG_ARR:
		return "an array";
	case CFG_SIZE:
		return "a number of bytes or a size such as \"500M\" (K, M, G, T: powers of 1024)";
	}
	return "?";
}

int config_size(json_t *v, double *bytes)
{
	uint64_t b;

	if (json_is_number(v)) {
		*bytes = json_number_value(v);
		return isfinite(*bytes) ? 0 : -1;
	}
	if (!json_is_string(v) || xpv_parse_bytes(json_string_value(v), &b) < 0)
		return -1;
	*bytes = (double)b;
	return 0;
}

int config_check(json_t *obj, const char *prefix, const struct cfg_key *keys,
		 struct xpv_error **err)
{
	const char *k;
	json_t *v;

	if (!json_is_object(obj))
		return xpv_error_set(err, 0, "%s: must be an object", prefix);
	json_object_foreach (obj, k, v) {
		const struct cfg_key *key = NULL;
		bool ok;

		for (const struct cfg_key *c = keys; c->name; c++)
			if (!strcmp(c->name, k))
				key = c;
		if (!key)
			return xpv_error_set(err, 0, "%s%s%s: unknown key", prefix,
					     *prefix ? "." : "", k);
		switch (key->type) {
		case CFG_INT:
			ok = json_is_integer(v);
			break;
		case CFG_NUM:
			ok = json_is_number(v);
			break;
		case CFG_STR:
			ok = json_is_string(v) && json_string_length(v) > 0;
			break;
		case CFG_BOOL:
			ok = json_is_boolean(v);
			break;
		case CFG_OBJ:
			ok = json_is_object(v);
			break;
		case CFG_SIZE:
			ok = config_size(v, &(double){0}) == 0;
			break;
		default:
			ok = json_is_array(v);
			break;
		}
		if (!ok)
			return xpv_error_set(err, 0, "%s%s%s: must be %s", prefix,
					     *prefix ? "." : "", k, type_name(key->type));
		if (key->type == CFG_INT || key->type == CFG_NUM || key->type == CFG_SIZE) {
			double d = json_number_value(v);

			if (key->type == CFG_SIZE)
				config_size(v, &d);

			if (!isfinite(d) || d < key->min || d > key->max)
				return xpv_error_set(err, 0, "%s%s%s: %g is out of range [%g, %g]",
						     prefix, *prefix ? "." : "", k, d, key->min,
						     key->max);
		}
	}
	return 0;
}

static char *dup_str(json_t *obj, const char *key, const char *dfl)
{
	json_t *v = json_object_get(obj, key);

	if (json_is_string(v))
		return strdup(json_string_value(v));
	return dfl ? strdup(dfl) : NULL;
}

static int check_listen(const char *s, struct xpv_error **err)
{
	const char *colon;
	char *end;
	long port;

	if (!strncmp(s, "unix:", 5) && s[5] == '/')
		return 0;
	colon = strrchr(s, ':');
	if (colon && (!strncmp(s, "127.0.0.1:", 10) || !strncmp(s, "localhost:", 10))) {
		port = strtol(colon + 1, &end, 10);
		if (!*end && port > 0 && port < 65536)
			return 0;
	}
	return xpv_error_set(err, 0, "metrics.listen: `%s` is not unix:/PATH or 127.0.0.1:PORT", s);
}

static int parse(struct xpv_config *cfg, const char *const *sections, struct xpv_error **err)
{
	static const struct cfg_key top[] = {
		{"period_ms", CFG_INT, 10, 10000}, {"socket", CFG_STR, 0, 0},
		{"state_file", CFG_STR, 0, 0},	   {"cgroup_root", CFG_STR, 0, 0},
		{"cgroup_version", CFG_INT, 0, 2}, {"metrics", CFG_OBJ, 0, 0},
		{"discovery", CFG_OBJ, 0, 0},	   {NULL, 0, 0, 0},
	};
	static const struct cfg_key metrics[] = {
		{"listen", CFG_STR, 0, 0},
		{NULL, 0, 0, 0},
	};
	static const struct cfg_key disc[] = {
		{"libvirt", CFG_BOOL, 0, 0},
		{"cgroups", CFG_ARR, 0, 0},
		{NULL, 0, 0, 0},
	};
	static const struct cfg_key plain[] = {
		{"name", CFG_STR, 0, 0},
		{"path", CFG_STR, 0, 0},
		{NULL, 0, 0, 0},
	};
	json_t *root = cfg->root, *m, *d, *arr, *it;
	struct cfg_key keys[32];
	size_t n = 0, i;
	int ret;

	if (!json_is_object(root))
		return xpv_error_set(err, 0, "configuration must be a JSON object");
	/* Controllers' sections are objects validated by the controller. */
	for (; top[n].name; n++)
		keys[n] = top[n];
	for (i = 0; sections && sections[i] && n < 31; i++, n++)
		keys[n] = (struct cfg_key){sections[i], CFG_OBJ, 0, 0};
	keys[n] = (struct cfg_key){NULL, 0, 0, 0};
	ret = config_check(root, "", keys, err);
	if (ret < 0)
		return ret;

	cfg->period_ms = json_is_integer(json_object_get(root, "period_ms"))
				 ? json_integer_value(json_object_get(root, "period_ms"))
				 : 100;
	cfg->socket_path = dup_str(root, "socket", "/run/xpvd/ctl.sock");
	cfg->state_file = dup_str(root, "state_file", "/var/lib/xpvd/state.json");
	cfg->cgroup_root = dup_str(root, "cgroup_root", "/sys/fs/cgroup");
	cfg->cgroup_version = json_integer_value(json_object_get(root, "cgroup_version"));
	if (cfg->socket_path[0] != '/' || cfg->state_file[0] != '/' || cfg->cgroup_root[0] != '/')
		return xpv_error_set(err, 0, "%s: must be an absolute path",
				     cfg->socket_path[0] != '/'	 ? "socket"
				     : cfg->state_file[0] != '/' ? "state_file"
								 : "cgroup_root");
	if (strlen(cfg->socket_path) >= 100)
		return xpv_error_set(err, 0, "socket: path too long");

	m = json_object_get(root, "metrics");
	if (m) {
		ret = config_check(m, "metrics", metrics, err);
		if (ret < 0)
			return ret;
		cfg->metrics_listen = dup_str(m, "listen", NULL);
		if (cfg->metrics_listen && (ret = check_listen(cfg->metrics_listen, err)) < 0)
			return ret;
	}

	cfg->libvirt = true;
	d = json_object_get(root, "discovery");
	if (!d)
		return 0;
	ret = config_check(d, "discovery", disc, err);
	if (ret < 0)
		return ret;
	if (json_object_get(d, "libvirt"))
		cfg->libvirt = json_is_true(json_object_get(d, "libvirt"));
	arr = json_object_get(d, "cgroups");
	json_array_foreach (arr, i, it) {
		char pfx[64];
		const char *name, *path;

		snprintf(pfx, sizeof(pfx), "discovery.cgroups[%zu]", i);
		ret = config_check(it, pfx, plain, err);
		if (ret < 0)
			return ret;
		name = json_string_value(json_object_get(it, "name"));
		path = json_string_value(json_object_get(it, "path"));
		if (!name || !path)
			return xpv_error_set(err, 0, "%s: needs \"name\" and \"path\"", pfx);
		if (!xpv_name_valid(name))
			return xpv_error_set(err, 0,
					     "%s.name: `%s` must be 1-128 of [A-Za-z0-9-_.+]", pfx,
					     name);
		if (strstr(path, "..") || path[0] == '/')
			return xpv_error_set(err, 0,
					     "%s.path: `%s` must be relative to the cpu controller "
					     "and contain no `..`",
					     pfx, path);
		for (size_t j = 0; j < cfg->n_plain; j++)
			if (!strcmp(cfg->plain[j].name, name))
				return xpv_error_set(err, 0, "%s.name: `%s` is used twice", pfx,
						     name);
		if (cfg->n_plain == XPV_MAX_PLAIN)
			return xpv_error_set(err, 0, "discovery.cgroups: more than %d",
					     XPV_MAX_PLAIN);
		cfg->plain[cfg->n_plain].name = strdup(name);
		cfg->plain[cfg->n_plain].path = strdup(path);
		cfg->n_plain++;
	}
	return 0;
}

int config_load_string(struct xpv_config *cfg, const char *text, const char *const *sections,
		       struct xpv_error **err)
{
	json_error_t jerr;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	cfg->root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!cfg->root)
		return xpv_error_set(err, 0, "line %d: %s", jerr.line, jerr.text);
	ret = parse(cfg, sections, err);
	if (ret < 0)
		config_free(cfg);
	return ret;
}

int config_load_file(struct xpv_config *cfg, const char *path, const char *const *sections,
		     struct xpv_error **err)
{
	json_error_t jerr;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	cfg->root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!cfg->root)
		return xpv_error_set(err, 0, "`%s` line %d: %s", path, jerr.line, jerr.text);
	ret = parse(cfg, sections, err);
	if (ret < 0) {
		config_free(cfg);
		return xpv_error_wrap(err, "`%s`", path);
	}
	return ret;
}

void config_free(struct xpv_config *cfg)
{
	free(cfg->socket_path);
	free(cfg->state_file);
	free(cfg->cgroup_root);
	free(cfg->metrics_listen);
	for (size_t i = 0; i < cfg->n_plain; i++) {
		free(cfg->plain[i].name);
		free(cfg->plain[i].path);
	}
	if (cfg->root)
		json_decref(cfg->root);
	memset(cfg, 0, sizeof(*cfg));
}

json_t *config_section(const struct xpv_config *cfg, const char *name)
{
	return json_object_get(cfg->root, name);
}

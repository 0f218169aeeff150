// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Configuration of the homing controller and its libvirt sources: the
 * "homing" section, <xpvh:homing> metadata and <numatune>.  Pure functions;
 * every error names the key or the attribute.
 */
#define _GNU_SOURCE
#include "homing_cfg.h"

#include <errno.h>
#include <inttypes.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "xml_elem.h"

#define NS 1000000000ull

/* Keys shared by the section (defaults) and the per-VM entries. */
#define PARAM_KEYS                                                                                 \
	{"policy", CFG_STR, 0, 0}, {"period_s", CFG_NUM, 0.001, 31536000},                         \
		{"threshold_bytes", CFG_SIZE, 0, 1e18},                                            \
		{"scan_interval_s", CFG_NUM, 0.001, 86400}, {"min_gap_s", CFG_NUM, 0, 86400},      \
		{"rate_bytes_per_s", CFG_SIZE, 0, 1e18}, {"cpu_budget_pct", CFG_NUM, 0, 100},      \
		{"min_region_bytes", CFG_SIZE, 4096, 1e18}, {"vhost_affinity", CFG_STR, 0, 0},     \
	{                                                                                          \
		"home", CFG_OBJ, 0, 0                                                              \
	}

int homing_vhost_mode_parse(const char *s)
{
	if (s && !strcmp(s, "home"))
		return HOMING_VHOST_HOME;
	if (s && !strcmp(s, "keep"))
		return HOMING_VHOST_KEEP;
	return -1;
}

const char *homing_vhost_mode_name(enum homing_vhost_mode m)
{
	return m == HOMING_VHOST_KEEP ? "keep" : "home";
}

static void params_default(struct homing_params *p)
{
	struct mh_vm_opts o;

	mh_vm_opts_init(&o);
	memset(p, 0, sizeof(*p));
	p->policy = -1;
	p->period_ns = o.policy.period_ns;
	p->threshold_bytes = o.policy.threshold_bytes;
	p->scan_interval_ns = o.policy.scan_interval_ns;
	p->min_gap_ns = o.policy.min_gap_ns;
	p->rate_bytes_per_s = o.rate_bytes_per_s;
	p->cpu_budget_ppm = o.cpu_budget_ppm;
	p->min_region_bytes = o.min_region_size;
	p->default_home = -1;
	/* A worker off the home node places every RX buffer the guest has not
	 * touched yet on its own node (issue 12: 256 of 256 pages); homing
	 * manages only VMs with a policy and restores the affinity it changed. */
	p->vhost = HOMING_VHOST_HOME;
}

void homing_params_free(struct homing_params *p)
{
	free(p->specs);
	free(p->pid_file);
	free(p->qmp);
	memset(p, 0, sizeof(*p));
}

int homing_params_copy(struct homing_params *dst, const struct homing_params *src)
{
	*dst = *src;
	dst->specs = NULL;
	dst->pid_file = src->pid_file ? strdup(src->pid_file) : NULL;
	dst->qmp = src->qmp ? strdup(src->qmp) : NULL;
	if (src->nr_specs) {
		dst->specs = malloc(src->nr_specs * sizeof(*dst->specs));
		if (dst->specs)
			memcpy(dst->specs, src->specs, src->nr_specs * sizeof(*dst->specs));
	}
	if ((src->pid_file && !dst->pid_file) || (src->qmp && !dst->qmp) ||
	    (src->nr_specs && !dst->specs)) {
		homing_params_free(dst);
		return -ENOMEM;
	}
	return 0;
}

static int parse_range(const char *s, uint64_t *start, uint64_t *end)
{
	unsigned long long a, b;
	int used = 0;

	if (sscanf(s, "0x%llx-0x%llx%n", &a, &b, &used) != 2 || s[used] || b <= a)
		return -1;
	*start = a;
	*end = b;
	return 0;
}

static bool valid_memdev_id(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= MH_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') &&
		    !(*s >= '0' && *s <= '9') && !strchr("-_.", *s))
			return false;
	return true;
}

static int parse_home(json_t *home, const char *pfx, struct homing_params *p,
		      struct xpv_error **err)
{
	const char *k;
	json_t *v;

	free(p->specs);
	p->specs = NULL;
	p->nr_specs = 0;
	p->default_home = -1;
	json_object_foreach (home, k, v) {
		struct mh_region_spec sp = {0};
		struct mh_region_spec *ns;

		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    json_integer_value(v) >= MH_MAX_NODES)
			return xpv_error_set(err, 0, "%s.home.%s: must be a host node 0-%d", pfx, k,
					     MH_MAX_NODES - 1);
		if (!strcmp(k, "*")) {
			p->default_home = (int)json_integer_value(v);
			continue;
		}
		if (!strncmp(k, "0x", 2)) {
			if (parse_range(k, &sp.start, &sp.end) < 0)
				return xpv_error_set(err, 0,
						     "%s.home.%s: not a range 0xSTART-0xEND "
						     "(END > START)",
						     pfx, k);
		} else if (valid_memdev_id(k)) {
			snprintf(sp.memdev, sizeof(sp.memdev), "%s", k);
		} else {
			return xpv_error_set(err, 0,
					     "%s.home.%s: not \"*\", a memdev id or a range "
					     "0xSTART-0xEND",
					     pfx, k);
		}
		sp.home = (int)json_integer_value(v);
		ns = realloc(p->specs, (p->nr_specs + 1) * sizeof(*ns));
		if (!ns)
			return xpv_error_set(err, ENOMEM, "%s.home", pfx);
		p->specs = ns;
		p->specs[p->nr_specs++] = sp;
	}
	return 0;
}

static int parse_params(json_t *o, const char *pfx, struct homing_params *p, struct xpv_error **err)
{
	json_t *v;
	double d;

	if ((v = json_object_get(o, "policy"))) {
		enum mh_policy_kind k;

		if (mh_parse_policy_kind(json_string_value(v), &k) < 0)
			return xpv_error_set(err, 0,
					     "%s.policy: `%s` is not \"periodic\", \"threshold\" "
					     "or \"off\"",
					     pfx, json_string_value(v));
		p->policy = k;
	}
	if ((v = json_object_get(o, "period_s")))
		p->period_ns = json_number_value(v) * NS;
	if ((v = json_object_get(o, "scan_interval_s")))
		p->scan_interval_ns = json_number_value(v) * NS;
	if ((v = json_object_get(o, "min_gap_s")))
		p->min_gap_ns = json_number_value(v) * NS;
	if ((v = json_object_get(o, "threshold_bytes")) && !config_size(v, &d))
		p->threshold_bytes = d;
	if ((v = json_object_get(o, "rate_bytes_per_s")) && !config_size(v, &d))
		p->rate_bytes_per_s = d;
	if ((v = json_object_get(o, "min_region_bytes")) && !config_size(v, &d))
		p->min_region_bytes = d;
	if ((v = json_object_get(o, "cpu_budget_pct")))
		p->cpu_budget_ppm = json_number_value(v) * 10000;
	if ((v = json_object_get(o, "vhost_affinity"))) {
		int m = homing_vhost_mode_parse(json_string_value(v));

		if (m < 0)
			return xpv_error_set(err, 0,
					     "%s.vhost_affinity: `%s` is not \"home\" or \"keep\"",
					     pfx, json_string_value(v));
		p->vhost = m;
	}
	if ((v = json_object_get(o, "home")))
		return parse_home(v, pfx, p, err);
	return 0;
}

static int abs_path(json_t *o, const char *key, const char *pfx, char **out, struct xpv_error **err)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (!s)
		return 0;
	if (s[0] != '/')
		return xpv_error_set(err, 0, "%s.%s: `%s` must be an absolute path", pfx, key, s);
	free(*out);
	*out = strdup(s);
	return *out ? 0 : xpv_error_set(err, ENOMEM, "%s.%s", pfx, key);
}

int homing_config_parse(json_t *sec, struct homing_cfg *c, struct xpv_error **err)
{
	static const struct cfg_key keys[] = {
		PARAM_KEYS,
		{"vms", CFG_OBJ, 0, 0},
		{"libvirt_metadata", CFG_BOOL, 0, 0},
		{"libvirt_numatune", CFG_BOOL, 0, 0},
		{"libvirt_uri", CFG_STR, 0, 0},
		{"log", CFG_STR, 0, 0},
		{"log_format", CFG_STR, 0, 0},
		{"retry_s", CFG_NUM, 0.1, 3600},
		{"tick_budget_ms", CFG_NUM, 1, 10000},
		{NULL, 0, 0, 0},
	};
	static const struct cfg_key vkeys[] = {
		PARAM_KEYS,
		{"pid_file", CFG_STR, 0, 0},
		{"qmp", CFG_STR, 0, 0},
		{NULL, 0, 0, 0},
	};
	const char *name, *fmt;
	json_t *v;
	int ret;

	memset(c, 0, sizeof(*c));
	params_default(&c->defaults);
	c->use_metadata = true;
	c->use_numatune = true;
	c->retry_ns = 5 * NS;
	c->tick_budget_ns = 20 * 1000000ull;
	if (sec) {
		ret = config_check(sec, "homing", keys, err);
		if (ret < 0)
			return ret;
		ret = parse_params(sec, "homing", &c->defaults, err);
		if (ret < 0)
			return ret;
		if ((v = json_object_get(sec, "libvirt_metadata")))
			c->use_metadata = json_is_true(v);
		if ((v = json_object_get(sec, "libvirt_numatune")))
			c->use_numatune = json_is_true(v);
		if ((v = json_object_get(sec, "libvirt_uri")))
			c->libvirt_uri = strdup(json_string_value(v));
		if ((v = json_object_get(sec, "tick_budget_ms")))
			c->tick_budget_ns = json_number_value(v) * 1e6;
		if ((v = json_object_get(sec, "retry_s")))
			c->retry_ns = json_number_value(v) * NS;
		ret = abs_path(sec, "log", "homing", &c->log_path, err);
		if (ret < 0)
			return ret;
		fmt = json_string_value(json_object_get(sec, "log_format"));
		if (fmt && strcmp(fmt, "json") && strcmp(fmt, "csv"))
			return xpv_error_set(
				err, 0, "homing.log_format: `%s` is not \"json\" or \"csv\"", fmt);
		c->log_csv = fmt && !strcmp(fmt, "csv");
		if (fmt && !c->log_path)
			return xpv_error_set(err, 0, "homing.log_format: needs homing.log");
		json_object_foreach (json_object_get(sec, "vms"), name, v) {
			char pfx[200];
			struct homing_params *p;
			char **nn;

			snprintf(pfx, sizeof(pfx), "homing.vms.%s", name);
			ret = config_check(v, pfx, vkeys, err);
			if (ret < 0)
				return ret;
			p = realloc(c->vms, (c->n_vms + 1) * sizeof(*p));
			if (p)
				c->vms = p;
			nn = realloc(c->names, (c->n_vms + 1) * sizeof(*nn));
			if (nn)
				c->names = nn;
			if (!p || !nn)
				return xpv_error_set(err, ENOMEM, "%s", pfx);
			p = &c->vms[c->n_vms];
			if (homing_params_copy(p, &c->defaults) < 0)
				return xpv_error_set(err, ENOMEM, "%s", pfx);
			c->names[c->n_vms++] = strdup(name);
			ret = parse_params(v, pfx, p, err);
			if (ret < 0)
				return ret;
			ret = abs_path(v, "pid_file", pfx, &p->pid_file, err);
			if (ret < 0)
				return ret;
			ret = abs_path(v, "qmp", pfx, &p->qmp, err);
			if (ret < 0)
				return ret;
		}
	}
	if (!c->libvirt_uri)
		c->libvirt_uri = strdup("qemu:///system");
	if (!c->libvirt_uri)
		return xpv_error_set(err, ENOMEM, "homing");
	return 0;
}

void homing_config_free(struct homing_cfg *c)
{
	homing_params_free(&c->defaults);
	for (size_t i = 0; i < c->n_vms; i++) {
		homing_params_free(&c->vms[i]);
		free(c->names[i]);
	}
	free(c->vms);
	free(c->names);
	free(c->libvirt_uri);
	free(c->log_path);
	memset(c, 0, sizeof(*c));
}

const struct homing_params *homing_config_vm(const struct homing_cfg *c, const char *name)
{
	for (size_t i = 0; i < c->n_vms; i++)
		if (c->names[i] && !strcmp(c->names[i], name))
			return &c->vms[i];
	return &c->defaults;
}

/* ---- libvirt metadata -------------------------------------------------- */

/* The value of attribute name of the metadata element; 1, 0 absent, < 0 bad. */
static int attr(const struct xpv_xml_elem *el, const char *name, char *buf, size_t len)
{
	char *v;
	int r = xpv_xml_elem_attr(el, name, &v);

	if (r <= 0)
		return r;
	if (strlen(v) >= len) {
		free(v);
		return -1;
	}
	strcpy(buf, v);
	free(v);
	return 1;
}

static int meta_apply(const struct xpv_xml_elem *xml, struct homing_params *p,
		      struct xpv_error **err);

/* "900", "15m", "1.5h" (mh_parse_duration_ns) */
static int meta_duration(const char *s, uint64_t *out)
{
	return mh_parse_duration_ns(s, out);
}

int homing_meta_apply(const char *xml, struct homing_params *p, struct xpv_error **err)
{
	struct xpv_xml_elem *el;
	int r;

	if (xpv_xml_elem_parse(xml, &el, err) < 0)
		return xpv_error_wrap(err, "metadata homing");
	r = meta_apply(el, p, err);
	xpv_xml_elem_free(el);
	return r;
}

static int meta_apply(const struct xpv_xml_elem *xml, struct homing_params *p,
		      struct xpv_error **err)
{
	struct homing_params t = *p;
	char buf[64], *end;
	int r;

	r = attr(xml, "policy", buf, sizeof(buf));
	if (r > 0) {
		enum mh_policy_kind k;

		if (mh_parse_policy_kind(buf, &k) < 0)
			return xpv_error_set(err, 0,
					     "metadata homing policy: `%s` is not \"periodic\", "
					     "\"threshold\" or \"off\"",
					     buf);
		t.policy = k;
	}
#define DUR(name, field)                                                                           \
	r = attr(xml, name, buf, sizeof(buf));                                                     \
	if (r < 0 || (r > 0 && (meta_duration(buf, &t.field) < 0 || !t.field)))                    \
		return xpv_error_set(err, 0,                                                       \
				     "metadata homing " name ": `%s` is not a duration such as "   \
				     "\"900\" or \"15m\"",                                         \
				     r > 0 ? buf : "?");
	DUR("period", period_ns)
	DUR("scan-interval", scan_interval_ns)
#undef DUR
	r = attr(xml, "min-gap", buf, sizeof(buf));
	if (r < 0 || (r > 0 && meta_duration(buf, &t.min_gap_ns) < 0))
		return xpv_error_set(err, 0,
				     "metadata homing min-gap: `%s` is not a duration such as "
				     "\"60\" or \"1m\"",
				     r > 0 ? buf : "?");
#define SIZE(name, field)                                                                          \
	r = attr(xml, name, buf, sizeof(buf));                                                     \
	if (r < 0 || (r > 0 && mh_parse_bytes(buf, &t.field) < 0))                                 \
		return xpv_error_set(err, 0,                                                       \
				     "metadata homing " name ": `%s` is not a size such as "       \
				     "\"500M\"",                                                   \
				     r > 0 ? buf : "?");
	SIZE("threshold", threshold_bytes)
	SIZE("rate", rate_bytes_per_s)
#undef SIZE
	r = attr(xml, "cpu-budget", buf, sizeof(buf));
	if (r != 0) {
		double d;

		errno = 0;
		d = r > 0 ? strtod(buf, &end) : -1;
		if (r < 0 || errno || end == buf || (*end && strcmp(end, "%")) || !isfinite(d) ||
		    d < 0 || d > 100)
			return xpv_error_set(err, 0,
					     "metadata homing cpu-budget: `%s` is not a "
					     "percentage of one CPU in [0, 100]",
					     r > 0 ? buf : "?");
		t.cpu_budget_ppm = d * 10000;
	}
	r = attr(xml, "vhost-affinity", buf, sizeof(buf));
	if (r != 0) {
		int m = r > 0 ? homing_vhost_mode_parse(buf) : -1;

		if (m < 0)
			return xpv_error_set(err, 0,
					     "metadata homing vhost-affinity: `%s` is not \"home\" "
					     "or \"keep\"",
					     r > 0 ? buf : "?");
		t.vhost = m;
	}
	*p = t;
	return 0;
}

/* ---- <numatune> -------------------------------------------------------- */

static int parse_nodeset(const char *s, uint64_t *mask)
{
	*mask = 0;
	while (*s) {
		char *end;
		long a = strtol(s, &end, 10), b;

		if (end == s || a < 0 || a >= 64)
			return -1;
		b = a;
		s = end;
		if (*s == '-') {
			b = strtol(s + 1, &end, 10);
			if (end == s + 1 || b < a || b >= 64)
				return -1;
			s = end;
		}
		for (long i = a; i <= b; i++)
			*mask |= 1ull << i;
		if (*s == ',')
			s++;
		else if (*s)
			return -1;
	}
	return *mask ? 0 : -1;
}

static int first_node(uint64_t mask)
{
	return mask ? __builtin_ctzll(mask) : -1;
}

static int parse_memory(const char *val, const char *unit, uint64_t *out)
{
	static const struct {
		const char *u;
		double mul;
	} units[] = {
		{"b", 1},
		{"bytes", 1},
		{"KB", 1e3},
		{"k", 1024},
		{"KiB", 1024},
		{"MB", 1e6},
		{"M", 1048576},
		{"MiB", 1048576},
		{"GB", 1e9},
		{"G", 1073741824.0},
		{"GiB", 1073741824.0},
		{"TB", 1e12},
		{"T", 1099511627776.0},
		{"TiB", 1099511627776.0},
	};
	double mul = 0;
	char *end;
	unsigned long long v;

	if (!unit)
		unit = "KiB";
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(unit, units[i].u))
			mul = units[i].mul;
	errno = 0;
	v = strtoull(val, &end, 10);
	if (!mul || errno || end == val || *end)
		return -1;
	*out = (uint64_t)(v * mul);
	return 0;
}

static xmlNode *child(xmlNode *n, const char *name)
{
	for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, name))
			return c;
	return NULL;
}

static char *prop(xmlNode *n, const char *name)
{
	return (char *)xmlGetProp(n, (const xmlChar *)name);
}

static const char *mode_policy(const char *mode)
{
	/* libvirt's modes as QEMU memory-backend policies; restrictive is
	 * enforced by cpuset.mems, so the backend keeps the default policy */
	return !mode || !strcmp(mode, "strict") ? "bind"
	       : !strcmp(mode, "preferred")	? "preferred"
	       : !strcmp(mode, "interleave")	? "interleave"
	       : !strcmp(mode, "restrictive")	? "default"
						: NULL;
}

struct tune {
	const char *pol; /* NULL: none given */
	uint64_t mask;
};

static int parse_tune(xmlNode *c, struct tune *t, struct xpv_error **err)
{
	char *mode = prop(c, "mode"), *nodeset = prop(c, "nodeset");
	int rc = 0;

	t->pol = mode_policy(mode);
	t->mask = 0;
	if (!t->pol)
		rc = xpv_error_set(err, 0, "numatune %s mode: `%s` is not known",
				   (const char *)c->name, mode);
	else if (nodeset && parse_nodeset(nodeset, &t->mask) < 0)
		rc = xpv_error_set(err, 0, "numatune %s nodeset: `%s` is not a node list",
				   (const char *)c->name, nodeset);
	else if (!nodeset)
		t->pol = NULL; /* placement='auto': numad decides, no home here */
	xmlFree(mode);
	xmlFree(nodeset);
	return rc;
}

static int parse_id(xmlNode *c, const char *name, long *id, struct xpv_error **err)
{
	char *s = prop(c, name), *end;
	int rc = 0;

	errno = 0;
	*id = s ? strtol(s, &end, 10) : -1;
	if (!s || errno || end == s || *end || *id < 0 || *id > 4096)
		rc = xpv_error_set(err, 0, "%s %s: `%s` is not a number", (const char *)c->name,
				   name, s ? s : "(missing)");
	xmlFree(s);
	return rc;
}

#define FOREACH_ELEM(c, parent, nm)                                                                \
	for (xmlNode *c = (parent) ? (parent)->children : NULL; c; c = c->next)                    \
		if (c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, nm))

int homing_numatune_parse(const char *xml, struct mh_memdev **out, int *n, int *default_home,
			  struct xpv_error **err)
{
	struct mh_memdev *v = NULL;
	struct tune global = {NULL, 0};
	xmlDoc *doc;
	xmlNode *root, *nt, *numa;
	int nr = 0, rc = 0;

	*out = NULL;
	*n = 0;
	*default_home = -1;
	doc = xmlReadMemory(xml, strlen(xml), "domain.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc)
		return xpv_error_set(err, 0, "domain XML: not well-formed");
	root = xmlDocGetRootElement(doc);
	if (!root || strcmp((const char *)root->name, "domain")) {
		rc = xpv_error_set(err, 0, "domain XML: no <domain>");
		goto out;
	}
	nt = child(root, "numatune");
	numa = child(child(root, "cpu"), "numa");
	if (!nt)
		goto out; /* no placement: the regions are found in numa_maps */
	if (child(nt, "memory")) {
		rc = parse_tune(child(nt, "memory"), &global, err);
		if (rc < 0)
			goto out;
		if (global.pol)
			*default_home = first_node(global.mask);
	}
	/* every memnode names a cell */
	FOREACH_ELEM(m, nt, "memnode")
	{
		long id;
		bool found = false;

		rc = parse_id(m, "cellid", &id, err);
		if (rc < 0)
			goto out;
		FOREACH_ELEM(c, numa, "cell")
		{
			long cid;

			if (!parse_id(c, "id", &cid, NULL) && cid == id)
				found = true;
		}
		if (!found) {
			rc = xpv_error_set(err, 0,
					   "numatune memnode cellid %ld: no <cpu><numa><cell> "
					   "with that id",
					   id);
			goto out;
		}
	}
	/* one memory backend per cell: ram-node<id> */
	FOREACH_ELEM(c, numa, "cell")
	{
		struct tune t = global;
		struct mh_memdev *nv;
		char *mem, *unit;
		uint64_t size = 0;
		long id;

		rc = parse_id(c, "id", &id, err);
		if (rc < 0)
			goto out;
		mem = prop(c, "memory");
		unit = prop(c, "unit");
		if (!mem || parse_memory(mem, unit, &size) < 0 || !size)
			rc = xpv_error_set(err, 0, "cell %ld memory: `%s` `%s` is not a size", id,
					   mem ? mem : "(missing)", unit ? unit : "KiB");
		xmlFree(mem);
		xmlFree(unit);
		if (rc < 0)
			goto out;
		FOREACH_ELEM(m, nt, "memnode")
		{
			long mid;

			if (!parse_id(m, "cellid", &mid, NULL) && mid == id) {
				rc = parse_tune(m, &t, err);
				if (rc < 0)
					goto out;
			}
		}
		nv = realloc(v, (nr + 1) * sizeof(*nv));
		if (!nv) {
			rc = xpv_error_set(err, ENOMEM, "numatune");
			goto out;
		}
		v = nv;
		memset(&v[nr], 0, sizeof(v[nr]));
		snprintf(v[nr].id, sizeof(v[nr].id), "ram-node%ld", id);
		v[nr].size = size;
		snprintf(v[nr].policy, sizeof(v[nr].policy), "%s", t.pol ? t.pol : "default");
		v[nr].host_nodes = t.pol ? t.mask : 0;
		nr++;
	}
out:
	xmlFreeDoc(doc);
	if (rc < 0) {
		free(v);
		return rc;
	}
	*out = v;
	*n = nr;
	return 0;
}

uint64_t homing_budget_slice(const struct homing_budget *b, uint64_t vm_slice_ns)
{
	uint64_t left;

	/* less than 1 ms left: not worth a batch, the VM waits its turn */
	if (b->spent_ns + 1000000 > b->budget_ns)
		return 0;
	left = b->budget_ns - b->spent_ns;
	return left < vm_slice_ns ? left : vm_slice_ns;
}

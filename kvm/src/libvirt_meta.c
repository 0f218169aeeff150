// SPDX-License-Identifier: GPL-2.0-or-later
#define _GNU_SOURCE
#include "libvirt_meta.h"

#include <errno.h>
#include <math.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdlib.h>
#include <string.h>

struct libvirt_meta {
	virConnectPtr conn;
};

static void quiet(void *data, virErrorPtr e)
{
	(void)data;
	(void)e;
}

int libvirt_meta_parse(const char *xml, double *permit, struct xpv_error **err)
{
	const char *a = strstr(xml, "llc-cap");
	char quote, *end;
	double v;

	if (!a)
		return 0;
	a += 7;
	while (*a == ' ')
		a++;
	if (*a++ != '=')
		return xpv_error_set(err, 0, "metadata llc-cap: bad syntax");
	while (*a == ' ')
		a++;
	quote = *a++;
	if (quote != '"' && quote != '\'')
		return xpv_error_set(err, 0, "metadata llc-cap: bad syntax");
	errno = 0;
	v = strtod(a, &end);
	if (errno || end == a || *end != quote || !isfinite(v) || v < 0)
		return xpv_error_set(err, 0, "metadata llc-cap: `%.*s` is not a number >= 0",
				     (int)(strchr(a, quote) ? strchr(a, quote) - a : 0), a);
	*permit = v;
	return 1;
}

int libvirt_meta_permit(struct libvirt_meta **m, const char *uri, const char *domain,
			double *permit, struct xpv_error **err)
{
	virDomainPtr dom;
	virErrorPtr ve;
	char *xml;
	int ret;

	if (!*m) {
		*m = calloc(1, sizeof(**m));
		if (!*m)
			return xpv_error_set(err, ENOMEM, "libvirt");
		virSetErrorFunc(NULL, quiet);
	}
	if ((*m)->conn && virConnectIsAlive((*m)->conn) != 1) {
		virConnectClose((*m)->conn);
		(*m)->conn = NULL;
	}
	if (!(*m)->conn) {
		(*m)->conn = virConnectOpenReadOnly(uri);
		if (!(*m)->conn) {
			ve = virGetLastError();
			return xpv_error_set(err, 0, "connecting to `%s`: %s", uri,
					     ve && ve->message ? ve->message : "?");
		}
	}
	dom = virDomainLookupByName((*m)->conn, domain);
	if (!dom)
		return 0; /* not a libvirt domain of this connection */
	xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, XPV_XMLNS,
				   VIR_DOMAIN_AFFECT_CURRENT);
	virDomainFree(dom);
	if (!xml)
		return 0; /* VIR_ERR_NO_DOMAIN_METADATA: no permit */
	ret = libvirt_meta_parse(xml, permit, err);
	free(xml);
	return ret;
}

void libvirt_meta_close(struct libvirt_meta *m)
{
	if (!m)
		return;
	if (m->conn)
		virConnectClose(m->conn);
	free(m);
}

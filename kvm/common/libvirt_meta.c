// SPDX-License-Identifier: GPL-2.0-or-later
#define _GNU_SOURCE
#include "libvirt_meta.h"
#include "xml_elem.h"

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
	struct xpv_xml_elem *el;
	char *a, *end;
	double v;
	int ret;

	if (xpv_xml_elem_parse(xml, &el, err) < 0)
		return xpv_error_wrap(err, "metadata");
	ret = xpv_xml_elem_attr(el, "llc-cap", &a);
	xpv_xml_elem_free(el);
	if (ret <= 0)
		return ret < 0 ? xpv_error_set(err, ENOMEM, "metadata") : 0;
	errno = 0;
	v = strtod(a, &end);
	if (errno || end == a || *end || !isfinite(v) || v < 0 || !(*a >= '0' && *a <= '9')) {
		ret = xpv_error_set(err, 0, "metadata llc-cap: `%s` is not a number >= 0", a);
		free(a);
		return ret;
	}
	free(a);
	*permit = v;
	return 1;
}

static int meta_connect(struct libvirt_meta **m, const char *uri, struct xpv_error **err)
{
	virErrorPtr ve;

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
	return 0;
}

int libvirt_meta_get(struct libvirt_meta **m, const char *uri, const char *domain, const char *ns,
		     char **xml, char **domxml, struct xpv_error **err)
{
	virDomainPtr dom;

	*xml = NULL;
	if (domxml)
		*domxml = NULL;
	if (meta_connect(m, uri, err) < 0)
		return -1;
	dom = virDomainLookupByName((*m)->conn, domain);
	if (!dom)
		return 0; /* not a libvirt domain of this connection */
	/* NULL: VIR_ERR_NO_DOMAIN_METADATA, no element in this namespace */
	*xml = virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, ns,
				    VIR_DOMAIN_AFFECT_CURRENT);
	if (domxml)
		*domxml = virDomainGetXMLDesc(dom, 0);
	virDomainFree(dom);
	return 1;
}

int libvirt_meta_permit(struct libvirt_meta **m, const char *uri, const char *domain,
			double *permit, struct xpv_error **err)
{
	char *xml;
	int ret;

	ret = libvirt_meta_get(m, uri, domain, XPV_XMLNS, &xml, NULL, err);
	if (ret <= 0 || !xml)
		return ret < 0 ? ret : 0; /* no domain, or no permit */
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

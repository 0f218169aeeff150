// SPDX-License-Identifier: GPL-2.0-or-later
#define _GNU_SOURCE
#include "libvirt_meta.h"
#include "xml_elem.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

int libvirt_meta_permit(const char *domxml, double *permit, struct xpv_error **err)
{
	cleanup_free char *xml = NULL;
	int ret = xpv_xml_domain_metadata(domxml, XPV_XMLNS, &xml, err);

	if (ret <= 0)
		return ret;
	return libvirt_meta_parse(xml, permit, err);
}

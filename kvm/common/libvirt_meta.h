/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Permits from libvirt domain metadata (see libvirt-hooks/README.md):
 *   <metadata>
 *     <xpv:kyoto xmlns:xpv="http://xpv.invalid/xmlns/xpv/1.0" llc-cap="250"/>
 *   </metadata>
 */
#ifndef XPV_LIBVIRT_META_H
#define XPV_LIBVIRT_META_H

#include "error.h"

#define XPV_XMLNS "http://xpv.invalid/xmlns/xpv/1.0"

struct libvirt_meta;

/* 1 and *permit set when the domain has a permit, 0 when it has none. */
int libvirt_meta_permit(struct libvirt_meta **m, const char *uri, const char *domain,
			double *permit, struct xpv_error **err);
/* The metadata element of namespace ns (*xml, NULL when none) and, when
 * domxml is not NULL, the domain XML.  1 when the domain exists, 0 when
 * libvirt does not know it.  Strings are malloc'd. */
int libvirt_meta_get(struct libvirt_meta **m, const char *uri, const char *domain, const char *ns,
		     char **xml, char **domxml, struct xpv_error **err);
/* Parse the llc-cap attribute out of the metadata element (pure). */
int libvirt_meta_parse(const char *xml, double *permit, struct xpv_error **err);
void libvirt_meta_close(struct libvirt_meta *m);

#endif

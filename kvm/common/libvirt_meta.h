/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Permits from libvirt domain metadata (see libvirt-hooks/README.md); the
 * domain XML comes from the libvirt session (libvirt_session.h):
 *   <metadata>
 *     <xpv:kyoto xmlns:xpv="http://xpv.invalid/xmlns/xpv/1.0" llc-cap="250"/>
 *   </metadata>
 */
#ifndef XPV_LIBVIRT_META_H
#define XPV_LIBVIRT_META_H

#include "error.h"

#define XPV_XMLNS "http://xpv.invalid/xmlns/xpv/1.0"

/* The permit in the <xpv:kyoto> element of a domain XML (from the libvirt
 * session's cache): 1 and *permit set, 0 when the domain has none. */
int libvirt_meta_permit(const char *domxml, double *permit, struct xpv_error **err);
/* Parse the llc-cap attribute out of the metadata element (pure). */
int libvirt_meta_parse(const char *xml, double *permit, struct xpv_error **err);

#endif

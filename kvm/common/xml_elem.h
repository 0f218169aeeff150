/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * An XML element handed over as text (libvirt returns a domain's metadata
 * element that way), parsed with libxml2: attribute values come from a real
 * parser, not from a substring search that would also find "llc-cap" inside
 * another attribute's value or a longer name.
 */
#ifndef XPV_XML_ELEM_H
#define XPV_XML_ELEM_H

#include "error.h"

struct xpv_xml_elem;

/* Parse xml (well-formed, one root element; no network, no entities). */
int xpv_xml_elem_parse(const char *xml, struct xpv_xml_elem **out, struct xpv_error **err);
/* 1 and *val (malloc'd) when the root element has the attribute, else 0. */
int xpv_xml_elem_attr(const struct xpv_xml_elem *e, const char *name, char **val);
void xpv_xml_elem_free(struct xpv_xml_elem *e);
/* The element of namespace ns under <domain><metadata> of a domain XML,
 * serialized (malloc'd) as virDomainGetMetadata would return it: 1, 0 when
 * there is none, < 0 when the XML is not a domain. */
int xpv_xml_domain_metadata(const char *domxml, const char *ns, char **elem,
			    struct xpv_error **err);

#endif

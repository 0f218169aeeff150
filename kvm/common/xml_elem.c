// SPDX-License-Identifier: GPL-2.0-or-later
#define _GNU_SOURCE
#include "xml_elem.h"

#include <errno.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>

struct xpv_xml_elem {
	xmlDoc *doc;
	xmlNode *root;
};

int xpv_xml_elem_parse(const char *xml, struct xpv_xml_elem **out, struct xpv_error **err)
{
	struct xpv_xml_elem *e;

	*out = NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return xpv_error_set(err, ENOMEM, "XML");
	/* An undeclared prefix is a namespace error libxml2 recovers from;
	 * anything not well-formed is refused. */
	e->doc = xmlReadMemory(xml, strlen(xml), "element.xml", NULL,
			       XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	e->root = e->doc ? xmlDocGetRootElement(e->doc) : NULL;
	if (!e->root) {
		xpv_xml_elem_free(e);
		return xpv_error_set(err, 0, "not a well-formed XML element");
	}
	*out = e;
	return 0;
}

int xpv_xml_elem_attr(const struct xpv_xml_elem *e, const char *name, char **val)
{
	xmlChar *v = xmlGetProp(e->root, (const xmlChar *)name);

	*val = NULL;
	if (!v)
		return 0;
	*val = strdup((const char *)v);
	xmlFree(v);
	return *val ? 1 : -ENOMEM;
}

void xpv_xml_elem_free(struct xpv_xml_elem *e)
{
	if (!e)
		return;
	if (e->doc)
		xmlFreeDoc(e->doc);
	free(e);
}

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

int xpv_xml_domain_metadata(const char *domxml, const char *ns, char **elem, struct xpv_error **err)
{
	struct xpv_xml_elem *e;
	xmlNode *md = NULL;
	int ret = 0;

	*elem = NULL;
	if (xpv_xml_elem_parse(domxml, &e, err) < 0)
		return xpv_error_wrap(err, "domain XML");
	if (strcmp((const char *)e->root->name, "domain")) {
		xpv_xml_elem_free(e);
		return xpv_error_set(err, 0, "domain XML: no <domain>");
	}
	for (xmlNode *c = e->root->children; c && !md; c = c->next)
		if (c->type == XML_ELEMENT_NODE && !strcmp((const char *)c->name, "metadata"))
			md = c;
	for (xmlNode *c = md ? md->children : NULL; c; c = c->next) {
		xmlBuffer *buf;

		if (c->type != XML_ELEMENT_NODE || !c->ns || !c->ns->href ||
		    strcmp((const char *)c->ns->href, ns))
			continue;
		buf = xmlBufferCreate();
		if (!buf || xmlNodeDump(buf, e->doc, c, 0, 0) < 0) {
			ret = xpv_error_set(err, ENOMEM, "domain XML");
		} else {
			*elem = strdup((const char *)xmlBufferContent(buf));
			ret = *elem ? 1 : xpv_error_set(err, ENOMEM, "domain XML");
		}
		if (buf)
			xmlBufferFree(buf);
		break;
	}
	xpv_xml_elem_free(e);
	return ret;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one libvirt session of xpvd, shared by every controller: one
 * read-only connection driven by its own event-loop thread
 * (virEventRegisterDefaultImpl + virEventRunDefaultImpl, keepalive), which
 * keeps a cache of the running domains (id, name, UUID, domain XML with
 * its <metadata>) up to date from domain lifecycle and metadata-change
 * events.  The control loop only reads the cache: a slow or hung libvirtd
 * stalls the session thread, never a Kyoto tick.
 *
 * Domains are found by libvirt's domain id, the N of the machine name
 * "qemu-N-NAME" in the cgroup path.  The NAME there is mangled (libvirt
 * drops characters such as `_`, collapses runs of `.` and `-`, cuts at 64
 * characters), so it is never used to look a domain up.
 */
#ifndef XPV_LIBVIRT_SESSION_H
#define XPV_LIBVIRT_SESSION_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "error.h"

#define XPV_UUID_LEN 37 /* VIR_UUID_STRING_BUFLEN */

struct libvirt_session;

/* The shared session (reference counted).  uri_explicit: the URI was
 * configured; a configured URI wins over another controller's default,
 * two different configured URIs are an error.  The thread starts at the
 * first lookup and connects there: this never blocks on libvirtd. */
int libvirt_session_get(const char *uri, bool uri_explicit, struct libvirt_session **s,
			struct xpv_error **err);
void libvirt_session_put(struct libvirt_session *s);

struct lv_domain_ref {
	char *name; /* libvirt's real name (malloc'd) */
	char uuid[XPV_UUID_LEN];
	uint64_t gen; /* changes whenever the domain XML or metadata changes */
	bool has_xml; /* false when libvirt did not give the XML (yet) */
};

/* From the cache, never from libvirtd: 1 and *out when domain id is known
 * and its name agrees with `machine`, the name in the domain's cgroup (NULL:
 * any name) (free out->name), 0 when not (yet). */
int libvirt_session_find(struct libvirt_session *s, int id, const char *machine,
			 struct lv_domain_ref *out);
/* The cached domain XML of id (malloc'd): 1, or 0 when unknown. */
int libvirt_session_xml(struct libvirt_session *s, int id, char **xml);
/* Refresh the cache (and reconnect) now instead of at the next event, for
 * the libvirt hook's started/release notices: never waits for libvirtd.
 * 1 when a session exists, 0 when no controller uses libvirt. */
int libvirt_session_kick(void);
/* The shared session, NULL when none (no reference taken: valid while the
 * controllers hold theirs, i.e. in the control loop). */
struct libvirt_session *libvirt_session_current(void);
/* {"uri", "connected", "domains", "refreshes", "events", "error"} */
json_t *libvirt_session_status(struct libvirt_session *s);
/* Wait (up to timeout_ms) until the cache has been refreshed after this
 * call; for tests and start-up.  1 done, 0 timed out. */
int libvirt_session_wait_refresh(struct libvirt_session *s, int timeout_ms);

#endif

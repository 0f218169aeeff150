// SPDX-License-Identifier: GPL-2.0-or-later
#define _GNU_SOURCE
#include "libvirt_session.h"

#include <ctype.h>
#include <errno.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

/* keepalive: a probe every 5 s, the connection is dead after 3 unanswered */
#define KEEPALIVE_S 5
#define KEEPALIVE_COUNT 3
/* a full refresh now and then even without events (a missed event, a
 * libvirtd that does not send metadata-change events) */
#define FULL_REFRESH_NS (60 * 1000000000ull)
#define RECONNECT_NS (2 * 1000000000ull)

struct lv_domain {
	int id;
	char uuid[XPV_UUID_LEN];
	char *name;
	char *xml;
	uint64_t gen;
};

struct libvirt_session {
	char *uri;
	bool uri_explicit; /* configured, not the default */
	int refs;
	pthread_t thread;
	bool thread_started, thread_failed;
	pthread_mutex_t lock; /* everything below */
	pthread_cond_t refreshed;
	bool stop;
	bool kicked; /* libvirt_session_kick(): refresh (and reconnect) now */
	bool connected;
	size_t n;
	struct lv_domain *doms;
	uint64_t gen, refreshes, events;
	char *error;
	/* session thread only */
	virConnectPtr conn;
	int cb_ids[2];
	bool dirty, lost;
	uint64_t last_refresh_ns, last_attempt_ns;
	int timer; /* wakes the event loop; -1 until the thread runs */
};

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static struct libvirt_session *shared;
static bool event_impl_registered;

static void quiet(void *data, virErrorPtr e)
{
	(void)data;
	(void)e;
}

static void set_error(struct libvirt_session *s, const char *what)
{
	virErrorPtr ve = virGetLastError();
	char *msg = NULL;

	if (asprintf(&msg, "%s: %s", what, ve && ve->message ? ve->message : "failed") < 0)
		msg = NULL;
	pthread_mutex_lock(&s->lock);
	if (msg && (!s->error || strcmp(s->error, msg)))
		fprintf(stderr, "xpvd: libvirt %s: %s\n", s->uri, msg);
	free(s->error);
	s->error = msg;
	pthread_mutex_unlock(&s->lock);
}

static void free_domains(struct lv_domain *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(d[i].name);
		free(d[i].xml);
	}
	free(d);
}

/* Session thread: read every running domain, swap the cache. */
static void refresh(struct libvirt_session *s)
{
	virDomainPtr *list = NULL;
	struct lv_domain *nd;
	int n;

	s->dirty = false;
	s->last_refresh_ns = xpv_now_ns();
	n = virConnectListAllDomains(s->conn, &list, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
	if (n < 0) {
		set_error(s, "listing domains");
		s->lost = virConnectIsAlive(s->conn) != 1;
		return;
	}
	nd = calloc(n ? n : 1, sizeof(*nd));
	for (int i = 0; i < n; i++) {
		if (nd) {
			nd[i].id = (int)virDomainGetID(list[i]);
			if (virDomainGetUUIDString(list[i], nd[i].uuid) < 0)
				nd[i].uuid[0] = '\0';
			nd[i].name =
				strdup(virDomainGetName(list[i]) ? virDomainGetName(list[i]) : "");
			/* NULL when the domain went away meanwhile: kept
			 * without XML, the next event brings it up to date */
			nd[i].xml = virDomainGetXMLDesc(list[i], 0);
		}
		virDomainFree(list[i]);
	}
	free(list);
	if (!nd)
		return;
	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < n; i++) {
		nd[i].gen = 0;
		for (size_t j = 0; j < s->n; j++)
			if (s->doms[j].id == nd[i].id && !strcmp(s->doms[j].uuid, nd[i].uuid) &&
			    s->doms[j].xml && nd[i].xml && !strcmp(s->doms[j].xml, nd[i].xml))
				nd[i].gen = s->doms[j].gen;
		if (!nd[i].gen)
			nd[i].gen = ++s->gen;
	}
	free_domains(s->doms, s->n);
	s->doms = nd;
	s->n = n;
	s->refreshes++;
	free(s->error);
	s->error = NULL;
	pthread_cond_broadcast(&s->refreshed);
	pthread_mutex_unlock(&s->lock);
}

static int on_lifecycle(virConnectPtr c, virDomainPtr d, int event, int detail, void *opaque)
{
	struct libvirt_session *s = opaque;

	(void)c;
	(void)d;
	(void)event;
	(void)detail;
	s->dirty = true;
	__atomic_add_fetch(&s->events, 1, __ATOMIC_RELAXED);
	return 0;
}

static void on_metadata(virConnectPtr c, virDomainPtr d, int type, const char *nsuri, void *opaque)
{
	(void)type;
	(void)nsuri;
	on_lifecycle(c, d, 0, 0, opaque);
}

static void on_close(virConnectPtr c, int reason, void *opaque)
{
	struct libvirt_session *s = opaque;

	(void)c;
	(void)reason;
	s->lost = true;
}

static void on_timer(int timer, void *opaque)
{
	/* wakes virEventRunDefaultImpl up so the loop sees stop and does
	 * its periodic work */
	(void)timer;
	(void)opaque;
}

static void disconnect(struct libvirt_session *s)
{
	if (!s->conn)
		return;
	for (int i = 0; i < 2; i++)
		if (s->cb_ids[i] >= 0)
			virConnectDomainEventDeregisterAny(s->conn, s->cb_ids[i]);
	virConnectUnregisterCloseCallback(s->conn, on_close);
	virConnectClose(s->conn);
	s->conn = NULL;
	pthread_mutex_lock(&s->lock);
	s->connected = false;
	pthread_mutex_unlock(&s->lock);
}

static void connect_session(struct libvirt_session *s)
{
	s->last_attempt_ns = xpv_now_ns();
	s->conn = virConnectOpenReadOnly(s->uri);
	if (!s->conn) {
		set_error(s, "connecting");
		return;
	}
	s->lost = false;
	/* an in-process driver (test:///) has no keepalive and needs none */
	if (virConnectSetKeepAlive(s->conn, KEEPALIVE_S, KEEPALIVE_COUNT) < 0 &&
	    virGetLastErrorCode() != VIR_ERR_NO_SUPPORT)
		set_error(s, "keepalive");
	virConnectRegisterCloseCallback(s->conn, on_close, s, NULL);
	s->cb_ids[0] =
		virConnectDomainEventRegisterAny(s->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
						 VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), s, NULL);
	s->cb_ids[1] =
		virConnectDomainEventRegisterAny(s->conn, NULL, VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
						 VIR_DOMAIN_EVENT_CALLBACK(on_metadata), s, NULL);
	if (s->cb_ids[0] < 0)
		set_error(s, "registering for domain events");
	pthread_mutex_lock(&s->lock);
	s->connected = true;
	pthread_mutex_unlock(&s->lock);
	s->dirty = true;
}

static bool stopping(struct libvirt_session *s)
{
	bool stop;

	pthread_mutex_lock(&s->lock);
	stop = s->stop;
	pthread_mutex_unlock(&s->lock);
	return stop;
}

/* A kick (the libvirt hook said a domain started or stopped) makes the
 * next loop pass refresh at once, and reconnect at once when the
 * connection was down. */
static void take_kick(struct libvirt_session *s)
{
	bool kicked;

	pthread_mutex_lock(&s->lock);
	kicked = s->kicked;
	s->kicked = false;
	pthread_mutex_unlock(&s->lock);
	if (!kicked)
		return;
	s->dirty = true;
	s->last_attempt_ns = 0;
	if (s->timer >= 0)
		virEventUpdateTimeout(s->timer, 200);
}

static void *session_thread(void *arg)
{
	struct libvirt_session *s = arg;
	int timer = virEventAddTimeout(200, on_timer, s, NULL);

	pthread_mutex_lock(&s->lock);
	s->timer = timer;
	pthread_mutex_unlock(&s->lock);
	while (!stopping(s)) {
		uint64_t now;

		take_kick(s);
		now = xpv_now_ns();
		if (s->lost)
			disconnect(s);
		if (!s->conn && (!s->last_attempt_ns || now - s->last_attempt_ns >= RECONNECT_NS))
			connect_session(s);
		if (s->conn && (s->dirty || now - s->last_refresh_ns >= FULL_REFRESH_NS))
			refresh(s);
		if (virEventRunDefaultImpl() < 0)
			set_error(s, "event loop");
	}
	disconnect(s);
	pthread_mutex_lock(&s->lock);
	s->timer = -1;
	pthread_mutex_unlock(&s->lock);
	if (timer >= 0)
		virEventRemoveTimeout(timer);
	return NULL;
}

int libvirt_session_get(const char *uri, bool uri_explicit, struct libvirt_session **out,
			struct xpv_error **err)
{
	struct libvirt_session *s;
	int ret = 0;

	pthread_mutex_lock(&shared_lock);
	if (shared) {
		if (uri_explicit && shared->uri_explicit && strcmp(shared->uri, uri)) {
			ret = xpv_error_set(err, 0,
					    "libvirt_uri: `%s` differs from `%s`: xpvd has one "
					    "libvirt session for all controllers",
					    uri, shared->uri);
			goto out;
		}
		if (uri_explicit && !shared->uri_explicit) {
			/* a configured URI wins over another controller's
			 * default (the thread starts on first use) */
			char *u = strdup(uri);

			if (!u) {
				ret = xpv_error_set(err, ENOMEM, "libvirt session");
				goto out;
			}
			free(shared->uri);
			shared->uri = u;
			shared->uri_explicit = true;
		}
		shared->refs++;
		*out = shared;
		goto out;
	}
	if (!event_impl_registered) {
		virSetErrorFunc(NULL, quiet);
		if (virEventRegisterDefaultImpl() < 0) {
			ret = xpv_error_set(err, 0, "libvirt: registering the event loop");
			goto out;
		}
		event_impl_registered = true;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->uri = strdup(uri))) {
		free(s);
		ret = xpv_error_set(err, ENOMEM, "libvirt session");
		goto out;
	}
	s->uri_explicit = uri_explicit;
	s->refs = 1;
	s->cb_ids[0] = s->cb_ids[1] = -1;
	s->timer = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->refreshed, NULL);
	shared = *out = s;
out:
	pthread_mutex_unlock(&shared_lock);
	return ret;
}

/* The thread starts with the first lookup: every controller has said
 * which URI it wants by then, and `xpvd -t` never connects. */
static void start(struct libvirt_session *s)
{
	pthread_mutex_lock(&shared_lock);
	if (!s->thread_started && !s->thread_failed) {
		int e = pthread_create(&s->thread, NULL, session_thread, s);

		if (e) {
			s->thread_failed = true;
			fprintf(stderr, "xpvd: libvirt %s: no session thread: %s\n", s->uri,
				strerror(e));
		} else {
			s->thread_started = true;
		}
	}
	pthread_mutex_unlock(&shared_lock);
}

void libvirt_session_put(struct libvirt_session *s)
{
	struct timespec dl;

	if (!s)
		return;
	pthread_mutex_lock(&shared_lock);
	if (--s->refs > 0) {
		pthread_mutex_unlock(&shared_lock);
		return;
	}
	shared = NULL;
	pthread_mutex_unlock(&shared_lock);
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_mutex_unlock(&s->lock);
	if (!s->thread_started)
		goto free;
	/* The thread notices within one timer period, unless it is stuck in
	 * a call to a hung libvirtd: then it is left behind (the process is
	 * exiting) rather than hanging the shutdown that restores cgroups. */
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 2;
	if (pthread_timedjoin_np(s->thread, NULL, &dl) != 0) {
		fprintf(stderr, "xpvd: libvirt %s: session thread stuck, not waited for\n", s->uri);
		pthread_detach(s->thread);
		return; /* s stays allocated for the stuck thread */
	}
free:
	free_domains(s->doms, s->n);
	free(s->error);
	free(s->uri);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->refreshed);
	free(s);
}

/* Is `machine` (the name part of a cgroup "qemu-ID-NAME") what libvirt
 * would derive from the domain name `name`?  libvirt drops characters a
 * machine name cannot have and may shorten it; which ones exactly depends
 * on its version, so compare only letters and digits, as a prefix. */
static bool machine_name_matches(const char *name, const char *machine)
{
	const char *n = name;

	for (const char *m = machine; *m; m++) {
		if (!isalnum((unsigned char)*m))
			continue;
		while (*n && !isalnum((unsigned char)*n))
			n++;
		if (*n++ != *m)
			return false;
	}
	return true;
}

/* Domain ids are per libvirt daemon: a cgroup of another daemon's domain
 * (a session daemon, a second libvirtd) can carry the same id as one of
 * ours, so the names must agree too. */
static struct lv_domain *find_locked(struct libvirt_session *s, int id, const char *machine)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->doms[i].id == id &&
		    (!machine || machine_name_matches(s->doms[i].name, machine)))
			return &s->doms[i];
	return NULL;
}

int libvirt_session_find(struct libvirt_session *s, int id, const char *machine,
			 struct lv_domain_ref *out)
{
	struct lv_domain *d;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	if (!s || id < 0)
		return 0;
	start(s);
	pthread_mutex_lock(&s->lock);
	d = find_locked(s, id, machine);
	if (d && (out->name = strdup(d->name))) {
		memcpy(out->uuid, d->uuid, sizeof(out->uuid));
		out->gen = d->gen;
		out->has_xml = d->xml != NULL;
		ret = 1;
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

int libvirt_session_xml(struct libvirt_session *s, int id, char **xml)
{
	struct lv_domain *d;
	int ret = 0;

	*xml = NULL;
	if (!s)
		return 0;
	start(s);
	pthread_mutex_lock(&s->lock);
	d = find_locked(s, id, NULL);
	if (d && d->xml && (*xml = strdup(d->xml)))
		ret = 1;
	pthread_mutex_unlock(&s->lock);
	return ret;
}

int libvirt_session_kick(void)
{
	struct libvirt_session *s;
	int ret = 0;

	pthread_mutex_lock(&shared_lock);
	s = shared;
	if (s) {
		pthread_mutex_lock(&s->lock);
		s->kicked = true;
		/* a zero timeout interrupts the loop's poll at once (libvirt's
		 * default event loop is thread-safe); take_kick() resets it */
		if (s->timer >= 0)
			virEventUpdateTimeout(s->timer, 0);
		pthread_mutex_unlock(&s->lock);
		ret = 1;
	}
	pthread_mutex_unlock(&shared_lock);
	if (s)
		start(s);
	return ret;
}

struct libvirt_session *libvirt_session_current(void)
{
	struct libvirt_session *s;

	pthread_mutex_lock(&shared_lock);
	s = shared;
	pthread_mutex_unlock(&shared_lock);
	return s;
}

json_t *libvirt_session_status(struct libvirt_session *s)
{
	json_t *o;

	if (!s)
		return json_null();
	pthread_mutex_lock(&s->lock);
	o = json_pack("{s:s, s:b, s:I, s:I, s:I}", "uri", s->uri, "connected", s->connected,
		      "domains", (json_int_t)s->n, "refreshes", (json_int_t)s->refreshes, "events",
		      (json_int_t)__atomic_load_n(&s->events, __ATOMIC_RELAXED));
	if (o && s->error)
		json_object_set_new(o, "error", json_string(s->error));
	pthread_mutex_unlock(&s->lock);
	return o;
}

int libvirt_session_wait_refresh(struct libvirt_session *s, int timeout_ms)
{
	struct timespec dl;
	uint64_t before;
	int ret = 1;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	start(s);
	pthread_mutex_lock(&s->lock);
	before = s->refreshes;
	while (s->refreshes == before && ret)
		if (pthread_cond_timedwait(&s->refreshed, &s->lock, &dl) == ETIMEDOUT)
			ret = 0;
	pthread_mutex_unlock(&s->lock);
	return ret;
}

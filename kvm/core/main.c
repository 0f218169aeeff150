// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * xpvd: wires configuration, discovery, the state file and the
 * controllers together and runs the period loop.  Everything else lives
 * in the modules; this file must stay thin.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "config.h"
#include "controller.h"
#include "ctl.h"
#include "domain_ctl.h"
#include "server.h"
#include "discovery.h"
#include "metrics.h"
#include "state.h"
#include "util.h"

static const struct xpv_controller *const controllers[] = {
	&kyoto_controller,
	&homing_controller,
};
#define N_CTL (sizeof(controllers) / sizeof(controllers[0]))

/* Exit codes, documented in xpvd(8) and --help. */
enum {
	XPVD_EXIT_OK = 0,
	XPVD_EXIT_FAILURE = 1, /* startup or runtime failure, or a cgroup left unrestored */
	XPVD_EXIT_USAGE = 2, /* bad command line */
	XPVD_EXIT_CONFIG = 3, /* invalid configuration (also for -t) */
	XPVD_EXIT_LOCKED = 4, /* another xpvd owns the state file */
};

/* A configuration and the host view built from it.  SIGHUP builds a second
 * one beside the running one and swaps only when all of it is valid. */
struct generation {
	struct xpv_config cfg;
	struct xpv_host host;
	void *priv[N_CTL];
	size_t inited;
};

struct daemon {
	const char *cfgpath;
	struct generation gens[2];
	struct generation *g; /* the running one */
	struct xpv_state state;
	struct discovery disc;
	uint64_t start_ns, ticks, tick_ns_total, last_tick_ns, reloads, reload_failures;
	size_t n_vms;
	struct xpv_vm_list vms; /* the last period's discovery, for placement */
	struct domain_notices notices;
	char *mount;
	const struct cg_ops *ops;
	struct srv ctl, metrics;
};

static int dispatch(void *data, int argc, char **argv, json_t **reply, struct xpv_error **err)
{
	struct daemon *d = data;

	if (!strcmp(argv[0], "ping")) {
		*reply = json_string("pong");
		return 0;
	}
	if (!strcmp(argv[0], "domain"))
		return domain_notice(&d->notices, argc, argv, reply, err);
	if (!strcmp(argv[0], "placement")) {
		json_t *homing = NULL;
		int ret;

		if (argc != 2)
			return xpv_error_set(err, EINVAL, "usage: placement DOMAIN");
		for (size_t i = 0; i < N_CTL; i++)
			if (!strcmp(controllers[i]->name, "homing"))
				homing = controllers[i]->status(d->g->priv[i]);
		ret = domain_placement(&d->vms, homing, argv[1], reply, err);
		if (homing)
			json_decref(homing);
		return ret;
	}
	if (!strcmp(argv[0], "status")) {
		json_t *c = json_object();

		for (size_t i = 0; i < N_CTL; i++)
			json_object_set_new(c, controllers[i]->name,
					    controllers[i]->status(d->g->priv[i]));
		*reply = json_pack("{s:i, s:i, s:s, s:I, s:f, s:I, s:o}", "period_ms",
				   (int)d->g->cfg.period_ms, "cgroup", d->ops->version, "cpu_mount",
				   d->mount, "ticks", (json_int_t)d->ticks, "uptime_s",
				   (xpv_now_ns() - d->start_ns) / 1e9, "reloads",
				   (json_int_t)d->reloads, "controllers", c);
		if (*reply)
			json_object_set_new(*reply, "hook_notices",
					    domain_notices_status(&d->notices));
		return 0;
	}
	for (size_t i = 0; i < N_CTL; i++) {
		int ret = controllers[i]->command(d->g->priv[i], argc, argv, reply, err);

		if (ret)
			return ret < 0 ? ret : 0;
	}
	return xpv_error_set(err, EINVAL, "unknown command `%s`", argv[0]);
}

static void metrics(void *data, FILE *f)
{
	struct daemon *d = data;

	fprintf(f,
		"# HELP xpvd_ticks_total Control periods run\n"
		"# TYPE xpvd_ticks_total counter\nxpvd_ticks_total %llu\n",
		(unsigned long long)d->ticks);
	fprintf(f,
		"# HELP xpvd_uptime_seconds Time since xpvd started (monotonic clock)\n"
		"# TYPE xpvd_uptime_seconds gauge\nxpvd_uptime_seconds %.6f\n",
		(xpv_now_ns() - d->start_ns) / 1e9);
	fprintf(f,
		"# HELP xpvd_tick_seconds_total Time spent in periods\n"
		"# TYPE xpvd_tick_seconds_total counter\n"
		"xpvd_tick_seconds_total %.9f\n",
		d->tick_ns_total / 1e9);
	fprintf(f,
		"# HELP xpvd_vms VMs discovered\n# TYPE xpvd_vms gauge\n"
		"xpvd_vms %zu\n",
		d->n_vms);
	fprintf(f,
		"# HELP xpvd_reloads_total Configuration reloads (SIGHUP) by result\n"
		"# TYPE xpvd_reloads_total counter\n"
		"xpvd_reloads_total{result=\"ok\"} %llu\n"
		"xpvd_reloads_total{result=\"failed\"} %llu\n",
		(unsigned long long)d->reloads, (unsigned long long)d->reload_failures);
	fprintf(f,
		"# HELP xpvd_clients_refused_total Clients turned away at the connection limit\n"
		"# TYPE xpvd_clients_refused_total counter\n"
		"xpvd_clients_refused_total{socket=\"control\"} %llu\n"
		"xpvd_clients_refused_total{socket=\"metrics\"} %llu\n"
		"# HELP xpvd_clients_expired_total Clients dropped at their deadline\n"
		"# TYPE xpvd_clients_expired_total counter\n"
		"xpvd_clients_expired_total{socket=\"control\"} %llu\n"
		"xpvd_clients_expired_total{socket=\"metrics\"} %llu\n",
		(unsigned long long)d->ctl.refused, (unsigned long long)d->metrics.refused,
		(unsigned long long)d->ctl.expired, (unsigned long long)d->metrics.expired);
	for (size_t i = 0; i < N_CTL; i++)
		controllers[i]->metrics(d->g->priv[i], f);
}

static void tick(struct daemon *d)
{
	uint64_t t0 = xpv_now_ns(), period;
	struct xpv_error *err = NULL;
	struct xpv_vm_list vms;

	period = d->last_tick_ns ? t0 - d->last_tick_ns : d->g->cfg.period_ms * 1000000ull;
	d->last_tick_ns = t0;
	if (discovery_scan(&d->disc, &vms, &err) < 0) {
		xpv_error_report(&err, "xpvd: discovery");
		return;
	}
	d->n_vms = vms.n;
	for (size_t i = 0; i < N_CTL; i++)
		if (controllers[i]->tick(d->g->priv[i], &vms, period, &err) < 0)
			xpv_error_report(&err, controllers[i]->name);
	discovery_free(&d->vms);
	d->vms = vms;
	d->ticks++;
	d->tick_ns_total += xpv_now_ns() - t0;
}

static char *ctl_respond(void *data, char *req, size_t len, size_t *reply_len)
{
	return ctl_handle(req, len, dispatch, data, reply_len);
}

static char *metrics_respond(void *data, char *req, size_t len, size_t *reply_len)
{
	(void)len;
	return metrics_http_reply(req, metrics, data, reply_len);
}

static void gen_free(struct generation *g)
{
	while (g->inited > 0) {
		g->inited--;
		controllers[g->inited]->shutdown(g->priv[g->inited]);
	}
	config_free(&g->cfg);
	memset(g, 0, sizeof(*g));
}

/* Load the file and start every controller on it; nothing of the running
 * generation is touched, so a failure leaves it as it was. */
static int gen_build(struct daemon *d, struct generation *g, struct xpv_error **err)
{
	const char *sections[N_CTL + 1] = {0};

	for (size_t i = 0; i < N_CTL; i++)
		sections[i] = controllers[i]->name;
	memset(g, 0, sizeof(*g));
	if (config_load_file(&g->cfg, d->cfgpath, sections, err) < 0)
		return -1;
	g->host = (struct xpv_host){&g->cfg, d->ops, d->mount, &d->state};
	/* Controllers validate their sections before anything is touched. */
	for (; g->inited < N_CTL; g->inited++)
		if (controllers[g->inited]->init(&g->priv[g->inited], &g->host, err) < 0) {
			xpv_error_wrap(err, "%s", controllers[g->inited]->name);
			gen_free(g);
			return -1;
		}
	return 0;
}

static bool str_differs(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a && strcmp(a, b));
}

static int set_period(int tfd, unsigned period_ms)
{
	struct itimerspec its = {0};

	its.it_interval.tv_sec = period_ms / 1000;
	its.it_interval.tv_nsec = (period_ms % 1000) * 1000000L;
	its.it_value = its.it_interval;
	return timerfd_settime(tfd, 0, &its, NULL);
}

/* SIGHUP: a new configuration, or the old one kept with the reason logged.
 * The controllers are started afresh on the new file (which also reopens
 * the files they log to) and adopt the old ones' run-time settings; what
 * the old ones had throttled is restored by them and re-throttled at the
 * next period. */
static void reload(struct daemon *d, int tfd)
{
	struct generation *old = d->g, *new = d->g == &d->gens[0] ? &d->gens[1] : &d->gens[0];
	struct xpv_error *err = NULL;

	if (gen_build(d, new, &err) < 0)
		goto keep;
	if (str_differs(new->cfg.socket_path, old->cfg.socket_path) ||
	    str_differs(new->cfg.state_file, old->cfg.state_file) ||
	    str_differs(new->cfg.cgroup_root, old->cfg.cgroup_root) ||
	    new->cfg.cgroup_version != old->cfg.cgroup_version ||
	    str_differs(new->cfg.metrics_listen, old->cfg.metrics_listen)) {
		xpv_error_set(&err, 0,
			      "socket, state_file, cgroup_root, cgroup_version and metrics.listen "
			      "take effect only at a restart");
		gen_free(new);
		goto keep;
	}
	for (size_t i = 0; i < N_CTL; i++)
		if (controllers[i]->adopt)
			controllers[i]->adopt(new->priv[i], old->priv[i]);
	d->g = new;
	gen_free(old);
	d->disc = (struct discovery){d->ops, d->mount, new->cfg.libvirt, new->cfg.n_plain,
				     new->cfg.plain};
	set_period(tfd, new->cfg.period_ms);
	d->reloads++;
	fprintf(stderr, "xpvd: reloaded `%s` (period %u ms)\n", d->cfgpath, new->cfg.period_ms);
	return;
keep:
	d->reload_failures++;
	xpv_error_wrap(&err, "reloading `%s` (keeping the running configuration)", d->cfgpath);
	xpv_error_report(&err, "xpvd");
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: xpvd [OPTION]...\n"
		"The xpv host agent: Kyoto LLC pollution permits and memory homing for KVM VMs.\n"
		"\n"
		"  -c, --config=FILE  configuration file (default /etc/xpvd.json)\n"
		"  -t, --check        check the configuration and probe the host, then exit;\n"
		"                     changes nothing (safe beside a running xpvd)\n"
		"  -h, --help         display this help and exit\n"
		"  -V, --version      output version information and exit\n"
		"\n"
		"Signals: SIGTERM, SIGINT restore every throttled cgroup and exit;\n"
		"SIGHUP reloads the configuration (an invalid one is logged and ignored).\n"
		"\n"
		"Exit status:\n"
		"  0  clean stop, or a valid configuration with -t\n"
		"  1  startup or runtime failure, or a cgroup that could not be restored\n"
		"  2  bad command line\n"
		"  3  invalid configuration\n"
		"  4  another xpvd holds the state file's lock\n"
		"\n"
		"See xpvd(8) and xpvd.json(5).\n");
}

static int exit_code_for(const struct xpv_error *err)
{
	/* Validation messages carry no errno; resources that fail do. */
	return err && err->status == 0 ? XPVD_EXIT_CONFIG : XPVD_EXIT_FAILURE;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check", no_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct xpv_error *err = NULL;
	struct daemon d;
	sigset_t mask;
	int opt, check = 0, sfd = -1, tfd = -1, cfd = -1, mfd = -1, rc = XPVD_EXIT_FAILURE;

	memset(&d, 0, sizeof(d));
	d.start_ns = xpv_now_ns();
	d.cfgpath = "/etc/xpvd.json";
	d.g = &d.gens[0];
	d.state.lock_fd = -1;
	srv_init(&d.ctl, -1, SRV_LINE, 0, NULL, NULL);
	srv_init(&d.metrics, -1, SRV_HTTP, 0, NULL, NULL);
	while ((opt = getopt_long(argc, argv, "c:thV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			d.cfgpath = optarg;
			break;
		case 't':
			check = 1;
			break;
		case 'h':
			usage(stdout);
			return XPVD_EXIT_OK;
		case 'V':
			printf("xpvd %s\n", XPV_VERSION);
			return XPVD_EXIT_OK;
		default:
			fprintf(stderr, "Try 'xpvd --help' for more information.\n");
			return XPVD_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr,
			"xpvd: unexpected argument `%s`\nTry 'xpvd --help' for more information.\n",
			argv[optind]);
		return XPVD_EXIT_USAGE;
	}
	{
		/* Only the global keys are needed to find the cgroups and the
		 * state file; the controllers read theirs in gen_build(). */
		struct generation *g = d.g;
		const char *sections[N_CTL + 1] = {0};

		for (size_t i = 0; i < N_CTL; i++)
			sections[i] = controllers[i]->name;
		if (config_load_file(&g->cfg, d.cfgpath, sections, &err) < 0) {
			xpv_error_report(&err, "xpvd: configuration");
			return XPVD_EXIT_CONFIG;
		}
		if (enforce_detect(g->cfg.cgroup_root, g->cfg.cgroup_version, &d.ops, &d.mount,
				   &err) < 0) {
			config_free(&g->cfg);
			goto fail;
		}
		/* -t must change nothing: no lock, no directory, no restore. */
		if (state_open(&d.state, g->cfg.state_file, !check, &err) < 0) {
			rc = err && err->status == EWOULDBLOCK ? XPVD_EXIT_LOCKED
							       : XPVD_EXIT_FAILURE;
			config_free(&g->cfg);
			xpv_error_report(&err, "xpvd");
			goto out;
		}
		config_free(&g->cfg);
	}
	if (gen_build(&d, d.g, &err) < 0) {
		rc = exit_code_for(err);
		xpv_error_report(&err, "xpvd");
		goto out;
	}
	d.disc = (struct discovery){d.ops, d.mount, d.g->cfg.libvirt, d.g->cfg.n_plain,
				    d.g->cfg.plain};
	if (check) {
		printf("xpvd: configuration `%s` is valid (cgroup v%d at %s)\n", d.cfgpath,
		       d.ops->version, d.mount);
		rc = XPVD_EXIT_OK;
		goto out;
	}
	/* A previous xpvd died with VMs throttled: give them back first. */
	{
		int n = state_restore_all(&d.state, &err);

		if (n < 0)
			xpv_error_report(&err, "xpvd: restoring saved cgroup values");
		else if (n > 0)
			fprintf(stderr,
				"xpvd: restored %d cgroup(s) left throttled by "
				"a previous run\n",
				n);
	}
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (sfd < 0 || tfd < 0 || set_period(tfd, d.g->cfg.period_ms) < 0) {
		xpv_error_set(&err, errno, "signalfd/timerfd");
		goto fail;
	}
	cfd = ctl_listen(d.g->cfg.socket_path, &err);
	if (cfd < 0)
		goto fail;
	srv_init(&d.ctl, cfd, SRV_LINE, CTL_MAX_LINE, ctl_respond, &d);
	if (d.g->cfg.metrics_listen) {
		mfd = metrics_listen(d.g->cfg.metrics_listen, &err);
		if (mfd < 0)
			goto fail;
		srv_init(&d.metrics, mfd, SRV_HTTP, 2048, metrics_respond, &d);
	}
	fprintf(stderr, "xpvd: running: cgroup v%d at %s, period %u ms, socket %s\n",
		d.ops->version, d.mount, d.g->cfg.period_ms, d.g->cfg.socket_path);
	tick(&d);
	sd_notify(0, "READY=1");
	for (;;) {
		struct pollfd p[2 + 2 * (1 + SRV_MAX_CONNS)] = {{sfd, POLLIN, 0}, {tfd, POLLIN, 0}};
		size_t nc = srv_pollfds(&d.ctl, &p[2]);
		size_t nm = srv_pollfds(&d.metrics, &p[2 + nc]);
		uint64_t now = xpv_now_ns();
		int tc = srv_timeout_ms(&d.ctl, now), tm = srv_timeout_ms(&d.metrics, now);
		int timeout = tc < 0 ? tm : tm < 0 ? tc : tc < tm ? tc : tm;

		if (poll(p, 2 + nc + nm, timeout) < 0) {
			if (errno == EINTR)
				continue;
			xpv_error_set(&err, errno, "poll");
			goto fail;
		}
		if (p[0].revents) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo == SIGHUP) {
				sd_notify(0, "RELOADING=1");
				reload(&d, tfd);
				sd_notify(0, "READY=1");
				continue;
			}
			fprintf(stderr, "xpvd: signal %u, exiting\n", si.ssi_signo);
			break;
		}
		/* The period first: clients wait, enforcement does not. */
		if (p[1].revents) {
			uint64_t n;

			if (read(tfd, &n, sizeof(n)) == sizeof(n))
				tick(&d);
		}
		now = xpv_now_ns();
		srv_dispatch(&d.ctl, &p[2], nc, now);
		srv_dispatch(&d.metrics, &p[2 + nc], nm, now);
	}
	sd_notify(0, "STOPPING=1");
	rc = XPVD_EXIT_OK;
	goto out;
fail:
	rc = XPVD_EXIT_FAILURE;
	xpv_error_report(&err, "xpvd");
out:
	srv_close(&d.ctl);
	if (cfd >= 0)
		unlink(d.g->cfg.socket_path);
	srv_close(&d.metrics);
	if (mfd >= 0 && !strncmp(d.g->cfg.metrics_listen, "unix:", 5))
		unlink(d.g->cfg.metrics_listen + 5);
	gen_free(d.g);
	discovery_free(&d.vms);
	/* Anything a controller could not restore is still listed; -t leaves
	 * the file to the daemon that owns it. */
	if (!check && d.state.entries && state_restore_all(&d.state, &err) < 0) {
		xpv_error_report(&err, "xpvd: restoring saved cgroup values");
		rc = XPVD_EXIT_FAILURE;
	}
	if (sfd >= 0)
		close(sfd);
	if (tfd >= 0)
		close(tfd);
	state_close(&d.state);
	free(d.mount);
	return rc;
}

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
#include "discovery.h"
#include "metrics.h"
#include "state.h"
#include "util.h"

static const struct xpv_controller *const controllers[] = {
	&kyoto_controller,
	&homing_controller,
};
#define N_CTL (sizeof(controllers) / sizeof(controllers[0]))

struct daemon {
	struct xpv_config cfg;
	struct xpv_host host;
	struct xpv_state state;
	struct discovery disc;
	void *priv[N_CTL];
	uint64_t ticks, tick_ns_total, last_tick_ns;
	size_t n_vms;
	char *mount;
};

static int dispatch(void *data, int argc, char **argv, json_t **reply, struct xpv_error **err)
{
	struct daemon *d = data;

	if (!strcmp(argv[0], "ping")) {
		*reply = json_string("pong");
		return 0;
	}
	if (!strcmp(argv[0], "status")) {
		json_t *c = json_object();

		for (size_t i = 0; i < N_CTL; i++)
			json_object_set_new(c, controllers[i]->name,
					    controllers[i]->status(d->priv[i]));
		*reply = json_pack("{s:i, s:i, s:s, s:I, s:o}", "period_ms", (int)d->cfg.period_ms,
				   "cgroup", d->host.ops->version, "cpu_mount", d->mount, "ticks",
				   (json_int_t)d->ticks, "controllers", c);
		return 0;
	}
	for (size_t i = 0; i < N_CTL; i++) {
		int ret = controllers[i]->command(d->priv[i], argc, argv, reply, err);

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
		"# HELP xpvd_tick_seconds_total Time spent in periods\n"
		"# TYPE xpvd_tick_seconds_total counter\n"
		"xpvd_tick_seconds_total %.9f\n",
		d->tick_ns_total / 1e9);
	fprintf(f,
		"# HELP xpvd_vms VMs discovered\n# TYPE xpvd_vms gauge\n"
		"xpvd_vms %zu\n",
		d->n_vms);
	for (size_t i = 0; i < N_CTL; i++)
		controllers[i]->metrics(d->priv[i], f);
}

static void tick(struct daemon *d)
{
	uint64_t t0 = xpv_now_ns(), period;
	struct xpv_error *err = NULL;
	struct xpv_vm_list vms;

	period = d->last_tick_ns ? t0 - d->last_tick_ns : d->cfg.period_ms * 1000000ull;
	d->last_tick_ns = t0;
	if (discovery_scan(&d->disc, &vms, &err) < 0) {
		xpv_error_report(&err, "xpvd: discovery");
		return;
	}
	d->n_vms = vms.n;
	for (size_t i = 0; i < N_CTL; i++)
		if (controllers[i]->tick(d->priv[i], &vms, period, &err) < 0)
			xpv_error_report(&err, controllers[i]->name);
	discovery_free(&vms);
	d->ticks++;
	d->tick_ns_total += xpv_now_ns() - t0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: xpvd [-c CONFIG] [-t]\n"
		   "  -c CONFIG  configuration file (default /etc/xpvd.json)\n"
		   "  -t         check the configuration and exit\n");
}

int main(int argc, char **argv)
{
	const char *cfgpath = "/etc/xpvd.json";
	const char *sections[N_CTL + 1] = {0};
	struct xpv_error *err = NULL;
	struct daemon d;
	struct itimerspec its = {0};
	sigset_t mask;
	int opt, check = 0, sfd = -1, tfd = -1, cfd = -1, mfd = -1, rc = 1;
	size_t inited = 0;

	memset(&d, 0, sizeof(d));
	while ((opt = getopt(argc, argv, "c:th")) != -1) {
		switch (opt) {
		case 'c':
			cfgpath = optarg;
			break;
		case 't':
			check = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	for (size_t i = 0; i < N_CTL; i++)
		sections[i] = controllers[i]->name;
	if (config_load_file(&d.cfg, cfgpath, sections, &err) < 0) {
		xpv_error_report(&err, "xpvd: configuration");
		return 1;
	}
	if (enforce_detect(d.cfg.cgroup_root, d.cfg.cgroup_version, &d.host.ops, &d.mount, &err) <
	    0)
		goto fail;
	d.host.cfg = &d.cfg;
	d.host.mount = d.mount;
	d.host.state = &d.state;
	d.disc = (struct discovery){d.host.ops, d.mount, d.cfg.libvirt, d.cfg.n_plain, d.cfg.plain};
	if (state_open(&d.state, d.cfg.state_file, &err) < 0)
		goto fail;
	/* Controllers validate their sections before anything is touched. */
	for (; inited < N_CTL; inited++)
		if (controllers[inited]->init(&d.priv[inited], &d.host, &err) < 0) {
			xpv_error_wrap(&err, "%s", controllers[inited]->name);
			goto fail;
		}
	if (check) {
		printf("xpvd: configuration `%s` is valid (cgroup v%d at %s)\n", cfgpath,
		       d.host.ops->version, d.mount);
		rc = 0;
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
	if (sfd < 0 || tfd < 0) {
		xpv_error_set(&err, errno, "signalfd/timerfd");
		goto fail;
	}
	its.it_interval.tv_sec = d.cfg.period_ms / 1000;
	its.it_interval.tv_nsec = (d.cfg.period_ms % 1000) * 1000000L;
	its.it_value = its.it_interval;
	timerfd_settime(tfd, 0, &its, NULL);
	cfd = ctl_listen(d.cfg.socket_path, &err);
	if (cfd < 0)
		goto fail;
	if (d.cfg.metrics_listen && (mfd = metrics_listen(d.cfg.metrics_listen, &err)) < 0)
		goto fail;
	fprintf(stderr, "xpvd: running: cgroup v%d at %s, period %u ms, socket %s\n",
		d.host.ops->version, d.mount, d.cfg.period_ms, d.cfg.socket_path);
	tick(&d);
	sd_notify(0, "READY=1");
	for (;;) {
		struct pollfd p[4] = {
			{sfd, POLLIN, 0}, {tfd, POLLIN, 0}, {cfd, POLLIN, 0}, {mfd, POLLIN, 0}};

		if (poll(p, mfd >= 0 ? 4 : 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si))
				fprintf(stderr, "xpvd: signal %u, exiting\n", si.ssi_signo);
			break;
		}
		if (p[1].revents) {
			uint64_t n;

			if (read(tfd, &n, sizeof(n)) == sizeof(n))
				tick(&d);
		}
		if (p[2].revents)
			ctl_serve_one(cfd, dispatch, &d);
		if (mfd >= 0 && p[3].revents)
			metrics_serve_one(mfd, metrics, &d);
	}
	sd_notify(0, "STOPPING=1");
	rc = 0;
	goto out;
fail:
	xpv_error_report(&err, "xpvd");
out:
	while (inited > 0) {
		inited--;
		controllers[inited]->shutdown(d.priv[inited]);
	}
	/* Anything a controller could not restore is still listed. */
	if (d.state.entries && state_restore_all(&d.state, &err) < 0) {
		xpv_error_report(&err, "xpvd: restoring saved cgroup values");
		rc = 1;
	}
	if (cfd >= 0) {
		close(cfd);
		unlink(d.cfg.socket_path);
	}
	if (mfd >= 0) {
		close(mfd);
		if (!strncmp(d.cfg.metrics_listen, "unix:", 5))
			unlink(d.cfg.metrics_listen + 5);
	}
	if (sfd >= 0)
		close(sfd);
	if (tfd >= 0)
		close(tfd);
	state_close(&d.state);
	free(d.mount);
	config_free(&d.cfg);
	return rc;
}

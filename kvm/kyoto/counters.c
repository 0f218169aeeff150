// SPDX-License-Identifier: GPL-2.0-or-later
#define _GNU_SOURCE
#include "counters.h"

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <perfmon/pfmlib_perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "util.h"

enum role { R_LLC, R_CYCLES, R_REF, R_INSTR, R_MAX };
static const char *const role_name[R_MAX] = {"llc_misses", "cycles", "ref_cycles", "instructions"};

struct evdef {
	char name[160]; /* libpfm string, or a description for raw events */
	struct perf_event_attr attr;
	int present;
};

struct counters {
	enum counters_source source;
	char *synthetic_dir;
	double freq_khz; /* TSC rate, for ref cycles */
	char pmu[64];
	char how[32]; /* "libpfm", "raw", "generic" */
	struct evdef ev[R_MAX];
	int use_ref;
};

struct thread_ctr {
	pid_t tid;
	char *vm;
	int fd[R_MAX];
	int idx[R_MAX]; /* position in the group read */
	int n;
	int stat_fd; /* /proc/TID/schedstat, kept open: one pread a period */
	uint64_t prev[R_MAX], prev_running, prev_run_ns;
	int primed;
};

/* Event strings per libpfm core PMU (thesis: LLC misses + unhalted cycles). */
static const struct {
	const char *pmu;
	const char *ev[R_MAX];
} tables[] = {
	{"ix86arch",
	 {"LLC_MISSES", "UNHALTED_CORE_CYCLES", "UNHALTED_REFERENCE_CYCLES",
	  "INSTRUCTION_RETIRED"}},
	{"amd64_fam17h_zen2",
	 {"DATA_CACHE_REFILLS_FROM_SYSTEM:LS_MABRESP_LCL_DRAM:"
	  "LS_MABRESP_RMT_CACHE:LS_MABRESP_RMT_DRAM",
	  "CYCLES_NOT_IN_HALT", NULL, "RETIRED_INSTRUCTIONS"}},
	{"amd64_fam19h_zen3",
	 {"ANY_DATA_CACHE_FILLS_FROM_SYSTEM:EXT_CACHE_LCL:MEM_IO_LCL:"
	  "EXT_CACHE_RMT:MEM_IO_RMT",
	  "CYCLES_NOT_IN_HALT", NULL, "RETIRED_INSTRUCTIONS"}},
	{"amd64_fam19h_zen4",
	 {"ANY_DATA_CACHE_FILLS_FROM_SYSTEM:NEAR_CACHE_NEAR_FAR:"
	  "DRAM_IO_NEAR:FAR_CACHE_NEAR_FAR:DRAM_IO_FAR:ALT_MEM_NEAR_FAR",
	  "CYCLES_NOT_IN_HALT", NULL, "RETIRED_INSTRUCTIONS"}},
	/* Intel model tables (skl, skx, icl, icx, spr, ...) */
	{"*intel",
	 {"LONGEST_LAT_CACHE:MISS", "UNHALTED_CORE_CYCLES", "UNHALTED_REFERENCE_CYCLES",
	  "INST_RETIRED:ANY_P"}},
};

const char *counters_llc_event_for_pmu(const char *pmu)
{
	for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
		if (!strcmp(tables[i].pmu, pmu))
			return tables[i].ev[R_LLC];
	return NULL;
}

static int cpu_family(char *vendor, size_t vlen)
{
	cleanup_file FILE *f = fopen("/proc/cpuinfo", "re");
	char line[256];
	int fam = -1;

	vendor[0] = '\0';
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "vendor_id", 9) && !vendor[0])
			sscanf(strchr(line, ':') + 1, "%31s", vendor);
		else if (!strncmp(line, "cpu family", 10) && fam < 0)
			fam = atoi(strchr(line, ':') + 1);
		if (vendor[0] && fam >= 0)
			break;
	}
	(void)vlen;
	return fam;
}

/*
 * The rate of reference cycles, i.e. the TSC: CPUID 0x15 (crystal x ratio),
 * else CPUID 0x16 (base MHz), else the "@ 2.10GHz" in the model name, else
 * the current "cpu MHz" (only right without frequency scaling, e.g. in a
 * VM).  The configuration's freq_khz overrides all of them.
 */
static double detect_tsc_khz(void)
{
	unsigned a = 0, b = 0, c = 0, d = 0;
	char line[256], *at;
	double mhz = 0;
	FILE *f;

	if (__get_cpuid_count(0x15, 0, &a, &b, &c, &d) && a && b && c)
		return (double)c * b / a / 1000.0;
	if (__get_cpuid_count(0x16, 0, &a, &b, &c, &d) && (a & 0xffff))
		return (a & 0xffff) * 1000.0;
	f = fopen("/proc/cpuinfo", "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "model name", 10) && (at = strstr(line, "@ ")) &&
		    strstr(at, "GHz")) {
			mhz = atof(at + 2) * 1000.0;
			break;
		}
		if (!strncmp(line, "cpu MHz", 7) && !mhz)
			mhz = atof(strchr(line, ':') + 1);
	}
	fclose(f);
	return mhz * 1000.0;
}

static int encode(struct evdef *e, const char *name)
{
	pfm_perf_encode_arg_t arg;
	struct perf_event_attr attr;

	memset(&arg, 0, sizeof(arg));
	memset(&attr, 0, sizeof(attr));
	arg.attr = &attr;
	arg.size = sizeof(arg);
	if (pfm_get_os_event_encoding(name, PFM_PLM0 | PFM_PLM3, PFM_OS_PERF_EVENT_EXT, &arg) !=
	    PFM_SUCCESS)
		return -1;
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->attr = attr;
	e->present = 1;
	return 0;
}

static void raw(struct evdef *e, const char *desc, uint32_t type, uint64_t config)
{
	memset(&e->attr, 0, sizeof(e->attr));
	e->attr.type = type;
	e->attr.config = config;
	snprintf(e->name, sizeof(e->name), "%s", desc);
	e->present = 1;
}

static void choose_events(struct counters *c)
{
	pfm_pmu_info_t info;
	char vendor[32];
	int fam;

	if (pfm_initialize() == PFM_SUCCESS) {
		for (int p = PFM_PMU_NONE; p < PFM_PMU_MAX; p++) {
			memset(&info, 0, sizeof(info));
			info.size = sizeof(info);
			if (pfm_get_pmu_info(p, &info) != PFM_SUCCESS || !info.is_present ||
			    info.type != PFM_PMU_TYPE_CORE)
				continue;
			if (!c->pmu[0] || strcmp(info.name, "ix86arch"))
				snprintf(c->pmu, sizeof(c->pmu), "%s", info.name);
		}
	}
	if (c->pmu[0]) {
		const char *const *ev = NULL;
		int intel = 1;

		for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
			if (!strcmp(tables[i].pmu, c->pmu))
				ev = tables[i].ev;
		if (!strncmp(c->pmu, "amd64", 5))
			intel = 0;
		if (!ev && intel)
			ev = tables[sizeof(tables) / sizeof(tables[0]) - 1].ev;
		if (ev && encode(&c->ev[R_LLC], ev[R_LLC]) == 0 &&
		    encode(&c->ev[R_CYCLES], ev[R_CYCLES]) == 0) {
			/* Intel model tables lack LLC_MISSES' twin: try both */
			if (ev[R_REF])
				encode(&c->ev[R_REF], ev[R_REF]);
			if (ev[R_INSTR])
				encode(&c->ev[R_INSTR], ev[R_INSTR]);
			snprintf(c->how, sizeof(c->how), "libpfm");
			return;
		}
		if (intel && encode(&c->ev[R_LLC], "ix86arch::LLC_MISSES") == 0 &&
		    encode(&c->ev[R_CYCLES], "ix86arch::UNHALTED_CORE_CYCLES") == 0) {
			encode(&c->ev[R_REF], "ix86arch::UNHALTED_REFERENCE_CYCLES");
			encode(&c->ev[R_INSTR], "ix86arch::INSTRUCTION_RETIRED");
			snprintf(c->how, sizeof(c->how), "libpfm");
			return;
		}
		memset(c->ev, 0, sizeof(c->ev));
	}
	fam = cpu_family(vendor, sizeof(vendor));
	if (!strcmp(vendor, "AuthenticAMD") && fam >= 0x1a) {
		/* Zen 5: no libpfm 4.13 table.  0x44 with the Zen 3 umasks
		 * (fills from other CCX/DRAM, near and far) counts on Zen 5. */
		snprintf(c->pmu, sizeof(c->pmu), "amd_fam%xh(raw)", fam);
		raw(&c->ev[R_LLC], "ls_any_fills_from_sys(0x5c44)", PERF_TYPE_RAW, 0x5c44);
		raw(&c->ev[R_CYCLES], "cycles_not_in_halt(0x76)", PERF_TYPE_RAW, 0x76);
		raw(&c->ev[R_INSTR], "retired_instructions(0xc0)", PERF_TYPE_RAW, 0xc0);
		snprintf(c->how, sizeof(c->how), "raw");
		return;
	}
	if (!c->pmu[0])
		snprintf(c->pmu, sizeof(c->pmu), "%s-fam%d(generic)",
			 vendor[0] ? vendor : "unknown", fam);
	raw(&c->ev[R_LLC], "PERF_COUNT_HW_CACHE_MISSES", PERF_TYPE_HARDWARE,
	    PERF_COUNT_HW_CACHE_MISSES);
	raw(&c->ev[R_CYCLES], "PERF_COUNT_HW_CPU_CYCLES", PERF_TYPE_HARDWARE,
	    PERF_COUNT_HW_CPU_CYCLES);
	raw(&c->ev[R_REF], "PERF_COUNT_HW_REF_CPU_CYCLES", PERF_TYPE_HARDWARE,
	    PERF_COUNT_HW_REF_CPU_CYCLES);
	raw(&c->ev[R_INSTR], "PERF_COUNT_HW_INSTRUCTIONS", PERF_TYPE_HARDWARE,
	    PERF_COUNT_HW_INSTRUCTIONS);
	snprintf(c->how, sizeof(c->how), "generic");
}

/* The attributes an event is opened with; counters_describe() reports these
 * same ones, so what `xpvctl events` shows is what was opened. */
static void event_attr(const struct counters *c, int r, struct perf_event_attr *a)
{
	*a = c->ev[r].attr;
	a->size = sizeof(*a);
	/* Count the guest: libpfm sets exclude_guest by default. */
	a->exclude_guest = 0;
	a->exclude_host = 0;
	a->exclude_hv = 0;
	a->disabled = 0;
	a->inherit = 0;
	a->read_format =
		PERF_FORMAT_GROUP | PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
}

static int open_group(struct counters *c, pid_t tid, struct thread_ctr *t, struct xpv_error **err)
{
	for (int r = 0; r < R_MAX; r++)
		t->fd[r] = -1;
	t->n = 0;
	for (int r = 0; r < R_MAX; r++) {
		struct perf_event_attr a;

		if (!c->ev[r].present || (r == R_REF && !c->use_ref))
			continue;
		event_attr(c, r, &a);
		t->fd[r] = perf_event_open(&a, tid, -1, r == R_LLC ? -1 : t->fd[R_LLC],
					   PERF_FLAG_FD_CLOEXEC);
		if (t->fd[r] < 0) {
			int e = errno;

			if (r == R_REF || r == R_INSTR)
				continue; /* optional members */
			for (int k = 0; k < R_MAX; k++)
				if (t->fd[k] >= 0)
					close(t->fd[k]);
			return xpv_error_set(err, e,
					     "perf_event_open(%s = %s, type %u config 0x%llx) "
					     "for thread %d",
					     role_name[r], c->ev[r].name, a.type,
					     (unsigned long long)a.config, (int)tid);
		}
		t->idx[r] = t->n++;
	}
	return 0;
}

int counters_init(struct counters **out, const struct counters_opts *o, struct xpv_error **err)
{
	struct counters *c = calloc(1, sizeof(*c));
	struct thread_ctr probe;

	if (!c)
		return xpv_error_set(err, ENOMEM, "counters");
	c->source = o->source;
	c->freq_khz = o->freq_khz > 0 ? o->freq_khz : detect_tsc_khz();
	if (o->source == CTR_SYNTHETIC) {
		c->synthetic_dir =
			strdup(o->synthetic_dir ? o->synthetic_dir : "/run/xpvd/synthetic");
		snprintf(c->pmu, sizeof(c->pmu), "none");
		snprintf(c->how, sizeof(c->how), "synthetic");
		*out = c;
		return 0;
	}
	if (o->source == CTR_SOFTWARE) {
		snprintf(c->pmu, sizeof(c->pmu), "software");
		raw(&c->ev[R_LLC], "PERF_COUNT_SW_PAGE_FAULTS", PERF_TYPE_SOFTWARE,
		    PERF_COUNT_SW_PAGE_FAULTS);
		raw(&c->ev[R_CYCLES], "PERF_COUNT_SW_TASK_CLOCK", PERF_TYPE_SOFTWARE,
		    PERF_COUNT_SW_TASK_CLOCK);
		raw(&c->ev[R_INSTR], "PERF_COUNT_SW_CONTEXT_SWITCHES", PERF_TYPE_SOFTWARE,
		    PERF_COUNT_SW_CONTEXT_SWITCHES);
		snprintf(c->how, sizeof(c->how), "software");
	} else {
		choose_events(c);
	}
	c->use_ref = c->ev[R_REF].present && c->freq_khz > 0;
	/* Probe on ourselves so a machine without a PMU fails here, with
	 * one clear message, and not once per vCPU. */
	memset(&probe, 0, sizeof(probe));
	if (open_group(c, 0, &probe, err) < 0) {
		int e = (*err)->status;

		/* Say what the operator can do; test-only sources are not an
		 * answer on a production host. */
		if (e == ENOENT || e == EOPNOTSUPP || e == ENODEV)
			xpv_error_wrap(err,
				       "this host exposes no hardware PMU to this kernel "
				       "(perf_event_open on PMU %s: %s); Kyoto needs LLC miss "
				       "counters: run on bare metal or enable the vPMU of this "
				       "VM (see dmesg \"Performance Events\"), or disable the "
				       "kyoto controller with \"kyoto\": {\"enabled\": false}",
				       c->pmu, strerror(e));
		else if (e == EACCES || e == EPERM)
			xpv_error_wrap(err,
				       "no access to hardware counters on PMU %s: run xpvd as "
				       "root or lower kernel.perf_event_paranoid",
				       c->pmu);
		else
			xpv_error_wrap(err, "no usable hardware counters on PMU %s", c->pmu);
		counters_free(c);
		return -1;
	}
	if (c->use_ref && probe.fd[R_REF] < 0)
		c->use_ref = 0;
	if (probe.fd[R_INSTR] < 0)
		c->ev[R_INSTR].present = 0;
	for (int r = 0; r < R_MAX; r++)
		if (probe.fd[r] >= 0)
			close(probe.fd[r]);
	*out = c;
	return 0;
}

void counters_free(struct counters *c)
{
	if (!c)
		return;
	free(c->synthetic_dir);
	free(c);
}

int counters_run_ns(pid_t tid, uint64_t *ns, struct xpv_error **err)
{
	char path[64], buf[128];
	cleanup_close int fd = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return xpv_error_set(err, errno, "opening `%s`", path);
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return xpv_error_set(err, n < 0 ? errno : EIO, "reading `%s`", path);
	buf[n] = '\0';
	*ns = strtoull(buf, NULL, 10);
	return 0;
}

int counters_open(struct counters *c, pid_t tid, const char *vm, struct thread_ctr **out,
		  struct xpv_error **err)
{
	struct thread_ctr *t = calloc(1, sizeof(*t));

	if (!t)
		return xpv_error_set(err, ENOMEM, "counters");
	t->tid = tid;
	t->vm = strdup(vm);
	for (int r = 0; r < R_MAX; r++)
		t->fd[r] = -1;
	t->stat_fd = -1;
	if (c->source == CTR_SYNTHETIC) {
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)tid);
		t->stat_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (t->stat_fd < 0) {
			xpv_error_set(err, errno, "opening `%s`", path);
			counters_close(t);
			return -1;
		}
	} else if (open_group(c, tid, t, err) < 0) {
		counters_close(t);
		return -1;
	}
	*out = t;
	return 0;
}

void counters_close(struct thread_ctr *t)
{
	if (!t)
		return;
	for (int r = 0; r < R_MAX; r++)
		if (t->fd[r] >= 0)
			close(t->fd[r]);
	if (t->stat_fd >= 0)
		close(t->stat_fd);
	free(t->vm);
	free(t);
}

static double synthetic_rate(struct counters *c, const char *vm)
{
	cleanup_free char *path = NULL, *buf = NULL;
	struct xpv_error *e = NULL;
	double v;

	if (asprintf(&path, "%s/%s", c->synthetic_dir, vm) < 0)
		return 0;
	if (xpv_read_file(path, &buf, &e) < 0) {
		xpv_error_free(&e);
		return 0;
	}
	v = atof(buf);
	return v > 0 ? v : 0;
}

int counters_read(struct counters *c, struct thread_ctr *t, struct acct_sample *d,
		  struct xpv_error **err)
{
	uint64_t run_ns, buf[3 + R_MAX], cur[R_MAX] = {0}, running;
	double scale = 1;
	ssize_t n;

	memset(d, 0, sizeof(*d));
	if (c->source == CTR_SYNTHETIC) {
		char sb[128];

		n = pread(t->stat_fd, sb, sizeof(sb) - 1, 0);
		if (n <= 0)
			return xpv_error_set(err, n < 0 ? errno : ESRCH,
					     "reading schedstat of thread %d", (int)t->tid);
		sb[n] = '\0';
		run_ns = strtoull(sb, NULL, 10);
		if (t->primed) {
			d->run_ns = run_ns - t->prev_run_ns;
			d->base_cycles = d->run_ns;
			d->freq_khz = 1e6; /* ns: a 1 GHz clock */
			d->cycles = d->run_ns;
			d->llc_misses =
				(uint64_t)(synthetic_rate(c, t->vm) * (double)d->run_ns / 1e6);
		}
		t->prev_run_ns = run_ns;
		t->primed = 1;
		return 0;
	}
	n = read(t->fd[R_LLC], buf, sizeof(buf));
	if (n < (ssize_t)(3 * sizeof(uint64_t)) || buf[0] != (uint64_t)t->n)
		return xpv_error_set(err, n < 0 ? errno : EIO, "reading counters of thread %d",
				     (int)t->tid);
	/* A per-task event's enabled time only advances while the task is
	 * on a CPU: it is the thread's run time, without a /proc read. */
	run_ns = buf[1];
	running = buf[2];
	for (int r = 0; r < R_MAX; r++)
		if (t->fd[r] >= 0)
			cur[r] = buf[3 + t->idx[r]];
	if (t->primed) {
		uint64_t dr = running - t->prev_running;

		d->run_ns = run_ns - t->prev_run_ns;
		/* Ran, but the group was never scheduled on the PMU: nothing
		 * to extrapolate from (account.c skips the sample). */
		d->unmeasured = d->run_ns && !dr;
		/* Multiplexing: extrapolate the deltas to the on-CPU time. */
		if (dr && d->run_ns > dr)
			scale = (double)d->run_ns / (double)dr;
		d->llc_misses = (uint64_t)((cur[R_LLC] - t->prev[R_LLC]) * scale);
		d->cycles = (uint64_t)((cur[R_CYCLES] - t->prev[R_CYCLES]) * scale);
		d->instructions = (uint64_t)((cur[R_INSTR] - t->prev[R_INSTR]) * scale);
		if (c->use_ref && t->fd[R_REF] >= 0) {
			d->base_cycles = (uint64_t)((cur[R_REF] - t->prev[R_REF]) * scale);
			d->freq_khz = c->freq_khz;
		} else {
			/* time_running is a frequency-independent clock. */
			d->base_cycles = (uint64_t)(dr * scale);
			d->freq_khz = 1e6;
		}
	}
	memcpy(t->prev, cur, sizeof(cur));
	t->prev_running = running;
	t->prev_run_ns = run_ns;
	t->primed = 1;
	return 0;
}

json_t *counters_describe(const struct counters *c)
{
	json_t *o = json_object(), *arr = json_array();

	json_object_set_new(o, "source", json_string(c->source == CTR_PERF ? "perf" : "synthetic"));
	json_object_set_new(o, "pmu", json_string(c->pmu));
	json_object_set_new(o, "encoding", json_string(c->how));
	json_object_set_new(o, "freq_khz", json_real(c->freq_khz));
	if (c->source == CTR_SYNTHETIC) {
		json_object_set_new(o, "time_base", json_string("schedstat run time (ns)"));
		json_object_set_new(o, "synthetic_dir", json_string(c->synthetic_dir));
	} else {
		json_object_set_new(o, "time_base",
				    json_string(c->use_ref ? "ref_cycles at freq_khz"
							   : "time_running (ns, 1 GHz clock)"));
	}
	for (int r = 0; c->source != CTR_SYNTHETIC && r < R_MAX; r++) {
		if (!c->ev[r].present || (r == R_REF && !c->use_ref))
			continue;
		struct perf_event_attr a;
		char cfg[24];

		event_attr(c, r, &a);
		snprintf(cfg, sizeof(cfg), "0x%llx", (unsigned long long)a.config);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:i, s:s, s:b, s:b}", "role",
						     role_name[r], "name", c->ev[r].name, "type",
						     (int)a.type, "config", cfg, "exclude_guest",
						     (int)a.exclude_guest, "exclude_host",
						     (int)a.exclude_host));
	}
	json_object_set_new(o, "events", arr);
	return o;
}

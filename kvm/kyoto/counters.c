// SPDX-License-Identifier: GPL-2.0-or-later
#define _GNU_SOURCE
#include "counters.h"

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <hwloc.h>
#include <linux/magic.h>
#include <stdbool.h>
#include <perfmon/pfmlib_perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/statfs.h>
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
	enum counters_mode mode;
	char *cg_mount; /* cpu controller directory (cgroup paths' prefix) */
	char *perf_root; /* where perf_event sees the same cgroups */
	unsigned n_cpus;
	unsigned *cpus; /* online CPUs, where cgroup groups are opened */
};

/* One perf event group (a thread's, or a cgroup's on one CPU) and the
 * values of its previous read. */
struct ev_group {
	int fd[R_MAX];
	int idx[R_MAX]; /* position in the group read */
	int n;
	uint64_t prev[R_MAX], prev_running, prev_run_ns;
	int primed;
};

struct thread_ctr {
	pid_t tid;
	char *vm;
	struct ev_group g;
	int stat_fd; /* /proc/TID/schedstat, kept open: one pread a period */
	uint64_t prev_run_ns;
	int primed;
};

struct cgroup_ctr {
	char *dir; /* perf_event's view of the cgroup, for messages */
	unsigned n; /* CPUs */
	unsigned *cpu;
	struct ev_group *g;
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

/* pid/cpu/flags as perf_event_open(2): (TID, -1, 0) for a thread,
 * (cgroup fd, CPU, PERF_FLAG_PID_CGROUP) for a cgroup on one CPU. */
static int open_group(struct counters *c, pid_t pid, int cpu, unsigned long flags,
		      struct ev_group *t, struct xpv_error **err)
{
	for (int r = 0; r < R_MAX; r++)
		t->fd[r] = -1;
	t->n = 0;
	for (int r = 0; r < R_MAX; r++) {
		struct perf_event_attr a;

		if (!c->ev[r].present || (r == R_REF && !c->use_ref))
			continue;
		event_attr(c, r, &a);
		t->fd[r] = perf_event_open(&a, pid, cpu, r == R_LLC ? -1 : t->fd[R_LLC],
					   flags | PERF_FLAG_FD_CLOEXEC);
		if (t->fd[r] < 0) {
			int e = errno;

			if (r == R_REF || r == R_INSTR)
				continue; /* optional members */
			for (int k = 0; k < R_MAX; k++)
				if (t->fd[k] >= 0)
					close(t->fd[k]);
			return xpv_error_set(
				err, e,
				"perf_event_open(%s = %s, type %u config 0x%llx) "
				"for %s %d%s",
				role_name[r], c->ev[r].name, a.type, (unsigned long long)a.config,
				flags & PERF_FLAG_PID_CGROUP ? "cgroup on CPU" : "thread",
				flags & PERF_FLAG_PID_CGROUP ? cpu : (int)pid,
				e == EMFILE ? " (out of file descriptors: raise "
					      "LimitNOFILE)"
					    : "");
		}
		t->idx[r] = t->n++;
	}
	return 0;
}

static void close_group(struct ev_group *g)
{
	for (int r = 0; r < R_MAX; r++)
		if (g->fd[r] >= 0)
			close(g->fd[r]);
}

/*
 * Counts of a group since its previous read.  Both a thread's event and a
 * cgroup's event on one CPU only advance time_enabled while their tasks
 * are on that CPU, so time_enabled is the run time, without a /proc read.
 * Multiplexing: the deltas are extrapolated by enabled / running.
 */
static int read_group(struct counters *c, struct ev_group *t, struct acct_sample *d,
		      const char *what, int id, struct xpv_error **err)
{
	uint64_t run_ns, buf[3 + R_MAX], cur[R_MAX] = {0}, running;
	double scale = 1;
	ssize_t n;

	memset(d, 0, sizeof(*d));
	n = read(t->fd[R_LLC], buf, sizeof(buf));
	if (n < (ssize_t)(3 * sizeof(uint64_t)) || buf[0] != (uint64_t)t->n)
		return xpv_error_set(err, n < 0 ? errno : EIO, "reading counters of %s %d", what,
				     id);
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

/* The mount point of a cgroup hierarchy from /proc/self/mountinfo: the
 * cgroup2 one (fstype "cgroup2"), or the v1 one with option opt. */
static char *cgroup_mount(const char *fstype, const char *opt)
{
	cleanup_file FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[1024];

	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		char mnt[512], type[32], opts[512];
		const char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*s %*s %*s %*s %511s", mnt) != 1 ||
		    sscanf(sep + 3, "%31s %*s %511s", type, opts) != 2 || strcmp(type, fstype))
			continue;
		if (opt) {
			bool found = false;

			for (char *save = NULL, *o = strtok_r(opts, ",", &save); o;
			     o = strtok_r(NULL, ",", &save))
				found |= !strcmp(o, opt);
			if (!found)
				continue;
		}
		return strdup(mnt);
	}
	return NULL;
}

/*
 * Per-cgroup counting needs the cgroup as perf_event sees it: the cpu
 * controller's own directory on cgroup v2; on v1 the same path in the
 * perf_event hierarchy, or in the unified (v2) hierarchy of a hybrid
 * setup, where perf_event is bound when it has no v1 mount.
 */
static int setup_cgroup_mode(struct counters *c, const struct counters_opts *o,
			     struct xpv_error **err)
{
	hwloc_bitmap_t online;
	cleanup_free char *buf = NULL;
	struct statfs fs;
	int cpu;

	if (c->source == CTR_SYNTHETIC)
		return xpv_error_set(err, 0,
				     "kyoto.counters.mode \"cgroup\" needs perf counters; "
				     "the synthetic source is per thread");
	if (!o->cg_mount || statfs(o->cg_mount, &fs) < 0 ||
	    (fs.f_type != CGROUP2_SUPER_MAGIC && fs.f_type != CGROUP_SUPER_MAGIC))
		return xpv_error_set(err, 0,
				     "kyoto.counters.mode \"cgroup\": `%s` is not a cgroup "
				     "file system",
				     o->cg_mount ? o->cg_mount : "(none)");
	if (fs.f_type == CGROUP2_SUPER_MAGIC)
		c->perf_root = strdup(o->cg_mount);
	else if (!(c->perf_root = cgroup_mount("cgroup", "perf_event")))
		/* Hybrid: a VM's v1 directories (libvirt's vcpuN) need not
		 * exist there; kyoto.c then counts that VM per thread. */
		c->perf_root = cgroup_mount("cgroup2", NULL);
	if (!c->perf_root)
		return xpv_error_set(err, 0,
				     "kyoto.counters.mode \"cgroup\": no perf_event cgroup "
				     "hierarchy (v1 perf_event, or v2) is mounted");
	c->cg_mount = strdup(o->cg_mount);
	if (xpv_read_file("/sys/devices/system/cpu/online", &buf, err) < 0)
		return -1;
	online = hwloc_bitmap_alloc();
	if (!c->cg_mount || !online || hwloc_bitmap_list_sscanf(online, buf) < 0 ||
	    hwloc_bitmap_weight(online) <= 0) {
		hwloc_bitmap_free(online);
		return xpv_error_set(err, c->cg_mount ? EINVAL : ENOMEM,
				     "parsing the online CPUs `%s`", buf);
	}
	c->cpus = calloc((size_t)hwloc_bitmap_weight(online), sizeof(*c->cpus));
	if (!c->cpus) {
		hwloc_bitmap_free(online);
		return xpv_error_set(err, ENOMEM, "counters");
	}
	hwloc_bitmap_foreach_begin(cpu, online)
	{
		c->cpus[c->n_cpus++] = (unsigned)cpu;
	}
	hwloc_bitmap_foreach_end();
	hwloc_bitmap_free(online);
	c->mode = CTR_MODE_CGROUP;
	return 0;
}

int counters_init(struct counters **out, const struct counters_opts *o, struct xpv_error **err)
{
	struct counters *c = calloc(1, sizeof(*c));
	struct ev_group probe;

	if (!c)
		return xpv_error_set(err, ENOMEM, "counters");
	c->source = o->source;
	c->mode = CTR_MODE_THREAD;
	c->freq_khz = o->freq_khz > 0 ? o->freq_khz : detect_tsc_khz();
	if (o->source == CTR_SYNTHETIC) {
		if (o->mode == CTR_MODE_CGROUP) {
			free(c);
			return xpv_error_set(err, 0,
					     "kyoto.counters.mode \"cgroup\" needs perf "
					     "counters; the synthetic source is per thread");
		}
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
	if (open_group(c, 0, -1, 0, &probe, err) < 0) {
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
	if (o->mode != CTR_MODE_THREAD && setup_cgroup_mode(c, o, err) < 0) {
		if (o->mode == CTR_MODE_CGROUP) {
			counters_free(c);
			return -1;
		}
		/* auto: per-thread counting works everywhere perf does. */
		xpv_error_free(err);
		c->mode = CTR_MODE_THREAD;
	}
	*out = c;
	return 0;
}

void counters_free(struct counters *c)
{
	if (!c)
		return;
	free(c->synthetic_dir);
	free(c->cg_mount);
	free(c->perf_root);
	free(c->cpus);
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
		t->g.fd[r] = -1;
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
	} else if (open_group(c, tid, -1, 0, &t->g, err) < 0) {
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
	close_group(&t->g);
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
	uint64_t run_ns;
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
	return read_group(c, &t->g, d, "thread", (int)t->tid, err);
}

json_t *counters_describe(const struct counters *c)
{
	json_t *o = json_object(), *arr = json_array();

	json_object_set_new(o, "source",
			    json_string(c->source == CTR_PERF	    ? "perf"
					: c->source == CTR_SOFTWARE ? "software"
								    : "synthetic"));
	json_object_set_new(o, "mode",
			    json_string(c->mode == CTR_MODE_CGROUP ? "cgroup" : "thread"));
	if (c->mode == CTR_MODE_CGROUP) {
		json_object_set_new(o, "perf_cgroup_root", json_string(c->perf_root));
		json_object_set_new(o, "cpus", json_integer(c->n_cpus));
	}
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

enum counters_mode counters_mode(const struct counters *c)
{
	return c->mode;
}

int counters_open_cgroup(struct counters *c, const char *dir, struct cgroup_ctr **out,
			 struct xpv_error **err)
{
	size_t ml = strlen(c->cg_mount);
	struct cgroup_ctr *g;
	cleanup_close int fd = -1;

	if (c->mode != CTR_MODE_CGROUP)
		return xpv_error_set(err, EINVAL, "counters are not per cgroup");
	if (strncmp(dir, c->cg_mount, ml) || (dir[ml] && dir[ml] != '/'))
		return xpv_error_set(err, EINVAL, "cgroup `%s` is not under `%s`", dir,
				     c->cg_mount);
	g = calloc(1, sizeof(*g));
	if (!g)
		return xpv_error_set(err, ENOMEM, "counters");
	if (asprintf(&g->dir, "%s%s", c->perf_root, dir + ml) < 0) {
		free(g);
		return xpv_error_set(err, ENOMEM, "counters");
	}
	g->cpu = calloc(c->n_cpus, sizeof(*g->cpu));
	g->g = calloc(c->n_cpus, sizeof(*g->g));
	fd = open(g->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (!g->cpu || !g->g || fd < 0) {
		int e = !g->cpu || !g->g ? ENOMEM : errno;

		xpv_error_set(err, e, "opening cgroup `%s` for perf_event", g->dir);
		counters_close_cgroup(g);
		return -1;
	}
	for (unsigned i = 0; i < c->n_cpus; i++) {
		if (open_group(c, fd, (int)c->cpus[i], PERF_FLAG_PID_CGROUP, &g->g[g->n], err) <
		    0) {
			xpv_error_wrap(err, "cgroup `%s`", g->dir);
			counters_close_cgroup(g);
			return -1;
		}
		g->cpu[g->n++] = c->cpus[i];
	}
	*out = g;
	return 0;
}

int counters_read_cgroup(struct counters *c, struct cgroup_ctr *g, struct acct_sample *delta,
			 unsigned *cpu, unsigned max, struct xpv_error **err)
{
	unsigned n = g->n < max ? g->n : max;

	for (unsigned i = 0; i < n; i++) {
		if (read_group(c, &g->g[i], &delta[i], "cgroup on CPU", (int)g->cpu[i], err) < 0)
			return xpv_error_wrap(err, "cgroup `%s`", g->dir);
		cpu[i] = g->cpu[i];
	}
	return (int)n;
}

void counters_close_cgroup(struct cgroup_ctr *g)
{
	if (!g)
		return;
	for (unsigned i = 0; i < g->n; i++)
		close_group(&g->g[i]);
	free(g->g);
	free(g->cpu);
	free(g->dir);
	free(g);
}

unsigned counters_n_cpus(const struct counters *c)
{
	return c->mode == CTR_MODE_CGROUP ? c->n_cpus : 0;
}

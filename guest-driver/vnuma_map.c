// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-numa map blob parser, format 2 (docs/virtio-numa.md, "Driver
 * validation").  The blob comes from the host and is hostile until proven
 * otherwise: every count, offset and index is checked before it is used, in
 * 64-bit arithmetic that cannot overflow (offsets are 32-bit, sizes below
 * 2^23), and the result goes to a caller-provided native-endian struct so a
 * rejected blob touches nothing the driver publishes.
 */
#include "vnuma_map.h"

#ifdef __KERNEL__
#include <linux/stddef.h>
#endif

#define HDR_FIELD(blob, field) ((const u8 *)(blob) + offsetof(struct virtio_numa_map_hdr, field))
#define HDR16(blob, field) get_unaligned_le16(HDR_FIELD(blob, field))
#define HDR32(blob, field) get_unaligned_le32(HDR_FIELD(blob, field))
#define HDR64(blob, field) get_unaligned_le64(HDR_FIELD(blob, field))

static const char *const vnuma_map_errstr[VNUMA_E__COUNT] = {
	[VNUMA_OK] = "ok",
	[VNUMA_E_SHORT] = "used length shorter than the header",
	[VNUMA_E_MAP_LEN] = "used length above max_map_len",
	[VNUMA_E_MAGIC] = "bad magic",
	[VNUMA_E_FORMAT] = "unsupported format",
	[VNUMA_E_HDR_LEN] = "bad hdr_len",
	[VNUMA_E_TOTAL_LEN] = "total_len differs from the used length",
	[VNUMA_E_NR_HNODES] = "nr_hnodes outside 1..max_hnodes",
	[VNUMA_E_NR_GNODES] = "nr_gnodes differs from the configuration",
	[VNUMA_E_NR_VCPUS] = "nr_vcpus differs from the configuration",
	[VNUMA_E_STRIDE] = "bad gnode_stride",
	[VNUMA_E_TABLE_BOUNDS] = "table outside the blob",
	[VNUMA_E_TABLE_OVERLAP] = "tables overlap",
	[VNUMA_E_HNODE_ID] = "host node id too large",
	[VNUMA_E_HNODE_DUP] = "duplicate host node id",
	[VNUMA_E_DIST] = "bad distance",
	[VNUMA_E_HOME] = "guest node home index out of range",
	[VNUMA_E_VCPU_HNODE] = "vcpu host node index out of range",
	[VNUMA_E_BYTES] = "guest node byte counts exceed size",
	[VNUMA_E_MEMORYLESS] = "memoryless guest node with a size",
	[VNUMA_E_ARCH_ID_DUP] = "duplicate arch_id of present vcpus",
	[VNUMA_E_STALE] = "version lower than the map held",
	[VNUMA_E_DUPLICATE] = "version equal to the map held",
};

const char *vnuma_map_strerror(enum vnuma_map_err code)
{
	if ((unsigned int)code >= VNUMA_E__COUNT)
		return "unknown";
	return vnuma_map_errstr[code];
}

static int reject(struct vnuma_map_error *why, enum vnuma_map_err code, u32 index, u64 value)
{
	why->code = code;
	why->index = index;
	why->value = value;
	return code == VNUMA_E_DUPLICATE ? -EALREADY : -EINVAL;
}

/* Index 0 hnodes, 1 dist, 2 gnodes, 3 vcpus: reported as the error index. */
struct vnuma_table {
	u64 off;
	u64 size;
};

static int check_tables(const struct vnuma_table *t, unsigned int n, u64 hdr_len, u64 total_len,
			struct vnuma_map_error *why)
{
	unsigned int i, j;

	for (i = 0; i < n; i++) {
		if (t[i].off < hdr_len || t[i].size > total_len || t[i].off > total_len - t[i].size)
			return reject(why, VNUMA_E_TABLE_BOUNDS, i, t[i].off);
	}
	for (i = 0; i < n; i++) {
		for (j = i + 1; j < n; j++) {
			if (t[i].off < t[j].off + t[j].size && t[j].off < t[i].off + t[i].size)
				return reject(why, VNUMA_E_TABLE_OVERLAP, i << 8 | j, t[j].off);
		}
	}
	return 0;
}

/* Rule 6: arch_ids of present entries are unique.  Quadratic, but at most
 * 1024 entries (half a million compares) once per accepted-size map. */
static int check_arch_ids(const struct vnuma_map *m, struct vnuma_map_error *why)
{
	unsigned int i, j;

	for (i = 0; i < m->nr_vcpus; i++) {
		if (!(m->vcpu[i].flags & VIRTIO_NUMA_VCPU_F_PRESENT))
			continue;
		for (j = 0; j < i; j++) {
			if ((m->vcpu[j].flags & VIRTIO_NUMA_VCPU_F_PRESENT) &&
			    m->vcpu[j].arch_id == m->vcpu[i].arch_id)
				return reject(why, VNUMA_E_ARCH_ID_DUP, i, m->vcpu[i].arch_id);
		}
	}
	return 0;
}

int vnuma_map_parse(const void *blob, size_t len, const struct vnuma_map_ctx *ctx,
		    struct vnuma_map *out, struct vnuma_map_error *why)
{
	const u8 *b = blob;
	struct vnuma_table t[4];
	u32 total_len;
	u16 hdr_len, nh, ng, nv, stride;
	u64 version;
	unsigned int i, j;
	int ret;

	why->code = VNUMA_OK;
	why->index = 0;
	why->value = 0;

	/* rule 1: lengths, magic, format; len is checked before any read */
	if (len < VNUMA_MAP_HDR_LEN)
		return reject(why, VNUMA_E_SHORT, 0, len);
	if (len > ctx->max_map_len || len > VIRTIO_NUMA_MAX_MAP_LEN)
		return reject(why, VNUMA_E_MAP_LEN, 0, len);
	if (HDR32(b, magic) != VIRTIO_NUMA_MAP_MAGIC)
		return reject(why, VNUMA_E_MAGIC, 0, HDR32(b, magic));
	if (HDR16(b, format) != VIRTIO_NUMA_MAP_FORMAT)
		return reject(why, VNUMA_E_FORMAT, 0, HDR16(b, format));
	total_len = HDR32(b, total_len);
	if (total_len != len)
		return reject(why, VNUMA_E_TOTAL_LEN, 0, total_len);
	hdr_len = HDR16(b, hdr_len);
	if (hdr_len < VNUMA_MAP_HDR_LEN || hdr_len > total_len)
		return reject(why, VNUMA_E_HDR_LEN, 0, hdr_len);

	/* rule 2: counts against the fixed configuration */
	nh = HDR16(b, nr_hnodes);
	ng = HDR16(b, nr_gnodes);
	nv = HDR16(b, nr_vcpus);
	stride = HDR16(b, gnode_stride);
	if (nh < 1 || nh > ctx->max_hnodes || nh > VIRTIO_NUMA_MAX_HNODES)
		return reject(why, VNUMA_E_NR_HNODES, 0, nh);
	if (ng != ctx->nr_gnodes || ng < 1 || ng > VIRTIO_NUMA_MAX_GNODES)
		return reject(why, VNUMA_E_NR_GNODES, 0, ng);
	if (nv != ctx->nr_vcpus || nv < 1 || nv > VIRTIO_NUMA_MAX_VCPUS)
		return reject(why, VNUMA_E_NR_VCPUS, 0, nv);
	if (stride < sizeof(struct virtio_numa_gnode) + 8u * nh || stride % 8)
		return reject(why, VNUMA_E_STRIDE, 0, stride);

	/* rule 3: tables, ids, distances */
	t[0].off = HDR32(b, off_hnodes);
	t[0].size = 2u * nh;
	t[1].off = HDR32(b, off_dist);
	t[1].size = (u64)nh * nh;
	t[2].off = HDR32(b, off_gnodes);
	t[2].size = (u64)ng * stride;
	t[3].off = HDR32(b, off_vcpus);
	t[3].size = (u64)nv * sizeof(struct virtio_numa_vcpu);
	ret = check_tables(t, ARRAY_SIZE(t), hdr_len, total_len, why);
	if (ret)
		return ret;

	out->nr_hnodes = nh;
	out->nr_gnodes = ng;
	out->nr_vcpus = nv;

	for (i = 0; i < nh; i++) {
		u16 id = get_unaligned_le16(b + t[0].off + 2u * i);

		if (id >= VIRTIO_NUMA_MAX_NODE_ID)
			return reject(why, VNUMA_E_HNODE_ID, i, id);
		for (j = 0; j < i; j++) {
			if (out->hnode_id[j] == id)
				return reject(why, VNUMA_E_HNODE_DUP, i, id);
		}
		out->hnode_id[i] = id;
	}

	for (i = 0; i < nh; i++) {
		for (j = 0; j < nh; j++) {
			u8 d = b[t[1].off + i * nh + j];
			int ok = i == j ? d == VIRTIO_NUMA_LOCAL_DISTANCE
					: d > VIRTIO_NUMA_LOCAL_DISTANCE;

			if (!ok)
				return reject(why, VNUMA_E_DIST, i * nh + j, d);
			out->dist[i * nh + j] = d;
		}
	}

	/* rule 4: indices and byte counts */
	for (i = 0; i < ng; i++) {
		const u8 *e = b + t[2].off + (u64)i * stride;
		struct vnuma_gnode *g = &out->gnode[i];
		u64 sum;

		g->home = get_unaligned_le16(e + offsetof(struct virtio_numa_gnode, home));
		g->flags = get_unaligned_le16(e + offsetof(struct virtio_numa_gnode, flags));
		g->size_bytes =
			get_unaligned_le64(e + offsetof(struct virtio_numa_gnode, size_bytes));
		g->unplaced_bytes =
			get_unaligned_le64(e + offsetof(struct virtio_numa_gnode, unplaced_bytes));
		if (g->home >= nh && g->home != VIRTIO_NUMA_NO_NODE)
			return reject(why, VNUMA_E_HOME, i, g->home);
		if ((g->flags & VIRTIO_NUMA_GNODE_F_MEMORYLESS) && g->size_bytes)
			return reject(why, VNUMA_E_MEMORYLESS, i, g->size_bytes);
		sum = g->unplaced_bytes;
		for (j = 0; j < nh; j++) {
			u64 v = get_unaligned_le64(e + sizeof(struct virtio_numa_gnode) + 8u * j);

			if (sum + v < sum)
				return reject(why, VNUMA_E_BYTES, i, v);
			sum += v;
			g->bytes_on[j] = v;
		}
		if (sum > g->size_bytes)
			return reject(why, VNUMA_E_BYTES, i, sum);
	}

	for (i = 0; i < nv; i++) {
		const u8 *e = b + t[3].off + sizeof(struct virtio_numa_vcpu) * i;
		struct vnuma_vcpu *v = &out->vcpu[i];

		v->arch_id = get_unaligned_le32(e + offsetof(struct virtio_numa_vcpu, arch_id));
		v->host_cpu = get_unaligned_le32(e + offsetof(struct virtio_numa_vcpu, host_cpu));
		v->hnode = get_unaligned_le16(e + offsetof(struct virtio_numa_vcpu, hnode));
		v->flags = get_unaligned_le16(e + offsetof(struct virtio_numa_vcpu, flags));
		if (v->hnode >= nh && v->hnode != VIRTIO_NUMA_NO_NODE)
			return reject(why, VNUMA_E_VCPU_HNODE, i, v->hnode);
	}

	/* rule 6 */
	ret = check_arch_ids(out, why);
	if (ret)
		return ret;

	/* rule 5 last, so that a corrupt map of the held version is a reject */
	version = HDR64(b, version);
	if (version == 0 || version < ctx->held_version)
		return reject(why, VNUMA_E_STALE, 0, version); /* the first map is >= 1 */
	if (version == ctx->held_version)
		return reject(why, VNUMA_E_DUPLICATE, 0, version);
	out->version = version;
	return 0;
}

int vnuma_map_hnode_index(const struct vnuma_map *m, u16 id)
{
	unsigned int i;

	for (i = 0; i < m->nr_hnodes; i++) {
		if (m->hnode_id[i] == id)
			return i;
	}
	return -1;
}

size_t vnuma_page_fill(void *page, size_t size, size_t prev_used, const struct vnuma_map *m,
		       const u16 *gnode_of_vcpu, const struct vnuma_page_info *info)
{
	struct xpv_page_hdr *h = page;
	u8 *p = page;
	unsigned int nh = m ? m->nr_hnodes : 0, ng = m ? m->nr_gnodes : 0;
	unsigned int nv = m ? m->nr_vcpus : 0;
	size_t stride = sizeof(struct xpv_page_gnode) + 8u * nh;
	size_t off_ids, off_dist, off_gnodes, off_vcpus, used;
	unsigned int i;

	off_ids = VNUMA_PAGE_ALIGN8(sizeof(*h));
	off_dist = off_ids + VNUMA_PAGE_ALIGN8(2u * nh);
	off_gnodes = off_dist + VNUMA_PAGE_ALIGN8(nh * nh);
	off_vcpus = off_gnodes + ng * stride;
	used = off_vcpus + nv * sizeof(struct xpv_page_vcpu);
	if (used > size)
		return 0;

	/*
	 * Clear what this layout uses (padding included) and what the previous
	 * one used beyond it, not the whole page: readers retry for as long as
	 * the writer holds seq odd.
	 */
	if (prev_used > size)
		prev_used = size;
	memset(p + sizeof(*h), 0, (used > prev_used ? used : prev_used) - sizeof(*h));
	h->magic = XPV_PAGE_MAGIC;
	h->abi = XPV_PAGE_ABI;
	h->hdr_len = sizeof(*h);
	h->flags = info->flags;
	h->version = m ? m->version : 0;
	h->nr_hnodes = nh;
	h->nr_gnodes = ng;
	h->nr_vcpus = nv;
	h->gnode_stride = m ? stride : 0;
	h->off_hnode_ids = m ? off_ids : 0;
	h->off_dist = m ? off_dist : 0;
	h->off_gnodes = m ? off_gnodes : 0;
	h->off_vcpus = m ? off_vcpus : 0;
	h->updates = info->updates;
	h->rejects = info->rejects;
	if (!m)
		return used;

	memcpy(p + off_ids, m->hnode_id, 2u * nh);
	memcpy(p + off_dist, m->dist, nh * nh);
	for (i = 0; i < ng; i++) {
		struct xpv_page_gnode *g = (struct xpv_page_gnode *)(p + off_gnodes + i * stride);

		g->home = m->gnode[i].home;
		g->flags = m->gnode[i].flags;
		g->size_bytes = m->gnode[i].size_bytes;
		g->unplaced_bytes = m->gnode[i].unplaced_bytes;
		memcpy(g->bytes_on, m->gnode[i].bytes_on, 8u * nh);
	}
	for (i = 0; i < nv; i++) {
		struct xpv_page_vcpu *v = (struct xpv_page_vcpu *)(p + off_vcpus) + i;

		v->hnode = m->vcpu[i].hnode;
		v->gnode = gnode_of_vcpu ? gnode_of_vcpu[i] : VIRTIO_NUMA_NO_NODE;
		v->host_cpu = m->vcpu[i].host_cpu;
	}
	return used;
}

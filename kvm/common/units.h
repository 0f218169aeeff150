/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The one parser of sizes and durations written by people, for every input
 * of kvm/ (xpvd's JSON config, libvirt metadata, xpv-memhome's options), so
 * "1.5G" means the same thing everywhere.
 *
 *   size      NUMBER [K|KiB|KB|M|MiB|MB|G|GiB|GB|T|TiB|TB|B]  binary multiples
 *             throughout (the paper's "500 MB" is 500 MiB); no suffix: bytes
 *   duration  NUMBER [ms|s|m|min|h]; no suffix: seconds
 *
 * NUMBER is decimal digits with an optional fraction ("1.5"); no sign,
 * exponent, hex, inf or nan, no spaces.  The result is rounded to the
 * nearest byte / nanosecond.  Both return 0, or -EINVAL (also on overflow).
 */
#ifndef XPV_UNITS_H
#define XPV_UNITS_H

#include <stdint.h>

int xpv_parse_bytes(const char *s, uint64_t *out);
int xpv_parse_duration_ns(const char *s, uint64_t *out);

#endif

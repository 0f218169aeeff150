/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Helpers shared by the cmocka unit tests: a temporary directory holding
 * fake cgroup trees and files. */
#ifndef XPV_TESTLIB_H
#define XPV_TESTLIB_H

#include <stdint.h>

extern char tmp[256];

/* cmocka setup/teardown: a fresh /tmp/xpvd-unit-XXXXXX in tmp */
int setup_tmp(void **state);
int teardown_tmp(void **state);
/* Write content to tmp/rel, creating the directories on the way. */
void put(const char *rel, const char *content);
/* The content of tmp/rel (malloc'd), NULL when it cannot be read. */
char *get(const char *rel);
/* tmp/rel in one of 8 rotating static buffers. */
char *tpath(const char *rel);
/* Run on the CPU for ns nanoseconds. */
void burn(uint64_t ns);

#endif

// SPDX-License-Identifier: GPL-2.0
/* Test helper: files of a fake /proc or /sys tree under a temporary root. */
#ifndef MEMHOME_TESTS_FAKE_TREE_H
#define MEMHOME_TESTS_FAKE_TREE_H

/* Writes TEXT to ROOT/REL, creating the directories on the way; a failure
 * fails the current cmocka test. */
void fake_tree_put(const char *root, const char *rel, const char *text);

#endif

# SPDX-License-Identifier: Apache-2.0
"""Unnumbered TAP lines for the openstack/ checks: "ok - ..." or
"not ok - ..." followed by "# ..." diagnostics; the calling suite numbers
them (tests/suites/70-nova-specs, 71-nova-provider)."""

import sys


class Tap:
    def __init__(self):
        self.failed = 0

    def check(self, cond, desc, diag=''):
        if cond:
            print('ok - %s' % desc)
        else:
            self.failed += 1
            print('not ok - %s' % desc)
            for line in str(diag).splitlines() or ['(no detail)']:
                print('# %s' % line)
        sys.stdout.flush()
        return bool(cond)

    def skip(self, desc, why):
        print('ok - %s # SKIP %s' % (desc, why))

    def done(self):
        return 1 if self.failed else 0

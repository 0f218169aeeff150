# SPDX-License-Identifier: Apache-2.0
"""The xpv: extra specs through Nova's flavor extra-specs API controller.

nova.api.openstack.compute.flavors_extraspecs.FlavorExtraSpecsController,
driven the way Nova's own unit tests drive it
(nova/tests/unit/api/openstack/compute/test_flavors_extra_specs.py):
nova.test.TestCase (an in-memory database with Nova's default flavors,
policy, config fixtures) and fakes.HTTPRequest at a given microversion.  No
nova-api service and no HTTP server: the controller is called in-process,
and ValidationError is what the WSGI layer turns into HTTP 400.

Run by tests/suites/70-nova-specs after the plugin is installed; prints
"ok - ..." / "not ok - ..." lines (the suite numbers them).
"""

import sys
import unittest

from nova.api.openstack.compute import flavors_extraspecs
from nova import exception
from nova import test
from nova.tests.unit.api.openstack import fakes

GOOD = {
    'xpv:vnuma': 'mirrored',
    'xpv:numainfo_scan_period': '500',
    'xpv:numainfo_vcpu_events': 'auto',
    'xpv:homing_policy': 'threshold',
    'xpv:homing_threshold': '500M',
    'xpv:homing_period': '15m',
    'resources:CUSTOM_XPV_LLC_POLLUTION': '250',
    'trait:CUSTOM_XPV_HOST': 'required',
}
BAD = {
    'xpv:vnuma': 'yes',
    'xpv:numainfo_scan_period': '5',
    'xpv:numainfo_scan_threshold': '101',
    'xpv:homing_threshold': 'lots',
    'xpv:llc_cap': '250',
}


class XpvFlavorExtraSpecsAPI(test.TestCase):

    def setUp(self):
        super().setUp()
        self.controller = flavors_extraspecs.FlavorExtraSpecsController()

    def _req(self, url, version):
        return fakes.HTTPRequest.blank(
            '/v2/%s/flavors/1/%s' % (fakes.FAKE_PROJECT_ID, url),
            use_admin_context=True, version=version)

    def test_create_good_specs_at_2_86_saved(self):
        """create at 2.86 accepts the xpv: specs and the permit; index
        reads them back from the database."""
        body = {'extra_specs': dict(GOOD)}
        self.controller.create(self._req('os-extra_specs', '2.86'), 1,
                               body=body)
        got = self.controller.index(self._req('os-extra_specs', '2.86'), 1)
        for k, v in GOOD.items():
            self.assertEqual(v, got['extra_specs'].get(k), k)

    def test_create_bad_specs_at_2_86_rejected(self):
        """each bad xpv: spec is a ValidationError (HTTP 400) with Nova's
        message, and nothing is saved."""
        for key, value in BAD.items():
            with self.assertRaisesRegex(exception.ValidationError,
                                        '^Validation failed; '):
                self.controller.create(
                    self._req('os-extra_specs', '2.86'), 1,
                    body={'extra_specs': {key: value}})
        got = self.controller.index(self._req('os-extra_specs', '2.86'), 1)
        self.assertFalse([k for k in got['extra_specs'] if k in BAD])

    def test_update_bad_value_at_2_86_rejected(self):
        """PUT /flavors/1/os-extra_specs/xpv:vnuma with a bad value."""
        with self.assertRaisesRegex(exception.ValidationError,
                                    "'sideways' is not one of: mirrored, "
                                    "device, off"):
            self.controller.update(
                self._req('os-extra_specs/xpv:vnuma', '2.86'), 1,
                'xpv:vnuma', body={'xpv:vnuma': 'sideways'})

    def test_no_validation_before_2_86(self):
        """at 2.85 Nova validates nothing: the same bad spec is saved
        (what an old client or an older Nova lets through)."""
        self.controller.create(self._req('os-extra_specs', '2.85'), 1,
                               body={'extra_specs': {'xpv:vnuma': 'yes'}})
        got = self.controller.index(self._req('os-extra_specs', '2.85'), 1)
        self.assertEqual('yes', got['extra_specs'].get('xpv:vnuma'))


def describe(t):
    """The test's docstring on one line (testtools' shortDescription is
    its id)."""
    doc = getattr(t, t._testMethodName).__doc__ or t.id()
    return ' '.join(doc.split())


class TapResult(unittest.TestResult):
    def addSuccess(self, t):
        super().addSuccess(t)
        print('ok - API: %s' % describe(t))

    def _fail(self, t, err):
        print('not ok - API: %s' % describe(t))
        for line in self._exc_info_to_string(err, t).splitlines()[-15:]:
            print('# %s' % line)

    def addFailure(self, t, err):
        super().addFailure(t, err)
        self._fail(t, err)

    def addError(self, t, err):
        super().addError(t, err)
        self._fail(t, err)


def main():
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(
        XpvFlavorExtraSpecsAPI)
    result = TapResult()
    suite.run(result)
    sys.stdout.flush()
    return 0 if result.wasSuccessful() and result.testsRun == 4 else 1


if __name__ == '__main__':
    sys.exit(main())

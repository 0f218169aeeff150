# SPDX-License-Identifier: Apache-2.0
"""TEST ONLY: domain XML from xpv's Nova driver for a real libvirt to run.

  /usr/bin/python3 tests/nova/domain_xml.py OUTDIR NAME-PREFIX

Writes, with the driver's ``_get_guest_xml`` on Nova's fakelibvirt for a
ONE-node compute host (this machine's shape; nothing is rewritten to fit
it):

  OUTDIR/element.xml      [xpv] device_syntax=element, flavor
                          xpv:vnuma=mirrored with a 100 ms scan, an
                          instance booting a kernel (Nova's
                          <instance dir>/kernel and ramdisk)
  OUTDIR/commandline.xml  [xpv] device_syntax=commandline, the same layout,
                          booting from its (empty) disk, with
                          resources:CUSTOM_XPV_LLC_POLLUTION=250 and
                          xpv:homing_policy=threshold, threshold 500M
  OUTDIR/element.dir, commandline.dir   the instance directory Nova put in
                          the XML (kernel, ramdisk, disk, console.log)

Domain names come from Nova's [DEFAULT] instance_name_template
(NAME-PREFIX-%08x).  Nova writes no <emulator> (libvirt picks its default
QEMU); the suite adds the project's QEMU, the only change it makes.
"""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

from nova.virt.libvirt import utils as libvirt_utils  # noqa: E402

OUT, PREFIX = sys.argv[1], sys.argv[2]

PROFILES = {
    'element': dict(
        syntax='element', kernel=True,
        # Nova's os_command_line image property: the initramfs's output goes
        # to /dev/console, which Nova's default command line makes hvc0 (no
        # such device here)
        image={'os_command_line': 'console=ttyS0 panic=-1 no_timer_check'},
        specs={'xpv:vnuma': 'mirrored', 'xpv:numainfo_scan_period': '100',
               'xpv:numainfo_scan_debounce': '0'}),
    'commandline': dict(
        syntax='commandline', kernel=False, image={},
        specs={'xpv:vnuma': 'mirrored',
               'resources:CUSTOM_XPV_LLC_POLLUTION': '250',
               'xpv:homing_policy': 'threshold',
               'xpv:homing_threshold': '500M'}),
}


class DomainXml(harness.test.NoDBTestCase):
    def test_write(self):
        self.flags(instances_path=os.path.join(OUT, 'instances'))
        self.flags(instance_name_template=PREFIX + '-%08x')
        self.flags(enabled=False, group='vnc')
        self.flags(use_cow_images=False)
        self.flags(sysinfo_serial='none', group='libvirt')
        drvr = self.useFixture(harness.DriverFixture(self, 1)).driver
        for n, (name, p) in enumerate(sorted(PROFILES.items())):
            self.flags(device_syntax=p['syntax'], group='xpv')
            inst = harness.make_instance(p['specs'], vcpus=2, memory_mb=512,
                                         kernel=p['kernel'])
            inst.id = n + 1
            inst.uuid = harness.uuids.__getattr__('instance_' + name)
            xml = harness.guest_xml(drvr, inst,
                                    harness.image_meta(**p['image']))
            with open(os.path.join(OUT, name + '.xml'), 'w') as f:
                f.write(xml)
            with open(os.path.join(OUT, name + '.dir'), 'w') as f:
                f.write(libvirt_utils.get_instance_path(inst) + '\n')


if __name__ == '__main__':
    result = unittest.TextTestRunner(stream=sys.stderr, verbosity=0).run(
        unittest.defaultTestLoader.loadTestsFromTestCase(DomainXml))
    sys.exit(0 if result.wasSuccessful() else 1)

# SPDX-License-Identifier: Apache-2.0
"""TEST ONLY: xpv's Nova compute driver through Nova's own code paths.

The driver is loaded by Nova's ``load_compute_driver`` and driven through
``_get_guest_xml`` / ``_get_guest_config`` (and ``spawn`` and
``_hard_reboot``) on Nova's fakelibvirt, with real Instance, Flavor and
ImageMeta objects and NUMA topologies from Nova's own
``numa_get_constraints`` / ``numa_fit_instance_to_host``.  With
XPV_XML_OUT set, every domain XML a test produced is written there for the
suite to validate against the patched libvirt's RNG schema.

Run: /usr/bin/python3 tests/nova/test_xpv_driver.py  (TAP on stdout)
"""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402  (must come before Nova's modules)
from harness import mock  # noqa: E402

from lxml import etree  # noqa: E402

from nova import exception  # noqa: E402
from nova.compute import power_state  # noqa: E402
from nova.virt.libvirt import driver as libvirt_driver  # noqa: E402
from nova.virt.libvirt import utils as libvirt_utils  # noqa: E402

import nova.virt.xpv  # noqa: E402
from nova.virt.xpv import config as xpv_config  # noqa: E402
from nova.virt.xpv import driver as xpv_driver  # noqa: E402

KYOTO = xpv_config.KYOTO_NS
HOMING = xpv_config.HOMING_NS
QEMU = xpv_config.QEMU_NS
XML_OUT = os.environ.get('XPV_XML_OUT')

DEVICE = {'xpv:vnuma': 'device', 'hw:numa_nodes': '2'}
MIRRORED = {'xpv:vnuma': 'mirrored'}
ALL_TUNABLES = {
    'xpv:numainfo_scan_period': '1000', 'xpv:numainfo_scan_debounce': '500',
    'xpv:numainfo_scan_threshold': '5', 'xpv:numainfo_vcpu_events': 'auto',
    'xpv:numainfo_hostcpu': 'on', 'xpv:numainfo_memory_placement': 'on',
    'xpv:numainfo_memory_budget': '1024',
    'xpv:numainfo_memory_stride': '16384',
}


class XpvDriverTest(harness.test.NoDBTestCase):
    NODES = 2

    def setUp(self):
        super().setUp()
        self.flags(instances_path=self.useFixture(
            harness.fixtures.TempDir()).path)
        self.fx = self.useFixture(harness.DriverFixture(self, self.NODES))
        self.drvr = self.fx.driver

    # -- helpers -----------------------------------------------------------
    def instance(self, specs, vcpus=4, memory_mb=2048, meta=None):
        inst = harness.make_instance(specs, vcpus=vcpus, memory_mb=memory_mb)
        inst.numa_topology = harness.fit_numa(self.drvr, inst,
                                              meta or harness.image_meta())
        return inst

    def xml(self, specs, meta=None, save=True, **kw):
        meta = meta or harness.image_meta()
        inst = self.instance(specs, meta=meta, **kw)
        text = harness.guest_xml(self.drvr, inst, meta)
        if save and XML_OUT:
            name = re.sub(r'[^A-Za-z0-9]+', '-', self.id().split('.')[-1])
            n = 0
            path = lambda n: os.path.join(XML_OUT, '%s-%d.xml' % (name, n))
            while os.path.exists(path(n)):
                n += 1
            with open(path(n), 'w') as f:
                f.write(text)
        return etree.fromstring(text)

    def refused(self, exc, specs, *words, **kw):
        meta = kw.pop('meta', None) or harness.image_meta()
        inst = harness.make_instance(specs, **kw)
        try:
            inst.numa_topology = harness.fit_numa(self.drvr, inst, meta)
        except exception.Invalid:
            raise AssertionError('Nova itself refused %r' % specs)
        msg = self.assertRaises(exc, harness.guest_xml, self.drvr, inst,
                                meta).format_message()
        for w in words:
            self.assertIn(w, msg)
        return msg

    @staticmethod
    def numainfo(dom):
        return dom.findall('./devices/numainfo')

    @staticmethod
    def cells(dom):
        return [(c.get('id'), c.get('cpus'), c.get('memory'))
                for c in dom.findall('./cpu/numa/cell')]

    @staticmethod
    def memnodes(dom):
        return [(m.get('cellid'), m.get('mode'), m.get('nodeset'))
                for m in dom.findall('./numatune/memnode')]

    # -- loading -----------------------------------------------------------
    def test_loaded_by_nova_from_the_repository(self):
        self.assertIsInstance(self.drvr, xpv_driver.XpvLibvirtDriver)
        self.assertIsInstance(self.drvr, libvirt_driver.LibvirtDriver)
        self.assertTrue(nova.virt.xpv.__file__.startswith(
            harness.PLUGIN_VIRT), nova.virt.xpv.__file__)

    # -- no xpv keys: Nova's XML unchanged ----------------------------------
    def test_flavor_without_xpv_keys_gives_novas_own_xml(self):
        meta = harness.image_meta()
        for specs in ({}, {'hw:numa_nodes': '2'}):
            inst = self.instance(specs, meta=meta)
            with mock.patch('time.time', return_value=1700000000.0):
                ours = harness.guest_xml(self.drvr, inst, meta)
                plain = libvirt_driver.LibvirtDriver(
                    harness.fake.FakeVirtAPI(), False)
                novas = harness.guest_xml(plain, inst, meta)
            self.assertEqual(novas, ours)
            self.assertNotIn('numainfo', ours)
            self.assertNotIn('xpv.invalid', ours)

    # -- the device --------------------------------------------------------
    def test_device_mode_adds_element_with_novas_cells(self):
        dom = self.xml(DEVICE)
        self.assertEqual(1, len(self.numainfo(dom)))
        self.assertEqual('virtio', self.numainfo(dom)[0].get('model'))
        self.assertEqual(0, len(self.numainfo(dom)[0]))  # no tunables
        self.assertEqual([('0', '0-1', '1048576'), ('1', '2-3', '1048576')],
                         self.cells(dom))
        self.assertEqual([('0', 'strict', '0'), ('1', 'strict', '1')],
                         self.memnodes(dom))

    def test_tunables_mapped_to_the_element(self):
        dom = self.xml(dict(DEVICE, **ALL_TUNABLES))
        got = etree.tostring(self.numainfo(dom)[0], encoding='unicode')
        want = ('<numainfo model="virtio">'
                '<scan debounce="500" period="1000" threshold="5"/>'
                '<vcpus events="auto" hostcpu="on"/>'
                '<memory budget="1024" placement="on">'
                '<stride unit="KiB">16384</stride></memory></numainfo>')
        self.assertEqual(want, re.sub(r'>\s+<', '><', got).strip())

    def test_some_tunables_only(self):
        dom = self.xml(dict(MIRRORED, **{
            'xpv:numainfo_scan_period': '100',
            'xpv:numainfo_memory_placement': 'off'}))
        dev = self.numainfo(dom)[0]
        self.assertEqual('100', dev.find('scan').get('period'))
        self.assertIsNone(dev.find('scan').get('debounce'))
        self.assertIsNone(dev.find('vcpus'))
        self.assertEqual({'placement': 'off'}, dict(dev.find('memory').attrib))

    def test_device_absent_when_off(self):
        for specs in ({'xpv:vnuma': 'off'}, {'xpv:homing_policy': 'off'},
                      {'hw:numa_nodes': '2'}):
            self.assertEqual([], self.numainfo(self.xml(specs)))

    # -- mirrored ----------------------------------------------------------
    def test_mirrored_one_cell_per_host_node(self):
        dom = self.xml(MIRRORED, vcpus=4, memory_mb=2048)
        self.assertEqual([('0', '0-1', '1048576'), ('1', '2-3', '1048576')],
                         self.cells(dom))
        self.assertEqual([('0', 'strict', '0'), ('1', 'strict', '1')],
                         self.memnodes(dom))
        self.assertEqual(('strict', '0-1'),
                         (dom.find('./numatune/memory').get('mode'),
                          dom.find('./numatune/memory').get('nodeset')))
        # vCPUs float over both nodes' CPUs, no per-cell pinning
        self.assertEqual('0-3', dom.find('./vcpu').get('cpuset'))
        self.assertEqual('4', dom.find('./vcpu').text)
        self.assertEqual([], dom.findall('./cputune/vcpupin'))
        self.assertEqual(1, len(self.numainfo(dom)))

    def test_mirrored_uneven_split(self):
        dom = self.xml(MIRRORED, vcpus=3, memory_mb=1025)
        self.assertEqual([('0', '0-1', str(513 * 1024)),
                          ('1', '2', str(512 * 1024))], self.cells(dom))

    def test_mirrored_respects_cpu_shared_set(self):
        self.flags(cpu_shared_set='1,3', cpu_dedicated_set=None,
                   group='compute')
        dom = self.xml(MIRRORED)
        self.assertEqual('1,3', dom.find('./vcpu').get('cpuset'))

    def test_mirrored_config_objects(self):
        inst = self.instance(MIRRORED)
        cfg = harness.guest_config(self.drvr, inst, harness.image_meta())
        self.assertEqual([{0, 1}, {2, 3}],
                         [c.cpus for c in cfg.cpu.numa.cells])
        self.assertEqual([[0], [1]],
                         [m.nodeset for m in cfg.numatune.memnodes])
        self.assertEqual({0, 1, 2, 3}, cfg.cpuset)
        devs = [d for d in cfg.devices
                if isinstance(d, xpv_config.LibvirtConfigGuestNumainfo)]
        self.assertEqual(1, len(devs))

    def test_mirrored_refuses_nova_numa(self):
        for specs, key, vcpus in (
                ({'hw:numa_nodes': '2'}, 'hw:numa_nodes=2', 4),
                ({'hw:cpu_policy': 'dedicated'}, 'hw:cpu_policy=dedicated',
                 2)):
            msg = self.refused(xpv_driver.XpvFlavorInvalid,
                               dict(MIRRORED, **specs), key,
                               'xpv:vnuma=mirrored', 'xpv:vnuma=device',
                               vcpus=vcpus)
            self.assertIsInstance(xpv_driver.XpvFlavorInvalid(
                flavor='f', reason=msg), exception.InvalidInput)

    def test_mirrored_refuses_image_numa(self):
        meta = harness.image_meta(hw_numa_nodes=2)
        self.refused(xpv_driver.XpvFlavorInvalid, MIRRORED,
                     'image property hw_numa_nodes=2', meta=meta)

    def test_mirrored_host_too_small_is_a_host_error(self):
        msg = self.refused(xpv_driver.XpvHostUnsuitable, MIRRORED,
                           '1 vCPU(s) cannot fill one guest cell per host '
                           'NUMA node (2 nodes)', vcpus=1)
        self.assertNotIsInstance(xpv_driver.XpvHostUnsuitable(
            flavor='f', reason=msg), exception.InvalidInput)

    def test_device_needs_nova_cells(self):
        self.refused(xpv_driver.XpvFlavorInvalid, {'xpv:vnuma': 'device'},
                     'xpv:vnuma=device needs guest NUMA cells',
                     'hw:numa_nodes')

    # -- bad flavors -------------------------------------------------------
    def test_bad_values_refused_naming_the_key(self):
        cases = [
            ({'xpv:vnuma': 'yes'}, "xpv:vnuma='yes' is not one of"),
            ({'xpv:bogus': '1'}, 'unknown extra spec xpv:bogus'),
            (dict(DEVICE, **{'xpv:numainfo_scan_period': '5'}),
             'xpv:numainfo_scan_period=5 is out of range'),
            (dict(DEVICE, **{'xpv:numainfo_scan_period': '1e3'}),
             "xpv:numainfo_scan_period='1e3' is not an integer"),
            (dict(DEVICE, **{'xpv:numainfo_memory_stride': '6'}),
             'xpv:numainfo_memory_stride=6 is not a multiple of 4 KiB'),
            (dict(DEVICE, **{'xpv:numainfo_memory_placement': 'off',
                             'xpv:numainfo_memory_budget': '64'}),
             'xpv:numainfo_memory_budget set but '
             'xpv:numainfo_memory_placement=off'),
            ({'xpv:numainfo_scan_period': '100'},
             'xpv:numainfo_scan_period set but the flavor has no '
             'virtio-numa device'),
            ({'xpv:homing_threshold': 'lots'},
             "xpv:homing_threshold='lots' is not a size"),
            ({'xpv:homing_cpu_budget': '101'},
             'xpv:homing_cpu_budget=101 is out of range'),
            ({'resources:CUSTOM_XPV_LLC_POLLUTION': '-3'},
             "resources:CUSTOM_XPV_LLC_POLLUTION='-3' is not a "
             'non-negative integer'),
        ]
        for specs, words in cases:
            msg = self.refused(xpv_driver.XpvFlavorInvalid, specs, words,
                               'Flavor xpvtest cannot be used by the xpv '
                               'driver')
            self.assertNotIn('Traceback', msg)

    # -- metadata ----------------------------------------------------------
    def test_kyoto_and_homing_metadata(self):
        dom = self.xml({'resources:CUSTOM_XPV_LLC_POLLUTION': '250',
                        'xpv:homing_policy': 'threshold',
                        'xpv:homing_threshold': '500M',
                        'xpv:homing_cpu_budget': '25',
                        'xpv:homing_vhost_affinity': 'home'})
        meta = dom.find('./metadata')
        tags = [c.tag for c in meta]
        self.assertEqual(['{http://openstack.org/xmlns/libvirt/nova/1.1}'
                          'instance', '{%s}kyoto' % KYOTO,
                          '{%s}homing' % HOMING], tags)
        self.assertEqual({'llc-cap': '250'}, dict(meta[1].attrib))
        self.assertEqual({'policy': 'threshold', 'threshold': '500M',
                          'cpu-budget': '25', 'vhost-affinity': 'home'},
                         dict(meta[2].attrib))
        self.assertEqual('xpv', meta[1].prefix)
        self.assertEqual('xpvh', meta[2].prefix)
        self.assertEqual([], self.numainfo(dom))

    def test_permit_summed_over_request_groups_and_zero_is_none(self):
        dom = self.xml({'resources:CUSTOM_XPV_LLC_POLLUTION': '200',
                        'resources1:CUSTOM_XPV_LLC_POLLUTION': '50'})
        self.assertEqual('250', dom.find('./metadata/{%s}kyoto' % KYOTO)
                         .get('llc-cap'))
        for specs in ({'resources:CUSTOM_XPV_LLC_POLLUTION': '0'},
                      {'resources:VCPU': '2'}):
            dom = self.xml(specs)
            self.assertIsNone(dom.find('./metadata/{%s}kyoto' % KYOTO))
            self.assertIsNone(dom.find('./metadata/{%s}homing' % HOMING))

    # -- stock libvirt: <qemu:commandline> ---------------------------------
    def test_commandline_syntax_pc(self):
        self.flags(device_syntax='commandline', group='xpv')
        dom = self.xml(dict(MIRRORED, **ALL_TUNABLES))
        self.assertEqual([], self.numainfo(dom))
        self.assertEqual(QEMU, dom.nsmap.get('qemu'))
        args = [a.get('value') for a in
                dom.findall('./{%s}commandline/{%s}arg' % (QEMU, QEMU))]
        self.assertEqual(
            ['-device',
             'virtio-numa-pci,id=xpv-numa0,bus=pci.0,addr=0x1e,'
             'scan-period-ms=1000,debounce-ms=500,change-threshold=5,'
             'vcpu-events=auto,host-cpu=on,mem-placement=on,'
             'mem-sample-budget=1024,mem-sample-stride=16777216'], args)
        self.assertEqual('pc', dom.find('./os/type').get('machine'))
        # the layout is the same as with the element
        self.assertEqual([('0', 'strict', '0'), ('1', 'strict', '1')],
                         self.memnodes(dom))

    def test_commandline_syntax_q35(self):
        self.flags(device_syntax='commandline', group='xpv')
        dom = self.xml(MIRRORED, meta=harness.image_meta(
            hw_machine_type='q35'))
        args = [a.get('value') for a in
                dom.findall('./{%s}commandline/{%s}arg' % (QEMU, QEMU))]
        self.assertEqual(['-device', 'virtio-numa-pci,id=xpv-numa0,'
                          'bus=pcie.0,addr=0x1c'], args)

    def test_commandline_absent_without_device(self):
        self.flags(device_syntax='commandline', group='xpv')
        dom = self.xml({'resources:CUSTOM_XPV_LLC_POLLUTION': '7'})
        self.assertIsNone(dom.find('./{%s}commandline' % QEMU))

    # -- spawn and hard reboot: the XML Nova defines -----------------------
    def _spawn_and_hard_reboot(self, specs):
        """Nova's spawn then _hard_reboot; the XML each one defined."""
        self.useFixture(harness.fixtures.MockPatch(
            'nova.virt.libvirt.driver.LibvirtDriver._create_image',
            return_value=(False, False)))
        meta = harness.image_meta()
        inst = self.instance(specs, meta=meta)
        os.makedirs(libvirt_utils.get_instance_path(inst))
        defined = []
        orig = libvirt_driver.LibvirtDriver._create_guest

        def spy(drvr, context, xml, instance, *a, **kw):
            defined.append(xml)
            return orig(drvr, context, xml, instance, *a, **kw)
        ctx = harness.nova_context.get_admin_context()
        with mock.patch.object(libvirt_driver.LibvirtDriver, '_create_guest',
                               spy), \
                mock.patch.object(self.drvr, '_register_undefined_instance_'
                                  'details'), \
                mock.patch.object(self.drvr, '_create_configdrive'):
            self.drvr.spawn(ctx, inst, meta, [], None, {}, network_info=[])
            self.assertEqual(power_state.RUNNING,
                             self.drvr.get_info(inst).state)
            self.drvr._hard_reboot(ctx, inst, [])
            self.assertEqual(power_state.RUNNING,
                             self.drvr.get_info(inst).state)
        return defined

    def test_spawn_and_hard_reboot_keep_device_and_metadata(self):
        specs = dict(MIRRORED, **{'resources:CUSTOM_XPV_LLC_POLLUTION': '250',
                                  'xpv:homing_policy': 'periodic',
                                  'xpv:numainfo_scan_period': '100'})
        defined = self._spawn_and_hard_reboot(specs)
        self.assertEqual(2, len(defined))
        for text in defined:
            dom = etree.fromstring(text)
            self.assertEqual('100', self.numainfo(dom)[0].find('scan')
                             .get('period'))
            self.assertEqual('250', dom.find('./metadata/{%s}kyoto' % KYOTO)
                             .get('llc-cap'))
            self.assertEqual('periodic', dom.find(
                './metadata/{%s}homing' % HOMING).get('policy'))
            self.assertEqual(2, len(self.cells(dom)))
        # the running domain (fakelibvirt as the patched libvirt) has them
        self.assertIn('<numainfo', self.fx.defined['instance-00000001'])

    def test_spawn_with_commandline_syntax(self):
        self.flags(device_syntax='commandline', group='xpv')
        defined = self._spawn_and_hard_reboot(MIRRORED)
        for text in defined:
            self.assertIn('virtio-numa-pci,id=xpv-numa0', text)
            self.assertNotIn('<numainfo', text)


class XpvStockLibvirtTest(harness.test.NoDBTestCase):
    """fakelibvirt as a stock libvirt: it drops the unknown <numainfo>."""

    def setUp(self):
        super().setUp()
        self.flags(instances_path=self.useFixture(
            harness.fixtures.TempDir()).path)
        self.drvr = self.useFixture(harness.DriverFixture(
            self, 2, keep_unknown_elements=False)).driver
        self.useFixture(harness.fixtures.MockPatch(
            'nova.virt.libvirt.driver.LibvirtDriver._create_image',
            return_value=(False, False)))

    def test_spawn_refuses_a_dropped_element(self):
        meta = harness.image_meta()
        inst = harness.make_instance(MIRRORED)
        ctx = harness.nova_context.get_admin_context()
        os.makedirs(libvirt_utils.get_instance_path(inst))
        msg = self.assertRaises(
            xpv_driver.XpvHostUnsuitable, self.drvr.spawn, ctx, inst, meta,
            [], None, {}, network_info=[]).format_message()
        self.assertIn('libvirt dropped the <numainfo> device', msg)
        self.assertIn('device_syntax = commandline', msg)
        # nothing left running
        self.assertEqual([], self.drvr._host.list_instance_domains())

    def test_spawn_without_device_is_not_checked(self):
        meta = harness.image_meta()
        inst = harness.make_instance(
            {'resources:CUSTOM_XPV_LLC_POLLUTION': '3'})
        ctx = harness.nova_context.get_admin_context()
        os.makedirs(libvirt_utils.get_instance_path(inst))
        with mock.patch.object(self.drvr, '_register_undefined_instance_'
                               'details'), \
                mock.patch.object(self.drvr, '_create_configdrive'):
            self.drvr.spawn(ctx, inst, meta, [], None, {}, network_info=[])
        self.assertEqual(power_state.RUNNING, self.drvr.get_info(inst).state)


class XpvOneNodeHostTest(XpvDriverTest.__bases__[0]):
    """A one-node compute host (this machine's shape)."""

    def setUp(self):
        super().setUp()
        self.flags(instances_path=self.useFixture(
            harness.fixtures.TempDir()).path)
        self.drvr = self.useFixture(harness.DriverFixture(self, 1)).driver

    def test_mirrored_on_one_node(self):
        inst = harness.make_instance(MIRRORED, vcpus=2, memory_mb=512)
        meta = harness.image_meta()
        text = harness.guest_xml(self.drvr, inst, meta)
        dom = etree.fromstring(text)
        self.assertEqual([('0', '0-1', str(512 * 1024))],
                         [(c.get('id'), c.get('cpus'), c.get('memory'))
                          for c in dom.findall('./cpu/numa/cell')])
        self.assertEqual([('0', 'strict', '0')],
                         [(m.get('cellid'), m.get('mode'), m.get('nodeset'))
                          for m in dom.findall('./numatune/memnode')])
        self.assertEqual('0-1', dom.find('./vcpu').get('cpuset'))
        if XML_OUT:
            with open(os.path.join(XML_OUT, 'one-node-mirrored.xml'),
                      'w') as f:
                f.write(text)


class TapResult(unittest.TestResult):
    """One TAP line per test, the failure's traceback as # comments."""

    def __init__(self):
        super().__init__()
        self.n = 0

    def _line(self, ok, test, extra=''):
        self.n += 1
        print('%s %d - %s%s' % ('ok' if ok else 'not ok', self.n,
                                test.id().split('.', 1)[-1], extra),
              flush=True)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line(True, test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._line(False, test)
        self._comment(self.failures[-1][1])

    def addError(self, test, err):
        super().addError(test, err)
        self._line(False, test)
        self._comment(self.errors[-1][1])

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._line(True, test, ' # SKIP %s' % reason)

    @staticmethod
    def _comment(text):
        for line in text.splitlines():
            print('# ' + line)


def main():
    suite = unittest.defaultTestLoader.loadTestsFromModule(
        sys.modules[__name__])
    result = TapResult()
    suite.run(result)
    print('1..%d' % result.n)
    return 0 if result.wasSuccessful() and result.n else 1


if __name__ == '__main__':
    sys.exit(main())

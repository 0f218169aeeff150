# SPDX-License-Identifier: Apache-2.0
"""TEST ONLY: Nova's own test fixtures around xpv's compute driver.

Used by tests/nova/test_xpv_driver.py (suite 72) and tests/nova/domain_xml.py
(suite 73).  Run with Debian's /usr/bin/python3 and python3-nova (Zed): the
``python3`` on PATH may be another interpreter whose ``cryptography`` breaks
Nova's imports.

How the plugin is found: ``nova`` is a regular package, so the repository's
``openstack/nova`` cannot simply go on sys.path ahead of Debian's.  Instead
``openstack/nova/virt`` is put FIRST on ``nova.virt.__path__`` in this test
process, so ``import nova.virt.xpv`` (and Nova's own
``load_compute_driver(..., 'xpv.XpvLibvirtDriver')``) load the repository's
files even when an older copy is installed under
/usr/lib/python3/dist-packages/nova/virt/xpv.  Nothing is written to
/usr/lib/python3/dist-packages.
"""

import os
import sys

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))
PLUGIN_VIRT = os.path.join(TOP, 'openstack', 'nova', 'virt')

import nova.virt  # noqa: E402

if PLUGIN_VIRT not in nova.virt.__path__:
    nova.virt.__path__.insert(0, PLUGIN_VIRT)

# nova.test sets up oslo.config, the objects registry and eventlet (monkey
# patching, as in Nova's own test runs) before anything else imports Nova.
from nova import test  # noqa: E402,F401
from unittest import mock  # noqa: E402

import fixtures  # noqa: E402
from oslo_utils.fixture import uuidsentinel as uuids  # noqa: E402

from nova import context as nova_context  # noqa: E402
from nova import objects  # noqa: E402
from nova.tests import fixtures as nova_fixtures  # noqa: E402
from nova.tests.fixtures import libvirt as fakelibvirt  # noqa: E402
from nova.network import model as network_model  # noqa: E402
from nova.virt import driver as virt_driver  # noqa: E402
from nova.virt import fake  # noqa: E402
from nova.virt import hardware  # noqa: E402
from nova.virt.libvirt import blockinfo  # noqa: E402

objects.register_all()


def host_info(nodes):
    """A fake host with `nodes` NUMA nodes, 2 CPUs and 4 GiB each."""
    return fakelibvirt.HostInfo(cpu_nodes=nodes, cpu_sockets=1, cpu_cores=2,
                                cpu_threads=1, kB_mem=nodes * 4 * 1024 * 1024)


class DriverFixture(fixtures.Fixture):
    """xpv's driver, loaded the way nova-compute loads it, on fakelibvirt.

    ``nodes``: NUMA nodes of the fake compute host (libvirt capabilities
    from fakelibvirt, parsed by Nova's real ``Host.get_capabilities``).
    ``keep_unknown_elements``: make fakelibvirt give back the XML it was
    defined with (as xpv's patched libvirt keeps ``<numainfo>``); by default
    it regenerates a subset and drops unknown elements, as a stock libvirt
    does with ``<numainfo>``.
    """

    def __init__(self, test_case, nodes=2, keep_unknown_elements=True):
        super().__init__()
        self.test_case = test_case
        self.nodes = nodes
        self.keep = keep_unknown_elements

    def _setUp(self):
        tc = self.test_case
        self.useFixture(nova_fixtures.LibvirtFixture())
        self.useFixture(nova_fixtures.CGroupsFixture())
        self.useFixture(nova_fixtures.LibvirtImageBackendFixture())
        tc.flags(virt_type='qemu', group='libvirt')
        self.conn = fakelibvirt.Connection(
            'qemu:///system', version=fakelibvirt.FAKE_LIBVIRT_VERSION,
            hv_version=fakelibvirt.FAKE_QEMU_VERSION,
            host_info=host_info(self.nodes))
        self.useFixture(fixtures.MockPatch(
            'nova.virt.libvirt.host.Host.get_connection',
            return_value=self.conn))
        self.useFixture(fixtures.MockPatch(
            'nova.virt.libvirt.host.Host.get_online_cpus',
            return_value=set(range(2 * self.nodes))))
        self.defined = {}
        if self.keep:
            defined = self.defined
            orig = fakelibvirt.Connection.defineXML

            def define(conn, xml):
                dom = orig(conn, xml)
                defined[dom.name()] = xml
                return dom
            self.useFixture(fixtures.MonkeyPatch(
                'nova.tests.fixtures.libvirt.Connection.defineXML', define))
            self.useFixture(fixtures.MonkeyPatch(
                'nova.tests.fixtures.libvirt.Domain.XMLDesc',
                lambda dom, flags=0: defined[dom.name()]))
        self.driver = virt_driver.load_compute_driver(
            fake.FakeVirtAPI(), 'xpv.XpvLibvirtDriver')


def make_instance(flavor_specs, vcpus=4, memory_mb=2048, kernel=False,
                  name='xpvtest'):
    """A real Instance with a real Flavor (and its NUMA topology, if any)."""
    flavor = objects.Flavor(
        id=1, flavorid='xpv-test', name=name, memory_mb=memory_mb,
        vcpus=vcpus, root_gb=1, ephemeral_gb=0, swap=0,
        extra_specs=dict(flavor_specs))
    # the fields of Nova's own test instance
    # (nova/tests/unit/virt/libvirt/test_driver.py, _create_test_instance)
    inst = objects.Instance(
        id=1, uuid=uuids.instance, display_name='xpv-test-vm',
        project_id='fake', user_id='fake', image_ref=uuids.image,
        memory_mb=memory_mb, vcpus=vcpus, root_gb=1, ephemeral_gb=0,
        system_metadata={'image_disk_format': 'raw'},
        instance_type_id=flavor.id, flavor=flavor, new_flavor=None,
        old_flavor=None, pci_devices=objects.PciDeviceList(),
        numa_topology=None, config_drive=None, vm_mode=None, vm_state=None,
        kernel_id=uuids.kernel if kernel else None,
        ramdisk_id=uuids.ramdisk if kernel else None,
        os_type='linux', ephemeral_key_uuid=None, vcpu_model=None,
        host='compute1', node='compute1', task_state=None,
        trusted_certs=None, resources=None, migration_context=None,
        info_cache=objects.InstanceInfoCache(
            network_info=network_model.NetworkInfo([])),
        device_metadata=None)
    return inst


def image_meta(**properties):
    return objects.ImageMeta.from_dict(
        {'id': uuids.image, 'disk_format': 'raw', 'container_format': 'bare',
         'properties': properties})


def fit_numa(driver, instance, meta):
    """The NUMA topology Nova's API and scheduler give the instance.

    ``numa_get_constraints`` (as the API does from flavor and image) then
    ``numa_fit_instance_to_host`` against this host's topology (as the
    NUMATopologyFilter and the resource tracker do).  None without one.
    """
    wanted = hardware.numa_get_constraints(instance.flavor, meta)
    if wanted is None:
        return None
    host = driver._get_host_numa_topology()
    fitted = hardware.numa_fit_instance_to_host(host, wanted)
    if fitted is None:
        raise AssertionError('the fake host cannot fit %r' % wanted)
    return fitted


def guest_xml(driver, instance, meta):
    """Nova's _get_guest_xml on the driver, as spawn calls it."""
    disk_info = blockinfo.get_disk_info('qemu', instance, meta)
    return driver._get_guest_xml(nova_context.get_admin_context(), instance,
                                 [], disk_info, meta)


def guest_config(driver, instance, meta):
    disk_info = blockinfo.get_disk_info('qemu', instance, meta)
    return driver._get_guest_config(instance, [], meta, disk_info)


__all__ = ['DriverFixture', 'make_instance', 'image_meta', 'fit_numa',
           'guest_xml', 'guest_config', 'host_info', 'mock', 'test',
           'fakelibvirt', 'nova_context', 'objects', 'sys']

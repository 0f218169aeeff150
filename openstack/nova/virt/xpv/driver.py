# SPDX-License-Identifier: Apache-2.0
"""Nova's libvirt driver with xpv: ``compute_driver = xpv.XpvLibvirtDriver``.

For a flavor with ``xpv:`` extra specs (``flavor_specs.SPECS``) the domain
Nova builds gets, at the config-object level (``_get_guest_config``, the
step Nova itself uses to add devices and its own metadata):

* ``xpv:vnuma=mirrored``: one guest NUMA cell per host NUMA node of this
  compute host, each cell's memory bound ``strict`` to its own node,
  vCPUs and memory split evenly over the cells, and the vCPUs floating over
  every node's (shared) CPUs: ``<vcpu cpuset>`` spanning the nodes, no
  ``<vcpupin>``.  Nova's own NUMA topology (``hw:numa_nodes``,
  ``hw:cpu_policy=dedicated``, huge pages...) is refused with it: Nova would
  place the instance on chosen host cells, mirrored spans all of them.
* ``xpv:vnuma=mirrored|device``: the virtio-numa device with the flavor's
  tunables, as ``<numainfo model='virtio'>`` (xpv's patched libvirt,
  ``[xpv] device_syntax = element``) or as ``-device virtio-numa-pci`` in
  ``<qemu:commandline>`` (stock libvirt, ``commandline``).  ``device``
  keeps the cells Nova lays out from ``hw:numa_nodes``, which it binds one
  host node each.
* ``<xpv:kyoto llc-cap='N'/>`` from the booked
  ``resources:CUSTOM_XPV_LLC_POLLUTION=N`` and ``<xpvh:homing .../>`` from
  the ``xpv:homing_*`` keys, in ``<metadata>`` beside ``<nova:instance>``.

Spawn, hard reboot, rescue, resize and cold-migration finish all rebuild
the XML through ``_get_guest_xml`` -> ``_get_guest_config``, so all of this
holds from the first boot and after each of them.  Live migration sends the
source's XML unchanged (metadata and device included).

A flavor whose ``xpv:`` values are wrong (the API checks them only at
microversion 2.86 and later) fails the build with ``XpvFlavorInvalid``
(an ``InvalidInput``: no reschedule, the fault names the key).  A host
that cannot give a valid flavor what it asks fails with
``XpvHostUnsuitable`` (the build is rescheduled to another host).
"""

from oslo_config import cfg
from oslo_log import log as logging

from nova import exception
from nova.i18n import _
from nova.virt.libvirt import config as vconfig
from nova.virt.libvirt import designer
from nova.virt.libvirt import driver as libvirt_driver
from nova.virt.xpv import config as xpv_config
from nova.virt.xpv import flavor_specs
from nova.virt.xpv import layout

LOG = logging.getLogger(__name__)
CONF = cfg.CONF

xpv_group = cfg.OptGroup('xpv', title='xpv compute driver options')
xpv_opts = [
    cfg.StrOpt(
        'device_syntax',
        default='element',
        choices=[
            ('element', "<numainfo model='virtio'> under <devices>: needs "
                        "xpv's patched libvirt (libvirt-hooks/patches)"),
            ('commandline', "-device virtio-numa-pci in <qemu:commandline> "
                            "for stock libvirt (taints the domain "
                            "custom-argv; libvirt does not manage the "
                            "device's address, hot-plug or migration)"),
        ],
        help='How the virtio-numa device is written into the domain XML '
             'for flavors with xpv:vnuma=mirrored or device.'),
]
CONF.register_group(xpv_group)
CONF.register_opts(xpv_opts, group=xpv_group)

# Flavor and image keys that give an instance a Nova NUMA topology
# (nova.virt.hardware.numa_get_constraints), named in the refusal of
# xpv:vnuma=mirrored.
_NOVA_NUMA_KEYS = ('hw:numa_', 'hw:cpu_policy', 'hw:mem_page_size',
                   'hw:cpu_realtime', 'hw:emulator_threads_policy',
                   'hw:cpu_dedicated_mask', 'hw:pmem')
_NOVA_NUMA_IMAGE_PROPS = ('hw_numa_', 'hw_cpu_policy', 'hw_mem_page_size',
                          'hw_cpu_realtime', 'hw_emulator_threads_policy')


class XpvFlavorInvalid(exception.InvalidInput):
    msg_fmt = _("Flavor %(flavor)s cannot be used by the xpv driver: "
                "%(reason)s")


class XpvHostUnsuitable(exception.NovaException):
    msg_fmt = _("This compute host cannot run flavor %(flavor)s with xpv: "
                "%(reason)s")


class XpvLibvirtDriver(libvirt_driver.LibvirtDriver):
    """LibvirtDriver plus the virtio-numa device, mirrored vNUMA, metadata."""

    def _get_guest_config(self, instance, network_info, image_meta,
                          disk_info, rescue=None, block_device_info=None,
                          context=None, mdevs=None, accel_info=None):
        flavor = instance.flavor
        # Everything the flavor asks for is checked before Nova builds
        # anything, so a bad flavor never half-builds a domain.
        try:
            values = flavor_specs.read(flavor.extra_specs)
            permit = flavor_specs.llc_permit(flavor.extra_specs)
        except flavor_specs.SpecError as e:
            raise XpvFlavorInvalid(flavor=flavor.name, reason=str(e))
        mode = flavor_specs.vnuma_mode(values)
        self._check_nova_numa(mode, instance, image_meta)

        guest = super()._get_guest_config(
            instance, network_info, image_meta, disk_info, rescue=rescue,
            block_device_info=block_device_info, context=context,
            mdevs=mdevs, accel_info=accel_info)

        if mode == 'mirrored':
            self._lay_out_mirrored(guest, flavor)
        if mode != 'off':
            self._check_cells_bound(guest, flavor, mode)
            self._add_numa_device(guest, flavor_specs.numainfo_tunables(
                values))
        if permit is not None:
            guest.metadata.append(xpv_config.LibvirtConfigKyotoMeta(permit))
        homing = flavor_specs.homing_attributes(values)
        if homing:
            guest.metadata.append(xpv_config.LibvirtConfigHomingMeta(homing))
        return guest

    @staticmethod
    def _check_nova_numa(mode, instance, image_meta):
        flavor = instance.flavor
        if mode == 'mirrored' and instance.numa_topology is not None:
            keys = ['%s=%s' % (k, v)
                    for k, v in sorted(flavor.extra_specs.items())
                    if k.startswith(_NOVA_NUMA_KEYS)]
            props = image_meta.properties if 'properties' in image_meta \
                else None
            keys += ['image property %s=%s' % (k, props.get(k))
                     for k in sorted(props.obj_fields if props else ())
                     if k.startswith(_NOVA_NUMA_IMAGE_PROPS) and
                     props.obj_attr_is_set(k)]
            raise XpvFlavorInvalid(
                flavor=flavor.name,
                reason=_('xpv:vnuma=mirrored lays out one guest cell per host '
                         'NUMA node with floating vCPUs and cannot be '
                         'combined with a Nova NUMA topology (%s): remove '
                         'those or use xpv:vnuma=device') %
                (', '.join(keys) or 'the instance has one'))
        if mode == 'device' and instance.numa_topology is None:
            raise XpvFlavorInvalid(
                flavor=flavor.name,
                reason=_('xpv:vnuma=device needs guest NUMA cells from Nova: '
                         'set hw:numa_nodes (or use xpv:vnuma=mirrored)'))

    def _lay_out_mirrored(self, guest, flavor):
        topology = self._get_host_numa_topology()
        if topology is None or not topology.cells:
            raise XpvHostUnsuitable(
                flavor=flavor.name,
                reason=_('libvirt reports no host NUMA topology for '
                         'xpv:vnuma=mirrored'))
        try:
            cells = layout.mirrored_cells([c.id for c in topology.cells],
                                          flavor.vcpus, flavor.memory_mb)
        except layout.LayoutError as e:
            raise XpvHostUnsuitable(flavor=flavor.name,
                                    reason='xpv:vnuma=mirrored: %s' % e)
        floating = set()
        for host_cell in topology.cells:
            floating |= host_cell.cpuset
        if not floating:
            raise XpvHostUnsuitable(
                flavor=flavor.name,
                reason=_('no host CPU is available for floating vCPUs '
                         '([compute] cpu_shared_set)'))

        guest_numa = vconfig.LibvirtConfigGuestCPUNUMA()
        numatune = vconfig.LibvirtConfigGuestNUMATune()
        numatune.memory = vconfig.LibvirtConfigGuestNUMATuneMemory()
        for i, cell in enumerate(cells):
            guest_cell = vconfig.LibvirtConfigGuestCPUNUMACell()
            guest_cell.id = i
            guest_cell.cpus = cell.vcpus
            guest_cell.memory = cell.memory_kib
            guest_numa.cells.append(guest_cell)
            memnode = vconfig.LibvirtConfigGuestNUMATuneMemNode()
            designer.set_numa_memnode(memnode, i, cell.host_node)
            numatune.memnodes.append(memnode)
            numatune.memory.nodeset.append(cell.host_node)
        if guest.cpu is None:
            guest.cpu = vconfig.LibvirtConfigGuestCPU()
        guest.cpu.numa = guest_numa
        guest.numatune = numatune
        # vCPUs float over every node of the VM: one <vcpu cpuset>, no
        # per-cell <vcpupin> (Nova writes none for an instance without a
        # NUMA topology; drop any so that the layout is what it says).
        guest.cpuset = floating
        if guest.cputune is not None:
            guest.cputune.vcpupin = []
            guest.cputune.emulatorpin = None

    @staticmethod
    def _check_cells_bound(guest, flavor, mode):
        """The device needs every guest cell bound to exactly one node."""
        cells = guest.cpu.numa.cells if guest.cpu and guest.cpu.numa else []
        memnodes = {m.cellid: m for m in
                    (guest.numatune.memnodes if guest.numatune else [])}
        for cell in cells:
            m = memnodes.get(cell.id)
            if m is None or m.mode != 'strict' or len(m.nodeset) != 1:
                raise XpvHostUnsuitable(
                    flavor=flavor.name,
                    reason=_('xpv:vnuma=%(mode)s: guest cell %(cell)s is not '
                             'bound to exactly one host node (does libvirt '
                             'report the host NUMA topology?)') %
                    {'mode': mode, 'cell': cell.id})
        if not cells:
            raise XpvHostUnsuitable(
                flavor=flavor.name,
                reason=_('xpv:vnuma=%s: the domain has no guest NUMA cells')
                % mode)

    @staticmethod
    def _add_numa_device(guest, tunables):
        if CONF.xpv.device_syntax == 'commandline':
            # Nova's LibvirtConfigGuest has no <qemu:commandline>: its
            # subclass adds it and changes nothing else.
            guest.__class__ = xpv_config.LibvirtConfigGuestXpv
            guest.qemu_args = ['-device', xpv_config.commandline_device_arg(
                tunables, guest.os_mach_type)]
        else:
            guest.add_device(
                xpv_config.LibvirtConfigGuestNumainfo(tunables))

    def _create_guest(self, context, xml, instance, power_on=True,
                      pause=False, post_xml_callback=None):
        """Refuse to start a domain whose <numainfo> libvirt dropped.

        A libvirt without xpv's patches ignores the unknown element when
        Nova defines the domain (no VIR_DOMAIN_DEFINE_VALIDATE): the VM would
        boot without the device and nobody would know.  The defined XML is
        read back before the domain starts.
        """
        if (CONF.xpv.device_syntax != 'element' or
                '<numainfo model="virtio"' not in xml and
                "<numainfo model='virtio'" not in xml):
            return super()._create_guest(
                context, xml, instance, power_on=power_on, pause=pause,
                post_xml_callback=post_xml_callback)

        def check_then_callback():
            defined = self._host.get_guest(instance).get_xml_desc()
            if '<numainfo' not in defined:
                raise XpvHostUnsuitable(
                    flavor=instance.flavor.name,
                    reason=_("libvirt dropped the <numainfo> device from the "
                             "domain: it lacks xpv's numainfo patches "
                             "(libvirt-hooks/patches); install them or set "
                             "[xpv] device_syntax = commandline"))
            if post_xml_callback is not None:
                post_xml_callback()

        return super()._create_guest(
            context, xml, instance, power_on=power_on, pause=pause,
            post_xml_callback=check_then_callback)

# SPDX-License-Identifier: Apache-2.0
"""libvirt XML config objects for what xpv adds to a Nova-built domain.

Written like ``nova.virt.libvirt.config`` classes (``format_dom()`` on an
lxml element), so the driver adds them to Nova's ``LibvirtConfigGuest``
the way Nova adds its own devices and metadata:

* ``LibvirtConfigGuestNumainfo``: the ``<numainfo model='virtio'>`` device of
  xpv's patched libvirt (``libvirt-hooks/patches/``);
* ``QemuCommandlineDevice`` + ``LibvirtConfigGuestXpv``: the same device as
  ``-device virtio-numa-pci`` in ``<qemu:commandline>`` for stock libvirt
  (``docs/integration.md``, section 1);
* ``LibvirtConfigKyotoMeta`` / ``LibvirtConfigHomingMeta``: xpvd's
  ``<xpv:kyoto>`` and ``<xpvh:homing>`` metadata elements
  (``libvirt-hooks/README.md``), next to Nova's ``<nova:instance>``.
"""

from lxml import etree

from nova.virt.libvirt import config as vconfig

KYOTO_NS = 'http://xpv.invalid/xmlns/xpv/1.0'
HOMING_NS = 'http://xpv.invalid/xmlns/xpv/homing/1.0'
QEMU_NS = 'http://libvirt.org/schemas/domain/qemu/1.0'

# The id QEMU gives the device added with -device (libvirt's own alias for
# the element is numainfo0).
COMMANDLINE_ID = 'xpv-numa0'

# <numainfo> child/attribute -> the QEMU property of virtio-numa-pci, and
# how a value is written there (the stride is KiB in the XML and in the
# flavor, bytes in QEMU).
_QEMU_PROPERTIES = {
    ('scan', 'period'): ('scan-period-ms', str),
    ('scan', 'debounce'): ('debounce-ms', str),
    ('scan', 'threshold'): ('change-threshold', str),
    ('vcpus', 'events'): ('vcpu-events', str),
    ('vcpus', 'hostcpu'): ('host-cpu', str),
    ('memory', 'placement'): ('mem-placement', str),
    ('memory', 'budget'): ('mem-sample-budget', str),
    ('memory', 'stride'): ('mem-sample-stride', lambda kib: str(kib * 1024)),
}


class LibvirtConfigGuestNumainfo(vconfig.LibvirtConfigGuestDevice):
    """``<numainfo model='virtio'>`` with its optional tunables.

    ``tunables`` maps (element, attribute) to a value, as
    ``flavor_specs.numainfo_tunables`` returns it; ``('memory', 'stride')``
    is the ``<stride unit='KiB'>`` child of ``<memory>``.
    """

    def __init__(self, tunables=None, **kwargs):
        super().__init__(root_name='numainfo', **kwargs)
        self.tunables = dict(tunables or {})

    def format_dom(self):
        dev = super().format_dom()
        dev.set('model', 'virtio')
        children = {}
        for element in ('scan', 'vcpus', 'memory'):
            for (elem, attr), value in sorted(self.tunables.items()):
                if elem != element:
                    continue
                child = children.get(elem)
                if child is None:
                    child = children[elem] = etree.SubElement(dev, elem)
                if (elem, attr) == ('memory', 'stride'):
                    etree.SubElement(child, 'stride', unit='KiB').text = \
                        str(value)
                else:
                    child.set(attr, str(value))
        return dev


def commandline_device_arg(tunables, machine_type):
    """The ``-device`` value for ``<qemu:commandline>`` on stock libvirt.

    The address is one libvirt never assigns itself (docs/integration.md):
    ``pci.0`` slot 0x1e on ``pc`` (libvirt fills ``pci.0`` from slot 2
    upwards), ``pcie.0`` slot 0x1c on ``q35`` (0x1e is where libvirt puts
    its dmi-to-pci-bridge, 0x1f holds the chipset's functions).
    """
    if machine_type and 'q35' in machine_type:
        where = 'bus=pcie.0,addr=0x1c'
    else:
        where = 'bus=pci.0,addr=0x1e'
    props = ['virtio-numa-pci', 'id=' + COMMANDLINE_ID, where]
    for key, (name, fmt) in _QEMU_PROPERTIES.items():
        if key in tunables:
            props.append('%s=%s' % (name, fmt(tunables[key])))
    return ','.join(props)


class LibvirtConfigGuestXpv(vconfig.LibvirtConfigGuest):
    """Nova's guest config plus ``<qemu:commandline>`` arguments.

    Nova's ``LibvirtConfigGuest`` has no ``<qemu:commandline>``; the driver
    turns the guest object Nova built into this subclass (same attributes,
    one more list) when it needs the fallback.  The ``qemu`` namespace is
    declared on ``<domain>``, as libvirt itself writes it.
    """

    qemu_args = ()

    def format_dom(self):
        root = super().format_dom()
        if not self.qemu_args:
            return root
        domain = etree.Element(root.tag, attrib=dict(root.attrib),
                               nsmap={'qemu': QEMU_NS})
        domain.extend(list(root))
        cmdline = etree.SubElement(domain, '{%s}commandline' % QEMU_NS)
        for arg in self.qemu_args:
            etree.SubElement(cmdline, '{%s}arg' % QEMU_NS, value=arg)
        return domain


class LibvirtConfigKyotoMeta(vconfig.LibvirtConfigObject):
    """``<xpv:kyoto llc-cap='N'/>``: the VM's LLC pollution permit."""

    def __init__(self, llc_cap, **kwargs):
        super().__init__(root_name='kyoto', ns_prefix='xpv',
                         ns_uri=KYOTO_NS, **kwargs)
        self.llc_cap = llc_cap

    def format_dom(self):
        meta = super().format_dom()
        meta.set('llc-cap', str(self.llc_cap))
        return meta


class LibvirtConfigHomingMeta(vconfig.LibvirtConfigObject):
    """``<xpvh:homing .../>``: the VM's memory homing policy for xpvd."""

    def __init__(self, attributes, **kwargs):
        super().__init__(root_name='homing', ns_prefix='xpvh',
                         ns_uri=HOMING_NS, **kwargs)
        self.attributes = dict(attributes)

    def format_dom(self):
        meta = super().format_dom()
        for name, value in sorted(self.attributes.items()):
            meta.set(name, value)
        return meta

# SPDX-License-Identifier: Apache-2.0
"""xpv for OpenStack Nova: ``compute_driver = xpv.XpvLibvirtDriver``.

Installed as ``nova/virt/xpv/`` beside python3-nova's files
(``nova.virt`` is not a namespace package), which is how
``nova.virt.driver.load_compute_driver`` finds ``nova.virt.xpv``.

The driver is imported on first use (PEP 562), not with the package: the
API service imports ``nova.virt.xpv.flavor_specs`` for its extra-spec
validators and must not pull in the libvirt driver (and python3-libvirt).
"""


def __getattr__(name):
    if name == 'XpvLibvirtDriver':
        from nova.virt.xpv import driver
        return driver.XpvLibvirtDriver
    raise AttributeError('module %r has no attribute %r' % (__name__, name))

# SPDX-License-Identifier: Apache-2.0
"""The ``xpv:`` flavor extra specs: one table, read by two consumers.

Each entry is written in the format of Nova's
``nova.api.validation.extra_specs.base.ExtraSpecValidator`` keyword arguments
(``name``, ``description``, ``value``), so that the extra-spec validators
(registered on the ``nova.api.extra_spec_validators`` entry point) are built
from it unchanged, plus xpv's own keys, which are removed before the table is
handed to Nova:

``target``
    where the value goes in the domain XML: ``('numainfo', ELEMENT, ATTR)``
    for an attribute of the ``<numainfo model='virtio'>`` device of the
    patched libvirt (``libvirt-hooks/patches/``), ``('homing', ATTR)`` for an
    attribute of the ``<xpvh:homing>`` metadata element read by xpvd
    (``libvirt-hooks/README.md``), ``None`` for a key the driver interprets.

The value grammars are xpvd's own (``kvm/common/units.c``): sizes take
B, K/KiB/KB, M/MiB/MB, G/GiB/GB, T/TiB/TB (powers of 1024), durations take
ms, s, m/min, h (a bare number is seconds).

This module imports nothing from Nova: the compute driver and the tests use
it without the API service.

The LLC pollution permit is not an ``xpv:`` key: a flavor books it from
Placement as ``resources:CUSTOM_XPV_LLC_POLLUTION=N`` (one unit = one LLC
miss per millisecond of CPU time, the unit of xpvd's ``llc_cap``), and
hosts that run xpv expose the trait ``CUSTOM_XPV_HOST``
(``openstack/provider-config``).
"""

NAMESPACE = 'xpv'
LLC_RESOURCE_CLASS = 'CUSTOM_XPV_LLC_POLLUTION'
HOST_TRAIT = 'CUSTOM_XPV_HOST'

SIZE_PATTERN = r'[0-9]+(\.[0-9]+)?(B|K|KiB|KB|M|MiB|MB|G|GiB|GB|T|TiB|TB)?'
DURATION_PATTERN = r'[0-9]+(\.[0-9]+)?(ms|s|m|min|h)?'
# xpvd refuses a zero homing period or scan interval (kvm/homing/homing_cfg.c)
NONZERO_DURATION_PATTERN = r'(?!0*(\.0*)?(ms|s|m|min|h)?$)' + DURATION_PATTERN

SPECS = [
    {
        'name': 'xpv:vnuma',
        'description': (
            'Adaptable vNUMA (XPV). "mirrored": one guest NUMA cell per host '
            'NUMA node of the compute host, each cell\'s memory bound to its '
            'own host node, vCPUs floating across all of them, and the '
            'virtio-numa device telling the guest where its vCPUs and memory '
            'are. "device": the virtio-numa device only, with the NUMA layout '
            'Nova builds from the hw:numa_* extra specs. "off" (default): '
            'neither.'
        ),
        'value': {
            'type': str,
            'enum': ['mirrored', 'device', 'off'],
            'description': 'mirrored, device or off',
        },
        'target': None,
    },
    {
        'name': 'xpv:numainfo_scan_period',
        'description': (
            'Milliseconds between two placement scans of the virtio-numa '
            'device (hypervisor default 1000).'
        ),
        'value': {'type': int, 'min': 10, 'max': 3600000,
                  'description': 'milliseconds, 10 to 3600000'},
        'target': ('numainfo', 'scan', 'period'),
    },
    {
        'name': 'xpv:numainfo_scan_debounce',
        'description': (
            'A vCPU\'s new host node is reported to the guest only once the '
            'vCPU was seen on it for this many milliseconds (default 1000).'
        ),
        'value': {'type': int, 'min': 0, 'max': 3600000,
                  'description': 'milliseconds, 0 to 3600000'},
        'target': ('numainfo', 'scan', 'debounce'),
    },
    {
        'name': 'xpv:numainfo_scan_threshold',
        'description': (
            'Percentage of a guest cell\'s memory that must have moved '
            'between host nodes before its memory placement is reported '
            'again (default 5).'
        ),
        'value': {'type': int, 'min': 0, 'max': 100,
                  'description': 'percent, 0 to 100'},
        'target': ('numainfo', 'scan', 'threshold'),
    },
    {
        'name': 'xpv:numainfo_vcpu_events',
        'description': (
            'How the hypervisor learns of vCPU moves: "on" from per-vCPU '
            'thread events (the VM fails to start where impossible), "off" '
            'from scans only, "auto" (default) events when possible.'
        ),
        'value': {'type': str, 'enum': ['on', 'off', 'auto'],
                  'description': 'on, off or auto'},
        'target': ('numainfo', 'vcpus', 'events'),
    },
    {
        'name': 'xpv:numainfo_hostcpu',
        'description': (
            'Whether the device reports the host CPU of each vCPU too '
            '(default on).'
        ),
        'value': {'type': str, 'enum': ['on', 'off'],
                  'description': 'on or off'},
        'target': ('numainfo', 'vcpus', 'hostcpu'),
    },
    {
        'name': 'xpv:numainfo_memory_placement',
        'description': (
            'Whether the device samples and reports where each guest cell\'s '
            'memory lives (default on).'
        ),
        'value': {'type': str, 'enum': ['on', 'off'],
                  'description': 'on or off'},
        'target': ('numainfo', 'memory', 'placement'),
    },
    {
        'name': 'xpv:numainfo_memory_budget',
        'description': (
            'At most this many guest pages are sampled per cell and scan '
            '(default 1024).'
        ),
        'value': {'type': int, 'min': 16, 'max': 1048576,
                  'description': 'pages, 16 to 1048576'},
        'target': ('numainfo', 'memory', 'budget'),
    },
    {
        'name': 'xpv:numainfo_memory_stride',
        'description': (
            'Guest memory is sampled once every this many KiB: a multiple of '
            '4, at most 1048576 (1 GiB; default 16384, 16 MiB).'
        ),
        'value': {'type': int, 'min': 4, 'max': 1048576,
                  'description': 'KiB, a multiple of 4, 4 to 1048576'},
        'target': ('numainfo', 'memory', 'stride'),
    },
    {
        'name': 'xpv:homing_policy',
        'description': (
            'Memory homing by xpvd: "periodic" repatriates the VM\'s remote '
            'pages every homing period, "threshold" once the remote bytes '
            'exceed the homing threshold, "off" never. Absent: xpvd\'s '
            'configuration applies.'
        ),
        'value': {'type': str, 'enum': ['periodic', 'threshold', 'off'],
                  'description': 'periodic, threshold or off'},
        'target': ('homing', 'policy'),
    },
    {
        'name': 'xpv:homing_threshold',
        'description': 'Remote bytes that start a homing pass (e.g. 500M).',
        'value': {'type': str, 'pattern': SIZE_PATTERN,
                  'description': 'a size such as 500M (K/M/G/T = 1024^n)'},
        'target': ('homing', 'threshold'),
    },
    {
        'name': 'xpv:homing_period',
        'description': 'Time between two periodic homing passes (e.g. 15m).',
        'value': {'type': str, 'pattern': NONZERO_DURATION_PATTERN,
                  'description': 'a duration above 0 such as 900, 15m or 1h'},
        'target': ('homing', 'period'),
    },
    {
        'name': 'xpv:homing_rate',
        'description': 'Bytes moved per second by homing; 0 is unlimited.',
        'value': {'type': str, 'pattern': SIZE_PATTERN,
                  'description': 'a size per second such as 256M'},
        'target': ('homing', 'rate'),
    },
    {
        'name': 'xpv:homing_cpu_budget',
        'description': (
            'Percent of one CPU that homing may spend moving pages; 0 is '
            'unlimited.'
        ),
        'value': {'type': int, 'min': 0, 'max': 100,
                  'description': 'percent, 0 to 100'},
        'target': ('homing', 'cpu-budget'),
    },
    {
        'name': 'xpv:homing_min_gap',
        'description': 'Threshold policy: least time between two passes.',
        'value': {'type': str, 'pattern': DURATION_PATTERN,
                  'description': 'a duration such as 60 or 1m'},
        'target': ('homing', 'min-gap'),
    },
    {
        'name': 'xpv:homing_scan_interval',
        'description': 'How old a placement measurement may get.',
        'value': {'type': str, 'pattern': NONZERO_DURATION_PATTERN,
                  'description': 'a duration above 0 such as 10 or 30s'},
        'target': ('homing', 'scan-interval'),
    },
    {
        'name': 'xpv:homing_vhost_affinity',
        'description': (
            'vhost worker threads pinned to the CPUs of the VM\'s home nodes '
            '("home") or left alone ("keep").'
        ),
        'value': {'type': str, 'enum': ['home', 'keep'],
                  'description': 'home or keep'},
        'target': ('homing', 'vhost-affinity'),
    },
]


def validator_kwargs():
    """The table as keyword arguments for Nova's ExtraSpecValidator."""
    return [{k: v for k, v in spec.items() if k != 'target'}
            for spec in SPECS]


def by_name():
    return {spec['name']: spec for spec in SPECS}


# ---------------------------------------------------------------------------
# Reading a flavor's specs (used by the compute driver).
#
# The API checks the table above only at microversion 2.86 and later, and
# flavors created before the validators were installed were never checked
# at all, so the driver checks every value again before it writes XML: a
# bad value makes spawn fail with a message naming the key, never produces
# a domain with a wrong or silently dropped setting.

import re as _re

_RESOURCE_KEY = _re.compile(
    r'resources([A-Za-z0-9_-]*):' + LLC_RESOURCE_CLASS + r'$')
_INTEGER = _re.compile(r'-?[0-9]+')


class SpecError(ValueError):
    """A flavor extra spec the driver cannot use (the message names it)."""


def _check(spec, raw):
    """One value, typed, or SpecError naming the key and what is allowed."""
    name, rule = spec['name'], spec['value']
    if not isinstance(raw, str):
        raw = str(raw)
    if rule['type'] is int:
        if not _INTEGER.fullmatch(raw):
            raise SpecError('%s=%r is not an integer (%s)'
                            % (name, raw, rule['description']))
        value = int(raw)
        if value < rule.get('min', value) or value > rule.get('max', value):
            raise SpecError('%s=%s is out of range (%s)'
                            % (name, raw, rule['description']))
        return value
    if 'enum' in rule and raw not in rule['enum']:
        raise SpecError('%s=%r is not one of %s'
                        % (name, raw, ', '.join(rule['enum'])))
    if 'pattern' in rule and not _re.fullmatch(rule['pattern'], raw):
        raise SpecError('%s=%r is not %s' % (name, raw, rule['description']))
    return raw


def read(extra_specs):
    """The ``xpv:`` specs of a flavor, checked and typed: ``{name: value}``.

    Raises SpecError for an unknown ``xpv:`` key, a value of the wrong type
    or out of range, and for combinations the device refuses (a stride that
    is not a whole number of 4 KiB pages, sampling tuned with memory
    placement off, device tunables without the device).
    """
    table = by_name()
    values = {}
    for key in sorted(extra_specs or {}):
        if not key.startswith(NAMESPACE + ':'):
            continue
        if key not in table:
            raise SpecError('unknown extra spec %s (known: %s)'
                            % (key, ', '.join(sorted(table))))
        values[key] = _check(table[key], extra_specs[key])
    stride = values.get('xpv:numainfo_memory_stride')
    if stride is not None and stride % 4:
        raise SpecError('xpv:numainfo_memory_stride=%d is not a multiple of '
                        '4 KiB' % stride)
    if values.get('xpv:numainfo_memory_placement') == 'off':
        tuned = [k for k in ('xpv:numainfo_memory_budget',
                             'xpv:numainfo_memory_stride') if k in values]
        if tuned:
            raise SpecError('%s set but xpv:numainfo_memory_placement=off '
                            '(sampling cannot be tuned when memory placement '
                            'is off)' % ', '.join(tuned))
    if values.get('xpv:vnuma', 'off') == 'off':
        tunables = sorted(k for k in values
                          if table[k]['target'] and
                          table[k]['target'][0] == 'numainfo')
        if tunables:
            raise SpecError('%s set but the flavor has no virtio-numa device '
                            '(set xpv:vnuma=mirrored or device)'
                            % ', '.join(tunables))
    return values


def vnuma_mode(values):
    """'mirrored', 'device' or 'off' from the result of read()."""
    return values.get('xpv:vnuma', 'off')


def numainfo_tunables(values):
    """``{(element, attribute): value}`` of the ``<numainfo>`` children."""
    table = by_name()
    return {table[k]['target'][1:]: v for k, v in values.items()
            if table[k]['target'] and table[k]['target'][0] == 'numainfo'}


def homing_attributes(values):
    """``{attribute: text}`` of ``<xpvh:homing>`` (empty: no homing keys)."""
    table = by_name()
    return {table[k]['target'][1]: str(v) for k, v in values.items()
            if table[k]['target'] and table[k]['target'][0] == 'homing'}


def llc_permit(extra_specs):
    """The LLC pollution permit the flavor books in Placement, or None.

    The sum of ``resources[SUFFIX]:CUSTOM_XPV_LLC_POLLUTION`` over the
    flavor's request groups, in xpvd's ``llc_cap`` unit.  A total of 0 is no
    permit: Placement allocates nothing for a zero amount, and ``llc-cap=0``
    would forbid the VM any LLC miss.
    """
    total = None
    for key in sorted(extra_specs or {}):
        if not _RESOURCE_KEY.match(key):
            continue
        raw = str(extra_specs[key])
        if not _re.fullmatch(r'[0-9]+', raw):
            raise SpecError('%s=%r is not a non-negative integer (units of '
                            'one LLC miss per ms of CPU time)' % (key, raw))
        total = (total or 0) + int(raw)
    return total or None

# SPDX-License-Identifier: Apache-2.0
"""The xpv: extra-spec validators, through the installed entry point and
Nova's own validation code (nova.api.validation.extra_specs.validators).

Run by tests/suites/70-nova-specs with /usr/bin/python3 once
openstack/install.sh has installed the plugin beside python3-nova.  Prints
one "ok - ..." or "not ok - ..." line per check (the suite numbers them).

usage: check_validators.py VERSION DOCS (docs/integration.md, whose key
table and rejection examples are checked against the validators)
"""

import importlib.metadata
import re
import sys

import tap

VERSION, DOCS = sys.argv[1], sys.argv[2]

# Loading the validators must not pull in the libvirt driver: nova-api
# hosts need not have it, and a failed import would make stevedore drop the
# whole xpv namespace with a warning (its keys then go unvalidated).
from nova.api.validation.extra_specs import validators  # noqa: E402
from nova import exception  # noqa: E402
from stevedore import extension  # noqa: E402

from nova.virt.xpv import flavor_specs  # noqa: E402

# Values the grammars of xpvd (kvm/common/units.c) accept and refuse; the
# table's regexes are checked against them, not derived from them.
SIZES_GOOD = ['500M', '0', '4096', '1.5G', '2TiB', '16KB', '1K', '3MiB', '7B']
SIZES_BAD = ['500X', '-1M', 'M', '1.M', ' 5M', '5 M', '1e9', '5m', '.5G', '']
DURATIONS_GOOD = ['900', '15m', '1h', '1.5h', '250ms', '60s', '2min']
DURATIONS_BAD = ['15 m', 'm', '1d', '-5s', '1.', '5sec', '1H', '']
NONZERO_BAD = ['0', '0s', '0.0m', '000ms']


def rejects(name, value, expect):
    """Nova's validate() raises ValidationError whose message has expect."""
    try:
        validators.validate(name, value)
    except exception.ValidationError as e:
        if expect in str(e):
            return True, str(e)
        return False, 'wrong message: %s' % e
    return False, 'accepted'


def accepts(name, value):
    try:
        validators.validate(name, value)
    except exception.ValidationError as e:
        return False, str(e)
    return True, ''


def cases(spec):
    """(good values, [(bad value, expected message fragment)])."""
    v = spec['value']
    if 'enum' in v:
        return (list(v['enum']),
                [(x, 'is not one of: %s.' % ', '.join(v['enum']))
                 for x in ('bogus', v['enum'][0].upper(), '')])
    if v['type'] is int:
        lo, hi = v['min'], v['max']
        return ([str(lo), str(hi), str((lo + hi) // 2)],
                [(str(lo - 1), "is less than the min value of '%d'" % lo),
                 (str(hi + 1), "is greater than the max value of '%d'" % hi),
                 ('ten', 'is not a valid integer value'),
                 ('1.5', 'is not a valid integer value')])
    fmt = 'is not of the format'
    if v['pattern'] == flavor_specs.SIZE_PATTERN:
        return SIZES_GOOD, [(x, fmt) for x in SIZES_BAD]
    if v['pattern'] == flavor_specs.DURATION_PATTERN:
        return DURATIONS_GOOD + ['0'], [(x, fmt) for x in DURATIONS_BAD]
    if v['pattern'] == flavor_specs.NONZERO_DURATION_PATTERN:
        return DURATIONS_GOOD, [(x, fmt) for x in DURATIONS_BAD + NONZERO_BAD]
    raise AssertionError('%s: no test values for pattern %r'
                         % (spec['name'], v['pattern']))


def main():
    t = tap.Tap()
    leaked = sorted(m for m in sys.modules
                    if m.startswith('nova.virt.libvirt'))
    t.check(not leaked, 'loading the validators imports no libvirt driver '
            'module (an API host needs none)', ', '.join(leaked[:5]))

    eps = [ep for ep in importlib.metadata.entry_points(
        group='nova.api.extra_spec_validators') if ep.name == 'xpv']
    t.check(len(eps) == 1 and eps[0].value == 'nova.virt.xpv.extra_specs',
            'importlib.metadata: one xpv entry point, nova.virt.xpv.extra_specs',
            repr(eps))
    dist = importlib.metadata.distribution('xpv-nova')
    t.check(dist.version == VERSION and dist.metadata['Name'] == 'xpv-nova',
            'importlib.metadata: distribution xpv-nova %s' % VERSION,
            '%s %s' % (dist.metadata['Name'], dist.version))

    failures = []
    mgr = extension.ExtensionManager(
        'nova.api.extra_spec_validators', invoke_on_load=False,
        on_load_failure_callback=lambda m, ep, err: failures.append(
            (ep.name, err)))
    t.check('xpv' in mgr.names() and not failures,
            'stevedore loads the xpv plugin beside Nova\'s own (%d plugins)'
            % len(mgr.names()), 'names %s, failures %s'
            % (mgr.names(), failures))

    names = [s['name'] for s in flavor_specs.SPECS]
    missing = [n for n in names if n not in validators.VALIDATORS]
    t.check(not missing and 'xpv' in validators.NAMESPACES,
            'Nova registered all %d xpv: keys and the xpv namespace'
            % len(names), 'missing %s' % missing)
    undocumented = [n for n in names
                    if not validators.VALIDATORS[n].description.strip()
                    or not validators.VALIDATORS[n].value.get('description')]
    t.check(not undocumented, 'every xpv: key has a description and a value '
            'description', ', '.join(undocumented))

    for spec in flavor_specs.SPECS:
        good, bad = cases(spec)
        results = [(x, accepts(spec['name'], x)) for x in good]
        wrong = ['%r: %s' % (x, why) for x, (ok, why) in results if not ok]
        t.check(not wrong, '%s accepts %s' % (spec['name'], ', '.join(good)),
                '; '.join(wrong))
        results = [(x, rejects(spec['name'], x, msg)) for x, msg in bad]
        wrong = ['%r: %s' % (x, why) for x, (ok, why) in results if not ok]
        t.check(not wrong, '%s rejects %s with Nova\'s messages'
                % (spec['name'], ', '.join(repr(x) for x, _ in bad)),
                '; '.join(wrong))
    ok, why = rejects('xpv:numainfo_scan_period', '5',
                      "Validation failed; '5' is less than the min value of "
                      "'10'.")
    t.check(ok, 'the exact message for xpv:numainfo_scan_period=5', why)

    unknown = ['xpv:llc_cap', 'xpv:VNUMA', 'xpv:vnuma_', 'xpv:', 'xpv:foo',
               'xpv:numainfo_scan_period.0', 'xpv:homing']
    wrong = []
    for name in unknown:
        ok, why = rejects(name, '1', "Validation failed; extra spec '%s' "
                          "does not appear to be a valid extra spec." % name)
        if not ok:
            wrong.append('%s: %s' % (name, why))
    t.check(not wrong, 'unknown xpv: keys rejected (%s)' % ', '.join(unknown),
            '; '.join(wrong))

    others = [('hw:numa_nodes', '2'), ('hw:cpu_policy', 'shared'),
              ('foo:bar', 'anything'), ('xpvx:vnuma', 'mirrored'),
              ('resources:%s' % flavor_specs.LLC_RESOURCE_CLASS, '250'),
              ('trait:%s' % flavor_specs.HOST_TRAIT, 'required')]
    wrong = ['%s=%s: %s' % (n, v, why) for n, v in others
             for ok, why in [accepts(n, v)] if not ok]
    t.check(not wrong, 'other namespaces unchanged; the permit and trait '
            'extra specs pass Nova\'s resources:/trait: validators',
            '; '.join(wrong))
    ok1, why1 = rejects('resources:%s' % flavor_specs.LLC_RESOURCE_CLASS,
                        'lots', 'Validation failed;')
    ok2, why2 = rejects('trait:%s' % flavor_specs.HOST_TRAIT, 'maybe',
                        'Validation failed;')
    t.check(ok1 and ok2, 'resources:CUSTOM_XPV_LLC_POLLUTION=lots and '
            'trait:CUSTOM_XPV_HOST=maybe rejected by Nova', why1 + why2)
    check_docs(t)
    return t.done()


def check_docs(t):
    """The operator's table and rejection examples say what Nova does."""
    with open(DOCS) as f:
        text = f.read()
    rows = dict(re.findall(r'^\| `(xpv:[a-z_]+)` \| ([^|]+) \|', text, re.M))
    want = {s['name']: s['value']['description'] for s in flavor_specs.SPECS}
    wrong = ['%s: %r, table says %r' % (k, v, rows.get(k))
             for k, v in want.items() if rows.get(k, '').strip() != v]
    wrong += ['%s: not a key' % k for k in rows if k not in want]
    t.check(not wrong, '%s lists every xpv: key with its value description'
            % DOCS, '\n'.join(wrong))
    examples = re.findall(r'^(xpv:[a-z_]+)=(\S+) +(Validation failed; .*)$',
                          text, re.M)
    wrong = []
    for name, value, msg in examples:
        ok, why = rejects(name, value, msg)
        if not ok:
            wrong.append('%s=%s: %s' % (name, value, why))
    t.check(len(examples) >= 5 and not wrong, 'the %d rejection examples in '
            '%s are Nova\'s messages, word for word'
            % (len(examples), DOCS), '\n'.join(wrong))


if __name__ == '__main__':
    sys.exit(main())

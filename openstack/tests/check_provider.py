# SPDX-License-Identifier: Apache-2.0
"""openstack/provider-config/xpv.yaml and openstack/xpv-provider-config,
through Nova's own provider config loader (nova.compute.provider_config) and
the resource tracker's merge into a provider tree
(ResourceTracker._merge_provider_configs), as nova-compute does at start.

No Placement service runs: the merged ProviderTree is what nova-compute
would send to Placement.  Prints "ok - ..." / "not ok - ..." lines (the
suite, tests/suites/71-nova-provider, numbers them).

usage: check_provider.py TOP WORKDIR
"""

import json
import os
import subprocess
import sys

import tap

from nova.compute import provider_config
from nova.compute import provider_tree
from nova.compute import resource_tracker
import nova.conf
from nova import exception
from nova import objects

TOP, WORK = sys.argv[1], sys.argv[2]
EXAMPLE = os.path.join(TOP, 'openstack/provider-config/xpv.yaml')
TOOL = os.path.join(TOP, 'openstack/xpv-provider-config')
RC, TRAIT = 'CUSTOM_XPV_LLC_POLLUTION', 'CUSTOM_XPV_HOST'
CN_UUID = '6a8e1c3e-4a52-4d0e-9a3b-5c3c1f2b7d10'
CONF = nova.conf.CONF
t = tap.Tap()
objects.register_all()  # as nova-compute does at start


def directory(name, files):
    """A provider_config_location holding files {name: text}."""
    d = os.path.join(WORK, name)
    os.makedirs(d)
    for fname, text in files.items():
        with open(os.path.join(d, fname), 'w') as f:
            f.write(text)
    return d


def load(d):
    """get_provider_configs(d): (configs, None) or (None, error text)."""
    try:
        return provider_config.get_provider_configs(d), None
    except exception.ProviderConfigException as e:
        return None, str(e)


def merged_tree(d, driver_inventory=None):
    """A ResourceTracker reading [compute] provider_config_location = d
    merges its configs into a tree holding one compute node root (cn1, with
    the virt driver's inventory) and a non-compute root (shared1)."""
    CONF.set_override('provider_config_location', d, group='compute')
    rt = resource_tracker.ResourceTracker('cn1', driver=None,
                                          reportclient=object())
    tree = provider_tree.ProviderTree()
    tree.new_root('cn1', CN_UUID)
    tree.update_inventory(CN_UUID, driver_inventory or {
        'VCPU': {'total': 2, 'reserved': 0, 'min_unit': 1, 'max_unit': 2,
                 'step_size': 1, 'allocation_ratio': 16.0}})
    tree.add_traits(CN_UUID, 'COMPUTE_NODE', 'HW_CPU_X86_AVX2')
    tree.new_root('shared1', '00000000-0000-0000-0000-00000000beef')
    rt._merge_provider_configs(rt.provider_configs, tree)
    return tree


with open(EXAMPLE) as f:
    example = f.read()

# ---- the example, as nova-compute reads it ---------------------------------
configs, err = load(directory('example', {'xpv.yaml': example}))
prov = (configs or {}).get('$COMPUTE_NODE', {})
inv = {k: v for d in prov.get('inventories', {}).get('additional', [])
       for k, v in d.items()}
t.check(err is None and list(configs) == ['$COMPUTE_NODE']
        and prov['traits']['additional'] == [TRAIT]
        and set(inv) == {RC}
        and set(inv[RC]) == {'total', 'reserved', 'min_unit', 'max_unit',
                             'step_size', 'allocation_ratio'},
        "get_provider_configs reads the example: $COMPUTE_NODE, trait %s, "
        "inventory %s with all six fields" % (TRAIT, RC),
        err or json.dumps(configs, default=str))

tree = merged_tree(os.path.join(WORK, 'example'))
cn = tree.data(CN_UUID)
t.check(cn.inventory.get(RC) == inv.get(RC) and 'VCPU' in cn.inventory
        and {TRAIT, 'COMPUTE_NODE', 'HW_CPU_X86_AVX2'} <= set(cn.traits),
        "ResourceTracker merges it into the compute node: %s inventory and "
        "trait added, the driver's VCPU and traits kept" % RC,
        'inventory %s traits %s' % (cn.inventory, cn.traits))
shared = tree.data('shared1')
t.check(not shared.inventory and not shared.traits,
        'a root without the COMPUTE_NODE trait gets nothing from '
        '$COMPUTE_NODE', 'inventory %s traits %s' % (shared.inventory,
                                                    shared.traits))
try:
    merged_tree(os.path.join(WORK, 'example'), driver_inventory={
        RC: {'total': 5, 'reserved': 0, 'min_unit': 1, 'max_unit': 5,
             'step_size': 1, 'allocation_ratio': 1.0}})
    why = 'merged'
except ValueError as e:
    why = str(e)
t.check('attempts to define an inventory that is owned by the virt driver'
        in why, 'an inventory the virt driver reports itself is refused at '
        'merge (the driver must not report %s too)' % RC, why)

# ---- bad variants: Nova's loader refuses each, saying why ------------------
inv_block = example[example.index('        - CUSTOM_XPV_LLC_POLLUTION:'):]
BAD = {
    'trait-not-custom': (example.replace('- CUSTOM_XPV_HOST',
                                         '- HW_CPU_X86_AVX2'),
                         "Invalid traits, only custom traits are allowed: "
                         "['HW_CPU_X86_AVX2']"),
    'rc-not-custom': (example.replace('- CUSTOM_XPV_LLC_POLLUTION:',
                                      '- VCPU:'),
                      'Invalid resource class, only custom resource classes '
                      'are allowed: VCPU'),
    'rc-lowercase': (example.replace('- CUSTOM_XPV_LLC_POLLUTION:',
                                     '- custom_xpv_llc_pollution:'),
                     'did not pass validation'),
    'no-total': (example.replace('total: 1000', 'totl: 1000'),
                 "'total' is a required property"),
    'total-string': (example.replace('total: 1000', "total: '1000'"),
                     "'1000' is not of type 'integer'"),
    'ratio-string': (example.replace('allocation_ratio: 1.0',
                                     'allocation_ratio: high'),
                     "'high' is not of type 'number'"),
    'schema-2': (example.replace("schema_version: '1.0'",
                                 "schema_version: '2.0'"),
                 'Unsupported schema major version: 2'),
    'no-meta': (example.replace("meta:\n  schema_version: '1.0'\n", ''),
                'Unable to detect schema version'),
    'uuid-and-name': (example.replace('      uuid: $COMPUTE_NODE',
                                      '      uuid: $COMPUTE_NODE\n'
                                      '      name: cn1'),
                      'did not pass validation'),
    'bad-uuid': (example.replace('uuid: $COMPUTE_NODE', 'uuid: cn1'),
                 'did not pass validation'),
    'not-yaml': (example.replace('    traits:', '  traits:\n\t- x'),
                 'Unable to load yaml file'),
}
for name, (text, expect) in sorted(BAD.items()):
    assert text != example, name
    _, err = load(directory('bad-' + name, {'xpv.yaml': text}))
    t.check(err is not None and expect in err,
            'Nova refuses the %s variant: %s' % (name, expect), err)
_, err = load(directory('dup', {'a.yaml': example, 'b.yaml': example}))
t.check(err is not None and 'Provider $COMPUTE_NODE has multiple '
        'definitions' in err, 'two files for $COMPUTE_NODE are refused', err)


# ---- the tool ----------------------------------------------------------------
def tool(*args):
    p = subprocess.run([TOOL] + list(args), capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def tool_config(name, *args):
    """Run the tool with -o into a fresh directory; load it with Nova."""
    d = directory('tool-' + name, {})
    rc, out, err = tool('-o', os.path.join(d, 'xpv.yaml'), *args)
    configs, lerr = load(d) if rc == 0 else (None, None)
    return rc, err, configs, lerr, d


def inventory_of(configs, ident='$COMPUTE_NODE'):
    p = (configs or {}).get(ident, {})
    return {k: v for d in p.get('inventories', {}).get('additional', [])
            for k, v in d.items()}.get(RC), p.get('traits', {}).get(
                'additional')


rc, err, configs, lerr, d = tool_config(
    'total', '--total', '640', '--reserved', '40', '--max-unit', '200',
    '--step-size', '10', '--min-unit', '10', '--allocation-ratio', '1.5')
inv, traits = inventory_of(configs)
t.check(rc == 0 and lerr is None and traits == [TRAIT] and inv == {
    'total': 640, 'reserved': 40, 'min_unit': 10, 'max_unit': 200,
    'step_size': 10, 'allocation_ratio': 1.5},
    'xpv-provider-config --total 640 ... writes a config Nova loads with '
    'those values', '%s %s %s %s' % (rc, err, lerr, configs))
tree = merged_tree(d)
t.check(tree.data(CN_UUID).inventory.get(RC, {}).get('total') == 640,
        "the tool's config merges into the compute node", '')

rc, err, configs, lerr, _ = tool_config('uuid', '--total', '5', '--uuid',
                                        CN_UUID)
inv, _ = inventory_of(configs, CN_UUID)
t.check(rc == 0 and inv and inv['max_unit'] == 5,
        '--uuid names one provider; max_unit defaults to the total',
        '%s %s %s' % (rc, err, lerr))
rc, err, configs, lerr, _ = tool_config('name', '--total', '5', '--name',
                                        'cn1: "rack 4"')
inv, _ = inventory_of(configs, 'cn1: "rack 4"')
t.check(rc == 0 and inv, '--name with YAML-special characters is quoted',
        '%s %s %s' % (rc, err, lerr))

USAGE = [
    (['--total', '0'], 1, 'at least 1 unit'),
    (['--total', '100', '--reserved', '101'], 1, 'reserved 101 is above'),
    (['--total', '100', '--max-unit', '101'], 1, 'max_unit (101) <= total'),
    (['--total', '100', '--min-unit', '0'], 1, '1 <= min_unit (0)'),
    (['--total', '100', '--step-size', '0'], 1, 'step_size must be >= 1'),
    (['--total', '-5'], 2, "'-5' is negative"),
    (['--total', 'many'], 2, 'is not an integer'),
    (['--total', '100', '--uuid', 'cn1'], 2, 'is not a UUID'),
    (['--total', '100', '--allocation-ratio', '0'], 2,
     '--allocation-ratio must be > 0'),
    (['--total', '100', '--allocation-ratio', 'nan'], 2,
     '--allocation-ratio must be > 0'),
    ([], 2, 'give --total N or --samples FILE'),
]
for args, want_rc, msg in USAGE:
    out_file = os.path.join(WORK, 'never.yaml')
    rc, out, err = tool('-o', out_file, *args)
    t.check(rc == want_rc and msg in err and not os.path.exists(out_file),
            'xpv-provider-config %s: exit %d, "%s", no file written'
            % (' '.join(args), want_rc, msg), 'rc %d: %s' % (rc, err))

# an existing file is not clobbered by a refused run
keep = os.path.join(WORK, 'keep.yaml')
with open(keep, 'w') as f:
    f.write('previous\n')
rc, _, _ = tool('-o', keep, '--total', '0')
with open(keep) as f:
    t.check(rc == 1 and f.read() == 'previous\n',
            'a refused run leaves the existing output file as it was', '')

rc, out, err = tool('--check', EXAMPLE, os.path.join(
    WORK, 'bad-trait-not-custom', 'xpv.yaml'))
t.check(rc == 1 and '%s: valid' % EXAMPLE in out
        and 'Invalid traits, only custom traits are allowed' in err,
        '--check runs Nova\'s loader: the example is valid, a bad variant '
        'is reported with Nova\'s message', out + err)


# ---- measurement samples: xpvctl -j status replies ----------------------------
def reply(ticks, charges, source='perf', test_mode=False, domains=None):
    vms = [{'vm': 'vm%d' % i, 'charged': c, 'llc_cap_act': c}
           for i, c in enumerate(charges)]
    return json.dumps({'ok': True, 'result': {
        'period_ms': 100, 'ticks': ticks, 'controllers': {'kyoto': {
            'enabled': True, 'test_mode': test_mode, 'vms': vms,
            'counters': {'source': source, 'mode': 'cgroup'},
            'topology': {'llc_domains': [
                {'domain': i, 'charged': c}
                for i, c in enumerate(domains or [])]}}}}})


def samples_file(name, lines):
    path = os.path.join(WORK, name + '.jsonl')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


# host sums 100, 300, 200, 500, 400 (+ tick 3 read twice: counted once)
run = samples_file('run', [
    reply(1, [60, 40], domains=[60, 40]),
    reply(2, [100, 200.5], domains=[100, 200.5]),
    reply(3, [150, 50]), reply(3, [150, 50]),
    reply(4, [500, 0]), reply(5, [399.9, 0.2])])
for pct, want in (('50', 300), ('100', 500), ('20', 100), ('80', 400)):
    rc, err, configs, lerr, _ = tool_config('p' + pct, '--samples', run,
                                            '--percentile', pct)
    inv, _ = inventory_of(configs)
    t.check(rc == 0 and inv and inv['total'] == want,
            '--samples: p%s of the host sums over 5 distinct periods is %d'
            % (pct, want), '%s %s %s %s' % (rc, err, lerr, inv))
t.check('LLC domain 1: median 40.0, max 200.5 misses/ms' in err,
        'the per-LLC-domain charges are reported', err)

BAD_SAMPLES = [
    ('synthetic', [reply(1, [10], source='synthetic')],
     "test-only source 'synthetic'"),
    ('test-mode', [reply(1, [10], test_mode=True)], 'xpvd in test mode'),
    ('negative', [reply(1, [-1])], "charged -1 is not a number >= 0"),
    ('not-json', ['{"ok": true', reply(2, [1])], 'not JSON'),
    ('error-reply', ['{"ok": false, "error": "no"}'],
     'not a successful `xpvctl -j status` reply'),
    ('no-kyoto', ['{"ok": true, "result": {"controllers": {}}}'],
     'no controllers.kyoto.vms'),
    ('idle', [reply(1, [0.4]), reply(2, [0.2])],
     'total 0: a host must carry at least 1 unit'),
    ('empty', [''], 'no samples'),
]
for name, lines, msg in BAD_SAMPLES:
    rc, out, err = tool('--samples', samples_file(name, lines))
    t.check(rc == 1 and msg in err and not out,
            '--samples refuses %s samples: "%s"' % (name, msg), err)
rc, out, err = tool('--samples', samples_file('syn-ok', [
    reply(1, [10.5], source='synthetic')]), '--allow-test-counters')
t.check(rc == 0 and 'TEST COUNTERS: NOT A MEASUREMENT' in out,
        '--allow-test-counters: the config says it is not a measurement',
        out + err)

sys.exit(t.done())

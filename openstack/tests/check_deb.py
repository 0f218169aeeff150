# SPDX-License-Identifier: Apache-2.0
"""The xpv-nova Debian package, installed, used and purged.

Run by tests/suites/83-deb-nova as root inside tests/install/overlay-root.sh's
throw-away root (the .debs at /mnt; python3-nova comes from the real root
below the overlay).  Installs xpv-nova with apt-get, then checks:
openstack/install.sh refusing to replace or remove it, the
bytecode py3compile wrote in the postinst, the plugin's import from
python3-nova's tree, the entry point and Nova's own validation
(openstack/tests/check_validators.py, as suite 70 runs it after `make
install-nova`), xpv-provider-config and its man page, the provider config it
writes and the example, as Nova's loader reads them; then purges xpv-nova and
checks that its files, their bytecode and the xpv: namespace are gone.
Prints "ok - ..." / "not ok - ..." lines (the suite numbers them).

usage: check_deb.py TOP VERSION
"""

import glob
import importlib.util
import os
import subprocess
import sys

import tap

TOP, VERSION = sys.argv[1], sys.argv[2]
SITE = '/usr/lib/python3/dist-packages'
PLUGIN = os.path.join(SITE, 'nova/virt/xpv')
DISTINFO = os.path.join(SITE, 'xpv_nova-%s.dist-info' % VERSION)
TOOL = '/usr/bin/xpv-provider-config'
WORK = '/tmp/xpv-83'
ENV = dict(os.environ, LC_ALL='C', DEBIAN_FRONTEND='noninteractive',
           PATH='/usr/sbin:/usr/bin:/sbin:/bin',
           # stevedore's entry-point cache: in the test's own /tmp
           XDG_CACHE_HOME=os.path.join(WORK, 'cache'),
           PYTHONPATH=os.path.dirname(os.path.abspath(__file__)))
t = tap.Tap()

# Nova accepts or refuses xpv:foo; stderr tells whether an entry point
# failed to load
PROBE = '''
import sys
from nova.api.validation.extra_specs import validators
from nova import exception
try:
    validators.validate(sys.argv[1], "1")
    print("accepted")
except exception.ValidationError as e:
    print("rejected:", e)
'''


def run(*cmd):
    """(exit status, stdout, stderr) of cmd."""
    p = subprocess.run(cmd, env=ENV, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def tail(text, n=15):
    return '\n'.join(text.splitlines()[-n:])


def package_files():
    rc, out, _ = run('dpkg-query', '-L', 'xpv-nova')
    if rc != 0:
        return []
    return [f for f in out.splitlines() if os.path.isfile(f)]


def status():
    rc, out, _ = run('dpkg-query', '-W', '-f=${db:Status-Abbrev}', 'xpv-nova')
    return out.strip() if rc == 0 else 'unknown'


def provider_configs(d):
    """Nova's loader on directory d: (configs, None) or (None, error)."""
    from nova.compute import provider_config
    from nova import exception
    try:
        return provider_config.get_provider_configs(d), None
    except exception.ProviderConfigException as e:
        return None, str(e)


def xpv_inventory(configs):
    prov = (configs or {}).get('$COMPUTE_NODE', {})
    invs = prov.get('inventories', {}).get('additional', [])
    traits = prov.get('traits', {}).get('additional', [])
    inv = {k: v for d in invs for k, v in d.items()}
    return inv.get('CUSTOM_XPV_LLC_POLLUTION', {}).get('total'), traits


def main():
    os.makedirs(WORK, exist_ok=True)
    debs = glob.glob('/mnt/xpv-nova_*_all.deb')
    if len(debs) != 1:
        t.check(False, 'one xpv-nova .deb in the packages', repr(debs))
        return t.done()
    rc, out, err = run('apt-get', 'install', '-y', '--no-install-recommends',
                       debs[0])
    t.check(rc == 0 and status() == 'ii', 'apt-get install ./%s (python3-nova '
            'already installed)' % os.path.basename(debs[0]),
            tail(out + err))
    if status() != 'ii':
        return t.done()
    # the project's own installer leaves a packaged plugin to dpkg
    inst = os.path.join(TOP, 'openstack/install.sh')
    for verb in ('install', 'uninstall'):
        rc, out, err = run(inst, verb)
        t.check(rc == 1 and 'belongs to a Debian package' in err,
                'openstack/install.sh %s refuses: the plugin is dpkg\'s'
                % verb, out + err)
    rc, out, err = run('dpkg', '--verify', 'xpv-nova')
    t.check(rc == 0 and not out, 'dpkg --verify xpv-nova: files as shipped',
            out + err)

    # ---- bytecode: written by py3compile in the postinst ------------------
    files = package_files()
    sources = [f for f in files if f.startswith(PLUGIN + '/')
               and f.endswith('.py')]
    missing = [f for f in sources
               if not os.path.isfile(importlib.util.cache_from_source(f))]
    t.check(sources and not missing, 'the postinst byte-compiled the %d '
            'modules (__pycache__/*.%s.pyc)'
            % (len(sources), sys.implementation.cache_tag), missing)
    shipped = [f for f in files if '__pycache__' in f or f.endswith('.pyc')]
    t.check(not shipped, 'no bytecode shipped in the package', shipped)

    # ---- the plugin, the entry point and Nova's validation ----------------
    rc, out, err = run('/usr/bin/python3', '-c',
                       'import nova.virt.xpv.extra_specs as m; '
                       'print(m.__file__)')
    t.check(rc == 0 and out.strip() == os.path.join(PLUGIN, 'extra_specs.py'),
            'nova.virt.xpv.extra_specs imports from python3-nova\'s tree',
            out + tail(err))
    t.check(os.path.isfile(os.path.join(DISTINFO, 'entry_points.txt')),
            'the package holds %s/entry_points.txt' % DISTINFO)
    rc, out, err = run('/usr/bin/python3', os.path.join(
        TOP, 'openstack/tests/check_validators.py'), VERSION,
        os.path.join(TOP, 'docs/integration.md'))
    # its lines, renamed; its diagnostics follow its "not ok" lines
    for line in out.splitlines():
        for mark in ('ok - ', 'not ok - '):
            if line.startswith(mark):
                line = mark + 'installed package: ' + line[len(mark):]
                t.failed += mark == 'not ok - '
                break
        print(line)
    sys.stdout.flush()
    t.check(rc == 0 or (rc == 1 and 'not ok - ' in out and
                        'Traceback' not in err),
            'check_validators.py ran to the end (exit %d)' % rc, tail(err))

    # ---- xpv-provider-config, its man page, the example --------------------
    rc, out, err = run('xpv-provider-config', '--help')
    t.check(rc == 0 and '--total' in out and
            run('which', 'xpv-provider-config')[1].strip() == TOOL,
            'xpv-provider-config --help (on PATH, %s)' % TOOL, out + err)
    rc, out, err = run('man', '-w', 'xpv-provider-config')
    t.check(rc == 0 and out.strip() ==
            '/usr/share/man/man1/xpv-provider-config.1.gz',
            'man -w xpv-provider-config: its man page', out + err)
    pcdir = os.path.join(WORK, 'provider_config')
    os.makedirs(pcdir)
    rc, out, err = run('xpv-provider-config', '--total', '375', '-o',
                       os.path.join(pcdir, 'xpv.yaml'))
    configs, why = provider_configs(pcdir)
    total, traits = xpv_inventory(configs)
    t.check(rc == 0 and total == 375 and 'CUSTOM_XPV_HOST' in traits,
            'xpv-provider-config --total 375 writes a file Nova\'s provider '
            'config loader accepts (total 375, trait CUSTOM_XPV_HOST)',
            '%s%s %s %s' % (out, err, why, configs))
    exdir = os.path.join(WORK, 'example')
    os.makedirs(exdir)
    example = '/usr/share/doc/xpv-nova/examples/xpv.yaml'
    ok = os.path.isfile(example)
    if ok:
        with open(example) as src, \
                open(os.path.join(exdir, 'xpv.yaml'), 'w') as dst:
            dst.write(src.read())
    configs, why = provider_configs(exdir)
    t.check(ok and xpv_inventory(configs)[0] is not None,
            'Nova\'s loader accepts the example %s' % example,
            '%s %s' % (why, configs))

    # ---- purge --------------------------------------------------------------
    rc, out, err = run('apt-get', 'purge', '-y', 'xpv-nova')
    t.check(rc == 0 and status() in ('un', 'pn', 'unknown'),
            'apt-get purge xpv-nova', tail(out + err))
    left = [f for f in files if os.path.lexists(f)]
    left += [d for d in (PLUGIN, DISTINFO) if os.path.lexists(d)]
    left += glob.glob(os.path.join(SITE, 'xpv_nova-*'))
    t.check(not left, 'the purge removed the package\'s files, their '
            'bytecode, nova/virt/xpv/ and the dist-info', left)
    rc, out, err = run('/usr/bin/python3', '-c', PROBE, 'xpv:foo')
    t.check(rc == 0 and out.strip() == 'accepted' and
            'Failed to load' not in err,
            'after the purge Nova accepts xpv:foo again (namespace unknown), '
            'no entry-point load failure', out + tail(err))
    return t.done()


if __name__ == '__main__':
    sys.exit(main())

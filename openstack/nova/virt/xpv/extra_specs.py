# SPDX-License-Identifier: Apache-2.0
"""Validators for the ``xpv:`` flavor extra specs.

Registered on the ``nova.api.extra_spec_validators`` entry point (as
``xpv = nova.virt.xpv.extra_specs``, written by ``openstack/install.sh``), the
way Nova's own namespaces (``nova/api/validation/extra_specs/hw.py``) are:
nova-api calls ``register()`` once at import of
``nova.api.validation.extra_specs.validators``.  From then on the ``xpv``
namespace is known to Nova, so at API microversion 2.86 and later an ``xpv:``
key that is not in the table, or a value outside its type, enum, range or
pattern, is refused with HTTP 400.

The table itself is ``flavor_specs.SPECS``, shared with the compute driver.
This module must stay importable on an API host: it imports nothing from the
libvirt driver.
"""

from nova.api.validation.extra_specs import base

from nova.virt.xpv import flavor_specs


def register():
    return [base.ExtraSpecValidator(**kw)
            for kw in flavor_specs.validator_kwargs()]

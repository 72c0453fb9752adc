# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Traefik defaults come from one place: module_utils/_traefik.py.

The doc fragment homelab.deploy.traefik can only repeat them as text, so these tests hold the text equal to the
constants, and hold every module of the action group homelab.deploy.traefik to the fragment and to argument
specs built from the constants (one module_defaults for the group must suit every module in it).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import importlib
import os

import pytest
import yaml

from ansible_collections.homelab.deploy.plugins.doc_fragments.traefik import ModuleDocFragment
from ansible_collections.homelab.deploy.plugins.module_utils import _traefik as traefik

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
FRAGMENT = 'homelab.deploy.traefik'
# traefik_route.py is being rewritten elsewhere; its argument spec and docs move to the constants and the fragment
# there. Strict, so this mark must go in the same change.
PENDING = {}


def group_members():
    with open(os.path.join(ROOT, 'meta', 'runtime.yml')) as handle:
        return yaml.safe_load(handle)['action_groups']['traefik']


class Captured(Exception):
    pass


def argument_spec(module, monkeypatch):
    """The argument spec main() hands AnsibleModule, however the module builds it."""
    def capture(**kwargs):
        raise Captured(kwargs['argument_spec'])
    monkeypatch.setattr(module, 'AnsibleModule', capture)
    with pytest.raises(Captured) as caught:
        module.main()
    return caught.value.args[0]


def test_fragment_defaults_are_the_constants():
    options = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)['options']
    assert options['dynamic_dir']['default'] == traefik.DYNAMIC_DIR
    assert options['api_url']['default'] == traefik.API_URL
    assert (options['dynamic_dir']['type'], options['api_url']['type']) == ('path', 'str')


def test_the_group_is_the_modules_that_take_both_options():
    assert sorted(group_members()) == ['drift_check', 'traefik_route', 'traefik_route_info']


@pytest.mark.parametrize('name', [
    pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=PENDING[name])) if name in PENDING else name
    for name in ['drift_check', 'traefik_route', 'traefik_route_info']])
def test_group_member_uses_the_fragment_and_the_constants(name, monkeypatch):
    module = importlib.import_module('ansible_collections.homelab.deploy.plugins.modules.%s' % name)
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert FRAGMENT in doc['extends_documentation_fragment']
    # the fragment documents them: a module may only refine the description
    for option in ('dynamic_dir', 'api_url'):
        assert set((doc.get('options') or {}).get(option) or {}) <= {'description'}
    spec = argument_spec(module, monkeypatch)
    assert spec['dynamic_dir'] == {'type': 'path', 'default': traefik.DYNAMIC_DIR}
    assert spec['api_url'] == {'type': 'str', 'default': traefik.API_URL}

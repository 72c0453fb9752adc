# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the service catalog filters: loading with precise errors, the guards against removing
everything, the mapping to pattern_service variables and the reconcile plan with per-unit diffs."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import os

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.deploy.plugins.filter import catalog as cf
from ansible_collections.homelab.deploy.plugins.filter import patterns as pf

SHIPPED = os.path.join(pf.COLLECTION_ROOT, 'services')
ENTRY = {
    'metadata': {'name': 'web', 'owner': 'me', 'deployed': True},
    'deployment': {'pattern': 'reverse-proxy-backend', 'image': 'localhost/hl-web:latest',
                   'overrides': {'services': {'app': {'read_only': False}}}},
    'networking': {'hostname': 'web.test', 'internal_port': 8080},
    'security': {'middleware': ['security-headers@file']},
    'environment': {'HL_WEB_VERSION': '1'},
    'health': {'path': '/health', 'cmd': '/bin/hl-web health'},
}


def write(tmp_path, entries):
    for name, data in entries.items():
        (tmp_path / ('%s.yml' % name)).write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return str(tmp_path)


def entry(**changes):
    data = copy.deepcopy(ENTRY)
    for path, value in changes.items():
        node = data
        keys = path.split('__')
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = value
    return data


def host_units(entries, **options):
    """quadlet_info-style units as homelab.deploy.quadlet writes them for the rendered entries."""
    units = []
    options.setdefault('controllers', [])
    for item in entries:
        svars, rendered = cf.render_entry(item, options)
        for unit in rendered['units']:
            units.append({'unit_name': unit['name'], 'content': '# Managed by homelab.deploy.quadlet; edits here are '
                          'overwritten.\n' + cf.installed_text(unit, 'system')})
    return units


def managed(*names):
    return [{'Names': ['%s-app' % n], 'Labels': {'io.homelab.deploy.managed': 'true', 'io.homelab.deploy.instance': n}}
            for n in names]


# -- loading -------------------------------------------------------------------------------------------

def test_shipped_catalog_loads():
    names = [e['metadata']['name'] for e in cf.catalog_load(SHIPPED)]
    assert names == ['old-dashboard', 'whoami']


@pytest.mark.parametrize('data, key, reason', [
    (entry(metadata__deployed='yes'), 'metadata.deployed', "'yes' is not of type 'boolean'"),
    (entry(networking__internal_port=70000), 'networking.internal_port', 'is greater than the maximum'),
    (entry(metadata__colour='red'), 'metadata', "'colour' was unexpected"),
    (entry(metadata__name='other'), 'metadata.name', 'the file is web.yml'),
    (entry(deployment__pattern='no-such-pattern'), 'deployment.pattern', "no pattern 'no-such-pattern'"),
    (entry(resources__memory={'max': 'lots'}), 'resources.memory.max', "does not match"),
    (entry(security__tls='lets encrypt'), 'security.tls', 'is not valid'),
])
def test_bad_entry_names_file_key_and_reason(tmp_path, data, key, reason):
    with pytest.raises(cf.CatalogError) as err:
        cf.catalog_load(write(tmp_path, {'web': data}))
    message = str(err.value)
    assert 'web.yml: %s' % key in message and reason in message


def test_bad_override_is_reported_with_the_pattern_key(tmp_path):
    data = entry(deployment__overrides={'services': {'app': {'read_only': 'sometimes'}}})
    with pytest.raises(cf.CatalogError) as err:
        cf.catalog_load(write(tmp_path, {'web': data}))
    assert 'web.yml: deployment (pattern reverse-proxy-backend): services.app.read_only' in str(err.value)


def test_every_problem_at_once(tmp_path):
    with pytest.raises(cf.CatalogError) as err:
        cf.catalog_load(write(tmp_path, {'web': entry(metadata__deployed='no'), 'db': 'metadata: [unclosed'}))
    assert len(err.value.problems) == 2


@pytest.mark.parametrize('make', [lambda p: str(p / 'missing'), str])
def test_empty_or_missing_catalog_is_refused(tmp_path, make):
    with pytest.raises(AnsibleFilterError):
        cf.catalog_load(make(tmp_path))


def test_empty_catalog_with_opt_in(tmp_path):
    assert cf.catalog_load(str(tmp_path), allow_empty=True) == []


# -- variables -------------------------------------------------------------------------------------------

def test_service_vars_map_the_catalog_sections():
    svars = cf.service_vars(entry(metadata__deployed=False, metadata__purge=True, security__authentication=True,
                                  resources={'memory': {'max': '64M', 'high': '48M'}}))
    over = svars['pattern_service_overrides']
    assert svars['pattern_service_state'] == 'absent' and svars['pattern_service_purge'] is True
    assert over['services']['app']['image'] == 'localhost/hl-web:latest'
    assert over['services']['app']['environment'] == {'HL_WEB_VERSION': '1'}
    assert over['services']['app']['read_only'] is False
    assert over['services']['app']['resources'] == {'memory': {'max': '64M', 'high': '48M'}}
    assert over['routing'] == {'port': 8080}
    assert over['security'] == {'auth_required': True, 'middlewares': ['security-headers@file']}
    assert over['monitoring'] == {'health': {'path': '/health'}}


# -- plan ------------------------------------------------------------------------------------------------

def test_plan_deploy_update_remove_unchanged():
    old = [entry(), entry(metadata__name='gone'), entry(metadata__name='same')]
    new = [entry(environment={'HL_WEB_VERSION': '2'}), entry(metadata__name='gone', metadata__deployed=False),
           entry(metadata__name='same'), entry(metadata__name='fresh')]
    plan = cf.catalog_plan(new, units=host_units(old), containers=managed('web', 'gone', 'same', 'stranger'),
                           controllers=[])
    assert (plan['deploy'], plan['update'], plan['remove'], plan['unchanged']) == (['fresh'], ['web'], ['gone'], ['same'])
    assert plan['unknown'] == ['stranger']
    diff = dict((i['name'], i['diff']) for i in plan['services'])['web']
    assert list(diff) == ['web-app.container']
    assert '-Environment=HL_WEB_VERSION=1\n+Environment=HL_WEB_VERSION=2' in diff['web-app.container']
    assert plan['refused'] is None
    assert any(line.startswith('unknown   stranger') for line in plan['lines'])


def test_removal_needs_managed_objects():
    # unit files of the same names that someone else wrote (no ownership label): never removed
    foreign = [dict(u, content=u['content'].replace('io.homelab.deploy.managed=true', 'com.example.owner=me'))
               for u in host_units([entry(), entry(metadata__name='keep')])]
    plan = cf.catalog_plan([entry(metadata__deployed=False), entry(metadata__name='keep')],
                           units=foreign, containers=[], controllers=[])
    assert plan['remove'] == [] and plan['services'][0]['action'] == 'absent'


def test_a_stopped_service_is_removed_too():
    """Stopped, its container is gone (Quadlet runs it with --rm) but its labelled unit is not: it is the
    collection's and is removed (before, the plan said absent and the units stayed enabled)."""
    plan = cf.catalog_plan([entry(metadata__deployed=False), entry(metadata__name='keep')],
                           units=host_units([entry(), entry(metadata__name='keep')]), containers=[], controllers=[])
    assert plan['remove'] == ['web'] and plan['services'][0]['diff'] == {'web-app.container': 'remove (data kept)'}
    assert plan['unknown'] == []


def test_removing_everything_is_refused_without_opt_in():
    items = [entry(metadata__deployed=False)]
    plan = cf.catalog_plan(items, units=host_units([entry()]), containers=managed('web'), controllers=[])
    assert plan['remove'] == ['web'] and plan['refused'].startswith('the plan removes every managed service (web)')
    assert cf.catalog_plan(items, units=host_units([entry()]), containers=managed('web'), controllers=[],
                           allow_remove_all=True)['refused'] is None


def test_secret_like_values_are_masked_in_diffs():
    old, new = entry(environment={'API_TOKEN': 'old-secret'}), entry(environment={'API_TOKEN': 'new-secret'})
    plan = cf.catalog_plan([new], units=host_units([old]), containers=managed('web'), controllers=[])
    assert plan['update'] == ['web']
    assert 'credential-like values differ (masked)' in ''.join(plan['lines'])
    assert 'secret' not in ''.join(plan['lines'])


def test_catalog_routes_and_drift_args():
    routes = cf.catalog_routes([entry(), entry(metadata__name='off', metadata__deployed=False)])
    assert [r['name'] for r in routes] == ['web']
    assert routes[0]['urls'] == ['http://web-app:8080'] and routes[0]['hostname'] == ['web.test']
    args = cf.route_args(routes)
    assert set(args[0]) <= set(cf.ROUTE_KEYS)
    assert args[0]['public'] is False, 'drift_check renders a LAN-only route with its allow-list, as it was written'
    assert 'required_middlewares' not in args[0]


@pytest.mark.parametrize('tls, expected', [
    ('none', False), (False, False),  # False: plain HTTP on purpose
    ('internal', {}), (True, {}), ('letsencrypt', {'cert_resolver': 'letsencrypt'}),
])
def test_security_tls_is_applied_to_the_route(tls, expected):
    routes = cf.catalog_routes([entry(security__tls=tls)])
    assert routes[0].get('tls') == expected
    # the drift check compares the route the deploy wrote: tls False is no tls key at all
    assert cf.route_args(routes)[0].get('tls') == (None if expected is False else expected), \
        'the drift check compares the same route'


def test_a_key_given_twice_is_refused_naming_the_file_and_the_line(tmp_path):
    text = yaml.safe_dump(entry()) + 'metadata:\n  name: web\n'
    with pytest.raises(cf.CatalogError) as err:
        cf.catalog_load(write(tmp_path, {'web': text}))
    assert 'web.yml' in str(err.value) and "duplicate key 'metadata'" in str(err.value)
    nested = 'metadata:\n  name: web\n  deployed: true\n  deployed: false\n'
    with pytest.raises(cf.CatalogError) as err:
        cf.catalog_load(write(tmp_path, {'web': nested}))
    assert "duplicate key 'deployed' (first at line 3)" in str(err.value)


def test_hostile_yaml_gets_a_bounded_error_and_no_traceback(tmp_path):
    bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    for level in 'bcdefghi':
        bomb += '%s: &%s [%s]\n' % (level, level, ','.join(['*' + chr(ord(level) - 1)] * 9))
    bomb += 'metadata: *i\n'
    with pytest.raises(cf.CatalogError) as err:
        cf.catalog_load(write(tmp_path, {'web': bomb}))
    assert len(str(err.value)) < 5000 and 'web.yml' in str(err.value)
    huge = 'metadata:\n  name: web\n  owner: %s\n' % ('9' * 5000)
    with pytest.raises(cf.CatalogError) as err:
        cf.catalog_load(write(tmp_path, {'web': huge}))
    assert 'web.yml' in str(err.value) and len(str(err.value)) < 5000


@pytest.mark.parametrize('active, load, action, diff', [
    ('active', 'loaded', 'unchanged', {}),
    ('activating', 'loaded', 'unchanged', {}),
    ('inactive', 'loaded', 'update', {'web-app.container': 'not running (inactive): started'}),
    ('failed', 'loaded', 'update', {'web-app.container': 'not running (failed): started'}),
    ('inactive', 'masked', 'unchanged', {}),  # masked by its owner: left stopped
    (None, None, 'unchanged', {}),  # no state reported: the texts decide, as before
])
def test_a_declared_service_that_does_not_run_is_started_unless_masked(active, load, action, diff):
    units = [dict(u, active_state=active, load_state=load) for u in host_units([entry()])]
    plan = cf.catalog_plan([entry()], units=units, containers=managed('web'), controllers=[])
    item = plan['services'][0]
    assert (item['action'], item['diff']) == (action, diff)
    assert (item['masked'] == ['web-app.container']) is (load == 'masked')
    assert any('web-app.container: masked on the host: left stopped' in line for line in plan['lines']) is (load == 'masked')

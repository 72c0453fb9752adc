# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The exposure policy (issue 14 part 5) as patterns, stacks and catalog entries hand it to traefik_route: a public
route is behind an authentication middleware or says auth: none with a reason, refused on the controller otherwise;
and the module's check does not depend on the caller's required_middlewares."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.deploy.plugins.filter import catalog as cf
from ansible_collections.homelab.deploy.plugins.filter import patterns as pf
from ansible_collections.homelab.deploy.plugins.filter import stacks as sf
from ansible_collections.homelab.deploy.plugins.module_utils import _traefik as traefik

ALL = ['cpu', 'memory', 'io', 'pids']


def module_policy(route):
    """What traefik_route's policy says about a plan's route (the module's defaults filled in)."""
    spec = dict({'public': True, 'middlewares': [], 'required_middlewares': ['authelia@file', 'security-headers@file'],
                 'auth': 'required', 'auth_middlewares': list(traefik.AUTH_MIDDLEWARES)}, **route)
    return traefik.check_policy(spec)


@pytest.mark.parametrize('name', pf.pattern_names())
def test_every_shipped_pattern_route_passes_the_policy(name):
    route = pf.pattern_render(pf.pattern_load(name), 'demo', controllers=ALL)['route']
    if route is not None:
        policy = module_policy(route)
        assert policy['ok'], policy
        if route['public'] and policy['auth'] == 'none':
            assert len(policy['auth_reason']) > 20


def test_a_public_pattern_route_without_auth_and_without_a_reason_is_refused():
    overrides = {'security': {'public': True}}
    with pytest.raises(AnsibleFilterError) as raised:
        pf.pattern_load('reverse-proxy-backend', overrides)
    assert 'security.auth_reason: a public route without auth_required needs auth_reason' in str(raised.value)
    route = pf.pattern_render(pf.pattern_load('reverse-proxy-backend', {'security': {
        'public': True, 'auth_reason': 'the public landing page, nothing private on it'}}), 'www', controllers=ALL)['route']
    assert (route['auth'], route['auth_reason']) == ('none', 'the public landing page, nothing private on it')
    route = pf.pattern_render(pf.pattern_load('reverse-proxy-backend', {'security': {
        'public': True, 'auth_required': True}}), 'www', controllers=ALL, auth_middleware='sso@file')['route']
    assert route['middlewares'][0] == 'sso@file' and route['auth_middlewares'] == ['sso@file']
    assert module_policy(route)['ok']


def test_a_dashboard_pattern_is_lan_only_by_default():
    route = pf.pattern_render(pf.pattern_load('reverse-proxy-backend'), 'homer', controllers=ALL)['route']
    assert route['public'] is False and 'auth' not in route


def test_a_public_stack_route_without_auth_middleware_is_refused_by_the_module_policy():
    stack = {'schema_version': 1, 'name': 'ex', 'services': {'web': {
        'image': 'x', 'route': {'hostname': 'ex.test', 'port': 80, 'middlewares': ['security-headers@file']}}}}
    route = sf.stack_plan(sf.stack_load(stack))['routes'][0]
    assert not module_policy(dict(route, required_middlewares=[]))['ok'], 'required_middlewares: [] does not open it'
    stack['services']['web']['route']['auth'] = 'none'
    with pytest.raises(AnsibleFilterError) as raised:
        sf.stack_load(stack)
    assert 'services.web.route.auth_reason: a public route with auth: none says why' in str(raised.value)
    stack['services']['web']['route']['auth_reason'] = 'a public status page'
    route = sf.stack_plan(sf.stack_load(stack))['routes'][0]
    assert (route['auth'], route['auth_reason']) == ('none', 'a public status page')
    assert module_policy(dict(route, required_middlewares=['security-headers@file']))['ok']


def test_a_catalog_entry_passes_its_auth_reason_to_the_pattern():
    entry = {'metadata': {'name': 'www', 'owner': 'me', 'deployed': True},
             'deployment': {'pattern': 'reverse-proxy-backend', 'image': 'localhost/hl-web:latest'},
             'networking': {'hostname': 'www.example.org', 'internal_port': 8080},
             'security': {'public': True, 'authentication': False, 'auth_reason': 'the public web site of the club'}}
    svars, rendered = cf.render_entry(entry, {'controllers': []})
    assert rendered['route']['auth_reason'] == 'the public web site of the club'
    del entry['security']['auth_reason']
    with pytest.raises(AnsibleFilterError) as raised:
        cf.render_entry(entry, {'controllers': []})
    assert 'security.auth_reason' in str(raised.value)


def test_the_authentication_pattern_defines_the_forward_auth_middleware_in_its_route_file():
    route = pf.pattern_render(pf.pattern_load('authentication-stack'), 'sso', controllers=ALL)['route']
    assert route['define_middlewares'] == [{'name': 'authelia', 'config': {'forwardAuth': {
        'address': 'http://sso-authelia:9091/api/authz/forward-auth', 'trustForwardHeader': True,
        'authResponseHeaders': ['Remote-User', 'Remote-Groups', 'Remote-Email', 'Remote-Name']}}}]
    spec = dict({'entrypoints': ['web'], 'urls': route['urls'], 'lan_middleware': 'lan-only@file'}, **route)
    config = traefik.render_config(spec)
    assert config['http']['middlewares']['authelia']['forwardAuth']['address'].startswith('http://sso-authelia:9091')
    assert traefik.manifest_of(config)['middlewares'] == ['authelia']
    # the plan carries it to traefik_route, and the drift check renders the same file from the catalog's route keys
    plan = pf.pattern_plan(pf.pattern_render(pf.pattern_load('authentication-stack'), 'sso', controllers=ALL))
    assert plan['routes'][0]['define_middlewares'] == route['define_middlewares']
    assert cf.route_args([route])[0]['define_middlewares'] == route['define_middlewares']

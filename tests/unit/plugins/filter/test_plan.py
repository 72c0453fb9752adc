# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the planner filters (stack_plan, pattern_plan) and for the one renderer seen through the
pattern and stack loaders: the same container renders the same, and a plan's texts are what the quadlet module
writes today, so moving a deployment to the new engine rewrites and restarts nothing."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import types

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.deploy.plugins.filter import patterns as pf
from ansible_collections.homelab.deploy.plugins.filter import stacks as sf
from ansible_collections.homelab.deploy.plugins.module_utils import _quadlet
from ansible_collections.homelab.deploy.plugins.modules import quadlet as quadlet_module

PLAN_KEYS = ['directories', 'files', 'kind', 'name', 'phases', 'rollback_order', 'routes', 'scope', 'secrets', 'unrouted',
             'verify']
UNIT_KEYS = ['container', 'image', 'job', 'name', 'pull', 'secrets', 'service', 'text', 'timeout', 'unit', 'wait']


def module_text(filename, sections, scope):
    """What QuadletManager.desired_text (the quadlet module) writes for sections with enabled=true."""
    dummy, unit_type, dummy = _quadlet.split_name(filename)

    def fail(msg, **extra):
        raise AssertionError(msg)
    stub = types.SimpleNamespace(params={'content': None, 'sections': json.loads(json.dumps(sections)), 'enabled': True},
                                 type=unit_type, scope=types.SimpleNamespace(name=scope), fail=fail)
    return quadlet_module.QuadletManager.desired_text(stub)


def names(plan):
    return [[u['name'] for u in phase] for phase in plan['phases']]


# -- stack plans ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize('stack, phases', [
    ('demo', [['demo.network', 'demo-pgdata.volume'], ['demo-cache.container', 'demo-db.container'],
              ['demo-web.container']]),
    ('immich', [['immich.network', 'immich-cache.volume', 'immich-pgdata.volume'],
                ['immich-database.container', 'immich-redis.container'],
                ['immich-server.container', 'immich-worker.container']]),
])
def test_stack_plan_phases(stack, phases):
    plan = sf.stack_plan(sf.stack_load(stack))
    assert sorted(plan) == PLAN_KEYS
    assert (plan['name'], plan['kind'], plan['scope']) == (stack, 'stack', 'system')
    assert names(plan) == phases
    assert all(sorted(u) == UNIT_KEYS for phase in plan['phases'] for u in phase)
    assert all(not u['wait'] and u['container'] is None for u in plan['phases'][0])


def test_demo_plan_in_detail():
    plan = sf.stack_plan('demo')
    db = plan['phases'][1][1]
    assert dict((k, v) for k, v in db.items() if k != 'text') == {
        'name': 'demo-db.container', 'service': 'db', 'unit': 'demo-db.service', 'container': 'demo-db',
        'image': 'localhost/postgres:17', 'pull': 'missing', 'job': False, 'wait': True, 'timeout': 120, 'secrets': ['demo-db-password']}
    assert plan['phases'][0][0]['unit'] == 'demo-network.service'
    assert plan['phases'][0][1]['unit'] == 'demo-pgdata-volume.service'
    assert plan['secrets'] == {'demo-db-password': {'length': 32}}
    assert plan['routes'] == [{'name': 'demo-web', 'hostname': ['demo.localhost'], 'middlewares': ['security-headers@file'],
                               'public': False, 'urls': ['http://demo-web:8080']}]
    assert plan['rollback_order'] == ['web', 'cache', 'db']
    assert [c['container'] for c in plan['verify']] == ['demo-db', 'demo-cache', 'demo-web']
    assert plan['verify'][2]['http'] == {'url': 'http://127.0.0.1/health', 'host': 'demo.localhost', 'status': [200],
                                         'body_regex': 'ok'}
    assert plan['verify'][0] == {'name': 'the database accepts queries', 'container': 'demo-db',
                                 'command': ['psql', '-U', 'demo', '-d', 'demo', '-tAc', 'select 1'],
                                 'stdout_regex': '^1$', 'http': None, 'retries': 5, 'delay': 2}
    web = plan['phases'][2][0]['text']
    assert 'NoNewPrivileges=true\n' in web and 'Network=hl.network\n' in web and 'Notify=healthy\n' in web
    assert web.endswith('[Install]\nWantedBy=multi-user.target\n')


def test_immich_plan_keeps_its_rollback_order_and_timeouts():
    plan = sf.stack_plan(sf.stack_load('immich'))
    assert plan['rollback_order'] == ['server', 'worker', 'redis', 'database']
    assert [(u['service'], u['timeout']) for u in plan['phases'][1]] == [('database', 120), ('redis', 60)]
    assert [r['name'] for r in plan['routes']] == ['immich-server']


def test_rootless_stack_plan_is_not_routed_and_wanted_by_default_target():
    plan = sf.stack_plan(sf.stack_load('demo'), 'user')
    assert plan['routes'] == [] and plan['unrouted'] == ['web']
    assert all(u['text'].endswith('[Install]\nWantedBy=default.target\n') for p in plan['phases'] for u in p)
    assert 'hl.network' not in plan['phases'][2][0]['text']


@pytest.mark.parametrize('wait_for, wait, timeout', [
    ({}, True, 120), ({'healthy': False}, False, 120), ({'timeout': 30}, True, 30)])
def test_stack_plan_wait_follows_wait_for(wait_for, wait, timeout):
    stack = sf.stack_load({'schema_version': 1, 'name': 's', 'services': {'a': {'image': 'x', 'wait_for': wait_for}}})
    unit = sf.stack_plan(stack)['phases'][1][0]
    assert (unit['wait'], unit['timeout']) == (wait, timeout)
    assert ('Notify=healthy' in unit['text']) is wait


@pytest.mark.parametrize('stack', ['demo', 'immich'])
@pytest.mark.parametrize('scope', ['system', 'user'])
def test_stack_plan_texts_are_what_the_quadlet_module_writes(stack, scope):
    rendered = sf.stack_render(sf.stack_load(stack), scope)
    plan = sf.stack_plan(sf.stack_load(stack), scope)
    units = dict((u['name'], u) for u in rendered['infra'] + list(rendered['services'].values()))
    for phase in plan['phases']:
        for unit in phase:
            assert unit['text'] == module_text(unit['name'], units[unit['name']]['sections'], scope)


def test_stack_plan_refuses_a_bad_scope():
    with pytest.raises(AnsibleFilterError, match='scope must be system or user'):
        sf.stack_plan(sf.stack_load('demo'), 'root')


# -- pattern plans -----------------------------------------------------------------------------------------

def render(name, instance='demo', overrides=None, **kwargs):
    kwargs.setdefault('controllers', ['cpu', 'memory'])
    return pf.pattern_render(pf.pattern_load(name, overrides), instance, **kwargs)


@pytest.mark.parametrize('name', pf.pattern_names())
@pytest.mark.parametrize('scope', ['system', 'user'])
def test_pattern_plan_texts_are_what_the_quadlet_module_writes(name, scope):
    rendered = render(name)
    plan = pf.pattern_plan(rendered, scope)
    units = dict((u['name'], u) for u in rendered['units'])
    assert sorted(u['name'] for p in plan['phases'] for u in p) == sorted(units)
    for phase in plan['phases']:
        for unit in phase:
            assert unit['text'] == module_text(unit['name'], units[unit['name']]['sections'], scope)


@pytest.mark.parametrize('name', pf.pattern_names())
def test_pattern_plan_layers_follow_depends_on(name):
    rendered = render(name)
    plan = pf.pattern_plan(rendered)
    assert sorted(plan) == PLAN_KEYS and plan['kind'] == 'service' and plan['name'] == 'demo'
    assert all(u['container'] is None for u in plan['phases'][0])
    layer_of = dict((u['service'], index) for index, p in enumerate(plan['phases']) for u in p if u['container'])
    for service, svc in rendered['services'].items():
        assert all(layer_of[dep] < layer_of[service] for dep in svc.get('depends_on', []))
        assert svc.get('depends_on') or layer_of[service] == 1
    assert sorted(plan['rollback_order']) == sorted(rendered['services'])
    assert plan['secrets'] == dict((s['name'], {'length': s['length']}) for s in rendered['secrets'].values())


def test_web_app_pattern_plan_in_detail():
    plan = pf.pattern_plan(render('web-app-with-database', 'wiki', hostname='wiki.example.org'))
    assert names(plan) == [['wiki-backend.network', 'wiki-db-data.volume', 'wiki-app-data.volume'],
                           ['wiki-db.container'], ['wiki-app.container']]
    db = plan['phases'][1][0]
    assert dict((k, v) for k, v in db.items() if k != 'text') == {
        'name': 'wiki-db.container', 'service': 'db', 'unit': 'wiki-db.service', 'container': 'wiki-db',
        'image': 'docker.io/library/postgres:17', 'pull': 'missing', 'job': False, 'wait': True, 'timeout': 300, 'secrets': ['wiki-db-password']}
    assert plan['rollback_order'] == ['app', 'db']
    assert plan['routes'] == [{'name': 'wiki', 'hostname': ['wiki.example.org'], 'public': True,
                               'urls': ['http://wiki-app:3000'], 'middlewares': ['authelia@file', 'security-headers@file'],
                               'required_middlewares': ['authelia@file', 'security-headers@file'],
                               'auth_middlewares': ['authelia@file']}]
    assert plan['verify'] == [] and plan['unrouted'] == []
    assert plan['secrets'] == {'wiki-db-password': {'length': 32}}


@pytest.mark.parametrize('route, scope, routes, unrouted', [
    (True, 'system', ['wiki'], []), (True, 'user', [], ['wiki']), (False, 'system', [], []), (False, 'user', [], [])])
def test_pattern_plan_routes(route, scope, routes, unrouted):
    rendered = render('web-app-with-database', 'wiki')
    if not route:
        rendered['route'] = None
    plan = pf.pattern_plan(rendered, scope)
    assert [r['name'] for r in plan['routes']] == routes and plan['unrouted'] == unrouted


@pytest.mark.parametrize('rendered', [None, {'units': []}, 'wiki'])
def test_pattern_plan_wants_a_rendered_pattern(rendered):
    with pytest.raises(AnsibleFilterError, match='pattern_plan expects'):
        pf.pattern_plan(rendered)


def test_photo_stack_pattern_has_several_layers():
    plan = pf.pattern_plan(render('photo-management-stack'))
    assert len(plan['phases']) >= 3
    assert plan['rollback_order'][-1] in [u['service'] for u in plan['phases'][1]]


# -- one renderer: the same container from a pattern and from a stack ----------------------------------------

HEALTHCHECKS = [
    pytest.param({'cmd': 'valkey-cli -h 127.0.0.1 ping', 'interval': '10s', 'timeout': '3s', 'retries': 3},
                 {'cmd': 'valkey-cli -h 127.0.0.1 ping', 'interval': '10s', 'timeout': '3s', 'retries': 3}, id='cmd'),
    pytest.param({'cmd': 'none'}, 'none', id='none'),
    pytest.param(None, None, id='image-own'),
]
ENVIRONMENT = {'MODE': 'cache', 'PASSWORD': 'p$w%d', 'GREETING': 'hello world'}


def same_in_both(tmp_path, pattern_health, stack_health):
    with open(os.path.join(pf.PATTERNS_DIR, 'cache-service.yml')) as handle:
        data = yaml.safe_load(handle)
    svc = data['services']['valkey']
    svc.update(image='localhost/valkey:8', environment=dict(ENVIRONMENT), read_only=False, tmpfs=[])
    svc['command'] = 'valkey-server --appendonly no'
    svc.pop('healthcheck')
    if pattern_health is not None:
        svc['healthcheck'] = pattern_health
    path = tmp_path / 'cache-service.yml'
    path.write_text(yaml.safe_dump(data))
    pattern = render(str(path), 'st')
    from_pattern = [u for u in pattern['units'] if u['type'] == 'container'][0]
    service = {'image': 'localhost/valkey:8', 'environment': dict(ENVIRONMENT), 'command': 'valkey-server --appendonly no',
               'volumes': [{'volume': 'data', 'target': '/data'}]}
    if stack_health is not None:
        service['healthcheck'] = stack_health
    stack = sf.stack_load({'schema_version': 1, 'name': 'st', 'volumes': {'data': {}}, 'services': {'valkey': service}})
    return from_pattern, sf.stack_render(stack)['services']['valkey']


@pytest.mark.parametrize('pattern_health, stack_health', HEALTHCHECKS)
def test_the_same_container_renders_the_same_from_a_pattern_and_a_stack(tmp_path, pattern_health, stack_health):
    from_pattern, from_stack = same_in_both(tmp_path, pattern_health, stack_health)
    pattern_keys, stack_keys = from_pattern['sections']['Container'], from_stack['sections']['Container']
    # a stack adds the service name as network alias on its own network; everything else is the same set of keys
    assert sorted(set(stack_keys) - {'NetworkAlias'}) == sorted(pattern_keys)
    assert stack_keys['NetworkAlias'] == ['valkey']
    for key in pattern_keys:
        if key.startswith('Health') or key in ('Image', 'ContainerName', 'Environment', 'Exec', 'NoNewPrivileges', 'Notify'):
            assert pattern_keys[key] == stack_keys[key], key
    assert pattern_keys['NoNewPrivileges'] is True
    assert 'PASSWORD=p$$w%%d' in pattern_keys['Environment']
    assert '"GREETING=hello world"' in pattern_keys['Environment']
    assert from_pattern['sections']['Service']['Restart'] == from_stack['sections']['Service']['Restart'] == 'always'


@pytest.mark.parametrize('pattern_health, stack_health', HEALTHCHECKS)
def test_health_semantics_are_the_same_for_patterns_and_stacks(tmp_path, pattern_health, stack_health):
    from_pattern, from_stack = same_in_both(tmp_path, pattern_health, stack_health)
    for unit in (from_pattern, from_stack):
        container = unit['sections']['Container']
        if stack_health == 'none':
            assert container['HealthCmd'] == 'none' and 'Notify' not in container
        elif stack_health is None:
            assert 'HealthCmd' not in container and container['Notify'] == 'healthy'
        else:
            assert container['HealthCmd'] == 'valkey-cli -h 127.0.0.1 ping' and container['Notify'] == 'healthy'


def test_a_stack_service_from_a_pattern_without_healthcheck_disables_it_like_the_pattern():
    stack = sf.stack_load({'schema_version': 1, 'name': 's', 'services': {'app': {'pattern': 'reverse-proxy-backend'}}})
    container = sf.stack_render(stack)['services']['app']['sections']['Container']
    pattern = [u for u in render('reverse-proxy-backend')['units'] if u['type'] == 'container'][0]
    assert container['HealthCmd'] == pattern['sections']['Container']['HealthCmd'] == 'none'
    assert 'Notify' not in container


def test_filter_registries():
    assert 'stack_plan' in sf.FilterModule().filters() and 'pattern_plan' in pf.FilterModule().filters()


@pytest.mark.parametrize('pull, unit_pull', [(None, 'missing'), ('always', 'missing'), ('newer', 'missing'),
                                             ('never', 'never')])
def test_a_stack_service_pull_policy_goes_to_the_deploy_and_the_unit_only_pulls_a_missing_image(pull, unit_pull):
    web = {'image': 'registry.test/app:1'}
    if pull:
        web['pull'] = pull
    plan = sf.stack_plan(sf.stack_load({'schema_version': 1, 'name': 'pl', 'services': {'web': web}}))
    unit = plan['phases'][1][0]
    assert unit['pull'] == (pull or 'missing')
    assert 'Pull=%s\n' % unit_pull in unit['text']


def test_registry_credentials_go_to_the_unit_as_podman_run_takes_them():
    web = {'image': 'registry.test/app:1', 'auth_file': '/etc/containers/auth-100%.json', 'privileged': True}
    plan = sf.stack_plan(sf.stack_load({'schema_version': 1, 'name': 'pl', 'services': {'web': web}}),
                         allow_privileged=True)
    text = plan['phases'][1][0]['text']
    assert 'PodmanArgs=--privileged\nPodmanArgs=--authfile=/etc/containers/auth-100%%.json\n' in text
    pattern = pf.pattern_load('web-app-with-database', {'services': {'app': {'auth_file': '/root/auth.json'}}})
    units = pf.pattern_render(pattern, 'wiki', hostname='wiki.example.org')['units']
    assert [u['service'] for u in units if 'PodmanArgs=--authfile=/root/auth.json' in u['text']] == ['app']


@pytest.mark.parametrize('path', ['auth.json', '/etc/my auth.json', '/etc/"a".json', '/etc/a\\b', '/etc/a\n', ''])
def test_registry_credentials_are_one_absolute_path(path):
    with pytest.raises(AnsibleFilterError, match=r'services\.web\.auth_file'):
        sf.stack_load({'schema_version': 1, 'name': 'pl', 'services': {'web': {'image': 'x', 'auth_file': path}}})


def test_a_pattern_service_pull_wins_over_the_deployment_policy():
    pattern = pf.pattern_load('web-app-with-database', {'services': {'db': {'pull': 'never'}}})
    plan = pf.pattern_plan(pf.pattern_render(pattern, 'wiki', hostname='wiki.example.org', pull='always'))
    pulls = dict((u['service'], u['pull']) for phase in plan['phases'] for u in phase if u['container'])
    assert pulls == {'db': 'never', 'app': 'always'}


SHARED = 'https://homelab.deploy/schemas/container.schema.json#/$defs/'


def test_pattern_and_stack_services_share_one_definition_of_the_container_keys():
    # duration, bind and route_tls are parts of other keys; configs are a stack service's own (not yet a pattern's)
    shared = [key for key in json.load(open(pf.CONTAINER_SCHEMA_PATH))['$defs']
              if key not in ('duration', 'bind', 'configs', 'route_tls')]
    for path in (pf.SCHEMA_PATH, sf.STACK_SCHEMA_PATH):
        service = json.load(open(path))['$defs']['service']['properties']
        assert dict((k, service[k]) for k in shared) == dict((k, {'$ref': SHARED + k}) for k in shared), path


def test_a_stack_service_takes_the_container_keys_of_a_pattern_service():
    web = {'image': 'localhost/hl-web:latest', 'user': '1000:1000', 'read_only': True, 'tmpfs': ['/tmp'],
           'devices': ['/dev/dri'], 'drop_capabilities': ['ALL'], 'add_capabilities': ['CAP_NET_BIND_SERVICE'],
           'stop_timeout': 20, 'entrypoint': ['/bin/sh', '-c'], 'command': 'exec hl-web serve'}
    plan = sf.stack_plan(sf.stack_load({'schema_version': 1, 'name': 'ck', 'services': {'web': web}}))
    text = plan['phases'][1][0]['text']
    for line in ('User=1000:1000', 'ReadOnly=true', 'Tmpfs=/tmp', 'AddDevice=/dev/dri', 'DropCapability=ALL',
                 'AddCapability=CAP_NET_BIND_SERVICE', 'StopTimeout=20', 'Entrypoint=["/bin/sh", "-c"]',
                 'NoNewPrivileges=true'):
        assert line + '\n' in text, line


def test_a_bad_shared_container_key_names_the_stack_key():
    with pytest.raises(AnsibleFilterError) as raised:
        sf.stack_load({'schema_version': 1, 'name': 'ck', 'services': {'web': {'image': 'x', 'restart': 'sometimes'}}})
    assert 'services.web.restart' in str(raised.value)


def test_a_nul_in_a_stack_value_is_refused_on_the_controller():
    stack = sf.stack_load({'schema_version': 1, 'name': 'nul', 'services': {'web': {
        'image': 'x', 'environment': {'A': 'ok\x00[Service]\nExecStartPre=/bin/sh'}}}})
    with pytest.raises(AnsibleFilterError) as raised:
        sf.stack_plan(stack)
    assert 'newline' in str(raised.value) or 'control character' in str(raised.value)
    stack = sf.stack_load({'schema_version': 1, 'name': 'nul', 'services': {'web': {
        'image': 'x', 'environment': {'A': 'ok\x00ExecStartPre=/bin/sh'}}}})
    with pytest.raises(AnsibleFilterError) as raised:
        sf.stack_plan(stack)
    assert "control character '\\x00'" in str(raised.value)


def test_env_files_are_written_as_environment_files():
    plan = sf.stack_plan(sf.stack_load({'schema_version': 1, 'name': 'ef', 'services': {'web': {
        'image': 'x', 'env_files': ['/etc/ef/web.env', '/srv/ef/50%.env']}}}))
    text = plan['phases'][1][0]['text']
    assert 'EnvironmentFile=/etc/ef/web.env\n' in text and 'EnvironmentFile=/srv/ef/50%%.env\n' in text
    with pytest.raises(AnsibleFilterError) as raised:
        sf.stack_load({'schema_version': 1, 'name': 'ef', 'services': {'web': {'image': 'x', 'env_files': ['web.env']}}})
    assert 'services.web.env_files' in str(raised.value)

# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the stack filters: loading and validation errors, phases, rendering, rollback planning.

tests/integration/targets/stack_immich runs the same stacks on the real node.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import re

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.deploy.plugins.filter import stacks
from ansible_collections.homelab.deploy.plugins.filter.stacks import StackError

BASE = {
    'schema_version': 1, 'name': 'app',
    'secrets': {'db-password': {}},
    'volumes': {'data': {}},
    'services': {
        'db': {'image': 'localhost/postgres:17', 'secrets': [{'secret': 'db-password', 'env': 'POSTGRES_PASSWORD'}],
               'volumes': [{'volume': 'data', 'target': '/var/lib/postgresql/data'}]},
        'cache': {'image': 'localhost/valkey:8'},
        'web': {'image': 'localhost/hl-web:latest', 'depends_on': ['db', 'cache'],
                'route': {'hostname': 'app.localhost', 'port': 8080, 'public': False}},
        'worker': {'image': 'localhost/hl-web:latest', 'depends_on': ['db']},
    },
    'verify': [{'name': 'db answers', 'service': 'db', 'command': ['pg_isready']},
               {'name': 'through traefik', 'http': {'url': 'http://127.0.0.1/', 'host': 'app.localhost'}}],
}


def with_changes(**services):
    data = copy.deepcopy(BASE)
    for name, svc in services.items():
        if svc is None:
            data['services'].pop(name)
        else:
            data['services'][name] = dict(data['services'].get(name, {}), **svc)
    return data


# -- loading and validation ---------------------------------------------------------------------------

def test_the_shipped_immich_stack_loads_in_two_phases():
    stack = stacks.stack_load('immich')
    assert stack['source'] == 'stacks/immich.yml'
    assert stacks.stack_phases(stack) == [['database', 'redis'], ['server', 'worker']]


def test_a_loaded_stack_loads_again_with_its_source():
    stack = stacks.stack_load(stacks.stack_load('immich'))
    assert stack['source'] == 'stacks/immich.yml'


@pytest.mark.parametrize('data, fragment', [
    (with_changes(db={'depends_on': ['web']}), 'services.db.depends_on: dependency cycle: db -> web -> db'),
    (with_changes(db={'depends_on': ['worker']}), 'dependency cycle: db -> worker -> db'),
    (with_changes(cache={'depends_on': ['cache']}), "services.cache.depends_on: 'cache' depends on itself"),
    (with_changes(web={'depends_on': ['db', 'queue']}), "services.web.depends_on: unknown service 'queue' (services: cache, db, web, worker)"),
    (with_changes(db={'secrets': [{'secret': 'other', 'env': 'X'}]}), "services.db.secrets[0].secret: secret 'other' is not declared"),
    (with_changes(db={'volumes': [{'volume': 'nope', 'target': '/x'}]}), "services.db.volumes[0].volume: volume 'nope' is not declared"),
    (with_changes(db={'image': None}), 'services.db.image'),
    (with_changes(db={'wait_for': {'timeout': 0}}), 'services.db.wait_for.timeout: 0 is less than the minimum of 1'),
    (with_changes(Bad_Name={'image': 'x'}), "'Bad_Name' does not match"),
    (dict(BASE, rollback_order=['web', 'db']), 'rollback_order: must list every service exactly once (missing: cache, worker; unknown: none)'),
    (dict(BASE, verify=[{'name': 'x', 'command': ['true']}]), 'verify[0]: a command check needs the service'),
    (dict(BASE, verify=[{'name': 'x', 'service': 'nope', 'command': ['true']}]), "verify[0].service: unknown service 'nope'"),
    (dict(BASE, extra=1), "Additional properties are not allowed ('extra' was unexpected)"),
])
def test_bad_stacks_are_refused_with_source_key_and_reason(data, fragment):
    with pytest.raises(StackError) as err:
        stacks.stack_load(data, source_name='stack_definition')
    assert 'stack_definition: ' in str(err.value) and fragment in str(err.value), str(err.value)


def test_a_file_names_itself_in_errors_and_duplicate_keys_are_refused(tmp_path):
    path = tmp_path / 'dup.yml'
    path.write_text('schema_version: 1\nname: dup\nservices:\n  web: {image: a}\n  web: {image: b}\n')
    with pytest.raises(StackError) as err:
        stacks.stack_load(str(path))
    assert str(path) in str(err.value) and "duplicate key 'web'" in str(err.value)


def test_overrides_are_merged_and_named_in_errors():
    stack = stacks.stack_load('immich', {'services': {'server': {'image': 'localhost/hl-web:broken'}}})
    assert stack['services']['server']['image'] == 'localhost/hl-web:broken'
    assert stack['services']['server']['depends_on'] == ['database', 'redis']
    with pytest.raises(StackError) as err:
        stacks.stack_load('immich', {'services': {'redis': {'depends_on': ['worker']}}})
    assert 'stacks/immich.yml with overrides: services.' in str(err.value) and 'dependency cycle' in str(err.value)


def test_unknown_stack_names_list_the_known_ones():
    with pytest.raises(AnsibleFilterError, match=r'known: (\w+, )*immich'):
        stacks.stack_load('nosuchstack')


def test_a_service_from_a_pattern_takes_its_keys_and_keeps_its_own():
    data = with_changes(cache={'image': 'localhost/valkey:8', 'pattern': 'cache-service'})
    cache = stacks.stack_load(data)['services']['cache']
    assert cache['image'] == 'localhost/valkey:8'
    assert cache['healthcheck']['cmd'] == 'valkey-cli -h 127.0.0.1 ping'
    assert cache['command'].startswith('valkey-server')


def test_a_missing_pattern_service_is_named():
    data = with_changes(cache={'pattern': 'cache-service', 'pattern_service': 'nope'})
    with pytest.raises(StackError, match="services.cache.pattern_service: pattern cache-service has no service 'nope'"):
        stacks.stack_load(data)


# -- phases -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize('services, phases', [
    ({'a': {}}, [['a']]),
    ({'a': {}, 'b': {}, 'c': {}}, [['a', 'b', 'c']]),
    ({'a': {'depends_on': ['b']}, 'b': {'depends_on': ['c']}, 'c': {}}, [['c'], ['b'], ['a']]),
    ({'app': {'depends_on': ['db', 'cache']}, 'db': {}, 'cache': {}, 'worker': {'depends_on': ['db']},
      'proxy': {'depends_on': ['app']}}, [['cache', 'db'], ['app', 'worker'], ['proxy']]),
    ({'a': {'depends_on': ['b', 'b']}, 'b': {}}, [['b'], ['a']]),
])
def test_phases_are_topological_layers(services, phases):
    assert stacks.stack_phases({'name': 's', 'services': services}) == phases


@pytest.mark.parametrize('services, fragment', [
    ({'a': {'depends_on': ['b']}, 'b': {'depends_on': ['c']}, 'c': {'depends_on': ['a']}}, 'dependency cycle: a -> b -> c -> a'),
    ({'a': {'depends_on': ['x']}}, "unknown service 'x'"),
    ([{'name': 'a'}, {'name': 'a'}], "services[1]: duplicate service name 'a'"),
])
def test_phases_refuse_cycles_unknowns_and_duplicates(services, fragment):
    with pytest.raises(StackError) as err:
        stacks.stack_phases({'name': 's', 'services': services})
    assert fragment in str(err.value)


# -- rendering -------------------------------------------------------------------------------------------

def test_units_order_dependencies_and_pin_images():
    digest = 'sha256:' + 'a' * 64
    rendered = stacks.stack_render(stacks.stack_load(BASE), images={'localhost/hl-web:latest': digest})
    web = rendered['services']['web']
    assert web['sections']['Unit']['Requires'] == ['app-cache.service', 'app-db.service']
    assert web['sections']['Unit']['After'] == ['app-cache.service', 'app-db.service']
    assert web['sections']['Container']['Notify'] == 'healthy'
    assert web['sections']['Container']['Image'] == 'localhost/hl-web@' + digest
    assert web['sections']['Container']['Network'] == ['app.network', 'hl.network']
    assert rendered['services']['db']['sections']['Container']['Image'] == 'localhost/postgres:17'
    assert rendered['services']['db']['sections']['Container']['Secret'] == ['app-db-password,type=env,target=POSTGRES_PASSWORD']
    assert 'Requires' not in rendered['services']['db']['sections']['Unit']
    assert [u['name'] for u in rendered['infra']] == ['app.network', 'app-data.volume']
    assert rendered['routes'] == [{'name': 'app-web', 'service': 'web', 'hostname': ['app.localhost'], 'path_prefix': None,
                                   'middlewares': [], 'public': False, 'urls': ['http://app-web:8080']}]
    assert rendered['rollback_order'] == ['web', 'worker', 'cache', 'db']
    assert [[u['service'] for u in phase] for phase in rendered['phases']] == [['cache', 'db'], ['web', 'worker']]


def test_rootless_stacks_are_not_routed_and_not_on_the_proxy_network():
    rendered = stacks.stack_render(stacks.stack_load(BASE), 'user')
    assert rendered['routes'] == [] and rendered['unrouted'] == ['web']
    assert rendered['services']['web']['sections']['Container']['Network'] == ['app.network']


@pytest.mark.parametrize('health, wait, notify, health_cmd', [
    (None, {}, True, None), ({'cmd': 'true'}, {}, True, 'true'), ('none', {}, False, 'none'),
    ({'cmd': 'none'}, {}, False, 'none'), (None, {'healthy': False}, False, None),
    ({'cmd': 'true'}, {'healthy': False}, False, 'true')])
def test_notify_healthy_follows_the_healthcheck_and_wait(health, wait, notify, health_cmd):
    svc = {'image': 'x', 'wait_for': wait}
    if health is not None:
        svc['healthcheck'] = health
    rendered = stacks.stack_render(stacks.stack_load({'schema_version': 1, 'name': 's', 'services': {'a': svc}}))
    container = rendered['services']['a']['sections']['Container']
    assert ('Notify' in container) is notify
    # 'none' disables the image's own healthcheck too (HealthCmd=none), as in patterns
    assert container.get('HealthCmd') == health_cmd


def test_stack_containers_are_hardened_like_pattern_containers():
    rendered = stacks.stack_render(stacks.stack_load(BASE))
    for unit in rendered['services'].values():
        assert unit['sections']['Container']['NoNewPrivileges'] is True
        assert 'NoNewPrivileges=true\n' in unit['text']
        assert unit['sections']['Service']['Restart'] == 'always'


@pytest.mark.parametrize('image, digest, pinned', [
    ('localhost/hl-web:latest', 'sha256:ab', 'localhost/hl-web@sha256:ab'),
    ('registry:5000/app', 'sha256:ab', 'registry:5000/app@sha256:ab'),
    ('registry:5000/app:1.2', 'sha256:ab', 'registry:5000/app@sha256:ab'),
    ('app@sha256:cd', 'sha256:ab', 'app@sha256:cd'),
    ('app:1', None, 'app:1'),
])
def test_pin(image, digest, pinned):
    assert stacks.stack_pin(image, digest) == pinned


# -- verdicts and rollback plans --------------------------------------------------------------------------

def test_phase_verdict_times_and_first_failure():
    results = [
        {'name': 'app-db.service', 'healthy': True, 'time_to_healthy': 3.0},
        {'name': 'app-web.service', 'healthy': False, 'status': 'unhealthy', 'reason': 'healthcheck reports unhealthy',
         'container': {'health_log': [{'exit_code': 1, 'output': 'wget: 404'}]}},
    ]
    verdict = stacks.stack_phase_verdict(results, 'app', 1.5)
    assert verdict['times'] == {'db': 4.5}
    assert verdict['failure'] == {'service': 'web', 'check': 'health (unhealthy)', 'cause': 'healthcheck reports unhealthy',
                                  'evidence': 'healthcheck exit 1: wget: 404'}
    assert stacks.stack_phase_verdict(results[:1], 'app')['failure'] is None


def test_check_failure_names_the_first_failed_check():
    ok = {'failed': False, 'item': {'name': 'a', 'service': 'db', 'command': ['true']}, 'rc': 0}
    bad_cmd = {'failed': True, 'item': {'name': 'q', 'service': 'db', 'command': ['psql'], 'stdout_regex': '^1$'},
               'rc': 0, 'stdout': '0', 'stderr': ''}
    bad_http = {'failed': True, 'status': 502, 'msg': 'Status code was 502',
                'item': {'name': 'h', 'http': {'url': 'http://x/', 'status': [200], 'body_regex': None}}}
    assert stacks.stack_check_failure([ok], 'app') is None
    first = stacks.stack_check_failure([ok, bad_cmd, bad_http], 'app')
    assert first['service'] == 'db' and first['check'] == 'verify: q' and "stdout does not match '^1$'" in first['cause']
    http = stacks.stack_check_failure([bad_http], 'app')
    assert http['service'] == 'app' and http['cause'].startswith('HTTP 502 from http://x/ (expected 200')


def test_rollback_plan_restores_previous_files_and_removes_new_ones():
    rendered = stacks.stack_render(stacks.stack_load(BASE))
    files = {'/u/app-db.container': 'old db', '/u/app-web.container': None, '/u/app.network': 'old net',
             '/u/app-data.volume': None, '/d/app-web.yml': 'old route'}
    plan = stacks.stack_rollback_plan(rendered, files, {'services': ['db', 'web'], 'routes': ['app-web'],
                                                        'infra': ['app.network', 'app-data.volume']}, '/u', '/d')
    assert plan == {'restore': ['db'], 'remove': ['web'], 'routes_restore': ['app-web'], 'routes_withdraw': [],
                    'infra_restore': ['app.network'], 'infra_remove': ['app-data.volume']}
    assert stacks.stack_rollback_plan(rendered, files, {}, '/u', '/d')['restore'] == []


@pytest.mark.parametrize('tls, expected', [
    (True, {}),
    ({'resolver': 'letsencrypt'}, {'cert_resolver': 'letsencrypt'}),
    ({'resolver': 'pebble', 'redirect': False}, {'cert_resolver': 'pebble', 'redirect': False}),
    (False, False),  # plain HTTP on purpose: no default certificate
])
def test_a_route_with_tls_is_served_over_https(tls, expected):
    data = with_changes(web={'route': {'hostname': 'app.example.org', 'port': 8080, 'public': False, 'tls': tls}})
    route = stacks.stack_render(stacks.stack_load(data))['routes'][0]
    assert route.get('tls') == expected
    assert 'entrypoints' not in (route.get('tls') or {}), 'the entry points come from the Traefik settings'
    planned = stacks.stack_plan(stacks.stack_load(data))['routes'][0]
    assert planned.get('tls') == expected, 'the plan the deploy action runs keeps it'


@pytest.mark.parametrize('tls', [{'resolver': 'le', 'entrypoints': ['x']}, 'yes', {'resolver': 'a b'}])
def test_a_bad_route_tls_is_refused_naming_the_key(tls):
    data = with_changes(web={'route': {'hostname': 'app.example.org', 'port': 8080, 'tls': tls}})
    with pytest.raises(Exception) as err:
        stacks.stack_load(data, source_name='stack_definition')
    assert 'services.web.route.tls' in str(err.value), str(err.value)


@pytest.mark.parametrize('command, words', [
    ('valkey-server --port 6380', ['valkey-server', '--port', '6380']),
    (['--config.file=/etc/prometheus/prometheus.yml', '--web.listen-address=:9090'],
     ['--config.file=/etc/prometheus/prometheus.yml', '--web.listen-address=:9090']),
    (['sh', '-c', 'echo "$HOME" at 100% && exit 0'], ['sh', '-c', 'echo "$HOME" at 100% && exit 0']),
    (["it's", 'back\\slash', 'a "quoted" word'], ["it's", 'back\\slash', 'a "quoted" word']),
])
def test_a_command_string_is_split_and_a_list_reaches_the_container_word_for_word(command, words):
    from ansible_collections.homelab.deploy.plugins.module_utils import _drift, _unitfile
    data = {'schema_version': 1, 'name': 's', 'services': {'a': {'image': 'x', 'command': command}}}
    text = stacks.stack_render(stacks.stack_load(data))['services']['a']['text']
    spec = _unitfile.container_spec(_unitfile.parse_unit(text, filename='s-a.container'))
    assert [_drift.expanded(word) for word in spec['command']] == words


@pytest.mark.parametrize('command, reason', [
    ([], 'is not valid'), (['ok', 'two\nlines'], 'does not match'), ('two\nlines', 'is not valid'),
    (3, 'is not valid'),
    # podman's Quadlet generator drops an empty word and every word after it (measured on the node)
    ('valkey-server --save ""', 'empty argument'), (['valkey-server', '--save', ''], 'empty argument')])
def test_a_bad_command_is_refused_naming_the_key(command, reason):
    data = {'schema_version': 1, 'name': 's', 'services': {'a': {'image': 'x', 'command': command}}}
    with pytest.raises(StackError, match='services.a.command') as raised:
        stacks.stack_load(data)
    assert re.search(reason, str(raised.value)), str(raised.value)


def test_configuration_files_of_a_user_scope_stack_go_to_the_users_directory():
    data = {'schema_version': 1, 'name': 's', 'services': {'a': {
        'image': 'x', 'configs': [{'target': '/etc/app.conf', 'content': 'x = 1\n'}]}}}
    system = stacks.stack_plan(stacks.stack_load(data))
    assert [f['path'] for f in system['files']] == ['/etc/homelab-deploy/stacks/s/a/etc/app.conf']
    user = stacks.stack_plan(stacks.stack_load(data), 'user', home='/home/hl')
    assert [f['path'] for f in user['files']] == ['/home/hl/.local/share/homelab-deploy/stacks/s/a/etc/app.conf']
    unit = [u for phase in user['phases'] for u in phase if u['name'] == 's-a.container'][0]
    assert 'Volume=/home/hl/.local/share/homelab-deploy/stacks/s/a/etc/app.conf:/etc/app.conf:ro' in unit['text']
    explicit = stacks.stack_plan(stacks.stack_load(data), 'user', config_dir='/srv/conf')
    assert [f['path'] for f in explicit['files']] == ['/srv/conf/s/a/etc/app.conf']
    with pytest.raises(StackError, match="config_dir: a user-scope stack needs the user's home"):
        stacks.stack_plan(stacks.stack_load(data), 'user')

# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the pattern filters: every shipped pattern validates and renders units Quadlet can read,
bad patterns and overrides fail with the file, the key path and the reason, and the recommendation picks
the pattern a person would."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import os
import shutil

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.deploy.plugins.filter import patterns as pf
from ansible_collections.homelab.deploy.plugins.module_utils import _unitfile as uf

PATTERNS = pf.pattern_names()
ALL_CONTROLLERS = ['cpu', 'memory', 'io', 'pids']
ISSUE_PATTERNS = ['media-server-stack', 'web-app-with-database', 'password-manager', 'monitoring-exporter',
                  'reverse-proxy-backend', 'database-service', 'cache-service', 'authentication-stack',
                  'photo-management-stack', 'document-management', 'home-automation-stack']


def render(name, instance='demo', overrides=None, **kwargs):
    kwargs.setdefault('controllers', ALL_CONTROLLERS)
    return pf.pattern_render(pf.pattern_load(name, overrides), instance, **kwargs)


def problems_of(excinfo):
    return excinfo.value.problems


def copy_pattern(tmp_path, name, mutate, as_name=None):
    with open(os.path.join(pf.PATTERNS_DIR, name + '.yml')) as handle:
        data = yaml.safe_load(handle)
    mutate(data)
    path = tmp_path / ((as_name or name) + '.yml')
    path.write_text(yaml.safe_dump(data))
    return str(path)


# -- the catalogue -------------------------------------------------------------------------------------

def test_the_issue_s_eleven_patterns_are_shipped():
    assert sorted(ISSUE_PATTERNS) == PATTERNS


@pytest.mark.parametrize('name', PATTERNS)
def test_pattern_validates(name):
    pattern = pf.pattern_load(name)
    assert pattern['name'] == name
    assert pattern['risk'] in pf.RISK_LEVELS
    assert pattern['post_deployment'] and pattern['common_issues']


@pytest.mark.parametrize('name', PATTERNS)
def test_every_service_declares_what_the_issue_asks_for(name):
    pattern = pf.pattern_load(name)
    for svc in pattern['services'].values():
        assert svc['image'] and svc['networks']
        assert set(svc['resources']['memory']) == {'max', 'high'}
        assert set(svc['resources']['cpu']) == {'nice', 'weight'}
        for vol in svc.get('volumes', []):
            assert vol['mode'] in ('ro', 'rw')
    assert set(pattern['security']) >= {'public', 'auth_required', 'middlewares'}
    assert 'health' in pattern['monitoring']


@pytest.mark.parametrize('name', PATTERNS)
def test_rendered_units_read_back_as_quadlet_units(name):
    rendered = render(name)
    types = [u['type'] for u in rendered['units']]
    assert types == sorted(types, key=['network', 'volume', 'container'].index)
    for unit in rendered['units']:
        parsed = uf.parse_unit(unit['text'], filename=unit['name'])
        assert parsed.sections()[0] == 'Unit'
        assert not pf.PLACEHOLDER_RE.search(unit['text']), unit['text']
        if unit['type'] == 'container':
            spec = uf.container_spec(parsed)
            assert spec['name'] == unit['container'] == 'demo-' + unit['service']
            assert spec['labels']['io.homelab.deploy.instance'] == 'demo'
            assert spec['memory']['MemoryMax'] and spec['cpu']['CPUWeight']
            assert spec['pull'] == 'missing'
            assert all(s['name'].startswith('demo-') for s in spec['secrets'])


@pytest.mark.parametrize('name', PATTERNS)
def test_rendered_units_reference_only_what_exists(name):
    rendered = render(name)
    names = set(u['name'] for u in rendered['units']) | {'hl.network'}
    for unit in rendered['units']:
        container = unit['sections'].get('Container', {})
        for net in container.get('Network', []):
            assert net in names
        for vol in container.get('Volume', []):
            source = vol.split(':')[0]
            assert source.startswith('/') or source in names
        for dep in unit['sections']['Unit'].get('Requires', []):
            assert dep.replace('.service', '.container') in names


@pytest.mark.parametrize('name', PATTERNS)
def test_requirements_are_complete(name):
    req = render(name)['requirements']
    assert req['memory_high_bytes'] <= req['memory_max_bytes']
    assert req['memory_high_bytes'] > 0
    assert req['controllers'] == ['cpu', 'memory']
    assert len(req['unit_names']) == len(set(req['unit_names']))
    assert all(n.startswith('demo-') for n in req['container_names'] + req['network_names'] + req['volume_names'])


# -- bad overrides -------------------------------------------------------------------------------------

BAD_OVERRIDES = [
    pytest.param({'services': {'app': {'resources': {'memory': {'max': 'lots'}}}}},
                 'deploy_overrides', 'services.app.resources.memory.max', "'lots' does not match", id='size-format'),
    pytest.param({'servics': {}}, 'deploy_overrides', '(top level)', "'servics' was unexpected", id='unknown-top-key'),
    pytest.param({'services': {'app': {'imagee': 'x'}}}, 'deploy_overrides', 'services.app',
                 "'imagee' was unexpected", id='unknown-service-key'),
    pytest.param({'routing': {'port': 70000}}, 'deploy_overrides', 'routing.port', '70000 is greater than the maximum',
                 id='port-range'),
    pytest.param({'risk': 'extreme'}, 'deploy_overrides', 'risk', "'extreme' is not one of", id='risk-enum'),
    pytest.param({'services': {'app': {'volumes': [{'storage': 'app-data', 'target': '/x'}]}}}, 'deploy_overrides',
                 'services.app.volumes[0]', "'mode' is a required property", id='list-items-are-complete'),
    pytest.param({'services': {'app': {'volumes': [{'storage': 'app-data', 'target': '/x', 'mode': 'rwx'}]}}},
                 'deploy_overrides', 'services.app.volumes[0].mode', "'rwx' is not one of", id='volume-mode'),
    pytest.param({'services': {'app': {'environment': {'BAD-NAME': 'x'}}}}, 'deploy_overrides',
                 'services.app.environment', "'BAD-NAME' does not match", id='env-name'),
    pytest.param({'variables': {'db_name': ['x']}}, 'deploy_overrides', 'variables.db_name',
                 "is not of type 'string', 'integer', 'boolean'", id='variable-type'),
    pytest.param({'services': {'app': {'networks': ['nope']}}}, 'web-app-with-database.yml with deploy_overrides',
                 'services.app.networks[0]', "network 'nope' is not in networks_required", id='unknown-network'),
    pytest.param({'services': {'db': {'enabled': False}}}, 'web-app-with-database.yml with deploy_overrides',
                 'services.app.depends_on[0]', "depends on 'db', which is disabled", id='disabled-dependency'),
    pytest.param({'services': {'app': {'resources': {'memory': {'high': '2G'}}}}},
                 'web-app-with-database.yml with deploy_overrides', 'services.app.resources.memory.high',
                 'high (2G) is above max (768M)', id='high-above-max'),
    pytest.param({'services': {'app': {'command': 'serve --name {nope}'}}},
                 'web-app-with-database.yml with deploy_overrides', 'services.app.command',
                 'unknown placeholder {nope}', id='unknown-placeholder'),
    pytest.param({'services': {'app': {'networks': ['backend']}}}, 'web-app-with-database.yml with deploy_overrides',
                 'services.app.networks', "the routed service must join the 'proxy' network", id='routed-off-proxy'),
    pytest.param({'services': {'db': {'secrets': [{'secret': 'db-pass', 'env': 'X'}]}}},
                 'web-app-with-database.yml with deploy_overrides', 'services.db.secrets[0].secret',
                 "secret 'db-pass' is not declared", id='unknown-secret'),
    pytest.param({'routing': {'service': 'nope'}}, 'web-app-with-database.yml with deploy_overrides',
                 'routing.service', "no enabled service named 'nope'", id='routing-service'),
]


@pytest.mark.parametrize('overrides, source, path, reason', BAD_OVERRIDES)
def test_bad_override_names_source_path_and_reason(overrides, source, path, reason):
    with pytest.raises(pf.PatternError) as excinfo:
        pf.pattern_load('web-app-with-database', overrides, overrides_source='deploy_overrides')
    message = str(excinfo.value)
    assert excinfo.value.source.endswith(source)
    assert any(p == ('' if path == '(top level)' else path) and reason in r for p, r in problems_of(excinfo)), message
    assert '%s: %s: ' % (source, path) in message


def test_every_problem_is_reported_at_once():
    overrides = {'risk': 'extreme', 'routing': {'port': 0}, 'services': {'app': {'user': 'a b'}}}
    with pytest.raises(pf.PatternError) as excinfo:
        pf.pattern_load('web-app-with-database', overrides)
    assert [p for p, r in problems_of(excinfo)] == ['risk', 'routing.port', 'services.app.user']
    assert 'invalid pattern data (3 problems)' in str(excinfo.value)


@pytest.mark.parametrize('overrides', [['x'], 'image: x', 3])
def test_overrides_must_be_a_mapping(overrides):
    with pytest.raises(pf.PatternError, match='overrides are a mapping'):
        pf.pattern_load('cache-service', overrides)


# -- bad pattern files ---------------------------------------------------------------------------------

def test_file_named_differently_from_its_pattern(tmp_path):
    path = copy_pattern(tmp_path, 'cache-service', lambda d: None, as_name='my-cache')
    with pytest.raises(pf.PatternError) as excinfo:
        pf.pattern_load(path)
    assert problems_of(excinfo) == [('name', "is 'cache-service' but the file is named my-cache.yml")]
    assert str(excinfo.value).splitlines()[1].startswith(path + ': name: ')


def test_dependency_cycle_is_found(tmp_path):
    def mutate(data):
        data['services']['db']['depends_on'] = ['app']
    with pytest.raises(pf.PatternError) as excinfo:
        pf.pattern_load(copy_pattern(tmp_path, 'web-app-with-database', mutate))
    assert ('services', 'depends_on forms a cycle: app -> db -> app') in problems_of(excinfo)


def test_missing_required_sections(tmp_path):
    def mutate(data):
        del data['common_issues']
        data['post_deployment'] = []
    with pytest.raises(pf.PatternError) as excinfo:
        pf.pattern_load(copy_pattern(tmp_path, 'reverse-proxy-backend', mutate))
    assert problems_of(excinfo) == [('', "'common_issues' is a required property"),
                                    ('post_deployment', '[] should be non-empty')]


def test_duplicate_host_ports(tmp_path):
    def mutate(data):
        data['services']['homeassistant']['publish'] = [{'host_port': 1883, 'container_port': 8123}]
    with pytest.raises(pf.PatternError) as excinfo:
        pf.pattern_load(copy_pattern(tmp_path, 'home-automation-stack', mutate))
    assert ('services.mqtt.publish[0].host_port', 'host port 1883/tcp is also published by homeassistant') in \
        problems_of(excinfo)


def test_invalid_yaml_names_the_file(tmp_path):
    path = tmp_path / 'broken.yml'
    path.write_text('name: [unclosed\n')
    with pytest.raises(AnsibleFilterError, match=r'broken\.yml is not valid YAML'):
        pf.pattern_load(str(path))


def test_unknown_pattern_lists_the_known_ones():
    with pytest.raises(AnsibleFilterError, match="no pattern 'wordpress'.*known: authentication-stack, cache-service"):
        pf.pattern_load('wordpress')


def test_patterns_dir_is_honoured(tmp_path):
    shutil.copy(os.path.join(pf.PATTERNS_DIR, 'cache-service.yml'), str(tmp_path))
    assert pf.pattern_names(str(tmp_path)) == ['cache-service']
    assert pf.pattern_catalog(str(tmp_path)) == [{'name': 'cache-service', 'title': 'Valkey/Redis cache',
                                                  'risk': 'low', 'examples': ['Valkey', 'Redis', 'KeyDB'],
                                                  'routed': False}]


# -- merging -------------------------------------------------------------------------------------------

def test_overrides_merge_mappings_and_replace_lists():
    overrides = {'services': {'app': {'image': 'localhost/hl-web:latest', 'networks': ['proxy', 'backend'],
                                      'environment': {'HL_WEB_MESSAGE': 'hello wiki'}}},
                 'variables': {'db_name': 'wiki'}}
    pattern = pf.pattern_load('web-app-with-database', overrides)
    app = pattern['services']['app']
    assert app['image'] == 'localhost/hl-web:latest'
    assert app['networks'] == ['proxy', 'backend']
    assert app['environment']['HL_WEB_MESSAGE'] == 'hello wiki'
    assert app['environment']['DB_TYPE'] == 'postgres'
    assert pattern['variables'] == dict(db_name='wiki', db_user='app', app_port=3000, app_health_path='/healthz',
                                        app_data_dir='/wiki/data/content')
    original = pf.pattern_load('web-app-with-database')
    assert original['services']['app']['image'] == 'ghcr.io/requarks/wiki:2'


def test_merge_does_not_share_lists_with_the_override():
    override = {'services': {'app': {'networks': ['proxy']}}}
    merged = pf.merge({'services': {'app': {'networks': ['a']}}}, override)
    merged['services']['app']['networks'].append('b')
    assert override['services']['app']['networks'] == ['proxy']


def test_disabling_an_optional_service_removes_its_unit():
    rendered = render('photo-management-stack', overrides={'services': {'ml': {'enabled': False}}})
    assert 'demo-ml.container' not in [u['name'] for u in rendered['units']]
    assert 'demo-ml.network' in [u['name'] for u in rendered['units']]
    assert 'demo-model-cache.volume' not in [u['name'] for u in rendered['units']]


def test_routing_null_removes_the_route():
    rendered = render('reverse-proxy-backend', overrides={'routing': None})
    assert rendered['route'] is None
    assert rendered['requirements']['hostnames'] == []


# -- rendering -----------------------------------------------------------------------------------------

def test_web_app_units_in_detail():
    rendered = render('web-app-with-database', 'wiki', hostname='wiki.example.org', proxy_network='hl.network')
    units = dict((u['name'], u) for u in rendered['units'])
    assert list(units) == ['wiki-backend.network', 'wiki-db-data.volume', 'wiki-app-data.volume',
                           'wiki-db.container', 'wiki-app.container']
    assert units['wiki-backend.network']['sections']['Network']['Internal'] is True
    app = units['wiki-app.container']['sections']
    assert app['Unit']['Requires'] == ['wiki-db.service'] and app['Unit']['After'] == ['wiki-db.service']
    assert app['Container']['Network'] == ['wiki-backend.network', 'hl.network']
    assert app['Container']['Secret'] == ['wiki-db-password,type=env,target=DB_PASS']
    assert 'DB_HOST=wiki-db' in app['Container']['Environment']
    assert app['Container']['Notify'] == 'healthy'
    db = units['wiki-db.container']['sections']
    assert db['Container']['Volume'] == ['wiki-db-data.volume:/var/lib/postgresql/data:rw,Z']
    assert db['Container']['Secret'] == ['wiki-db-password,type=mount,target=/run/secrets/db-password']
    assert db['Container']['HealthCmd'] == 'pg_isready -q -h 127.0.0.1 -U app -d app'
    assert db['Service'] == {'Restart': 'always', 'TimeoutStartSec': 300, 'MemoryMax': '1G', 'MemoryHigh': '768M',
                             'CPUWeight': 100, 'Nice': 0}
    assert units['wiki-db.container']['secrets'] == ['wiki-db-password']
    assert rendered['secrets']['db-password']['name'] == 'wiki-db-password'
    assert rendered['route'] == {'name': 'wiki', 'hostname': ['wiki.example.org'], 'public': True,
                                 'urls': ['http://wiki-app:3000'],
                                 'middlewares': ['authelia@file', 'security-headers@file'],
                                 'required_middlewares': ['authelia@file', 'security-headers@file'],
                                 'auth_middlewares': ['authelia@file']}
    assert rendered['health'] == {'container': 'wiki-app', 'path': '/healthz', 'expect_status': [200]}


def test_route_without_auth_and_lan_only():
    rendered = render('monitoring-exporter', 'node', auth_middleware='sso@file')
    assert rendered['route']['middlewares'] == ['security-headers@file']
    assert rendered['route']['public'] is False
    assert rendered['route']['required_middlewares'] == []
    assert rendered['metrics'] == {'targets': ['node-exporter:9100'], 'path': '/metrics'}


def test_auth_middleware_goes_first_once():
    overrides = {'security': {'middlewares': ['security-headers@file', 'sso@file']}}
    rendered = render('document-management', overrides=overrides, auth_middleware='sso@file')
    assert rendered['route']['middlewares'] == ['sso@file', 'security-headers@file']


def test_bind_storage_and_host_paths():
    rendered = render('document-management', 'docs', overrides={'variables': {'consume_path': '/data/scans'}})
    assert rendered['directories'] == [
        {'path': '/data/scans', 'owner': 1000, 'group': 1000, 'mode': '0770', 'storage': 'consume'},
        {'path': '/srv/paperless/export', 'owner': 1000, 'group': 1000, 'mode': '0750', 'storage': 'export'}]
    auth = render('authentication-stack', 'sso', storage_root='/var/lib/hl/', bind_roots=['/var/lib/hl'])
    assert auth['directories'][0]['path'] == '/var/lib/hl/sso/config'
    with pytest.raises(pf.PatternError) as raised:
        render('authentication-stack', 'sso', storage_root='/var/lib/hl/')
    assert 'services.authelia.volumes[0] (storage config): /var/lib/hl/sso/config is outside the bind roots' in str(raised.value)
    with pytest.raises(pf.PatternError) as raised:
        render('document-management', 'docs', overrides={'variables': {'consume_path': '/etc/cron.d'}})
    assert '/etc/cron.d is a system path' in str(raised.value)
    media = render('media-server-stack', 'tv')
    assert media['requirements']['host_paths'] == ['/srv/media']
    vol = [u for u in media['units'] if u['type'] == 'container'][0]['sections']['Container']['Volume']
    assert vol == ['tv-config.volume:/config:rw,Z', 'tv-cache.volume:/cache:rw,Z', '/srv/media:/media:ro,z']


def test_selinux_none_and_chown():
    overrides = {'services': {'exporter': {'volumes': [
        {'storage': 'host-proc', 'target': '/host/proc', 'mode': 'ro', 'selinux': 'none'},
        {'storage': 'host-sys', 'target': '/host/sys', 'mode': 'ro', 'chown': True}]}}}
    rendered = render('monitoring-exporter', 'node', overrides=overrides)
    assert rendered['units'][0]['sections']['Container']['Volume'] == ['/proc:/host/proc:ro', '/sys:/host/sys:ro,Z,U']


def test_a_host_storage_mounted_read_write_is_refused():
    overrides = {'services': {'exporter': {'volumes': [
        {'storage': 'host-proc', 'target': '/host/proc', 'mode': 'ro'},
        {'storage': 'host-sys', 'target': '/host/sys', 'mode': 'rw', 'chown': True}]}}}
    with pytest.raises(pf.PatternError) as raised:
        render('monitoring-exporter', 'node', overrides=overrides)
    assert 'services.exporter.volumes[1] (storage host-sys): host storage host-sys (/sys) is mounted read-only only' \
        in str(raised.value)


def test_relative_bind_path_is_refused():
    with pytest.raises(pf.PatternError, match='storage_requirements.consume.path: must be an absolute path'):
        render('document-management', overrides={'variables': {'consume_path': 'scans'}})


def test_healthcheck_from_the_image_and_none():
    photo = dict((u['service'], u) for u in render('photo-management-stack')['units'] if u['type'] == 'container')
    assert 'HealthCmd' not in photo['server']['sections']['Container']
    assert photo['server']['sections']['Container']['Notify'] == 'healthy'
    assert photo['server']['sections']['Container']['HealthStartPeriod'] == '120s'
    backend = render('reverse-proxy-backend')['units'][0]
    assert backend['sections']['Container']['HealthCmd'] == 'none'
    assert 'Notify' not in backend['sections']['Container'] and backend['healthcheck'] is False


def test_published_ports_and_requirements():
    rendered = render('home-automation-stack', 'home', overrides={'variables': {'mqtt_bind': '192.168.1.5'}})
    mqtt = [u for u in rendered['units'] if u.get('service') == 'mqtt'][0]
    assert mqtt['sections']['Container']['PublishPort'] == ['192.168.1.5:1883:1883']
    assert rendered['requirements']['host_ports'] == [{'ip': '192.168.1.5', 'port': 1883, 'protocol': 'tcp'}]


@pytest.mark.parametrize('pub, expected', [
    ({'host_port': 53, 'container_port': 5353, 'protocol': 'udp'}, '127.0.0.1:53:5353/udp'),
    ({'host_ip': '::1', 'host_port': 80, 'container_port': 8080}, '[::1]:80:8080'),
    ({'host_ip': '0.0.0.0', 'host_port': 80, 'container_port': 8080}, '0.0.0.0:80:8080'),
])
def test_publish_values(pub, expected):
    assert pf._publish_value(pub) == expected


@pytest.mark.parametrize('word, expected', [
    ('A=b', 'A=b'), ('A=b c', '"A=b c"'), ('A="x"', '"A=\\"x\\""'), ('A=c:\\d', '"A=c:\\\\d"'),
])
def test_quote_word_reads_back(word, expected):
    assert pf.quote_word(word) == expected
    assert uf.split_words(expected) == [word]


def test_environment_with_spaces_survives_quadlet_word_splitting():
    overrides = {'services': {'app': {'environment': {'HL_WEB_MESSAGE': 'hello "wiki" users'}}}}
    app = [u for u in render('web-app-with-database', overrides=overrides)['units'] if u.get('service') == 'app'][0]
    spec = uf.container_spec(uf.parse_unit(app['text']))
    assert spec['env']['HL_WEB_MESSAGE'] == 'hello "wiki" users'


# -- limits --------------------------------------------------------------------------------------------

def test_best_effort_drops_only_unenforceable_limits():
    rendered = render('cache-service', limits='best_effort', controllers=['cpu'])
    service = rendered['units'][-1]['sections']['Service']
    assert 'MemoryMax' not in service and 'MemoryHigh' not in service
    assert service['CPUWeight'] == 100 and service['Nice'] == 0
    assert rendered['limits'] == {'mode': 'best_effort', 'controllers': ['cpu'], 'dropped': [
        {'service': 'valkey', 'key': 'MemoryMax', 'value': '256M', 'controller': 'memory'},
        {'service': 'valkey', 'key': 'MemoryHigh', 'value': '224M', 'controller': 'memory'}]}


def test_best_effort_without_any_controller_keeps_nice():
    rendered = render('web-app-with-database', limits='best_effort', controllers=[])
    for unit in rendered['units']:
        if unit['type'] == 'container':
            assert unit['sections']['Service'] == {'Restart': 'always', 'TimeoutStartSec': 300, 'Nice': 0}
    assert len(rendered['limits']['dropped']) == 6


def test_enforce_refuses_missing_controllers():
    with pytest.raises(AnsibleFilterError, match=r'controller\(s\) cpu, memory are not available'):
        render('cache-service', limits='enforce', controllers=[])


def test_unknown_controllers_mean_assume_available():
    rendered = render('cache-service', limits='best_effort', controllers=None)
    assert rendered['units'][-1]['sections']['Service']['MemoryMax'] == '256M'
    assert rendered['limits']['dropped'] == []


@pytest.mark.parametrize('instance', ['Wiki', '1wiki', 'wiki_1', 'wiki--a', '', None, 'x' * 41])
def test_bad_instance_names(instance):
    with pytest.raises(AnsibleFilterError, match='instance'):
        render('cache-service', instance)


def test_bad_limits_mode():
    with pytest.raises(AnsibleFilterError, match="limits must be 'enforce' or 'best_effort'"):
        render('cache-service', limits='off')


def test_start_order_follows_dependencies():
    services = {'app': {'depends_on': ['db', 'cache']}, 'db': {}, 'cache': {}, 'worker': {'depends_on': ['app']}}
    assert pf.start_order(services) == ['cache', 'db', 'app', 'worker']


def test_render_does_not_change_the_loaded_pattern():
    pattern = pf.pattern_load('web-app-with-database')
    before = copy.deepcopy(pattern)
    pf.pattern_render(pattern, 'wiki')
    assert pattern == before


# -- recommendation ------------------------------------------------------------------------------------

RECOMMENDATIONS = [
    ({'image': 'docker.io/vaultwarden/server:1.32.7', 'ports': [80]}, 'password-manager'),
    ({'image': 'ghcr.io/immich-app/immich-server:v1.123.0'}, 'photo-management-stack'),
    ({'image': 'jellyfin/jellyfin', 'media': True}, 'media-server-stack'),
    ({'image': 'ghcr.io/paperless-ngx/paperless-ngx:2.13'}, 'document-management'),
    ({'image': 'ghcr.io/home-assistant/home-assistant:stable', 'mqtt': True}, 'home-automation-stack'),
    ({'image': 'docker.io/library/redis:7'}, 'cache-service'),
    ({'image': 'postgres:17', 'ports': [5432]}, 'database-service'),
    ({'image': 'quay.io/prometheus/node-exporter:v1.8.2', 'metrics': True}, 'monitoring-exporter'),
    ({'image': 'ghcr.io/authelia/authelia:4.38'}, 'authentication-stack'),
    ({'image': 'docker.io/traefik/whoami', 'stateful': False}, 'reverse-proxy-backend'),
    ({'image': 'lscr.io/linuxserver/bookstack', 'needs_database': True}, 'web-app-with-database'),
    ({'web': True, 'needs_database': True, 'stateful': True}, 'web-app-with-database'),
    ({'web': True, 'stateful': False, 'ports': [80]}, 'reverse-proxy-backend'),
    ({'auth': True, 'sso': True, 'web': True}, 'authentication-stack'),
    ({'traits': ['metrics', 'exporter']}, 'monitoring-exporter'),
]


@pytest.mark.parametrize('chars, expected', RECOMMENDATIONS)
def test_recommendation(chars, expected):
    rec = pf.pattern_recommend(chars)
    assert rec['pattern'] == expected, rec
    assert 0 < rec['confidence'] <= 1
    assert rec['reason'].startswith(expected + ' (risk ')
    assert expected not in [a['pattern'] for a in rec['alternatives']]


def test_an_image_match_is_more_confident_than_traits_alone():
    by_image = pf.pattern_recommend({'image': 'vaultwarden/server'})
    by_traits = pf.pattern_recommend({'passwords': True, 'web': True})
    assert by_traits['pattern'] == 'password-manager'
    assert by_image['confidence'] > by_traits['confidence']
    assert "image vaultwarden/server matches 'vaultwarden'" in by_image['reason']


def test_a_trait_the_service_does_not_need_counts_against_a_pattern():
    with_db = pf.pattern_recommend({'image': 'nextcloud:30'})
    without_db = pf.pattern_recommend({'image': 'nextcloud:30', 'needs_database': False})
    assert with_db['pattern'] == without_db['pattern'] == 'web-app-with-database'
    assert without_db['score'] < with_db['score']
    assert 'brings database you said it does not need' in without_db['reason']


@pytest.mark.parametrize('image, expected', [
    ('registry.redis.example:5000/team/app:redis', None),
    ('localhost/redis', 'redis'),
    ('docker.io/library/redis:7@sha256:0123', 'redis'),
    ('ghcr.io/immich-app/immich-server:v1', 'immich'),
])
def test_image_match_ignores_registry_and_tag(image, expected):
    assert pf._image_match(image, ['redis', 'immich']) == expected


def test_traits_alone_pick_the_most_specific_pattern():
    rec = pf.pattern_recommend({'web': True, 'needs_database': True, 'stateful': True})
    assert rec['pattern'] == 'web-app-with-database'
    assert rec['score'] > rec['alternatives'][0]['score']


def test_nothing_matches():
    rec = pf.pattern_recommend({'image': 'example.org/acme/widget:1', 'needs_database': False, 'web': False})
    assert rec['pattern'] is None and rec['confidence'] == 0.0
    assert 'no pattern matches' in rec['reason']


@pytest.mark.parametrize('chars, message', [
    ({}, 'non-empty mapping'), ('vaultwarden', 'non-empty mapping'),
    ({'image': 'x', 'colour': 'blue'}, r'unknown characteristic\(s\) colour'),
])
def test_recommendation_input_errors(chars, message):
    with pytest.raises(AnsibleFilterError, match=message):
        pf.pattern_recommend(chars)


def test_filter_registry():
    assert sorted(pf.FilterModule().filters()) == ['deploy_dirs', 'pattern_catalog', 'pattern_load', 'pattern_plan',
                                                   'pattern_recommend', 'pattern_render']


@pytest.mark.parametrize('tls, route_tls, url', [
    (None, None, 'http://docs.example.org'),
    (False, False, 'http://docs.example.org'),  # False: plain HTTP on purpose, no default certificate
    (True, {}, 'https://docs.example.org'),
    ({'resolver': 'letsencrypt'}, {'cert_resolver': 'letsencrypt'}, 'https://docs.example.org'),
])
def test_security_tls_serves_the_route_over_https_and_the_app_url_follows_it(tls, route_tls, url):
    overrides = {} if tls is None else {'security': {'tls': tls}}
    rendered = render('document-management', 'docs', hostname='docs.example.org', overrides=overrides)
    assert rendered['route'].get('tls') == route_tls
    web = [u for u in rendered['units'] if u['name'] == 'docs-webserver.container'][0]
    assert 'PAPERLESS_URL=%s' % url in web['text'], 'the app is told the address it is served at'
    assert rendered['post_deployment'][0]['url'] == url + '/', 'and so is the guide'
    assert pf.pattern_plan(rendered)['routes'][0].get('tls') == route_tls, 'the plan the deploy action runs keeps it'


def test_a_bad_security_tls_is_refused_naming_the_key():
    with pytest.raises(AnsibleFilterError) as err:
        pf.pattern_load('document-management', {'security': {'tls': {'resolver': 'le', 'entrypoints': ['x']}}})
    assert 'security.tls' in str(err.value)


@pytest.mark.parametrize('instance', ['wiki\n', 'wiki\x00', 'Wiki'])
def test_an_instance_name_with_a_trailing_newline_or_control_character_is_refused(instance):
    with pytest.raises(AnsibleFilterError, match='instance'):
        render('reverse-proxy-backend', instance)

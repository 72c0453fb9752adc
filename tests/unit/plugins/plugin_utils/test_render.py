# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the one renderer: container model -> Quadlet sections and text, hardening defaults, health
semantics, escaping, naming, the text the quadlet module writes, and the plan building blocks."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import types

import pytest

from ansible_collections.homelab.deploy.plugins.module_utils import _quadlet
from ansible_collections.homelab.deploy.plugins.module_utils import _unitfile as uf
from ansible_collections.homelab.deploy.plugins.modules import quadlet as quadlet_module
from ansible_collections.homelab.deploy.plugins.plugin_utils import _render as r


def model(**changes):
    base = {'name': 'app-web', 'description': 'app: web', 'image': 'localhost/hl-web:latest'}
    base.update(changes)
    return base


def container(**changes):
    return r.container_sections(model(**changes))['Container']


def module_text(filename, sections, scope):
    """What QuadletManager.desired_text (the quadlet module) writes for sections with enabled=true."""
    dummy, unit_type, dummy = _quadlet.split_name(filename)

    def fail(msg, **extra):
        raise AssertionError(msg)
    stub = types.SimpleNamespace(params={'content': None, 'sections': json.loads(json.dumps(sections)), 'enabled': True},
                                 type=unit_type, scope=types.SimpleNamespace(name=scope), fail=fail)
    return quadlet_module.QuadletManager.desired_text(stub)


# -- escaping ------------------------------------------------------------------------------------------

@pytest.mark.parametrize('value, expected', [
    ('plain', 'plain'), ('p$ss', 'p$$ss'), ('100%', '100%%'), ('${HOME}', '$${HOME}'), ('%n %h', '%%n %%h'),
    ('$$', '$$$$'), ('a%$b', 'a%%$$b'), (5, '5'),
])
def test_escape_doubles_percent_and_dollar(value, expected):
    assert r.escape(value) == expected


@pytest.mark.parametrize('value, expected', [('100% $HOME', '100%% $HOME'), ('plain', 'plain')])
def test_description_escapes_only_specifiers(value, expected):
    assert r.escape_specifiers(value) == expected
    assert r.container_sections(model(description=value))['Unit']['Description'] == expected


# On podman 5.4.2 / systemd 257 (the test node), quadlet -dryrun copies every one of these values into ExecStart=
# verbatim (`--env ESC=a$$HOME%%nb`, `--label ...`, `--health-cmd "..."`, `-v /srv/a%%b:/data`, the Exec= words);
# systemd then turns %n into the unit name, %h into the home directory, ${X} and a bare-word $X into the
# variable, and %% / $$ into a literal % / $. So the renderer doubles them, and systemd hands podman the value.
ESCAPED_TEXT = '''[Unit]
Description=app: 100%% $HOME

[Container]
Image=localhost/hl-web:latest
ContainerName=app-web
Volume=/srv/a%%b:/data:rw
Environment="MSG=hello $$USER, 100%%"
Environment=PASSWORD=p$$w%%d
Environment=URL=postgres://u:$${PASS}@db/x
Exec=sh -c "echo $$HOME %%n"
NoNewPrivileges=true
Label=io.homelab.deploy.note=$$x%%y
HealthCmd=test -n "$$HOME" || exit 1
Notify=healthy

[Service]
Restart=always
'''


def test_values_that_reach_execstart_are_escaped_exactly():
    sections = r.container_sections(model(
        description='app: 100% $HOME', volumes=[{'source': '/srv/a%b', 'target': '/data', 'options': ['rw']}],
        environment={'PASSWORD': 'p$w%d', 'MSG': 'hello $USER, 100%', 'URL': 'postgres://u:${PASS}@db/x'},
        command='sh -c "echo $HOME %n"', labels=[('io.homelab.deploy.note', '$x%y')],
        healthcheck={'cmd': 'test -n "$HOME" || exit 1'}))
    assert r.unit_text(sections) == ESCAPED_TEXT


def test_escaped_environment_reads_back_as_systemd_sees_it():
    text = r.unit_text(r.container_sections(model(environment={'A': 'x "y" $z 5%'})))
    spec = uf.container_spec(uf.parse_unit(text, 'app-web.container'))
    assert spec['env'] == {'A': 'x "y" $$z 5%%'}  # the generator passes this on; systemd makes it x "y" $z 5%


@pytest.mark.parametrize('word, expected', [
    ('A=b', 'A=b'), ('A=b c', '"A=b c"'), ('A="x"', '"A=\\"x\\""'), ('A=c:\\d', '"A=c:\\\\d"'),
])
def test_quote_word_reads_back(word, expected):
    assert r.quote_word(word) == expected
    assert uf.split_words(expected) == [word]


# -- health ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize('health, wait, keys', [
    (None, True, {'Notify': 'healthy'}),
    (None, False, {}),
    ({}, True, {'Notify': 'healthy'}),
    ({'cmd': None, 'start_period': '120s'}, True, {'HealthStartPeriod': '120s', 'Notify': 'healthy'}),
    ('none', True, {'HealthCmd': 'none'}),
    ('none', False, {'HealthCmd': 'none'}),
    ({'cmd': 'none', 'interval': '5s'}, True, {'HealthCmd': 'none'}),
    ({'cmd': 'true'}, True, {'HealthCmd': 'true', 'Notify': 'healthy'}),
    ({'cmd': 'true'}, False, {'HealthCmd': 'true'}),
    ({'cmd': 'pg_isready', 'interval': '2s', 'timeout': '3s', 'retries': 3, 'start_period': '10s'}, True,
     {'HealthCmd': 'pg_isready', 'HealthInterval': '2s', 'HealthTimeout': '3s', 'HealthRetries': 3,
      'HealthStartPeriod': '10s', 'Notify': 'healthy'}),
])
def test_health_semantics(health, wait, keys):
    section = container(healthcheck=health, wait=wait)
    assert dict((k, v) for k, v in section.items() if k.startswith('Health') or k == 'Notify') == keys
    assert list(k for k in section if k.startswith('Health') or k == 'Notify') == list(keys)


@pytest.mark.parametrize('health, mode', [
    (None, 'image'), ({}, 'image'), ({'cmd': None}, 'image'), ('none', 'none'), ({'cmd': 'none'}, 'none'),
    ({'cmd': 'x'}, 'cmd')])
def test_health_mode(health, mode):
    assert r.health_mode(health) == mode


@pytest.mark.parametrize('health', ['off', 3, ['x']])
def test_bad_healthcheck_is_refused(health):
    with pytest.raises(r.RenderError, match='healthcheck must be'):
        container(healthcheck=health)


# -- hardening, keys and order ------------------------------------------------------------------------------

@pytest.mark.parametrize('changes, key, value', [
    ({}, 'NoNewPrivileges', True),
    ({'no_new_privileges': False}, 'NoNewPrivileges', False),
    ({'read_only': True}, 'ReadOnly', True),
    ({'read_only': False}, 'ReadOnly', None),
    ({'user': '1000:1000'}, 'User', '1000:1000'),
    ({'devices': ['/dev/dri']}, 'AddDevice', ['/dev/dri']),
    ({'tmpfs': ['/tmp']}, 'Tmpfs', ['/tmp']),
    ({'drop_capabilities': ['ALL']}, 'DropCapability', ['ALL']),
    ({'add_capabilities': ['CAP_NET_BIND_SERVICE']}, 'AddCapability', ['CAP_NET_BIND_SERVICE']),
    ({'stop_timeout': 60}, 'StopTimeout', 60),
    ({'pull': 'never'}, 'Pull', 'never'),
    ({'network_aliases': ['web']}, 'NetworkAlias', ['web']),
    ({'secrets': [{'name': 'app-pw', 'env': 'PW'}, {'name': 'app-pw', 'file': '/run/secrets/pw'}]}, 'Secret',
     ['app-pw,type=env,target=PW', 'app-pw,type=mount,target=/run/secrets/pw']),
    ({'publish': [{'host_port': 53, 'container_port': 5353, 'protocol': 'udp'}, '8080:80']}, 'PublishPort',
     ['127.0.0.1:53:5353/udp', '8080:80']),
    ({'volumes': ['app-data.volume:/data:rw', {'source': '/srv', 'target': '/m', 'options': ['ro', 'z']}]}, 'Volume',
     ['app-data.volume:/data:rw', '/srv:/m:ro,z']),
    ({'environment': {'B': True, 'A': 5}}, 'Environment', ['A=5', 'B=true']),
    ({'labels': {'k': 'v w'}}, 'Label', ['"k=v w"']),
])
def test_container_keys(changes, key, value):
    assert container(**changes).get(key) == value


def test_key_order_is_fixed():
    section = container(pull='never', networks=['a.network'], network_aliases=['web'], volumes=['v:/d'],
                        environment={'A': 1}, secrets=[{'name': 's', 'env': 'S'}], publish=['1:2'], command='run',
                        user='u', devices=['/dev/x'], tmpfs=['/t'], read_only=True, drop_capabilities=['ALL'],
                        add_capabilities=['CAP_CHOWN'], stop_timeout=5, labels=[('k', 'v')], healthcheck={'cmd': 'c'})
    assert list(section) == ['Image', 'ContainerName', 'Pull', 'Network', 'NetworkAlias', 'Volume', 'Environment',
                             'Secret', 'PublishPort', 'Exec', 'User', 'AddDevice', 'Tmpfs', 'ReadOnly', 'NoNewPrivileges',
                             'DropCapability', 'AddCapability', 'StopTimeout', 'Label', 'HealthCmd', 'Notify']


@pytest.mark.parametrize('changes, service', [
    ({}, {'Restart': 'always'}),
    ({'restart': 'on-failure', 'start_timeout': 90}, {'Restart': 'on-failure', 'TimeoutStartSec': 90}),
    ({'start_timeout': 300, 'limits': {'MemoryMax': '1G', 'Nice': 0}},
     {'Restart': 'always', 'TimeoutStartSec': 300, 'MemoryMax': '1G', 'Nice': 0}),
])
def test_service_section(changes, service):
    assert r.container_sections(model(**changes))['Service'] == service


def test_depends_on_requires_and_orders_after_the_services():
    unit = r.container_sections(model(depends_on=['app-db', 'app-cache']))['Unit']
    assert unit == {'Description': 'app: web', 'Requires': ['app-db.service', 'app-cache.service'],
                    'After': ['app-db.service', 'app-cache.service']}


@pytest.mark.parametrize('changes, message', [
    ({'image': None}, 'needs image'), ({'name': ''}, 'needs name'), ({'colour': 'red'}, r'unknown container model key\(s\): colour'),
    ({'command': 'a\nb'}, 'cannot render unit'),
])
def test_bad_models_are_refused(changes, message):
    with pytest.raises(r.RenderError, match=message):
        r.container_unit(model(**changes))


def test_container_unit_names():
    unit = r.container_unit(model())
    assert (unit['name'], unit['type'], unit['container'], unit['unit']) == (
        'app-web.container', 'container', 'app-web', 'app-web.service')
    assert unit['text'] == r.unit_text(unit['sections']) and unit['notify_healthy'] is True


@pytest.mark.parametrize('unit, name, service, text', [
    (r.network_unit('app', 'app: stack network', [('io.homelab.deploy.stack', 'app')]), 'app.network',
     'app-network.service',
     '[Unit]\nDescription=app: stack network\n\n[Network]\nNetworkName=app\nLabel=io.homelab.deploy.stack=app\n'),
    (r.network_unit('w-backend', 'w: 50% internal', {'k': 'v'}, internal=True), 'w-backend.network',
     'w-backend-network.service',
     '[Unit]\nDescription=w: 50%% internal\n\n[Network]\nNetworkName=w-backend\nLabel=k=v\nInternal=true\n'),
    (r.volume_unit('app-data', 'app: data'), 'app-data.volume', 'app-data-volume.service',
     '[Unit]\nDescription=app: data\n\n[Volume]\nVolumeName=app-data\n'),
])
def test_network_and_volume_units(unit, name, service, text):
    assert (unit['name'], unit['unit'], unit['text']) == (name, service, text)


# -- what the quadlet module writes ------------------------------------------------------------------------

@pytest.mark.parametrize('scope, target', [('system', 'multi-user.target'), ('user', 'default.target')])
@pytest.mark.parametrize('unit', [
    r.container_unit(model(environment={'A': 'b c'}, healthcheck='none', depends_on=['app-db'])),
    r.container_unit(model(limits={'MemoryMax': '1G', 'CPUWeight': 100, 'Nice': 0}, start_timeout=300)),
    r.network_unit('app', 'app: network', internal=True),
    r.volume_unit('app-data', 'app: data', [('k', 'v')]),
], ids=['container', 'limits', 'network', 'volume'])
def test_managed_text_is_what_the_quadlet_module_writes(unit, scope, target):
    text = r.managed_text(unit['sections'], scope)
    assert text == module_text(unit['name'], unit['sections'], scope)
    assert text.startswith(_quadlet.MANAGED_HEADER) and text.endswith('\n[Install]\nWantedBy=%s\n' % target)
    assert r.installed_text(unit['sections'], scope) == text[len(_quadlet.MANAGED_HEADER):]


def test_install_keeps_a_given_target_and_copies():
    sections = {'Unit': {'Description': 'x'}, 'Container': {'Image': 'i'}, 'Install': {'WantedBy': 'other.target'}}
    assert r.install(sections, 'system')['Install'] == {'WantedBy': 'other.target'}
    bare = {'Container': {'Image': 'i'}}
    assert r.install(bare, 'user')['Install'] == {'WantedBy': 'default.target'}
    assert bare == {'Container': {'Image': 'i'}}
    with pytest.raises(r.RenderError, match='scope must be system or user'):
        r.install(sections, 'root')


# -- plan building blocks ------------------------------------------------------------------------------------

@pytest.mark.parametrize('deps, expected', [
    ({'a': []}, [['a']]),
    ({'a': ['b'], 'b': ['c'], 'c': []}, [['c'], ['b'], ['a']]),
    ({'app': ['db', 'cache'], 'db': [], 'cache': [], 'worker': ['db']}, [['cache', 'db'], ['app', 'worker']]),
    ({'a': ['gone']}, [['a']]),
])
def test_layers(deps, expected):
    assert r.layers(deps) == expected


def test_layers_refuse_a_cycle():
    with pytest.raises(r.RenderError, match='dependency cycle among a, b'):
        r.layers({'a': ['b'], 'b': ['a'], 'c': []})


@pytest.mark.parametrize('unit, kwargs, expected', [
    (r.container_unit(model()), {'service': 'web', 'timeout': 60, 'secrets': ['s', 's'], 'image': 'i'},
     {'service': 'web', 'unit': 'app-web.service', 'container': 'app-web', 'image': 'i', 'wait': True, 'timeout': 60,
      'secrets': ['s'], 'pull': None}),
    (r.container_unit(model()), {'wait': False}, {'wait': False, 'timeout': 120}),
    (r.network_unit('app', 'n'), {'wait': True}, {'service': None, 'unit': 'app-network.service', 'container': None,
                                                  'image': None, 'wait': False, 'timeout': 120, 'secrets': [],
                                                  'pull': None}),
])
def test_plan_unit(unit, kwargs, expected):
    planned = r.plan_unit(unit, 'system', **kwargs)
    assert sorted(planned) == ['container', 'image', 'job', 'name', 'pull', 'secrets', 'service', 'text', 'timeout', 'unit', 'wait']
    assert dict((k, planned[k]) for k in expected) == expected
    assert planned['text'] == module_text(unit['name'], unit['sections'], 'system')


def test_plan_routes_and_checks_carry_only_their_arguments():
    plan = r.plan('app', 'stack', 'system', [[]],
                  routes=[{'name': 'app-web', 'service': 'web', 'hostname': ['a'], 'path_prefix': None, 'urls': ['u']}],
                  verify=[{'name': 'c', 'service': 'db', 'container': 'app-db', 'command': ['true']},
                          {'name': 'h', 'http': {'url': 'http://x/'}, 'retries': 0}])
    assert plan['routes'] == [{'name': 'app-web', 'hostname': ['a'], 'urls': ['u']}]
    assert plan['verify'] == [
        {'name': 'c', 'container': 'app-db', 'command': ['true'], 'stdout_regex': None, 'http': None, 'retries': 5, 'delay': 2},
        {'name': 'h', 'container': None, 'command': None, 'stdout_regex': None, 'retries': 0, 'delay': 2,
         'http': {'url': 'http://x/', 'status': [200], 'host': None, 'body_regex': None}}]
    assert sorted(plan) == ['directories', 'files', 'kind', 'name', 'phases', 'rollback_order', 'routes', 'scope', 'secrets',
                            'verify']
    assert plan['directories'] == [] and plan['files'] == []


def test_a_job_is_a_oneshot_that_is_never_restarted_and_not_waited_on_by_a_healthcheck():
    sections = r.container_sections(model(job=True, healthcheck={'cmd': 'true'}, restart='always'))
    assert list(sections['Service'].items()) == [('Type', 'oneshot'), ('RemainAfterExit', True), ('Restart', 'no')]
    assert 'Notify' not in sections['Container'], 'a oneshot is done when it exits, not when healthy'
    assert r.container_sections(model(restart='on-failure'))['Service']['Restart'] == 'on-failure'


@pytest.mark.parametrize('entrypoint, value', [
    ('/usr/bin/psql', '/usr/bin/psql'),
    (['/bin/sh', '-c', 'echo $HOME 100%'], '["/bin/sh", "-c", "echo $$HOME 100%%"]'),
    (None, None),
])
def test_entrypoint_as_quadlet_takes_it(entrypoint, value):
    assert r.container_section(model(entrypoint=entrypoint)).get('Entrypoint') == value

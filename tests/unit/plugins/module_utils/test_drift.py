# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the private drift comparison, on output captured from a real node (podman 5.4, systemd 257).

fixtures/drift/ holds: fxweb.container (the unit as homelab.deploy.quadlet wrote it); inspect_clean.json
(`podman container inspect fxweb traefik` while both ran from their units); inspect_drifted.json (fxweb
re-created by hand with HL_WEB_VERSION=2 and /data rw, a stray `podman run`, and fxlimits created with
--memory 512m --memory-reservation 128m --cpus 1.5); image_inspect.json; show_clean.txt, show_setprop.txt
(after `systemctl set-property --runtime fxweb.service MemoryMax=400M CPUQuota=150%`) and
show_reload_pending.txt (unit file edited, no daemon-reload, service stopped).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

from ansible_collections.homelab.deploy.plugins.module_utils import _drift as drift
from ansible_collections.homelab.deploy.plugins.module_utils import _traefik as traefik
from ansible_collections.homelab.deploy.plugins.module_utils._podman import parse_show
from ansible_collections.homelab.deploy.plugins.module_utils._unitfile import container_spec, parse_unit

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures', 'drift')
UNIT_PATH = '/etc/containers/systemd/fxweb.container'
REFS = {'fxdata.volume': 'systemd-fxdata', 'hl.network': 'hl'}


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return json.load(handle) if name.endswith('.json') else handle.read()


def shows(name):
    return dict((block['Id'], block) for block in parse_show(fixture(name)))


def unit(text=None, filename=UNIT_PATH):
    parsed = parse_unit(text if text is not None else fixture('fxweb.container'), filename)
    return {'unit_name': os.path.basename(filename), 'service_name': 'fxweb.service', 'spec': container_spec(parsed)}


def check(inspect, show='show_clean.txt', units=None, **kwargs):
    return drift.check_host(units or [unit()], fixture(inspect), fixture('image_inspect.json'), shows(show), REFS, **kwargs)


def fields(result):
    return dict((f['field'], (f['declared'], f['running'], f['remediation'])) for f in result['fields'])


def info(inspect, name):
    return [i for i in fixture(inspect) if i['Name'] == name][0]


# -- real captures ---------------------------------------------------------------------------------

def test_container_started_by_its_unit_has_no_drift():
    services, unmanaged = check('inspect_clean.json')
    assert services[0]['fields'] == []
    assert services[0]['drifted'] is False and services[0]['remediation'] == 'none'
    assert unmanaged == []  # traefik carries PODMAN_SYSTEMD_UNIT: some unit owns it


def test_hand_recreated_container_reports_env_volume_and_missing_unit():
    services, dummy = check('inspect_drifted.json')
    found = fields(services[0])
    assert found == {
        'env.HL_WEB_VERSION': ('1', '2', 'restart'),
        'volumes./data.mode': ('ro', 'rw', 'restart'),
        'systemd_unit': ('fxweb.service', None, 'restart'),
    }
    entry = services[0]['fields'][0]
    assert entry['impact'] and services[0]['remediation'] == 'restart'


def test_unmanaged_containers_are_reported_with_their_label():
    dummy, unmanaged = check('inspect_drifted.json')
    assert [u['name'] for u in unmanaged] == ['fxlimits', 'stray']
    assert 'not labelled managed' in unmanaged[1]['fields'][0]['running']
    assert unmanaged[0]['remediation'] == 'review'


def test_unmanaged_can_be_switched_off_or_ignored():
    assert check('inspect_drifted.json', report_unmanaged=False)[1] == []
    assert [u['name'] for u in check('inspect_drifted.json', ignore=['stray:unmanaged'])[1]] == ['fxlimits']


def test_edited_unit_without_daemon_reload_and_stopped_service():
    services, dummy = check('inspect_drifted.json', show='show_reload_pending.txt')
    found = fields(services[0])
    assert found['daemon_reload'] == ('reloaded', 'reload pending', 'reload_restart')
    assert found['state'] == ('active', 'inactive/dead', 'restart')
    assert services[0]['remediation'] == 'reload_restart'


def test_systemd_limits_changed_at_runtime():
    services, dummy = check('inspect_clean.json', show='show_setprop.txt')
    found = fields(services[0])
    assert found == {'systemd_limits.MemoryMax': ('300M', '419430400', 'reload_restart'),
                     'systemd_limits.CPUQuota': ('50%', '1.500000s', 'reload_restart')}


def test_systemd_limits_match_the_unit():
    block = shows('show_clean.txt')['fxweb.service']
    assert drift.compare_unit(unit(), block) == []


def test_unit_unknown_to_systemd():
    found = drift.compare_unit(unit(), {'Id': 'fxweb.service', 'LoadState': 'not-found'})
    assert found[0]['field'] == 'daemon_reload' and found[0]['running'] == 'not-found'


# -- podman memory/CPU limits (fxlimits: --memory 512m --memory-reservation 128m --cpus 1.5) ------------

LIMITED = '[Container]\nImage=localhost/hl-web:latest\nContainerName=fxlimits\nPodmanArgs=%s\n'


@pytest.mark.parametrize('args, expected', [
    ('--memory=512m --memory-reservation=128m --cpus=1.5', {}),
    ('--memory=256m --memory-reservation=128m --cpus=1.5', {'memory.limit': ('256m', 536870912)}),
    ('--memory 512m --cpus 0.5', {'memory.reservation': (None, 134217728), 'cpu.cpus': ('0.5', 1.5)}),
    ('-m512m --memory-reservation=128m', {'cpu.cpus': (None, 1.5)}),
])
def test_podman_limits_against_real_inspect(args, expected):
    spec = unit(LIMITED % args, '/etc/containers/systemd/fxlimits.container')['spec']
    found = drift.compare_limits(spec, info('inspect_drifted.json', 'fxlimits'))
    assert dict((f['field'], (f['declared'], f['running'])) for f in found) == expected


def test_limits_declared_but_not_applied():
    spec = unit(LIMITED % '--memory=256m', '/etc/containers/systemd/fxweb.container')['spec']
    found = drift.compare_limits(spec, info('inspect_clean.json', 'fxweb'))
    assert [(f['field'], f['declared'], f['running']) for f in found] == [('memory.limit', '256m', None)]


# -- other fields on the real inspect ---------------------------------------------------------------------

def edited(old, new):
    text = fixture('fxweb.container')
    assert old in text
    return [unit(text.replace(old, new))]


@pytest.mark.parametrize('old, new, field, declared, running', [
    ('Image=localhost/hl-web:latest', 'Image=localhost/hl-web:broken', 'image', 'localhost/hl-web:broken', 'localhost/hl-web:latest'),
    ('PublishPort=127.0.0.1:18080:8080', 'PublishPort=127.0.0.1:18081:8080', 'ports',
     ['127.0.0.1:18081:8080/tcp'], ['127.0.0.1:18080:8080/tcp']),
    ('Network=hl.network', 'Network=other.network', 'networks', ['systemd-other'], ['hl']),  # Quadlet's default name
    ('Label=io.homelab.deploy.service=fxweb', 'Label=io.homelab.deploy.service=web', 'labels.io.homelab.deploy.service', 'web', 'fxweb'),
    ('HealthInterval=10s', 'HealthInterval=30s', 'health.interval', '30s', '10s'),
    ('HealthCmd=wget', 'HealthCmd=curl', 'health.cmd', 'curl -q -O- http://127.0.0.1:8080/health',
     'wget -q -O- http://127.0.0.1:8080/health'),
    ('Volume=fxdata.volume:/data:ro,Z', 'Volume=fxdata.volume:/data:ro', 'volumes./data.selinux', '', 'Z'),
    ('Volume=fxdata.volume:/data:ro,Z', 'Volume=other.volume:/data:ro,Z', 'volumes./data.source', 'systemd-other', 'systemd-fxdata'),
    ('Environment=HL_WEB_MESSAGE=hello', 'Environment=HL_WEB_MESSAGE=bye', 'env.HL_WEB_MESSAGE', 'bye', 'hello'),
    ('Notify=healthy', 'User=1000', 'user', '1000', ''),
])
def test_each_field_is_compared(old, new, field, declared, running):
    services, dummy = check('inspect_clean.json', units=edited(old, new))
    assert [(f['field'], f['declared'], f['running']) for f in services[0]['fields']] == [(field, declared, running)]


def test_env_removed_from_unit_falls_back_to_the_image_default():
    services, dummy = check('inspect_clean.json', units=edited('Environment=HL_WEB_MESSAGE=hello\n', ''))
    assert fields(services[0]) == {'env.HL_WEB_MESSAGE': ('hello from hl-web', 'hello', 'restart')}


def test_retagged_image_is_a_digest_drift():
    images = fixture('image_inspect.json')
    images[0] = dict(images[0], Id='0' * 64, Digest='sha256:' + 'f' * 64)
    services, dummy = drift.check_host([unit()], fixture('inspect_clean.json'), images, shows('show_clean.txt'), REFS)
    assert fields(services[0])['image_digest'][:2] == ('sha256:' + 'f' * 64, 'sha256:cd32be59f16240a463ec425b60669260b574ba733adb85419cfbb9c3d787e27b')


def test_missing_container():
    services, dummy = check('inspect_clean.json', units=edited('ContainerName=fxweb', 'ContainerName=gone'))
    assert fields(services[0]) == {'state': ('running', 'no container gone', 'restart')}


@pytest.mark.parametrize('rules, left', [
    (['env.HL_WEB_*'], ['volumes./data.mode', 'systemd_unit']),
    (['fxweb.container:volumes'], ['env.HL_WEB_VERSION', 'systemd_unit']),
    (['other.container:volumes'], ['env.HL_WEB_VERSION', 'volumes./data.mode', 'systemd_unit']),
    (['*:env', 'volumes.*', 'systemd_unit'], []),
])
def test_ignore_rules(rules, left):
    services, dummy = check('inspect_drifted.json', ignore=rules)
    assert sorted(f['field'] for f in services[0]['fields']) == sorted(left)
    assert services[0]['drifted'] is bool(left)


# -- units of measure --------------------------------------------------------------------------------

@pytest.mark.parametrize('value, expected', [
    ('256m', 268435456), ('300M', 314572800), ('1G', 1073741824), ('512k', 524288), ('1048576', 1048576),
    ('infinity', None), ('0', None), (None, None), ('1.5g', 1610612736), ('lots', 'lots'),
])
def test_parse_size(value, expected):
    assert drift.parse_size(value) == expected


@pytest.mark.parametrize('value, expected', [
    ('10s', 10.0), ('1m30s', 90.0), ('500ms', 0.5), ('1.500000s', 1.5), ('30', 30.0), ('2min', 120.0),
    ('[not set]', None), ('soon', 'soon'),
])
def test_parse_span(value, expected):
    assert drift.parse_span(value) == expected


@pytest.mark.parametrize('value, expected', [('50%', 500000), ('150%', 1500000), ('500ms', 500000), ('infinity', None)])
def test_cpu_quota(value, expected):
    assert drift.cpu_quota_usec(value) == expected


# -- routes --------------------------------------------------------------------------------------------

ROUTE = {'name': 'fxweb', 'hostname': ['fxweb.localhost'], 'urls': ['http://fxweb:8080'],
         'middlewares': ['security-headers@file'], 'entrypoints': ['web']}


def test_route_file_edited_by_hand():
    declared = traefik.render_config(ROUTE)
    on_disk = json.loads(json.dumps(declared))
    on_disk['http']['routers']['fxweb']['middlewares'] = []
    on_disk['http']['services']['fxweb']['loadBalancer']['servers'] = [{'url': 'http://fxweb:9090'}]
    found = dict((f['field'], (f['declared'], f['running'])) for f in drift.compare_route_file('fxweb', declared, on_disk))
    assert found == {'route_file.routers.fxweb.middlewares': (['security-headers@file'], []),
                     'route_file.services.fxweb.loadBalancer': (
                         {'servers': [{'url': 'http://fxweb:8080'}], 'passHostHeader': True},
                         {'servers': [{'url': 'http://fxweb:9090'}], 'passHostHeader': True})}
    assert drift.compare_route_file('fxweb', declared, declared) == []
    assert drift.compare_route_file('fxweb', declared, None)[0]['running'] == 'missing'


def test_route_served_backend_down():
    served = {'services': {'fxweb': {'name': 'fxweb@file', 'serverStatus': {'http://fxweb:8080': 'DOWN'}}}}
    found = drift.compare_route_served(['router fxweb@file is not loaded'], [], served)
    assert [(f['field'], f['remediation']) for f in found] == [('route_served', 'rewrite_route'), ('route_backend', 'restart')]


# -- route files without PyYAML ------------------------------------------------------------------------------

@pytest.mark.parametrize('spec', [
    ROUTE,
    dict(ROUTE, urls=['http://a:1', 'http://b:2'], priority=10, path_prefix='/app',
         health_check={'path': '/health', 'interval': '5s'}),
    dict(ROUTE, define_middlewares=[{'name': 'hdr', 'headers': {'frameDeny': True, 'customResponseHeaders': {'X-A': 'b'}}}]),
])
def test_block_yaml_reads_what_traefik_route_writes(spec):
    config = traefik.render_config(spec)
    assert drift.read_block_yaml(traefik.render_file(config)) == config


def test_block_yaml_reads_a_hand_edit_in_the_same_style():
    text = traefik.render_file(traefik.render_config(ROUTE)).replace('"http://fxweb:8080"', 'http://fxweb:9090')
    assert drift.read_block_yaml(text)['http']['services']['fxweb']['loadBalancer']['servers'] == [{'url': 'http://fxweb:9090'}]


@pytest.mark.parametrize('text', ['http: {routers: {}}\n', 'http:\n  routers: [a, b]\n', 'http:\n  - a\n    b: 1\n'])
def test_block_yaml_refuses_other_styles(text):
    with pytest.raises(drift.BlockYamlError):
        drift.read_block_yaml(text)


def test_env_secrets_and_environment_files_are_not_drift():
    clean = info('inspect_clean.json', 'fxweb')
    with_secret = json.loads(json.dumps(clean))
    with_secret['Config']['Env'].append('DB_PASSWORD=s3cret')
    spec = unit()['spec']
    found = drift.compare_env(spec, with_secret, fixture('image_inspect.json')[0], set(drift.DEFAULT_IGNORED_ENV))
    assert [(f['field'], f['declared'], f['running']) for f in found] == [('env.DB_PASSWORD', None, '********')]
    spec_secret = unit(fixture('fxweb.container').replace('[Container]\n', '[Container]\nSecret=db,type=env,target=DB_PASSWORD\n'))['spec']
    assert drift.compare_env(spec_secret, with_secret, fixture('image_inspect.json')[0], set(drift.DEFAULT_IGNORED_ENV)) == []
    as_podman5 = json.loads(json.dumps(clean))  # podman 5.4 lists an env secret under its own name, masked
    as_podman5['Config']['Env'].append('db=*******')
    assert drift.compare_env(spec_secret, as_podman5, fixture('image_inspect.json')[0], set(drift.DEFAULT_IGNORED_ENV)) == []
    spec_file = unit(fixture('fxweb.container').replace('[Container]\n', '[Container]\nEnvironmentFile=/etc/fx.env\n'))['spec']
    assert drift.compare_env(spec_file, with_secret, fixture('image_inspect.json')[0], set(drift.DEFAULT_IGNORED_ENV)) == []


@pytest.mark.parametrize('value, running', [
    ('plain', 'plain'), ('x$$y', 'x$y'), ('p%%q', 'p%q'), ('50%% of $$5', '50% of $5'), ('a$', 'a$'), ('$1', '$1'),
    ('${HOME}/x', drift.UNRESOLVED), ('$HOME', drift.UNRESOLVED), ('%h/data', drift.UNRESOLVED), (None, None),
])
def test_values_are_compared_as_systemd_hands_them_to_podman(value, running):
    assert drift.expanded(value) == running


def test_escaped_dollar_and_percent_are_not_drift_and_systemd_variables_are_not_judged():
    services, dummy = check('inspect_clean.json', units=edited('Environment=HL_WEB_MESSAGE=hello\n',
                                                               'Environment=HL_WEB_MESSAGE=hel%%lo$$\n'))
    assert fields(services[0]) == {'env.HL_WEB_MESSAGE': ('hel%lo$', 'hello', 'restart')}, 'compared unescaped'
    services, dummy = check('inspect_clean.json', units=edited('Environment=HL_WEB_MESSAGE=hello\n',
                                                               'Environment=HL_WEB_MESSAGE=${GREETING}\n'))
    assert 'env.HL_WEB_MESSAGE' not in fields(services[0]), 'only systemd knows ${GREETING}'


def test_a_job_that_ran_has_no_container_and_no_drift():
    job = dict(edited('ContainerName=fxweb', 'ContainerName=gone')[0], job=True)
    services, dummy = check('inspect_clean.json', units=[job])
    assert fields(services[0]) == {}, 'active (exited) without a container is what a finished job looks like'
    failed = shows('show_clean.txt')
    failed['fxweb.service'] = dict(failed['fxweb.service'], ActiveState='failed', SubState='failed')
    services, dummy = drift.check_host([job], fixture('inspect_clean.json'), fixture('image_inspect.json'), failed, REFS)
    assert fields(services[0])['state'][:2] == ('active', 'failed/failed'), 'a failed job is still reported'


def test_a_service_says_whether_its_unit_carries_the_ownership_label():
    text = fixture('fxweb.container')
    assert 'Label=io.homelab.deploy.managed=true\n' in text
    services, dummy = check('inspect_clean.json')
    assert services[0]['managed'] is True
    theirs = text.replace('Label=io.homelab.deploy.managed=true\n', '')
    services, dummy = check('inspect_clean.json', units=[unit(theirs)])
    assert services[0]['managed'] is False, 'a unit without the label is not ours to restart'


# -- the run-time surface the renderer writes (issue 13 part 1, issue 17 part 7) ----------------------------------

def _surface():
    base = os.path.join(os.path.dirname(__file__), 'fixtures', 'drift')
    with open(os.path.join(base, 'surface-web.container')) as handle:
        unit = parse_unit(handle.read(), filename='/etc/containers/systemd/hlsurf-web.container')
    with open(os.path.join(base, 'surface-web.inspect.json')) as handle:
        info = json.load(handle)
    return container_spec(unit), info


def test_a_container_deployed_with_the_whole_surface_has_no_runtime_drift():
    """The unit and the inspect output of tests/integration/test_stack_container_keys.py's web service on the node:
    %% in WorkingDir=, SIGINT against podman's name, a ulimit among podman's defaults, its own annotations among
    podman's: nothing drifted."""
    spec, info = _surface()
    assert spec['runtime']['working_dir'] == '/srv/100%%' and spec['runtime']['ulimits']['nofile'] == ('1024', '4096')
    assert drift.compare_runtime(spec, info) == []


@pytest.mark.parametrize('section, key, value, field', [
    ('Config', 'WorkingDir', '/srv', 'runtime.working_dir'),
    ('Config', 'Hostname', 'other', 'runtime.hostname'),
    ('Config', 'StopSignal', 'SIGTERM', 'runtime.stop_signal'),
    ('Config', 'Timezone', 'UTC', 'runtime.timezone'),
    ('HostConfig', 'ShmSize', 67108864, 'runtime.shm_size'),
    ('HostConfig', 'Init', False, 'runtime.init'),
    ('HostConfig', 'Dns', [], 'runtime.dns'),
    ('HostConfig', 'DnsSearch', ['other'], 'runtime.dns_search'),
    ('HostConfig', 'ExtraHosts', ['printer.lan:192.0.2.10'], 'runtime.add_hosts.printer.lan'),
    ('HostConfig', 'Ulimits', [{'Name': 'RLIMIT_NOFILE', 'Soft': 1024, 'Hard': 1024}], 'runtime.ulimits.nofile'),
    ('HostConfig', 'GroupAdd', [], 'runtime.group_add'),
    ('HostConfig', 'Tmpfs', {}, 'runtime.tmpfs'),
])
def test_each_runtime_key_that_differs_is_a_finding(section, key, value, field):
    spec, info = _surface()
    info[section][key] = value
    found = drift.compare_runtime(spec, info)
    assert [f['field'] for f in found] == [field]
    assert found[0]['remediation'] == 'restart'


def test_undeclared_runtime_keys_are_podman_s_defaults_and_not_compared():
    unit = parse_unit('[Container]\nImage=localhost/hl-web:latest\n', filename='/etc/containers/systemd/a.container')
    spec, info = container_spec(unit), _surface()[1]
    assert drift.compare_runtime(spec, info) == [], 'shm, ulimits, init, DNS... of podman are not declared drift'
    info['HostConfig']['Privileged'] = True
    assert [f['field'] for f in drift.compare_runtime(spec, info)] == ['runtime.privileged'], \
        'but a privileged container its unit does not declare is'
    privileged = container_spec(parse_unit('[Container]\nImage=x\nPodmanArgs=--privileged\n'))
    info['HostConfig']['Privileged'] = False
    assert [f['field'] for f in drift.compare_runtime(privileged, info)] == ['runtime.privileged']


def test_an_empty_entrypoint_is_no_entrypoint_drift():
    spec = container_spec(parse_unit('[Container]\nImage=localhost/hl-web:latest\nEntrypoint=\nExec=/bin/httpd -f\n'))
    info = {'Config': {'Cmd': ['/bin/httpd', '-f'], 'Entrypoint': []}}
    image = {'Config': {'Entrypoint': ['/bin/hl-web'], 'Cmd': ['serve']}}
    assert drift.compare_command(spec, info, image) == []
    info['Config']['Entrypoint'] = ['/bin/hl-web']
    assert [f['field'] for f in drift.compare_command(spec, info, image)] == ['entrypoint']


def test_a_non_utf8_unit_is_a_clear_error_not_a_traceback(tmp_path):
    from ansible_collections.homelab.deploy.plugins.module_utils import _quadlet as quadlet
    from ansible_collections.homelab.deploy.plugins.module_utils._unitfile import UnitFileError
    path = tmp_path / 'bad.container'
    path.write_bytes(b'[Container]\nImage=x\nEnvironment=A=\xff\n')
    with pytest.raises(UnitFileError, match='not valid UTF-8'):
        quadlet.read_text(str(path))


@pytest.mark.parametrize('networks, refs, mode, attached, expected', [
    # Network=x.container joins x's network namespace: podman shows container:<id> and no networks of its own
    (['db.container'], {'db.container': 'app-db'}, 'container:0123abcd', {}, []),
    (['db.container'], {}, 'bridge', {'podman': {}}, [('networks', ['container:systemd-db'], 'bridge')]),
    (['db.container'], {'db.container': 'app-db'}, '', {}, [('networks', ['container:app-db'], None)]),
    (['container:app-db'], {}, 'container:0123abcd', {}, []),
    (['pasta'], {}, 'pasta', {}, []), (['slirp4netns:port_handler=slirp4netns'], {}, 'slirp4netns', {}, []),
    (['app.network:ip=10.89.0.5'], {'app.network': 'app'}, 'bridge', {'app': {}}, []),
    (['app.network'], {}, 'bridge', {'systemd-app': {}}, []),
])
def test_network_references_resolve_as_quadlet_resolves_them(networks, refs, mode, attached, expected):
    info = {'HostConfig': {'NetworkMode': mode}, 'NetworkSettings': {'Networks': attached}}
    found = drift.compare_networks({'networks': networks}, info, refs)
    assert [(f['field'], f['declared'], f['running']) for f in found] == expected


def test_the_host_reader_resolves_a_container_network_reference(tmp_path):
    from ansible_collections.homelab.deploy.plugins.module_utils import _drift_host
    (tmp_path / 'app-db.container').write_text('[Container]\nImage=localhost/postgres:17\nContainerName=app-db\n')
    (tmp_path / 'app-web.container').write_text('[Container]\nImage=localhost/hl-web:latest\nNetwork=app-db.container\n')
    (tmp_path / 'app-side.container').write_text('[Container]\nImage=localhost/hl-web:latest\n')
    reader = _drift_host.DriftChecker.__new__(_drift_host.DriftChecker)
    reader.params = {'names': []}
    reader.unit_files = lambda: (str(tmp_path), sorted(p.name for p in tmp_path.iterdir()))
    units, refs, errors = reader.read_units()
    assert errors == [] and refs['app-db.container'] == 'app-db' and refs['app-side.container'] == 'systemd-app-side'
    web = [u for u in units if u['unit_name'] == 'app-web.container'][0]
    assert drift.declared_network(web['spec']['networks'][0], refs) == 'container:app-db'


@pytest.mark.parametrize('adds, drops, effective, fields_found', [
    ([], [], ['CAP_CHOWN', 'CAP_KILL'], []),
    (['CAP_NET_ADMIN'], [], ['CAP_CHOWN', 'CAP_NET_ADMIN'], []),
    (['CAP_NET_ADMIN'], [], ['CAP_CHOWN'], ['runtime.add_capabilities']),
    ([], ['CAP_KILL'], ['CAP_CHOWN'], []),
    ([], ['CAP_KILL'], ['CAP_CHOWN', 'CAP_KILL'], ['runtime.drop_capabilities']),
    (['CAP_NET_BIND_SERVICE'], ['ALL'], ['CAP_NET_BIND_SERVICE'], []),
    (['CAP_NET_BIND_SERVICE'], ['ALL'], ['CAP_CHOWN', 'CAP_NET_BIND_SERVICE'], ['runtime.drop_capabilities']),
    ([], ['ALL'], [], []),
])
def test_capabilities_are_judged_by_what_the_process_has(adds, drops, effective, fields_found):
    found = drift.compare_capabilities({'add_capabilities': adds, 'drop_capabilities': drops}, {'capabilities': effective})
    assert [f['field'] for f in found] == fields_found
    assert drift.compare_capabilities({'add_capabilities': adds}, {'capabilities': None}) == [], 'unknown: not judged'


def test_devices_and_no_new_privileges_are_compared_when_the_inspect_output_has_them():
    spec, info = _surface()
    spec['runtime'].update(devices=['/dev/dri'], no_new_privileges=True)
    info['HostConfig'].update(Devices=[], SecurityOpt=[])
    assert sorted(f['field'] for f in drift.compare_runtime(spec, info)) == ['runtime.devices', 'runtime.no_new_privileges']
    info['HostConfig'].update(Devices=[{'PathOnHost': '/dev/dri', 'PathInContainer': '/dev/dri'}],
                              SecurityOpt=['no-new-privileges'])
    assert drift.compare_runtime(spec, info) == []

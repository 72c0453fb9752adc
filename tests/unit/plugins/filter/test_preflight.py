# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the pre-flight assessment, fed with command output captured on the test node
(fixtures/preflight: a healthy node, and the same node with a failed unit and an unhealthy container)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import json
import os

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.deploy.plugins.filter import patterns as pf
from ansible_collections.homelab.deploy.plugins.filter import preflight as pre

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'preflight')
GIB = 1024 ** 3


def fixture(name):
    with open(os.path.join(FIXTURES, name)) as handle:
        return handle.read()


def facts(**changes):
    """What roles/preflight gathers, from the captured output of a healthy node (25 GB RAM, 2 CPUs, disk 32% used)."""
    base = {
        'podman_version': fixture('podman_version.json'), 'systemd_version': fixture('systemctl_version.txt'),
        'podman_info': fixture('podman_info_system.json'),
        'failed_units': json.loads(fixture('failed_units.json')),
        'containers': json.loads(fixture('containers.json')), 'networks': json.loads(fixture('networks.json')),
        'volumes': [], 'loadavg': fixture('loadavg.txt'), 'meminfo': fixture('meminfo.txt'), 'nproc': 2,
        'memory_pressure': fixture('pressure_memory.txt'), 'listening': fixture('ss.txt'), 'unit_restarts': '',
        'disks': {'/var/lib/containers/storage/volumes': fixture('df_root.txt')},
        'unit_files_existing': [], 'unit_files_ours': [], 'missing_host_paths': [], 'routers': [],
        'generator': {'errors': []},
    }
    base.update(changes)
    return base


def requirements(pattern='web-app-with-database', instance='wiki', overrides=None, **changes):
    rendered = pf.pattern_render(pf.pattern_load(pattern, overrides), instance, limits='best_effort')
    req = dict(rendered['requirements'], instance=instance, pattern=pattern, risk=rendered['risk'])
    req.update(changes)
    return req


def best_effort(**changes):
    settings = {'resource_limits': 'best_effort'}
    settings.update(changes)
    return settings


def with_controllers(info_text, controllers):
    """A captured podman info as a host with delegated cgroup v2 controllers would report it."""
    info = json.loads(info_text)
    info['host']['cgroupControllers'] = controllers
    return json.dumps(info)


# -- parsers -------------------------------------------------------------------------------------------

def test_parse_captured_outputs():
    assert pre.parse_podman_version(fixture('podman_version.json')) == '5.4.2'
    assert pre.parse_systemd_version(fixture('systemctl_version.txt')) == 257
    assert pre.parse_loadavg(fixture('loadavg.txt')) == [0.37, 0.23, 0.09]
    mem = pre.parse_meminfo(fixture('meminfo.txt'))
    assert mem['MemTotal'] == 24683656 * 1024 and mem['MemAvailable'] > 20 * GIB
    assert pre.parse_pressure(fixture('pressure_memory.txt')) == 0.0
    assert pre.parse_df(fixture('df_root.txt')) == {
        'filesystem': '/dev/vda', 'total': 270553174016, 'used': 34301325312, 'available': 74642968576,
        'percent': 32, 'mount': '/'}
    assert ('tcp', '0.0.0.0', 80) in pre.parse_ss(fixture('ss.txt'))
    assert ('udp', '10.89.0.1', 53) in pre.parse_ss(fixture('ss.txt'))


@pytest.mark.parametrize('text, expected', [
    ('tcp LISTEN 0 4096 [::]:443 [::]:*', [('tcp', '::', 443)]),
    ('tcp LISTEN 0 4096 [fe80::1%eth0]:22 [::]:*', [('tcp', 'fe80::1', 22)]),
    ('tcp LISTEN 0 4096 *:9100 *:*', [('tcp', '*', 9100)]),
    ('garbage', []),
])
def test_parse_ss_addresses(text, expected):
    assert pre.parse_ss(text) == expected


def test_parse_show_blocks():
    blocks = pre.parse_show(fixture('degraded_restarts.txt'))
    assert blocks == [{'NRestarts': '0', 'Id': 'traefik.service'}, {'NRestarts': '0', 'Id': 'hlfail-demo.service'}]


@pytest.mark.parametrize('func, value', [
    (pre.parse_loadavg, '0.1'), (pre.parse_df, 'Filesystem 1-blocks Used'), (pre.parse_systemd_version, 'nope'),
    (pre.parse_podman_version, '{"Server": {}}'), (pre.parse_podman_version, '{not json'),
])
def test_parsers_refuse_garbage(func, value):
    with pytest.raises(AnsibleFilterError):
        func(value)


# -- a healthy node ------------------------------------------------------------------------------------

def test_healthy_node_with_best_effort_proceeds_with_a_warning():
    report = pre.preflight_assess(facts(), requirements(), best_effort())
    assert report['decision'] == 'proceed'
    assert report['health_score'] == 100 and report['health'] == 'healthy'
    assert report['critical_issues'] == []
    assert report['warnings'] == ['cgroup v2 controller(s) cpu, memory not available in the system scope: deploying '
                                  'without the limits that need them (resource_limits=best_effort)']
    assert report['limits'] == {'mode': 'best_effort', 'controllers': [], 'missing': ['cpu', 'memory'],
                                'enforced': False}
    assert report['risk'] == {'pattern': 'medium', 'health': 'healthy', 'score': 2, 'level': 'low'}
    assert report['strategy'] == 'direct'
    assert report['versions'] == {'podman': '5.4.2', 'systemd': 257, 'required_podman': '4.4',
                                  'required_systemd': 250, 'ok': True}
    disk = report['resources']['disks'][0]
    assert disk['mount'] == '/' and disk['required_gb'] == 7.0 and disk['status'] == 'ok'


def test_enforce_refuses_when_the_scope_has_no_controllers():
    report = pre.preflight_assess(facts(), requirements(), {'resource_limits': 'enforce'})
    assert report['decision'] == 'refuse'
    assert report['critical_issues'] == [
        'cgroup v2 controller(s) cpu, memory not available in the system scope: resource_limits=enforce refuses '
        'to deploy limits the host cannot enforce (use best_effort to deploy without them)']


def test_user_scope_is_judged_by_the_user_s_podman():
    report = pre.preflight_assess(facts(podman_info=fixture('podman_info_user.json')), requirements(),
                                  {'scope': 'user'})
    assert 'not available in the user scope' in report['critical_issues'][0]
    assert report['resources']['cgroup']['volume_path'] == '/home/hl/.local/share/containers/storage/volumes'


def test_enforce_proceeds_where_controllers_are_delegated():
    info = with_controllers(fixture('podman_info_system.json'), ['cpu', 'io', 'memory', 'pids'])
    report = pre.preflight_assess(facts(podman_info=info), requirements(), {'resource_limits': 'enforce'})
    assert report['decision'] == 'proceed' and report['limits']['enforced'] is True
    assert report['warnings'] == []


def test_cgroup_v1_counts_as_no_controller():
    info = json.loads(with_controllers(fixture('podman_info_system.json'), ['cpu', 'memory']))
    info['host']['cgroupVersion'] = 'v1'
    report = pre.preflight_assess(facts(podman_info=json.dumps(info)), requirements(), {})
    assert report['limits']['missing'] == ['cpu', 'memory']
    assert 'cgroup v1 controller(s) cpu, memory' in report['critical_issues'][0]


# -- thresholds ----------------------------------------------------------------------------------------

def test_disk_above_the_fail_level_refuses():
    report = pre.preflight_assess(facts(), requirements(), best_effort(disk_warn_percent=10, disk_fail_percent=30))
    assert report['decision'] == 'refuse'
    assert 'disk / is 32% used, above the fail level 30%' in report['critical_issues']
    assert report['resources']['disks'][0]['status'] == 'fail'
    assert {'points': 20, 'reason': 'disk 32% used (fail level 30%)'} in report['health_deductions']


def test_disk_above_the_warn_level_warns():
    report = pre.preflight_assess(facts(), requirements(), best_effort(disk_warn_percent=30))
    assert report['decision'] == 'proceed'
    assert 'disk / is 32% used, above the warn level 30%' in report['warnings']
    assert report['health_score'] == 90


def test_storage_larger_than_the_free_space_refuses():
    overrides = {'storage_requirements': [
        {'name': 'db-data', 'type': 'volume', 'description': 'x', 'min_free_gb': 60},
        {'name': 'app-data', 'type': 'volume', 'description': 'x', 'min_free_gb': 10}]}
    report = pre.preflight_assess(facts(), requirements(overrides=overrides), best_effort())
    assert 'disk / has 69.5 GB free, the storage needs 70.0 GB' in report['critical_issues']


def test_bind_storage_on_another_filesystem_is_measured_there():
    disks = {'/var/lib/containers/storage/volumes': fixture('df_root.txt'),
             '/srv/homelab/sso/config': '/dev/vdb 1073741824 1020054732 53687092 95% /srv'}
    report = pre.preflight_assess(facts(disks=disks), requirements('authentication-stack', 'sso'), best_effort())
    srv = [d for d in report['resources']['disks'] if d['mount'] == '/srv'][0]
    assert srv['required_gb'] == 1.0 and srv['status'] == 'fail'
    assert 'disk /srv is 95% used, above the fail level 75%' in report['critical_issues']
    assert 'disk /srv has 0.1 GB free, the storage needs 1.0 GB' in report['critical_issues']


def test_memory_below_the_pattern_s_needs_refuses():
    meminfo = 'MemTotal:        4000000 kB\nMemFree:  100000 kB\nMemAvailable:    1000000 kB\n'
    report = pre.preflight_assess(facts(meminfo=meminfo), requirements('photo-management-stack', 'photos'),
                                  best_effort(memory_fail_percent=95))
    assert report['decision'] == 'refuse'
    assert 'free memory 1.0 GiB is below the 4.4 GiB the services expect to use (MemoryHigh)' in report['critical_issues']
    assert report['resources']['memory']['used_percent'] == 75


def test_memory_between_high_and_max_warns():
    meminfo = 'MemTotal: 8000000 kB\nMemAvailable: 1500000 kB\n'
    report = pre.preflight_assess(facts(meminfo=meminfo), requirements(), best_effort())
    assert "free memory 1.4 GiB is below the services' hard limits (1.8 GiB MemoryMax)" in report['warnings']


def test_memory_use_above_the_fail_level_refuses():
    meminfo = 'MemTotal: 100000000 kB\nMemAvailable: 5000000 kB\n'
    report = pre.preflight_assess(facts(meminfo=meminfo), requirements(), best_effort())
    assert 'memory 95% used, above the fail level 90%' in report['critical_issues']


# -- health --------------------------------------------------------------------------------------------

def degraded_facts(**changes):
    return facts(failed_units=json.loads(fixture('degraded_failed_units.json')),
                 containers=json.loads(fixture('degraded_containers.json')), **changes)


def test_failed_units_and_unhealthy_containers_lower_the_score():
    report = pre.preflight_assess(degraded_facts(), requirements(), best_effort())
    assert report['health_deductions'] == [
        {'points': 10, 'reason': 'failed units: hlfail-demo.service'},
        {'points': 10, 'reason': 'unhealthy containers: hlunhealthy'}]
    assert report['health_score'] == 80 and report['health'] == 'healthy'


def test_podman_healthcheck_transient_units_are_not_counted_twice():
    units = json.loads(fixture('degraded_failed_units.json'))
    assert len(units) == 2
    assert pre._failed_units(units) == ['hlfail-demo.service']


def test_degraded_host_needs_approval():
    restarts = 'Id=a.service\nNRestarts=3\n\nId=b.service\nNRestarts=0\n'
    load = '4.10 3.00 2.00 1/128 4081'
    report = pre.preflight_assess(degraded_facts(unit_restarts=restarts, loadavg=load), requirements(), best_effort())
    assert report['health_deductions'] == [
        {'points': 10, 'reason': 'failed units: hlfail-demo.service'},
        {'points': 10, 'reason': 'unhealthy containers: hlunhealthy'},
        {'points': 5, 'reason': 'services restarted by systemd since their last start: a.service'},
        {'points': 10, 'reason': 'load 1.50 per CPU is above 1.00'}]
    assert report['health_score'] == 65 and report['health'] == 'degraded'
    assert report['risk'] == {'pattern': 'medium', 'health': 'degraded', 'score': 4, 'level': 'medium'}
    assert report['strategy'] == 'direct_extended_monitoring'
    assert report['decision'] == 'refuse'
    assert report['approval'] == {'required': True, 'given': False,
                                  'reason': 'the host is degraded; set approve_degraded=true to deploy anyway'}
    approved = pre.preflight_assess(degraded_facts(unit_restarts=restarts, loadavg=load), requirements(),
                                    best_effort(approve_degraded=True))
    assert approved['decision'] == 'proceed'
    assert approved['approval']['reason'] == 'approved by approve_degraded=true'


def test_approval_does_not_override_critical_issues():
    report = pre.preflight_assess(degraded_facts(loadavg='9 9 9 1/1 1'), requirements(),
                                  best_effort(approve_degraded=True, disk_fail_percent=20, disk_warn_percent=10))
    assert report['decision'] == 'refuse'
    assert report['approval']['reason'].startswith('critical issues: disk / is 32% used')


@pytest.mark.parametrize('risk, health_score, level, strategy', [
    ('low', 100, 'low', 'direct'),
    ('medium', 100, 'low', 'direct'),
    ('high', 100, 'medium', 'direct_extended_monitoring'),
    ('critical', 100, 'medium', 'direct_extended_monitoring'),
    ('low', 60, 'low', 'direct'),
    ('high', 60, 'high', 'canary'),
    ('critical', 60, 'critical', 'defer'),
    ('medium', 40, 'high', 'canary'),
    ('high', 40, 'critical', 'defer'),
])
def test_risk_matrix(risk, health_score, level, strategy):
    health = pre._classify(health_score, pre.DEFAULT_SETTINGS)
    got, chosen = pre._risk(risk, health)
    assert (got['level'], chosen) == (level, strategy)


def test_deferred_risk_proceeds_as_canary_only_when_approved():
    load = '9.00 9.00 9.00 1/128 1'
    req = requirements('password-manager', 'vault')
    refused = pre.preflight_assess(degraded_facts(loadavg=load), req, best_effort())
    assert (refused['health'], refused['strategy'], refused['decision']) == ('degraded', 'defer', 'refuse')
    approved = pre.preflight_assess(degraded_facts(loadavg=load), req, best_effort(approve_degraded=True))
    assert (approved['strategy'], approved['decision']) == ('canary', 'proceed')
    assert 'deferring was advised; deploying as a canary because approve_degraded=true' in approved['warnings']


# -- conflicts -----------------------------------------------------------------------------------------

def test_port_held_by_another_container_is_a_conflict():
    overrides = {'services': {'mqtt': {'publish': [{'host_ip': '0.0.0.0', 'host_port': 80, 'container_port': 1883}]}}}
    report = pre.preflight_assess(facts(), requirements('home-automation-stack', 'home', overrides), best_effort())
    assert report['conflicts']['ports'] == [
        'port 0.0.0.0:80/tcp is already in use by container traefik (listening on 0.0.0.0)']
    assert report['decision'] == 'refuse'


def test_port_on_another_address_is_free():
    overrides = {'variables': {'mqtt_bind': '127.0.0.2'},
                 'services': {'mqtt': {'publish': [{'host_ip': '{mqtt_bind}', 'host_port': 8080, 'container_port': 1883}]}}}
    report = pre.preflight_assess(facts(), requirements('home-automation-stack', 'home', overrides), best_effort())
    assert report['conflicts']['ports'] == []


def test_port_held_by_our_own_container_is_not_a_conflict():
    containers = json.loads(fixture('containers.json'))
    mine = copy.deepcopy(containers[0])
    mine.update(Names=['home-mqtt'], Labels={'io.homelab.deploy.instance': 'home'},
                Ports=[{'host_ip': '', 'container_port': 1883, 'host_port': 1883, 'protocol': 'tcp'}])
    listening = fixture('ss.txt') + 'tcp LISTEN 0 4096 0.0.0.0:1883 0.0.0.0:*\n'
    report = pre.preflight_assess(facts(containers=containers + [mine], listening=listening),
                                  requirements('home-automation-stack', 'home'), best_effort())
    assert report['conflicts'] == {'names': [], 'ports': [], 'hostnames': []}
    foreign = pre.preflight_assess(facts(containers=containers + [dict(mine, Labels={})], listening=listening),
                                   requirements('home-automation-stack', 'home'), best_effort())
    assert foreign['conflicts']['names'] == ['container home-mqtt exists and does not belong to home']
    assert foreign['conflicts']['ports'] == [
        'port 0.0.0.0:1883/tcp is already in use by container home-mqtt (listening on 0.0.0.0)']


def test_name_conflicts_spare_our_own_objects():
    networks = json.loads(fixture('networks.json')) + [
        {'name': 'wiki-backend', 'labels': {'io.homelab.deploy.instance': 'wiki'}}]
    volumes = [{'Name': 'wiki-db-data', 'Labels': {'io.homelab.deploy.instance': 'other'}}]
    report = pre.preflight_assess(
        facts(networks=networks, volumes=volumes, unit_files_existing=['wiki-db.container', 'wiki-app.container'],
              unit_files_ours=['wiki-app.container']), requirements(), best_effort())
    assert report['conflicts']['names'] == ['unit file wiki-db.container exists and does not belong to wiki',
                                            'volume wiki-db-data exists and does not belong to wiki']


def test_host_name_routed_by_someone_else():
    routers = [{'name': 'wiki@file', 'rule': 'Host(`wiki.localhost`)'},
               {'name': 'old-wiki@file', 'rule': 'Host(`a.test`) || Host(`wiki.localhost`)'}]
    report = pre.preflight_assess(facts(routers=routers), requirements(), best_effort())
    assert report['conflicts']['hostnames'] == [
        'host name wiki.localhost is already routed by Traefik router old-wiki@file']


def test_missing_host_path_and_generator_errors_refuse():
    report = pre.preflight_assess(
        facts(missing_host_paths=['/srv/media'],
              generator={'errors': ["converting \"tv.container\": unsupported key 'Memory' in group 'Container'"]}),
        requirements('media-server-stack', 'tv'), best_effort())
    assert 'host path /srv/media does not exist' in report['critical_issues']
    assert report['versions']['ok'] is False
    assert any(i.startswith("the node's quadlet generator (podman 5.4.2) rejects the rendered units: converting")
               for i in report['critical_issues'])


def test_old_versions_refuse():
    report = pre.preflight_assess(facts(systemd_version='systemd 247 (247.3-7)\n'),
                                  requirements(podman='5.5'), best_effort())
    assert 'podman 5.4.2 is older than 5.5, which the pattern needs (Quadlet)' in report['critical_issues']
    assert 'systemd 247 is older than 250, which the pattern needs' in report['critical_issues']


# -- input errors --------------------------------------------------------------------------------------

@pytest.mark.parametrize('settings, message', [
    ({'disk_fail': 3}, r'unknown pre-flight setting\(s\): disk_fail'),
    ({'resource_limits': 'off'}, "resource_limits must be 'enforce' or 'best_effort'"),
    ({'disk_warn_percent': 90, 'disk_fail_percent': 80}, 'warn levels must not be above fail levels'),
])
def test_bad_settings(settings, message):
    with pytest.raises(AnsibleFilterError, match=message):
        pre.preflight_assess(facts(), requirements(), settings)


def test_bad_input_types():
    with pytest.raises(AnsibleFilterError, match='as mappings'):
        pre.preflight_assess([], {})


def test_filter_registry():
    assert sorted(pre.FilterModule().filters()) == ['preflight_assess', 'preflight_unit_sets']


def test_unit_sets_are_the_units_a_best_effort_deploy_writes_per_controller_set():
    loaded = pf.pattern_load('web-app-with-database')
    sets = pre.preflight_unit_sets(loaded, 'wiki', 'system', hostname='wiki.lan')
    assert [s['controllers'] for s in sets] == [[], ['cpu'], ['memory'], ['cpu', 'memory']]
    for item in sets:
        rendered = pf.pattern_render(loaded, 'wiki', hostname='wiki.lan', limits='best_effort',
                                     controllers=item['controllers'])
        plan = pf.pattern_plan(rendered, 'system')
        assert item['units'] == [{'name': u['name'], 'content': u['text']} for phase in plan['phases'] for u in phase]
    text = dict((s['controllers'] and ','.join(s['controllers']) or '', s['units']) for s in sets)
    assert 'MemoryMax=' in ''.join(u['content'] for u in text['cpu,memory'])
    assert 'MemoryMax=' not in ''.join(u['content'] for u in text[''])


def test_one_unit_set_when_limits_make_no_difference(monkeypatch):
    monkeypatch.setattr(pf, 'LIMIT_KEYS', (('Nice', None),))
    sets = pre.preflight_unit_sets(pf.pattern_load('web-app-with-database'), 'wiki')
    assert len(sets) == 1 and sets[0]['controllers'] == []

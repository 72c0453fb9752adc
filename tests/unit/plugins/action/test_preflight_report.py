# -*- coding: utf-8 -*-
"""The pre-flight action: one preflight_info call, judged on the controller, the report written atomically."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
from unittest import mock

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.homelab.deploy.plugins.action import preflight_report as action

MEMINFO = 'MemTotal:        8000000 kB\nMemAvailable:    6000000 kB\n'
FACTS = {'podman_version': '{"Client": {"Version": "5.4.2"}}', 'systemd_version': 'systemd 257 (257.9-1~deb13u1)',
         'podman_info': json.dumps({'host': {'cgroupControllers': ['cpu', 'memory', 'pids']},
                                    'store': {'volumePath': '/var/lib/containers/storage/volumes'}}),
         'failed_units': [], 'containers': [], 'networks': [], 'volumes': [], 'loadavg': '0.10 0.20 0.30 1/100 1234',
         'meminfo': MEMINFO, 'nproc': 2, 'memory_pressure': '', 'listening': '', 'unit_restarts': '',
         'disks': {'/var/lib/containers/storage/volumes': '/dev/root 100000000000 10000000000 90000000000 10% /'},
         'unit_files_existing': [], 'unit_files_ours': [], 'missing_host_paths': [], 'routers': None,
         'warnings': [], 'generator': {'errors': []}}
REQUIREMENTS = {'instance': 'wiki', 'pattern': 'web-app-with-database', 'risk': 'low', 'unit_names': ['wiki.network']}


def run(args, answer):
    task = mock.MagicMock()
    task.args = args
    task.check_mode = False
    task.async_val = 0
    mod = action.ActionModule(task, mock.MagicMock(), mock.MagicMock(), mock.MagicMock(), mock.MagicMock(), mock.MagicMock())
    calls = []

    def execute(module_name, module_args, task_vars):
        calls.append((module_name, module_args))
        return dict(answer)
    mod._execute_module = execute
    mod._remove_tmp_path = lambda path: None
    return mod.run(task_vars={'inventory_hostname': 'node'}), calls


def test_one_host_call_judged_and_written(tmp_path):
    report_dir = str(tmp_path / 'reports')
    result, calls = run({'read': {'instance': 'wiki'}, 'requirements': REQUIREMENTS,
                         'settings': {'scope': 'system', 'resource_limits': 'best_effort'}, 'report_dir': report_dir},
                        {'facts': FACTS, 'controllers': ['cpu', 'memory', 'pids'], 'unit_dir': '/etc/containers/systemd'})
    assert calls == [('homelab.deploy.preflight_info', {'instance': 'wiki'})]
    assert not result.get('failed') and result['changed'] is False
    report = result['report']
    assert report['decision'] == 'proceed' and report['host'] == 'node' and report['checked_at'].endswith('Z')
    assert result['report_path'] == os.path.join(report_dir, 'node-wiki.json')
    with open(result['report_path']) as handle:
        assert json.load(handle) == report
    assert oct(os.stat(result['report_path']).st_mode & 0o777) == '0o644'
    assert os.listdir(report_dir) == ['node-wiki.json']  # no temporary file left


def test_a_failed_read_is_returned_as_it_is():
    result, dummy = run({'requirements': REQUIREMENTS}, {'failed': True, 'msg': 'pre-flight: scope=system needs root'})
    assert result['failed'] and result['msg'] == 'pre-flight: scope=system needs root'


def test_bad_settings_fail_with_the_assessment_message():
    result, dummy = run({'requirements': REQUIREMENTS, 'settings': {'disk_fail': 3}}, {'facts': FACTS})
    assert result['failed'] and 'unknown pre-flight setting(s): disk_fail' in result['msg']


def test_no_report_dir_writes_nothing():
    result, dummy = run({'requirements': REQUIREMENTS, 'settings': {'resource_limits': 'best_effort'}}, {'facts': FACTS})
    assert result['report_path'] is None and result['report']['instance'] == 'wiki'


def test_checked_at_is_utc_with_z():
    import datetime
    when = datetime.datetime(2026, 12, 2, 5, 0, 0, tzinfo=datetime.timezone.utc)
    assert action.checked_at(when) == '2026-12-02T05:00:00Z'


def test_a_pattern_is_loaded_and_rendered_by_the_action_for_one_host_call(tmp_path):
    pattern = {'name': 'reverse-proxy-backend', 'instance': 'bench', 'hostname': 'bench.test',
               'overrides': {'routing': {'port': 8080}}, 'api_url': 'http://127.0.0.1:8080'}
    result, calls = run({'pattern': pattern, 'settings': {'scope': 'system', 'resource_limits': 'best_effort'}},
                        {'facts': FACTS, 'controllers': [], 'unit_dir': '/etc/containers/systemd'})
    assert not result.get('failed'), result
    assert len(calls) == 1 and calls[0][0] == 'homelab.deploy.preflight_info'
    read = calls[0][1]
    assert read['instance'] == 'bench' and read['scope'] == 'system' and read['hostnames'] == ['bench.test']
    assert read['api_url'] == 'http://127.0.0.1:8080'
    assert 'bench-app.container' in read['unit_names']
    # the units the deploy writes, rendered here: the generator dry run on the host validates them
    assert read['unit_sets'] and any(u['name'] == 'bench-app.container' and 'Image=' in u['content']
                                     for u in read['unit_sets'][0]['units'])
    assert result['report']['pattern'] == 'reverse-proxy-backend' and result['pattern'] == 'reverse-proxy-backend'


def test_traefik_is_not_asked_with_an_empty_api_url_and_units_are_not_validated_on_request():
    pattern = {'name': 'reverse-proxy-backend', 'instance': 'bench', 'api_url': '', 'validate_units': False}
    result, calls = run({'pattern': pattern}, {'facts': FACTS, 'controllers': []})
    assert not result.get('failed'), result
    assert calls[0][1]['hostnames'] == [] and calls[0][1]['unit_sets'] == [] and 'api_url' not in calls[0][1]


def test_a_bad_pattern_fails_before_the_host_is_read():
    result, calls = run({'pattern': {'name': 'reverse-proxy-backend', 'instance': 'bench',
                                     'overrides': {'routing': {'port': 'eighty'}}}}, {'facts': FACTS})
    assert result['failed'] and calls == []
    assert 'preflight_overrides' in result['msg'] and 'routing.port' in result['msg'], result['msg']


def test_pattern_and_requirements_are_one_or_the_other():
    with pytest.raises(AnsibleActionFail, match='mutually exclusive'):
        run({'pattern': {'name': 'reverse-proxy-backend', 'instance': 'b'}, 'requirements': REQUIREMENTS}, {'facts': FACTS})
    with pytest.raises(AnsibleActionFail, match='one of'):
        run({}, {'facts': FACTS})

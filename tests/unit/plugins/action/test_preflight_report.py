# -*- coding: utf-8 -*-
"""The pre-flight action: one preflight_info call, judged on the controller, the report written atomically."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
from unittest import mock

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

# -*- coding: utf-8 -*-
"""The deploy executor's flow, with the host modules replaced by scripted results."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from unittest import mock

import pytest

from ansible_collections.homelab.deploy.plugins.action import deploy as action

PLAN = {
    'name': 'demo', 'kind': 'stack', 'scope': 'system',
    'phases': [
        [{'name': 'demo.network', 'text': '[Network]\n', 'service': None, 'container': None, 'wait': False}],
        [{'name': 'demo-db.container', 'text': '[Container]\nImage=db\n', 'service': 'db', 'container': 'demo-db',
          'image': 'db', 'wait': True, 'timeout': 60}],
        [{'name': 'demo-web.container', 'text': '[Container]\nImage=web\n', 'service': 'web', 'container': 'demo-web',
          'image': 'web', 'wait': True, 'timeout': 60}],
    ],
    'routes': [{'name': 'demo-web', 'service': 'web', 'hostname': ['demo.localhost'], 'urls': ['http://demo-web:8080'],
                'middlewares': [], 'public': False}],
    'verify': [{'name': 'page', 'http': {'url': 'http://127.0.0.1/', 'host': 'demo.localhost', 'status': [200]}}],
}

APPLIED = {
    'changed': True, 'images': {'demo-db.container': 'db@sha256:1', 'demo-web.container': 'web@sha256:2'},
    'units': {'demo.network': {'action': 'write', 'service': 'none'},
              'demo-db.container': {'action': 'write', 'service': 'start', 'seconds_to_healthy': 3.2},
              'demo-web.container': {'action': 'unchanged', 'service': 'none'}},
    'phases': [{'phase': 0, 'units': ['demo.network'], 'seconds': 0.1},
               {'phase': 1, 'units': ['demo-db.container'], 'seconds': 3.4},
               {'phase': 2, 'units': ['demo-web.container'], 'seconds': 0.0}],
    'seconds': {'total': 4.0},
}


def make(args, results, check_mode=False):
    """An ActionModule whose host calls answer from results {module: [result, ...]}; returns (module, calls)."""
    task = mock.MagicMock()
    task.args = args
    task.check_mode = check_mode
    task.async_val = 0
    mod = action.ActionModule(task, mock.MagicMock(), mock.MagicMock(), mock.MagicMock(), mock.MagicMock(), mock.MagicMock())
    calls = []

    def execute(module_name, module_args, task_vars):
        calls.append((module_name, module_args))
        return dict(results[module_name].pop(0))
    mod._execute_module = execute
    mod._remove_tmp_path = lambda path: None
    return mod, calls


def run(args, results, check_mode=False):
    mod, calls = make(args, results, check_mode)
    with mock.patch.object(action.display, 'display'):
        return mod.run(task_vars={'inventory_hostname': 'node'}), calls


def test_one_transaction_then_routes_then_checks():
    result, calls = run({'plan': PLAN, 'secrets': {'demo-db-password': 's3cret'}},
                        {action.APPLY: [APPLIED, {'verify': [{'name': 'page', 'ok': True}], 'seconds': {'verify': 0.5}}],
                         action.ROUTE: [{'changed': True, 'diff': {'before': ''}}]})
    assert [c[0] for c in calls] == [action.APPLY, action.ROUTE, action.APPLY]
    first = calls[0][1]
    assert [u['phase'] for u in first['units']] == [0, 1, 2]
    assert first['units'][1] == {'name': 'demo-db.container', 'phase': 1, 'state': 'present',
                                 'content': '[Container]\nImage=db\n', 'wait': True, 'timeout': 60}
    assert first['secrets'] == {'demo-db-password': 's3cret'} and 'verify' not in first
    assert 'service' not in calls[1][1]  # ours, not a traefik_route option
    assert calls[2][1]['verify'] == PLAN['verify'] and 'units' not in calls[2][1]
    assert result['outcome'] == 'success' and not result['failed']
    assert result['changed_services'] == ['db'] and result['service_seconds'] == {'db': 3.2}
    assert result['seconds']['phase 1'] == 3.4 and result['seconds']['verify'] == 0.5
    event = result['ansible_stats']['data']['homelab_deploy_events'][0]
    assert event['kind'] == 'stack' and event['outcome'] == 'success' and event['host'] == 'node'
    assert event['images'] == {'demo-db': 'db@sha256:1', 'demo-web': 'web@sha256:2'}
    assert 's3cret' not in repr(result)


def test_failed_phase_is_reported_and_nothing_is_routed():
    failed = dict(APPLIED, failed=True, msg='db did not get healthy',
                  failure={'service': 'db', 'check': 'health', 'cause': 'unhealthy', 'evidence': 'exit 1'},
                  rollback={'ok': True, 'restored': ['demo-db.container'], 'removed': [], 'errors': []})
    result, calls = run({'plan': PLAN}, {action.APPLY: [failed], action.ROUTE: []})
    assert [c[0] for c in calls] == [action.APPLY]
    assert result['failed'] and result['outcome'] == 'rolled_back'
    assert result['ansible_stats']['data']['homelab_deploy_events'][0]['failure']['service'] == 'db'
    assert 'FAILED: db (health): unhealthy' in result['msg']


def test_failed_check_withdraws_the_new_route():
    verify_failed = {'failed': True, 'msg': 'page failed', 'failure': {'service': 'web', 'check': 'verify: page'},
                     'rollback': {'ok': True, 'restored': [], 'removed': ['demo-web.container']}}
    result, calls = run({'plan': PLAN}, {action.APPLY: [APPLIED, verify_failed],
                                         action.ROUTE: [{'changed': True, 'diff': {'before': ''}}, {'changed': True}]})
    assert [c[0] for c in calls] == [action.APPLY, action.ROUTE, action.APPLY, action.ROUTE]
    assert calls[3][1]['state'] == 'absent' and calls[3][1]['name'] == 'demo-web'
    assert result['outcome'] == 'rolled_back' and result['failure']['check'] == 'verify: page'


def test_failed_route_reverts_the_transaction():
    result, calls = run({'plan': PLAN}, {action.APPLY: [APPLIED, {'changed': True, 'rollback': {'ok': True}}],
                                         action.ROUTE: [{'failed': True, 'msg': 'policy: public route needs ...'}]})
    assert [c[0] for c in calls] == [action.APPLY, action.ROUTE, action.APPLY]
    assert calls[2][1]['revert'] is True
    assert result['failed'] and result['failure']['check'] == 'route'


def test_check_mode_runs_no_checks_and_publishes_nothing():
    result, calls = run({'plan': PLAN}, {action.APPLY: [APPLIED], action.ROUTE: [{'changed': True}]}, check_mode=True)
    assert [c[0] for c in calls] == [action.APPLY, action.ROUTE]
    assert 'ansible_stats' not in result and 'event' not in result


def test_no_change_publishes_nothing_and_proves_nothing_again():
    same = dict(APPLIED, changed=False, units=dict((k, {'action': 'unchanged', 'service': 'none'}) for k in APPLIED['units']))
    result, calls = run({'plan': PLAN}, {action.APPLY: [same], action.ROUTE: [{'changed': False}]})
    assert [c[0] for c in calls] == [action.APPLY, action.ROUTE]  # no verification round trip
    assert not result['changed'] and result['changed_services'] == [] and 'ansible_stats' not in result


def test_checks_run_without_routes_too():
    result, calls = run({'plan': dict(PLAN, routes=[])}, {action.APPLY: [APPLIED, {'verify': [{'name': 'page', 'ok': True}]}]})
    assert [c[0] for c in calls] == [action.APPLY, action.APPLY] and calls[1][1]['verify'] == PLAN['verify']


def test_absent_withdraws_routes_first_and_purges_only_on_request():
    result, calls = run({'plan': PLAN, 'state': 'absent'},
                        {action.APPLY: [{'changed': True}], action.ROUTE: [{'changed': True}]})
    assert [c[0] for c in calls] == [action.ROUTE, action.APPLY]
    units = calls[1][1]['units']
    assert all(u['state'] == 'absent' for u in units)
    assert [u['purge'] for u in units] == [False, True, True]  # left-over containers always go


@pytest.mark.parametrize('publish', [True, False])
def test_publish_false_keeps_the_event_for_the_caller(publish):
    result, dummy = run({'plan': dict(PLAN, routes=[], verify=[]), 'publish': publish}, {action.APPLY: [APPLIED]})
    assert result['event']['name'] == 'demo'
    assert ('ansible_stats' in result) is publish


def test_health_timeout_overrides_every_unit():
    dummy, calls = run({'plan': dict(PLAN, routes=[], verify=[]), 'health_timeout': 300}, {action.APPLY: [APPLIED]})
    assert [u['timeout'] for u in calls[0][1]['units']] == [300, 300, 300]

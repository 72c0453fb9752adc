# -*- coding: utf-8 -*-
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible_collections.homelab.deploy.plugins.plugin_utils import _events as events
from ansible_collections.homelab.deploy.plugins.plugin_utils._history import normalize_event

PLAN = {'name': 'immich', 'kind': 'stack', 'scope': 'system', 'phases': [
    [{'name': 'immich.network'}, {'name': 'immich-pgdata.volume'}, {'name': 'immich-cache.volume'}],
    [{'name': 'immich-database.container', 'service': 'database', 'container': 'immich-database', 'image': 'pg'},
     {'name': 'immich-redis.container', 'service': 'redis', 'container': 'immich-redis', 'image': 'valkey'}],
    [{'name': 'immich-server.container', 'service': 'server', 'container': 'immich-server', 'image': 'web'}]]}
RUN = {'outcome': 'success', 'changed_services': ['server'], 'seconds': {'phase 1': 2.0, 'total': 5.0},
       'service_seconds': {'server': 1.5}, 'images': {'immich-server.container': 'web@sha256:ab'},
       'units': {'immich-server.container': {'action': 'write', 'service': 'restart', 'seconds_to_healthy': 1.46},
                 'immich-database.container': {'action': 'unchanged', 'service': 'none'}},
       'phases': [{'phase': 1, 'units': ['immich-database.container', 'immich-redis.container'], 'seconds': 0.02},
                  {'phase': 2, 'units': ['immich-server.container'], 'seconds': 1.51}]}


def test_event_is_what_the_history_stores():
    event = events.deploy_event('stack', 'node', 'immich', 'success', 100.0, 112.34, images={'a': 'b'})
    assert event['duration'] == 12.3 and event['failure'] is None
    row = normalize_event(event)
    assert row['kind'] == 'stack' and row['started'] == 100.0


def test_result_keeps_the_stack_result_shape():
    result = events.deploy_result(RUN, PLAN)
    assert result['phases'] == [['database', 'redis'], ['server']]  # the network/volume phase is not a service phase
    assert result['images'] == {'immich-database': 'pg', 'immich-redis': 'valkey', 'immich-server': 'web@sha256:ab'}
    assert result['changed'] == ['server'] and result['outcome'] == 'success'


def test_phase_lines_say_what_started_and_how_long_it_took():
    lines = events.phase_lines(PLAN, RUN)
    assert lines == ['immich phase 1 [database, redis]: unchanged in 0.0 s',
                     'immich phase 2 [server]: server restarted (healthy in 1.5 s) in 1.5 s']


LIVE_PLAN = dict(PLAN, phases=[PLAN['phases'][0], [dict(u, unit=u['container'] + '.service') for u in PLAN['phases'][1]],
                               [dict(u, unit=u['container'] + '.service') for u in PLAN['phases'][2]]])


@pytest.mark.parametrize('event, line', [
    ({'event': 'phase', 'phase': 1, 't': 1.2, 'start': ['immich-database.service', 'immich-redis.service'], 'restart': []},
     '[  1.2 s] immich phase 1: start database, redis'),
    ({'event': 'phase', 'phase': 0, 't': 0.5, 'start': ['immich-network.service']},
     '[  0.5 s] immich infra: start immich-network.service'),
    ({'event': 'healthy', 'container': 'immich-redis', 't': 2.8, 'seconds': 1.54},
     '[  2.8 s] immich: redis healthy after 1.5 s'),
    ({'event': 'healthy', 'container': 'immich-redis.service', 't': 2.8, 'seconds': 1.54},
     '[  2.8 s] immich: redis done after 1.5 s'),
    ({'event': 'phase_done', 'phase': 2, 't': 9.0, 'ok': False, 'seconds': 7.8}, '[  9.0 s] immich phase 2 failed after 7.8 s'),
    ({'event': 'phase_done', 'phase': 2, 't': 9.0, 'ok': True, 'seconds': 7.8}, None),
    ({'event': 'rollback', 't': 9.1, 'cause': 'phase 2: x'}, '[  9.1 s] immich: rolling back: phase 2: x'),
    ({'event': 'locked', 't': 0.1}, None),
    ({'event': 'health', 't': 9.5, 'names': ['immich-server', 'immich-redis']},
     '[  9.5 s] immich: checking that server, redis are still healthy'),
])
def test_progress_lines_name_the_logical_services(event, line):
    assert events.progress_line(LIVE_PLAN, event) == line


def test_summary_has_per_service_and_total_times():
    lines = events.summary_lines(PLAN, RUN, ['immich-server'], 5.04)
    assert lines[0] == 'immich: 3 phase(s), 6 unit(s); changed: server; routes changed: immich-server'
    assert 'time to healthy: server 1.5 s' in lines
    assert lines[-1].endswith('total 5.0 s')


@pytest.mark.parametrize('outcome, rollback, enabled, expected', [
    ('rolled_back', {'ok': True, 'restored': ['immich-server.container']}, True,
     'rollback: every touched service is back to its previous state and healthy'),
    ('failed', {'ok': False, 'errors': ['immich-server.service did not start']}, True,
     'rollback: INCOMPLETE: immich-server.service did not start'),
    ('failed', {}, False, 'rollback: disabled, the host is left as it is'),
    ('refused', {}, True, 'rollback: not needed, the set was refused before anything on the host changed'),
])
def test_report(outcome, rollback, enabled, expected):
    run = {'outcome': 'failed' if outcome == 'refused' else outcome, 'rollback': rollback, 'refused': outcome == 'refused',
           'failure': {'service': 'server', 'check': 'health', 'status': 'unhealthy', 'cause': 'unhealthy',
                       'evidence': 'exit 1'}}
    report = events.deploy_report(run, PLAN, 'node', enabled)
    assert report.splitlines()[0] == 'stack immich on node FAILED: service server, check health (unhealthy)'
    assert expected in report.splitlines()
    assert 'volumes kept: immich-cache, immich-pgdata' in report
    if rollback.get('restored'):
        assert 'restored: server;' in report


def test_failure_record_names_the_plan_service_and_turns_evidence_into_text():
    failure = {'unit': 'immich-server.container', 'service': 'immich-server.service', 'check': 'health',
               'cause': 'immich-server.service did not become healthy: unhealthy (3 failed checks)',
               'evidence': {'status': 'x.service - failed', 'logs': 'boot\ncrash\n', 'health_status': 'unhealthy',
                            'health_log': [{'exit_code': 1, 'output': 'nope\n'}]}}
    record = events.failure_record(PLAN, failure)
    assert record['service'] == 'server' and record['check'] == 'health' and record['status'] == 'unhealthy'
    assert 'check health (unhealthy)' in events.deploy_report({'failure': record}, PLAN, 'node')
    assert record['evidence'].splitlines()[:4] == ['healthcheck exit 1: nope', 'last log lines of server:', 'boot', 'crash']


def test_failure_record_of_a_check_names_the_container_service():
    failure = {'unit': None, 'service': None, 'check': 'verify page', 'cause': 'HTTP 502',
               'evidence': {'container': 'immich-server'}}
    assert events.failure_record(PLAN, failure)['service'] == 'server'


def test_evidence_keeps_the_health_log_when_the_status_is_long():
    failure = {'unit': 'immich-server.container', 'check': 'health',
               'evidence': {'status': 'x' * 200 + '\n' + ('journal line\n' * 400), 'logs': 'l\n' * 100,
                            'health_log': [{'exit_code': 1, 'output': 'refused'}]}}
    text = events.failure_record(PLAN, failure)['evidence']
    assert text.startswith('healthcheck exit 1: refused') and len(text) <= events.EVIDENCE_CHARS
    assert text.count('journal line') == 8


# -- the deploy_service event ---------------------------------------------------------------------------------------

SERVICE_RESULT = {'strategy': 'direct', 'changed': True, 'url': 'http://wiki.test/',
                  'container_images': {'wiki-app': 'localhost/wiki@sha256:ab'}}


def test_service_event_of_a_deploy_that_ran_pins_images_and_times_each_phase():
    run = {'started': 100.0, 'marks': {'preflight': 101.5, 'deploy': 104.0, 'verify': 104.5}, 'name': 'wiki',
           'pattern': 'web-app', 'result': SERVICE_RESULT, 'gate': {'allowed': True, 'reason': 'level 2'},
           'level': {'level': 2}, 'approved': False, 'recommended': None}
    event = events.service_event('node', run, 105.0)
    assert event['outcome'] == 'success' and event['kind'] == 'deploy' and event['failure'] is None
    assert event['images'] == {'wiki-app': 'localhost/wiki@sha256:ab'} and event['strategy'] == 'direct'
    assert event['phases'] == {'preflight': 1.5, 'deploy': 2.5, 'verify': 0.5} and event['duration'] == 5.0
    assert event['automation_level'] == 2
    assert event['details'] == {'changed': True, 'url': 'http://wiki.test/', 'approved': False, 'gate': 'level 2',
                                'recommended': None}


def test_service_event_of_a_refusal_names_the_approval_and_the_images_it_would_have_run():
    run = {'started': 100.0, 'marks': {}, 'name': 'wiki', 'pattern': 'web-app',
           'loaded': {'services': {'app': {'image': 'wiki:2'}, 'db': {'image': 'pg:17'}}},
           'gate': {'allowed': False, 'reason': 'level 1 needs approval'},
           'failed': {'task': 'Refuse a deploy', 'result': {'msg': 'refused: level 1 needs approval\nmore'}}}
    event = events.service_event('node', run, 100.2)
    assert event['outcome'] == 'refused' and event['phases'] == {} and event['strategy'] == ''
    assert event['images'] == {'wiki-app': 'wiki:2', 'wiki-db': 'pg:17'}
    assert event['failure'] == {'service': '', 'check': 'approval', 'cause': 'refused: level 1 needs approval',
                                'evidence': ''}
    assert 'automation_level' not in event


def test_service_event_keeps_the_executors_failure_record_and_outcome():
    failure = {'service': 'app', 'check': 'health', 'cause': 'unhealthy', 'evidence': 'exit 1'}
    run = {'started': 100.0, 'marks': {'preflight': 101.0}, 'name': 'wiki', 'preflight_strategy': 'canary',
           'failed': {'task': 'Deploy the units', 'result': {'msg': 'x', 'outcome': 'rolled_back', 'failure': failure}}}
    event = events.service_event('node', run, 110.0)
    assert event['outcome'] == 'rolled_back' and event['failure'] == failure and event['strategy'] == 'canary'
    assert event['phases'] == {'preflight': 1.0}


def test_service_event_of_a_failed_loop_takes_the_failed_item_and_the_end_of_its_evidence():
    status = '\n'.join('line %d' % i for i in range(30))
    run = {'started': 100.0, 'marks': {'preflight': 101.0}, 'name': 'wiki',
           'failed': {'task': 'Create the directories', 'result': {'msg': 'One or more items failed', 'results': [
               {'changed': False}, {'failed': True, 'msg': 'permission denied\ndetail', 'item': {'name': 'data'},
                                    'status': status}]}}}
    event = events.service_event('node', run, 101.5)
    assert event['outcome'] == 'failed'
    assert event['failure']['service'] == 'data' and event['failure']['cause'] == 'permission denied'
    assert event['failure']['check'] == 'Create the directories'
    assert event['failure']['evidence'].splitlines() == ['line %d' % i for i in range(15, 30)]


def test_phase_seconds_carry_the_verification_and_the_health_recheck():
    seconds = events.phase_seconds(PLAN, dict(RUN, seconds={'verify': 0.44, 'health': 0.21, 'total': 3.0}))
    assert seconds['verify'] == 0.4 and seconds['health'] == 0.2

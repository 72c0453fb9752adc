# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the analytics math, the automation levels and the gate."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.deploy.plugins.filter import analytics as an
from ansible_collections.homelab.deploy.plugins.plugin_utils._history import append_events

DAY = 86400.0
T0 = 1764547200.0  # 2025-12-01 00:00 UTC, a Monday (ISO week 2025-W49)


def rec(started, outcome='success', pattern='web', duration=10.0, kind='deploy', phases=None, failure=None, host='node'):
    return {'kind': kind, 'host': host, 'name': 'svc', 'pattern': pattern, 'outcome': outcome, 'started': started,
            'duration': duration, 'phases': phases or {}, 'failure': failure, 'details': {}, 'images': {}}


HISTORY = [
    rec(T0 + 1, duration=10.0, phases={'preflight': 2.0, 'deploy': 7.0, 'verify': 1.0}),
    rec(T0 + 2, duration=30.0, phases={'preflight': 2.0, 'deploy': 27.0, 'verify': 1.0}),
    rec(T0 + 3, 'rolled_back', duration=50.0, failure={'check': 'health', 'cause': 'app did not become healthy\nlog'}),
    rec(T0 + DAY * 8, 'failed', pattern='db', duration=5.0, failure={'check': 'health', 'cause': 'app did not become healthy'}),
    rec(T0 + DAY * 8 + 1, pattern='db', duration=100.0, phases={'image pull': 90.0, 'verify': 10.0}),
    rec(T0 + DAY * 9, 'refused', duration=0.5, failure={'check': 'approval', 'cause': 'no'}),
    rec(T0 + DAY * 9 + 5, kind='rollback', duration=4.0),
]


def test_totals_rates_and_timings():
    rep = an.deployment_analytics(HISTORY, T0, T0 + 14 * DAY, manual_minutes=10)
    assert rep['totals'] == {'records': 7, 'deployments': 6, 'success': 4, 'failed': 1, 'rolled_back': 1, 'refused': 1,
                             'by_kind': {'deploy': 5, 'rollback': 1}}
    assert rep['success_rate'] == round(4 / 6.0, 4)
    assert rep['rollbacks'] == 2  # one rolled-back deploy, one explicit rollback
    assert rep['duration'] == {'count': 6, 'mean': round(199.0 / 6, 2), 'median': 20.0}
    assert rep['per_week'] == [{'week': '2025-W49', 'deployments': 3}, {'week': '2025-W50', 'deployments': 3}]
    assert rep['time_saved'] == {'manual_minutes': 10.0, 'successes': 4, 'automated_seconds': 144.0,
                                 'saved_seconds': 2400.0 - 144.0, 'saved_hours': round(2256.0 / 3600, 2)}


def test_patterns_causes_and_slowest_with_suggestions():
    rep = an.deployment_analytics(HISTORY, T0, T0 + 14 * DAY)
    assert rep['patterns'] == [
        {'pattern': 'web', 'deployments': 4, 'successes': 3, 'success_rate': 0.75},
        {'pattern': 'db', 'deployments': 2, 'successes': 1, 'success_rate': 0.5}]
    assert rep['failure_causes'] == [{'cause': 'health: app did not become healthy', 'count': 2}]
    slow = rep['slowest_patterns']
    assert [s['pattern'] for s in slow] == ['db', 'web']
    assert slow[0]['mean_duration'] == 100.0 and slow[0]['slowest_phase'] == 'image pull'
    assert slow[0]['slowest_phase_share'] == 90.0 and 'pre-pull' in slow[0]['suggestion']
    assert slow[1]['mean_duration'] == round(44.0 / 3, 2) and slow[1]['slowest_phase'] == 'deploy'


def test_period_bounds_and_trend():
    rep = an.deployment_analytics(HISTORY, T0 + DAY, T0 + 10 * DAY)
    assert rep['totals']['records'] == 4
    assert rep['trend_granularity'] == 'day' and len(rep['trend']) == 9
    day8 = [t for t in rep['trend'] if t['bucket'] == '2025-12-09'][0]
    assert (day8['success'], day8['failed'], day8['rolled_back'], day8['mean_duration']) == (1, 1, 0, 52.5)
    weekly = an.deployment_analytics(HISTORY, T0 - 60 * DAY, T0 + 14 * DAY)
    assert weekly['trend_granularity'] == 'week' and sum(t['success'] for t in weekly['trend']) == 4


def test_period_days_and_iso_bounds():
    rep = an.deployment_analytics(HISTORY, None, T0 + 14 * DAY, period_days=6)
    assert rep['totals']['records'] == 4
    assert an.deployment_analytics(HISTORY, '2025-12-09', '2025-12-10')['totals']['records'] == 2


def test_empty_history():
    rep = an.deployment_analytics([], None, T0)
    assert rep['totals']['deployments'] == 0 and rep['success_rate'] is None and rep['duration']['mean'] is None


@pytest.mark.parametrize('args, message', [
    (('nope',), 'expected the list'),
    (([], 'yesterday'), 'neither epoch seconds nor an ISO 8601 date'),
    (([], None, None, 'lots'), 'manual_minutes must be a number'),
])
def test_bad_input(args, message):
    with pytest.raises(AnsibleFilterError, match=message):
        an.deployment_analytics(*args)


def test_history_records_reads_the_store(tmp_path):
    db = str(tmp_path / 'h.sqlite')
    append_events(db, HISTORY, 'r')
    assert len(an.history_records(db)) == 7
    assert len(an.history_records(db, T0 + DAY)) == 4


# -- levels -------------------------------------------------------------------------------------------

REQS = {2: {'successful_deployments': 3, 'success_rate': 0.75, 'rollback_free_last': 2}}


def successes(n, start=0):
    return [rec(T0 + start + i) for i in range(n)]


@pytest.mark.parametrize('records, max_level, expected', [
    ([], 2, 1),                                            # no track record: assisted
    (successes(3), 2, 2),                                  # requirements met
    (successes(3), 1, 1),                                  # met, but the config caps it
    (successes(3), 0, 0),                                  # level 0 always possible
    (successes(2), 2, 1),                                  # too few successes
    (successes(3) + [rec(T0 + 9, 'rolled_back')], 2, 1),   # a rollback in the last 2
    (successes(3) + [rec(T0 + 9, 'rolled_back')] + successes(2, 20), 2, 2),  # rollback out of the window
    (successes(3) + [rec(T0 + 9, 'failed')] * 2, 2, 1),   # success rate 3/5 below 0.75
    (successes(3) + [rec(T0 + 9, 'refused')] * 5, 2, 2),  # refusals are not deployments
    (successes(60), 4, 2),                                 # level 3 needs the notification integration
])
def test_level_from_history(records, max_level, expected):
    assert an.automation_level(records, {'max_level': max_level, 'requirements': REQS})['level'] == expected


def test_level_report_requirements_and_readiness():
    rep = an.automation_level(successes(20), {'max_level': 3, 'integrations': ['notification'],
                                              'requirements': {'3': {'successful_deployments': 25}}})
    assert rep['level'] == 2 and rep['earned_level'] == 2 and rep['next_level'] == 3
    level3 = dict((r['name'], r) for r in rep['requirements'] if r['level'] == 3)
    assert level3['successful_deployments'] == {'level': 3, 'name': 'successful_deployments', 'required': 25,
                                                'actual': 20, 'met': False}
    assert level3['integrations']['met'] and rep['readiness'] == 75.0 and not rep['ready_for_next']
    assert level3['rollback_free_last']['actual'] == 20 and level3['rollback_free_last']['met']
    broken = an.automation_level(successes(3) + [rec(T0 + 9, 'rolled_back')] + successes(1, 20), {'max_level': 2})
    assert [r['actual'] for r in broken['requirements'] if r['name'] == 'rollback_free_last'][0] == 1
    capped = an.automation_level(successes(60), {'max_level': 2, 'integrations': ['notification', 'scheduler']})
    assert capped['level'] == 2 and capped['earned_level'] == 4 and capped['limited_by_config']
    assert capped['readiness'] == 100.0 and not capped['ready_for_next']


def test_level_per_host():
    records = successes(5) + [rec(T0 + 99, 'rolled_back', host='other')]
    config = {'max_level': 2, 'requirements': REQS}
    assert an.automation_level(records, config)['level'] == 1
    assert an.automation_level(records, config, host='node')['level'] == 2


@pytest.mark.parametrize('config, message', [
    ({}, 'max_level must be 0-4'),
    ({'max_level': 7}, 'max_level must be 0-4'),
    ({'max_level': True}, 'max_level must be 0-4'),
    ({'max_level': 2, 'levels': 1}, 'levels is not a setting'),
    ({'max_level': 2, 'requirements': {1: {}}}, 'requirements.1: only levels 2, 3 and 4'),
    ({'max_level': 2, 'requirements': {2: {'uptime': 3}}}, 'requirements.2.uptime is not a requirement'),
    ('max_level: 2', 'must be a mapping'),
])
def test_bad_config_is_named(config, message):
    with pytest.raises(AnsibleFilterError, match=message):
        an.automation_level([], config)


@pytest.mark.parametrize('level, approved, health, check, allowed, needs_approval', [
    (None, False, 'healthy', False, True, False),
    (0, True, 'healthy', False, False, False),
    (0, False, 'healthy', True, True, False),
    (1, False, 'healthy', False, False, True),
    (1, True, 'healthy', False, True, True),
    (2, False, 'healthy', False, True, False),
    (2, False, 'degraded', False, False, True),
    (2, True, 'degraded', False, True, True),
    (4, False, 'healthy', False, True, False),
])
def test_gate(level, approved, health, check, allowed, needs_approval):
    report = None if level is None else {'level': level, 'max_level': level}
    gate = an.automation_gate(report, approved, health, check)
    assert (gate['allowed'], gate['approval_required']) == (allowed, needs_approval)
    assert gate['reason']


@pytest.mark.parametrize('level, launch, allowed', [(2, 'scheduled', False), (3, 'webhook', False), (4, 'scheduled', True),
                                                    (2, 'workflow', True), (1, 'callback', False)])
def test_gate_unattended_runs_need_level_4(level, launch, allowed):
    gate = an.automation_gate({'level': level, 'max_level': 4}, True, 'healthy', False, launch)
    assert gate['allowed'] == allowed and gate['reason']


def test_decision_without_config_is_the_gate_off():
    assert an.automation_decision([], {}) == {'level': None, 'gate': an.automation_gate(None)}


@pytest.mark.parametrize('max_level, approved, check, launch, allowed, level', [
    (0, True, False, 'manual', False, 0), (0, False, True, 'manual', True, 0), (1, False, False, 'manual', False, 1),
    (1, True, False, 'manual', True, 1), (4, True, False, 'scheduled', False, 1)])
def test_decision_is_the_level_of_the_history_and_its_gate(max_level, approved, check, launch, allowed, level):
    decision = an.automation_decision([], {'max_level': max_level}, approved=approved, check_mode=check,
                                      launch_type=launch)
    assert decision['level']['level'] == level and decision['gate']['allowed'] == allowed
    assert decision['gate'] == an.automation_gate(decision['level'], approved, 'healthy', check, launch)


def test_decision_counts_a_notification_url_as_the_integration():
    def level_3_integrations(**kwargs):
        found = an.automation_decision([], {'max_level': 4}, **kwargs)['level']['requirements']
        return [r for r in found if r['level'] == 3 and r['name'] == 'integrations'][0]
    assert level_3_integrations(notify_url='http://ntfy.lan/x')['met']
    assert not level_3_integrations()['met']
    with pytest.raises(AnsibleFilterError, match='must be a mapping'):
        an.automation_decision([], 'max_level: 2')

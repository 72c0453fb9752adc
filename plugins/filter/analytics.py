# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deployment history analytics and automation levels: pure functions of the records the deploy_history callback
writes (history_records reads them), so the numbers are tested with plain lists of records.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import statistics

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.homelab.deploy.plugins.plugin_utils._history import HistoryError, read_events, resolve_path

FAILED = ('failed', 'rolled_back')
LEVELS = {
    0: 'manual: deploy_service only runs in check mode',
    1: 'assisted: every deploy needs deploy_approved=true',
    2: 'approval-free on a healthy host: recommended patterns and atomic stacks deploy without approval',
    3: 'autonomous: deploys with automatic rollback and a notification',
    4: 'scheduled and event-driven runs',
}
DEFAULT_REQUIREMENTS = {
    2: {'successful_deployments': 5, 'success_rate': 0.9, 'rollback_free_last': 5, 'integrations': []},
    3: {'successful_deployments': 20, 'success_rate': 0.95, 'rollback_free_last': 10, 'integrations': ['notification']},
    4: {'successful_deployments': 50, 'success_rate': 0.98, 'rollback_free_last': 20,
        'integrations': ['notification', 'scheduler']},
}
# AWX launch types (awx_job_launch_type) no person started: level 4 only
UNATTENDED_LAUNCHES = ('scheduled', 'webhook', 'callback')
REQUIREMENT_KEYS = ('successful_deployments', 'success_rate', 'rollback_free_last', 'integrations')
# the dominant phase of a slow pattern -> what to do about it (first keyword found in the phase name wins)
SUGGESTIONS = (
    (('pull', 'image'), 'pre-pull the images on the host before the window (podman pull) and pin them by digest'),
    (('preflight', 'pre-flight'), 'deploy related services as one stack so the host is checked once, not per service'),
    (('canary', 'observe'), 'shorten the canary observation window for this low-risk pattern'),
    (('verify', 'health'), 'give the containers a shorter healthcheck interval/start period, so they are judged sooner'),
    (('deploy', 'start', 'unit', 'phase'),
     'pre-pull the images before the window and shorten the healthcheck interval: starting the containers '
     '(image pull, then waiting for Notify=healthy) takes most of the time'),
)


# -- reading ------------------------------------------------------------------------------------------

def to_epoch(value, what='time'):
    """Epoch seconds from a number, an ISO 8601 date/time (UTC unless it says otherwise) or None."""
    if value is None or value == '':
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        pass
    try:
        moment = datetime.datetime.fromisoformat(str(value).replace('Z', '+00:00'))
    except ValueError:
        raise AnsibleFilterError('%s %r is neither epoch seconds nor an ISO 8601 date' % (what, value))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def history_records(path=None, since=None, until=None):
    """The history's records with since <= started < until, oldest first ([] when there is no history yet)."""
    try:
        return read_events(resolve_path(path), to_epoch(since, 'since'), to_epoch(until, 'until'))
    except HistoryError as exc:
        raise AnsibleFilterError(to_native(exc))


# -- analytics ----------------------------------------------------------------------------------------

def _utc(epoch):
    return datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc)


def iso_week(epoch):
    year, week = _utc(epoch).isocalendar()[:2]
    return '%d-W%02d' % (year, week)


def _buckets(since, until, key, step):
    """Every bucket key from since up to until (inclusive of the bucket until-1 falls in)."""
    out, moment = [], since
    while moment < until:
        label = key(moment)
        if not out or out[-1] != label:
            out.append(label)
        moment += step
    last = key(until - 0.001)
    if not out or out[-1] != last:
        out.append(last)
    return out


def _rate(part, whole):
    return round(part / whole, 4) if whole else None


def _cause(record):
    failure = record.get('failure') or {}
    text = (failure.get('cause') or 'unknown') if isinstance(failure, dict) else str(failure)
    first = text.strip().splitlines()[0] if text.strip() else 'unknown'
    check = failure.get('check') if isinstance(failure, dict) else ''
    return ('%s: %s' % (check, first) if check else first)[:160]


def _suggestion(phases):
    """(slowest phase, its share of the time, suggestion) from {phase: mean seconds}."""
    if not phases:
        return None, None, 'record phase timings for this pattern to see where the time goes'
    phase = max(sorted(phases), key=lambda p: phases[p])
    share = round(100.0 * phases[phase] / sum(phases.values()), 1) if sum(phases.values()) else 0.0
    lowered = phase.lower()
    for words, text in SUGGESTIONS:
        if any(w in lowered for w in words):
            return phase, share, text
    return phase, share, 'look at the %s phase first: it takes %s%% of the time' % (phase, share)


def _pattern_stats(deploys):
    out = {}
    for rec in deploys:
        if rec.get('pattern'):
            entry = out.setdefault(rec['pattern'], {'pattern': rec['pattern'], 'deployments': 0, 'successes': 0})
            entry['deployments'] += 1
            entry['successes'] += rec['outcome'] == 'success'
    for entry in out.values():
        entry['success_rate'] = _rate(entry['successes'], entry['deployments'])
    return sorted(out.values(), key=lambda e: (-e['deployments'], e['pattern']))


def _slowest(deploys, top):
    by_pattern = {}
    for rec in deploys:
        if rec.get('pattern') and rec['outcome'] == 'success' and rec.get('duration') is not None:
            by_pattern.setdefault(rec['pattern'], []).append(rec)
    out = []
    for pattern, recs in by_pattern.items():
        phases = {}
        for rec in recs:
            for phase, secs in (rec.get('phases') or {}).items():
                phases.setdefault(phase, []).append(float(secs))
        means = dict((p, sum(v) / len(recs)) for p, v in phases.items())
        phase, share, text = _suggestion(means)
        out.append({'pattern': pattern, 'deployments': len(recs),
                    'mean_duration': round(sum(r['duration'] for r in recs) / len(recs), 2),
                    'slowest_phase': phase, 'slowest_phase_share': share, 'suggestion': text})
    return sorted(out, key=lambda e: (-e['mean_duration'], e['pattern']))[:top]


def _trend(deploys, since, until):
    daily = until - since <= 35 * 86400
    key = (lambda t: _utc(t).strftime('%Y-%m-%d')) if daily else iso_week
    rows = dict((b, {'bucket': b, 'success': 0, 'failed': 0, 'rolled_back': 0, 'durations': []})
                for b in _buckets(since, until, key, 86400 if daily else 7 * 86400))
    for rec in deploys:
        row = rows[key(rec['started'])]
        row[rec['outcome']] += 1
        if rec.get('duration') is not None:
            row['durations'].append(rec['duration'])
    out = []
    for bucket in sorted(rows):
        row = rows.pop(bucket)
        durations = row.pop('durations')
        row['mean_duration'] = round(sum(durations) / len(durations), 2) if durations else None
        out.append(row)
    return 'day' if daily else 'week', out


def deployment_analytics(records, since=None, until=None, manual_minutes=30, top=5, period_days=None):
    """Totals, rates, timings, patterns, failure causes, slow patterns, time saved and trend for a period.

    The period is since <= started < until; without since it is the period_days before until, else all records.
    """
    if not isinstance(records, list):
        raise AnsibleFilterError('deployment_analytics: expected the list history_records returns, got %s'
                                 % type(records).__name__)
    try:
        manual = float(manual_minutes)
    except (TypeError, ValueError):
        raise AnsibleFilterError('deployment_analytics: manual_minutes must be a number, got %r' % (manual_minutes,))
    starts = [r['started'] for r in records]
    until = to_epoch(until, 'until') or (max(starts) + 1 if starts else 0.0)
    since = to_epoch(since, 'since')
    if since is None and period_days not in (None, ''):
        since = until - float(period_days) * 86400
    since = since if since is not None else (min(starts) if starts else until)
    inside = [r for r in records if since <= r['started'] < until]
    deploys = [r for r in inside if r['outcome'] != 'refused']
    outcomes = dict((o, sum(1 for r in inside if r['outcome'] == o)) for o in ('success', 'failed', 'rolled_back', 'refused'))
    kinds = {}
    for rec in deploys:
        kinds[rec['kind']] = kinds.get(rec['kind'], 0) + 1
    durations = [float(r['duration']) for r in deploys if r.get('duration') is not None]
    successes = [r for r in deploys if r['outcome'] == 'success']
    automated = sum(float(r['duration'] or 0) for r in successes)
    causes = {}
    for rec in deploys:
        if rec['outcome'] in FAILED:
            causes[_cause(rec)] = causes.get(_cause(rec), 0) + 1
    granularity, trend = _trend(deploys, since, until)
    weeks = dict((w, 0) for w in _buckets(since, until, iso_week, 86400))
    for rec in deploys:
        weeks[iso_week(rec['started'])] += 1
    return {
        'period': {'since': since, 'until': until, 'since_iso': _utc(since).isoformat(), 'until_iso': _utc(until).isoformat()},
        'totals': dict(outcomes, records=len(inside), deployments=len(deploys), by_kind=kinds),
        'success_rate': _rate(outcomes['success'], len(deploys)),
        'rollbacks': sum(1 for r in deploys if r['outcome'] == 'rolled_back' or r['kind'] == 'rollback'),
        'duration': {'count': len(durations), 'mean': round(sum(durations) / len(durations), 2) if durations else None,
                     'median': round(statistics.median(durations), 2) if durations else None},
        'per_week': [{'week': w, 'deployments': weeks[w]} for w in sorted(weeks)],
        'patterns': _pattern_stats(deploys),
        'failure_causes': [{'cause': c, 'count': n} for c, n in sorted(causes.items(), key=lambda i: (-i[1], i[0]))][:top],
        'slowest_patterns': _slowest(deploys, top),
        'time_saved': {'manual_minutes': manual, 'successes': len(successes), 'automated_seconds': round(automated, 2),
                       'saved_seconds': round(len(successes) * manual * 60 - automated, 2),
                       'saved_hours': round((len(successes) * manual * 60 - automated) / 3600.0, 2)},
        'trend': trend, 'trend_granularity': granularity,
    }


# -- automation levels --------------------------------------------------------------------------------

def _requirements(config):
    merged = dict((lvl, dict(req)) for lvl, req in DEFAULT_REQUIREMENTS.items())
    given = config.get('requirements') or {}
    if not isinstance(given, dict):
        raise AnsibleFilterError('automation config: requirements must be a mapping of level -> requirements')
    for lvl, req in given.items():
        try:
            lvl_int = int(lvl)
        except (TypeError, ValueError):
            lvl_int = -1
        if lvl_int not in DEFAULT_REQUIREMENTS:
            raise AnsibleFilterError('automation config: requirements.%s: only levels 2, 3 and 4 have requirements' % lvl)
        if not isinstance(req, dict):
            raise AnsibleFilterError('automation config: requirements.%s must be a mapping' % lvl)
        unknown = sorted(set(req) - set(REQUIREMENT_KEYS))
        if unknown:
            raise AnsibleFilterError('automation config: requirements.%s.%s is not a requirement (known: %s)'
                                     % (lvl, unknown[0], ', '.join(REQUIREMENT_KEYS)))
        merged[lvl_int].update(req)
    return merged


def _max_level(config):
    value = config.get('max_level')
    try:
        level = int(value)
    except (TypeError, ValueError):
        level = -1
    if level not in LEVELS or isinstance(value, bool):
        raise AnsibleFilterError('automation config: max_level must be 0-4, got %r' % (value,))
    return level


def _check(level, req, deploys, integrations):
    successes = sum(1 for r in deploys if r['outcome'] == 'success')
    rate = _rate(successes, len(deploys)) or 0.0
    k = int(req['rollback_free_last'])
    streak = 0  # latest deployments in a row without a rollback
    for rec in reversed(deploys):
        if rec['outcome'] == 'rolled_back' or rec['kind'] == 'rollback':
            break
        streak += 1
    missing = [i for i in req['integrations'] if i not in integrations]
    return [
        {'level': level, 'name': 'successful_deployments', 'required': int(req['successful_deployments']),
         'actual': successes, 'met': successes >= int(req['successful_deployments'])},
        {'level': level, 'name': 'success_rate', 'required': float(req['success_rate']), 'actual': rate,
         'met': rate >= float(req['success_rate'])},
        {'level': level, 'name': 'rollback_free_last', 'required': k, 'actual': streak, 'met': streak >= k},
        {'level': level, 'name': 'integrations', 'required': list(req['integrations']), 'actual': list(integrations),
         'met': not missing},
    ]


def automation_level(records, config, host=None):
    """The automation level the history earns, never above config.max_level, with each requirement met or not."""
    if not isinstance(config, dict):
        raise AnsibleFilterError('automation config must be a mapping with max_level (0-4), got %s' % type(config).__name__)
    unknown = sorted(set(config) - set(('max_level', 'integrations', 'requirements')))
    if unknown:
        raise AnsibleFilterError('automation config: %s is not a setting (known: max_level, integrations, requirements)'
                                 % unknown[0])
    ceiling = _max_level(config)
    integrations = list(config.get('integrations') or [])
    reqs = _requirements(config)
    deploys = [r for r in records or [] if r['outcome'] != 'refused' and (not host or r['host'] == host)]
    deploys.sort(key=lambda r: (r['started'], r.get('id') or 0))
    checks = dict((lvl, _check(lvl, reqs[lvl], deploys, integrations)) for lvl in sorted(reqs))
    earned = 1
    for lvl in sorted(checks):
        if not all(c['met'] for c in checks[lvl]):
            break
        earned = lvl
    level = min(earned, ceiling)
    nxt = level + 1 if level < 4 else None
    next_checks = checks.get(nxt, [])
    return {
        'level': level, 'description': LEVELS[level], 'max_level': ceiling, 'earned_level': earned,
        'limited_by_config': earned > ceiling, 'deployments_considered': len(deploys), 'host': host or None,
        'requirements': [c for lvl in sorted(checks) for c in checks[lvl]],
        'next_level': nxt,
        'readiness': (round(100.0 * sum(1 for c in next_checks if c['met']) / len(next_checks), 1)
                      if next_checks else (100.0 if nxt is not None else None)),
        'ready_for_next': bool(nxt is not None and (not next_checks or all(c['met'] for c in next_checks))
                               and nxt <= ceiling),
    }


def automation_gate(level_report, approved=False, host_health='healthy', check_mode=False, launch_type='manual'):
    """Whether a deploy may go ahead at this level: {allowed, reason, approval_required}."""
    if level_report is None:
        return {'allowed': True, 'approval_required': False, 'reason': 'no automation config: the level gate is off'}
    level = level_report['level']
    if check_mode:
        return {'allowed': True, 'approval_required': False, 'reason': 'check mode changes nothing'}
    if (launch_type or 'manual') in UNATTENDED_LAUNCHES and level < 4:
        # nobody is there to approve a scheduled or event-driven run, so an approval variable does not count
        return {'allowed': False, 'approval_required': False,
                'reason': 'a %s run needs automation level 4, this is level %s' % (launch_type, level)}
    if level == 0:
        return {'allowed': False, 'approval_required': False,
                'reason': 'automation level 0 (max_level %s): only check-mode runs are allowed' % level_report['max_level']}
    if level == 1 or host_health != 'healthy':
        why = ('automation level 1 needs deploy_approved=true for every deploy' if level == 1 else
               'the host is %s: at level %s a deploy without approval needs a healthy host' % (host_health, level))
        return {'allowed': bool(approved), 'approval_required': True,
                'reason': ('approved: ' + why) if approved else why}
    return {'allowed': True, 'approval_required': False,
            'reason': 'automation level %s allows this deploy without approval on a healthy host' % level}


def automation_decision(records, automation, approved=False, host_health='healthy', check_mode=False,
                        launch_type='manual', notify_url=''):
    """The automation level a run has earned and whether its gate lets it go ahead: {level, gate}. An empty
    automation config turns the gate off (level None, allowed). A notification URL the run posts to counts as
    the notification integration (level 3's requirement)."""
    if not automation:
        return {'level': None, 'gate': automation_gate(None)}
    if not isinstance(automation, dict):
        raise AnsibleFilterError('automation config must be a mapping with max_level (0-4), got %s' % type(automation).__name__)
    config = dict(automation, integrations=list(automation.get('integrations') or []) + (['notification'] if notify_url else []))
    level = automation_level(records, config)
    return {'level': level, 'gate': automation_gate(level, approved, host_health, check_mode, launch_type)}


class FilterModule(object):
    """Deployment history analytics and automation levels."""

    def filters(self):
        return {
            'history_records': history_records,
            'deployment_analytics': deployment_analytics,
            'automation_level': automation_level,
            'automation_gate': automation_gate,
            'automation_decision': automation_decision,
        }

# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private controller-side helpers of the deploy executor: the one history event, the progress lines and the
summary of a host transaction's result; not a public API, may change without notice.

Every entry point (deploy_service, deploy_stack, reconcile, canary, drift fixes) publishes its deployment event
through deploy_event(), so the history contract (see _history.py) is built in one place.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

EVENT_KEYS = ('kind', 'host', 'name', 'pattern', 'images', 'strategy', 'outcome', 'started', 'duration', 'phases',
              'failure', 'details')
PAST = {'start': 'started', 'restart': 'restarted', 'stop': 'stopped'}
EVIDENCE_CHARS = 4000


def _units(plan):
    """Every unit of the plan, in phase order."""
    return [unit for phase in plan['phases'] for unit in phase]


def _service_names(plan):
    """{unit file: logical service} (a network or volume unit by its file name)."""
    return dict((unit['name'], unit.get('service') or unit['name']) for unit in _units(plan))


def deploy_event(kind, host, name, outcome, started, finished, images=None, pattern='', strategy='',
                 phases=None, failure=None, details=None, automation_level=None):
    """One homelab_deploy_events entry: the history contract's fields, rounded and defaulted (automation_level
    only when a level gated the run)."""
    event = {
        'kind': kind, 'host': host, 'name': name, 'pattern': pattern or '', 'images': dict(images or {}),
        'strategy': strategy or '', 'outcome': outcome, 'started': float(started),
        'duration': round(float(finished) - float(started), 1), 'phases': dict(phases or {}),
        'failure': failure or None, 'details': dict(details or {}),
    }
    if automation_level is not None:
        event['automation_level'] = automation_level
    return event


def _failed_item(failed):
    """The failed result of a run: the failed loop item when the task looped, else the task's result."""
    if not failed:
        return {}
    result = failed.get('result') or {}
    items = [r for r in result.get('results') or [] if isinstance(r, dict) and r.get('failed')]
    return (items or [result])[-1]


def _first_line(text, default='failed'):
    lines = ('%s' % (text or '')).splitlines()
    return lines[0] if lines and lines[0] else default


def _service_failure(failed, item, refused):
    """The failure record of a deploy_service run: the executor's own record when the deploy failed, else one made
    of the failed task (the approval when the automation level refused)."""
    if item.get('failure'):
        return item['failure']
    evidence = '%s' % (item.get('status') or item.get('stderr') or '')
    return {'service': (item.get('item') or {}).get('name', '') if isinstance(item.get('item'), dict) else '',
            'check': 'approval' if refused else failed.get('task') or '',
            'cause': _first_line(item.get('msg')), 'evidence': '\n'.join(evidence.splitlines()[-15:])}


def _service_phases(started, marks):
    """Seconds of the pre-flight, the deploy and the verification from the marks a run set as it went."""
    out, previous = {}, float(started)
    for phase in ('preflight', 'deploy', 'verify'):
        if phase not in marks:
            break
        out[phase] = round(float(marks[phase]) - previous, 2)
        previous = float(marks[phase])
    return out


def service_event(host, run, finished):
    """The deploy_service event: one per run that is not in check mode, also for a refusal or a failure.

    run: started, marks ({phase: epoch} set as each phase ended), name, pattern, result (the pattern_service
    result, when the deploy ran), loaded (the pattern as loaded, for the images it would have run when the deploy
    did not), preflight_strategy, gate and level
    (automation), failed ({task, result} from the rescue), approved, recommended (the reason a pattern was
    recommended, or None).
    """
    marks = run.get('marks') or {}
    gate, failed = run.get('gate') or None, run.get('failed') or None
    refused = bool(gate) and not gate.get('allowed')
    result = run.get('result') if 'deploy' in marks else None
    item = _failed_item(failed)
    if not failed:
        outcome = 'success'
    elif refused:
        outcome = 'refused'
    else:
        outcome = item.get('outcome') or ('rolled_back' if 'rollback' in item else 'failed')
    if result:
        images, strategy = result.get('container_images') or {}, result.get('strategy')
    else:
        loaded = run.get('loaded') or {}
        images = dict(('%s-%s' % (run.get('name'), service), (spec or {}).get('image'))
                      for service, spec in sorted((loaded.get('services') or {}).items()))
        strategy = run.get('preflight_strategy') if 'preflight' in marks else ''
    level = run.get('level') or None
    details = {'changed': bool(result.get('changed')) if result else False, 'url': result.get('url') if result else None,
               'approved': bool(run.get('approved')), 'gate': gate.get('reason') if gate else None,
               'recommended': run.get('recommended')}
    return deploy_event('deploy', host, run.get('name') or 'unknown', outcome, run['started'], finished, images=images,
                        pattern=run.get('pattern'), strategy=strategy, phases=_service_phases(run['started'], marks),
                        failure=_service_failure(failed, item, refused) if failed else None, details=details,
                        automation_level=level.get('level') if level else None)


def event_stats(events):
    """The set_stats payload the deploy_history callback reads (per_host false, aggregated over hosts)."""
    return {'data': {'homelab_deploy_events': list(events)}, 'per_host': False, 'aggregate': True}


def phase_labels(plan):
    """{phase index: label}: 'infra' for phases of networks and volumes only, else 'phase N' counting from 1."""
    labels, count = {}, 0
    for index, phase in enumerate(plan['phases']):
        if any(unit.get('container') for unit in phase):
            count += 1
            labels[index] = 'phase %d' % count
        else:
            labels[index] = 'infra'
    return labels


def phase_seconds(plan, result):
    """{'phase N': seconds} plus the verification time, from a quadlet_apply result."""
    labels = phase_labels(plan)
    out = {}
    for phase in result.get('phases') or []:
        label = labels.get(phase['phase'], 'phase %s' % phase['phase'])
        out[label] = round(out.get(label, 0) + float(phase.get('seconds') or 0), 1)
    seconds = result.get('seconds') or {}
    for step in ('verify', 'health'):
        if seconds.get(step) is not None:
            out[step] = round(float(seconds[step]), 1)
    return out


def service_seconds(plan, result):
    """Seconds to healthy per logical service, from the per-unit results of a quadlet_apply run."""
    by_file = dict((unit['name'], unit.get('service')) for unit in _units(plan))
    out = {}
    for name, unit in sorted((result.get('units') or {}).items()):
        if unit.get('seconds_to_healthy') is not None and by_file.get(name):
            out[by_file[name]] = round(float(unit['seconds_to_healthy']), 1)
    return out


def changed_services(plan, result):
    """Logical services whose unit the transaction wrote, started or restarted (in plan order)."""
    units = result.get('units') or {}
    out = []
    for phase in plan['phases']:
        for unit in phase:
            state = units.get(unit['name']) or {}
            if unit.get('service') and (state.get('action') not in (None, 'unchanged')
                                        or state.get('service') not in (None, 'none')):
                out.append(unit['service'])
    return out


def recovered_lines(recovered):
    """What the host did first about transactions that killed runs left behind."""
    return ['recovered the transaction %s of a killed run (%s, left in state %s): rolled back%s' % (
        item.get('txn') or '?', item.get('name') or '?', item.get('state') or '?',
        ': %s' % ', '.join(item['actions']) if item.get('actions') else '') for item in recovered or []]


def phase_lines(plan, result):
    """One progress line per phase: what started or restarted, and how long each service took to get healthy."""
    lines = []
    labels = phase_labels(plan)
    services = _service_names(plan)
    units = result.get('units') or {}
    phases = result.get('phases') or []
    for phase in phases:
        names = [services.get(u, u) for u in phase.get('units') or []]
        acted = []
        for unit in phase.get('units') or []:
            state = units.get(unit) or {}
            action = state.get('service') or 'none'
            if action != 'none':
                took = state.get('seconds_to_healthy')
                acted.append('%s %s%s' % (services.get(unit, unit), PAST.get(action, action),
                                          ' (healthy in %.1f s)' % took if took is not None else ''))
        lines.append('%s %s [%s]: %s in %.1f s' % (
            plan['name'], labels.get(phase['phase'], 'phase %s' % phase['phase']), ', '.join(names),
            '; '.join(acted) or 'unchanged', float(phase.get('seconds') or 0)))
    return lines


def progress_line(plan, event):
    """One line for a progress event of quadlet_apply (its progress_file), or None for events not shown."""
    by_service = dict((u.get('unit'), u.get('service') or u['name']) for u in _units(plan) if u.get('unit'))
    by_container = dict((u.get('container'), u.get('service') or u['name']) for u in _units(plan) if u.get('container'))
    kind, name, at = event.get('event'), plan['name'], '[%5.1f s]' % float(event.get('t') or 0)
    if kind == 'phase':
        label = phase_labels(plan).get(event.get('phase'), 'phase %s' % event.get('phase'))
        acted = ['%s %s' % (verb, ', '.join(by_service.get(s, s) for s in event.get(verb) or []))
                 for verb in ('start', 'restart') if event.get(verb)]
        return '%s %s %s: %s' % (at, name, label, '; '.join(acted) or 'nothing to start')
    if kind == 'healthy':
        container = event.get('container')
        if container in by_service:  # a job's target is its unit: it is done, its container gone
            return '%s %s: %s done after %.1f s' % (at, name, by_service[container], float(event.get('seconds') or 0))
        return '%s %s: %s healthy after %.1f s' % (at, name, by_container.get(container, container),
                                                   float(event.get('seconds') or 0))
    if kind == 'phase_done' and not event.get('ok'):
        label = phase_labels(plan).get(event.get('phase'), 'phase %s' % event.get('phase'))
        return '%s %s %s failed after %.1f s' % (at, name, label, float(event.get('seconds') or 0))
    if kind == 'routes':
        return '%s %s: confirming route(s) %s through Traefik' % (at, name, ', '.join(event.get('names') or []))
    if kind == 'verify':
        return '%s %s: checking %s' % (at, name, ', '.join(event.get('names') or []))
    if kind == 'health':
        return '%s %s: checking that %s are still healthy' % (
            at, name, ', '.join(by_container.get(c, c) for c in event.get('names') or []))
    if kind == 'rollback':
        return '%s %s: rolling back: %s' % (at, name, event.get('cause'))
    return None


def summary_lines(plan, result, routes, total):
    """The final summary: outcome, what changed, per-service times to healthy, per-phase and total times."""
    changed = changed_services(plan, result)
    times = service_seconds(plan, result)
    phases = phase_seconds(plan, result)
    lines = ['%s: %d phase(s), %d unit(s); changed: %s; routes changed: %s' % (
        plan['name'], len([p for p in plan['phases'] if p]), sum(len(p) for p in plan['phases']), ', '.join(changed) or 'nothing',
        ', '.join(routes) or 'none')]
    if times:
        lines.append('time to healthy: %s' % ', '.join('%s %.1f s' % item for item in sorted(times.items())))
    lines.append('times: %s' % ', '.join(['%s %.1f s' % item for item in phases.items()] + ['total %.1f s' % total]))
    return lines


def _services_of(plan, files):
    """Logical service names (infra units by file name) for unit files, in plan order."""
    wanted = set(files or [])
    return [unit.get('service') or unit['name'] for unit in _units(plan) if unit['name'] in wanted]


def service_phases(plan):
    """The plan's phases as lists of logical services, leaving out phases of networks and volumes only."""
    phases = [[unit['service'] for unit in phase if unit.get('container')] for phase in plan['phases']]
    return [phase for phase in phases if phase]


def _tail(text, lines):
    return '\n'.join((text or '').rstrip().splitlines()[-lines:])


def _evidence_text(service, evidence):
    """The host's evidence (health log, log tail, unit status; masked on the host) as the report's text: the
    health log first, then the container's last log lines, then the end of systemctl status."""
    if not isinstance(evidence, dict):
        return str(evidence or '')[:EVIDENCE_CHARS]
    lines = ['healthcheck exit %s: %s' % (entry.get('exit_code'), _tail(entry.get('output'), 3))
             for entry in (evidence.get('health_log') or [])[-5:]]
    if evidence.get('logs'):
        lines += ['last log lines of %s:' % service, _tail(evidence['logs'], 20)]
    if evidence.get('status'):
        lines += ['systemctl status (end):', _tail(evidence['status'], 8)]
    return '\n'.join(lines)[:EVIDENCE_CHARS]


def failure_record(plan, failure):
    """The host's failure as the history's record {service, check, cause, evidence}, named by the plan's service."""
    if not failure:
        return None
    by_file = _service_names(plan)
    by_container = dict((u['container'], u.get('service')) for u in _units(plan) if u.get('container'))
    evidence = failure.get('evidence')
    container = evidence.get('container') if isinstance(evidence, dict) else None
    service = (by_file.get(failure.get('unit')) or by_container.get(container) or failure.get('service')
               or plan['name'])
    record = {'service': service, 'check': failure.get('check') or 'deploy', 'cause': failure.get('cause'),
              'evidence': _evidence_text(service, evidence)}
    if isinstance(evidence, dict) and evidence.get('health_status'):
        record['status'] = evidence['health_status']  # the check stays 'health': analytics group causes by check
    return record


def deploy_result(run, plan):
    """The role-level result (stack_result, pattern_service units) from a homelab.deploy.deploy result."""
    images = {}
    for phase in plan['phases']:
        for unit in phase:
            if unit.get('container'):
                images[unit['container']] = (run.get('images') or {}).get(unit['name']) or unit.get('image')
    return {
        'name': plan['name'], 'scope': plan.get('scope', 'system'), 'outcome': run.get('outcome', 'failed'),
        'phases': service_phases(plan), 'changed': list(run.get('changed_services') or []), 'images': images,
        'seconds': dict(run.get('seconds') or {}), 'service_seconds': dict(run.get('service_seconds') or {}),
        'routes_changed': list(run.get('routes_changed') or []), 'recovered': list(run.get('recovered') or []),
        'summary': list(run.get('summary') or []), 'failure': run.get('failure'),
        'profile': list(run.get('profile') or []),
    }


def _rollback_line(run, rollback_enabled):
    rollback = run.get('rollback') or {}
    if not rollback_enabled:
        return 'rollback: disabled, the host is left as it is'
    if run.get('outcome') == 'rolled_back':
        return 'rollback: every touched service is back to its previous state and healthy'
    if run.get('refused'):
        return 'rollback: not needed, the set was refused before anything on the host changed'
    return 'rollback: INCOMPLETE: %s' % ('; '.join(rollback.get('errors') or []) or 'not run')


def deploy_report(run, plan, host, rollback_enabled=True):
    """The failure report of a deploy: what failed and why, what the rollback did, what was kept, the evidence."""
    failure = run.get('failure') or {}
    rollback = run.get('rollback') or {}
    volumes = sorted(unit['name'].rsplit('.', 1)[0] for unit in _units(plan) if unit['name'].endswith('.volume'))
    lines = [
        '%s %s on %s FAILED: service %s, check %s%s' % (
            plan.get('kind', 'deploy'), plan['name'], host, failure.get('service') or plan['name'],
            failure.get('check') or 'deploy', ' (%s)' % failure['status'] if failure.get('status') else ''),
        'cause: %s' % (failure.get('cause') or run.get('msg') or 'failed'),
        _rollback_line(run, rollback_enabled),
        'restored: %s; removed (new): %s; routes withdrawn: %s; volumes kept: %s' % (
            ', '.join(_services_of(plan, rollback.get('restored'))) or 'none',
            ', '.join(_services_of(plan, rollback.get('removed'))) or 'none',
            ', '.join(rollback.get('routes_withdrawn') or []) or 'none', ', '.join(volumes) or 'none'),
        'evidence:', failure.get('evidence') or run.get('msg') or '',
    ]
    return '\n'.join(lines)

# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Drift fixes (playbooks/drift.yml auto_fix): the host transaction that restarts the drifted services, and the
history events of what the fix did.

Pure functions of homelab.deploy.drift_check reports and a homelab.deploy.quadlet_apply result; the events are
built by the one event builder (plugin_utils/_events.deploy_event), like every other entry point's.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.six import string_types

from ansible_collections.homelab.deploy.plugins.plugin_utils import _events as events

# drift_check remediations a restart of the service fixes (reload_restart: the daemon-reload quadlet_apply does
# when systemd has not loaded the file on disk)
RESTART_REMEDIATIONS = ('restart', 'reload_restart')
KIND = 'drift_fix'
TXN_NAME = 'drift-fix'


def _report(report, what):
    if not isinstance(report, dict) or not isinstance(report.get('services', []), list) \
            or not isinstance(report.get('routes', []), list):
        raise AnsibleFilterError('drift: %s must be a homelab.deploy.drift_check result, got %r' % (what, type(report).__name__))
    return report


def _names(value, what):
    if value is None:
        return []
    if isinstance(value, string_types) or not isinstance(value, (list, tuple)):
        raise AnsibleFilterError('drift: %s must be a list of names, got %r' % (what, value))
    return list(value)


def fixable_services(report):
    """The drifted services of a report that a restart fixes, in report order: only units carrying the collection's
    ownership label (a unit someone else wrote, or stopped on purpose, is reported, never restarted)."""
    return [s for s in _report(report, 'the report').get('services') or []
            if s.get('drifted') and s.get('remediation') in RESTART_REMEDIATIONS and s.get('managed')]


def drift_fix_units(report, timeout=120):
    """quadlet_apply units restarting every service a restart fixes, from its unit file as it is on disk.

    One transaction for all of them: started together, waited on together (up to timeout seconds), rolled back
    together.
    """
    try:
        timeout = int(timeout)
    except (TypeError, ValueError):
        raise AnsibleFilterError('drift: timeout must be a number of seconds, got %r' % (timeout,))
    return [{'name': s['name'], 'restart': True, 'wait': True, 'timeout': timeout} for s in fixable_services(report)]


# -- events -------------------------------------------------------------------------------------------

def _by_name(entries):
    return dict((e.get('name'), e) for e in entries or [])


def _ran(transaction):
    """The quadlet_apply result, or None when it did not run (nothing to restart, skipped, not registered)."""
    if not isinstance(transaction, dict) or transaction.get('skipped') or not transaction:
        return None
    return transaction


def _transaction_outcome(transaction):
    """success, or for a failed transaction: rolled_back (the set is back), refused (nothing changed) or failed."""
    if not transaction.get('failed'):
        return 'success'
    rollback = transaction.get('rollback')
    if rollback is not None:
        return 'rolled_back' if rollback.get('ok') else 'failed'
    return 'refused' if not transaction.get('txn_id') else 'failed'


def _transaction_failure(transaction, names):
    plan = {'name': TXN_NAME, 'phases': [[{'name': n, 'service': n} for n in names]]}
    record = events.failure_record(plan, transaction.get('failure'))
    if record is None:
        record = {'service': TXN_NAME, 'check': 'drift fix', 'cause': transaction.get('msg') or 'failed', 'evidence': ''}
    return record


def _left_failure(name, left):
    return {'service': name, 'check': 'drift', 'cause': 'still drifted after the fix',
            'evidence': ', '.join(f.get('field', '') for f in left.get('fields') or [])}


def _verdict(name, after, transaction, names):
    """(outcome, failure) of one fixed entry: the transaction's verdict first, then the check after the fix."""
    if transaction is not None and transaction.get('failed') and name in names:
        return _transaction_outcome(transaction), _transaction_failure(transaction, names)
    if after is None:
        return 'failed', {'service': name, 'check': 'drift', 'cause': 'not checked again after the fix', 'evidence': ''}
    left = after.get(name) or {'drifted': False}
    if left.get('drifted'):
        return 'failed', _left_failure(name, left)
    return 'success', None


def _service_details(entry, transaction):
    details = {'fields': entry.get('fields') or [], 'remediation': entry.get('remediation')}
    unit = ((transaction or {}).get('units') or {}).get(entry['name'])
    if unit:
        details.update(service=unit.get('service'), seconds_to_healthy=unit.get('seconds_to_healthy'),
                       txn_id=transaction.get('txn_id'))
    return details


def _images(entry, transaction):
    image = ((transaction or {}).get('images') or {}).get(entry['name'])
    return {entry.get('container') or entry['name']: image} if image else {}


def drift_fix_events(report_before, report_after, restarted, rewritten_routes, host, started, finished,
                     transaction=None):
    """One history event (kind drift_fix) per service restarted and per route rewritten by a drift fix.

    report_before decided the fixes, report_after is the check after them (None: it did not run); transaction is
    the quadlet_apply result that restarted the services (None or skipped when there were none). A service's
    outcome is the transaction's (success, rolled_back, refused or failed) and then whether it still drifts; a
    route's is whether it still drifts.
    """
    before = _report(report_before, 'report_before')
    after = _report(report_after, 'report_after') if report_after is not None else None
    names = _names(restarted, 'restarted')
    routes = _names(rewritten_routes, 'rewritten_routes')
    transaction = _ran(transaction)
    services_after = _by_name(after.get('services')) if after is not None else None
    routes_after = _by_name(after.get('routes')) if after is not None else None
    phases = {'fix': round(float(finished) - float(started), 1)}
    out = []
    for entry in [s for s in before.get('services') or [] if s.get('name') in names]:
        outcome, failure = _verdict(entry['name'], services_after, transaction, names)
        out.append(events.deploy_event(KIND, host, entry['name'], outcome, started, finished,
                                       images=_images(entry, transaction), strategy=entry.get('remediation'),
                                       phases=phases, failure=failure, details=_service_details(entry, transaction)))
    for entry in [r for r in before.get('routes') or [] if r.get('name') in routes]:
        outcome, failure = _verdict(entry['name'], routes_after, None, [])
        out.append(events.deploy_event(KIND, host, entry['name'], outcome, started, finished,
                                       strategy=entry.get('remediation'), phases=phases, failure=failure,
                                       details={'fields': entry.get('fields') or [], 'remediation': entry.get('remediation')}))
    return out


class FilterModule(object):
    """Drift fix filters."""

    def filters(self):
        return {'drift_fix_units': drift_fix_units, 'drift_fix_events': drift_fix_events}

# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the drift fix filters: the quadlet_apply units of a fix and the history events it publishes."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.deploy.plugins.filter import drift as df
from ansible_collections.homelab.deploy.plugins.plugin_utils._history import normalize_event

T0, T1 = 1700000000.0, 1700000012.34


def field(name, remediation='restart', declared='1', running='2'):
    return {'field': name, 'declared': declared, 'running': running, 'impact': '...', 'remediation': remediation}


def service(name, fields, container=None, managed=True):
    ranks = ('none', 'rewrite_route', 'restart', 'reload_restart', 'review')
    remediation = max([f['remediation'] for f in fields] or ['none'], key=ranks.index)
    return {'name': name, 'unit': name.split('.')[0] + '.service', 'container': container or name.split('.')[0],
            'drifted': bool(fields), 'fields': fields, 'remediation': remediation, 'managed': managed}


def route(name, fields):
    return {'name': name, 'drifted': bool(fields), 'fields': fields,
            'remediation': 'rewrite_route' if fields else 'none'}


WEB = service('web.container', [field('env.V')])
APP = service('app.container', [field('daemon_reload', 'reload_restart'), field('env.M')])
CLEAN = service('db.container', [])
STRAY = service('stray', [field('unmanaged', 'review')])
ROUTE = route('site', [field('route_file.services.site.loadBalancer', 'rewrite_route')])
BEFORE = {'drifted': True, 'services': [WEB, CLEAN, APP], 'routes': [ROUTE, route('other', [])], 'unmanaged': [STRAY]}
AFTER = {'drifted': False, 'services': [service('web.container', []), service('app.container', []), CLEAN],
         'routes': [route('site', []), route('other', [])], 'unmanaged': [STRAY]}
TXN = {'changed': True, 'txn_id': 'abc123', 'images': {'web.container': 'localhost/hl-web:latest',
                                                       'app.container': 'localhost/hl-web:latest'},
       'units': {'web.container': {'action': 'unchanged', 'service': 'start', 'seconds_to_healthy': 2.04},
                 'app.container': {'action': 'unchanged', 'service': 'restart', 'seconds_to_healthy': 3.1}}}


def events(after='default', transaction='default', restarted=('web.container', 'app.container'), routes=('site',)):
    after = AFTER if after == 'default' else after
    transaction = TXN if transaction == 'default' else transaction
    return df.drift_fix_events(BEFORE, after, list(restarted), list(routes), 'node', T0, T1, transaction)


def by_name(items):
    return dict((e['name'], e) for e in items)


# -- units -----------------------------------------------------------------------------------------------------

def test_units_restart_every_service_a_restart_fixes_as_its_file_is():
    assert df.drift_fix_units(BEFORE, '90') == [
        {'name': 'web.container', 'restart': True, 'wait': True, 'timeout': 90},
        {'name': 'app.container', 'restart': True, 'wait': True, 'timeout': 90}]
    assert 'content' not in df.drift_fix_units(BEFORE)[0], 'the file on disk is kept as it is'


def test_units_leave_clean_services_review_and_routes_alone():
    report = {'services': [CLEAN, dict(STRAY, unit=None)], 'routes': [ROUTE]}
    assert df.drift_fix_units(report) == []


@pytest.mark.parametrize('report, timeout, words', [
    (None, 120, 'must be a homelab.deploy.drift_check result'),
    ({'services': 'x'}, 120, 'must be a homelab.deploy.drift_check result'),
    (BEFORE, 'soon', 'timeout must be a number of seconds'),
])
def test_units_refuse_what_is_not_a_report(report, timeout, words):
    with pytest.raises(AnsibleFilterError, match=words):
        df.drift_fix_units(report, timeout)


# -- events ----------------------------------------------------------------------------------------------------

def test_a_successful_fix_records_one_event_per_service_and_route():
    out = events()
    assert [(e['name'], e['strategy'], e['outcome']) for e in out] == [
        ('web.container', 'restart', 'success'), ('app.container', 'reload_restart', 'success'),
        ('site', 'rewrite_route', 'success')]
    web = out[0]
    assert web['kind'] == 'drift_fix' and web['host'] == 'node' and web['started'] == T0
    assert web['duration'] == 12.3 and web['phases'] == {'fix': 12.3} and web['failure'] is None
    assert web['images'] == {'web': 'localhost/hl-web:latest'}
    assert web['details'] == {'fields': WEB['fields'], 'remediation': 'restart', 'service': 'start',
                              'seconds_to_healthy': 2.04, 'txn_id': 'abc123'}
    assert out[2]['details'] == {'fields': ROUTE['fields'], 'remediation': 'rewrite_route'} and out[2]['images'] == {}
    for event in out:
        normalize_event(event)  # each is what the history stores


def test_what_still_drifts_after_the_fix_failed_naming_the_fields():
    after = dict(AFTER, services=[WEB, service('app.container', [])], routes=[ROUTE])
    out = by_name(events(after=after))
    assert out['web.container']['outcome'] == 'failed' and out['app.container']['outcome'] == 'success'
    assert out['web.container']['failure'] == {'service': 'web.container', 'check': 'drift',
                                               'cause': 'still drifted after the fix', 'evidence': 'env.V'}
    assert out['site']['outcome'] == 'failed' and out['site']['failure']['evidence'] == ROUTE['fields'][0]['field']


def test_a_transaction_that_failed_and_put_the_set_back_rolls_back_every_service_of_it():
    failed = dict(TXN, failed=True, msg='phase 0: app.service did not become healthy',
                  failure={'unit': 'app.container', 'service': 'app.service', 'check': 'health',
                           'cause': 'app.service did not become healthy: unhealthy',
                           'evidence': {'health_status': 'unhealthy', 'logs': 'boom',
                                        'health_log': [{'exit_code': 1, 'output': 'down'}]}},
                  rollback={'ok': True, 'restarted': ['web.service', 'app.service'], 'errors': []})
    out = by_name(events(after=AFTER, transaction=failed))
    for name in ('web.container', 'app.container'):
        assert out[name]['outcome'] == 'rolled_back'
        assert out[name]['failure']['service'] == 'app.container', 'the failure names the service that failed'
        assert out[name]['failure']['check'] == 'health' and out[name]['failure']['status'] == 'unhealthy'
        assert 'healthcheck exit 1: down' in out[name]['failure']['evidence'] and 'boom' in out[name]['failure']['evidence']
    assert out['site']['outcome'] == 'success', 'a route is judged by the check after the fix'
    broken = dict(failed, rollback={'ok': False, 'errors': ['x']})
    assert by_name(events(transaction=broken))['web.container']['outcome'] == 'failed'


def test_a_refused_transaction_changed_nothing():
    refused = {'failed': True, 'txn_id': None, 'units': {},
               'msg': 'unit web.container: restart=true without content ... Nothing was changed.'}
    out = by_name(events(transaction=refused))
    assert out['web.container']['outcome'] == 'refused'
    assert out['web.container']['failure'] == {'service': 'drift-fix', 'check': 'drift fix', 'cause': refused['msg'],
                                               'evidence': ''}


def test_without_the_check_after_the_fix_nothing_counts_as_fixed():
    out = events(after=None)
    assert set(e['outcome'] for e in out) == {'failed'}
    assert out[0]['failure']['cause'] == 'not checked again after the fix'


def test_a_skipped_transaction_and_no_fixes():
    out = events(transaction={'skipped': True, 'changed': False}, restarted=(), routes=('site',))
    assert [e['name'] for e in out] == ['site']
    assert events(transaction=None, restarted=(), routes=()) == []


def test_only_what_was_fixed_is_recorded():
    out = events(restarted=('web.container',), routes=())
    assert [e['name'] for e in out] == ['web.container']


@pytest.mark.parametrize('args, words', [
    ((None, AFTER, [], [], 'node', T0, T1), 'report_before must be'),
    ((BEFORE, 'x', [], [], 'node', T0, T1), 'report_after must be'),
    ((BEFORE, AFTER, 'web.container', [], 'node', T0, T1), 'restarted must be a list of names'),
    ((BEFORE, AFTER, [], {'site': 1}, 'node', T0, T1), 'rewritten_routes must be a list of names'),
])
def test_events_refuse_bad_input(args, words):
    with pytest.raises(AnsibleFilterError, match=words):
        df.drift_fix_events(*args)


def test_filters_are_registered():
    assert set(df.FilterModule().filters()) == {'drift_fix_units', 'drift_fix_events'}


def test_a_unit_without_the_ownership_label_is_reported_and_never_restarted():
    theirs = service('theirs.container', [field('state')], managed=False)
    report = {'services': [WEB, theirs], 'routes': []}
    assert [u['name'] for u in df.drift_fix_units(report, 90)] == ['web.container']

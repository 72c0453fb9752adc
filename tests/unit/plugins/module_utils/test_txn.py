# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for _txn's decisions: unit specs, image pinning, planning, diffs, journal records, rollback plans.

The host-facing classes are exercised through the module in tests/unit/plugins/modules/test_quadlet_apply.py
and on the real node in tests/integration/targets/quadlet_apply.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import stat

import pytest

from ansible_collections.homelab.deploy.plugins.module_utils import _podman as podman
from ansible_collections.homelab.deploy.plugins.module_utils import _quadlet as quadlet
from ansible_collections.homelab.deploy.plugins.module_utils import _txn as txn
from ansible_collections.homelab.deploy.plugins.module_utils._unitfile import parse_unit

DIGEST = 'sha256:' + 'ab' * 32
WEB = '[Container]\nImage=localhost/hl-web:latest\nContainerName=web\n'
ACTIVE = {'Id': 'web.service', 'LoadState': 'loaded', 'ActiveState': 'active', 'SubState': 'running',
          'NeedDaemonReload': 'no', 'InvocationID': 'aaa', 'Job': ''}


def spec(name='web.container', before=None, after=WEB, **kwargs):
    out = txn.unit_spec(dict({'name': name, 'content': after}, **kwargs))
    out.update(before=before, after=after if out['state'] == 'present' else None, secrets=kwargs.get('secrets_used', []),
               service_name=name.split('.')[0] + '.service', path='/etc/containers/systemd/' + name, container=None)
    return out


def show(**kwargs):
    return dict(ACTIVE, **kwargs)


# -- names and specs -----------------------------------------------------------------------------

@pytest.mark.parametrize('name', ['demo', 'a', 'stack-1', 'immich-ml'])
def test_txn_names_accepted(name):
    txn.check_txn_name(name)


@pytest.mark.parametrize('name', ['', 'Demo', '1demo', '-x', 'a_b', 'a.b', '../x', 'a/b', None])
def test_txn_names_refused(name):
    with pytest.raises(quadlet.QuadletError, match='invalid transaction name'):
        txn.check_txn_name(name)


def test_unit_spec_defaults_by_type():
    container = txn.unit_spec({'name': 'db.container', 'content': WEB})
    network = txn.unit_spec({'name': 'net.network', 'content': '[Network]\n'})
    assert (container['type'], container['wait'], container['timeout'], container['phase']) == ('container', True, 120, 0)
    assert (network['type'], network['wait'], network['state']) == ('network', False, 'present')
    assert txn.unit_spec({'name': 'db.container', 'content': WEB, 'wait': False, 'timeout': 0})['timeout'] == 0


@pytest.mark.parametrize('raw, fragment', [
    ({'name': 'web'}, 'cannot tell the unit type'),
    ({'name': 'web.container'}, 'content is required with state=present'),
    ({'name': 'web.container', 'content': WEB, 'purge': True}, 'purge only applies to state=absent'),
    ({'name': '../web.container', 'content': WEB}, 'invalid unit name'),
    ({'name': 'web.container', 'state': 'absent', 'restart': True}, 'restart only applies to state=present'),
])
def test_unit_spec_refuses(raw, fragment):
    with pytest.raises(quadlet.QuadletError, match=fragment.replace('.', r'\.')):
        txn.unit_spec(raw)


def test_unit_spec_restart_needs_no_content():
    kept = txn.unit_spec({'name': 'web.container', 'restart': True})
    assert kept['restart'] is True and kept['content'] is None and kept['state'] == 'present'
    assert txn.unit_spec({'name': 'web.container', 'content': WEB})['restart'] is False


def test_unit_specs_sorted_by_phase_and_duplicates_refused():
    specs = txn.unit_specs([{'name': 'web.container', 'content': WEB, 'phase': 2},
                            {'name': 'db.container', 'content': WEB, 'phase': 1},
                            {'name': 'net.network', 'content': '[Network]\n'}])
    assert [s['file'] for s in specs] == ['net.network', 'db.container', 'web.container']
    with pytest.raises(quadlet.QuadletError, match='web.container appear more than once'):
        txn.unit_specs([{'name': 'web.container', 'content': WEB}, {'name': 'web.container', 'state': 'absent'}])


@pytest.mark.parametrize('check, fragment', [
    ({'name': 'c'}, 'needs command or http'),
    ({'name': 'c', 'command': ['true']}, 'give container'),
])
def test_check_verify_refuses(check, fragment):
    with pytest.raises(quadlet.QuadletError, match=fragment):
        txn.check_verify([check])


def test_check_verify_accepts_command_or_http():
    txn.check_verify([{'name': 'a', 'command': ['true'], 'container': 'web'}, {'name': 'b', 'http': {'url': 'x'}}])


# -- image pinning --------------------------------------------------------------------------------

@pytest.mark.parametrize('image, digest, expected', [
    ('localhost/hl-web:latest', DIGEST, 'localhost/hl-web@' + DIGEST),
    ('docker.io/library/nginx', DIGEST, 'docker.io/library/nginx@' + DIGEST),
    ('registry:5000/app:1.2', DIGEST, 'registry:5000/app@' + DIGEST),
    ('registry:5000/app', DIGEST, 'registry:5000/app@' + DIGEST),
    ('app@sha256:00', DIGEST, 'app@sha256:00'),
    ('app:1', None, 'app:1'),
])
def test_pin_reference(image, digest, expected):
    assert quadlet.pin_reference(image, digest) == expected


@pytest.mark.parametrize('text, unit_type, expected', [
    (WEB, 'container', 'localhost/hl-web:latest'),
    ('[Container]\nImage=app@sha256:00\n', 'container', None),
    ('[Container]\nImage=app.image\n', 'container', None),
    ('[Container]\nImage=app.build\n', 'container', None),
    ('[Container]\nRootfs=/srv/root\n', 'container', None),
    ('[Image]\nImage=app:1\n', 'image', None),
])
def test_image_to_pin(text, unit_type, expected):
    assert txn.image_to_pin(parse_unit(text), unit_type) == expected


def test_rewrite_image_touches_only_the_container_image_line():
    text = ('# Image=localhost/hl-web:latest in a comment\n[Unit]\nDescription=Image=localhost/hl-web:latest\n\n'
            '[Container]\nImage = localhost/hl-web:latest\nLabel=image=localhost/hl-web:latest\n')
    out = txn.rewrite_image(text, 'localhost/hl-web:latest', 'localhost/hl-web@' + DIGEST)
    assert out == text.replace('Image = localhost/hl-web:latest', 'Image = localhost/hl-web@' + DIGEST)
    assert txn.rewrite_image(text, 'other:1', 'x') == text


# -- planning -------------------------------------------------------------------------------------

@pytest.mark.parametrize('state, expected', [
    (show(), True),
    (show(ActiveState='activating', SubState='start'), True),
    (show(ActiveState='activating', SubState='auto-restart'), False),
    (show(ActiveState='failed'), False),
    (show(ActiveState='inactive'), False),
    (None, False),
])
def test_is_active(state, expected):
    assert txn.is_active(state) is expected


@pytest.mark.parametrize('state, expected', [
    (show(), False), (show(NeedDaemonReload='yes'), True), (show(LoadState='not-found'), True), (None, True)])
def test_needs_reload(state, expected):
    assert txn.needs_reload(state) is expected


V2 = WEB + 'Environment=V=2\n'


@pytest.mark.parametrize('unit, state, secrets, expected', [
    (spec(before=None), None, [], 'start'),
    (spec(before=WEB), show(ActiveState='failed'), [], 'start'),
    (spec(before=WEB), show(), [], 'none'),
    (spec(before=WEB, after=WEB + '# only a comment\n'), show(), [], 'none'),
    (spec(before=WEB, after=V2), show(), [], 'restart'),
    (spec(before=WEB, secrets_used=['pw']), show(), ['pw'], 'restart'),
    (spec(before=WEB, secrets_used=['pw']), show(), ['other'], 'none'),
    (spec(before=WEB), show(NeedDaemonReload='yes'), [], 'restart'),
    (spec('net.network', before='[Network]\n', after='[Network]\nSubnet=10.9.0.0/24\n'), show(), [], 'none'),
    (spec('net.network', before='[Network]\n', after='[Network]\n'), show(ActiveState='inactive'), [], 'start'),
    (spec(state='absent', before=WEB), show(), [], 'stop'),
    (spec(state='absent', before=WEB), show(ActiveState='inactive'), [], 'none'),
    (spec(state='absent', before=None), None, [], 'none'),
    (spec(before=WEB, restart=True), show(), [], 'restart'),
    (spec(before=WEB, after=WEB + '# only a comment\n', restart=True), show(), [], 'restart'),
    (spec(before=WEB, restart=True), show(ActiveState='failed'), [], 'start'),
    (spec(before=WEB, restart=True), show(ActiveState='activating', SubState='auto-restart'), [], 'start'),
    (spec('net.network', before='[Network]\n', after='[Network]\n', restart=True), show(), [], 'restart'),
    # masked by its owner: never started, restarted or waited on
    (spec(before=None), show(LoadState='masked', ActiveState='inactive'), [], 'none'),
    (spec(before=WEB, after=V2), show(LoadState='masked', ActiveState='inactive'), [], 'none'),
    (spec(before=WEB, restart=True), show(LoadState='masked', ActiveState='inactive'), ['pw'], 'none'),
])
def test_service_action(unit, state, secrets, expected):
    assert txn.service_action(unit, state, secrets) == expected


def test_kept_file_is_the_one_on_disk_and_must_exist():
    assert txn.Planner.kept(spec(before=WEB, restart=True)) == WEB
    with pytest.raises(txn.Refused, match=r'restart=true without content .* no /etc/containers/systemd/web.container\. '
                                          r'Nothing was changed'):
        txn.Planner.kept(spec(before=None, restart=True))


def test_a_restart_of_an_unchanged_unit_is_a_change_and_is_journaled():
    plan = txn.plan_unit(spec(before=WEB, restart=True), show(), [])
    assert (plan['file_action'], plan['service_action'], plan['reload']) == ('unchanged', 'restart', False)
    assert txn.is_change([plan], [])
    assert txn.new_record('drift-fix', ScopeStub(), [plan], {})['units']['web.container']['before'] == WEB


@pytest.mark.parametrize('unit, state, file_action, reload', [
    (spec(before=None), None, 'write', True),
    (spec(before=WEB), show(), 'unchanged', False),
    (spec(before=WEB), show(NeedDaemonReload='yes'), 'unchanged', True),
    (spec(before=WEB, after=WEB + '# c\n'), show(), 'write', True),
    (spec(state='absent', before=WEB), show(), 'remove', True),
    (spec(state='absent', before=None), show(LoadState='not-found'), 'unchanged', False),
])
def test_plan_unit_file_action_and_reload(unit, state, file_action, reload):
    plan = txn.plan_unit(unit, state, [])
    assert (plan['file_action'], plan['reload']) == (file_action, reload)
    assert plan['was_active'] is txn.is_active(state)


def test_changed_secrets_compares_as_text():
    assert txn.changed_secrets({'a': 'x', 'b': 5, 'c': 'new'}, {'a': 'x', 'b': '5', 'c': None}) == ['c']
    assert txn.changed_secrets({}, {}) == []


def test_is_change_and_phase_groups():
    plans = [txn.plan_unit(spec('net.network', before='[Network]\n', after='[Network]\n'), show(), []),
             txn.plan_unit(dict(spec(before=WEB), phase=2), show(), []),
             txn.plan_unit(dict(spec('old.container', state='absent', before=WEB), phase=1), show(), [])]
    assert txn.is_change(plans[:2], []) is False
    assert txn.is_change(plans[:2], ['pw']) is True
    assert txn.is_change(plans, []) is True
    assert [(n, [p['file'] for p in group]) for n, group in txn.phase_groups(plans)] == [
        (0, ['net.network']), (2, ['web.container'])]


def test_reports():
    plan = txn.plan_unit(dict(spec(before=None), container='web'), None, [])
    assert txn.unit_report(plan) == {'action': 'write', 'service': 'start', 'service_name': 'web.service',
                                     'container': 'web', 'seconds_to_healthy': None}
    restarted = txn.plan_unit(spec('db.container', before=WEB, after=V2), show(), [])
    assert txn.phase_report(1, [plan, restarted]) == {
        'phase': 1, 'units': ['web.container', 'db.container'], 'started': ['web.service'],
        'restarted': ['db.service'], 'seconds': None, 'healthy': {}}


# -- diff and masking -----------------------------------------------------------------------------

def test_build_diff_concatenates_changed_files_and_masks():
    plans = [txn.plan_unit(spec('a.container', before=None, after='[Container]\nImage=a\nEnvironment=DB_PASSWORD=hunter2'), None, []),
             txn.plan_unit(spec('same.container', before=WEB), show(), []),
             txn.plan_unit(spec('gone.container', state='absent', before=WEB), show(), [])]
    diff = txn.build_diff(plans, ['pw'], txn.Masker(['s3cr3t-value']))
    assert diff['before'] == ('# file: a.container\n# file: gone.container\n' + WEB + '# secret: pw = ********\n')
    assert diff['after'] == ('# file: a.container\n[Container]\nImage=a\nEnvironment=DB_PASSWORD=********\n'
                             '# file: gone.container\n# secret: pw = ******** (changed)\n')
    assert 'same.container' not in diff['before'] + diff['after']


def test_masker_hides_known_values_and_credential_pairs():
    mask = txn.Masker(['hunter2hunter2', 'abc', None])
    mask.add(['hunter2'])
    assert mask('x hunter2hunter2 y TOKEN=zzz abc') == 'x ******** y TOKEN=******** abc'
    assert mask(None) is None and mask('') == ''


# -- journal records and rollback plans ------------------------------------------------------------

class ScopeStub(object):
    name, user = 'system', None

    def __init__(self, root=None):
        self.root = root

    def state_dir(self):
        return self.root

    def makedirs(self, path, mode=0o755):
        if not os.path.isdir(path):
            os.makedirs(path, mode)

    def own(self, path):
        pass


def plans_for_record():
    new = txn.plan_unit(dict(spec('new.container', before=None), phase=2), None, [])
    changed = txn.plan_unit(dict(spec('web.container', before=WEB, after=V2), phase=1), show(), [])
    same = txn.plan_unit(spec('net.network', before='[Network]\n', after='[Network]\n'), show(), [])
    gone = txn.plan_unit(dict(spec('old.container', state='absent', before=WEB), phase=1), show(), [])
    return [same, gone, changed, new]


def test_new_record_keeps_touched_units_and_previous_secrets():
    record = txn.new_record('demo', ScopeStub(), plans_for_record(), {'pw': 'old'}, now=5.0, pid=42, txn_id='t1')
    assert sorted(record['units']) == ['new.container', 'old.container', 'web.container']
    assert record['state'] == 'prepared' and record['pid'] == 42 and record['secrets'] == {'pw': 'old'}
    assert record['units']['old.container']['touched'] is True, 'units to stop count as touched from the start'
    assert record['units']['web.container']['touched'] is False
    assert record['units']['old.container']['after'] is None
    assert record['units']['web.container']['before'] == WEB and record['units']['web.container']['after'] == V2
    assert set(record['units']['web.container']) >= {'path', 'before', 'after', 'service', 'was_active'}
    assert record['units']['web.container']['service'] == 'web.service'
    json.dumps(record)


def test_running_units_the_transaction_does_not_touch_are_kept_as_bystanders():
    app = txn.plan_unit(dict(spec('app.container', before=WEB, after=WEB), phase=3), show(), [])
    record = txn.new_record('demo', ScopeStub(), plans_for_record() + [app], {}, pid=42)
    assert sorted(record['bystanders']) == ['app.container'], 'not the untouched network, not the touched units'
    assert record['bystanders']['app.container']['service'] == 'app.service'


def test_is_job():
    assert txn.is_job('[Container]\nImage=x\n[Service]\nType=oneshot\nRemainAfterExit=true\n')
    assert not txn.is_job('[Container]\nImage=x\n[Service]\nRestart=always\n') and not txn.is_job(None)


def test_last_record_counts_every_unit_as_touched_and_drops_the_pid():
    record = txn.new_record('demo', ScopeStub(), plans_for_record(), {}, pid=42)
    last = txn.last_record(record, now=9.0)
    assert last['state'] == 'committed' and last['committed'] == 9.0 and 'pid' not in last
    assert all(u['touched'] for u in last['units'].values())
    assert record['units']['web.container']['touched'] is False, 'the journal itself is not changed'


@pytest.mark.parametrize('state, kind', [
    ('prepared', 'rollback'), ('written', 'rollback'), ('phase-2', 'rollback'), ('verified', 'rollback'),
    ('committed', 'finish')])
def test_recovery_kind(state, kind):
    assert txn.recovery_kind({'state': state}) == kind


def current_after(record):
    return dict((f, u['after']) for f, u in record['units'].items())


def test_rollback_plan_killed_after_writing():
    record = dict(txn.new_record('demo', ScopeStub(), plans_for_record(), {}), state='written')
    plan = txn.rollback_plan(record, current_after(record))
    assert plan['restore'] == ['old.container', 'web.container'] and plan['remove'] == ['new.container']
    assert plan['reload'] is True
    # nothing was started yet: only the unit stopped before writing comes back, and the new one is stopped
    assert plan['restart'] == ['old.service'] and plan['stop'] == ['new.service']


def test_rollback_plan_after_phases_restarts_what_ran_and_stops_what_did_not():
    record = txn.new_record('demo', ScopeStub(), plans_for_record(), {})
    for unit in record['units'].values():
        unit['touched'] = True
    plan = txn.rollback_plan(dict(record, state='phase-2'), current_after(record))
    assert plan['stop'] == ['new.service']
    assert plan['restart'] == ['old.service', 'web.service']


def test_rollback_plan_killed_before_any_change_does_nothing():
    plans = [p for p in plans_for_record() if p['file'] in ('web.container', 'new.container')]
    record = txn.new_record('demo', ScopeStub(), plans, {})
    plan = txn.rollback_plan(record, {'web.container': WEB, 'new.container': None})
    assert plan == {'stop': ['new.service'], 'restore': [], 'remove': [], 'restart': [], 'reload': False}


def test_rollback_plan_stops_in_reverse_phase_order():
    units = dict(('u%d.container' % n, {'before': None, 'after': WEB, 'touched': True, 'was_active': False,
                                        'phase': n, 'service': 'u%d.service' % n}) for n in (0, 2, 1))
    plan = txn.rollback_plan({'state': 'phase-2', 'units': units}, {})
    assert plan['stop'] == ['u2.service', 'u1.service', 'u0.service']


def test_secrets_to_restore():
    assert txn.secrets_to_restore({'a': 'old', 'b': None, 'c': 'same'}, {'a': 'new', 'b': 'new', 'c': 'same'}) == {
        'a': 'old', 'b': None}
    assert txn.secrets_to_restore(None, {}) == {}


def test_rollback_summary_and_message():
    rollback = {'restored': ['a.container'], 'removed': ['b.container'], 'secrets': ['pw'], 'reloaded': True,
                'stopped': ['b.service'], 'restarted': ['a.service'], 'errors': [], 'ok': True}
    assert txn.rollback_summary(rollback) == ['restored a.container', 'removed b.container', 'secret pw restored',
                                              'daemon-reload', 'stopped b.service', 'restarted a.service']
    assert txn.rollback_message(rollback).startswith('rolled the whole set back: restored a.container')
    failed = dict(rollback, errors=['boom'], ok=False)
    assert 'WITH ERRORS: boom' in txn.rollback_message(failed) and 'the journal is kept' in txn.rollback_message(failed)


# -- waiting and checks -----------------------------------------------------------------------------

@pytest.mark.parametrize('state, baseline, expected', [
    ({'InvocationID': 'new', 'Job': '12'}, 'old', 'begun'),
    ({'InvocationID': 'new', 'Job': ''}, '', 'begun'),
    ({'InvocationID': 'old', 'Job': '12'}, 'old', None),
    ({'InvocationID': '', 'Job': '12'}, '', None),
    ({'InvocationID': 'old', 'Job': '', 'ActiveState': 'active'}, 'old', 'begun'),
])
def test_job_verdict(state, baseline, expected):
    assert txn.job_verdict(state, baseline) == expected


def test_job_verdict_names_a_start_that_ended_without_starting():
    verdict = txn.job_verdict({'Id': 'web.service', 'InvocationID': '', 'Job': '', 'ActiveState': 'inactive',
                               'SubState': 'dead', 'Result': 'success'}, '')
    assert 'start job of web.service ended without starting it (inactive/dead' in verdict


@pytest.mark.parametrize('rc, out, regex, expected', [
    (0, 'PONG\n', None, None),
    (0, 'PONG\n', '^PONG', None),
    (0, 'nope', '^PONG', "stdout does not match '^PONG': nope"),
    (1, '', None, 'exit code 1: boom'),
])
def test_command_verdict(rc, out, regex, expected):
    assert txn.command_verdict(rc, out, 'boom', regex) == expected


class ExecRunner(object):
    def __init__(self, answers):
        self.answers, self.calls = list(answers), []

    def podman(self, *args, **kwargs):
        self.calls.append(args)
        return self.answers.pop(0)


def test_checks_retry_until_pass_and_stop_at_the_first_failure():
    runner = ExecRunner([(1, '', 'not yet'), (0, 'PONG', ''), (1, '', 'down')])
    sleeps = []
    checks = txn.Checks(runner, txn.Masker(), sleep=sleeps.append)
    results, failure = checks.run_all([
        {'name': 'ping', 'container': 'db', 'command': ['valkey-cli', 'ping'], 'stdout_regex': 'PONG', 'retries': 3, 'delay': 2},
        {'name': 'again', 'container': 'db', 'command': ['true'], 'retries': 1, 'delay': 2},
        {'name': 'never-run', 'container': 'db', 'command': ['true']}])
    assert runner.calls[0] == ('exec', 'db', 'valkey-cli', 'ping')
    assert results == [{'name': 'ping', 'ok': True, 'attempts': 2},
                       {'name': 'again', 'ok': False, 'attempts': 1, 'error': 'exit code 1: down'}]
    assert sleeps == [2]
    assert failure['check'] == 'verify again' and failure['cause'] == 'exit code 1: down'


def test_checks_http_sends_the_host_header():
    seen = {}

    def open_url(url, headers=None, **kwargs):
        seen.update(url=url, headers=headers)
        raise IOError('refused')
    checks = txn.Checks(None, txn.Masker(), sleep=lambda s: None, open_url=open_url)
    result = checks.run({'name': 'page', 'http': {'url': 'http://127.0.0.1/', 'host': 'demo.localhost', 'status': [200]},
                         'retries': 1})
    assert seen == {'url': 'http://127.0.0.1/', 'headers': {'Host': 'demo.localhost'}}
    assert not result['ok'] and 'refused' in result['error']


# -- journal files ------------------------------------------------------------------------------------

def test_write_private_is_atomic_and_private(tmp_path):
    scope = ScopeStub(str(tmp_path / 'state'))
    journal = txn.Journal(scope, 'demo')
    journal.save({'units': {}, 'secrets': {'pw': 'old'}})
    mode = os.stat(journal.path).st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(journal.path)).st_mode) == 0o700
    assert os.listdir(os.path.dirname(journal.path)) == ['demo.json'], 'no temp file left behind'
    assert txn.read_json(journal.path)['secrets'] == {'pw': 'old'}
    journal.save_last({'units': {}})
    assert journal.load_last() == {'units': {}}
    journal.remove()
    journal.remove_last()
    assert journal.load_last() is None and not os.path.exists(journal.path)


def test_leftover_journals_skip_rollback_points_and_temp_files(tmp_path):
    for name in ('a.json', 'a.last.json', '.a.json.x.tmp', 'b.json', 'b.json.corrupt'):
        (tmp_path / name).write_text('{}')
    assert txn.leftover_journals(str(tmp_path)) == [str(tmp_path / 'a.json'), str(tmp_path / 'b.json')]
    assert txn.leftover_journals(str(tmp_path / 'missing')) == []


def test_read_json_refuses_what_is_not_a_journal(tmp_path):
    (tmp_path / 'x.json').write_text('[1]')
    (tmp_path / 'y.json').write_text('{"units": {}')
    with pytest.raises(ValueError, match='not a transaction journal'):
        txn.read_json(str(tmp_path / 'x.json'))
    with pytest.raises(ValueError):
        txn.read_json(str(tmp_path / 'y.json'))
    assert txn.read_json(str(tmp_path / 'none.json')) is None


@pytest.mark.parametrize('value, state, expected', [
    ('written', 'written', 120), ('phase-2:15', 'phase-2', 15.0), ('phase-2:x', 'phase-2', 120),
    ('phase-2:15', 'phase-1', None), ('', 'written', None), (None, 'written', None), ('phase-10', 'phase-1', None)])
def test_pause_seconds(value, state, expected):
    assert txn.pause_seconds(value, state) == expected


def test_pause_at_sleeps_only_at_the_named_state(monkeypatch):
    slept = []
    monkeypatch.setenv(txn.PAUSE_ENV, 'written')
    txn.pause_at('prepared', sleep=slept.append)
    txn.pause_at('written', sleep=slept.append)
    monkeypatch.delenv(txn.PAUSE_ENV)
    txn.pause_at('written', sleep=slept.append)
    assert slept == [txn.PAUSE_SECONDS]


def test_purge_object():
    unit = parse_unit('[Volume]\nVolumeName=data\n')
    assert txn.purge_object(dict(spec('d.volume', state='absent', before=''), purge=True), unit) == ('volume', 'data')
    assert txn.purge_object(dict(spec('d.volume', state='absent', before=''), purge=True), None) == ('volume', 'systemd-d')
    assert txn.purge_object(spec('d.volume', state='absent', before=''), unit) is None


def test_health_target():
    target = txn.health_target({'container': 'web', 'service_name': 'web.service'})
    assert (target.name, target.container, target.unit) == ('web', 'web', 'web.service')
    target = txn.health_target({'container': None, 'service_name': 'app.service'})
    assert (target.name, target.container, target.unit) == ('app.service', None, 'app.service')
    target = txn.health_target({'container': 'migrate', 'service_name': 'migrate.service', 'job': True})
    assert (target.name, target.container, target.unit) == ('migrate.service', None, 'migrate.service'), \
        'a job is done when its unit is active after the container exited 0 (and is gone)'


def test_mask_is_the_podman_mask():
    assert txn.Masker()('A_TOKEN=x') == 'A_TOKEN=' + podman.MASK


class JobHost(object):
    """Answers systemctl show from a list of rounds: {service: properties}."""

    def __init__(self, rounds):
        self.rounds, self.calls, self.runner = list(rounds), [], self

    def states(self, services, properties=None):
        self.calls.append(('show', tuple(services)))
        return self.rounds.pop(0) if len(self.rounds) > 1 else self.rounds[0]

    def systemctl(self, verb, services, no_block=False, ok_rcs=(0,)):
        if services:
            self.calls.append((verb, tuple(services), no_block))

    def unit_status(self, unit):
        return 'status of %s' % unit

    def logs(self, container, unit=None):
        return 'logs of %s' % container


class Clock(object):
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def watcher_that_records(calls, healthy=True):
    class Watcher(object):
        def __init__(self, runner, targets, **kwargs):
            calls.append(('watch', [t.name for t in targets], kwargs['timeout']))
            self.targets = targets

        def wait(self):
            return [{'name': t.name, 'healthy': healthy, 'status': 'healthy' if healthy else 'unhealthy',
                     'reason': 'r', 'time_to_healthy': 1.0 if healthy else None, 'container': None}
                    for t in self.targets]
    return Watcher


ITEM = {'file': 'web.container', 'service_name': 'web.service', 'container': 'web', 'wait': True, 'timeout': 10,
        'verb': 'restart'}


def test_waiter_watches_health_only_after_the_restart_began():
    clock = Clock()
    host = JobHost([{'web.service': {'InvocationID': 'old'}},            # baseline
                    {'web.service': {'InvocationID': 'old', 'Job': '7'}},  # still queued: the old container runs
                    {'web.service': {'InvocationID': 'new', 'Job': '7'}}])
    waiter = txn.Waiter(host, 1, txn.Masker(), clock=clock, sleep=clock.sleep, watcher=watcher_that_records(host.calls))
    healthy, failure = waiter.start([ITEM, dict(ITEM, file='net.network', service_name='net-network.service',
                                                container=None, wait=False, verb='start')])
    assert failure is None and healthy == {'web': 1.2}
    assert host.calls[1:3] == [('start', ('net-network.service',), True), ('restart', ('web.service',), True)]
    assert [c[0] for c in host.calls[3:]] == ['show', 'show', 'watch'], 'no health verdict while the job is queued'


def test_waiter_fails_a_start_that_ended_without_starting():
    clock = Clock()
    host = JobHost([{'web.service': {'InvocationID': ''}},
                    {'web.service': {'Id': 'web.service', 'InvocationID': '', 'Job': '', 'ActiveState': 'inactive'}}])
    waiter = txn.Waiter(host, 1, txn.Masker(), clock=clock, sleep=clock.sleep, watcher=watcher_that_records(host.calls))
    healthy, failure = waiter.start([dict(ITEM, verb='start')])
    assert failure['check'] == 'start' and 'ended without starting it' in failure['cause']
    assert failure['evidence'] == {'status': 'status of web.service', 'logs': 'logs of web'}
    assert not [c for c in host.calls if c[0] == 'watch']


def test_waiter_gives_up_on_a_job_that_never_begins():
    clock = Clock()
    host = JobHost([{'web.service': {'InvocationID': 'old', 'Job': '7'}}])
    waiter = txn.Waiter(host, 1, txn.Masker(), clock=clock, sleep=clock.sleep, watcher=watcher_that_records(host.calls))
    healthy, failure = waiter.start([ITEM])
    assert 'did not begin within 10s' in failure['cause'] and clock.now >= 10


def test_waiter_reports_the_unhealthy_unit():
    clock = Clock()
    host = JobHost([{'web.service': {'InvocationID': 'new'}}, {'web.service': {'InvocationID': 'newer'}}])
    waiter = txn.Waiter(host, 1, txn.Masker(), clock=clock, sleep=clock.sleep,
                        watcher=watcher_that_records(host.calls, healthy=False))
    healthy, failure = waiter.start([ITEM])
    assert healthy == {} and failure['unit'] == 'web.container' and failure['check'] == 'health'
    assert failure['cause'] == 'web.service did not become healthy: unhealthy (r)'


def test_progress_lines_go_to_a_new_file_that_is_removed_at_the_end(tmp_path):
    path = str(tmp_path / 'progress.jsonl')
    times = iter([10.0, 11.5, 12.0])
    progress = txn.Progress(path, clock=lambda: next(times))
    progress('phase', phase=1, start=['demo-db.service'])
    progress('healthy', container='demo-db', seconds=2.0)
    with open(path) as handle:
        lines = [json.loads(line) for line in handle]
    assert lines == [{'event': 'phase', 'phase': 1, 'start': ['demo-db.service'], 't': 1.5},
                     {'container': 'demo-db', 'event': 'healthy', 'seconds': 2.0, 't': 2.0}]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    progress.close()
    assert not os.path.exists(path)
    with open(path, 'w') as handle:
        handle.write('someone else')
    with pytest.raises(OSError):
        txn.Progress(path)  # never appends to (or through) a file that is already there
    txn.Progress(None)('phase')  # without a path it does nothing


def health_transaction(healthy, verify_health=True):
    """A Transaction with only what run_health uses: params, a waiter on a stub host, a clock, a timer, a result."""
    clock, calls, events = Clock(), [], []
    host = JobHost([{'web.service': {'InvocationID': 'x'}}])
    tx = object.__new__(txn.Transaction)
    tx.params = {'verify_health': verify_health}
    tx.clock = clock
    tx.timer = txn.Timer(clock)
    tx.result = {}
    tx.progress = lambda event, **fields: events.append((event, fields))
    tx.waiter = txn.Waiter(host, 1, txn.Masker(), clock=clock, sleep=clock.sleep,
                           watcher=watcher_that_records(calls, healthy=healthy), progress=tx.progress)
    return tx, calls, events


HEALTH_PLANS = [dict(ITEM, state='present', type='container', timeout=120),
                dict(ITEM, file='db.container', service_name='db.service', container='db', state='present',
                     type='container', wait=False),
                dict(ITEM, file='net.network', service_name='net-network.service', container=None, state='present',
                     type='network', wait=False)]


def test_verify_health_judges_every_waited_on_container_again_without_time_to_healthy_lines():
    tx, calls, events = health_transaction(healthy=True)
    tx.run_health(HEALTH_PLANS)
    assert calls == [('watch', ['web'], txn.HEALTH_RECHECK)], 'waited-on containers only, for at most HEALTH_RECHECK s'
    assert tx.result['health'] == {'web': 'healthy'} and 'health' in tx.timer.seconds
    assert events == [('health', {'names': ['web']})], 'no "healthy after N s" line for a recheck'


def test_verify_health_fails_with_the_unhealthy_container():
    tx, dummy, dummy = health_transaction(healthy=False)
    with pytest.raises(txn.TxnError) as raised:
        tx.run_health(HEALTH_PLANS)
    assert raised.value.failure['check'] == 'health' and raised.value.failure['service'] == 'web.service'
    assert tx.result['health'] == {'web': 'not healthy'}


def test_verify_health_off_judges_nothing():
    tx, calls, dummy = health_transaction(healthy=False, verify_health=False)
    tx.run_health(HEALTH_PLANS)
    assert calls == [] and 'health' not in tx.result


def test_a_gone_container_s_evidence_is_its_unit_s_journal():
    """podman run failed (or the container exited and was removed): podman logs has nothing, the journal has
    podman's own error; the report shows that."""
    class Runner(object):
        def __init__(self, logs_rc):
            self.logs_rc, self.calls = logs_rc, []

        def podman(self, *args, **kwargs):
            self.calls.append(args)
            return (self.logs_rc, 'container output', '') if self.logs_rc == 0 else (self.logs_rc, '', 'Error: no such container')

        def unit_journal(self, unit, lines=20):
            return 'Error: workdir "/srv/x" does not exist (journal of %s)' % unit
    host = txn.Host(None, None, Runner(125))
    assert host.logs('web', unit='web.service') == 'Error: workdir "/srv/x" does not exist (journal of web.service)'
    host = txn.Host(None, None, Runner(0))
    assert host.logs('web', unit='web.service') == 'container output'
    assert txn.Host(None, None, Runner(125)).logs('web') == 'Error: no such container'

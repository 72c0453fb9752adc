# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the deploy_history callback, fed with stats and results shaped as Ansible passes them."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.executor.stats import AggregateStats

from ansible_collections.homelab.deploy.plugins.callback import deploy_history as cbmod
from ansible_collections.homelab.deploy.plugins.plugin_utils._history import read_events


class Display(object):
    def __init__(self):
        self.warnings = []

    def warning(self, msg):
        self.warnings.append(msg)

    def vvv(self, msg):
        pass


class Named(object):
    def __init__(self, name):
        self.name = name

    def get_name(self):
        return self.name


class Result(object):
    def __init__(self, host, task, result):
        self._host, self._task, self._result = Named(host), Named(task), result


def event(**changes):
    base = {'kind': 'deploy', 'host': 'node', 'name': 'wiki', 'pattern': 'web-app', 'images': {}, 'strategy': 'direct',
            'outcome': 'success', 'started': 100.0, 'duration': 3.0, 'phases': {}, 'failure': None, 'details': {}}
    base.update(changes)
    return base


def stats_with(events):
    """AggregateStats as set_stats(per_host=false, aggregate=true) leaves them."""
    stats = AggregateStats()
    for ev in events:
        stats.update_custom_stats(cbmod.STAT_NAME, [ev])
    return stats


def callback(db, extra_vars=None):
    cb = cbmod.CallbackModule()
    cb._display = Display()
    cb.extra_vars = dict({'deploy_history_db': db}, **(extra_vars or {}))
    cb.started = 90.0
    cb.playbook = 'site.yml'
    return cb


def test_published_events_are_appended_with_the_trigger(tmp_path):
    db = str(tmp_path / 'h.sqlite')
    cb = callback(db, {'awx_job_id': 12, 'awx_user_name': 'bob'})
    cb.v2_playbook_on_stats(stats_with([event(), event(host='other', outcome='rolled_back')]))
    recs = read_events(db)
    assert [(r['host'], r['outcome']) for r in recs] == [('node', 'success'), ('other', 'rolled_back')]
    assert recs[0]['trigger'] == {'source': 'awx', 'job_id': '12', 'user': 'bob'}
    assert recs[0]['run_id'] == recs[1]['run_id'] == cb.run_id
    assert cb._display.warnings == []


def test_a_host_failing_before_publishing_gets_a_failed_record(tmp_path):
    db = str(tmp_path / 'h.sqlite')
    cb = callback(db)
    cb.v2_runner_on_failed(Result('node', 'Pre-flight', {'msg': 'disk full\nmore'}))
    cb.v2_runner_on_failed(Result('node', 'later', {'msg': 'second'}))
    cb.v2_runner_on_failed(Result('ignored', 'probe', {'msg': 'fine'}), ignore_errors=True)
    cb.v2_runner_on_unreachable(Result('gone', 'Gathering', {'msg': 'ssh: no route'}))
    cb.v2_runner_on_failed(Result('published', 'x', {'msg': 'has its own event'}))
    cb.v2_playbook_on_stats(stats_with([event(host='published', outcome='failed')]))
    recs = dict((r['host'], r) for r in read_events(db))
    assert sorted(recs) == ['gone', 'node', 'published']
    assert recs['node']['kind'] == 'run' and recs['node']['name'] == 'site.yml' and recs['node']['outcome'] == 'failed'
    assert recs['node']['failure'] == {'service': '', 'check': 'task', 'cause': 'disk full', 'evidence': 'Pre-flight'}
    assert recs['gone']['failure']['check'] == 'unreachable'
    assert recs['published']['kind'] == 'deploy'


def test_check_mode_failures_are_not_recorded(tmp_path, monkeypatch):
    monkeypatch.setattr(cbmod.context, 'CLIARGS', {'check': True})
    db = tmp_path / 'h.sqlite'
    cb = callback(str(db))
    cb.v2_runner_on_failed(Result('node', 'Pre-flight', {'msg': 'would fail'}))
    cb.v2_playbook_on_stats(AggregateStats())
    assert not db.exists()


def test_nothing_published_nothing_failed_writes_nothing(tmp_path):
    db = tmp_path / 'h.sqlite'
    callback(str(db)).v2_playbook_on_stats(AggregateStats())
    assert not db.exists()


def test_an_unwritable_store_only_warns(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('x')
    cb = callback(str(blocker / 'h.sqlite'))
    cb.v2_playbook_on_stats(stats_with([event()]))
    assert len(cb._display.warnings) == 1 and 'NOT recorded' in cb._display.warnings[0]


def test_a_bad_event_is_left_out_with_a_warning_the_rest_recorded(tmp_path):
    db = str(tmp_path / 'h.sqlite')
    cb = callback(db)
    cb.v2_playbook_on_stats(stats_with([event(outcome='splendid'), event(name='ok')]))
    assert [r['name'] for r in read_events(db)] == ['ok']
    assert "outcome 'splendid'" in cb._display.warnings[0]


def test_trigger_sources():
    assert cbmod.trigger_from({}, {'SEMAPHORE_TASK_ID': '7'})['source'] == 'semaphore'
    cli = cbmod.trigger_from({'deploy_approved_by': 'carol'}, {})
    assert cli['source'] == 'cli' and cli['approved_by'] == 'carol' and 'user' in cli

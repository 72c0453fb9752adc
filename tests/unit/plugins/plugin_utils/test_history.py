# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the SQLite deployment history store."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import sqlite3
import threading

import pytest

from ansible_collections.homelab.deploy.plugins.plugin_utils import _history as h


def event(**changes):
    base = {'kind': 'deploy', 'host': 'node', 'name': 'wiki', 'pattern': 'web-app', 'images': {'wiki-app': 'img@sha256:1'},
            'strategy': 'direct', 'outcome': 'success', 'started': 100.0, 'duration': 12.5,
            'phases': {'deploy': 10.0}, 'failure': None, 'details': {'changed': True}}
    base.update(changes)
    return base


def test_append_then_read_round_trips_every_field(tmp_path):
    db = str(tmp_path / 'a' / 'b' / 'h.sqlite')
    assert h.append_events(db, [event(), event(started=50.0, outcome='rolled_back', failure={'cause': 'x'})],
                           'run-1', {'source': 'cli', 'user': 'me'}, now=200.0) == 2
    recs = h.read_events(db)
    assert [r['started'] for r in recs] == [50.0, 100.0]
    assert recs[1]['images'] == {'wiki-app': 'img@sha256:1'} and recs[1]['phases'] == {'deploy': 10.0}
    assert recs[0]['failure'] == {'cause': 'x'} and recs[1]['failure'] is None
    assert recs[1]['trigger'] == {'source': 'cli', 'user': 'me'} and recs[1]['run_id'] == 'run-1'
    assert recs[1]['recorded'] == 200.0 and recs[1]['automation_level'] is None


def test_read_filters_by_period_and_missing_store_is_empty(tmp_path):
    db = str(tmp_path / 'h.sqlite')
    assert h.read_events(db) == [] and not os.path.exists(db)
    h.append_events(db, [event(started=t) for t in (10, 20, 30)], 'r')
    assert [r['started'] for r in h.read_events(db, since=20)] == [20.0, 30.0]
    assert [r['started'] for r in h.read_events(db, since=10, until=30)] == [10.0, 20.0]


def test_schema_version_wal_and_append_only(tmp_path):
    db = str(tmp_path / 'h.sqlite')
    h.append_events(db, [event()], 'r')
    conn = sqlite3.connect(db)
    assert conn.execute('SELECT version FROM schema_version').fetchall() == [(h.SCHEMA_VERSION,)]
    assert conn.execute('PRAGMA journal_mode').fetchone()[0] == 'wal'
    with pytest.raises(sqlite3.IntegrityError, match='append-only'):
        conn.execute("UPDATE events SET outcome = 'failed'")
    with pytest.raises(sqlite3.IntegrityError, match='append-only'):
        conn.execute('DELETE FROM events')
    conn.close()


def test_newer_schema_is_refused(tmp_path):
    db = str(tmp_path / 'h.sqlite')
    h.append_events(db, [event()], 'r')
    conn = sqlite3.connect(db)
    conn.execute('INSERT INTO schema_version VALUES (99)')
    conn.commit()
    conn.close()
    with pytest.raises(h.HistoryError, match='schema version 99'):
        h.append_events(db, [event()], 'r')


@pytest.mark.parametrize('changes, message', [
    ({'outcome': 'great'}, "outcome 'great' is not one of"),
    ({'host': ''}, 'lacks host'),
    ({'started': 'soon'}, 'started must be a number'),
    ({'automation_level': 'high'}, 'automation_level must be 0-4'),
])
def test_bad_events_are_named(changes, message):
    with pytest.raises(h.HistoryError, match=message):
        h.normalize_event(event(**changes))


def test_level_is_taken_from_details_too():
    assert h.normalize_event(event(details={'automation_level': '2'}))['automation_level'] == 2


def test_a_bad_event_writes_nothing(tmp_path):
    db = str(tmp_path / 'h.sqlite')
    with pytest.raises(h.HistoryError):
        h.append_events(db, [event(), event(outcome='nope')], 'r')
    assert h.read_events(db) == []


def test_unwritable_path_is_a_history_error(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('not a directory')
    with pytest.raises(h.HistoryError, match='cannot open the deployment history'):
        h.append_events(str(blocker / 'h.sqlite'), [event()], 'r')


def test_path_resolution(monkeypatch):
    monkeypatch.delenv(h.ENV_PATH, raising=False)
    assert h.resolve_path('') == os.path.expanduser(h.DEFAULT_PATH)
    monkeypatch.setenv(h.ENV_PATH, '/srv/h.sqlite')
    assert h.resolve_path(None) == '/srv/h.sqlite' and h.resolve_path('/x/y.sqlite') == '/x/y.sqlite'


def test_concurrent_writers_lose_nothing(tmp_path):
    db = str(tmp_path / 'h.sqlite')
    errors = []

    def writer(n):
        try:
            for i in range(20):
                h.append_events(db, [event(name='svc%d' % n, started=i)], 'run%d' % n)
        except Exception as exc:  # pylint: disable=broad-except
            errors.append(exc)
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(h.read_events(db)) == 80


def test_switching_to_wal_is_retried_while_another_writer_holds_the_lock():
    class Conn(object):
        def __init__(self, failures):
            self.failures, self.calls = failures, []

        def execute(self, sql):
            self.calls.append(sql)
            if self.failures:
                self.failures -= 1
                raise h.sqlite3.OperationalError('database is locked')
            return self

        def fetchone(self):
            return ['delete']
    conn, sleeps = Conn(2), []
    h._use_wal(conn, sleep=sleeps.append)
    assert conn.calls[-1] == 'PRAGMA journal_mode = WAL' and sleeps == [0.05, 0.05]
    clock = iter([0.0, 100.0])
    with pytest.raises(h.sqlite3.OperationalError):
        h._use_wal(Conn(5), sleep=sleeps.append, clock=lambda: next(clock))

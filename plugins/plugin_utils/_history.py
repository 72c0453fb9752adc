# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private controller-side deployment history store (SQLite); not a public API, may change without notice.

One append-only table of events (the deployment-history contract: kind, host, name, pattern, images,
strategy, outcome, started, duration, phases, failure, details), written by the deploy_history callback and
read by the analytics filters. WAL mode and a busy timeout let many runs of an AWX/Semaphore controller write
at once; triggers refuse UPDATE and DELETE so a record, once written, stays as it was.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import sqlite3
import time

ENV_PATH = 'HOMELAB_DEPLOY_HISTORY_DB'
DEFAULT_PATH = '~/.local/share/homelab-deploy/history.sqlite'
SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 30000
KINDS = ('deploy', 'stack', 'reconcile', 'drift_fix', 'canary', 'rollback', 'run')
# 'refused' extends the contract: a deploy the automation-level gate stopped before it touched the host.
OUTCOMES = ('success', 'failed', 'rolled_back', 'refused')
JSON_FIELDS = ('images', 'phases', 'failure', 'details', 'trigger')
COLUMNS = ('id', 'run_id', 'recorded', 'kind', 'host', 'name', 'pattern', 'strategy', 'outcome', 'started',
           'duration', 'automation_level') + JSON_FIELDS

_SCHEMA = (
    'CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)',
    '''CREATE TABLE IF NOT EXISTS events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        run_id TEXT NOT NULL,
        recorded REAL NOT NULL,
        kind TEXT NOT NULL,
        host TEXT NOT NULL,
        name TEXT NOT NULL,
        pattern TEXT NOT NULL DEFAULT '',
        strategy TEXT NOT NULL DEFAULT '',
        outcome TEXT NOT NULL,
        started REAL NOT NULL,
        duration REAL,
        automation_level INTEGER,
        images TEXT NOT NULL DEFAULT '{}',
        phases TEXT NOT NULL DEFAULT '{}',
        failure TEXT NOT NULL DEFAULT 'null',
        details TEXT NOT NULL DEFAULT '{}',
        trigger TEXT NOT NULL DEFAULT '{}')''',
    'CREATE INDEX IF NOT EXISTS events_started ON events (started)',
    'CREATE INDEX IF NOT EXISTS events_host_name ON events (host, name)',
    '''CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
       BEGIN SELECT RAISE(ABORT, 'the deployment history is append-only'); END''',
    '''CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
       BEGIN SELECT RAISE(ABORT, 'the deployment history is append-only'); END''',
)


class HistoryError(Exception):
    """The store cannot be opened, read or written, or an event is not usable; the message says which."""


def resolve_path(path=None):
    """The store's path: the given one, else $HOMELAB_DEPLOY_HISTORY_DB, else the default; ~ expanded."""
    return os.path.abspath(os.path.expanduser(path or os.environ.get(ENV_PATH) or DEFAULT_PATH))


def _connect(path):
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000.0, isolation_level=None)
    conn.execute('PRAGMA busy_timeout = %d' % BUSY_TIMEOUT_MS)
    return conn


def open_store(path, create=True):
    """A connection to an initialised store at path (created when create); None when it is absent and not created."""
    path = resolve_path(path)
    if not create and not os.path.exists(path):
        return None
    try:
        if create:
            os.makedirs(os.path.dirname(path), exist_ok=True)
        conn = _connect(path)
        if create:
            _use_wal(conn)
            _migrate(conn, path)
        return conn
    except (sqlite3.Error, OSError) as exc:
        raise HistoryError('cannot open the deployment history %s: %s' % (path, exc))


def _use_wal(conn, sleep=time.sleep, clock=time.monotonic):
    """WAL mode, once per store. Switching takes a lock that SQLite's busy handler does not wait for, so
    writers opening a new store together retry it (within the busy timeout) instead of failing."""
    deadline = clock() + BUSY_TIMEOUT_MS / 1000.0
    while True:
        try:
            if conn.execute('PRAGMA journal_mode').fetchone()[0].lower() != 'wal':
                conn.execute('PRAGMA journal_mode = WAL')
            return
        except sqlite3.OperationalError as exc:
            if 'locked' not in ('%s' % exc) or clock() > deadline:
                raise
            sleep(0.05)


def _migrate(conn, path):
    conn.execute('BEGIN IMMEDIATE')
    try:
        for statement in _SCHEMA:
            conn.execute(statement)
        row = conn.execute('SELECT MAX(version) FROM schema_version').fetchone()
        if row[0] is None:
            conn.execute('INSERT INTO schema_version (version) VALUES (?)', (SCHEMA_VERSION,))
        elif row[0] > SCHEMA_VERSION:
            raise HistoryError('%s has schema version %s, newer than this collection understands (%s)'
                               % (path, row[0], SCHEMA_VERSION))
        conn.execute('COMMIT')
    except Exception:
        if conn.in_transaction:
            conn.execute('ROLLBACK')
        raise


def _number(event, key, default=None):
    value = event.get(key)
    if value is None or value == '':
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        raise HistoryError('event %s: %s must be a number, got %r' % (event.get('name'), key, value))


def _level(event):
    value = event.get('automation_level', (event.get('details') or {}).get('automation_level'))
    if value is None or value == '':
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise HistoryError('event %s: automation_level must be 0-4, got %r' % (event.get('name'), value))


def normalize_event(event, now=None):
    """The event as a row (a dict of COLUMNS without id/run_id/recorded/trigger); HistoryError says what is wrong."""
    if not isinstance(event, dict):
        raise HistoryError('an event must be a mapping, got %s' % type(event).__name__)
    missing = [k for k in ('kind', 'host', 'name', 'outcome') if not event.get(k)]
    if missing:
        raise HistoryError('event %r lacks %s' % (event.get('name'), ', '.join(missing)))
    if event['outcome'] not in OUTCOMES:
        raise HistoryError('event %s: outcome %r is not one of %s' % (event['name'], event['outcome'], ', '.join(OUTCOMES)))
    row = {'kind': str(event['kind']), 'host': str(event['host']), 'name': str(event['name']),
           'pattern': str(event.get('pattern') or ''), 'strategy': str(event.get('strategy') or ''),
           'outcome': event['outcome'], 'started': _number(event, 'started', now if now is not None else time.time()),
           'duration': _number(event, 'duration'), 'automation_level': _level(event)}
    for key in ('images', 'phases', 'details'):
        row[key] = event.get(key) or {}
    row['failure'] = event.get('failure') or None
    return row


def append_events(path, events, run_id, trigger=None, now=None):
    """Append the events in one transaction; returns how many were written. Raises HistoryError."""
    now = time.time() if now is None else now
    rows = [normalize_event(e, now) for e in events]
    conn = open_store(path)
    try:
        conn.execute('BEGIN IMMEDIATE')
        for row in rows:
            row.update(run_id=run_id, recorded=now, trigger=trigger or {})
            keys = [c for c in COLUMNS if c != 'id']
            values = [json.dumps(row[k], sort_keys=True, default=str) if k in JSON_FIELDS else row[k] for k in keys]
            conn.execute('INSERT INTO events (%s) VALUES (%s)' % (', '.join(keys), ', '.join('?' * len(keys))), values)
        conn.execute('COMMIT')
        return len(rows)
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute('ROLLBACK')
        raise HistoryError('cannot write to the deployment history %s: %s' % (resolve_path(path), exc))
    finally:
        conn.close()


def read_events(path, since=None, until=None):
    """Events with since <= started < until (epoch seconds, None = open), oldest first; [] when there is no store."""
    conn = open_store(path, create=False)
    if conn is None:
        return []
    where, args = [], []
    if since is not None:
        where.append('started >= ?')
        args.append(float(since))
    if until is not None:
        where.append('started < ?')
        args.append(float(until))
    sql = 'SELECT %s FROM events%s ORDER BY started, id' % (', '.join(COLUMNS), ' WHERE ' + ' AND '.join(where) if where else '')
    try:
        rows = conn.execute(sql, args).fetchall()
    except sqlite3.Error as exc:
        raise HistoryError('cannot read the deployment history %s: %s' % (resolve_path(path), exc))
    finally:
        conn.close()
    out = []
    for row in rows:
        record = dict(zip(COLUMNS, row))
        for key in JSON_FIELDS:
            record[key] = json.loads(record[key])
        out.append(record)
    return out

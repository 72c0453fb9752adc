# -*- coding: utf-8 -*-
"""One-shot jobs in a stack, on the node with real PostgreSQL: a migration job (psql as the entrypoint of the
postgres image) runs after the database is healthy and before the app, which depends on it; it exits 0 and its
unit stays active (exited), so the app starts; a re-run changes nothing. An update whose migration fails fails the
deploy, which is rolled back: the previous job is back and the app keeps running. Before, every container was
written with Restart=always, so a job that exits 0 was restarted for ever and nothing could depend on it.
"""
from test_stack_events import on_node, run_role

MIGRATION = '-h db -U postgres -v ON_ERROR_STOP=1 -c "CREATE TABLE IF NOT EXISTS feeds (url text)"'


def stack(migration=MIGRATION):
    return {'schema_version': 1, 'name': 'hljob', 'secrets': {'db-password': {'length': 24}},
            'volumes': {'pgdata': {'description': 'PostgreSQL data'}},
            'services': {
                'db': {'image': 'localhost/postgres:17', 'secrets': [{'secret': 'db-password', 'env': 'POSTGRES_PASSWORD'}],
                       'volumes': [{'volume': 'pgdata', 'target': '/var/lib/postgresql/data'}],
                       # initdb takes longer than 3 checks a second apart on a loaded 2-core CI machine: without a
                       # start period the database was judged unhealthy and the deploy failed (seen twice in CI)
                       'healthcheck': {'cmd': 'pg_isready -q -h 127.0.0.1', 'interval': '1s', 'retries': 3,
                                       'start_period': '30s'},
                       'wait_for': {'timeout': 90}},
                'migrate': {'kind': 'job', 'image': 'localhost/postgres:17', 'depends_on': ['db'],
                            'entrypoint': '/usr/lib/postgresql/17/bin/psql', 'command': migration,
                            'secrets': [{'secret': 'db-password', 'env': 'PGPASSWORD'}], 'wait_for': {'timeout': 60}},
                'app': {'image': 'localhost/hl-web:latest', 'depends_on': ['migrate'],
                        'healthcheck': {'cmd': '/bin/hl-web health', 'interval': '1s', 'retries': 2}}}}


def state(unit):
    """[ActiveState, SubState, Result, NRestarts] of a unit."""
    shown = dict(line.split('=', 1) for line in on_node(
        'systemctl', 'show', '-p', 'ActiveState,SubState,Result,NRestarts', unit).stdout.splitlines() if '=' in line)
    return [shown.get(key) for key in ('ActiveState', 'SubState', 'Result', 'NRestarts')]


def test_a_migration_job_runs_once_before_the_app_and_a_failed_one_is_rolled_back(inventory):
    secrets = {'stack_secrets': {'db-password': 'it-job-db-password-0123'}}
    try:
        rc, events, out = run_role(inventory, dict(secrets, stack_definition=stack()))
        # the failure record first: the tail of the output can be one long podman command line
        assert rc == 0, (events[0].get('failure') if events else None, out[-3000:])
        assert events[0]['outcome'] == 'success' and events[0]['details']['touched'] == ['db', 'migrate', 'app']
        unit = on_node('cat', '/etc/containers/systemd/hljob-migrate.container').stdout
        assert 'Type=oneshot' in unit and 'Restart=no' in unit and 'Notify=' not in unit
        assert state('hljob-migrate.service') == ['active', 'exited', 'success', '0'], 'done, not restarted'
        assert state('hljob-app.service')[:2] == ['active', 'running']
        table = on_node('podman', 'exec', 'hljob-db', 'psql', '-U', 'postgres', '-tAc', "SELECT to_regclass('feeds')")
        assert table.stdout.strip() == 'feeds', 'the migration ran against the database'

        rc, events, out = run_role(inventory, dict(secrets, stack_definition=stack()))
        assert rc == 0 and events == [], 'a re-run changes nothing and does not run the job again'

        bad = stack('-h db -U postgres -v ON_ERROR_STOP=1 -c "SELECT * FROM no_such_table"')
        rc, events, out = run_role(inventory, dict(secrets, stack_definition=bad))
        assert rc != 0 and events[0]['outcome'] == 'rolled_back', out[-3000:]
        assert events[0]['failure']['service'] == 'migrate', events[0]['failure']
        unit = on_node('cat', '/etc/containers/systemd/hljob-migrate.container').stdout
        assert 'CREATE TABLE IF NOT EXISTS feeds' in unit, 'the previous job is back'
        assert state('hljob-migrate.service')[:2] == ['active', 'exited']
        assert state('hljob-app.service')[:2] == ['active', 'running'], 'the app kept running'
    finally:
        run_role(inventory, {'stack_definition': stack(), 'stack_state': 'absent', 'stack_purge': True})
        on_node('podman', 'secret', 'rm', '--ignore', 'hljob-db-password')

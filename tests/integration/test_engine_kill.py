# -*- coding: utf-8 -*-
"""The one engine survives a killed run and does not interleave two runs (issue 12), on the real node.

A stack of PostgreSQL (data in a named volume) and a web app that depends on it is deployed, then upgraded while
the run is killed with SIGKILL (the controller's ansible-playbook and the host transaction's process on the node):
  (a) in the middle of a phase, while the web app is being waited on;
  (b) between the unit files being written and systemd's daemon-reload.
The run is started again at once and must succeed without waiting for any lock or timeout, leave no journal behind,
run the declared units healthy, have no duplicate containers, and keep the row written to the database before.
Two runs at once: the second waits for the host lock and then runs after the first (bounded by lock_timeout), or is
refused cleanly with nothing changed when the lock is not free within its lock_timeout.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HLNODE = [sys.executable, os.path.join(ROOT, 'tests', 'harness', 'hlnode')]
NAME = 'hlkill'
TXN_DIR = '/var/lib/homelab-deploy/txn'
STACK = {
    'schema_version': 1, 'name': NAME,
    'secrets': {'db-password': {'length': 24}},
    'volumes': {'pgdata': {'description': 'database'}},
    'services': {
        'db': {'image': 'localhost/postgres:17', 'environment': {'POSTGRES_USER': 'kill', 'POSTGRES_DB': 'kill'},
               'secrets': [{'secret': 'db-password', 'env': 'POSTGRES_PASSWORD'}],
               'volumes': [{'volume': 'pgdata', 'target': '/var/lib/postgresql/data'}],
               'healthcheck': {'cmd': 'pg_isready -q -h 127.0.0.1 -U kill -d kill', 'interval': '2s', 'timeout': '3s',
                               'retries': 3, 'start_period': '10s'},
               'wait_for': {'healthy': True, 'timeout': 120}},
        'web': {'image': 'localhost/hl-web:latest', 'depends_on': ['db'], 'environment': {'HL_WEB_MESSAGE': 'v1'},
                'healthcheck': {'cmd': '/bin/hl-web health', 'interval': '2s', 'timeout': '3s', 'retries': 2,
                                'start_period': '4s'},
                'wait_for': {'healthy': True, 'timeout': 60}},
    },
}
PLAYBOOK = """---
- name: Kill test
  hosts: node
  gather_facts: false
  environment:
    HOMELAB_DEPLOY_PAUSE_AT: "{{ pause_at | default('') }}"
  roles:
    - role: homelab.deploy.stack
"""


def on_node(*argv):
    return subprocess.run(HLNODE + ['exec', '--'] + list(argv), check=False, capture_output=True, text=True)


def stack(message, **extra):
    data = json.loads(json.dumps(STACK))
    data['services']['web']['environment']['HL_WEB_MESSAGE'] = message
    return dict({'stack_definition': data, 'stack_secrets': {'db-password': 'kill-test-password-123'}}, **extra)


class Run(object):
    """ansible-playbook started in its own process group, so that it can be killed as a whole."""

    def __init__(self, inventory, workdir, extra):
        playbook = os.path.join(workdir, 'kill.yml')
        with open(playbook, 'w') as handle:
            handle.write(PLAYBOOK)
        varsfile = os.path.join(workdir, 'vars-%d.json' % int(time.time() * 1000))
        with open(varsfile, 'w') as handle:
            json.dump(extra, handle)
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, 'tests', 'output', 'collections'),
                   ANSIBLE_HOST_KEY_CHECKING='False', ANSIBLE_NOCOLOR='1')
        self.log = open(os.path.join(workdir, 'run-%d.log' % int(time.time() * 1000)), 'w+')
        self.started = time.monotonic()
        self.proc = subprocess.Popen(['ansible-playbook', '-i', inventory, playbook, '-e', '@' + varsfile],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def wait(self, timeout=300):
        rc = self.proc.wait(timeout)
        self.seconds = time.monotonic() - self.started
        self.log.seek(0)
        self.output = self.log.read()
        return rc

    def kill(self):
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)


def journal():
    out = on_node('cat', '%s/%s.json' % (TXN_DIR, NAME))
    if out.returncode != 0:
        return {}
    try:
        return json.loads(out.stdout)
    except ValueError:
        return {}


def journal_state():
    return journal().get('state')


def wait_for_state(run, wanted, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if run.proc.poll() is not None:
            run.wait()
            pytest.fail('the run ended before reaching %s:\n%s' % (wanted, run.output[-3000:]))
        if journal_state() == wanted:
            return
        time.sleep(0.2)
    pytest.fail('the journal never reached state %s (last: %s)' % (wanted, journal_state()))


def kill_everywhere(run):
    """The run dies: the controller, and the host transaction's process on the node (the journal names it; under
    SSH pipelining its command line is only the interpreter)."""
    pid = journal().get('pid')
    assert pid, journal()
    run.kill()
    assert on_node('kill', '-KILL', str(pid)).returncode == 0


def converged(message):
    """The declared state runs healthy, once, with no journal left and the row still there."""
    assert on_node('test', '-e', '%s/%s.json' % (TXN_DIR, NAME)).returncode != 0, 'a journal was left behind'
    names = on_node('podman', 'ps', '-a', '--format', '{{.Names}}').stdout.split()
    assert sorted(n for n in names if n.startswith(NAME)) == ['%s-db' % NAME, '%s-web' % NAME], names
    for unit in ('db', 'web'):
        state = on_node('systemctl', 'is-active', '%s-%s.service' % (NAME, unit)).stdout.strip()
        assert state == 'active', (unit, state)
        health = on_node('podman', 'inspect', '--format', '{{.State.Health.Status}}', '%s-%s' % (NAME, unit))
        assert health.stdout.strip() == 'healthy', (unit, health.stdout, health.stderr)
    env = on_node('podman', 'inspect', '--format', '{{range .Config.Env}}{{println .}}{{end}}', '%s-web' % NAME).stdout
    assert 'HL_WEB_MESSAGE=%s' % message in env.splitlines()
    row = on_node('podman', 'exec', '%s-db' % NAME, 'psql', '-U', 'kill', '-d', 'kill', '-tAc', 'SELECT note FROM it_kill')
    assert row.stdout.split() == ['before-the-kill'], row.stdout + row.stderr


@pytest.fixture(scope='module')
def deployed(inventory):
    workdir = tempfile.mkdtemp(prefix='hl-kill-', dir=os.path.join(ROOT, 'tests', 'output'))
    first = Run(inventory, workdir, stack('v1'))
    assert first.wait() == 0, first.output[-4000:]
    write = on_node('podman', 'exec', '%s-db' % NAME, 'psql', '-U', 'kill', '-d', 'kill', '-v', 'ON_ERROR_STOP=1', '-c',
                    "CREATE TABLE it_kill (note text); INSERT INTO it_kill VALUES ('before-the-kill')")
    assert write.returncode == 0, write.stderr
    yield workdir
    Run(inventory, workdir, dict(stack('v1'), stack_state='absent', stack_purge=True)).wait()
    on_node('podman', 'secret', 'rm', '--ignore', '%s-db-password' % NAME)
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.mark.parametrize('state, message', [('phase-2', 'v2-killed-mid-phase'), ('written', 'v3-killed-before-reload')])
def test_killed_run_converges_on_the_next_run_without_waiting(inventory, deployed, state, message):
    run = Run(inventory, deployed, stack(message, pause_at='%s:120' % state))
    wait_for_state(run, state)
    kill_everywhere(run)
    assert journal_state() == state  # the kill left a half-done transaction behind

    again = Run(inventory, deployed, stack(message, stack_lock_timeout=5))
    assert again.wait() == 0, again.output[-4000:]
    assert 'recovered' in again.output or 'rolled back' in again.output, again.output[-4000:]
    assert again.seconds < 90, again.seconds
    converged(message)

    idle = Run(inventory, deployed, stack(message))
    assert idle.wait() == 0, idle.output[-3000:]
    assert 'changed=0' in idle.output, idle.output[-3000:]


def test_two_runs_at_once_do_not_interleave(inventory, deployed):
    holder = Run(inventory, deployed, stack('v4-first', pause_at='phase-2:15'))
    wait_for_state(holder, 'phase-2')

    refused = Run(inventory, deployed, stack('v5-refused', stack_lock_timeout=2))
    assert refused.wait() != 0
    assert 'another run holds' in refused.output, refused.output[-3000:]
    assert 'Nothing was changed' in refused.output
    assert journal_state() == 'phase-2'  # the holder's transaction was not touched

    waiter = Run(inventory, deployed, stack('v6-second', stack_lock_timeout=120))
    assert holder.wait() == 0, holder.output[-4000:]
    assert waiter.wait() == 0, waiter.output[-4000:]
    assert 'recovered' not in waiter.output.split('PLAY RECAP')[0].lower(), waiter.output[-3000:]
    converged('v6-second')

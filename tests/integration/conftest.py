# -*- coding: utf-8 -*-
"""Fixtures for integration tests against the real managed node (tests/harness/hlnode).

The node must be up (tests/run node, or make node). Tests run Ansible playbooks against
it with the JSON callback, so a test can assert on per-task results and on the recap.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import ansible_runner
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HLNODE = [sys.executable, os.path.join(ROOT, 'tests', 'harness', 'hlnode')]
TARGETS_DIR = os.path.join(ROOT, 'tests', 'integration', 'targets')


class PlaybookResult(object):
    """What one ansible-runner run of a playbook produced: rc, recap and per-task events."""

    def __init__(self, runner):
        self.rc = runner.rc
        self.status = runner.status
        self.stats = runner.stats or {}
        self.events = [e for e in runner.events if e.get('event', '').startswith('runner_on_')]
        self.stdout = runner.stdout.read()

    def changed(self, host='node'):
        return self.stats.get('changed', {}).get(host, 0)

    def failures(self):
        """(task, host, message) of every failed task result, for readable assertion messages."""
        out = ['%s [%s]: %s %s' % (e['event_data'].get('task'), e['event_data'].get('host'),
                                   e['event_data'].get('res', {}).get('msg') or e['event_data'].get('res'),
                                   e['event_data'].get('res', {}).get('assertion') or '')
               for e in self.events if e['event'] in ('runner_on_failed', 'runner_on_unreachable')
               and not e['event_data'].get('ignore_errors')]
        return out or [self.stdout[-3000:]]

    def task_results(self, name, host='node'):
        return [e['event_data']['res'] for e in self.events
                if e['event_data'].get('task') == name and e['event_data'].get('host') == host
                and e['event'] in ('runner_on_ok', 'runner_on_failed', 'runner_on_skipped')]


@pytest.fixture(scope='session')
def inventory():
    path = os.environ.get('HLNODE_INVENTORY') or subprocess.run(
        HLNODE + ['inventory'], check=True, capture_output=True, text=True).stdout.strip()
    status = json.loads(subprocess.run(HLNODE + ['status'], check=False, capture_output=True, text=True).stdout)
    if not status.get('running'):
        pytest.fail('the managed node is not running: start it with `tests/run node` (or `make node`)')
    return path


@pytest.fixture(scope='session')
def run_playbook(inventory):
    """Run a playbook through ansible-runner (as AWX does) and return a PlaybookResult."""
    def run(playbook, extra_vars=None, check=False, diff=False, limit=None):
        cmdline = ' '.join((['--check'] if check else []) + (['--diff'] if diff else [])
                           + (['--limit', limit] if limit else []))
        env = {'ANSIBLE_COLLECTIONS_PATH': os.path.join(ROOT, 'tests', 'output', 'collections'),
               'ANSIBLE_HOST_KEY_CHECKING': 'False', 'ANSIBLE_NOCOLOR': '1',
               'ANSIBLE_ROLES_PATH': os.path.join(ROOT, 'roles')}
        private = tempfile.mkdtemp(prefix='hl-runner-', dir=os.path.join(ROOT, 'tests', 'output'))
        try:
            runner = ansible_runner.run(private_data_dir=private, playbook=playbook, inventory=inventory,
                                        extravars=extra_vars or {}, cmdline=cmdline or None, envvars=env,
                                        quiet=True, project_dir=ROOT)
            return PlaybookResult(runner)
        finally:
            shutil.rmtree(private, ignore_errors=True)
    return run


@pytest.fixture(scope='session')
def traefik_on_node(run_playbook):
    """Traefik (roles/traefik) running on the node: what every routing test builds on."""
    res = run_playbook(os.path.join(ROOT, 'tests', 'integration', 'setup_traefik.yml'))
    assert res.rc == 0, '\n'.join(res.failures())
    return res

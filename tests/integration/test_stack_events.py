# -*- coding: utf-8 -*-
"""homelab.deploy.stack publishes one history event per run (the contract in issue 6), failures included.

A playbook cannot read what set_stats published, so this runs the role through ansible-runner (as AWX does) and
reads the stats event's artifact_data. The second run is a fresh install that never gets healthy: its new units
are removed again and the event says rolled_back, naming the service, the check and the evidence.
"""
import os
import shutil
import subprocess
import sys
import tempfile

import ansible_runner

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HLNODE = [sys.executable, os.path.join(ROOT, 'tests', 'harness', 'hlnode')]
STACK = {'schema_version': 1, 'name': 'hlevt', 'services': {
    'web': {'image': 'localhost/hl-web:latest', 'wait_for': {'timeout': 40},
            'healthcheck': {'cmd': '/bin/hl-web health', 'interval': '2s', 'retries': 2}}}}


def role_play(role, hosts='node'):
    """A playbook (its text) that runs one role of the collection on the node (node_rootless: as the user hl)."""
    return """
- hosts: %s
  gather_facts: false
  roles:
    - role: homelab.deploy.%s
""" % (hosts, role)


PLAYBOOK = role_play('stack')


def run_play(inventory, playbook, extra, cmdline=None):
    """Run playbook (its text) through ansible-runner, as AWX does: (rc, the stats event's data, stdout)."""
    private = tempfile.mkdtemp(prefix='hl-runner-', dir=os.path.join(ROOT, 'tests', 'output'))
    try:
        os.makedirs(os.path.join(private, 'project'))
        with open(os.path.join(private, 'project', 'play.yml'), 'w') as handle:
            handle.write(playbook)
        env = {'ANSIBLE_COLLECTIONS_PATH': os.path.join(ROOT, 'tests', 'output', 'collections'),
               'ANSIBLE_HOST_KEY_CHECKING': 'False', 'ANSIBLE_NOCOLOR': '1'}
        runner = ansible_runner.run(private_data_dir=private, playbook='play.yml', inventory=inventory,
                                    extravars=extra, envvars=env, quiet=True, cmdline=cmdline)
        stats = [e for e in runner.events if e.get('event') == 'playbook_on_stats']
        return runner.rc, stats[-1]['event_data'], runner.stdout.read()
    finally:
        shutil.rmtree(private, ignore_errors=True)


def run_role(inventory, extra):
    rc, stats, out = run_play(inventory, PLAYBOOK, extra)
    return rc, stats.get('artifact_data', {}).get('homelab_deploy_events', []), out


def on_node(*argv):
    return subprocess.run(HLNODE + ['exec', '--'] + list(argv), check=False, capture_output=True, text=True)


def test_one_event_per_run_success_and_rolled_back(inventory):
    try:
        rc, events, out = run_role(inventory, {'stack_definition': STACK})
        assert rc == 0, out[-3000:]
        assert len(events) == 1, events
        event = events[0]
        assert (event['kind'], event['host'], event['name'], event['strategy'], event['outcome']) == (
            'stack', 'node', 'hlevt', 'phased', 'success')
        assert event['images']['hlevt-web'].startswith('localhost/hl-web@sha256:')
        assert event['failure'] is None and event['duration'] > 0 and event['started'] > 1.7e9
        assert set(event['phases']) == {'infra', 'phase 1'} and event['details']['touched'] == ['web']
        assert on_node('podman', 'container', 'exists', 'hlevt-web').returncode == 0

        broken = dict(STACK, name='hlevtb', services={'web': dict(STACK['services']['web'], image='localhost/hl-web:broken')})
        rc, events, out = run_role(inventory, {'stack_definition': broken})
        assert rc != 0
        assert len(events) == 1, events
        event = events[0]
        assert event['outcome'] == 'rolled_back', event
        assert event['failure']['service'] == 'web' and event['failure']['check'].startswith('health')
        assert 'healthcheck exit' in event['failure']['evidence'] and 'log lines of web' in event['failure']['evidence']
        # a fresh install that failed is removed again
        assert on_node('test', '-e', '/etc/containers/systemd/hlevtb-web.container').returncode != 0
        assert on_node('podman', 'container', 'exists', 'hlevtb-web').returncode != 0
    finally:
        for name in ('hlevt', 'hlevtb'):
            run_role(inventory, {'stack_definition': dict(STACK, name=name), 'stack_state': 'absent', 'stack_purge': True})

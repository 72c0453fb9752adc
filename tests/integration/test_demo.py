# -*- coding: utf-8 -*-
"""The README's demo: deploy the demo stack, fetch it from the host through Traefik, re-run unchanged, remove it."""
import json
import os
import subprocess
import urllib.error
import urllib.request

from conftest import HLNODE, ROOT

DEMO = os.path.join(ROOT, 'playbooks', 'demo.yml')
# the host port the harness forwards to the node's port 80 (HLNODE_FORWARD, "HOST:NODE ...")
PORT = dict(reversed(f.split(':')) for f in os.environ.get('HLNODE_FORWARD', '18480:80').split())['80']


def fetch(url, host):
    req = urllib.request.Request(url, headers={'Host': host})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, dict(resp.headers), resp.read().decode()


def on_node(*argv):
    return subprocess.run(HLNODE + ['exec', '--'] + list(argv), capture_output=True, text=True, check=False)


def test_demo_is_served_through_traefik_from_the_host(run_playbook):
    first = run_playbook(DEMO)
    assert first.rc == 0, '\n'.join(first.failures())
    # the whole stack runs, healthy: the app and the database and cache it was deployed after
    ps = on_node('podman', 'ps', '--filter', 'label=io.homelab.deploy.managed=true', '--format', 'json')
    health = dict((c['Names'][0], c['Status']) for c in json.loads(ps.stdout))
    for name in ('demo-db', 'demo-cache', 'demo-web'):
        assert '(healthy)' in health.get(name, ''), 'demo stack container %s: %r' % (name, health.get(name))
    status, headers, body = fetch('http://127.0.0.1:%s/' % PORT, 'demo.localhost')
    assert status == 200
    assert 'Hello from homelab.deploy, served through Traefik' in body
    # the security-headers middleware from the traefik role is on the route
    assert headers.get('X-Frame-Options') == 'DENY'
    assert headers.get('X-Content-Type-Options') == 'nosniff'


def test_demo_second_run_changes_nothing(run_playbook):
    again = run_playbook(DEMO)
    assert again.rc == 0, '\n'.join(again.failures())
    assert again.changed() == 0, 'second demo run changed %s tasks' % again.changed()


def test_demo_removal_keeps_the_data_unless_purged(run_playbook):
    removed = run_playbook(DEMO, extra_vars={'demo_state': 'absent'})
    assert removed.rc == 0, '\n'.join(removed.failures())
    try:
        status = fetch('http://127.0.0.1:%s/' % PORT, 'demo.localhost')[0]
    except urllib.error.HTTPError as err:
        status = err.code
    assert status == 404, 'the demo route should be gone, got %s' % status
    assert on_node('podman', 'container', 'exists', 'demo-web').returncode == 1
    assert on_node('podman', 'volume', 'exists', 'demo-pgdata').returncode == 0, 'removal must keep the data'
    purged = run_playbook(DEMO, extra_vars={'demo_state': 'absent', 'demo_purge': True})
    assert purged.rc == 0, '\n'.join(purged.failures())
    assert on_node('podman', 'volume', 'exists', 'demo-pgdata').returncode == 1

# -*- coding: utf-8 -*-
"""The README's demo: deploy the demo stack, fetch it from the host through Traefik, re-run unchanged."""
import os
import urllib.request

from conftest import ROOT

DEMO = os.path.join(ROOT, 'playbooks', 'demo.yml')
# the host port the harness forwards to the node's port 80 (HLNODE_FORWARD, "HOST:NODE ...")
PORT = dict(reversed(f.split(':')) for f in os.environ.get('HLNODE_FORWARD', '18480:80').split())['80']


def fetch(url, host):
    req = urllib.request.Request(url, headers={'Host': host})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, dict(resp.headers), resp.read().decode()


def test_demo_is_served_through_traefik_from_the_host(run_playbook):
    first = run_playbook(DEMO)
    assert first.rc == 0, '\n'.join(first.failures())
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

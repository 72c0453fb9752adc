# -*- coding: utf-8 -*-
"""The README's demo: deploy the demo stack, fetch it from the host through Traefik, re-run unchanged, remove it;
then as make demo runs it, over HTTPS with a certificate from the node's Pebble: verified against Pebble's issuing
root, HTTP redirecting to HTTPS, a re-run changing nothing."""
import json
import os
import subprocess
import urllib.error
import urllib.request

import yaml

from conftest import HLNODE, ROOT

DEMO = os.path.join(ROOT, 'playbooks', 'demo.yml')
SETUP_TRAEFIK = os.path.join(ROOT, 'tests', 'integration', 'setup_traefik.yml')
with open(os.path.join(ROOT, 'tests', 'harness', 'demo-pebble.yml')) as _handle:
    PEBBLE = yaml.safe_load(_handle)  # what make demo passes
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


def test_demo_over_https_with_a_certificate_from_pebble(run_playbook):
    try:
        first = run_playbook(DEMO, extra_vars=PEBBLE)
        assert first.rc == 0, '\n'.join(first.failures())
        root = on_node('sh', '-c', 'curl -fsS --cacert /etc/pebble/ca.pem https://127.0.0.1:15000/roots/0 '
                       '> /tmp/hl-demo-root.pem')
        assert root.returncode == 0, root.stderr
        page = on_node('curl', '-fsS', '--cacert', '/tmp/hl-demo-root.pem', '--resolve', 'demo.localhost:443:127.0.0.1',
                       'https://demo.localhost/')
        assert page.returncode == 0, 'the certificate Pebble issued verifies: %s' % page.stderr
        assert 'Hello from homelab.deploy, served through Traefik' in page.stdout
        issuer = on_node('sh', '-c', 'echo | openssl s_client -connect 127.0.0.1:443 -servername demo.localhost '
                         '2>/dev/null | openssl x509 -noout -issuer').stdout
        assert 'Pebble' in issuer, issuer
        redirect = on_node('curl', '-sS', '-o', '/dev/null', '-w', '%{http_code} %{redirect_url}',
                           '-H', 'Host: demo.localhost', 'http://127.0.0.1/')
        # a permanent redirect: 301 for a GET, 308 for other methods (Traefik's redirectScheme)
        assert redirect.stdout.split() == ['301', 'https://demo.localhost/'], redirect.stdout
        again = run_playbook(DEMO, extra_vars=PEBBLE)
        assert again.rc == 0 and again.changed() == 0, 'second HTTPS demo run changed %s tasks' % again.changed()
    finally:
        run_playbook(DEMO, extra_vars={'demo_state': 'absent', 'demo_purge': True})
        run_playbook(SETUP_TRAEFIK)  # Traefik back to what the other tests run against
        on_node('rm', '-f', '/tmp/hl-demo-root.pem')

# -*- coding: utf-8 -*-
"""HTTPS through Traefik with a certificate from a real ACME server: Pebble on the node (tests/harness/hlnode).

The traefik role gets a resolver pointed at Pebble (its listener's CA trusted through LEGO_CA_CERTIFICATES); a
routed hl-web gets tls: {resolver: pebble}. Pebble validates the HTTP-01 challenge for real against the node's port
80, so a certificate only exists when Traefik answered it. Then: the page over HTTPS, verified against Pebble's
issuing root (from its management API); the HTTP URL redirects permanently; acme.json is 0600; and, Pebble's
certificates being short (20 minutes), Traefik renews it without a restart. A public route without a tls key of
its own gets a certificate from the default resolver; one with tls: false stays on plain HTTP. The TLS-ALPN-01
challenge is validated for real too (port 443 only).
"""
import os
import random
import string
import subprocess
import time

from conftest import HLNODE, ROOT
from test_stack_events import run_role

PLAYBOOK = os.path.join(ROOT, 'tests', 'integration', 'https', 'deploy.yml')
CLEANUP = os.path.join(ROOT, 'tests', 'integration', 'https', 'cleanup.yml')
ROOT_PEM = '/tmp/hl-https-pebble-root.pem'


def node(*argv, check=True):
    res = subprocess.run(HLNODE + ['exec', '--'] + list(argv), capture_output=True, text=True, timeout=120, check=False)
    assert not check or res.returncode == 0, (argv, res.stdout, res.stderr)
    return res


def served_certificate(host):
    """issuer and serial of the certificate Traefik serves for host (SNI) on the node's port 443."""
    out = node('sh', '-c', 'echo | openssl s_client -connect 127.0.0.1:443 -servername %s 2>/dev/null '
                           '| openssl x509 -noout -issuer -serial' % host, check=False).stdout
    return dict(line.split('=', 1) for line in out.splitlines() if '=' in line)


def https_get(host):
    return node('curl', '-sS', '--cacert', ROOT_PEM, '--resolve', '%s:443:127.0.0.1' % host,
                'https://%s/' % host, check=False)


def wait(predicate, timeout, interval=2):
    deadline = time.time() + timeout
    while True:
        value = predicate()
        if value or time.time() > deadline:
            return value
        time.sleep(interval)


def tls_stack(suffix, state='present'):
    web = {'image': 'localhost/hl-web:latest', 'environment': {'HL_WEB_MESSAGE': 'stack-over-https'},
           'route': {'hostname': 'st-%s.hl.test' % suffix, 'port': 8080, 'public': False, 'tls': {'resolver': 'pebble'}}}
    return {'stack_definition': {'schema_version': 1, 'name': 'st-%s' % suffix, 'services': {'web': web}},
            'stack_state': state}


# what the traefik role exports with traefik_default_cert_resolver: pebble (a separate run has no homelab_traefik)
DEFAULT_TLS = {'homelab_traefik': {'default_cert_resolver': 'pebble', 'cert_resolvers': ['pebble'],
                                   'tls_entrypoints': ['websecure']}}


def public_stack(suffix, state='present'):
    web = {'image': 'localhost/hl-web:latest', 'environment': {'HL_WEB_MESSAGE': 'public-by-default'},
           'route': {'hostname': 'pub-%s.hl.test' % suffix, 'port': 8080, 'public': True, 'auth': 'none',
                     'auth_reason': 'a test page with nothing private', 'middlewares': ['security-headers@file']}}
    plain = dict(web, route=dict(web['route'], hostname='plain-%s.hl.test' % suffix, tls=False))
    return dict(DEFAULT_TLS, stack_definition={'schema_version': 1, 'name': 'pub-%s' % suffix,
                                               'services': {'web': web, 'plain': plain}}, stack_state=state)


def test_a_routed_service_gets_a_pebble_certificate_served_over_https(run_playbook, inventory):
    suffix = ''.join(random.choices(string.ascii_lowercase, k=6))
    name, host = 'tls-%s' % suffix, 'tls-%s.hl.test' % suffix
    try:
        check_https(run_playbook, name, host)
        check_stack_https(inventory, suffix)
        check_public_by_default(inventory, suffix)
    finally:
        run_role(inventory, tls_stack(suffix, 'absent'))
        run_role(inventory, public_stack(suffix, 'absent'))
        # the service, its route and Traefik's HTTPS set-up go, whatever happened: later tests (drift_check reads
        # every managed route) must not meet a route on an entry point Traefik no longer has
        cleanup = run_playbook(CLEANUP, extra_vars={'https_service': name})
        assert cleanup.rc == 0, '\n'.join(cleanup.failures())


def check_https(run_playbook, name, host):
    res = run_playbook(PLAYBOOK, extra_vars={'https_service': name, 'https_hostname': host})
    assert res.rc == 0, '\n'.join(res.failures())
    node('curl', '-sS', '-o', ROOT_PEM, '--cacert', '/etc/pebble/ca.pem', 'https://127.0.0.1:15000/roots/0')

    page = wait(lambda: https_get(host).returncode == 0 and https_get(host), 90)
    assert page and 'served-over-https' in page.stdout, page and (page.stdout, page.stderr)
    first = served_certificate(host)
    assert first.get('issuer', '').startswith('CN=Pebble Intermediate CA'), first
    assert 'validate w/ HTTP: http://%s:80/.well-known/acme-challenge/' % host in node(
        'journalctl', '-u', 'pebble', '--no-pager', '-o', 'cat').stdout

    redirect = node('curl', '-sS', '-o', '/dev/null', '-w', '%{http_code} %{redirect_url}',
                    '--resolve', '%s:80:127.0.0.1' % host, 'http://%s/some/path' % host).stdout.split()
    assert redirect[0] in ('301', '308') and redirect[1] == 'https://%s/some/path' % host, redirect

    assert node('stat', '-c', '%a', '/var/lib/traefik/acme/pebble.json').stdout.strip() == '600'
    assert node('stat', '-c', '%a', '/var/lib/traefik/acme').stdout.strip() == '700'

    # renewal: certificates_duration 1 -> Traefik checks every minute and renews what has < 20 minutes left
    started = node('podman', 'inspect', '-f', '{{.State.StartedAt}}', 'traefik').stdout
    renewed = wait(lambda: served_certificate(host).get('serial') not in (None, first.get('serial')), 180, 10)
    assert renewed, 'Traefik still serves serial %s after 3 minutes' % first.get('serial')
    assert node('podman', 'inspect', '-f', '{{.State.StartedAt}}', 'traefik').stdout == started
    assert https_get(host).returncode == 0


def check_stack_https(inventory, suffix):
    """A stack route with tls: {resolver: pebble} (the stack schema's key): the same certificate path, through the
    stack role and the one engine."""
    host = 'st-%s.hl.test' % suffix
    rc, dummy, out = run_role(inventory, tls_stack(suffix))
    assert rc == 0, out[-3000:]
    page = wait(lambda: https_get(host).returncode == 0 and https_get(host), 90)
    assert page and 'stack-over-https' in page.stdout, page and (page.stdout, page.stderr)
    assert served_certificate(host).get('issuer', '').startswith('CN=Pebble Intermediate CA')
    redirect = node('curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', '--resolve', '%s:80:127.0.0.1' % host,
                    'http://%s/' % host).stdout
    assert redirect in ('301', '308'), redirect
    rc, events, out = run_role(inventory, tls_stack(suffix))
    assert rc == 0 and events == [], 'a re-run changes nothing (no event): %s' % out[-3000:]


def check_public_by_default(inventory, suffix):
    """A public route without a tls key gets its certificate from the default resolver (the traefik role's
    traefik_default_cert_resolver) and HTTP redirects; one with tls: false stays plain HTTP."""
    host, plain = 'pub-%s.hl.test' % suffix, 'plain-%s.hl.test' % suffix
    rc, dummy, out = run_role(inventory, public_stack(suffix))
    assert rc == 0, out[-3000:]
    page = wait(lambda: https_get(host).returncode == 0 and https_get(host), 90)
    assert page and 'public-by-default' in page.stdout, page and (page.stdout, page.stderr)
    assert served_certificate(host).get('issuer', '').startswith('CN=Pebble Intermediate CA')
    redirect = node('curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', '--resolve', '%s:80:127.0.0.1' % host,
                    'http://%s/' % host).stdout
    assert redirect in ('301', '308'), redirect
    answer = node('curl', '-sS', '--resolve', '%s:80:127.0.0.1' % plain, 'http://%s/' % plain, check=False)
    assert 'public-by-default' in answer.stdout, 'tls: false is served over plain HTTP: %r' % answer.stdout
    rc, events, out = run_role(inventory, public_stack(suffix))
    assert rc == 0 and events == [], 'a re-run changes nothing (no event): %s' % out[-3000:]


def test_the_tls_alpn_challenge_gets_a_certificate_without_port_80(run_playbook):
    """TLS-ALPN-01, validated for real: Pebble connects to the node's port 443 (Traefik) only; no HTTP-01 request
    reaches port 80 for the host, and the certificate Traefik serves is Pebble's."""
    suffix = ''.join(random.choices(string.ascii_lowercase, k=6))
    name, host = 'alpn-%s' % suffix, 'alpn-%s.hl.test' % suffix
    try:
        res = run_playbook(PLAYBOOK, extra_vars={'https_service': name, 'https_hostname': host, 'https_challenge': 'tls-alpn'})
        assert res.rc == 0, '\n'.join(res.failures())
        static = node('cat', '/etc/traefik/traefik.yml').stdout
        assert 'tlsChallenge' in static and 'httpChallenge' not in static, static
        node('curl', '-sS', '-o', ROOT_PEM, '--cacert', '/etc/pebble/ca.pem', 'https://127.0.0.1:15000/roots/0')
        page = wait(lambda: https_get(host).returncode == 0 and https_get(host), 90)
        assert page and 'served-over-https' in page.stdout, page and (page.stdout, page.stderr)
        assert served_certificate(host).get('issuer', '').startswith('CN=Pebble Intermediate CA')
        log = node('journalctl', '-u', 'pebble', '--no-pager', '-o', 'cat').stdout
        assert 'Value:"%s"' % host in log, 'Pebble validated the host'
        assert 'validate w/ HTTP: http://%s' % host not in log, 'not over HTTP-01'
    finally:
        cleanup = run_playbook(CLEANUP, extra_vars={'https_service': name})
        assert cleanup.rc == 0, '\n'.join(cleanup.failures())

# -*- coding: utf-8 -*-
"""An internal CA for LAN-only names (issue 14 part 1): the traefik role with traefik_internal_ca_names makes a CA
on the node once and, signed by it, Traefik's default certificate for *.lan.hl.test. A stack route that is LAN
only with tls: true (no ACME resolver) is then served over HTTPS with a certificate curl verifies against the CA
alone; a re-run keeps the CA and the certificate; the CA key is not in Traefik's container. Names the certificate
does not cover still get a certificate, but not one the CA vouches for.
"""
import os
import random
import string
import subprocess

from conftest import HLNODE, ROOT
from test_stack_events import run_role

TRAEFIK = os.path.join(ROOT, 'tests', 'integration', 'internal_ca', 'traefik.yml')
CA_DIR = '/etc/traefik/internal-ca'


def node(*argv):
    return subprocess.run(HLNODE + ['exec', '--'] + list(argv), capture_output=True, text=True, timeout=120, check=False)


def lan_stack(name, host, state='present'):
    web = {'image': 'localhost/hl-web:latest', 'environment': {'HL_WEB_MESSAGE': 'lan-over-https'},
           'route': {'hostname': host, 'port': 8080, 'public': False, 'tls': True}}
    return {'stack_definition': {'schema_version': 1, 'name': name, 'services': {'web': web}}, 'stack_state': state,
            'homelab_traefik': {'tls_entrypoints': ['websecure']}}


def https_get(host, *curl_args):
    return node('curl', '-sS', '--max-time', '10', '--cacert', CA_DIR + '/ca.crt', '--resolve', '%s:443:127.0.0.1' % host,
                *(list(curl_args) + ['https://%s/' % host]))


def test_lan_routes_are_served_with_a_certificate_of_the_internal_ca(run_playbook, inventory):
    suffix = ''.join(random.choices(string.ascii_lowercase, k=6))
    name, host = 'lan-%s' % suffix, 'web-%s.lan.hl.test' % suffix
    node('rm', '-rf', CA_DIR)
    try:
        first = run_playbook(TRAEFIK)
        assert first.rc == 0, '\n'.join(first.failures())
        assert 'internal_ca changed=True' in first.stdout, first.stdout[-3000:]
        ca_before = node('sha256sum', CA_DIR + '/ca.crt').stdout
        assert node('stat', '-c', '%a', CA_DIR).stdout.strip() == '700'
        assert node('stat', '-c', '%a', CA_DIR + '/ca.key').stdout.strip() == '600'

        rc, events, out = run_role(inventory, lan_stack(name, host))
        assert rc == 0, out[-3000:]
        got = https_get(host)
        assert got.returncode == 0 and 'lan-over-https' in got.stdout, (got.stdout, got.stderr)
        issuer = node('sh', '-c', 'echo | openssl s_client -connect 127.0.0.1:443 -servername %s 2>/dev/null '
                                  '| openssl x509 -noout -issuer -ext subjectAltName' % host).stdout
        assert 'homelab.deploy internal CA' in issuer and 'DNS:*.lan.hl.test' in issuer, issuer

        again = run_playbook(TRAEFIK)
        assert again.rc == 0 and 'internal_ca changed=False' in again.stdout, again.stdout[-3000:]
        assert again.changed() == 0, 'a re-run changes nothing'
        assert node('sha256sum', CA_DIR + '/ca.crt').stdout == ca_before, 'the CA is kept'

        mounts = node('podman', 'container', 'inspect', 'traefik', '--format',
                      '{{range .Mounts}}{{.Source}}={{.Destination}} {{end}}').stdout.split()
        assert '%s/served=/etc/traefik/internal' % CA_DIR in mounts, mounts
        assert not [m for m in mounts if m.startswith(CA_DIR + '=')], 'the CA key stays out of the container'
        # a name the certificate does not cover: Traefik serves the same default certificate, which does not fit it
        other = https_get('other-%s.hl.test' % suffix)
        assert other.returncode != 0, 'curl refuses a certificate for other names'
    finally:
        run_role(inventory, lan_stack(name, host, 'absent'))
        restore = run_playbook(os.path.join(ROOT, 'tests', 'integration', 'setup_traefik.yml'))
        assert restore.rc == 0, '\n'.join(restore.failures())
        node('rm', '-rf', CA_DIR)

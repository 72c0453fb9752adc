# -*- coding: utf-8 -*-
"""Who may reach a route (issue 14 part 5), on the node with the real Traefik: a LAN-only route (public: false) sits
behind the traefik role's lan-only@file allow-list, so a client outside traefik_lan_ranges gets 403 and one inside
200 (two source addresses on Traefik's network, inside the node's network namespace); a public route without an
authentication middleware is refused before anything on the host changes, and one that says auth: none with a
reason is served.
"""
import ipaddress
import os

from test_stack_events import ROOT, on_node, run_role

SETUP = os.path.join(ROOT, 'tests', 'integration', 'setup_traefik.yml')
LAN = {'schema_version': 1, 'name': 'hllan', 'services': {'web': {
    'image': 'localhost/hl-web:latest', 'wait_for': {'timeout': 40},
    'route': {'hostname': 'lan.hl.test', 'port': 8080, 'public': False, 'middlewares': ['security-headers@file']}}}}
PUBLIC = {'schema_version': 1, 'name': 'hlpub', 'services': {'web': {
    'image': 'localhost/hl-web:latest', 'wait_for': {'timeout': 40},
    'route': {'hostname': 'pub.hl.test', 'port': 8080, 'middlewares': ['security-headers@file']}}}}


def status_from(address, host):
    """The HTTP status a client at address on Traefik's network gets for host."""
    out = on_node('podman', 'run', '--rm', '--network', 'hl', '--ip', address, 'localhost/busybox', 'wget', '-S', '-O',
                  '/dev/null', '--header', 'Host: %s' % host, 'http://traefik:80/')
    lines = [line for line in (out.stdout + out.stderr).splitlines() if 'HTTP/1.1' in line]
    return int(lines[0].split()[1]) if lines else None


def test_lan_only_means_the_lan_and_public_means_authenticated(run_playbook, traefik_on_node, inventory):
    subnet, gateway = on_node('podman', 'network', 'inspect', 'hl', '--format',
                              '{{range .Subnets}}{{.Subnet}} {{.Gateway}}{{end}}').stdout.split()
    network = ipaddress.ip_network(subnet)
    inside, outside = str(network[200]), str(network[201])
    # the node's own curl reaches Traefik through the network's gateway (podman masquerades local clients)
    ranges = ['%s/32' % gateway, '%s/32' % inside]
    try:
        res = run_playbook(SETUP, {'traefik_lan_ranges': ranges})
        assert res.rc == 0, '\n'.join(res.failures())
        rc, events, out = run_role(inventory, {'stack_definition': LAN})
        assert rc == 0, out[-3000:]
        assert 'lan-only@file' in on_node('cat', '/etc/traefik/dynamic/hllan-web.yml').stdout
        assert status_from(inside, 'lan.hl.test') == 200
        assert status_from(outside, 'lan.hl.test') == 403, 'a client outside the LAN ranges is refused'
        local = on_node('curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '-H', 'Host: lan.hl.test', 'http://127.0.0.1/')
        assert local.stdout == '200'

        rc, events, out = run_role(inventory, {'stack_definition': PUBLIC})
        assert rc != 0 and 'has no authentication middleware' in out, out[-3000:]
        for path in ('/etc/containers/systemd/hlpub-web.container', '/etc/traefik/dynamic/hlpub-web.yml'):
            assert on_node('test', '-e', path).returncode != 0, '%s: refused before the host changed' % path
        PUBLIC['services']['web']['route'].update({'auth': 'none', 'auth_reason': 'a public page with nothing private'})
        rc, events, out = run_role(inventory, {'stack_definition': PUBLIC})
        assert rc == 0, out[-3000:]
        assert status_from(outside, 'pub.hl.test') == 200, 'public: no allow-list'
    finally:
        for stack in (LAN, PUBLIC):
            run_role(inventory, {'stack_definition': stack, 'stack_state': 'absent', 'stack_purge': True})
        res = run_playbook(SETUP)
        assert res.rc == 0, '\n'.join(res.failures())

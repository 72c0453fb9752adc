# -*- coding: utf-8 -*-
"""Forward auth (issue 14 part 4) on the node with the real Traefik: the traefik role defines a forwardAuth
middleware (traefik_forward_auth, named authelia like the shipped patterns expect) pointing at a small test auth
endpoint (busybox httpd with a CGI shipped as a stack config file: 200 with a Remote-User header for a request with a
session cookie, else a 302 to the login page, as Authelia answers). A public stack route behind it passes the
exposure policy, answers 302 without a session and 200 with one; the login portal itself is public with auth: none.
"""
import os

from test_stack_events import ROOT, on_node, run_role

SETUP = os.path.join(ROOT, 'tests', 'integration', 'setup_traefik.yml')
AUTH_CGI = r"""#!/bin/sh
case "$HTTP_COOKIE" in
  *hlsession=ok*) printf 'Status: 200 OK\r\nRemote-User: alice\r\nContent-Type: text/plain\r\n\r\nok\n' ;;
  *) printf 'Status: 302 Found\r\nLocation: http://auth.hl.test/login?rd=%s\r\nContent-Type: text/plain\r\n\r\nlog in\n' "$HTTP_X_FORWARDED_HOST" ;;
esac
"""
STACK = {'schema_version': 1, 'name': 'hlauth', 'services': {
    'auth': {'image': 'localhost/busybox:latest', 'entrypoint': ['/bin/httpd'], 'command': '-f -p 9091 -h /www',
             'init': True,  # busybox httpd as PID 1 ignores SIGTERM
             'configs': [{'target': '/www/cgi-bin/auth', 'content': AUTH_CGI, 'mode': '0755'}],
             'route': {'hostname': 'auth.hl.test', 'port': 9091, 'middlewares': ['security-headers@file'],
                       'auth': 'none', 'auth_reason': 'the login portal: forward auth sends people here'}},
    'app': {'image': 'localhost/hl-web:latest', 'depends_on': ['auth'], 'wait_for': {'timeout': 40},
            'route': {'hostname': 'app.hl.test', 'port': 8080, 'middlewares': ['authelia@file', 'security-headers@file']}}}}
FORWARD_AUTH = {'authelia': {'address': 'http://hlauth-auth:9091/cgi-bin/auth'}}


def get(host, *extra):
    out = on_node('curl', '-s', '-o', '/dev/null', '-w', '%{http_code} %{redirect_url}', '-H', 'Host: %s' % host,
                  *(list(extra) + ['http://127.0.0.1/']))
    code, dummy, location = out.stdout.partition(' ')
    return int(code or 0), location


def test_a_route_behind_forward_auth_needs_a_session(run_playbook, traefik_on_node, inventory):
    try:
        res = run_playbook(SETUP, {'traefik_forward_auth': FORWARD_AUTH})
        assert res.rc == 0, '\n'.join(res.failures())
        assert 'forwardAuth' in on_node('cat', '/etc/traefik/dynamic/middlewares.yml').stdout
        rc, events, out = run_role(inventory, {'stack_definition': STACK})
        assert rc == 0, out[-3000:]
        status, location = get('app.hl.test')
        assert status == 302 and location.startswith('http://auth.hl.test/login?rd=app.hl.test'), (status, location)
        assert get('app.hl.test', '-H', 'Cookie: hlsession=ok')[0] == 200
        assert get('app.hl.test', '-H', 'Cookie: hlsession=forged')[0] == 302
        rc, events, out = run_role(inventory, {'stack_definition': STACK})
        assert rc == 0 and events == [], 'idempotent'
    finally:
        run_role(inventory, {'stack_definition': STACK, 'stack_state': 'absent', 'stack_purge': True})
        res = run_playbook(SETUP)
        assert res.rc == 0, '\n'.join(res.failures())

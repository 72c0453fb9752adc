# -*- coding: utf-8 -*-
"""Configuration files of rootless deployments, run as the rootless user itself (node_rootless connects as hl): a
user-scope stack's and a user-scope pattern service's shipped files are written under the user's
~/.local/share/homelab-deploy (hl cannot write /etc, where they went before), owned by hl, and mounted read-only
into the rootless containers; a re-run changes nothing.
"""
import os

from test_stack_events import ROOT, on_node, role_play, run_play

HOME = '/home/hl/.local/share/homelab-deploy'
STACK = {'schema_version': 1, 'name': 'hlucfg', 'services': {'web': {
    'image': 'localhost/hl-web:latest', 'wait_for': {'timeout': 60},
    'configs': [{'target': '/etc/hl/app.conf', 'content': 'greeting = from a rootless stack at 100%\n'}]}}}
PATTERN_VARS = {
    'pattern_service_pattern': 'cache-service', 'pattern_service_name': 'hlucache', 'pattern_service_scope': 'user',
    'pattern_service_user': 'hl', 'pattern_service_resource_limits': 'best_effort', 'pattern_service_pull': 'never',
    'pattern_service_overrides': {'services': {'valkey': {
        'image': 'localhost/valkey:8', 'command': 'serve', 'read_only': False, 'healthcheck': {'interval': '2s'},
        'configs': [{'target': '/etc/valkey/extra.conf', 'content': 'maxmemory-policy allkeys-lru\n'}]}}},
    'pattern_service_credentials_dir': os.path.join(ROOT, 'tests', 'output', 'ucfg-credentials'),
    'preflight_report_dir': os.path.join(ROOT, 'tests', 'output', 'ucfg-preflight'),
}


def play(role):
    return role_play(role, hosts='node_rootless')


def as_hl(*argv):
    return on_node('runuser', '-u', 'hl', '--', 'env', '--chdir=/home/hl', 'XDG_RUNTIME_DIR=/run/user/1000',
                   'DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus', *argv)


def changed(stats):
    return sum((stats.get('changed') or {}).values())


def test_rootless_configuration_files_are_the_users(inventory):
    stack_vars = {'stack_definition': STACK, 'stack_scope': 'user', 'stack_user': 'hl'}
    try:
        rc, stats, out = run_play(inventory, play('stack'), stack_vars)
        assert rc == 0, out[-4000:]
        path = HOME + '/stacks/hlucfg/web/etc/hl/app.conf'
        assert on_node('stat', '-c', '%U %a', path).stdout.split() == ['hl', '644'], out[-2000:]
        seen = as_hl('podman', 'exec', 'hlucfg-web', 'cat', '/etc/hl/app.conf')
        assert seen.stdout == STACK['services']['web']['configs'][0]['content'], (seen.stdout, seen.stderr)
        ro = as_hl('podman', 'exec', 'hlucfg-web', 'sh', '-c', 'echo x >> /etc/hl/app.conf')
        assert ro.returncode != 0, 'mounted read-only'
        rc, stats, out = run_play(inventory, play('stack'), stack_vars)
        assert rc == 0 and changed(stats) == 0, out[-3000:]

        rc, stats, out = run_play(inventory, play('pattern_service'), PATTERN_VARS)
        assert rc == 0, out[-4000:]
        path = HOME + '/services/hlucache/valkey/etc/valkey/extra.conf'
        assert on_node('stat', '-c', '%U', path).stdout.strip() == 'hl', out[-2000:]
        seen = as_hl('podman', 'exec', 'hlucache-valkey', 'cat', '/etc/valkey/extra.conf')
        assert seen.stdout == 'maxmemory-policy allkeys-lru\n', (seen.stdout, seen.stderr)
        assert on_node('test', '-e', '/etc/homelab-deploy/services/hlucache').returncode != 0, 'nothing under /etc'
        rc, stats, out = run_play(inventory, play('pattern_service'), PATTERN_VARS)
        assert rc == 0 and changed(stats) == 0, out[-3000:]
    finally:
        run_play(inventory, play('pattern_service'), dict(PATTERN_VARS, pattern_service_state='absent',
                                                          pattern_service_purge=True))
        run_play(inventory, play('stack'), dict(stack_vars, stack_state='absent', stack_purge=True))
        on_node('rm', '-rf', HOME + '/stacks/hlucfg', HOME + '/services/hlucache')

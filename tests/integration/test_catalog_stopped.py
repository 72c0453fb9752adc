# -*- coding: utf-8 -*-
"""A catalog service that was stopped on purpose is still the catalog's (issue 17 part 5): Quadlet runs its container
with --rm, so once stopped there is no container carrying the ownership label, only its unit. Set deployed: false
and playbooks/reconcile.yml removes it (units gone, not left enabled); before, the plan said "absent" and did nothing.
A catalog service its owner masked (systemctl mask) is left stopped by reconcile, which says so and succeeds, also
when its entry changed, and a re-run changes nothing; unmasked, the next reconcile starts it again. Before, every
reconcile tried to start the masked unit, failed and rolled back.
"""
import os
import shutil

from test_stack_events import ROOT, on_node

RECONCILE = os.path.join(ROOT, 'playbooks', 'reconcile.yml')
ENTRY = """metadata: {name: hlstop, owner: tests, category: test, deployed: %s}
deployment:
  pattern: reverse-proxy-backend
  image: localhost/hl-web:latest
  overrides: {services: {app: {read_only: false}}}
networking: {hostname: hlstop.test, internal_port: 8080}
security: {middleware: [security-headers@file]}
health: {path: /health, cmd: /bin/hl-web health, interval: 2s}
"""


def fresh_catalog(name):
    """An empty catalog directory of the test's own and the reconcile variables for it: (catalog, extra vars)."""
    catalog = os.path.join(ROOT, 'tests', 'output', '%s-catalog' % name)
    shutil.rmtree(catalog, ignore_errors=True)
    os.makedirs(catalog)
    return catalog, {'reconcile_hosts': 'node', 'reconcile_catalog_dir': catalog, 'reconcile_resource_limits': 'best_effort',
                     'pattern_service_pull': 'never', 'pattern_service_health_timeout': 60,
                     'pattern_service_credentials_dir': os.path.join(ROOT, 'tests', 'output', '%s-credentials' % name)}


def test_a_stopped_catalog_service_is_removed(run_playbook, traefik_on_node):
    catalog, extra = fresh_catalog('hlstop')
    unit = '/etc/containers/systemd/hlstop-app.container'
    try:
        with open(os.path.join(catalog, 'hlstop.yml'), 'w') as handle:
            handle.write(ENTRY % 'true')
        res = run_playbook(RECONCILE, extra)
        assert res.rc == 0, '\n'.join(res.failures())
        assert on_node('systemctl', 'is-active', 'hlstop-app.service').stdout.strip() == 'active'
        assert on_node('systemctl', 'stop', 'hlstop-app.service').returncode == 0
        assert on_node('podman', 'container', 'exists', 'hlstop-app').returncode != 0, 'no container left (--rm)'
        with open(os.path.join(catalog, 'hlstop.yml'), 'w') as handle:
            handle.write(ENTRY % 'false')
        extra['reconcile_allow_remove_all'] = True  # it is the only service of the catalog
        res = run_playbook(RECONCILE, extra)
        assert res.rc == 0, '\n'.join(res.failures())
        assert on_node('test', '-e', unit).returncode != 0, 'the stopped service was removed'
        res = run_playbook(RECONCILE, extra)
        assert res.rc == 0 and res.changed() == 0, 'a re-run changes nothing'
    finally:
        on_node('sh', '-c', 'systemctl stop hlstop-app.service 2>/dev/null; rm -f %s /etc/traefik/dynamic/hlstop.yml; '
                'systemctl daemon-reload' % unit)
        shutil.rmtree(catalog, ignore_errors=True)


def test_a_masked_catalog_service_is_left_stopped_and_reconcile_converges(run_playbook, traefik_on_node):
    catalog, extra = fresh_catalog('hlmask')
    entry = ENTRY.replace('hlstop', 'hlmask') % 'true'
    unit = '/etc/containers/systemd/hlmask-app.container'
    try:
        with open(os.path.join(catalog, 'hlmask.yml'), 'w') as handle:
            handle.write(entry)
        res = run_playbook(RECONCILE, extra)
        assert res.rc == 0, '\n'.join(res.failures())
        masked = on_node('sh', '-c', 'systemctl stop hlmask-app.service && systemctl mask hlmask-app.service')
        assert masked.returncode == 0, masked.stderr
        with open(os.path.join(catalog, 'hlmask.yml'), 'w') as handle:
            handle.write(entry.replace('interval: 2s', 'interval: 3s'))  # the entry changed: its unit is rewritten
        res = run_playbook(RECONCILE, extra)
        assert res.rc == 0, '\n'.join(res.failures())
        assert 'HealthInterval=3s' in on_node('cat', unit).stdout, 'the unit file follows the catalog'
        assert on_node('systemctl', 'is-active', 'hlmask-app.service').stdout.strip() != 'active', 'left stopped'
        assert 'masked on the host' in res.stdout, 'the run says why it was left stopped'
        res = run_playbook(RECONCILE, extra)
        assert res.rc == 0 and res.changed() == 0, 'a re-run changes nothing'
        assert on_node('systemctl', 'unmask', 'hlmask-app.service').returncode == 0
        res = run_playbook(RECONCILE, extra)
        assert res.rc == 0, '\n'.join(res.failures())
        assert on_node('systemctl', 'is-active', 'hlmask-app.service').stdout.strip() == 'active', 'started once unmasked'
    finally:
        on_node('sh', '-c', 'systemctl unmask hlmask-app.service; systemctl stop hlmask-app.service 2>/dev/null; '
                'rm -f %s /etc/traefik/dynamic/hlmask.yml; systemctl daemon-reload; systemctl reset-failed' % unit)
        shutil.rmtree(catalog, ignore_errors=True)

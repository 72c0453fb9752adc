# -*- coding: utf-8 -*-
"""A catalog service that was stopped on purpose is still the catalog's (issue 17 part 5): Quadlet runs its container
with --rm, so once stopped there is no container carrying the ownership label, only its unit. Set deployed: false
and playbooks/reconcile.yml removes it (units gone, not left enabled); before, the plan said "absent" and did nothing.
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


def test_a_stopped_catalog_service_is_removed(run_playbook, traefik_on_node):
    catalog = os.path.join(ROOT, 'tests', 'output', 'hlstop-catalog')
    shutil.rmtree(catalog, ignore_errors=True)
    os.makedirs(catalog)
    extra = {'reconcile_hosts': 'node', 'reconcile_catalog_dir': catalog, 'reconcile_resource_limits': 'best_effort',
             'pattern_service_pull': 'never', 'pattern_service_health_timeout': 60,
             'pattern_service_credentials_dir': os.path.join(ROOT, 'tests', 'output', 'hlstop-credentials')}
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

# -*- coding: utf-8 -*-
"""deploy_service.yml run as AWX runs it (ansible-runner: extra vars only, no TTY, an artifacts directory, the
deploy_history callback enabled) against the real node, several times: refused, rolled back, succeeded, refused
by the configured ceiling, allowed at level 2, failed on bad input. Then the recorded history is checked, the
analytics playbook's numbers are recomputed here from the raw SQLite rows, and the chart and metrics are read.
"""
import http.server
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections import namedtuple

import ansible_runner
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, 'tests', 'output')
HLNODE = [sys.executable, os.path.join(ROOT, 'tests', 'harness', 'hlnode')]
# Level 2 needs a success, a 50% success rate and no rollback in the last deploy (few deploys keep the test short).
REQUIREMENTS = {'2': {'successful_deployments': 1, 'success_rate': 0.5, 'rollback_free_last': 1}}
Series = namedtuple('Series', 'name runs results started')
AWX_VARS = {'awx_job_id': 4711, 'awx_user_name': 'alice', 'awx_job_template_name': 'deploy web',
            'awx_job_launch_type': 'manual'}


def service_file(path, name, image, start_timeout=60):
    with open(path, 'w') as handle:
        handle.write('pattern: reverse-proxy-backend\nname: %s\nhostname: %s.test\nresource_limits: best_effort\n'
                     'overrides:\n  routing: {port: 8080}\n  monitoring: {health: {path: /health}}\n  services:\n'
                     '    app:\n      image: %s\n      read_only: false\n      start_timeout: %d\n'
                     '      healthcheck: {cmd: /bin/hl-web health, interval: 2s}\n' % (name, name, image, start_timeout))
    return path


class Runs(object):
    """ansible-runner, configured as an AWX job template would be."""

    def __init__(self, inventory, work):
        self.inventory, self.work, self.db = inventory, work, os.path.join(work, 'history.sqlite')
        self.count = 0

    def run(self, playbook, extra_vars, envvars=None):
        self.count += 1
        private = os.path.join(self.work, 'job%d' % self.count)
        os.makedirs(private)
        env = {'ANSIBLE_COLLECTIONS_PATH': os.path.join(OUT, 'collections'), 'ANSIBLE_HOST_KEY_CHECKING': 'False',
               'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_CALLBACKS_ENABLED': 'homelab.deploy.deploy_history'}
        env.update(envvars or {})
        runner = ansible_runner.run(private_data_dir=private, project_dir=ROOT, playbook=playbook,
                                    inventory=self.inventory, extravars=dict(AWX_VARS, **extra_vars), envvars=env,
                                    quiet=True, artifact_dir=os.path.join(private, 'artifacts'))
        assert os.path.isdir(os.path.join(private, 'artifacts')), 'ansible-runner wrote no artifacts'
        return runner

    def deploy(self, svc, automation=None, approved=False, **extra):
        extra_vars = {'deploy_target': 'node', 'deploy_service_file': svc, 'deploy_history_db': self.db,
                      'deploy_approved': approved}
        if automation is not None:
            extra_vars['deploy_automation'] = automation
        extra_vars.update(extra)
        return self.run('playbooks/deploy_service.yml', extra_vars)


class Receiver(http.server.BaseHTTPRequestHandler):
    """A notification endpoint: keeps every JSON body POSTed to it."""
    received = []

    def do_POST(self):  # pylint: disable=invalid-name
        Receiver.received.append(json.loads(self.rfile.read(int(self.headers['Content-Length']))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):  # pylint: disable=arguments-differ
        pass


def node(*argv):
    return subprocess.run(HLNODE + ['exec', '--'] + list(argv), capture_output=True, text=True, check=False)


def rows(db):
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute('SELECT * FROM events ORDER BY id')]
    finally:
        conn.close()


@pytest.fixture(scope='module')
def series(inventory, traefik_on_node):
    name = 'hlhist%d' % random.randint(1000, 99999)
    work = os.path.join(OUT, name)
    os.makedirs(work)
    runs = Runs(inventory, work)
    good = service_file(os.path.join(work, 'good.yml'), name, 'localhost/hl-web:latest')
    broken = service_file(os.path.join(work, 'broken.yml'), name, 'localhost/hl-web:broken', start_timeout=15)
    level2 = {'max_level': 2, 'requirements': REQUIREMENTS}
    started = time.time()
    results = {}
    server = http.server.HTTPServer(('127.0.0.1', 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        results['refused_level1'] = runs.deploy(good, level2)
        results['present_after_refusal'] = node('podman', 'container', 'exists', name + '-app').returncode == 0
        results['rolled_back'] = runs.deploy(broken, level2, approved=True)
        results['present_after_rollback'] = node('test', '-e', '/etc/containers/systemd/%s-app.container' % name).returncode == 0
        results['success1'] = runs.deploy(good, level2, approved=True)
        results['refused_ceiling'] = runs.deploy(good, {'max_level': 1, 'requirements': REQUIREMENTS})
        results['allowed_level2'] = runs.deploy(good, level2,
                                                deploy_notify_url='http://127.0.0.1:%d/hook' % server.server_port)
        results['bad_input'] = runs.deploy(good, level2, approved=True, deploy_pattern='no-such-pattern',
                                           deploy_name=name + '-bad')
        results['analytics'] = runs.run('playbooks/analytics.yml', {
            'deploy_history_db': runs.db, 'analytics_since': started - 1, 'analytics_output_dir': os.path.join(work, 'out'),
            'analytics_manual_minutes': 20, 'analytics_automation': level2})
        yield Series(name=name, runs=runs, results=results, started=started)
    finally:
        server.shutdown()
        cleanup = os.path.join(work, 'cleanup.yml')
        with open(cleanup, 'w') as handle:
            handle.write('- hosts: node\n  gather_facts: false\n  tasks:\n    - ansible.builtin.include_role:\n'
                         '        name: homelab.deploy.pattern_service\n      vars:\n'
                         '        pattern_service_pattern: reverse-proxy-backend\n        pattern_service_name: %s\n'
                         '        pattern_service_state: absent\n        pattern_service_purge: true\n' % name)
        runs.run(cleanup, {})
        shutil.rmtree(work, ignore_errors=True)


def test_every_run_is_recorded_with_its_outcome(series):
    name = series.name
    runs = series.runs
    results = series.results
    assert results['refused_level1'].rc != 0 and not results['present_after_refusal']
    assert results['rolled_back'].rc != 0 and not results['present_after_rollback']
    for key in ('success1', 'allowed_level2'):
        assert results[key].rc == 0, (key, results[key].stdout.read()[-3000:])
    assert results['refused_ceiling'].rc != 0 and results['bad_input'].rc != 0
    recs = rows(runs.db)
    assert [(r['name'], r['outcome'], r['automation_level']) for r in recs] == [
        (name, 'refused', 1), (name, 'rolled_back', 1), (name, 'success', 1),
        (name, 'refused', 1), (name, 'success', 2), (name + '-bad', 'failed', 2)]
    assert all(r['kind'] == 'deploy' and r['host'] == 'node' for r in recs)


def test_records_carry_failure_evidence_images_phases_and_trigger(series):
    name = series.name
    runs = series.runs
    recs = rows(runs.db)
    refused, rolled, success = recs[0], recs[1], recs[2]
    assert json.loads(refused['failure'])['check'] == 'approval'
    failure = json.loads(rolled['failure'])
    assert failure['service'] == 'app' and failure['check'].startswith('health'), failure
    assert name + '-app' in failure['evidence']
    assert json.loads(rolled['images']) == {name + '-app': 'localhost/hl-web:broken'}
    assert json.loads(success['images'])[name + '-app'].startswith('localhost/hl-web@sha256:')
    # the health of every container is verified inside the deploy's host transaction (verify_health)
    assert set(json.loads(success['phases'])) == {'preflight', 'deploy'}
    assert success['strategy'] == 'direct' and success['pattern'] == 'reverse-proxy-backend'
    assert success['duration'] >= sum(json.loads(success['phases']).values()) > 0
    trigger = json.loads(success['trigger'])
    assert trigger == {'source': 'awx', 'job_id': '4711', 'user': 'alice', 'template': 'deploy web',
                       'launch_type': 'manual'}
    bad = json.loads(recs[5]['failure'])
    assert 'no-such-pattern' in bad['cause'] and json.loads(recs[5]['images']) == {}
    assert len(set(r['run_id'] for r in recs)) == 6


def test_level_gate(series):
    runs = series.runs
    results = series.results
    out = results['refused_level1'].stdout.read()
    assert 'automation level 1 needs deploy_approved=true' in out
    details = [json.loads(r['details']) for r in rows(runs.db)]
    assert details[3]['gate'].startswith('automation level 1 needs')
    assert details[4]['gate'] == 'automation level 2 allows this deploy without approval on a healthy host'
    assert details[4]['approved'] is False


def test_analytics_match_the_records(series):
    runs = series.runs
    results = series.results
    started = series.started
    assert results['analytics'].rc == 0
    with open(os.path.join(runs.work, 'out', 'analytics.json')) as handle:
        report = json.load(handle)
    recs = [r for r in rows(runs.db) if r['started'] >= started - 1]
    deploys = [r for r in recs if r['outcome'] != 'refused']
    ok = [r for r in deploys if r['outcome'] == 'success']
    durations = [r['duration'] for r in deploys]
    assert report['totals']['records'] == len(recs) == 6
    assert report['totals']['deployments'] == len(deploys) == 4
    assert (report['totals']['success'], report['totals']['failed'], report['totals']['rolled_back'],
            report['totals']['refused']) == (len(ok), 1, 1, 2) == (2, 1, 1, 2)
    assert report['success_rate'] == round(len(ok) / len(deploys), 4)
    assert report['rollbacks'] == 1
    assert report['duration']['mean'] == round(sum(durations) / len(durations), 2)
    assert report['duration']['median'] == round(statistics.median(durations), 2)
    assert sum(w['deployments'] for w in report['per_week']) == 4
    by_pattern = [p for p in report['patterns'] if p['pattern'] == 'reverse-proxy-backend'][0]
    assert (by_pattern['deployments'], by_pattern['successes']) == (3, 2)
    assert report['time_saved']['saved_seconds'] == round(2 * 20 * 60 - sum(r['duration'] for r in ok), 2)
    slow = report['slowest_patterns'][0]
    assert slow['pattern'] == 'reverse-proxy-backend'
    assert slow['mean_duration'] == round(sum(r['duration'] for r in ok) / 2, 2) and slow['suggestion']
    causes = dict((c['cause'], c['count']) for c in report['failure_causes'])
    assert sum(causes.values()) == 2 and any(c.startswith('health: ') for c in causes)


def test_chart_and_metrics(series):
    runs = series.runs
    out = os.path.join(runs.work, 'out')
    with open(os.path.join(out, 'analytics.json')) as handle:
        report = json.load(handle)
    svg = ET.parse(os.path.join(out, 'trend.svg')).getroot()
    values = {}
    for element in svg.iter():
        if element.get('data-series'):
            values.setdefault(element.get('data-series'), {})[element.get('data-bucket')] = element.get('data-value')
    for series_name in ('success', 'failed', 'rolled_back'):
        assert values[series_name] == dict((t['bucket'], str(t[series_name])) for t in report['trend'])
    assert sum(int(v) for v in values['success'].values()) == 2
    assert values['mean_duration'] and all(float(v) > 0 for v in values['mean_duration'].values())
    with open(os.path.join(out, 'homelab_deploy.prom')) as handle:
        prom = handle.read()
    assert 'homelab_deployments_total{kind="deploy",outcome="success",pattern="reverse-proxy-backend"} 2' in prom
    assert 'homelab_deployments_total{kind="deploy",outcome="rolled_back",pattern="reverse-proxy-backend"} 1' in prom
    assert 'homelab_drifted_services 0' in prom and 'homelab_automation_level 2' in prom
    with open(os.path.join(out, 'deployment_metrics.json')) as handle:
        metrics = json.load(handle)
    assert metrics['level'] == 2 and all(r['met'] for r in metrics['requirements'] if r['level'] == 2)


def test_unwritable_store_only_warns(series):
    """A store that cannot be written never fails the run: a refused (host untouched) run still ends as refused."""
    runs = series.runs
    runner = runs.run('playbooks/deploy_service.yml', {
        'deploy_target': 'node', 'deploy_service_file': os.path.join(runs.work, 'good.yml'),
        'deploy_history_db': '/proc/no-such-dir/history.sqlite', 'deploy_pattern': 'no-such-pattern'})
    out = runner.stdout.read()
    assert 'the deployment history was NOT recorded' in out
    assert runner.status == 'failed' and 'no-such-pattern' in out  # the deploy's own failure, not the store's


def test_level_3_notification_is_sent_and_recorded(series):
    recs = rows(series.runs.db)
    assert [(e['name'], e['outcome'], e['automation_level']) for e in Receiver.received] == [(series.name, 'success', 2)]
    assert json.loads(recs[4]['details'])['notified'] is True
    assert json.loads(recs[2]['details'])['notified'] is None

# -*- coding: utf-8 -*-
"""Prometheus and node_exporter as upstream ships them (issue 13 part 7), on the node: the real exporter (Debian
trixie's prometheus-node-exporter, built by the harness into an image laid out like upstream's: run as nobody, no
HEALTHCHECK) deployed from the monitoring-exporter pattern, which registers it as a Prometheus file_sd target; the
real Prometheus (Debian trixie's prometheus package, laid out like prom/prometheus) deployed as a stack with its
own prometheus.yml shipped as a config file and the target directory mounted read-only. The exporter's target is
`up == 1` in the Prometheus API, with the labels the registration gave it; removing the exporter takes its target
out of Prometheus again.
"""
import json
import os
import time

from test_stack_events import ROOT, on_node, role_play, run_play

EXPORTER = 'hlnodexp'
TARGETS = '/etc/homelab-deploy/monitoring'
PATTERN_PLAYBOOK = role_play('pattern_service')
STACK_PLAYBOOK = role_play('stack')
PROMETHEUS_YML = """\
global:
  scrape_interval: 2s
  evaluation_interval: 2s
scrape_configs:
  # every target the collection registered (one file_sd file per monitored deployment)
  - job_name: homelab
    file_sd_configs:
      - files: [/etc/prometheus/targets/*.json]
        refresh_interval: 5s
"""
STACK = {
    'schema_version': 1, 'name': 'hlprom',
    'volumes': {'tsdb': {'description': "Prometheus' time series database"}},
    'services': {'prometheus': {
        'image': 'localhost/prometheus:2',
        'command': ['--config.file=/etc/prometheus/prometheus.yml', '--storage.tsdb.path=/prometheus',
                    '--storage.tsdb.retention.time=1d'],
        'read_only': True,
        'drop_capabilities': ['ALL'],
        'volumes': [{'volume': 'tsdb', 'target': '/prometheus'},
                    {'path': TARGETS, 'target': '/etc/prometheus/targets', 'mode': 'ro'}],
        'configs': [{'target': '/etc/prometheus/prometheus.yml', 'content': PROMETHEUS_YML}],
        'healthcheck': {'cmd': 'wget -q -O /dev/null http://127.0.0.1:9090/-/ready', 'interval': '2s', 'retries': 5},
        'wait_for': {'healthy': True, 'timeout': 90},
        'route': {'hostname': 'prometheus.localhost', 'port': 9090, 'public': False},
    }},
}
STACK_VARS = {'stack_definition': STACK, 'stack_bind_readonly': ['/etc/localtime', '/etc/timezone', TARGETS]}


def deploy_exporter(inventory, **extra):
    variables = {
        'pattern_service_pattern': 'monitoring-exporter', 'pattern_service_name': EXPORTER,
        'pattern_service_hostname': EXPORTER + '.localhost', 'pattern_service_resource_limits': 'best_effort',
        'pattern_service_pull': 'never',
        'pattern_service_overrides': {'services': {'exporter': {
            'image': 'localhost/node-exporter:1', 'healthcheck': {'interval': '2s'}}}},
        'preflight_report_dir': os.path.join(ROOT, 'tests', 'output', 'prometheus-preflight'),
    }
    variables.update(extra)
    rc, dummy, out = run_play(inventory, PATTERN_PLAYBOOK, variables)
    return rc, out


def prometheus(path, **query):
    argv = ['curl', '-sS', '-G', '-H', 'Host: prometheus.localhost', 'http://127.0.0.1' + path]
    for key, value in query.items():
        argv += ['--data-urlencode', '%s=%s' % (key, value)]
    done = on_node(*argv)
    return json.loads(done.stdout) if done.stdout.startswith('{') else {'raw': done.stdout + done.stderr}


def wait_for(predicate, seconds=60):
    deadline, last = time.monotonic() + seconds, None
    while time.monotonic() < deadline:
        last = predicate()
        if last[0]:
            return last
        time.sleep(1)
    return last


def exporter_up():
    answer = prometheus('/api/v1/query', query='up{deployment="%s"}' % EXPORTER)
    series = answer.get('data', {}).get('result', [])
    return (bool(series) and series[0]['value'][1] == '1', answer)


def exporter_targets():
    answer = prometheus('/api/v1/targets')
    mine = [t for t in answer.get('data', {}).get('activeTargets', []) if t['labels'].get('deployment') == EXPORTER]
    return mine, answer


def test_node_exporter_registered_by_its_pattern_is_up_in_prometheus(inventory, traefik_on_node):
    try:
        rc, out = deploy_exporter(inventory)
        assert rc == 0, out[-4000:]
        registered = json.loads(on_node('cat', '%s/%s.json' % (TARGETS, EXPORTER)).stdout)
        assert registered[0]['targets'] == [EXPORTER + '-exporter:9100'], registered
        metrics = on_node('curl', '-sS', '-H', 'Host: %s.localhost' % EXPORTER, 'http://127.0.0.1/metrics').stdout
        assert 'node_exporter_build_info' in metrics, metrics[:500]

        rc, dummy, out = run_play(inventory, STACK_PLAYBOOK, STACK_VARS)
        assert rc == 0, out[-4000:]

        up, answer = wait_for(exporter_up)
        assert up, 'the exporter is up in Prometheus: %s' % json.dumps(answer)[:2000]
        labels = answer['data']['result'][0]['metric']
        assert labels['job'] == 'monitoring-exporter' and labels['host'] == 'node', labels
        assert labels['instance'] == EXPORTER + '-exporter:9100', labels
        load = prometheus('/api/v1/query', query='node_load1{deployment="%s"}' % EXPORTER)
        assert load['data']['result'], 'node_exporter metrics are scraped: %s' % json.dumps(load)[:1000]

        rc, stats, out = run_play(inventory, STACK_PLAYBOOK, STACK_VARS)
        assert rc == 0 and not any((stats.get('changed') or {}).values()), \
            're-deploying Prometheus changes nothing: %s' % out[-3000:]

        rc, out = deploy_exporter(inventory, pattern_service_state='absent', pattern_service_purge=True)
        assert rc == 0, out[-3000:]
        assert on_node('test', '-e', '%s/%s.json' % (TARGETS, EXPORTER)).returncode != 0, 'the registration is removed'
        gone, answer = wait_for(lambda: (not exporter_targets()[0], exporter_targets()[1]), 30)
        assert gone, 'Prometheus dropped the removed exporter: %s' % json.dumps(answer)[:2000]
    finally:
        deploy_exporter(inventory, pattern_service_state='absent', pattern_service_purge=True)
        run_play(inventory, STACK_PLAYBOOK, dict(STACK_VARS, stack_state='absent', stack_purge=True))

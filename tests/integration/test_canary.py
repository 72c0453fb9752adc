# -*- coding: utf-8 -*-
"""Canary releases on the real node (playbooks/canary.yml, roles/canary), with real Traefik and real requests.

While the playbook runs, a thread plays the users: it sends requests to the service through the node's Traefik
(the harness forwards HLNODE_FORWARD to the node's port 80) and counts every answer. Intervals are seconds, so
the four cases take a few minutes together.
"""
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import HLNODE, ROOT

PORT = dict(reversed(f.split(':')) for f in os.environ.get('HLNODE_FORWARD', '18480:80').split())['80']
SERVICE = 'cnweb'
HOST = SERVICE + '.localhost'
CANARY_PLAYBOOK = os.path.join(ROOT, 'playbooks', 'canary.yml')
STABLE_PLAYBOOK = os.path.join(ROOT, 'tests', 'integration', 'canary', 'stable.yml')
CLEANUP_PLAYBOOK = os.path.join(ROOT, 'tests', 'integration', 'canary', 'cleanup.yml')
START_TASK = 'Start the canary beside the stable version (rolled back by the transaction if it does not get healthy)'
PROMOTE_TASK = 'Update the stable unit to the new version (rolled back by the transaction if it does not get healthy)'
BASE_VARS = {'canary_hosts': 'node', 'canary_service': SERVICE, 'canary_image': 'localhost/hl-web:latest',
             'canary_route_public': False, 'canary_interval': 3, 'canary_steps': [20, 50],
             'canary_thresholds': {'min_requests': 8, 'max_p95_ms': 250}}


class Users(threading.Thread):
    """Real traffic through Traefik at about `rate` requests per second, bounded in time and count."""

    def __init__(self, rate=25, limit_seconds=240):
        super(Users, self).__init__(daemon=True)
        self.rate, self.limit_seconds = rate, limit_seconds
        self.stop_event = threading.Event()
        self.answers = []  # (monotonic time, status code or 'error', version header)

    def run(self):
        start = time.monotonic()
        while not self.stop_event.is_set() and time.monotonic() - start < self.limit_seconds:
            self.answers.append(self.request())
            time.sleep(1.0 / self.rate)

    def request(self):
        req = urllib.request.Request('http://127.0.0.1:%s/' % PORT, headers={'Host': HOST})
        try:
            with urllib.request.urlopen(req, timeout=5) as answer:
                answer.read()
                return time.monotonic(), answer.status, answer.headers.get('X-HL-Web-Version')
        except urllib.error.HTTPError as exc:
            return time.monotonic(), exc.code, None
        except (urllib.error.URLError, OSError):
            return time.monotonic(), 'error', None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        self.join(10)

    def codes(self):
        counts = {}
        for dummy, code, dummy in self.answers:
            counts[code] = counts.get(code, 0) + 1
        return counts


def node(*argv):
    return subprocess.run(HLNODE + ['exec', '--'] + list(argv), capture_output=True, text=True, check=False)


def record(res):
    """The canary's decision record and its history event, from the run's task results."""
    facts = [r['ansible_facts']['canary_result'] for r in res.task_results('Assemble the decision record')
             if 'ansible_facts' in r]
    events = [r['ansible_stats']['data']['homelab_deploy_events'][0]
              for r in res.task_results('Publish the deployment event for the history') if 'ansible_stats' in r]
    assert facts and events, 'no decision record in the run:\n' + '\n'.join(res.failures())
    return facts[0], events[0]


def assert_only_stable_left():
    units = node('ls', '/etc/containers/systemd').stdout.split()
    assert SERVICE + '-canary.container' not in units and SERVICE + '.container' in units
    names = node('podman', 'ps', '-a', '--format', '{{.Names}}').stdout.split()
    assert SERVICE + '-canary' not in names and SERVICE in names
    route = node('cat', '/etc/traefik/dynamic/%s.yml' % SERVICE).stdout
    assert 'weighted' not in route and 'canary' not in route and 'http://%s:8080' % SERVICE in route


@pytest.fixture
def stable(run_playbook, traefik_on_node):
    res = run_playbook(STABLE_PLAYBOOK)
    assert res.rc == 0, '\n'.join(res.failures())
    yield
    run_playbook(CLEANUP_PLAYBOOK)


def release(run_playbook, **extra):
    return run_playbook(CANARY_PLAYBOOK, extra_vars=dict(BASE_VARS, **extra))


def test_healthy_version_is_promoted(run_playbook, stable):
    with Users() as users:
        res = release(run_playbook, canary_environment={'HL_WEB_VERSION': '2'})
        time.sleep(1)
    assert res.rc == 0, '\n'.join(res.failures())
    result, event = record(res)
    assert result['decision'] == 'promote' and event['outcome'] == 'success' and event['kind'] == 'canary'
    assert [m['weight'] for m in result['measurements']] == [20, 50]
    assert result['counts']['success'] >= 1 and result['counts']['failure'] == 0
    assert result['released_image'].startswith('localhost/hl-web@sha256:')
    assert event['images'] == {SERVICE: result['released_image']} and set(event['phases']) >= {'deploy canary', 'analysis', 'promote'}
    unit = node('cat', '/etc/containers/systemd/%s.container' % SERVICE).stdout
    assert 'Image=%s' % result['released_image'] in unit and 'HL_WEB_VERSION=2' in unit
    assert_only_stable_left()
    # every unit change was a host transaction: the canary started and waited on, the stable unit rewritten and
    # restarted, the canary removed; the promotion's rollback point keeps the unit it replaced
    started = res.task_results(START_TASK)[0]
    promoted = res.task_results(PROMOTE_TASK)[0]
    removed = res.task_results('Remove the canary')[0]
    assert started['units'][SERVICE + '-canary.container']['service'] == 'start' and started['txn_id']
    assert SERVICE + '-canary' in started['phases'][0]['healthy']
    assert (promoted['units'][SERVICE + '.container']['action'], promoted['units'][SERVICE + '.container']['service']) == (
        'write', 'restart')
    assert removed['units'][SERVICE + '-canary.container']['action'] == 'remove'
    last = node('cat', '/var/lib/homelab-deploy/txn/canary-%s-promote.last.json' % SERVICE).stdout
    assert 'HL_WEB_VERSION=1' in last and 'Image=localhost/hl-web:latest' in last
    assert users.codes() == {200: len(users.answers)}, users.codes()       # nobody saw an error
    versions = [v for dummy, dummy, v in users.answers]
    assert '1' in versions and versions[-1] == '2'                          # traffic moved from 1 to 2


def test_failing_version_is_rolled_back_while_stable_serves(run_playbook, stable):
    with Users() as users:
        res = release(run_playbook, canary_environment={'HL_WEB_VERSION': '2', 'HL_WEB_FAIL_PERCENT': '50'})
        time.sleep(1)
    assert res.rc != 0 and any('ROLLED BACK' in f for f in res.failures()), res.failures()
    result, event = record(res)
    assert result['decision'] == 'rollback' and event['outcome'] == 'rolled_back'
    assert [m['verdict'] for m in result['measurements']] == ['failure']        # rolled back at the first step
    assert 'success_rate' in [c['name'] for c in result['measurements'][-1]['checks'] if not c['ok']]
    assert event['failure']['check'] == 'analysis' and event['failure']['evidence']
    unit = node('cat', '/etc/containers/systemd/%s.container' % SERVICE).stdout
    assert 'Image=localhost/hl-web:latest' in unit and 'HL_WEB_VERSION=1' in unit   # stable untouched
    assert_only_stable_left()
    codes = users.codes()
    failed = codes.get(500, 0)
    assert set(codes) <= {200, 500} and codes[200] > 0, codes                      # stable kept serving
    # users only saw the canary's share fail: at most the first step's 20% of the half that fail, with slack
    assert failed <= 0.2 * len(users.answers), codes
    assert all(code == 200 for dummy, code, dummy in users.answers[-5:])            # and after: stable only


def test_a_canary_that_never_gets_healthy_is_rolled_back_by_its_transaction(run_playbook, stable):
    with Users() as users:
        res = release(run_playbook, canary_environment={'HL_WEB_VERSION': '2', 'HL_WEB_HEALTHY': 'false'},
                      canary_health_timeout=20)
        time.sleep(1)
    assert res.rc != 0 and any('failed at' in f and 'Start the canary' in f for f in res.failures()), res.failures()
    failed = res.task_results(START_TASK)[0]
    assert failed['failure']['unit'] == SERVICE + '-canary.container' and failed['failure']['check'] == 'health'
    assert failed['rollback']['ok'] and failed['rollback']['removed'] == [SERVICE + '-canary.container']
    result, event = record(res)
    assert result['decision'] == 'error' and event['outcome'] == 'failed' and result['measurements'] == []
    assert any('The route was not changed' in f and 'The canary was removed' in f for f in res.failures())
    unit = node('cat', '/etc/containers/systemd/%s.container' % SERVICE).stdout
    assert 'Image=localhost/hl-web:latest' in unit and 'HL_WEB_VERSION=1' in unit       # stable untouched
    assert_only_stable_left()
    assert users.codes() == {200: len(users.answers)}, users.codes()                  # nobody saw an error


def test_slow_version_is_caught_by_p95(run_playbook, stable):
    with Users(rate=20):
        res = release(run_playbook, canary_environment={'HL_WEB_VERSION': '2', 'HL_WEB_DELAY_MS': '400'},
                      canary_thresholds={'min_requests': 5, 'max_p95_ms': 250}, canary_load_rps=10)
    assert res.rc != 0
    result, event = record(res)
    assert result['decision'] == 'rollback' and event['outcome'] == 'rolled_back'
    failed = [c for c in result['measurements'][-1]['checks'] if not c['ok']]
    assert [c['name'] for c in failed] == ['p95_ms'] and failed[0]['value'] > 250
    assert result['measurements'][-1]['canary']['success_rate'] == 1.0
    assert result['measurements'][-1]['load']['requests'] > 0                   # the role's synthetic load ran
    assert_only_stable_left()


def test_starved_canary_pauses_then_operator_aborts(run_playbook, stable):
    res = release(run_playbook, canary_environment={'HL_WEB_VERSION': '2'}, canary_steps=[20, 50, 80],
                  canary_interval=2)
    assert res.rc != 0 and any('PAUSED' in f and 'canary_decision=promote' in f for f in res.failures()), res.failures()
    result, event = record(res)
    assert result['decision'] == 'pause' and event['outcome'] == 'failed'
    assert event['failure']['check'] == 'inconclusive'
    assert result['counts']['failure'] == 0 and result['counts']['inconclusive'] == 2 and result['weight_now'] == 50
    assert node('podman', 'ps', '--format', '{{.Names}}').stdout.split().count(SERVICE + '-canary') == 1
    assert 'weighted' in node('cat', '/etc/traefik/dynamic/%s.yml' % SERVICE).stdout   # left as it was paused

    res = release(run_playbook, canary_environment={'HL_WEB_VERSION': '2'}, canary_decision='abort')
    result, event = record(res)
    assert result['decision'] == 'rollback' and result['override'] == 'abort' and result['measurements'] == []
    assert_only_stable_left()
    assert 'HL_WEB_VERSION=1' in node('cat', '/etc/containers/systemd/%s.container' % SERVICE).stdout


@pytest.mark.parametrize('extra, words', [
    ({'canary_pattern': 'password-manager'}, "service 'vaultwarden' is not canary-safe"),
    ({'canary_pattern': 'web-app-with-database', 'canary_pattern_service': 'db'}, "service 'db' is not canary-safe"),
    ({'canary_safe': False}, 'declared not canary-safe'),
    ({'canary_thresholds': {'max_p95': 100}}, 'thresholds has unknown key(s) max_p95'),
    ({'canary_steps': [10, 150]}, 'weights must be whole numbers from 1 to 100'),
])
def test_refused_before_the_host_is_touched(run_playbook, extra, words):
    before = node('ls', '/etc/containers/systemd', '/etc/traefik/dynamic').stdout
    res = release(run_playbook, **extra)
    assert res.rc != 0 and any(words in f for f in res.failures()), res.failures()
    assert not res.task_results('Read the stable service\'s route')          # never got to the host
    assert node('ls', '/etc/containers/systemd', '/etc/traefik/dynamic').stdout == before


def lock_owner(pid, label):
    """The owner record homelab.deploy.run_lock writes for an ansible-playbook process of this controller."""
    sys.path.insert(0, os.path.join(ROOT, 'tests', 'output', 'collections'))
    try:
        from ansible_collections.homelab.deploy.plugins.action import run_lock  # pylint: disable=import-outside-toplevel
    finally:
        sys.path.pop(0)
    return dict(run_lock.run_owner(label, pid=pid), since=time.time())


def put_lock(path, owner):
    return subprocess.run(HLNODE + ['exec', '--', 'bash', '-c', 'mkdir -p "${1%/*}" && cat > "$1"', '-', path],
                          input=json.dumps(owner), capture_output=True, text=True, check=False)


def test_one_run_per_service_and_a_killed_runs_lock_is_taken_over_at_once(run_playbook):
    lock = '/run/homelab-deploy/canary/cnlock.json'
    other = subprocess.Popen(['sleep', '300'])                              # another run on this controller
    try:
        assert put_lock(lock, lock_owner(other.pid, 'canary of cnlock (other run)')).returncode == 0
        res = release(run_playbook, canary_service='cnlock')
        assert res.rc != 0 and any('held by canary of cnlock (other run) (pid %d' % other.pid in f and 'still runs' in f
                                   for f in res.failures()), res.failures()
        assert not res.task_results("Read the stable service's route")   # refused before the release began
        assert json.loads(node('cat', lock).stdout)['pid'] == other.pid  # the other run's lock stays
        other.kill()                                                      # the other run is killed
        other.wait()
        started = time.monotonic()
        res = release(run_playbook, canary_service='cnlock')              # taken over at once: fails on the missing route
        assert res.rc != 0 and res.task_results("Read the stable service's route"), res.failures()
        assert res.task_results('Take the service\'s canary lock')[0]['took_over']['pid'] == other.pid
        assert time.monotonic() - started < 60, 'no waiting for the lock to go stale'
        assert node('test', '-e', lock).returncode != 0                   # and released at the end
        # a lock of a run on another controller: refused, unless broken on purpose
        elsewhere = {'id': 'elsewhere/boot:42:1', 'controller': 'elsewhere/boot', 'pid': 42, 'label': 'canary of cnlock'}
        assert put_lock(lock, elsewhere).returncode == 0
        res = release(run_playbook, canary_service='cnlock')
        assert res.rc != 0 and any('on another controller' in f and 'break_lock=true' in f for f in res.failures())
        res = release(run_playbook, canary_service='cnlock', canary_break_lock=True)
        assert res.rc != 0 and res.task_results("Read the stable service's route"), res.failures()
        assert node('test', '-e', lock).returncode != 0
    finally:
        other.kill()
        other.wait()
        node('rm', '-f', lock)

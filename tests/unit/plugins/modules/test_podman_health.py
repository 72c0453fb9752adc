# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the podman_health module: arguments, check mode, verdicts and failure output.

podman and systemctl are answered from output captured on the hlnode test node; the polling loop itself is
tested in tests/unit/plugins/module_utils/test_podman.py and on the node by tests/integration/targets/podman_health.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.homelab.deploy.plugins.module_utils import _podman as podman
from ansible_collections.homelab.deploy.plugins.modules import podman_health

# podman container inspect of hl-web (healthy) and hl-web:broken (unhealthy), trimmed to one health log entry;
# the PODMAN_SYSTEMD_UNIT label is what a quadlet-started container carries.
INSPECT = {
    'web': '{"Id":"a917335c813cbb8a96208bb4605540e058a35a4c6401618d0e9cd4824bb46bae","Name":"web","State":{"Status":'
           '"running","Running":true,"ExitCode":0,"StartedAt":"2026-11-27T00:27:27.157183022Z","Health":{"Status":'
           '"healthy","FailingStreak":0,"Log":[{"Start":"2026-11-27T00:27:39.145155909Z","End":"2026-11-27T00:27:39.'
           '207969615Z","ExitCode":0,"Output":""}]}},"Config":{"Labels":{"PODMAN_SYSTEMD_UNIT":"web.service"},'
           '"Healthcheck":{"Test":["CMD","/bin/hl-web","health"],"StartPeriod":1000000000,"Interval":5000000000,'
           '"Timeout":3000000000,"Retries":2}}}',
    'broken': '{"Id":"d5a42b7b35ba852de42be9bb07d49262561b4fd93d34adaf4c0ca58a5c417e79","Name":"broken","State":'
              '{"Status":"running","Running":true,"ExitCode":0,"StartedAt":"2026-11-27T00:27:27.31174529Z","Health":'
              '{"Status":"unhealthy","FailingStreak":2,"Log":[{"Start":"2026-11-27T00:27:39.134578286Z","End":'
              '"2026-11-27T00:27:39.193613867Z","ExitCode":1,"Output":"wget: server returned error: HTTP/1.1 404 '
              'Not Found\\n"}]}},"Config":{"Labels":{"PODMAN_SYSTEMD_UNIT":"broken.service"},"Healthcheck":{"Test":'
              '["CMD","/bin/hl-web","health"],"StartPeriod":1000000000,"Interval":5000000000,"Timeout":3000000000,'
              '"Retries":2}}}',
}


class Node(object):
    """podman container inspect / systemctl show / podman healthcheck run, from the captured output."""

    def __init__(self):
        self.calls = []

    def run_command(self, argv, **kwargs):
        self.calls.append(list(argv))
        if argv[0] == 'runuser':  # root acting for a rootless user: runuser -u USER -- env VAR=... CMD
            argv = [a for a in argv[argv.index('env') + 1:] if '=' not in a]
            argv = [a for a in argv if a != '--user']
        if argv[:3] == ['podman', 'container', 'inspect']:
            found = [json.loads(INSPECT[n]) for n in argv[4:] if n in INSPECT]
            return (0 if len(found) == len(argv) - 4 else 125), json.dumps(found), ''
        if argv[0] == 'systemctl' and 'show' in argv:
            units = argv[argv.index('--') + 1:]
            return 0, '\n\n'.join('Id=%s\nLoadState=loaded\nActiveState=active\nSubState=running\nNRestarts=0\n'
                                  'Result=success' % u for u in units), ''
        return 0, '', ''


@pytest.fixture
def node(monkeypatch):
    fake = Node()
    monkeypatch.setattr(basic.AnsibleModule, 'run_command', lambda self, argv, **kw: fake.run_command(argv, **kw))
    monkeypatch.setattr(podman.os, 'geteuid', lambda: 0)
    return fake


def run(capsys, args, check=False):
    with patch_module_args(dict(args, _ansible_check_mode=check)):
        with pytest.raises(SystemExit):
            podman_health.main()
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize('args, fragment', [
    ({'names': ['web'], 'scope': 'user'}, 'scope is user but all of the following are missing: user'),
    ({'names': ['web', 'broken'], 'probes': [{'url': 'http://x/'}]}, 'must name one of names'),
    ({'names': ['web'], 'probes': [{'name': 'other', 'url': 'http://x/'}]}, 'must name one of names (web)'),
    ({'names': ['web'], 'probes': [{'name': 'web'}]}, 'missing required arguments: url'),
    ({'names': ['web'], 'scope': 'user', 'user': 'no-such-user-here'}, 'user no-such-user-here does not exist'),
])
def test_argument_checks(capsys, node, args, fragment):
    result = run(capsys, args)
    assert result['failed'] and fragment in result['msg'], result['msg']
    assert node.calls == []


def test_healthy_targets_pass_with_evidence(capsys, node):
    result = run(capsys, {'names': ['web', 'web.service'], 'timeout': 0, 'run_healthchecks': False})
    assert not result.get('failed') and not result['changed']
    assert result['healthy'] and result['unhealthy'] == []
    web = result['results'][0]
    assert web['status'] == 'healthy' and web['unit']['name'] == 'web.service' and web['container']['id'] == 'a917335c813c'
    inspects = [c for c in node.calls if c[:3] == ['podman', 'container', 'inspect']]
    assert inspects == [['podman', 'container', 'inspect', '--', 'web']]


def test_an_unhealthy_target_fails_unless_report_only(capsys, node):
    failed = run(capsys, {'names': ['web', 'broken'], 'timeout': 0})
    assert failed['failed'] and failed['msg'].startswith('not healthy: broken: unhealthy (healthcheck reports unhealthy')
    assert failed['unhealthy'] == ['broken'] and failed['results'][1]['container']['health_log'][0]['exit_code'] == 1
    assert ['podman', 'healthcheck', 'run', 'web'] in node.calls
    reported = run(capsys, {'names': ['web', 'broken'], 'timeout': 0, 'fail_on_unhealthy': False})
    assert not reported.get('failed') and not reported['healthy'] and reported['unhealthy'] == ['broken']


def test_check_mode_only_looks(capsys, node):
    result = run(capsys, {'names': ['web', 'broken', 'gone'], 'timeout': 600}, check=True)
    assert [r['status'] for r in result['results']] == ['healthy', 'unhealthy', 'starting']
    assert result['results'][2]['reason'] == 'container not found'
    assert not [c for c in node.calls if 'healthcheck' in c]
    assert result['elapsed'] < 5


def test_a_missing_container_times_out(capsys, node):
    result = run(capsys, {'names': ['gone'], 'timeout': 0, 'fail_on_unhealthy': False})
    assert result['results'][0]['status'] == 'timeout' and result['results'][0]['container'] is None


def test_user_scope_runs_as_the_user(capsys, node, monkeypatch):
    class PW(object):
        pw_uid, pw_gid, pw_dir = 1000, 1000, '/home/hl'
    monkeypatch.setattr(podman.pwd, 'getpwnam', lambda name: PW())
    result = run(capsys, {'names': ['web'], 'timeout': 0, 'scope': 'user', 'user': 'hl', 'run_healthchecks': False})
    assert all(call[:5] == ['runuser', '-u', 'hl', '--', 'env'] for call in node.calls)
    assert 'XDG_RUNTIME_DIR=/run/user/1000' in node.calls[0]
    assert [c[c.index('systemctl'):c.index('systemctl') + 3] for c in node.calls if 'systemctl' in c] == [
        ['systemctl', '--user', 'show']]
    assert result['healthy'] and result['results'][0]['unit']['name'] == 'web.service'

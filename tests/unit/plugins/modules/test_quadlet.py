# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the quadlet module: decisions (write, start, restart), check/diff mode, rollback and absent.

The host is simulated: unit directories live under tmp_path, and systemctl, podman and the quadlet
generator are answered by FakeHost below. tests/integration/targets/quadlet runs the same paths on
the real node.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.homelab.deploy.plugins.module_utils import _podman as podman
from ansible_collections.homelab.deploy.plugins.modules import quadlet as quadlet_module

WEB = {'Container': {'Image': 'localhost/hl-web:latest', 'ContainerName': 'web', 'Environment': ['HL_WEB_VERSION=1']}}


class FakeHost(object):
    """systemctl, podman and quadlet as seen by the module, with services that start and stop."""

    def __init__(self, root):
        self.root = root
        self.services = {}            # service -> ActiveState
        self.images = {'localhost/hl-web:latest'}
        self.objects = set()          # ('volume', name) ...
        self.calls = []
        self.fail_on = {}             # systemctl verb -> (rc, stderr)
        self.secrets = {}

    def run_command(self, argv, data=None, environ_update=None, cwd=None, binary_data=False, check_rc=False):
        self.calls.append(list(argv))
        if argv[:2] == ['podman', 'secret']:
            if argv[2] == 'exists':
                return (0 if argv[3] in self.secrets else 1), '', ''
            return self.secret(argv[2], argv[-1] if argv[-1] != '-' else argv[-2], data, binary_data)
        if argv[0].endswith('quadlet'):
            return self.generate((environ_update or {})['QUADLET_UNIT_DIRS'].split(':'))
        if argv[0] == 'systemctl':
            return self.systemctl([a for a in argv[1:] if a not in ('--', '--user')])
        if argv[:3] == ['podman', 'image', 'exists']:
            return (0 if argv[3] in self.images else 1), '', ''
        if argv[0] == 'podman' and argv[2] == 'exists':
            return (0 if (argv[1], argv[3]) in self.objects else 1), '', ''
        if argv[0] == 'podman' and argv[2] == 'rm':
            self.objects.discard((argv[1], argv[-1]))
            return 0, '', ''
        return 0, '', ''

    def secret(self, verb, name, data, binary_data):
        if verb == 'inspect':
            if name not in self.secrets:
                return 125, '[]', 'Error: inspecting secret: no such secret'
            return 0, json.dumps([{'Spec': {'Name': name}, 'SecretData': self.secrets[name]}]), ''
        if verb == 'create':
            assert binary_data, 'a secret must be passed without an added newline'
            self.secrets[name] = data
        if verb == 'rm':
            self.secrets.pop(name, None)
        return 0, '', ''

    def systemctl(self, args):
        verb = args[0]
        if verb in self.fail_on:
            rc, err = self.fail_on[verb]
            return rc, '', err
        if verb == 'show':
            units = args[3:]
            return 0, '\n\n'.join('Id=%s\nLoadState=loaded\nActiveState=%s\nSubState=running\nNRestarts=0'
                                  % (u, self.services.get(u, 'inactive')) for u in units), ''
        if verb in ('start', 'restart'):
            self.services[args[1]] = 'active'
        if verb == 'stop':
            self.services[args[1]] = 'inactive'
        if verb == 'status':
            return 3, 'x %s\n     Active: failed' % args[-1], ''
        return 0, '', ''

    def generate(self, dirs):
        """A stand-in for quadlet -dryrun: one service per .container/.volume file of the first directory."""
        out, err = [], []
        staging = dirs[0]
        for name in sorted(os.listdir(staging)):
            path = os.path.join(staging, name)
            if not os.path.isfile(path):
                continue
            with open(path) as handle:
                text = handle.read()
            if 'Bogus=' in text:
                err.append('quadlet-generator[7]: converting "%s": unsupported key \'Bogus\' in group \'Container\' in %s'
                           % (name, path))
                continue
            base, ext = name.rsplit('.', 1)
            service = base + ('' if ext == 'container' else '-' + ext) + '.service'
            out.append('---%s---\n[Unit]\nSourcePath=%s\n\n[Service]\nExecStart=/usr/bin/podman run %s\n'
                       % (service, path, ' '.join(line for line in text.splitlines() if line.startswith('Environment'))))
        return (1 if err else 0), '\n'.join(out), '\n'.join(err)

    def verbs(self):
        return [c[1] for c in self.calls if c[0] == 'systemctl' and c[1] not in ('show', 'status')]


@pytest.fixture
def host(tmp_path, monkeypatch):
    fake = FakeHost(str(tmp_path))
    unit_dir = tmp_path / 'etc'
    unit_dir.mkdir()
    generator = tmp_path / 'quadlet'
    generator.write_text('')
    generator.chmod(0o755)

    class Scope(podman.Scope):
        def __init__(self, scope, user=None, **kwargs):
            super(Scope, self).__init__(scope, user, euid=0, getpwnam=lambda n: None)

        def unit_dir(self):
            return str(unit_dir)

        def search_dirs(self):
            return [str(tmp_path / 'run'), str(unit_dir)]

        def backup_dir(self):
            return str(tmp_path / 'backups')

        def lock_path(self):
            return str(tmp_path / 'lock')

    monkeypatch.setattr(quadlet_module.podman, 'Scope', Scope)
    monkeypatch.setattr(podman, 'QUADLET_BINARIES', (str(generator),))
    monkeypatch.setattr(quadlet_module, 'START_SETTLE_SECONDS', 0)
    monkeypatch.setattr(basic.AnsibleModule, 'run_command', lambda self, argv, **kw: fake.run_command(argv, **kw))
    monkeypatch.setattr(basic.AnsibleModule, 'get_bin_path', lambda self, name, *a, **kw: None)
    fake.unit_dir = str(unit_dir)
    return fake


def run(capsys, args, check=False, diff=True):
    with patch_module_args(dict(args, _ansible_check_mode=check, _ansible_diff=diff, _ansible_tmpdir=None)):
        with pytest.raises(SystemExit):
            quadlet_module.main()
    return json.loads(capsys.readouterr().out)


def unit_text(host, name='web.container'):
    path = os.path.join(host.unit_dir, name)
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return handle.read()


# -- arguments ------------------------------------------------------------------------

@pytest.mark.parametrize('args, fragment', [
    ({'name': 'web', 'type': 'container', 'sections': WEB, 'content': 'x'}, 'mutually exclusive: sections|content'),
    ({'name': 'web', 'type': 'container'}, 'state is present but any of the following are missing: sections, content'),
    ({'name': 'web', 'sections': WEB}, 'cannot tell the unit type'),
    ({'name': 'web.volume', 'type': 'container', 'sections': WEB}, 'has the suffix .volume but type is container'),
    ({'name': '../web', 'type': 'container', 'sections': WEB}, 'invalid unit name'),
    ({'name': 'web.container', 'sections': WEB, 'scope': 'user'}, 'scope is user but all of the following are missing: user'),
    ({'name': 'web.container', 'sections': {'Container': 'Image=x'}}, 'sections.Container must be a mapping'),
    ({'name': 'web.container', 'sections': WEB, 'secrets': {'{{ q }}-pw': 'x'}}, "invalid secret name(s) '{{ q }}-pw'"),
])
def test_invalid_arguments_change_nothing(capsys, host, args, fragment):
    result = run(capsys, args)
    assert result['failed'] and fragment in result['msg'], result['msg']
    assert unit_text(host) is None and host.verbs() == []


# -- present ------------------------------------------------------------------------------

def test_create_check_then_real_then_idempotent(capsys, host):
    args = {'name': 'web.container', 'sections': WEB, 'enabled': True}
    checked = run(capsys, args, check=True)
    assert checked['changed'] and checked['started'] and not checked['restarted']
    assert unit_text(host) is None and host.verbs() == []
    assert 'WantedBy=multi-user.target' in checked['diff']['after'] and checked['diff']['before'] == ''

    applied = run(capsys, args)
    assert applied['changed'] and applied['started'] and applied['service_name'] == 'web.service'
    assert unit_text(host) == applied['diff']['after'] == checked['diff']['after']
    assert host.verbs() == ['daemon-reload', 'start']
    assert applied['backup_path'] is None and applied['enabled'] is True

    again = run(capsys, args)
    assert not again['changed'] and host.verbs() == ['daemon-reload', 'start']
    assert not run(capsys, args, check=True)['changed']


def test_comment_only_edit_writes_without_restart(capsys, host):
    text = '[Container]\nImage=localhost/hl-web:latest\n'
    run(capsys, {'name': 'web.container', 'content': text})
    result = run(capsys, {'name': 'web.container', 'content': '# why this unit exists\n' + text.replace('=', ' = ')})
    assert result['changed'] and not result['restarted'] and not result['started']
    assert host.verbs() == ['daemon-reload', 'start', 'daemon-reload']
    with open(result['backup_path']) as handle:
        assert handle.read() == text


def test_effective_edit_restarts(capsys, host):
    run(capsys, {'name': 'web.container', 'sections': WEB})
    edited = {'Container': dict(WEB['Container'], Environment=['HL_WEB_VERSION=2'])}
    checked = run(capsys, {'name': 'web.container', 'sections': edited}, check=True)
    assert checked['restarted'] and 'HL_WEB_VERSION=1' in checked['diff']['before']
    result = run(capsys, {'name': 'web.container', 'sections': edited})
    assert result['changed'] and result['restarted']
    assert host.verbs()[-2:] == ['daemon-reload', 'restart']


@pytest.mark.parametrize('first, verb', [(True, 'start'), (False, 'restart')])
def test_no_block_queues_the_job_and_does_not_wait(capsys, host, first, verb):
    """Stacks start every unit of a phase this way, then wait for them together."""
    if not first:
        run(capsys, {'name': 'web.container', 'sections': WEB})
    edited = {'Container': dict(WEB['Container'], Environment=['HL_WEB_VERSION=2'])}
    result = run(capsys, {'name': 'web.container', 'sections': edited, 'no_block': True})
    assert result['changed'] and result[verb + 'ed' if verb == 'restart' else 'started']
    assert [c for c in host.calls if c[:2] == ['systemctl', verb]][-1] == ['systemctl', verb, '--no-block', '--', 'web.service']


def test_no_block_and_wait_healthy_exclude_each_other(capsys, host):
    result = run(capsys, {'name': 'web.container', 'sections': WEB, 'no_block': True, 'wait_healthy': True})
    assert result['failed'] and 'mutually exclusive: wait_healthy|no_block' in result['msg']
    assert unit_text(host) is None


def test_a_stopped_unit_is_started_without_rewriting(capsys, host):
    run(capsys, {'name': 'web.container', 'sections': WEB})
    host.services['web.service'] = 'failed'
    result = run(capsys, {'name': 'web.container', 'sections': WEB})
    assert result['changed'] and result['started'] and 'diff' in result
    assert host.verbs()[-1] == 'start' and host.verbs().count('daemon-reload') == 1


@pytest.mark.parametrize('enabled, sections, expect', [
    (True, WEB, 'WantedBy=multi-user.target'),
    (True, dict(WEB, Install={'RequiredBy': 'x.target'}), 'RequiredBy=x.target'),
    (False, dict(WEB, Install={'WantedBy': 'x.target'}), None),
    (None, WEB, None),
])
def test_enabled_is_the_install_section(capsys, host, enabled, sections, expect):
    args = {'name': 'web.container', 'sections': sections}
    if enabled is not None:
        args['enabled'] = enabled
    result = run(capsys, args, check=True)
    assert ('[Install]' in result['diff']['after']) is (expect is not None)
    assert expect is None or expect in result['diff']['after']
    assert result['enabled'] is (expect is not None)


def test_enabled_false_refuses_content_with_install(capsys, host):
    result = run(capsys, {'name': 'web.container', 'enabled': False,
                          'content': '[Container]\nImage=x\n[Install]\nWantedBy=default.target\n'})
    assert result['failed'] and 'remove it from content' in result['msg']


def test_enabled_true_appends_install_to_content(capsys, host):
    result = run(capsys, {'name': 'web.container', 'enabled': True, 'content': '[Container]\nImage=x\n'}, check=True)
    assert result['diff']['after'].endswith('\n[Install]\nWantedBy=multi-user.target\n')


@pytest.mark.parametrize('args, fragment', [
    ({'sections': dict(WEB, Container=dict(WEB['Container'], Bogus='1'))},
     "unsupported key 'Bogus' in group 'Container' in web.container"),
    ({'sections': dict(WEB, Contianer={'Image': 'x'})}, 'unknown section [Contianer]'),
    ({'sections': {'Container': {'Image': 'localhost/hl-nope:latest'}}}, 'localhost/hl-nope:latest is not present'),
    ({'sections': {'Container': {'Image': 'docker.io/x/y:1', 'Pull': 'never'}}}, '(Pull=never)'),
    ({'sections': {'Container': {'Image': 'x', 'Environment': 'A\nB'}}}, 'value contains a newline'),
    ({'sections': {'Container': {'Image': 'x', 'Environment': 'A=1\x00[Service]'}}}, 'contains the control character'),
    ({'content': '[Container]\nImage=x\nEnvironment=A=1\x00\n[Service]\nExecStartPre=/bin/sh -c id\n'},
     'web.container: line 3 contains the control character'),
    ({'sections': {'Container': {'Image': 'x', 'Secret': 'db-pass,type=env,target=PW'}}},
     'uses podman secret(s) db-pass, which do not exist in the system scope'),
])
def test_rejected_units_leave_the_running_one_alone(capsys, host, args, fragment):
    run(capsys, {'name': 'web.container', 'sections': WEB})
    before = unit_text(host)
    result = run(capsys, dict(args, name='web.container'))
    assert result['failed'] and fragment in result['msg'], result['msg']
    assert unit_text(host) == before
    assert host.verbs() == ['daemon-reload', 'start']


def test_shadowed_units_are_refused(capsys, host, tmp_path):
    (tmp_path / 'run').mkdir()
    (tmp_path / 'run' / 'web.container').write_text('[Container]\nImage=x\n')
    result = run(capsys, {'name': 'web.container', 'sections': WEB})
    assert result['failed'] and 'shadowed by' in result['msg']


def test_credentials_are_masked_and_warned_about(capsys, host):
    sections = {'Container': {'Image': 'localhost/hl-web:latest', 'Environment': ['DB_PASSWORD=hunter2', 'MODE=prod']}}
    result = run(capsys, {'name': 'web.container', 'sections': sections})
    result.pop('invocation')  # the task's own arguments: documented, use secrets (or no_log on the task)
    assert 'hunter2' not in json.dumps(result)
    assert 'DB_PASSWORD=' + podman.MASK in result['validation']['generated']
    assert 'DB_PASSWORD=' + podman.MASK in result['diff']['after']
    assert any('DB_PASSWORD' in json.dumps(w) and 'Secret=' in json.dumps(w) for w in result['warnings'])
    assert 'hunter2' in unit_text(host)


# -- rollback -------------------------------------------------------------------------------

def test_a_failed_start_of_a_new_unit_removes_it(capsys, host):
    host.fail_on['start'] = (1, 'Job for web.service failed because the control process exited with error code.')
    result = run(capsys, {'name': 'web.container', 'sections': WEB})
    assert result['failed'] and 'Job for web.service failed' in result['msg']
    assert result['rollback'] == {'file': 'removed', 'service': 'stopped', 'errors': [], 'ok': True}
    assert result['rc'] == 1 and 'Active: failed' in result['status']
    assert unit_text(host) is None
    assert host.verbs() == ['daemon-reload', 'start', 'stop', 'daemon-reload', 'reset-failed']


def test_a_failed_restart_restores_and_restarts_the_previous_unit(capsys, host):
    run(capsys, {'name': 'web.container', 'sections': WEB})
    before = unit_text(host)
    host.fail_on['restart'] = (1, 'boom')
    edited = {'Container': dict(WEB['Container'], Environment=['HL_WEB_VERSION=2'])}
    result = run(capsys, {'name': 'web.container', 'sections': edited})
    assert result['failed'] and result['rollback']['file'] == 'restored'
    assert result['rollback']['service'] == 'restarted' and not result['rollback']['ok']  # restart still fails here
    assert unit_text(host) == before
    with open(result['backup_path']) as handle:
        assert handle.read() == before


def test_a_unit_dead_right_after_start_is_rolled_back(capsys, host, monkeypatch):
    original = host.systemctl

    def dies(args):
        rc, out, err = original(args)
        if args[0] == 'start':
            host.services[args[1]] = 'failed'
        return rc, out, err
    monkeypatch.setattr(host, 'systemctl', dies)
    result = run(capsys, {'name': 'web.container', 'sections': WEB})
    assert result['failed'] and 'is failed/running right after it was started' in result['msg']
    assert unit_text(host) is None


# -- absent ---------------------------------------------------------------------------------------

def test_absent_keeps_the_backup_and_is_idempotent(capsys, host):
    run(capsys, {'name': 'web.container', 'sections': WEB})
    text = unit_text(host)
    checked = run(capsys, {'name': 'web.container', 'state': 'absent'}, check=True)
    assert checked['changed'] and checked['diff'] == dict(checked['diff'], before=text, after='')
    assert unit_text(host) == text
    removed = run(capsys, {'name': 'web.container', 'state': 'absent'})
    assert removed['changed'] and unit_text(host) is None
    with open(removed['backup_path']) as handle:
        assert handle.read() == text
    assert host.verbs()[-3:] == ['stop', 'daemon-reload', 'reset-failed']
    assert not run(capsys, {'name': 'web.container', 'state': 'absent'})['changed']


def test_purge_removes_the_volume_named_in_the_last_known_good_copy(capsys, host):
    run(capsys, {'name': 'data.volume', 'sections': {'Volume': {'VolumeName': 'appdata'}}})
    host.objects.add(('volume', 'appdata'))
    kept = run(capsys, {'name': 'data.volume', 'state': 'absent'})
    assert kept['changed'] and ('volume', 'appdata') in host.objects
    assert run(capsys, {'name': 'data.volume', 'state': 'absent', 'purge': True}, check=True)['changed']
    purged = run(capsys, {'name': 'data.volume', 'state': 'absent', 'purge': True})
    assert purged['purged'] == 'volume/appdata' and ('volume', 'appdata') not in host.objects
    assert not run(capsys, {'name': 'data.volume', 'state': 'absent', 'purge': True})['changed']


# -- secrets --------------------------------------------------------------------------------------

def test_secrets_are_created_compared_and_never_shown(capsys, host):
    sections = {'Container': dict(WEB['Container'], Secret=['db-pass,type=env,target=PW', 'api-token', 'other'])}
    host.secrets['other'] = 'made elsewhere'
    args = {'name': 'web.container', 'sections': sections, 'secrets': {'db-pass': 'hunter2', 'api-token': 12345}}
    checked = run(capsys, args, check=True)
    assert checked['secrets_changed'] == ['api-token', 'db-pass'] and host.secrets == {'other': 'made elsewhere'}
    created = run(capsys, args)
    assert host.secrets == {'db-pass': 'hunter2', 'api-token': '12345', 'other': 'made elsewhere'}
    assert created['secrets_changed'] == ['api-token', 'db-pass'] and created['started']
    assert 'hunter2' not in json.dumps(created)
    again = run(capsys, args)
    assert not again['changed'] and again['secrets_changed'] == []


def test_a_changed_secret_restarts_and_a_failed_restart_restores_it(capsys, host):
    run(capsys, {'name': 'web.container', 'sections': WEB, 'secrets': {'db-pass': 'old'}})
    rotated = run(capsys, {'name': 'web.container', 'sections': WEB, 'secrets': {'db-pass': 'new'}})
    assert rotated['changed'] and rotated['restarted'] and rotated['secrets_changed'] == ['db-pass']
    assert 'diff' in rotated and rotated['diff']['before'] == rotated['diff']['after']
    host.fail_on['restart'] = (1, 'boom')
    failed = run(capsys, {'name': 'web.container', 'sections': WEB, 'secrets': {'db-pass': 'newer', 'extra': 'x'}})
    assert failed['failed'] and host.secrets == {'db-pass': 'new'}

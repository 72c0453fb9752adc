# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the quadlet_apply module: a set of units as one transaction on a simulated host.

FakeHost answers systemctl, podman and the quadlet generator: services that start, stop and restart, load
the unit file at daemon-reload (NeedDaemonReload when the file changed since), containers with a health
status, podman secrets and images. tests/integration/targets/quadlet_apply runs the same paths on the node.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re

import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.homelab.deploy.plugins.module_utils import _podman as podman
from ansible_collections.homelab.deploy.plugins.module_utils import _txn as txn
from ansible_collections.homelab.deploy.plugins.modules import quadlet_apply

DIGEST = 'sha256:' + 'cd' * 32
NET = {'name': 'demo.network', 'content': '[Network]\n'}
DB = {'name': 'demo-db.container', 'phase': 1,
      'content': '[Container]\nImage=localhost/db:1\nContainerName=demo-db\nNetwork=demo.network\n'
                 'Secret=demo-pw,type=env,target=DB_PASSWORD\n'}
WEB_TEXT = ('[Unit]\nRequires=demo-db.service\nAfter=demo-db.service\n[Container]\nImage=localhost/web:1\n'
            'ContainerName=demo-web\nNetwork=demo.network\nEnvironment=V=%s\n')


def web(version='1', **kwargs):
    return dict({'name': 'demo-web.container', 'phase': 2, 'content': WEB_TEXT % version}, **kwargs)


class Killed(BaseException):
    """Stands for SIGKILL: nothing in the module catches it, so the journal stays behind."""


class FakeHost(object):
    """systemd, podman and the quadlet generator as the module sees them."""

    def __init__(self, root):
        self.root = root
        self.unit_dir = os.path.join(root, 'etc')
        self.services = {}      # service -> {'state', 'inv'}
        self.loaded = {}        # service -> unit text systemd loaded at the last daemon-reload
        self.unhealthy = set()  # text in a loaded unit that makes its container's healthcheck fail
        self.images = {'localhost/db:1': DIGEST, 'localhost/web:1': DIGEST, 'localhost/web:2': DIGEST}
        self.secrets = {}
        self.healthchecks = {}  # image -> its HEALTHCHECK test
        self.registry = set()   # images a pull finds
        self.registry_ids = {}  # image -> the image id a pull gets (default id-<image>)
        self.image_ids = {}     # image -> the image id the tag names on the host (default id-<image>)
        self.running_image = {}  # service -> the image id its container was started from
        self.objects = set()
        self.masked = set()     # services masked by their owner (systemctl mask)
        self.exec_rc = 0
        self.calls = []
        self.invocations = 0

    # -- dispatch ----------------------------------------------------------------------------

    def run_command(self, argv, data=None, environ_update=None, cwd=None, binary_data=False, check_rc=False):
        self.calls.append(list(argv))
        if argv[0].endswith('quadlet'):
            return self.generate((environ_update or {})['QUADLET_UNIT_DIRS'].split(':'))
        if argv[0] == 'systemctl':
            return self.systemctl([a for a in argv[1:] if a not in ('--', '--user', '--no-block')])
        return self.podman(argv[1:], data)

    def podman(self, args, data):
        if args[0] == 'secret':
            return self.secret(args[1], args[-2] if args[-1] == '-' else args[-1], data)
        if args[:2] == ['image', 'exists']:
            return (0 if args[2] in self.images or '@' in args[2] else 1), '', ''
        if args[:2] == ['image', 'inspect']:  # like podman: the images it has, an error for the others
            names = [a for a in args[2:] if a != '--']
            found = [dict({'Digest': self.images[n], 'Id': self.image_ids.get(n, 'id-' + n)},
                          **({'Config': {'Healthcheck': {'Test': self.healthchecks[n]}}} if n in self.healthchecks else {}))
                     for n in names if n in self.images]
            return (0 if len(found) == len(names) else 125), json.dumps(found), ''
        if args[0] == 'pull':
            if args[-1] not in self.registry:
                return 125, '', 'Error: initializing source docker://%s: manifest unknown' % args[-1]
            self.images[args[-1]] = DIGEST
            self.image_ids[args[-1]] = self.registry_ids.get(args[-1], 'id-' + args[-1])
            return 0, DIGEST, ''
        if args[0] == 'tag':
            self.image_ids[args[2]] = args[1]
            return 0, '', ''
        if args[:2] == ['container', 'inspect']:
            return 0, json.dumps([self.inspect(n) for n in args[3:] if self.container_running(n)]), ''
        if args[0] == 'exec':
            return self.exec_rc, 'PONG' if self.exec_rc == 0 else '', '' if self.exec_rc == 0 else 'down'
        if args[0] in ('volume', 'network', 'container') and args[1] == 'exists':
            return (0 if (args[0], args[2]) in self.objects else 1), '', ''
        if args[0] in ('volume', 'network', 'container') and args[1] == 'rm':
            self.objects.discard((args[0], args[-1]))
        if args[0] == 'logs':
            return 0, 'log line DB_PASSWORD=%s' % self.secrets.get('demo-pw'), ''
        return 0, '', ''

    def secret(self, verb, name, data):
        if verb == 'inspect':
            if name not in self.secrets:
                return 125, '[]', 'no such secret'
            return 0, json.dumps([{'SecretData': self.secrets[name]}]), ''
        if verb == 'exists':
            return (0 if name in self.secrets else 1), '', ''
        if verb == 'create':
            self.secrets[name] = data
        if verb == 'rm':
            self.secrets.pop(name, None)
        return 0, '', ''

    # -- systemd ------------------------------------------------------------------------------

    def systemctl(self, args):
        verb, units = args[0], args[1:]
        if verb == 'show':
            return 0, '\n\n'.join(self.show(u, args[2].split(',')) for u in args[3:]), ''
        if verb == 'daemon-reload':
            self.loaded = dict((self.service_of(f), self.read(f)) for f in os.listdir(self.unit_dir))
        for unit in units if verb in ('start', 'restart', 'stop') else ():
            self.transition(verb, unit)
        if verb == 'status':
            return 3, 'x %s\n     Active: failed' % units[-1], ''
        return 0, '', ''

    def transition(self, verb, unit):
        if verb == 'stop':
            self.services[unit] = {'state': 'inactive', 'inv': ''}
        elif verb == 'restart' or self.services.get(unit, {}).get('state') != 'active':
            self.invocations += 1
            self.services[unit] = {'state': 'active', 'inv': 'inv%d' % self.invocations}
            image = re.search(r'(?m)^Image=(\S+)', self.loaded.get(unit) or '')
            if image:
                self.running_image[unit] = self.image_ids.get(image.group(1), 'id-' + image.group(1))

    def show(self, unit, props):
        svc = self.services.get(unit, {'state': 'inactive', 'inv': ''})
        loaded = unit in self.loaded
        current = self.file_of(unit)
        values = {'Id': unit, 'LoadState': 'masked' if unit in self.masked else 'loaded' if loaded else 'not-found',
                  'ActiveState': svc['state'],
                  'SubState': 'running' if svc['state'] == 'active' else 'dead', 'Result': 'success',
                  'NeedDaemonReload': 'yes' if loaded and self.loaded[unit] != current else 'no',
                  'InvocationID': svc['inv'], 'Job': '', 'NRestarts': '0'}
        return '\n'.join('%s=%s' % (p, values.get(p, '')) for p in props)

    @staticmethod
    def service_of(filename):
        base, ext = filename.rsplit('.', 1)
        return base + ('' if ext == 'container' else '-' + ext) + '.service'

    def file_of(self, unit):
        for name in os.listdir(self.unit_dir):
            if self.service_of(name) == unit:
                return self.read(name)
        return None

    def read(self, name):
        path = os.path.join(self.unit_dir, name)
        if not os.path.exists(path):
            return None
        with open(path) as handle:
            return handle.read()

    # -- containers -----------------------------------------------------------------------------

    def container_service(self, name):
        for service, text in self.loaded.items():
            if text and 'ContainerName=%s\n' % name in text:
                return service
        return None

    def container_running(self, name):
        service = self.container_service(name)
        return service is not None and self.services.get(service, {}).get('state') == 'active'

    def inspect(self, name):
        text = self.loaded.get(self.container_service(name)) or ''
        bad = any(marker in text for marker in self.unhealthy) or (
            self.running_image.get(self.container_service(name)) in self.unhealthy)
        health = 'unhealthy' if bad else 'healthy'
        log = [{'ExitCode': 1, 'Output': 'health failed TOKEN=abc'}] if health == 'unhealthy' else []
        state = {'Status': 'running', 'Health': {'Status': health, 'FailingStreak': 3 if health == 'unhealthy' else 0,
                                                 'Log': log}}
        return {'Name': name, 'Id': 'id-' + name, 'Image': self.running_image.get(self.container_service(name)),
                'State': state, 'Config': {'Healthcheck': {'Test': ['CMD', 'true']},
                                           'Labels': {'PODMAN_SYSTEMD_UNIT': self.container_service(name)}}}

    # -- generator ------------------------------------------------------------------------------

    def generate(self, dirs):
        """quadlet -dryrun: a service per file of the staging dir; references must resolve in the search path."""
        out, err, staging = [], [], dirs[0]
        known = set(n for d in dirs if os.path.isdir(d) for n in os.listdir(d))
        for name in sorted(os.listdir(staging)) if os.path.isdir(staging) else ():
            path = os.path.join(staging, name)
            with open(path) as handle:
                text = handle.read()
            missing = [ref for ref in re.findall(r'^Network=(\S+\.network)$', text, re.M) if ref not in known]
            if missing:
                err.append('quadlet-generator[1]: converting "%s": requested Quadlet unit %s was not found' % (name, missing[0]))
                continue
            out.append('---%s---\n[Unit]\nSourcePath=%s\n[Service]\nExecStart=/usr/bin/podman run\n'
                       % (self.service_of(name), path))
        return (1 if err else 0), '\n'.join(out), '\n'.join(err)

    # -- what happened ----------------------------------------------------------------------------

    def verbs(self):
        """systemctl calls that change something, as 'verb unit...' strings."""
        return [' '.join(a for a in c[1:] if a not in ('--', '--no-block'))
                for c in self.calls if c[0] == 'systemctl' and c[1] not in ('show', 'status')
                and not (c[1] == '--no-block' and False)]

    def changes(self):
        return [v for v in self.verbs() if not v.startswith('reset-failed')]


@pytest.fixture
def host(tmp_path, monkeypatch):
    fake = FakeHost(str(tmp_path))
    os.mkdir(fake.unit_dir)
    generator = tmp_path / 'quadlet'
    generator.write_text('')
    generator.chmod(0o755)

    class Scope(podman.Scope):
        def __init__(self, scope, user=None, **kwargs):
            super(Scope, self).__init__(scope, user, euid=0, getpwnam=lambda n: None)

        def unit_dir(self):
            return fake.unit_dir

        def search_dirs(self):
            return [str(tmp_path / 'run'), fake.unit_dir]

        def state_dir(self):
            return str(tmp_path / 'state')

        def lock_path(self):
            return str(tmp_path / 'lock')

    monkeypatch.setattr(txn.podman, 'Scope', Scope)
    monkeypatch.setattr(podman, 'QUADLET_BINARIES', (str(generator),))
    monkeypatch.setattr(basic.AnsibleModule, 'run_command', lambda self, argv, **kw: fake.run_command(argv, **kw))
    monkeypatch.setattr(basic.AnsibleModule, 'get_bin_path', lambda self, name, *a, **kw: None)
    fake.txn_dir = str(tmp_path / 'state' / 'txn')
    return fake


def run(capsys, args, check=False, diff=True):
    args = dict({'name': 'demo', 'health_interval': 0.01}, **args)
    with patch_module_args(dict(args, _ansible_check_mode=check, _ansible_diff=diff, _ansible_tmpdir=None)):
        with pytest.raises(SystemExit):
            quadlet_apply.main()
    return json.loads(capsys.readouterr().out)


def apply_v1(capsys, host, **kwargs):
    result = run(capsys, dict({'units': [NET, DB, web('1')], 'secrets': {'demo-pw': 'first-password'}}, **kwargs))
    assert result['changed'] and not result.get('failed'), result.get('msg')
    del host.calls[:]
    return result


def journal_files(host):
    return sorted(os.listdir(host.txn_dir)) if os.path.isdir(host.txn_dir) else []


# -- arguments --------------------------------------------------------------------------------------

@pytest.mark.parametrize('args, fragment', [
    ({'name': 'Demo'}, 'invalid transaction name'),
    ({'units': [{'name': 'web'}]}, 'cannot tell the unit type'),
    ({'units': [{'name': 'web.container'}]}, 'content is required'),
    ({'units': [{'name': 'web.container', 'state': 'absent', 'restart': True}]}, 'restart only applies to state=present'),
    ({'units': [NET, NET]}, 'appear more than once'),
    ({'files': [{'path': 'etc/app.yml', 'content': 'x'}]}, 'files[0] (etc/app.yml): path must be an absolute'),
    ({'files': [{'path': '/etc/app.yml', 'content': 'x', 'mode': 'rw'}]}, 'mode must be octal'),
    ({'units': [NET], 'files': [{'path': '/etc/app.yml', 'content': 'x', 'restarts': ['demo-web.container']}]},
     'restarts names demo-web.container, not a present unit of this set'),
    ({'files': [{'path': '/etc/a.yml', 'content': 'x'}, {'path': '/etc/a.yml', 'content': 'y'}]}, 'appear more than once'),
    ({'units': [NET], 'revert': True}, 'give no units, routes or files with it'),
    ({'units': [NET], 'secrets': {'a b': 'x'}}, 'invalid secret name'),
    ({'verify': [{'name': 'x', 'command': ['true']}]}, 'give container'),
    ({'scope': 'user'}, 'scope is user but all of the following are missing: user'),
])
def test_invalid_arguments_change_nothing(capsys, host, args, fragment):
    result = run(capsys, args)
    assert result['failed'] and fragment in result['msg'], result['msg']
    assert os.listdir(host.unit_dir) == [] and host.verbs() == []


# -- check mode, apply, idempotence ------------------------------------------------------------------

def test_check_mode_plans_the_set_and_changes_nothing(capsys, host):
    result = run(capsys, {'units': [NET, DB, web()], 'secrets': {'demo-pw': 'first-password'}, 'pin_images': True},
                 check=True)
    assert result['changed'] and result['txn_id'] is None
    assert [(u['action'], u['service']) for u in (result['units'][n] for n in ('demo.network', 'demo-db.container',
                                                                               'demo-web.container'))] == [('write', 'start')] * 3
    assert [p['phase'] for p in result['phases']] == [0, 1, 2]
    assert result['images']['demo-web.container'] == 'localhost/web@' + DIGEST
    assert result['secrets_changed'] == ['demo-pw'] and 'first-password' not in json.dumps(result)
    assert os.listdir(host.unit_dir) == [] and host.verbs() == [] and host.secrets == {}
    assert journal_files(host) == []


def test_a_reference_to_a_sibling_resolves_only_when_the_sibling_is_in_the_set(capsys, host):
    refused = run(capsys, {'units': [DB]}, check=True)
    assert refused['failed'] and 'demo-db.container: converting' in refused['msg']
    assert 'demo.network was not found' in refused['msg'] and 'Nothing was changed' in refused['msg']
    assert refused['refused'] is True, 'the report can say no rollback was needed'
    assert not run(capsys, {'units': [NET, DB], 'secrets': {'demo-pw': 'x'}}, check=True).get('failed')


def test_apply_writes_reloads_once_and_starts_in_phase_order(capsys, host):
    result = run(capsys, {'units': [NET, DB, web()], 'secrets': {'demo-pw': 'first-password'}, 'pin_images': True})
    assert result['changed'] and not result.get('failed'), result.get('msg')
    assert host.changes() == ['daemon-reload', 'start demo-network.service', 'start demo-db.service',
                              'start demo-web.service']
    assert 'Image=localhost/web@%s\n' % DIGEST in host.read('demo-web.container')
    assert host.secrets == {'demo-pw': 'first-password'}
    assert result['units']['demo-web.container']['seconds_to_healthy'] is not None
    assert set(result['phases'][2]['healthy']) == {'demo-web'}
    assert set(result['seconds']) >= {'validate', 'write', 'reload', 'phase-0', 'phase-1', 'phase-2', 'total'}
    assert journal_files(host) == ['demo.last.json']
    assert stat_mode(os.path.join(host.txn_dir, 'demo.last.json')) == 0o600
    assert 'first-password' not in json.dumps(result)


def test_the_result_pins_every_running_image_by_digest_in_one_podman_call(capsys, host):
    result = run(capsys, {'units': [NET, DB, web()], 'secrets': {'demo-pw': 'first-password'}})
    assert result['digests'] == {'demo-db.container': 'localhost/db@' + DIGEST, 'demo-web.container': 'localhost/web@' + DIGEST}
    inspects = [c for c in host.calls if c[1:3] == ['image', 'inspect']]
    assert len(inspects) == 2 and inspects[0] == inspects[1], 'all images at once, before and after the starts'
    host.calls = []
    again = run(capsys, {'units': [NET, DB, web()], 'secrets': {'demo-pw': 'first-password'}})
    assert not again['changed'] and again['digests'] == result['digests'], 'a run without changes reports them too'
    assert len([c for c in host.calls if c[1:3] == ['image', 'inspect']]) == 1, 'one podman call without changes'
    del host.images['localhost/db:1']
    assert run(capsys, {'units': [NET, DB, web()], 'secrets': {'demo-pw': 'first-password'}})['digests'] == {
        'demo-web.container': 'localhost/web@' + DIGEST}, 'an image podman does not know is left out'
    assert run(capsys, {'units': [NET, DB, web('2')], 'secrets': {'demo-pw': 'first-password'}}, check=True)['digests'] == {}


def stat_mode(path):
    return os.stat(path).st_mode & 0o777


def test_second_run_changes_nothing_without_reload_or_restart(capsys, host):
    first = apply_v1(capsys, host)
    with open(os.path.join(host.txn_dir, 'demo.last.json')) as handle:
        last = handle.read()
    host.calls = []
    again = run(capsys, {'units': [NET, DB, web('1')], 'secrets': {'demo-pw': 'first-password'}})
    assert not again['changed'] and again['txn_id'] is None and host.changes() == []
    assert not [c for c in host.calls if c[0].endswith('quadlet')], 'files systemd loaded as they are need no dry run'
    assert 'validation' not in again
    assert set(u['service'] for u in again['units'].values()) == {'none'}
    assert again['diff']['before'] == again['diff']['after'] == ''
    with open(os.path.join(host.txn_dir, 'demo.last.json')) as handle:
        assert handle.read() == last, 'a run without changes keeps the rollback point'
    assert first['txn_id']


def test_only_changed_units_restart_and_a_changed_secret_restarts_its_users(capsys, host):
    apply_v1(capsys, host)
    result = run(capsys, {'units': [NET, DB, web('2')], 'secrets': {'demo-pw': 'second-password'}})
    assert host.changes() == ['daemon-reload', 'restart demo-db.service', 'restart demo-web.service']
    assert result['units']['demo-db.container'] == dict(result['units']['demo-db.container'], action='unchanged',
                                                        service='restart')
    assert result['secrets_changed'] == ['demo-pw']
    assert '# file: demo-web.container\n' in result['diff']['after'] and 'demo-db.container' not in result['diff']['after']
    assert 'password' not in json.dumps(result)


def test_comment_only_edit_is_written_without_restart(capsys, host):
    apply_v1(capsys, host)
    result = run(capsys, {'units': [NET, DB, web('1', content=WEB_TEXT % '1' + '# note\n')],
                          'secrets': {'demo-pw': 'first-password'}})
    assert result['changed'] and host.changes() == ['daemon-reload']
    assert result['units']['demo-web.container'] == dict(result['units']['demo-web.container'], action='write',
                                                         service='none')


def test_a_file_systemd_has_not_loaded_is_reloaded_and_restarted(capsys, host):
    apply_v1(capsys, host)
    with open(os.path.join(host.unit_dir, 'demo-web.container'), 'w') as handle:
        handle.write(WEB_TEXT % '1' + 'Label=x=1\n')  # written by a run killed before its daemon-reload
    host.calls = []
    result = run(capsys, {'units': [NET, DB, web('1', content=WEB_TEXT % '1' + 'Label=x=1\n')],
                          'secrets': {'demo-pw': 'first-password'}})
    assert result['units']['demo-web.container']['action'] == 'unchanged'
    assert [c for c in host.calls if c[0].endswith('quadlet')] and result['validation']['rc'] == 0, \
        'a file systemd has not loaded is validated again'
    assert host.changes() == ['daemon-reload', 'restart demo-web.service']


# -- refusals before any change ------------------------------------------------------------------------

def test_missing_local_image_is_refused_naming_it(capsys, host):
    unit = web(content=(WEB_TEXT % '1').replace('localhost/web:1', 'localhost/nope:1'))
    result = run(capsys, {'units': [NET, DB, unit], 'secrets': {'demo-pw': 'x'}, 'pin_images': True})
    assert result['failed'] and 'image localhost/nope:1 of demo-web.container is not present' in result['msg']
    assert os.listdir(host.unit_dir) == [] and host.verbs() == [] and journal_files(host) == []
    result = run(capsys, {'units': [NET, DB, unit], 'secrets': {'demo-pw': 'x'}})
    assert result['failed'] and result['missing_images'] == ['localhost/nope:1']


def test_secret_references_must_exist_or_be_given(capsys, host):
    result = run(capsys, {'units': [NET, DB]})
    assert result['failed'] and result['missing_secrets'] == ['demo-pw'] and os.listdir(host.unit_dir) == []


def test_unknown_section_is_refused(capsys, host):
    result = run(capsys, {'units': [{'name': 'demo.network', 'content': '[Network]\n[Netwrok]\n'}]})
    assert result['failed'] and 'unknown section [Netwrok]' in result['msg'] and os.listdir(host.unit_dir) == []


def test_lock_held_elsewhere_fails_without_change(capsys, host, monkeypatch):
    def busy(path, timeout, scope=None):
        raise podman.CommandError('could not take the lock %s within %ss: another run holds it' % (path, timeout))
    monkeypatch.setattr(txn.podman, 'host_lock', busy)
    result = run(capsys, {'units': [NET], 'lock_timeout': 1})
    assert result['failed'] and 'another run holds it. Nothing was changed.' in result['msg']
    assert os.listdir(host.unit_dir) == []


# -- rollback -------------------------------------------------------------------------------------------

def test_a_phase_that_never_gets_healthy_rolls_the_whole_set_back(capsys, host):
    apply_v1(capsys, host)
    before = dict((n, host.read(n)) for n in os.listdir(host.unit_dir))
    host.unhealthy.add('V=2')
    new = {'name': 'demo-cache.container', 'phase': 1, 'content': '[Container]\nImage=localhost/db:1\nContainerName=demo-cache\n'}
    result = run(capsys, {'units': [NET, DB, new, web('2')], 'secrets': {'demo-pw': 'second-password'}})
    assert result['failed'] and 'phase 2: demo-web.service did not become healthy' in result['msg']
    assert result['failure']['unit'] == 'demo-web.container' and result['failure']['check'] == 'health'
    assert result['failure']['evidence']['health_log'][0]['output'] == 'health failed TOKEN=' + podman.MASK
    rollback = result['rollback']
    assert rollback['ok'] and rollback['restored'] == ['demo-web.container'] and rollback['removed'] == ['demo-cache.container']
    assert rollback['stopped'] == ['demo-cache.service'] and rollback['secrets'] == ['demo-pw']
    assert rollback['restarted'] == ['demo-db.service', 'demo-web.service']
    assert dict((n, host.read(n)) for n in os.listdir(host.unit_dir)) == before
    assert host.secrets == {'demo-pw': 'first-password'}
    assert host.services['demo-cache.service']['state'] == 'inactive'
    assert journal_files(host) == ['demo.last.json']
    assert 'password' not in json.dumps(result), 'neither the new nor the previous secret value is shown'


def test_rollback_false_leaves_the_set_and_keeps_a_rollback_point(capsys, host):
    apply_v1(capsys, host)
    host.unhealthy.add('V=2')
    result = run(capsys, {'units': [NET, DB, web('2')], 'secrets': {'demo-pw': 'first-password'}, 'rollback': False})
    assert result['failed'] and 'rollback=false' in result['msg'] and 'rollback' not in result
    assert 'V=2' in host.read('demo-web.container')
    host.unhealthy.clear()
    reverted = run(capsys, {'revert': True})
    assert reverted['reverted'] and 'V=1' in host.read('demo-web.container')


def test_a_restored_unit_that_does_not_come_back_is_a_rollback_error(capsys, host):
    apply_v1(capsys, host)
    host.unhealthy.add('demo-web')  # both versions: the restored one fails too
    result = run(capsys, {'units': [NET, DB, web('2')], 'secrets': {'demo-pw': 'first-password'}})
    assert result['failed'] and not result['rollback']['ok']
    assert 'demo-web.service did not come back' in result['rollback']['errors'][0]
    assert 'WITH ERRORS' in result['msg'] and 'demo.json' in journal_files(host), 'the next run rolls back again'


def test_a_failed_verify_check_rolls_back(capsys, host):
    apply_v1(capsys, host)
    host.exec_rc = 1
    check = {'name': 'ping', 'container': 'demo-db', 'command': ['valkey-cli', 'ping'], 'retries': 2, 'delay': 0}
    result = run(capsys, {'units': [NET, DB, web('2')], 'secrets': {'demo-pw': 'first-password'}, 'verify': [check]})
    assert result['failed'] and result['failure']['check'] == 'verify ping'
    assert result['verify'] == [{'name': 'ping', 'ok': False, 'attempts': 2, 'error': 'exit code 1: down'}]
    assert result['rollback']['restored'] == ['demo-web.container'] and 'V=1' in host.read('demo-web.container')


# -- revert and verify only -------------------------------------------------------------------------------

def test_revert_restores_the_last_commit_once(capsys, host):
    apply_v1(capsys, host)
    run(capsys, {'units': [NET, DB, web('2')], 'secrets': {'demo-pw': 'second-password'}})
    del host.calls[:]
    checked = run(capsys, {'revert': True}, check=True)
    assert checked['changed'] and checked['reverted'] and 'V=2' in host.read('demo-web.container')
    result = run(capsys, {'revert': True})
    assert result['changed'] and result['reverted'] and result['rollback']['ok']
    assert 'V=1' in host.read('demo-web.container') and host.secrets['demo-pw'] == 'first-password'
    assert result['rollback']['restarted'] == ['demo-db.service', 'demo-web.service']
    assert journal_files(host) == [] and 'password' not in json.dumps(result)
    again = run(capsys, {'revert': True})
    assert not again['changed'] and not again['reverted']


def test_revert_of_a_first_apply_stops_and_removes_its_units(capsys, host):
    apply_v1(capsys, host)
    result = run(capsys, {'revert': True})
    assert sorted(result['rollback']['removed']) == ['demo-db.container', 'demo-web.container', 'demo.network']
    assert result['rollback']['stopped'] == ['demo-web.service', 'demo-db.service', 'demo-network.service']
    assert os.listdir(host.unit_dir) == [] and host.secrets == {}


def test_verify_only_passes_or_reverts_the_last_commit(capsys, host):
    apply_v1(capsys, host)
    run(capsys, {'units': [NET, DB, web('2')], 'secrets': {'demo-pw': 'first-password'}})
    check = {'name': 'ping', 'container': 'demo-db', 'command': ['valkey-cli', 'ping'], 'stdout_regex': 'PONG'}
    ok = run(capsys, {'verify': [check]})
    assert not ok['changed'] and ok['verify'][0]['ok']
    host.exec_rc = 1
    failed = run(capsys, {'verify': [dict(check, retries=1)]})
    assert failed['failed'] and 'reverted the last committed transaction' in failed['msg']
    assert 'V=1' in host.read('demo-web.container') and failed['rollback']['restored'] == ['demo-web.container']


# -- killed runs ---------------------------------------------------------------------------------------------

def kill_at(monkeypatch, wanted):
    def pause(state, sleep=None):
        if state == wanted:
            raise Killed(state)
    monkeypatch.setattr(txn, 'pause_at', pause)


@pytest.mark.parametrize('state', ['prepared', 'written', 'reloaded', 'phase-2'])
def test_a_leftover_journal_is_rolled_back_by_the_next_run(capsys, host, monkeypatch, state):
    apply_v1(capsys, host)
    files = dict((n, host.read(n)) for n in os.listdir(host.unit_dir))
    kill_at(monkeypatch, state)
    args = {'units': [NET, DB, web('2'), {'name': 'demo-old.container', 'state': 'absent'}],
            'secrets': {'demo-pw': 'second-password'}}
    with pytest.raises(Killed):
        with patch_module_args(dict(args, name='demo', _ansible_check_mode=False, _ansible_diff=False)):
            quadlet_apply.main()
    capsys.readouterr()
    assert 'demo.json' in journal_files(host)
    assert stat_mode(os.path.join(host.txn_dir, 'demo.json')) == 0o600
    monkeypatch.setattr(txn, 'pause_at', lambda state, sleep=None: None)
    killed_calls = host.changes()
    del host.calls[:]
    result = run(capsys, {'units': [NET, DB, web('1')], 'secrets': {'demo-pw': 'first-password'}})
    assert result['recovered'][0]['state'] == state and result['recovered'][0]['name'] == 'demo'
    assert dict((n, host.read(n)) for n in os.listdir(host.unit_dir)) == files
    assert host.secrets == {'demo-pw': 'first-password'}
    assert set(u['service'] for u in result['units'].values()) == {'none'}, 'recovered state is the wanted one'
    assert journal_files(host) == ['demo.last.json']
    restarted = [c for c in host.changes() if c.startswith('restart')]
    assert restarted == (['restart demo-db.service demo-web.service'] if state == 'phase-2' else [])
    if state == 'phase-2':
        assert 'restart demo-web.service' in killed_calls, 'the phase pause comes after its starts are queued'

    assert 'password' not in json.dumps(result)


def test_a_journal_of_another_transaction_is_recovered_too_and_check_mode_only_reports(capsys, host, monkeypatch):
    apply_v1(capsys, host)
    kill_at(monkeypatch, 'written')
    with pytest.raises(Killed):
        with patch_module_args({'name': 'other', 'units': [{'name': 'other.network', 'content': '[Network]\n'}]}):
            quadlet_apply.main()
    capsys.readouterr()
    monkeypatch.setattr(txn, 'pause_at', lambda state, sleep=None: None)
    checked = run(capsys, {'units': [NET, DB, web('1')], 'secrets': {'demo-pw': 'first-password'}}, check=True)
    assert checked['changed'] and checked['recovered'][0]['actions'] == ['would roll back']
    assert host.read('other.network') is not None
    result = run(capsys, {'units': [NET, DB, web('1')], 'secrets': {'demo-pw': 'first-password'}})
    assert result['recovered'][0]['name'] == 'other' and result['recovered'][0]['actions'] == [
        'removed other.network', 'daemon-reload']
    assert host.read('other.network') is None and journal_files(host) == ['demo.last.json']


def test_a_committed_leftover_becomes_the_rollback_point(capsys, host, monkeypatch):
    apply_v1(capsys, host)
    kill_at(monkeypatch, 'committed')
    with pytest.raises(Killed):
        with patch_module_args({'name': 'demo', 'units': [NET, DB, web('2')], 'secrets': {'demo-pw': 'first-password'}}):
            quadlet_apply.main()
    capsys.readouterr()
    monkeypatch.setattr(txn, 'pause_at', lambda state, sleep=None: None)
    result = run(capsys, {'units': [NET, DB, web('2')], 'secrets': {'demo-pw': 'first-password'}})
    assert result['recovered'][0]['actions'] == ['kept as the rollback point']
    assert 'V=2' in host.read('demo-web.container') and set(u['service'] for u in result['units'].values()) == {'none'}
    assert run(capsys, {'revert': True})['reverted'] and 'V=1' in host.read('demo-web.container')


def test_an_unreadable_journal_is_moved_aside(capsys, host):
    os.makedirs(host.txn_dir)
    with open(os.path.join(host.txn_dir, 'bad.json'), 'w') as handle:
        handle.write('{not json')
    result = run(capsys, {'units': [NET]})
    assert result['recovered'][0]['state'] == 'unreadable'
    assert journal_files(host) == ['bad.json.corrupt', 'demo.last.json']


# -- absent ----------------------------------------------------------------------------------------------------

def test_absent_units_are_stopped_before_the_files_go_and_purged_after_the_commit(capsys, host):
    apply_v1(capsys, host)
    host.objects.add(('network', 'systemd-demo'))
    result = run(capsys, {'units': [dict(web(), state='absent'), {'name': 'demo.network', 'state': 'absent', 'purge': True},
                                    {'name': 'demo-db.container', 'state': 'absent', 'phase': 1}]})
    assert result['changed'] and not result.get('failed'), result.get('msg')
    assert host.changes()[:2] == ['stop demo-web.service demo-db.service demo-network.service', 'daemon-reload']
    assert os.listdir(host.unit_dir) == [] and result['purged'] == ['network/systemd-demo']
    assert result['units']['demo-web.container'] == dict(result['units']['demo-web.container'], action='remove',
                                                         service='stop')
    again = run(capsys, {'units': [dict(web(), state='absent')]})
    assert not again['changed']


def test_a_secret_rotation_alone_restarts_its_users_without_a_daemon_reload(capsys, host):
    apply_v1(capsys, host)
    result = run(capsys, {'units': [NET, DB, web('1')], 'secrets': {'demo-pw': 'second-password'}})
    assert result['changed'] and result['secrets_changed'] == ['demo-pw']
    assert host.changes() == ['restart demo-db.service'], 'no file changed: no daemon-reload'
    assert 'reload' in result['seconds'] and host.secrets == {'demo-pw': 'second-password'}


def test_previous_secret_values_are_no_log_values(capsys, host, monkeypatch):
    apply_v1(capsys, host)
    seen = {}
    original = txn.Transaction.run

    def spy(self):
        try:
            return original(self)
        finally:
            seen.update(values=set(self.module.no_log_values))
    monkeypatch.setattr(txn.Transaction, 'run', spy)
    run(capsys, {'units': [NET, DB, web('1')], 'secrets': {'demo-pw': 'second-password'}})
    assert 'first-password' in seen['values'], 'Ansible scrubs the previous value from anything returned'


# -- restart=true (drift fixes) ----------------------------------------------------------------------------------

def restart(name, **kwargs):
    return dict({'name': name, 'restart': True}, **kwargs)


def test_restart_true_restarts_unchanged_units_together_without_a_reload(capsys, host):
    apply_v1(capsys, host)
    before = dict((n, host.read(n)) for n in os.listdir(host.unit_dir))
    result = run(capsys, {'name': 'drift-fix', 'units': [restart('demo-db.container'), restart('demo-web.container')]})
    assert result['changed'] and not result.get('failed'), result.get('msg')
    assert host.changes() == ['restart demo-db.service demo-web.service'], 'one queued restart, no daemon-reload'
    assert dict((n, host.read(n)) for n in os.listdir(host.unit_dir)) == before, 'the files on disk are kept'
    assert [(u['action'], u['service']) for u in result['units'].values()] == [('unchanged', 'restart')] * 2
    assert set(result['phases'][0]['healthy']) == {'demo-db', 'demo-web'}, 'waited on together'
    assert result['diff']['before'] == result['diff']['after'] == ''
    assert 'drift-fix.last.json' in journal_files(host) and 'drift-fix.json' not in journal_files(host)
    del host.calls[:]
    again = run(capsys, {'name': 'drift-fix', 'units': [restart('demo-web.container')]})
    assert again['changed'] and host.changes() == ['restart demo-web.service'], 'restart=true restarts every time'


def test_restart_true_applies_a_file_edited_on_disk_with_one_daemon_reload(capsys, host):
    apply_v1(capsys, host)
    edited = WEB_TEXT % '1' + 'Label=edited=by-hand\n'
    with open(os.path.join(host.unit_dir, 'demo-web.container'), 'w') as handle:
        handle.write(edited)  # edited by hand, no daemon-reload: systemd still runs the old text
    result = run(capsys, {'name': 'drift-fix', 'units': [restart('demo-web.container')]})
    assert not result.get('failed'), result.get('msg')
    assert host.changes() == ['daemon-reload', 'restart demo-web.service']
    assert host.read('demo-web.container') == edited and host.loaded['demo-web.service'] == edited
    assert result['units']['demo-web.container']['action'] == 'unchanged'


def test_restart_true_starts_a_unit_that_does_not_run(capsys, host):
    apply_v1(capsys, host)
    host.services['demo-web.service'] = {'state': 'failed', 'inv': ''}
    result = run(capsys, {'name': 'drift-fix', 'units': [restart('demo-web.container')]})
    assert result['units']['demo-web.container']['service'] == 'start' and host.changes() == ['start demo-web.service']


def test_restart_true_without_content_refuses_a_unit_without_a_file(capsys, host):
    apply_v1(capsys, host)
    result = run(capsys, {'name': 'drift-fix', 'units': [restart('demo-web.container'), restart('demo-gone.container')]})
    assert result['failed'] and 'restart=true without content keeps the file on disk' in result['msg']
    assert 'demo-gone.container' in result['msg'] and 'Nothing was changed' in result['msg']
    assert result['missing_units'] == ['demo-gone.container']
    assert host.changes() == [] and 'drift-fix.last.json' not in journal_files(host)


def test_restart_true_in_check_mode_only_plans(capsys, host):
    apply_v1(capsys, host)
    result = run(capsys, {'name': 'drift-fix', 'units': [restart('demo-web.container')]}, check=True)
    assert result['changed'] and result['units']['demo-web.container']['service'] == 'restart'
    assert host.changes() == [] and 'drift-fix.last.json' not in journal_files(host)


def test_restart_true_with_content_writes_and_restarts(capsys, host):
    apply_v1(capsys, host)
    result = run(capsys, {'units': [NET, DB, web('1', content=WEB_TEXT % '1' + '# note\n', restart=True)],
                          'secrets': {'demo-pw': 'first-password'}})
    assert host.changes() == ['daemon-reload', 'restart demo-web.service'], 'a comment alone would not restart'
    assert result['units']['demo-web.container'] == dict(result['units']['demo-web.container'], action='write',
                                                         service='restart')


def test_restarted_units_roll_back_with_the_set(capsys, host):
    apply_v1(capsys, host)
    host.unhealthy.add('V=2')
    result = run(capsys, {'units': [restart('demo-db.container'), web('2')]})
    assert result['failed'] and 'demo-web.service did not become healthy' in result['msg']
    rollback = result['rollback']
    assert rollback['ok'] and rollback['restored'] == ['demo-web.container'], rollback
    assert rollback['restarted'] == ['demo-db.service', 'demo-web.service'], 'the restarted unit is part of the set'
    assert 'V=1' in host.read('demo-web.container')


# -- routes in the transaction ----------------------------------------------------------------------

def route_of(host, version='1', **extra):
    dynamic = os.path.join(host.root, 'dynamic')
    if not os.path.isdir(dynamic):
        os.mkdir(dynamic)
    return dict({'name': 'demo', 'hostname': ['demo.lan'], 'urls': ['http://demo-web:%s' % (8000 + int(version))],
                 'public': False, 'confirm': False, 'dynamic_dir': dynamic}, **extra)


def route_text(host):
    path = os.path.join(host.root, 'dynamic', 'demo.yml')
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return handle.read()


def test_a_route_is_written_with_the_units_and_left_alone_when_unchanged(capsys, host):
    result = run(capsys, {'units': [NET, DB, web('1')], 'secrets': {'demo-pw': 'first-password'},
                          'routes': [route_of(host)]})
    assert not result.get('failed'), result.get('msg')
    assert result['routes']['demo']['action'] == 'write' and 'http://demo-web:8001' in route_text(host)
    assert '# file: %s' % result['routes']['demo']['path'] in result['diff']['after']
    with open(os.path.join(host.txn_dir, 'demo.last.json')) as handle:
        assert json.load(handle)['routes']['demo']['before'] is None, 'the rollback point knows the route was new'
    again = run(capsys, {'units': [NET, DB, web('1')], 'secrets': {'demo-pw': 'first-password'},
                         'routes': [route_of(host)]})
    assert not again['changed'] and again['routes']['demo']['action'] == 'unchanged'


def test_a_route_alone_is_a_transaction_and_check_mode_writes_nothing(capsys, host):
    checked = run(capsys, {'routes': [route_of(host)]}, check=True)
    assert checked['changed'] and route_text(host) is None
    applied = run(capsys, {'routes': [route_of(host)]})
    assert applied['changed'] and route_text(host) is not None and host.changes() == []


@pytest.mark.parametrize('extra, fragment', [
    ({'public': True}, 'route demo: Policy: public route demo lacks required middlewares'),
    ({'urls': ['not-a-url']}, 'route demo: Invalid route demo'),
    ({'rule': 'Host(`x`)'}, 'routes[0] (demo): parameters are mutually exclusive: rule|hostname'),
])
def test_a_bad_route_is_refused_before_anything_changes(capsys, host, extra, fragment):
    result = run(capsys, {'units': [NET, DB, web('1')], 'secrets': {'demo-pw': 'first-password'},
                          'routes': [route_of(host, **extra)]})
    assert result['failed'] and fragment in result['msg'], result['msg']
    assert os.listdir(host.unit_dir) == [] and route_text(host) is None and host.changes() == []


def test_a_failed_phase_puts_the_previous_route_back(capsys, host):
    apply_v1(capsys, host, routes=[route_of(host)])
    before = route_text(host)
    host.unhealthy.add('V=2')
    result = run(capsys, {'units': [NET, DB, web('2')], 'secrets': {'demo-pw': 'first-password'},
                          'routes': [route_of(host, '2')]})
    assert result['failed'] and result['rollback']['ok']
    assert result['rollback']['routes'] == ['demo restored'] and route_text(host) == before
    assert 'route demo restored' in result['msg']


def test_a_failed_first_deploy_removes_its_new_route(capsys, host):
    host.unhealthy.add('V=1')
    result = run(capsys, {'units': [NET, DB, web('1')], 'secrets': {'demo-pw': 'first-password'},
                          'routes': [route_of(host)]})
    assert result['failed'] and result['rollback']['routes'] == ['demo removed'] and route_text(host) is None


def test_revert_and_a_leftover_journal_restore_the_route(capsys, host, monkeypatch):
    apply_v1(capsys, host, routes=[route_of(host)])
    first = route_text(host)
    run(capsys, {'units': [NET, DB, web('2')], 'secrets': {'demo-pw': 'first-password'}, 'routes': [route_of(host, '2')]})
    assert route_text(host) != first
    reverted = run(capsys, {'revert': True})
    assert reverted['rollback']['routes'] == ['demo restored'] and route_text(host) == first
    kill_at(monkeypatch, 'written')
    with pytest.raises(Killed):
        with patch_module_args({'name': 'demo', 'units': [NET, DB, web('2')], 'secrets': {'demo-pw': 'first-password'},
                                'routes': [route_of(host, '2')], '_ansible_check_mode': False, '_ansible_diff': False}):
            quadlet_apply.main()
    capsys.readouterr()
    assert 'http://demo-web:8002' in route_text(host), 'the killed run had written its route'
    monkeypatch.setattr(txn, 'pause_at', lambda state, sleep=None: None)
    result = run(capsys, {'units': [NET, DB, web('1')], 'secrets': {'demo-pw': 'first-password'},
                          'routes': [route_of(host)]})
    assert 'route demo restored' in result['recovered'][0]['actions'] and route_text(host) == first
    assert not result['routes']['demo']['action'] == 'write'


def test_an_absent_route_goes_before_its_units_stop(capsys, host):
    apply_v1(capsys, host, routes=[route_of(host)])
    result = run(capsys, {'units': [dict(web('1'), state='absent')],
                          'routes': [{'name': 'demo', 'state': 'absent', 'dynamic_dir': route_of(host)['dynamic_dir'],
                                      'confirm': False}]})
    assert result['routes']['demo']['action'] == 'remove' and route_text(host) is None
    assert 'stop demo-web.service' in host.changes()


def test_a_hand_written_route_file_of_the_same_name_is_refused_and_never_removed(capsys, host):
    route = route_of(host)
    hand = 'http:\n  routers:\n    demo:\n      rule: Host(`mine.lan`)\n      service: mine\n'
    with open(os.path.join(route['dynamic_dir'], 'demo.yml'), 'w') as handle:
        handle.write(hand)
    result = run(capsys, {'units': [NET, DB, web('1')], 'secrets': {'demo-pw': 'first-password'}, 'routes': [route]})
    assert result['failed'] and 'was not written by homelab.deploy.traefik_route' in result['msg'], result['msg']
    assert os.listdir(host.unit_dir) == [] and host.changes() == [], 'refused before anything changed'
    removed = run(capsys, {'routes': [{'name': 'demo', 'state': 'absent', 'dynamic_dir': route['dynamic_dir'],
                                       'confirm': False}]})
    assert not removed.get('failed') and not removed['changed'], removed
    assert route_text(host) == hand


# -- files -------------------------------------------------------------------------------------------------

def config(host, text='level: info\n', mode='0640'):
    return {'path': os.path.join(host.root, 'conf', 'web', 'app.yml'), 'content': text, 'mode': mode,
            'restarts': ['demo-web.container']}


def test_a_file_is_written_with_the_units_and_restarts_the_units_it_names_only_when_it_changes(capsys, host):
    result = apply_v1(capsys, host, files=[config(host)])
    path = config(host)['path']
    assert result['files'] == {path: {'action': 'write', 'restarts': ['demo-web.container']}}
    with open(path) as handle:
        assert handle.read() == 'level: info\n'
    assert stat_mode(path) == 0o640
    again = run(capsys, {'units': [NET, DB, web()], 'secrets': {'demo-pw': 'first-password'}, 'files': [config(host)]})
    assert not again['changed'] and host.changes() == [] and again['files'][path]['action'] == 'unchanged'
    changed = run(capsys, {'units': [NET, DB, web()], 'secrets': {'demo-pw': 'first-password'},
                           'files': [config(host, 'level: debug\n')]})
    assert changed['changed'] and host.changes() == ['restart demo-web.service'], 'no reload: no unit file changed'
    assert 'level: info' in changed['diff']['before'] and 'level: debug' in changed['diff']['after']
    host.calls = []
    run(capsys, {'units': [NET, DB, web()], 'secrets': {'demo-pw': 'first-password'},
                 'files': [config(host, 'level: debug\n', '0600')]})
    assert host.changes() == ['restart demo-web.service'] and stat_mode(path) == 0o600, 'a mode change is a change'


def test_check_mode_reports_a_file_and_writes_nothing(capsys, host):
    result = run(capsys, {'units': [NET], 'files': [dict(config(host), restarts=[])]}, check=True)
    assert result['changed'] and result['files'][config(host)['path']]['action'] == 'write'
    assert 'level: info' in result['diff']['after'] and not os.path.exists(os.path.join(host.root, 'conf'))


def test_a_failed_transaction_puts_the_files_back_and_removes_new_ones(capsys, host):
    apply_v1(capsys, host, files=[config(host)])
    path = config(host)['path']
    new = os.path.join(host.root, 'conf', 'web', 'extra.yml')
    host.unhealthy.add('V=2')
    result = run(capsys, {'units': [NET, DB, web('2')], 'secrets': {'demo-pw': 'first-password'},
                          'files': [config(host, 'level: debug\n'), {'path': new, 'content': 'x\n'}]})
    assert result['failed'] and result['rollback']['ok'], result['msg']
    assert sorted(result['rollback']['files']) == sorted(['%s removed' % new, '%s restored' % path])
    with open(path) as handle:
        assert handle.read() == 'level: info\n'
    assert stat_mode(path) == 0o640 and not os.path.exists(new)


def test_a_killed_run_that_wrote_a_file_is_rolled_back_by_the_next(capsys, host, monkeypatch):
    apply_v1(capsys, host, files=[config(host)])
    path = config(host)['path']

    def killed(self, state, pause=True):
        if state == 'written':
            raise Killed()
        original_save(self, state, pause)
    original_save = txn.Transaction.save
    monkeypatch.setattr(txn.Transaction, 'save', killed)
    with pytest.raises(Killed):
        run(capsys, {'units': [NET, DB, web()], 'secrets': {'demo-pw': 'first-password'},
                     'files': [config(host, 'level: debug\n')]})
    monkeypatch.setattr(txn.Transaction, 'save', original_save)
    with open(path) as handle:
        assert handle.read() == 'level: debug\n', 'the kill came after the write'
    result = run(capsys, {'units': [NET], 'verify': []})
    assert result['recovered'] and any(a == 'file %s restored' % path for a in result['recovered'][0]['actions'])
    with open(path) as handle:
        assert handle.read() == 'level: info\n'


# -- health from the image -------------------------------------------------------------------------------------

def relying(image):
    return {'name': 'demo-cache.container', 'phase': 1,
            'content': '[Container]\nImage=%s\nContainerName=demo-cache\nNotify=healthy\n' % image}


def test_notify_healthy_is_dropped_for_an_image_without_a_healthcheck(capsys, host):
    result = run(capsys, {'units': [relying('localhost/db:1')]})
    assert not result.get('failed'), result.get('msg')
    assert 'Notify=' not in host.read('demo-cache.container'), 'systemd would wait for ever'
    assert 'has no HEALTHCHECK' in result['units']['demo-cache.container']['health']
    again = run(capsys, {'units': [relying('localhost/db:1')]})
    assert not again['changed'], 'the same answer on every run: idempotent'


def test_notify_healthy_stays_when_the_image_has_a_healthcheck_or_disables_it(capsys, host):
    host.healthchecks['localhost/db:1'] = ['CMD', 'pg_isready']
    run(capsys, {'units': [relying('localhost/db:1')]})
    assert 'Notify=healthy' in host.read('demo-cache.container')
    host.healthchecks['localhost/db:1'] = ['NONE']
    run(capsys, {'units': [relying('localhost/db:1')]})
    assert 'Notify=' not in host.read('demo-cache.container'), 'HEALTHCHECK NONE runs no check either'


def test_a_missing_image_is_pulled_before_anything_changes_and_a_failed_pull_changes_nothing(capsys, host):
    host.registry.add('registry.test/cache:1')
    result = run(capsys, {'units': [relying('registry.test/cache:1')]})
    assert not result.get('failed') and ['podman', 'pull', '--quiet', '--', 'registry.test/cache:1'] in host.calls
    assert 'Notify=' not in host.read('demo-cache.container')
    failed = run(capsys, {'units': [NET, relying('registry.test/gone:1')]})
    assert failed['failed'] and 'cannot pull image registry.test/gone:1 of demo-cache.container' in failed['msg']
    assert 'manifest unknown' in failed['msg'] and 'Nothing was changed' in failed['msg']
    assert not os.path.exists(os.path.join(host.unit_dir, 'demo.network'))


def test_check_mode_pulls_nothing(capsys, host):
    host.registry.add('registry.test/cache:1')
    result = run(capsys, {'units': [relying('registry.test/cache:1')]}, check=True)
    assert result['changed'] and not [c for c in host.calls if c[1:2] == ['pull']]


# -- pull policies ---------------------------------------------------------------------------------------------

def app(pull=None):
    unit = {'name': 'demo-app.container', 'phase': 1,
            'content': '[Container]\nImage=registry.test/app:1\nContainerName=demo-app\nHealthCmd=true\nNotify=healthy\n'}
    if pull:
        unit['pull'] = pull
    return unit


def pulls_of(host):
    return [c for c in host.calls if c[1:2] == ['pull']]


def test_always_pulls_every_run_and_a_moved_tag_restarts_the_running_container(capsys, host):
    host.registry.add('registry.test/app:1')
    first = run(capsys, {'units': [app('always')]})
    assert not first.get('failed'), first.get('msg')
    assert first['pulls'] == {'registry.test/app:1': 'pulled (always)'}
    again = run(capsys, {'units': [app('always')]})
    assert not again['changed'] and again['pulls'] == {'registry.test/app:1': 'up to date (always)'}
    assert len(pulls_of(host)) == 2, 'always: a pull on every run'
    host.registry_ids['registry.test/app:1'] = 'id-new-build'
    moved = run(capsys, {'units': [app('always')]})
    assert moved['changed'] and moved['units']['demo-app.container']['service'] == 'restart'
    assert 'is a new build' in moved['units']['demo-app.container']['image'], 'the unit file did not change'
    assert host.running_image['demo-app.service'] == 'id-new-build'


def test_a_rollback_puts_a_moved_tag_back_on_the_previous_image(capsys, host):
    host.registry.add('registry.test/app:1')
    run(capsys, {'units': [app('always')]})
    host.registry_ids['registry.test/app:1'] = 'id-broken-build'
    host.unhealthy.add('id-broken-build')  # a container of the new build never gets healthy
    failed = run(capsys, {'units': [app('always')]})
    assert failed['failed'] and failed['rollback']['ok'], failed.get('msg')
    assert failed['rollback']['retagged'] == ['registry.test/app:1']
    assert ['podman', 'tag', 'id-registry.test/app:1', 'registry.test/app:1'] in host.calls
    assert host.running_image['demo-app.service'] == 'id-registry.test/app:1', 'back on the image it ran before'


def test_missing_pulls_once_newer_asks_the_registry_and_never_pulls_nothing(capsys, host):
    host.registry.add('registry.test/app:1')
    run(capsys, {'units': [app()]})
    run(capsys, {'units': [app()]})
    assert len(pulls_of(host)) == 1, 'missing (the default): only while the host lacks the image'
    run(capsys, {'units': [app('newer')]})
    assert pulls_of(host)[-1] == ['podman', 'pull', '--quiet', '--policy', 'newer', '--', 'registry.test/app:1']
    del host.images['registry.test/app:1']
    host.services['demo-app.service'] = {'state': 'inactive', 'inv': ''}  # to be started: its image must be there
    refused = run(capsys, {'units': [app('never')]})
    assert refused['failed'] and len(pulls_of(host)) == 2, 'never: the image must be on the host'


def private(auth):
    unit = app('always')
    unit['content'] += 'PodmanArgs=--authfile=%s\n' % auth.replace('%', '%%')
    return unit


def test_a_private_registry_is_pulled_with_the_auth_file_the_unit_names(capsys, host, tmp_path):
    host.registry.add('registry.test/app:1')
    auth = tmp_path / 'auth-100%.json'  # % is escaped in the unit, read back unescaped
    missing = run(capsys, {'units': [private(str(auth))]})
    assert missing['failed'] and 'registry credentials %s (--authfile of demo-app.container) do not exist' % auth \
        in missing['msg'] and 'Nothing was changed' in missing['msg']
    assert not pulls_of(host) and not os.path.exists(os.path.join(host.unit_dir, 'demo-app.container'))
    auth.write_text('{"auths": {}}')
    result = run(capsys, {'units': [private(str(auth))]})
    assert not result.get('failed'), result.get('msg')
    assert pulls_of(host) == [['podman', 'pull', '--quiet', '--authfile', str(auth), '--', 'registry.test/app:1']]


def test_check_mode_says_what_it_would_pull(capsys, host):
    host.registry.add('registry.test/app:1')
    result = run(capsys, {'units': [app('always')]}, check=True)
    assert result['pulls'] == {'registry.test/app:1': 'would pull (always)'} and not pulls_of(host)


def test_a_nul_in_unit_content_is_refused_before_anything_changes(capsys, host):
    unit = {'name': 'demo-web.container', 'content': '[Container]\nImage=localhost/web:1\nLabel=a=b\x00[Service]\n'}
    result = run(capsys, {'units': [NET, unit]})
    assert result['failed'] and 'line 3 contains the control character' in result['msg']
    assert not os.path.exists(os.path.join(host.unit_dir, 'demo.network')), 'nothing written'


def test_a_missing_environment_file_is_refused_before_anything_changes(capsys, host, tmp_path):
    present = tmp_path / 'app.env'
    present.write_text('A=1\n')
    unit = {'name': 'demo-web.container', 'content': '[Container]\nImage=localhost/web:1\nEnvironmentFile=%s\n'
            'EnvironmentFile=%s\n' % (present, tmp_path / 'gone.env')}
    result = run(capsys, {'units': [NET, unit]})
    assert result['failed'] and 'EnvironmentFile=%s does not exist on the host' % (tmp_path / 'gone.env') in result['msg']
    assert str(present) + ' does not exist' not in result['msg']
    assert not os.path.exists(os.path.join(host.unit_dir, 'demo.network')), 'nothing written'


def bind_unit(*sources):
    volumes = ''.join('Volume=%s:/data%d:rw\n' % (source, index) for index, source in enumerate(sources))
    return {'name': 'demo-web.container', 'content': '[Container]\nImage=localhost/web:1\nContainerName=demo-web\n' + volumes}


def test_a_missing_bind_source_is_refused_before_anything_changes(capsys, host, tmp_path):
    present = tmp_path / 'photos'
    present.mkdir()
    result = run(capsys, {'units': [NET, bind_unit(present, tmp_path / 'gone')]})
    assert result['failed'] and 'Volume= source %s does not exist on the host' % (tmp_path / 'gone') in result['msg']
    assert '%s does not exist' % present not in result['msg']
    assert not os.path.exists(os.path.join(host.unit_dir, 'demo.network')), 'nothing written'


def test_directories_are_created_once_with_their_mode_and_kept_as_they_are_afterwards(capsys, host, tmp_path):
    wanted = tmp_path / 'srv' / 'app' / 'data'
    args = {'units': [NET, bind_unit(wanted)], 'directories': [{'path': str(wanted), 'mode': '0700'}]}
    check = run(capsys, args, check=True)
    assert check['changed'] and check['directories'] == {str(wanted): 'create'} and not wanted.exists()
    result = run(capsys, args)
    assert result['changed'] and result['directories'] == {str(wanted): 'create'}, result.get('msg')
    assert wanted.is_dir() and stat_mode(str(wanted)) == 0o700
    wanted.chmod(0o755)  # the user's own change of an existing directory is left alone
    again = run(capsys, args)
    assert not again['changed'] and again['directories'] == {str(wanted): 'exists'}
    assert stat_mode(str(wanted)) == 0o755


def test_a_created_directory_gets_its_owner_and_group(capsys, host, tmp_path, monkeypatch):
    wanted = tmp_path / 'owned'
    chowned = []
    monkeypatch.setattr(os, 'chown', lambda path, uid, gid: chowned.append((path, uid, gid)))
    result = run(capsys, {'units': [NET, bind_unit(wanted)],
                          'directories': [{'path': str(wanted), 'owner': 1883, 'group': '1884'}]})
    assert not result.get('failed'), result.get('msg')
    assert (str(wanted), 1883, 1884) in chowned


@pytest.mark.parametrize('directory, reason', [
    ('relative/dir', 'must be an absolute, normalised path'),
    ('/srv/../etc', 'must be an absolute, normalised path'),
    ('/', 'must be an absolute, normalised path other than /'),
])
def test_bad_directories_are_refused_before_anything_changes(capsys, host, directory, reason):
    result = run(capsys, {'units': [NET], 'directories': [{'path': directory}]})
    assert result['failed'] and reason in result['msg']
    assert not os.path.exists(os.path.join(host.unit_dir, 'demo.network'))


def test_a_directory_through_a_symbolic_link_or_over_a_file_is_refused(capsys, host, tmp_path):
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    (tmp_path / 'root').mkdir()
    (tmp_path / 'root' / 'link').symlink_to(elsewhere)
    through = tmp_path / 'root' / 'link' / 'data'
    result = run(capsys, {'units': [NET, bind_unit(through)], 'directories': [{'path': str(through)}]})
    assert result['failed'] and 'goes through the symbolic link %s' % (tmp_path / 'root' / 'link') in result['msg']
    assert not through.exists() and not os.path.exists(os.path.join(host.unit_dir, 'demo.network'))
    afile = tmp_path / 'afile'
    afile.write_text('x')
    result = run(capsys, {'units': [NET], 'directories': [{'path': str(afile)}]})
    assert result['failed'] and 'exists and is not a directory' in result['msg']


def test_an_unknown_owner_is_refused_before_anything_changes(capsys, host, tmp_path):
    wanted = tmp_path / 'new'
    result = run(capsys, {'units': [NET, bind_unit(wanted)],
                          'directories': [{'path': str(wanted), 'owner': 'no-such-user-here'}]})
    assert result['failed'] and 'no such user or group' in result['msg']
    assert not wanted.exists()


def test_a_file_the_set_writes_is_a_bind_source_that_exists(capsys, host, tmp_path):
    # the traefik role mounts its own traefik.yml, written by the same transaction
    config = tmp_path / 'conf' / 'app.yml'
    config.parent.mkdir()
    result = run(capsys, {'units': [NET, bind_unit(config)],
                          'files': [{'path': str(config), 'content': 'a: 1\n', 'restarts': ['demo-web.container']}]})
    assert not result.get('failed'), result.get('msg')
    assert config.read_text() == 'a: 1\n'


def test_a_masked_service_is_left_stopped_and_a_re_run_changes_nothing(capsys, host):
    """systemctl mask is its owner's 'keep this off': the file is written, the service not started or waited on,
    the run says so, and the next run (reconcile) changes nothing instead of failing on the masked unit again."""
    apply_v1(capsys, host)
    host.masked.add('demo-web.service')
    host.services['demo-web.service'] = {'state': 'inactive', 'inv': ''}
    result = run(capsys, {'units': [NET, DB, web('2')], 'secrets': {'demo-pw': 'first-password'},
                          'verify_health': True, 'verify': [{'name': 'web answers', 'container': 'demo-web',
                                                             'command': ['hl-web', 'health']}]})
    assert not result.get('failed'), result.get('msg')
    assert result['verify'] == [{'name': 'web answers', 'ok': True, 'attempts': 0, 'skipped': 'demo-web is masked'}]
    assert not [c for c in host.calls if list(c[:2]) == ['podman', 'exec']], 'no check ran in the masked container'
    assert result['units']['demo-web.container']['service'] == 'none'
    assert result['units']['demo-web.container']['masked'] is True
    assert not [v for v in host.changes() if 'demo-web' in v and not v.startswith('daemon-reload')]
    assert 'demo-web.service masked on the host' in str(result.get('warnings')), result.get('warnings')
    assert 'demo-web' not in (result.get('health') or {}), 'a masked service is not judged for health'
    again = run(capsys, {'units': [NET, DB, web('2')], 'secrets': {'demo-pw': 'first-password'}, 'verify_health': True})
    assert not again.get('failed') and not again['changed'], again

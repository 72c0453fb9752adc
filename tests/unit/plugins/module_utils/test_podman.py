# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the private podman helpers: scope, command runner, systemctl parsing, locking and health judgement.

The command outputs below were captured on the hlnode test node (Debian trixie, podman 5.4.2, systemd 257).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import json
import os

import pytest

from ansible_collections.homelab.deploy.plugins.module_utils import _podman as podman

# podman container inspect fx-healthy fx-unhealthy fx-nohc fx-exited fx-starting nosuch (rc=125), trimmed to the
# keys the helpers read: hl-web healthy, hl-web:broken after its retries, busybox without a healthcheck,
# a busybox that exited 3, and hl-web one second after start.
INSPECT_JSON = (
    '[{"Id":"a917335c813cbb8a96208bb4605540e058a35a4c6401618d0e9cd4824bb46bae","Name":"fx-healthy","State'
    '":{"Status":"running","Running":true,"ExitCode":0,"StartedAt":"2026-11-27T00:27:27.157183022Z","Heal'
    'th":{"Status":"healthy","FailingStreak":0,"Log":[{"Start":"2026-11-27T00:27:27.210482565Z","End":"20'
    '26-11-27T00:27:27.265101489Z","ExitCode":0,"Output":""},{"Start":"2026-11-27T00:27:33.161532122Z","E'
    'nd":"2026-11-27T00:27:33.231288471Z","ExitCode":0,"Output":""},{"Start":"2026-11-27T00:27:39.1451559'
    '09Z","End":"2026-11-27T00:27:39.207969615Z","ExitCode":0,"Output":""}]}},"Config":{"Labels":{"io.bui'
    'ldah.version":"1.39.3","io.homelab.hlnode.hash":"3710f50b4f03852f","org.opencontainers.image.title":'
    '"hl-web"},"Healthcheck":{"Test":["CMD","/bin/hl-web","health"],"StartPeriod":1000000000,"Interval":5'
    '000000000,"Timeout":3000000000,"Retries":2}}},{"Id":"d5a42b7b35ba852de42be9bb07d49262561b4fd93d34ada'
    'f4c0ca58a5c417e79","Name":"fx-unhealthy","State":{"Status":"running","Running":true,"ExitCode":0,"St'
    'artedAt":"2026-11-27T00:27:27.31174529Z","Health":{"Status":"unhealthy","FailingStreak":2,"Log":[{"S'
    'tart":"2026-11-27T00:27:27.369493281Z","End":"2026-11-27T00:27:27.392388212Z","ExitCode":1,"Output":'
    '"wget: server returned error: HTTP/1.1 404 Not Found\\n"},{"Start":"2026-11-27T00:27:33.144437927Z","'
    'End":"2026-11-27T00:27:33.212887262Z","ExitCode":1,"Output":"wget: server returned error: HTTP/1.1 4'
    '04 Not Found\\n"},{"Start":"2026-11-27T00:27:39.134578286Z","End":"2026-11-27T00:27:39.193613867Z","E'
    'xitCode":1,"Output":"wget: server returned error: HTTP/1.1 404 Not Found\\n"}]}},"Config":{"Labels":{'
    '"io.buildah.version":"1.39.3","io.homelab.hlnode.hash":"cbccaeceffe3aad0","org.opencontainers.image.'
    'title":"hl-web"},"Healthcheck":{"Test":["CMD","/bin/hl-web","health"],"StartPeriod":1000000000,"Inte'
    'rval":5000000000,"Timeout":3000000000,"Retries":2}}},{"Id":"ab7e6b4c81f6aed82dc4f55e2320304d12c9cdb7'
    'cd5e0996002877e9cab5e144","Name":"fx-nohc","State":{"Status":"running","Running":true,"ExitCode":0,"'
    'StartedAt":"2026-11-27T00:27:27.425160614Z"},"Config":{"Labels":{"io.homelab.hlnode.hash":"856b65dc6'
    'f313241"},"Healthcheck":null}},{"Id":"ef6291055960522cbac4dee1c40dc50c2149418aec5a4efed0451b7d64111b'
    '82","Name":"fx-exited","State":{"Status":"exited","Running":false,"ExitCode":3,"StartedAt":"2026-11-'
    '27T00:27:27.521207536Z"},"Config":{"Labels":{"io.homelab.hlnode.hash":"856b65dc6f313241"},"Healthche'
    'ck":null}},{"Id":"f5f5707092b136bcaeca9bfc8753ccae28cc4723058895d8a05fe1aad7926e01","Name":"fx-start'
    'ing","State":{"Status":"running","Running":true,"ExitCode":0,"StartedAt":"2026-11-27T00:27:40.648132'
    '976Z","Health":{"Status":"starting","FailingStreak":0,"Log":null}},"Config":{"Labels":{"io.buildah.v'
    'ersion":"1.39.3","io.homelab.hlnode.hash":"3710f50b4f03852f","org.opencontainers.image.title":"hl-we'
    'b"},"Healthcheck":{"Test":["CMD","/bin/hl-web","health"],"StartPeriod":1000000000,"Interval":5000000'
    '000,"Timeout":3000000000,"Retries":2}}}]'
)
INSPECT_STDERR = 'Error: no such container nosuch\n'

# systemctl show -p Id,LoadState,ActiveState,SubState,Result,NRestarts,ExecMainStatus -- fx-web.service fx-fail.service
#   fx-loop.service nosuch.service   (fx-fail exits 1; fx-loop exits 1 with Restart=always RestartSec=1)
SHOW_OUTPUT = """Result=success
NRestarts=0
ExecMainStatus=0
Id=fx-web.service
LoadState=loaded
ActiveState=active
SubState=running

Result=exit-code
NRestarts=0
ExecMainStatus=1
Id=fx-fail.service
LoadState=loaded
ActiveState=failed
SubState=failed

Result=exit-code
NRestarts=3
ExecMainStatus=1
Id=fx-loop.service
LoadState=loaded
ActiveState=activating
SubState=auto-restart

Result=success
NRestarts=0
ExecMainStatus=0
Id=nosuch.service
LoadState=not-found
ActiveState=inactive
SubState=dead
"""

# podman ps -a --format json, trimmed to Id, Names, State, Labels
PS_JSON = ('[{"Id": "d3c7e14d438c783cec4c83c33010769384901c9ba2bc6a908d355dffe9a2b1c7", "Names": ["fx-web"], '
           '"State": "running", "Labels": {"PODMAN_SYSTEMD_UNIT": "fx-web.service", "io.buildah.version": "1.39.3", '
           '"org.opencontainers.image.title": "hl-web", "x": "1"}}]')

PW = collections.namedtuple('PW', 'pw_name pw_uid pw_gid pw_dir')


def getpwnam(name):
    if name != 'hl':
        raise KeyError(name)
    return PW('hl', 1000, 1000, '/home/hl')


def inspect_by_name():
    return dict((item['Name'], item) for item in json.loads(''.join(INSPECT_JSON)))


class FakeModule(object):
    """Records run_command calls and answers from a list of (matcher, (rc, out, err))."""

    def __init__(self, answers=None):
        self.calls = []
        self.answers = answers or []

    def run_command(self, argv, data=None, environ_update=None, cwd=None, binary_data=False, check_rc=False):
        self.calls.append({'argv': argv, 'env': environ_update, 'cwd': cwd, 'data': data, 'binary_data': binary_data})
        for match, answer in self.answers:
            if match(argv):
                return answer(argv) if callable(answer) else answer
        return 0, '', ''


def has(*words):
    return lambda argv: all(w in argv for w in words)


# -- scope --------------------------------------------------------------------

@pytest.mark.parametrize('scope, user, euid, unit_dir, backup_dir, lock, switch', [
    ('system', None, 0, '/etc/containers/systemd', '/var/lib/homelab-deploy/backups/system',
     '/run/homelab-deploy.lock', False),
    ('user', 'hl', 0, '/home/hl/.config/containers/systemd', '/home/hl/.local/state/homelab-deploy/backups',
     '/run/user/1000/homelab-deploy.lock', True),
    ('user', 'hl', 1000, '/home/hl/.config/containers/systemd', '/home/hl/.local/state/homelab-deploy/backups',
     '/run/user/1000/homelab-deploy.lock', False),
])
def test_scope_paths(scope, user, euid, unit_dir, backup_dir, lock, switch):
    s = podman.Scope(scope, user, euid=euid, getpwnam=getpwnam)
    assert (s.unit_dir(), s.backup_dir(), s.lock_path(), s.switch) == (unit_dir, backup_dir, lock, switch)
    assert s.problem() is None


def test_scope_search_path_precedence():
    assert podman.Scope('system', euid=0).search_dirs()[:2] == ['/run/containers/systemd', '/etc/containers/systemd']
    assert podman.Scope('user', 'hl', euid=0, getpwnam=getpwnam).search_dirs() == [
        '/run/user/1000/containers/systemd', '/home/hl/.config/containers/systemd',
        '/etc/containers/systemd/users/1000', '/etc/containers/systemd/users']


@pytest.mark.parametrize('scope, user, euid, fragment', [
    ('system', None, 1000, 'needs root'),
    ('user', 'hl', 1001, 'must run as root'),
])
def test_scope_problems(scope, user, euid, fragment):
    assert fragment in podman.Scope(scope, user, euid=euid, getpwnam=getpwnam).problem()


def test_scope_unknown_user():
    with pytest.raises(ValueError, match='user nobody-here does not exist'):
        podman.Scope('user', 'nobody-here', euid=0, getpwnam=getpwnam)


def test_scope_system_ignores_user():
    assert podman.Scope('system', 'hl', euid=0, getpwnam=getpwnam).user is None


# -- runner -------------------------------------------------------------------

def test_runner_switches_to_the_user_as_root():
    module = FakeModule()
    runner = podman.Runner(module, podman.Scope('user', 'hl', euid=0, getpwnam=getpwnam))
    runner.systemctl('is-active', 'web.service')
    call = module.calls[0]
    assert call['argv'] == ['runuser', '-u', 'hl', '--', 'env', 'DBUS_SESSION_BUS_ADDRESS=unix:path=/run/user/1000/bus',
                            'XDG_RUNTIME_DIR=/run/user/1000', 'systemctl', '--user', 'is-active', 'web.service']
    assert call['cwd'] == '/home/hl'


def test_runner_as_the_user_sets_the_session_environment():
    module = FakeModule()
    podman.Runner(module, podman.Scope('user', 'hl', euid=1000, getpwnam=getpwnam)).podman('ps')
    assert module.calls[0]['argv'] == ['podman', 'ps']
    assert module.calls[0]['env']['XDG_RUNTIME_DIR'] == '/run/user/1000'


def test_runner_without_switch_runs_as_itself():
    module = FakeModule()
    runner = podman.Runner(module, podman.Scope('user', 'hl', euid=0, getpwnam=getpwnam))
    runner.run(['/usr/libexec/podman/quadlet', '-dryrun'], env={'QUADLET_UNIT_DIRS': '/x'}, switch=False)
    assert module.calls[0]['argv'] == ['/usr/libexec/podman/quadlet', '-dryrun']
    assert module.calls[0]['env']['QUADLET_UNIT_DIRS'] == '/x'


def test_system_scope_runs_plain_commands():
    module = FakeModule()
    podman.Runner(module, podman.Scope('system', euid=0)).systemctl('daemon-reload')
    assert module.calls[0]['argv'] == ['systemctl', 'daemon-reload']
    assert module.calls[0]['env'] == {}


def test_runner_error_carries_the_evidence():
    module = FakeModule([(has('start'), (1, 'out', 'Job for web.service failed.\n'))])
    runner = podman.Runner(module, podman.Scope('system', euid=0))
    with pytest.raises(podman.CommandError) as info:
        runner.systemctl('start', 'web.service')
    assert info.value.details() == {'cmd': ['systemctl', 'start', 'web.service'], 'rc': 1, 'stdout': 'out',
                                    'stderr': 'Job for web.service failed.\n'}
    assert 'Job for web.service failed.' in str(info.value)


def test_runner_json_error_carries_the_evidence():
    module = FakeModule([(has('inspect'), (0, 'not json', ''))])
    with pytest.raises(podman.CommandError) as info:
        podman.Runner(module, podman.Scope('system', euid=0)).json(['podman', 'inspect', 'x'])
    assert info.value.stdout == 'not json' and 'invalid JSON' in str(info.value)


def test_container_inspect_tolerates_missing_containers():
    module = FakeModule([(has('inspect'), (125, ''.join(INSPECT_JSON), INSPECT_STDERR))])
    infos = podman.Runner(module, podman.Scope('system', euid=0)).container_inspect(['fx-healthy', 'nosuch'])
    assert len(infos) == 5
    assert module.calls[0]['argv'] == ['podman', 'container', 'inspect', '--', 'fx-healthy', 'nosuch']


@pytest.mark.parametrize('stored, expected', [
    ('[{"Spec": {"Name": "db"}, "SecretData": "s3cret\\n"}]', 's3cret\n'),
    ('[]', None),
])
def test_secret_value_is_read_exactly(stored, expected):
    module = FakeModule([(has('inspect'), (0 if expected else 125, stored, ''))])
    assert podman.Runner(module, podman.Scope('system', euid=0)).secret_value('db') == expected


def test_secrets_are_written_through_stdin_without_a_newline():
    module = FakeModule()
    runner = podman.Runner(module, podman.Scope('system', euid=0))
    runner.set_secret('db', 'hunter2')
    runner.set_secret('db', None)
    assert module.calls[0]['argv'] == ['podman', 'secret', 'create', '--replace', 'db', '-']
    assert module.calls[0]['data'] == 'hunter2' and module.calls[0]['binary_data'] is True
    assert 'hunter2' not in ' '.join(module.calls[0]['argv'])
    assert module.calls[1]['argv'] == ['podman', 'secret', 'rm', '--', 'db']


def test_unit_states_is_one_call():
    module = FakeModule([(has('show'), (0, SHOW_OUTPUT, ''))])
    states = podman.Runner(module, podman.Scope('system', euid=0)).unit_states(['fx-web.service', 'fx-fail.service'])
    assert len(module.calls) == 1
    assert states['fx-fail.service']['ActiveState'] == 'failed'
    assert states['nosuch.service']['LoadState'] == 'not-found'


def test_parse_show_blocks():
    blocks = podman.parse_show(SHOW_OUTPUT)
    assert [b['Id'] for b in blocks] == ['fx-web.service', 'fx-fail.service', 'fx-loop.service', 'nosuch.service']
    assert podman.unit_facts(blocks[2]) == {'name': 'fx-loop.service', 'load_state': 'loaded',
                                            'active_state': 'activating', 'sub_state': 'auto-restart',
                                            'result': 'exit-code', 'n_restarts': 3}


# -- secrets ------------------------------------------------------------------

@pytest.mark.parametrize('text, expected', [
    ('Environment=POSTGRES_PASSWORD=hunter2', 'Environment=POSTGRES_PASSWORD=' + podman.MASK),
    ('--env API_KEY=abc --env MODE=prod', '--env API_KEY=' + podman.MASK + ' --env MODE=prod'),
    ('Environment="GITEA_TOKEN=x y"', 'Environment="GITEA_TOKEN=' + podman.MASK + ' y"'),
    ('Environment=db_secret_file=/run/s', 'Environment=db_secret_file=' + podman.MASK),
    ('Environment=HL_WEB_VERSION=2', 'Environment=HL_WEB_VERSION=2'),
    ('Secret=db-pass,type=env,target=PGPASSWORD', 'Secret=db-pass,type=env,target=PGPASSWORD'),
    ('', ''),
    ('Environment=DB_PASS=hunter2', 'Environment=DB_PASS=' + podman.MASK),
    ('Environment=ADMIN_PASS=hunter2', 'Environment=ADMIN_PASS=' + podman.MASK),
    ('Environment=JWT_KEY=abc', 'Environment=JWT_KEY=' + podman.MASK),
    ('Environment=AUTH_KEY=abc', 'Environment=AUTH_KEY=' + podman.MASK),
    ('Environment=AWS_CREDENTIALS=abc', 'Environment=AWS_CREDENTIALS=' + podman.MASK),
    ('Environment=GPG_PASSPHRASE=abc', 'Environment=GPG_PASSPHRASE=' + podman.MASK),
    ('Password=hunter2', 'Password=' + podman.MASK),
    ('Environment=DATABASE_URL=postgres://app:hunter2@db:5432/app',
     'Environment=DATABASE_URL=postgres://app:' + podman.MASK + '@db:5432/app'),
    ('Environment=BYPASS_CACHE=1', 'Environment=BYPASS_CACHE=1'),
    ('Environment=PASSTHROUGH=1', 'Environment=PASSTHROUGH=1'),
    ('Environment=MONKEY=1', 'Environment=MONKEY=1'),
    ('Environment=UPSTREAM=http://web:8080/', 'Environment=UPSTREAM=http://web:8080/'),
])
def test_mask_secrets(text, expected):
    assert podman.mask_secrets(text) == expected


# -- locking ------------------------------------------------------------------

def test_host_lock_excludes_a_second_holder(tmp_path):
    path = str(tmp_path / 'lock')
    with podman.host_lock(path, 1):
        clock = iter([0, 0.5, 2, 2])
        with pytest.raises(podman.CommandError, match='another run holds it'):
            with podman.host_lock(path, 1, clock=lambda: next(clock), sleep=lambda s: None):
                pass
    with podman.host_lock(path, 1):
        assert os.path.exists(path)


def test_host_lock_reports_a_missing_directory(tmp_path):
    with pytest.raises(podman.CommandError, match='cannot open the lock file'):
        with podman.host_lock(str(tmp_path / 'missing' / 'lock'), 1):
            pass


# -- health: facts and judgement ------------------------------------------------

@pytest.mark.parametrize('name, state, has_check, health', [
    ('fx-healthy', 'running', True, 'healthy'),
    ('fx-unhealthy', 'running', True, 'unhealthy'),
    ('fx-nohc', 'running', False, None),
    ('fx-exited', 'exited', False, None),
    ('fx-starting', 'running', True, 'starting'),
])
def test_container_facts_from_real_inspect(name, state, has_check, health):
    facts = podman.container_facts(inspect_by_name()[name])
    assert (facts['name'], facts['state'], facts['has_healthcheck'], facts['health']) == (name, state, has_check, health)
    assert len(facts['health_log']) <= 3


def test_container_facts_keep_the_failing_evidence():
    facts = podman.container_facts(inspect_by_name()['fx-unhealthy'])
    assert facts['failing_streak'] >= 2
    assert all(entry['exit_code'] == 1 for entry in facts['health_log'])


def unit(active='active', sub='running', restarts=0, load='loaded', result='success', name='web.service'):
    return {'name': name, 'load_state': load, 'active_state': active, 'sub_state': sub, 'result': result,
            'n_restarts': restarts}


@pytest.mark.parametrize('wanted, expected', [
    ('fx-healthy', 'fx-healthy'),
    ('a917335c813c', 'fx-healthy'),
    ('d5a42b7b35ba852de42be9bb07d49262561b4fd93d34adaf4c0ca58a5c417e79', 'fx-unhealthy'),
    ('fx', None),
    ('nosuch', None),
])
def test_match_container_by_name_or_id(wanted, expected):
    facts = podman.match_container(json.loads(''.join(INSPECT_JSON)), wanted)
    assert (facts or {}).get('name') == expected


def container(name):
    if name == 'fx-healthy-failing':  # healthy until the retries are used up, but the last run failed
        return dict(podman.container_facts(inspect_by_name()['fx-healthy']), failing_streak=1)
    return podman.container_facts(inspect_by_name()[name])


@pytest.mark.parametrize('cont, unit_, probe, baseline, in_start, expect, verdict, reason', [
    ('fx-healthy', unit(), None, 0, False, True, 'healthy', 'healthy'),
    ('fx-healthy', None, None, None, False, True, 'healthy', 'healthy'),
    ('fx-nohc', None, None, None, False, True, 'healthy', 'no healthcheck'),
    ('fx-starting', unit(), None, 0, False, True, 'pending', 'starting'),
    ('fx-healthy-failing', unit(), None, 0, False, True, 'pending', 'the last healthcheck failed (failing streak 1)'),
    ('fx-unhealthy', unit(), None, 0, False, True, 'unhealthy', 'healthcheck reports unhealthy'),
    ('fx-unhealthy', unit(), None, 0, True, True, 'pending', 'unhealthy'),
    ('fx-exited', None, None, None, False, True, 'unhealthy', 'exited (exit code 3)'),
    ('fx-exited', unit('activating', 'auto-restart'), None, 0, False, True, 'pending', 'exited'),
    (None, None, None, None, False, True, 'pending', 'container not found'),
    (None, unit(), None, 0, False, False, 'healthy', 'unit web.service is active'),
    (None, unit('activating', 'start'), None, 0, False, False, 'pending', 'activating/start'),
    ('fx-healthy', unit('failed', 'failed', result='exit-code'), None, 0, False, True, 'unhealthy', 'failed'),
    ('fx-healthy', unit(restarts=3), None, 1, False, True, 'unhealthy', 'restarted 2 time(s)'),
    ('fx-healthy', unit(load='not-found'), None, 0, False, True, 'pending', 'not loaded'),
    ('fx-healthy', unit(), {'ok': False, 'url': 'http://x/', 'error': 'status 500'}, 0, False, True,
     'pending', 'HTTP probe http://x/: status 500'),
    ('fx-healthy', unit(), {'ok': True, 'url': 'http://x/', 'error': None}, 0, False, True, 'healthy',
     'healthy, HTTP probe passed'),
])
def test_judge(cont, unit_, probe, baseline, in_start, expect, verdict, reason):
    got = podman.judge(container(cont) if cont else None, unit_, probe, baseline, in_start, expect)
    assert got[0] == verdict
    assert reason in got[1]


# -- health: the polling loop -----------------------------------------------------

class Clock(object):
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


class ScriptedRunner(object):
    """A runner whose container and unit states change from round to round (one round per inspect)."""

    def __init__(self, rounds, units=None):
        self.rounds, self.units = rounds, units or []
        self.round = -1
        self.calls = []

    def current(self, table):
        return table[min(self.round, len(table) - 1)] if table else {}

    def container_inspect(self, names):
        self.round += 1
        self.calls.append(('inspect', tuple(names)))
        by_name = inspect_by_name()
        out = []
        for name in names:
            source = self.current(self.rounds).get(name)
            if source:
                out.append(dict(by_name[source], Name=name))
        return out

    def unit_states(self, names):
        self.calls.append(('show', tuple(names)))
        table = self.current(self.units)
        return dict((n, table[n]) for n in names if n in table)

    def podman(self, *args, **kwargs):
        self.calls.append(('podman',) + args)
        return 0, '', ''

    def json(self, argv, ok_rcs=(0,)):
        self.calls.append(('json',) + tuple(argv))
        return json.loads(PS_JSON)


def show(active='active', sub='running', restarts='0', name='web.service'):
    return {'Id': name, 'LoadState': 'loaded', 'ActiveState': active, 'SubState': sub, 'Result': 'success',
            'NRestarts': restarts}


def watcher(runner, targets, clock, **kwargs):
    """A watcher on a fake clock; healthchecks are not run unless asked (the script advances per inspect)."""
    kwargs.setdefault('run_healthchecks', False)
    return podman.HealthWatcher(runner, targets, clock=clock, sleep=clock.sleep, probe=kwargs.pop('probe', None),
                                **kwargs)


def test_all_targets_are_polled_together_in_one_inspect_per_round():
    clock = Clock()
    runner = ScriptedRunner([{'a': 'fx-starting', 'b': 'fx-starting'}, {'a': 'fx-healthy', 'b': 'fx-starting'},
                             {'a': 'fx-healthy', 'b': 'fx-healthy'}])
    targets = [podman.Target.from_name('a'), podman.Target.from_name('b')]
    results = watcher(runner, targets, clock, timeout=30, interval=2).wait()
    inspects = [c for c in runner.calls if c[0] == 'inspect']
    assert inspects == [('inspect', ('a', 'b'))] * 3
    summary = [(r['name'], r['status'], r['time_to_healthy']) for r in results]
    assert summary == [('a', 'healthy', 2.0), ('b', 'healthy', 4.0)]


def test_healthchecks_are_run_from_the_first_round_for_containers_with_one():
    clock = Clock()
    runner = ScriptedRunner([{'a': 'fx-starting', 'n': 'fx-nohc'}, {'a': 'fx-starting', 'n': 'fx-nohc'},
                             {'a': 'fx-healthy', 'n': 'fx-nohc'}])
    watcher(runner, [podman.Target.from_name('a'), podman.Target.from_name('n')], clock, timeout=10,
            run_healthchecks=True).wait()
    kinds = [c[0] if c[0] != 'podman' else c[:4] for c in runner.calls if c[0] in ('inspect', 'podman')]
    assert kinds[:3] == ['inspect', ('podman', 'healthcheck', 'run', 'a'), 'inspect']
    assert ('podman', 'healthcheck', 'run', 'n') not in runner.calls


def test_unhealthy_is_conclusive_and_stops_the_wait_early():
    clock = Clock()
    runner = ScriptedRunner([{'a': 'fx-unhealthy', 'b': 'fx-healthy'}])
    results = watcher(runner, [podman.Target.from_name('a'), podman.Target.from_name('b')], clock, timeout=60).wait()
    assert clock.now == 0
    assert [r['status'] for r in results] == ['unhealthy', 'healthy']
    assert results[0]['container']['health_log'][-1]['exit_code'] == 1
    assert podman.summarize(results).startswith('a: unhealthy (healthcheck reports unhealthy')


def test_unhealthy_within_the_start_period_is_waited_out():
    clock = Clock()
    runner = ScriptedRunner([{'a': 'fx-unhealthy'}, {'a': 'fx-unhealthy'}, {'a': 'fx-healthy'}])
    results = watcher(runner, [podman.Target.from_name('a')], clock, timeout=60, interval=5, start_period=8).wait()
    assert results[0]['status'] == 'healthy' and results[0]['checks'] == 3


def test_pending_targets_time_out():
    clock = Clock()
    runner = ScriptedRunner([{'a': 'fx-starting'}])
    results = watcher(runner, [podman.Target.from_name('a')], clock, timeout=7, interval=2).wait()
    assert results[0]['status'] == 'timeout' and not results[0]['healthy']
    assert results[0]['reason'] == 'healthcheck is starting'
    assert clock.now == 7


def test_consecutive_successes_are_required():
    clock = Clock()
    runner = ScriptedRunner([{'a': 'fx-healthy'}, {'a': 'fx-starting'}, {'a': 'fx-healthy'}, {'a': 'fx-healthy'},
                             {'a': 'fx-healthy'}])
    results = watcher(runner, [podman.Target.from_name('a')], clock, timeout=60, interval=1, successes=3).wait()
    assert results[0]['time_to_healthy'] == 4.0 and results[0]['checks'] == 5


def test_a_restart_loop_is_unhealthy():
    clock = Clock()
    runner = ScriptedRunner([{'a': 'fx-healthy'}, {'a': 'fx-exited'}],
                            units=[{'web.service': show()}, {'web.service': show('activating', 'auto-restart', '1')}])
    target = podman.Target('a', container='a', unit='web.service')
    results = watcher(runner, [target], clock, timeout=60, successes=2).wait()
    assert results[0]['status'] == 'unhealthy'
    assert 'restarted 1 time(s)' in results[0]['reason']


def test_a_service_target_finds_its_container_by_label():
    clock = Clock()
    runner = ScriptedRunner([{'fx-web': 'fx-healthy'}], units=[{'fx-web.service': show(name='fx-web.service')}])
    results = watcher(runner, [podman.Target.from_name('fx-web.service')], clock, timeout=10).wait()
    assert ('inspect', ('fx-web',)) in runner.calls
    assert results[0]['status'] == 'healthy' and results[0]['unit']['active_state'] == 'active'


def test_probe_failures_keep_a_target_pending():
    clock = Clock()
    answers = iter([{'ok': False, 'url': 'u', 'error': 'connection refused'}, {'ok': True, 'url': 'u', 'error': None}])
    runner = ScriptedRunner([{'a': 'fx-nohc'}])
    target = podman.Target('a', container='a', probe={'url': 'u'})
    results = watcher(runner, [target], clock, timeout=10, probe=lambda **kw: next(answers)).wait()
    assert results[0]['status'] == 'healthy' and results[0]['checks'] == 2


def test_snapshot_neither_waits_nor_runs_healthchecks():
    clock = Clock()
    runner = ScriptedRunner([{'a': 'fx-starting', 'b': 'fx-healthy', 'c': 'fx-unhealthy'}])
    w = watcher(runner, [podman.Target.from_name(n) for n in 'abc'], clock, timeout=60)
    results = w.snapshot()
    assert [r['status'] for r in results] == ['starting', 'healthy', 'unhealthy']
    assert clock.now == 0
    assert not [c for c in runner.calls if c[:2] == ('podman', 'healthcheck')]


# -- health: HTTP probe ------------------------------------------------------------

class Response(object):
    def __init__(self, code, body):
        self.code, self.body = code, body

    def getcode(self):
        return self.code

    def read(self, size=-1):
        return self.body.encode()


class HTTPError(Exception):
    def __init__(self, code, body):
        super(HTTPError, self).__init__('HTTP Error %s' % code)
        self.code, self.body = code, body

    def read(self):
        return self.body.encode()


def opener_returning(outcome):
    def opener(url, **kwargs):
        assert kwargs['follow_redirects'] == 'none'
        if isinstance(outcome, Exception):
            raise outcome
        return outcome
    return opener


@pytest.mark.parametrize('outcome, kwargs, ok, error', [
    (Response(200, 'ok\n'), {}, True, None),
    (Response(200, '<h1>hello</h1>'), {'body_regex': 'h[0-9]>hello'}, True, None),
    (Response(200, 'ok'), {'body_regex': 'version 2'}, False, "body does not match 'version 2'"),
    (HTTPError(404, 'not found'), {}, False, 'status 404, expected [200]'),
    (HTTPError(503, 'busy'), {'status_codes': [200, 503]}, True, None),
    (IOError('Connection refused'), {}, False, 'Connection refused'),
    (Response(200, 'ok'), {'max_latency_ms': 100}, False, 'latency 250ms above 100ms'),
])
def test_probe_http(outcome, kwargs, ok, error):
    ticks = iter([0.0, 0.25])
    result = podman.probe_http('http://127.0.0.1:8080/health', opener=opener_returning(outcome),
                               clock=lambda: next(ticks), **kwargs)
    assert result['ok'] is ok
    assert (error is None and result['error'] is None) or error in result['error']
    assert result['latency_ms'] == 250


def test_probe_args_keeps_only_probe_options():
    assert podman.probe_args({'url': 'u', 'name': 'web', 'timeout': 2, 'status_codes': [200], 'body_regex': None,
                              'max_latency_ms': None}) == {'url': 'u', 'timeout': 2, 'status_codes': [200],
                                                           'body_regex': None, 'max_latency_ms': None}
    assert podman.probe_args(None) is None


# -- evidence: the unit's journal ----------------------------------------------

JOURNAL = '\n'.join([
    '2026-12-03 10:49:14.336480863 +0000 UTC m=+0.038422887 container create 0013 (image=localhost/hl-web, name=web)',
    'Error: workdir "/srv/app 100%" does not exist on container 0013',
    '2026-12-03 10:49:14.422193097 +0000 UTC m=+0.124135111 container remove 0013 (image=localhost/hl-web, name=web)',
    'PASSWORD=hunter2',
])


@pytest.mark.parametrize('scope, user, flag', [('system', None, '--unit'), ('user', 'hl', '--user-unit')])
def test_unit_journal_keeps_podman_s_error_and_drops_its_event_lines(scope, user, flag):
    module = FakeModule([(has('journalctl'), (0, JOURNAL, ''))])
    runner = podman.Runner(module, podman.Scope(scope, user, euid=0, getpwnam=getpwnam))
    text = runner.unit_journal('web.service')
    assert text.splitlines()[0] == 'Error: workdir "/srv/app 100%" does not exist on container 0013'
    assert 'container create' not in text and 'hunter2' not in text, text
    argv = module.calls[0]['argv']
    assert argv[0] == 'journalctl' and argv[argv.index(flag) + 1] == 'web.service'


def test_unit_journal_never_raises():
    class Broken(FakeModule):
        def run_command(self, *args, **kwargs):
            raise OSError('no journalctl')
    runner = podman.Runner(Broken(), podman.Scope('system', euid=0))
    assert runner.unit_journal('web.service').startswith('journalctl failed')

# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private helpers for the podman modules (scope, commands, locking, health); not a public API, may change without notice."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import contextlib
import errno
import fcntl
import json
import os
import pwd
import re
import time

SYSTEM_UNIT_DIRS = ('/run/containers/systemd', '/etc/containers/systemd', '/usr/share/containers/systemd')
QUADLET_BINARIES = ('/usr/libexec/podman/quadlet', '/usr/lib/podman/quadlet')
SHOW_PROPERTIES = ('Id', 'LoadState', 'ActiveState', 'SubState', 'Result', 'NRestarts', 'ExecMainStatus')
# Values of environment variables with these words in their names are masked in diffs and outputs.
# Case matters: upper or lower case words only, so the quadlet key Secret= itself is not masked.
# PASS, KEY and CREDENTIAL(S) count as whole words of the name only (DB_PASS, JWT_KEY, AWS_CREDENTIALS; not BYPASS).
_SECRET_WORDS = ('PASSWORD|PASSWD|PASSPHRASE|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|'
                 '(?<![A-Za-z])(?:PASS|KEY|CREDENTIALS?)(?![A-Za-z])')
SECRET_NAME_RE = re.compile(r'((?:^|[\s"\'=])[A-Za-z0-9_]*(?:%s|%s|Password|Passwd)[A-Za-z0-9_]*=)[^\s"\']+'
                            % (_SECRET_WORDS, _SECRET_WORDS.lower()))
# the password of a URL (postgres://user:PASSWORD@host/db), whatever the variable is called
URL_PASSWORD_RE = re.compile(r'(://[^/@:\s"\']+:)[^/@\s"\']+@')
MASK = '********'


# podman's own event lines in a unit's journal: 2026-12-03 10:49:14.336480863 +0000 UTC m=+0.038 container create ...
PODMAN_EVENT_RE = re.compile(r'^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? [+-]\d{4} \S+ m=[+-]')


class CommandError(Exception):
    """An external command failed; carries what it ran and what it said."""

    def __init__(self, msg, cmd=None, rc=None, stdout='', stderr=''):
        super(CommandError, self).__init__(msg)
        self.cmd, self.rc, self.stdout, self.stderr = cmd, rc, stdout, stderr

    def details(self):
        return {'cmd': self.cmd, 'rc': self.rc, 'stdout': self.stdout, 'stderr': self.stderr}


def secret_named(name):
    """Whether a variable's name says its value is a credential: the masking policy's own test, so what is
    masked in output, warned about in units and moved into podman secrets by the compose import is one set."""
    probe = '%s=x' % name
    return SECRET_NAME_RE.sub(lambda m: m.group(1) + MASK, probe) != probe


def secret_valued(name, value):
    """Whether an environment value is a credential: by its variable's name (secret_named), or a URL with a
    password, whatever the variable is called. NAME_FILE=/path is the images' convention for "read the credential
    from this file" (a mounted secret): a path, not a credential."""
    if value is None or value == '':
        return False
    value = '%s' % value
    if name.upper().endswith('_FILE') and value.startswith('/'):
        return False
    return secret_named(name) or bool(URL_PASSWORD_RE.search(value))


def mask_secrets(text):
    """Hide values of NAME=value pairs whose NAME looks like a credential."""
    if not text:
        return text
    return URL_PASSWORD_RE.sub(lambda m: m.group(1) + MASK + '@', SECRET_NAME_RE.sub(lambda m: m.group(1) + MASK, text))


# ---------------------------------------------------------------------------
# Scope: where units live and as whom commands run
# ---------------------------------------------------------------------------

class Scope(object):
    """The system or user (rootless) scope: directories, identity and command environment."""

    def __init__(self, scope, user=None, euid=None, getpwnam=None):
        self.name = scope
        self.euid = os.geteuid() if euid is None else euid
        self.user = user if scope == 'user' else None
        try:
            self.pw = (getpwnam or pwd.getpwnam)(user) if self.user else None
        except KeyError:
            raise ValueError('user %s does not exist on the host' % user)
        self.uid = self.pw.pw_uid if self.pw else 0
        self.gid = self.pw.pw_gid if self.pw else 0
        self.home = self.pw.pw_dir if self.pw else '/root'
        self.runtime_dir = '/run/user/%d' % self.uid if self.user else '/run'
        # root manages a user's units by switching to that user for podman and systemctl --user
        self.switch = bool(self.user) and self.euid == 0 and self.uid != 0

    @property
    def is_user(self):
        return self.name == 'user'

    def problem(self):
        """Why the current identity cannot manage this scope, or None."""
        if not self.is_user and self.euid != 0:
            return 'scope=system needs root (become: true); for rootless units use scope=user'
        if self.is_user and self.euid not in (0, self.uid):
            return 'scope=user for %s must run as root (become) or as %s itself' % (self.user, self.user)
        return None

    def unit_dir(self):
        if self.is_user:
            return os.path.join(self.home, '.config', 'containers', 'systemd')
        return '/etc/containers/systemd'

    def search_dirs(self):
        """Quadlet's search path, highest precedence first (podman-systemd.unit(5))."""
        if not self.is_user:
            return list(SYSTEM_UNIT_DIRS)
        return [os.path.join(self.runtime_dir, 'containers', 'systemd'), self.unit_dir(),
                '/etc/containers/systemd/users/%d' % self.uid, '/etc/containers/systemd/users']

    def state_dir(self):
        if self.is_user:
            return os.path.join(self.home, '.local', 'state', 'homelab-deploy')
        return '/var/lib/homelab-deploy'

    def backup_dir(self):
        if self.is_user:
            return os.path.join(self.state_dir(), 'backups')
        return os.path.join(self.state_dir(), 'backups', 'system')

    def lock_path(self):
        return os.path.join(self.runtime_dir, 'homelab-deploy.lock')

    def env(self):
        if not self.is_user:
            return {}
        return {'XDG_RUNTIME_DIR': self.runtime_dir,
                'DBUS_SESSION_BUS_ADDRESS': 'unix:path=%s/bus' % self.runtime_dir}

    def wrap(self, argv):
        """argv as run for this scope: through runuser when root acts for a user."""
        if not self.switch:
            return list(argv)
        env = ['%s=%s' % item for item in sorted(self.env().items())]
        return ['runuser', '-u', self.user, '--', 'env'] + env + list(argv)

    def makedirs(self, path, mode=0o755):
        """Create path and missing parents; in user scope the new directories belong to the user."""
        missing = []
        while path and not os.path.isdir(path):
            missing.append(path)
            path = os.path.dirname(path)
        for directory in reversed(missing):
            os.mkdir(directory, mode)
            self.own(directory)

    def own(self, path):
        if self.switch:
            os.chown(path, self.uid, self.gid)


# ---------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------

class Runner(object):
    """The one way to run podman, systemctl and friends: list argv, scope-aware, errors with evidence."""

    def __init__(self, module, scope):
        self.module = module
        self.scope = scope

    def run(self, argv, ok_rcs=(0,), data=None, env=None, switch=True):
        """Run argv; return (rc, stdout, stderr). Raise CommandError when rc is not in ok_rcs (None: any).

        switch=False runs as the module's own user even when root acts for a user (pure file tools).
        """
        switch = switch and self.scope.switch
        full = self.scope.wrap(argv) if switch else list(argv)
        environ = dict(self.scope.env()) if not switch and self.scope.is_user else {}
        environ.update(env or {})
        cwd = self.scope.home if switch else None
        # binary_data: stdin exactly as given (run_command would append a newline to a secret)
        rc, out, err = self.module.run_command(full, data=data, binary_data=data is not None,
                                               environ_update=environ, cwd=cwd)
        if ok_rcs is not None and rc not in ok_rcs:
            raise CommandError('%s failed (rc=%s): %s' % (' '.join(argv[:3]), rc, (err or out).strip()[-2000:]),
                               cmd=full, rc=rc, stdout=out, stderr=err)
        return rc, out, err

    def json(self, argv, ok_rcs=(0,)):
        rc, out, err = self.run(argv, ok_rcs=ok_rcs)
        try:
            return json.loads(out) if out.strip() else None
        except ValueError as exc:
            raise CommandError('%s printed invalid JSON: %s' % (' '.join(argv[:3]), exc),
                               cmd=self.scope.wrap(argv), rc=rc, stdout=out, stderr=err)

    def podman(self, *args, **kwargs):
        return self.run(['podman'] + list(args), **kwargs)

    def systemctl(self, *args, **kwargs):
        return self.run(self.systemctl_argv(*args), **kwargs)

    def systemctl_argv(self, *args):
        return ['systemctl'] + (['--user'] if self.scope.is_user else []) + list(args)

    def image_exists(self, image):
        rc, dummy, dummy = self.podman('image', 'exists', image, ok_rcs=(0, 1))
        return rc == 0

    def secret_value(self, name):
        """The value of a podman secret, or None when there is no such secret."""
        found = self.json(['podman', 'secret', 'inspect', '--showsecret', '--', name], ok_rcs=(0, 125)) or []
        return found[0].get('SecretData') if found else None

    def secret_exists(self, name):
        rc, dummy, dummy = self.podman('secret', 'exists', name, ok_rcs=(0, 1))
        return rc == 0

    def set_secret(self, name, value):
        """Create or replace a podman secret; None removes it."""
        if value is None:
            self.podman('secret', 'rm', '--', name, ok_rcs=(0, 1, 125))
        else:
            self.podman('secret', 'create', '--replace', name, '-', data=value)

    def unit_states(self, units, properties=SHOW_PROPERTIES):
        """systemctl show for several units in one call: {unit: {property: value}}."""
        if not units:
            return {}
        props = ','.join(properties)
        dummy, out, dummy = self.systemctl('show', '-p', props, '--', *units)
        return dict((block.get('Id'), block) for block in parse_show(out))

    def unit_status(self, unit, lines=30):
        """systemctl status text (with the journal tail) for evidence; never raises."""
        try:
            dummy, out, err = self.systemctl('status', '--no-pager', '--full', '-n', str(lines), '--', unit,
                                             ok_rcs=None)
        except Exception as exc:  # evidence gathering must not hide the original failure
            return 'systemctl status failed: %s' % exc
        return mask_secrets((out or err).strip())

    def unit_journal(self, unit, lines=20):
        """The unit's own journal lines (podman's errors, the container's output), without podman's event lines
        (container create/remove, image pull); for evidence when the container is gone. Never raises."""
        argv = ['journalctl', '--no-pager', '-o', 'cat', '-n', str(lines * 4)]
        argv += ['--user-unit' if self.scope.is_user else '--unit', unit]
        try:
            dummy, out, err = self.run(argv, ok_rcs=None, switch=False)
        except Exception as exc:  # evidence gathering must not hide the original failure
            return 'journalctl failed: %s' % exc
        kept = [line for line in (out or '').splitlines() if line.strip() and not PODMAN_EVENT_RE.match(line)]
        return mask_secrets('\n'.join(kept[-lines:]))

    def container_inspect(self, names):
        """One batched podman container inspect; missing containers are simply absent from the result."""
        if not names:
            return []
        return self.json(['podman', 'container', 'inspect', '--'] + list(names), ok_rcs=(0, 125)) or []

    def quadlet_binary(self):
        for path in QUADLET_BINARIES:
            if os.access(path, os.X_OK):
                return path
        raise CommandError('the quadlet generator was not found (looked in %s); is podman >= 4.4 installed?'
                           % ', '.join(QUADLET_BINARIES))

    def ensure_linger(self, check_mode=False):
        """Enable lingering so the user's manager (and its units) run without a login; True if changed."""
        if not self.scope.is_user or os.path.exists('/var/lib/systemd/linger/%s' % self.scope.user):
            return False
        if check_mode:
            return True
        rc, out, err = self.module.run_command(['loginctl', 'enable-linger', self.scope.user])
        if rc != 0:
            raise CommandError('cannot enable lingering for %s: %s' % (self.scope.user, err.strip()),
                               cmd=['loginctl', 'enable-linger', self.scope.user], rc=rc, stdout=out, stderr=err)
        wait_for(lambda: os.path.exists(os.path.join(self.scope.runtime_dir, 'bus')), 30)
        return True


def parse_show(text):
    """Parse `systemctl show` output for one or more units (blocks separated by blank lines)."""
    blocks, current = [], {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
            current = {}
            continue
        key, sep, value = line.partition('=')
        if sep:
            current[key] = value
    if current:
        blocks.append(current)
    return blocks


def wait_for(predicate, timeout, interval=0.2, clock=time.monotonic, sleep=time.sleep):
    deadline = clock() + timeout
    while True:
        if predicate():
            return True
        if clock() >= deadline:
            return False
        sleep(interval)


@contextlib.contextmanager
def host_lock(path, timeout, scope=None, clock=time.monotonic, sleep=time.sleep):
    """Exclusive flock on path so concurrent runs on one host take turns."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except (IOError, OSError) as exc:
        raise CommandError('cannot open the lock file %s: %s (for scope=user, is the user\'s manager running?)'
                           % (path, exc.strerror))
    if scope is not None:
        scope.own(path)
    try:
        deadline = clock() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except (IOError, OSError) as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES) or clock() >= deadline:
                    raise CommandError('could not take the lock %s within %ss: another run holds it' % (path, timeout))
                sleep(0.2)
        yield path
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------
# Health: one loop polls every target, one batched inspect per round
# ---------------------------------------------------------------------------

class Target(object):
    """Something to judge: a container, a systemd service, or both, plus an optional HTTP probe."""

    def __init__(self, name, container=None, unit=None, probe=None):
        self.name, self.container, self.unit, self.probe = name, container, unit, probe

    @classmethod
    def from_name(cls, name, probe=None):
        """`x.service` is a unit (its container is found by label); anything else names a container."""
        if name.endswith('.service'):
            return cls(name, unit=name, probe=probe)
        return cls(name, container=name, probe=probe)


def probe_http(url, timeout=5, status_codes=None, body_regex=None, max_latency_ms=None, opener=None,
               clock=time.monotonic):
    """One HTTP GET from the managed host; returns a dict with ok, status, latency_ms, error."""
    if opener is None:
        from ansible.module_utils.urls import open_url as opener
    codes = status_codes or [200]
    result = {'url': url, 'ok': False, 'status': None, 'latency_ms': None, 'error': None}
    start = clock()
    body = ''
    try:
        resp = opener(url, timeout=timeout, validate_certs=False, follow_redirects='none')
        result['status'] = resp.getcode()
        body = resp.read(65536).decode('utf-8', 'replace')
    except Exception as exc:
        code = getattr(exc, 'code', None)
        if code is None:
            result['error'] = '%s' % exc
        else:
            result['status'] = code
            reader = getattr(exc, 'read', None)
            body = reader().decode('utf-8', 'replace') if reader else ''
    result['latency_ms'] = int((clock() - start) * 1000)
    result['ok'] = probe_verdict(result, codes, body, body_regex, max_latency_ms)
    return result


def probe_verdict(result, codes, body, body_regex, max_latency_ms):
    if result['status'] not in codes:
        result['error'] = result['error'] or 'status %s, expected %s' % (result['status'], codes)
        return False
    if body_regex and not re.search(body_regex, body):
        result['error'] = 'body does not match %r' % body_regex
        return False
    if max_latency_ms is not None and result['latency_ms'] > max_latency_ms:
        result['error'] = 'latency %sms above %sms' % (result['latency_ms'], max_latency_ms)
        return False
    return True


def container_facts(info):
    """The evidence we keep from one podman inspect entry."""
    state = info.get('State') or {}
    health = state.get('Health') or state.get('Healthcheck') or {}
    check = (info.get('Config') or {}).get('Healthcheck') or {}
    has_check = bool(check.get('Test')) and check.get('Test') != ['NONE']
    log = [dict(exit_code=entry.get('ExitCode'), start=entry.get('Start'),
                output=mask_secrets((entry.get('Output') or '').strip()[-500:]))
           for entry in (health.get('Log') or [])[-3:]]
    return {
        'name': (info.get('Name') or '').lstrip('/'), 'id': (info.get('Id') or '')[:12],
        'state': state.get('Status'), 'started_at': state.get('StartedAt'), 'exit_code': state.get('ExitCode'),
        'has_healthcheck': has_check, 'health': (health.get('Status') or None) if has_check else None,
        'failing_streak': health.get('FailingStreak'), 'health_log': log,
        'unit': ((info.get('Config') or {}).get('Labels') or {}).get('PODMAN_SYSTEMD_UNIT'),
    }


def match_container(infos, wanted):
    """Facts of the inspected container that `wanted` names, by name or (a prefix of) its ID."""
    for info in infos:
        name = (info.get('Name') or '').lstrip('/')
        if wanted in (name, '/' + name) or (len(wanted) >= 3 and (info.get('Id') or '').startswith(wanted)):
            return container_facts(info)
    return None


def unit_facts(show):
    if not show:
        return None
    restarts = show.get('NRestarts', '0')
    return {'name': show.get('Id'), 'load_state': show.get('LoadState'), 'active_state': show.get('ActiveState'),
            'sub_state': show.get('SubState'), 'result': show.get('Result'),
            'n_restarts': int(restarts) if restarts.isdigit() else 0}


def judge(container, unit, probe, baseline_restarts, in_start_period, expect_container):
    """Classify one observation: ('healthy' | 'unhealthy' | 'pending', reason)."""
    if unit is not None:
        if unit['load_state'] == 'not-found':
            return 'pending', 'unit %s is not loaded' % unit['name']
        if unit['active_state'] == 'failed':
            return 'unhealthy', 'unit %s failed (result %s)' % (unit['name'], unit['result'])
        if baseline_restarts is not None and unit['n_restarts'] > baseline_restarts:
            return 'unhealthy', 'unit %s restarted %d time(s) while waiting (restart loop)' % (
                unit['name'], unit['n_restarts'] - baseline_restarts)
    verdict, reason = judge_container(container, unit, in_start_period, expect_container)
    if verdict != 'healthy':
        return verdict, reason
    if unit is not None and unit['active_state'] != 'active':
        return 'pending', 'unit %s is %s/%s' % (unit['name'], unit['active_state'], unit['sub_state'])
    if unit is not None and container is None:
        reason = 'unit %s is active' % unit['name']
    if probe is not None and not probe['ok']:
        return 'pending', 'HTTP probe %s: %s' % (probe['url'], probe['error'])
    return 'healthy', reason + (', HTTP probe passed' if probe is not None else '')


def judge_container(container, unit, in_start_period, expect_container):
    if container is None:
        if expect_container:
            return 'pending', 'container not found'
        return 'healthy', 'no container'
    if container['state'] != 'running':
        unit_busy = unit is not None and unit['active_state'] in ('activating', 'active', 'reloading')
        if unit_busy:
            return 'pending', 'container is %s' % container['state']
        return 'unhealthy', 'container is %s (exit code %s)' % (container['state'], container['exit_code'])
    if not container['has_healthcheck']:
        return 'healthy', 'running (no healthcheck)'
    if container['health'] == 'healthy' and container['failing_streak']:
        return 'pending', 'the last healthcheck failed (failing streak %s)' % container['failing_streak']
    if container['health'] == 'healthy':
        return 'healthy', 'healthy'
    if container['health'] == 'unhealthy' and not in_start_period:
        return 'unhealthy', 'healthcheck reports unhealthy (failing streak %s)' % container['failing_streak']
    return 'pending', 'healthcheck is %s' % (container['health'] or 'starting')


class HealthWatcher(object):
    """Poll all targets together until each is healthy enough times in a row, conclusively unhealthy, or time runs out."""

    def __init__(self, runner, targets, timeout=60, interval=2, successes=1, start_period=0,
                 run_healthchecks=True, probe=probe_http, clock=time.monotonic, sleep=time.sleep, on_healthy=None):
        self.runner, self.targets = runner, list(targets)
        self.timeout, self.interval, self.successes, self.start_period = timeout, interval, successes, start_period
        self.run_healthchecks, self.probe, self.clock, self.sleep = run_healthchecks, probe, clock, sleep
        self.on_healthy = on_healthy  # called with (target name, seconds) as each target gets healthy
        self.state = dict((t.name, {'status': 'pending', 'streak': 0, 'baseline': None, 'checks': 0,
                                    'time_to_healthy': None, 'reason': None, 'evidence': {}})
                          for t in self.targets)
        self.with_healthcheck = set()

    def wait(self):
        start = self.clock()
        if self.run_healthchecks:
            self.find_containers()  # learn which containers have a healthcheck to run in the first round
        while True:
            elapsed = self.clock() - start
            self.round(elapsed, start)
            pending = [t for t in self.targets if self.state[t.name]['status'] == 'pending']
            if not pending or self.clock() - start >= self.timeout:
                break
            self.sleep(min(self.interval, max(0.0, self.timeout - (self.clock() - start))))
        return self.results(final=True)

    def snapshot(self):
        """One round without waiting or running healthchecks (check mode)."""
        self.run_healthchecks = False
        self.round(self.start_period, self.clock())
        return self.results(final=False)

    def round(self, elapsed, start):
        for name in sorted(self.with_healthcheck) if self.run_healthchecks else ():
            self.runner.podman('healthcheck', 'run', name, ok_rcs=None)
        containers = self.find_containers()
        units = self.find_units(containers)
        for target in self.targets:
            if self.state[target.name]['status'] != 'pending':
                continue
            self.observe(target, containers.get(target.name), units, elapsed, start)

    def find_containers(self):
        """{target name: container facts}; unit targets find their container by its PODMAN_SYSTEMD_UNIT label."""
        wanted = dict((t.name, t.container or self.containers_by_unit().get(t.unit)) for t in self.targets)
        infos = self.runner.container_inspect(sorted(set(n for n in wanted.values() if n)))
        found = dict((name, match_container(infos, cname)) for name, cname in wanted.items() if cname)
        self.with_healthcheck = set(
            wanted[name] for name, facts in found.items()
            if facts and self.state[name]['status'] == 'pending' and facts['has_healthcheck'] and facts['state'] == 'running')
        return found

    def containers_by_unit(self):
        by_unit = {}
        if any(t.container is None and t.unit for t in self.targets):
            for entry in self.runner.json(['podman', 'ps', '-a', '--format', 'json']) or []:
                label = (entry.get('Labels') or {}).get('PODMAN_SYSTEMD_UNIT')
                if label and (label not in by_unit or entry.get('State') == 'running'):
                    by_unit[label] = (entry.get('Names') or [entry.get('Id')])[0]
        return by_unit

    def find_units(self, containers):
        names = set(t.unit for t in self.targets if t.unit)
        names.update(c['unit'] for c in containers.values() if c and c['unit'])
        return dict((name, unit_facts(show)) for name, show in self.runner.unit_states(sorted(names)).items())

    def observe(self, target, container, units, elapsed, start):
        st = self.state[target.name]
        unit_name = target.unit or (container or {}).get('unit')
        unit = units.get(unit_name) if unit_name else None
        if unit is not None and st['baseline'] is None:
            st['baseline'] = unit['n_restarts']
        probe = self.probe(**target.probe) if target.probe else None
        verdict, reason = judge(container, unit, probe, st['baseline'], elapsed < self.start_period,
                                expect_container=target.container is not None or unit_name is None)
        st['checks'] += 1
        st['reason'] = reason
        st['evidence'] = {'container': container, 'unit': unit, 'probe': probe}
        st['streak'] = st['streak'] + 1 if verdict == 'healthy' else 0
        if verdict == 'unhealthy':
            st['status'] = 'unhealthy'
        elif verdict == 'healthy' and st['streak'] >= self.successes:
            st['status'] = 'healthy'
            st['time_to_healthy'] = round(self.clock() - start, 1)
            if self.on_healthy is not None:
                self.on_healthy(target.name, st['time_to_healthy'])

    def results(self, final):
        out = []
        for target in self.targets:
            st = self.state[target.name]
            status = st['status']
            if status == 'pending':
                status = 'timeout' if final else ('healthy' if st['streak'] else 'starting')
            out.append(dict(st['evidence'], name=target.name, status=status, healthy=status == 'healthy',
                            reason=st['reason'], checks=st['checks'], time_to_healthy=st['time_to_healthy']))
        return out


def summarize(results):
    """One line per unhealthy target, for failure messages."""
    return '; '.join('%s: %s (%s)' % (r['name'], r['status'], r['reason']) for r in results if not r['healthy'])


# Argument spec of one HTTP probe, shared by podman_health and quadlet.
PROBE_OPTIONS = dict(
    url=dict(type='str', required=True),
    status_codes=dict(type='list', elements='int', default=[200]),
    body_regex=dict(type='str'),
    max_latency_ms=dict(type='int'),
    timeout=dict(type='int', default=5),
)


def probe_args(probe):
    """Keyword arguments for probe_http from a validated probe option (its keys match)."""
    return dict((key, probe.get(key)) for key in PROBE_OPTIONS) if probe else None

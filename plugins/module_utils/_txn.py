# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private helpers for the quadlet_apply module (a set of units as one transaction); not a public API, may change without notice.

Flow, all under the host lock: recover leftover journals -> plan -> validate the whole set -> (check mode
stops here) -> journal -> write files and secrets -> one daemon-reload -> phases (queue starts, wait together)
-> verify checks -> commit (the rollback point <name>.last.json). A failure rolls every unit back.
The pure functions at the top decide; the classes below them talk to the host.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import json
import os
import re
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.homelab.deploy.plugins.module_utils import _podman as podman
from ansible_collections.homelab.deploy.plugins.module_utils import _route as route
from ansible_collections.homelab.deploy.plugins.module_utils import _quadlet as quadlet
from ansible_collections.homelab.deploy.plugins.module_utils._unitfile import (
    UnitFileError, canonical_text, parse_unit, parse_volume)

TXN_NAME_RE = re.compile(r'^[a-z][a-z0-9-]{0,100}\Z')
PAUSE_ENV = 'HOMELAB_DEPLOY_PAUSE_AT'
PAUSE_SECONDS = 120
JOURNAL_VERSION = 1
PULL_WORKERS = 4  # concurrent image pulls
HEALTH_RECHECK = 30  # seconds verify_health gives a container still starting
ACTIVE_STATES = ('active', 'activating', 'reloading')
# Units whose change is applied by creating a podman object once (quadlet passes --ignore): never restarted.
INFRA_TYPES = ('network', 'volume', 'image', 'build')
PLAN_PROPERTIES = ('Id', 'LoadState', 'ActiveState', 'SubState', 'Result', 'NeedDaemonReload', 'InvocationID', 'Job')
JOB_PROPERTIES = ('Id', 'ActiveState', 'SubState', 'Result', 'InvocationID', 'Job')
MIN_MASKED_LENGTH = 4


class TxnError(Exception):
    """A step of the transaction failed; failure says which unit, which check, why, and the evidence."""

    def __init__(self, msg, failure=None):
        super(TxnError, self).__init__(msg)
        self.failure = failure or {}


# ---------------------------------------------------------------------------
# The units of a transaction
# ---------------------------------------------------------------------------

def check_txn_name(name):
    if not TXN_NAME_RE.match(name or ''):
        raise quadlet.QuadletError('invalid transaction name %r: lower-case letters, digits and "-", starting '
                                   'with a letter' % name)


def unit_spec(raw):
    """One entry of the units option, checked and with its defaults."""
    base, unit_type, filename = quadlet.split_name(raw['name'])
    state = raw.get('state') or 'present'
    restart = bool(raw.get('restart'))
    if state == 'present' and raw.get('content') is None and not restart:
        raise quadlet.QuadletError('unit %s: content is required with state=present (or restart=true, which keeps '
                                   'the file on disk as it is)' % filename)
    if raw.get('purge') and state != 'absent':
        raise quadlet.QuadletError('unit %s: purge only applies to state=absent' % filename)
    if restart and state != 'present':
        raise quadlet.QuadletError('unit %s: restart only applies to state=present' % filename)
    quadlet.check_content(filename, raw.get('content'))
    wait = raw.get('wait')
    timeout = raw.get('timeout')
    return {'file': filename, 'base': base, 'type': unit_type, 'state': state, 'content': raw.get('content'),
            'phase': int(raw.get('phase') or 0), 'wait': unit_type == 'container' if wait is None else bool(wait),
            'timeout': 120 if timeout is None else int(timeout), 'purge': bool(raw.get('purge')), 'restart': restart,
            'pull': raw.get('pull')}


def unit_specs(units):
    """The units option as specs in phase order; a file named twice is refused."""
    specs = [unit_spec(raw) for raw in units or []]
    names = [s['file'] for s in specs]
    twice = sorted(set(n for n in names if names.count(n) > 1))
    if twice:
        raise quadlet.QuadletError('unit(s) %s appear more than once in units' % ', '.join(twice))
    return sorted(specs, key=lambda s: (s['phase'], s['file']))


def route_items(raw_routes):
    """The routes option as _route.Route objects (options checked like traefik_route's) and their no_log values."""
    items, hidden = [], set()
    if raw_routes:
        from ansible.module_utils.urls import open_url  # heavy to import: only for a set with routes
    for index, raw in enumerate(raw_routes or []):
        try:
            params, values = route.check_args(raw, 'routes[%d] (%s)' % (index, (raw or {}).get('name')))
        except route.RouteError as exc:
            raise quadlet.QuadletError('%s' % exc)
        items.append(route.Route(params, open_url))
        hidden.update(values)
    names = [r.name for r in items]
    twice = sorted(set(n for n in names if names.count(n) > 1))
    if twice:
        raise quadlet.QuadletError('route(s) %s appear more than once in routes' % ', '.join(twice))
    return items, hidden


def file_items(raw_files, specs):
    """The files option checked: absolute paths, each named once, restarts naming present units of the set."""
    present = set(s['file'] for s in specs if s['state'] == 'present')
    items = []
    for index, raw in enumerate(raw_files or []):
        path = raw.get('path') or ''
        where = 'files[%d] (%s)' % (index, path)
        if not os.path.isabs(path) or os.path.normpath(path) != path:
            raise quadlet.QuadletError('%s: path must be an absolute, normalised path' % where)
        try:
            mode = int('%s' % (raw.get('mode') or '0644'), 8)
        except ValueError:
            raise quadlet.QuadletError('%s: mode must be octal such as 0644, got %r' % (where, raw.get('mode')))
        unknown = sorted(set(raw.get('restarts') or ()) - present)
        if unknown:
            raise quadlet.QuadletError('%s: restarts names %s, not a present unit of this set' % (where, ', '.join(unknown)))
        items.append({'path': path, 'content': raw['content'], 'mode': mode, 'restarts': list(raw.get('restarts') or [])})
    paths = [i['path'] for i in items]
    twice = sorted(set(p for p in paths if paths.count(p) > 1))
    if twice:
        raise quadlet.QuadletError('file(s) %s appear more than once in files' % ', '.join(twice))
    return items


def directory_items(raw_dirs):
    """The directories option checked: absolute, normalised paths, each named once, octal modes."""
    items = []
    for index, raw in enumerate(raw_dirs or []):
        path = raw.get('path') or ''
        where = 'directories[%d] (%s)' % (index, path)
        if not os.path.isabs(path) or os.path.normpath(path) != path or path == '/':
            raise quadlet.QuadletError('%s: path must be an absolute, normalised path other than /' % where)
        try:
            mode = int('%s' % (raw.get('mode') or '0750'), 8)
        except ValueError:
            raise quadlet.QuadletError('%s: mode must be octal such as 0750, got %r' % (where, raw.get('mode')))
        items.append({'path': path, 'owner': raw.get('owner'), 'group': raw.get('group'), 'mode': mode})
    paths = [i['path'] for i in items]
    twice = sorted(set(p for p in paths if paths.count(p) > 1))
    if twice:
        raise quadlet.QuadletError('directory(ies) %s appear more than once in directories' % ', '.join(twice))
    return items


def symlink_on_path(path, islink=os.path.islink, exists=os.path.lexists):
    """The first existing component of path that is a symbolic link (its target), or None."""
    current = '/'
    for part in path.strip('/').split('/'):
        current = os.path.join(current, part)
        if not exists(current):
            return None
        if islink(current):
            return current
    return None


def unescape_path(value):
    """A path as systemd reads it from a [Container] value the renderer escaped ($$ -> $, %% -> %)."""
    return value.replace('$$', '$').replace('%%', '%')


def bind_sources(unit):
    """Absolute host paths of the unit's Volume= binds (named volumes and anonymous ones left out)."""
    out = []
    for value in unit.get_all('Container', 'Volume'):
        source = parse_volume(value)['source']
        if source and source.startswith('/'):
            out.append(unescape_path(source))
    return out


def host_id(value, kind, getpwnam=None, getgrnam=None):
    """A uid/gid from a name or number (-1, left as it is, for None); KeyError for an unknown name."""
    if value is None:
        return -1
    if isinstance(value, int) or ('%s' % value).isdigit():
        return int(value)
    import grp
    import pwd
    if kind == 'user':
        return (getpwnam or pwd.getpwnam)(value).pw_uid
    return (getgrnam or grp.getgrnam)(value).gr_gid


def plan_file(item, text, mode):
    """The file item with what the host has (before, mode_before) and whether it changes."""
    plan = dict(item, before=text, mode_before=mode)
    plan['changed'] = text != item['content'] or mode != item['mode']
    return plan


def route_report(item):
    action = 'unchanged' if not item.changed else ('write' if item.present else 'remove')
    return dict(item.info, action=action)


def check_verify(checks):
    """Each verify check runs a command in a container, an HTTP probe, or both."""
    for check in checks or []:
        if not check.get('command') and not check.get('http'):
            raise quadlet.QuadletError('verify check %s needs command or http' % check['name'])
        if check.get('command') and not check.get('container'):
            raise quadlet.QuadletError('verify check %s: command runs in a container; give container'
                                       % check['name'])


# ---------------------------------------------------------------------------
# Image pinning
# ---------------------------------------------------------------------------

def image_to_pin(unit, unit_type):
    """The Image= of a .container unit that pinning would rewrite, or None (.image/.build refs, digests)."""
    if unit_type != 'container':
        return None
    image = unit.get('Container', 'Image')
    if not image or '@' in image or image.endswith('.image') or image.endswith('.build'):
        return None
    return image


def rewrite_image(text, image, pinned):
    """text with the [Container] Image=image line pointing at pinned; every other byte kept."""
    out, section = [], None
    for line in text.splitlines(True):
        stripped = line.strip()
        if stripped.startswith('[') and stripped.endswith(']'):
            section = stripped[1:-1]
        elif section == 'Container' and '=' in line:
            key, _sep, value = line.partition('=')
            if key.strip() == 'Image' and value.strip() == image:
                line = key + '=' + value.replace(image, pinned, 1)
        out.append(line)
    return ''.join(out)


# ---------------------------------------------------------------------------
# Planning: what each unit needs
# ---------------------------------------------------------------------------

def is_active(show):
    show = show or {}
    return show.get('ActiveState') in ACTIVE_STATES and show.get('SubState') != 'auto-restart'


def needs_reload(show):
    """systemd has not loaded the current file: never loaded, or changed on disk since (NeedDaemonReload)."""
    show = show or {}
    return show.get('NeedDaemonReload') == 'yes' or show.get('LoadState') in (None, 'not-found')


def needs_validation(specs, shows):
    """The generator dry run proves new text; a set whose every file is byte-identical to the one systemd has
    loaded was proven when it was written (a no-change re-run skips it)."""
    for spec in specs:
        if spec['state'] != 'present':
            continue
        if spec['after'] != spec['before'] or needs_reload(shows.get(spec['service_name'])):
            return True
    return False


def effective_change(before, after, filename):
    if before is None:
        return True
    try:
        return canonical_text(before, filename) != canonical_text(after, filename)
    except UnitFileError:
        return True


def file_action(spec):
    if spec['state'] == 'absent':
        return 'remove' if spec['before'] is not None else 'unchanged'
    return 'unchanged' if spec['before'] == spec['after'] else 'write'


def is_masked(show):
    """The service is masked (systemctl mask): its owner keeps it from starting, whatever the deploy declares."""
    return (show or {}).get('LoadState') == 'masked'


def service_action(spec, show, changed_secrets):
    """start | restart | stop | none for one unit, from its files, its service and the changed secrets.

    restart=true restarts a running unit whatever changed (a unit that does not run is started, as always).
    A masked service is left as it is: its file is still written, it is neither started nor waited on.
    """
    if spec['state'] == 'absent':
        return 'stop' if spec['before'] is not None and is_active(show) else 'none'
    if is_masked(show):
        return 'none'
    if not is_active(show):
        return 'start'
    if spec.get('restart'):
        return 'restart'  # asked for: restart=true restarts even an unchanged unit (drift fixes)
    if spec['type'] in INFRA_TYPES:
        return 'none'
    if effective_change(spec['before'], spec['after'], spec['file']):
        return 'restart'
    if set(spec.get('secrets') or ()) & set(changed_secrets):
        return 'restart'
    if needs_reload(show):
        return 'restart'  # the file is current but systemd runs an older one (killed before daemon-reload)
    return 'none'


def plan_unit(spec, show, changed_secrets):
    """The spec with what to do: file_action, service_action, reload, and the service's state now."""
    plan = dict(spec)
    plan['file_action'] = file_action(spec)
    plan['service_action'] = service_action(spec, show, changed_secrets)
    plan['reload'] = plan['file_action'] != 'unchanged' or (spec['state'] == 'present' and needs_reload(show))
    plan['was_active'] = is_active(show)
    plan['masked'] = spec['state'] == 'present' and is_masked(show)
    return plan


def changed_secrets(wanted, current):
    """Names of the wanted secrets whose value differs from the one in the store."""
    return sorted(name for name, value in (wanted or {}).items() if current.get(name) != '%s' % value)


def touches(plan):
    return plan['file_action'] != 'unchanged' or plan['service_action'] != 'none' or plan['reload']


def purge_wanted(plan):
    return plan['state'] == 'absent' and plan['purge']


def is_change(plans, secrets):
    return bool(secrets) or any(touches(p) for p in plans)


def phase_groups(plans):
    """[(phase, [plans])] in ascending phase order, present units only."""
    phases = {}
    for plan in plans:
        if plan['state'] == 'present':
            phases.setdefault(plan['phase'], []).append(plan)
    return sorted(phases.items())


def unit_report(plan):
    report = {'action': plan['file_action'], 'service': plan['service_action'], 'service_name': plan['service_name'],
              'container': plan.get('container'), 'seconds_to_healthy': None}
    if plan.get('health_note'):
        report['health'] = plan['health_note']
    if plan.get('image_note'):
        report['image'] = plan['image_note']
    if plan.get('masked'):
        report['masked'] = True  # left stopped: its owner masked it
    return report


IMAGE_LINE_RE = re.compile(r'(?m)^[ \t]*Image[ \t]*=[ \t]*(\S+)[ \t]*$')
NOTIFY_HEALTHY_RE = re.compile(r'(?mi)^[ \t]*Notify[ \t]*=[ \t]*healthy[ \t]*\n?')


PULL_POLICIES = ('never', 'missing', 'newer', 'always')  # weakest first: an image two units name gets the strongest


def pull_spec(spec):
    """How a present .container unit's image is pulled, read from one parse of the content as given:
    ((policy, image), auth file). The policy is its pull option, else its Pull= (podman's default missing);
    (None, None) for other units, .image/.build references and localhost/ images (nothing to pull from). The auth
    file is the --authfile of its PodmanArgs= (Quadlet 5.4 has no AuthFile= for containers), or None."""
    if spec['type'] != 'container' or spec['state'] != 'present' or not spec['content']:
        return (None, None), None
    try:
        unit = parse_unit(spec['content'], spec['file'])
    except UnitFileError:
        return (None, None), None
    words = unit.lookup_words('Container', 'PodmanArgs')
    found = None
    for index, word in enumerate(words):
        if word.startswith('--authfile='):
            found = word.split('=', 1)[1]
        elif word == '--authfile' and index + 1 < len(words):
            found = words[index + 1]
    auth = unescape_path(found) if found else None
    image = (unit.get('Container', 'Image') or '').strip()
    if not image or image.endswith(('.image', '.build')) or image.startswith('localhost/'):
        return (None, None), auth
    policy = (spec.get('pull') or unit.get('Container', 'Pull') or 'missing').strip().lower()
    return ((policy if policy in PULL_POLICIES else 'missing'), image), auth


def waits_on_image_healthcheck(unit, unit_type):
    """The image a .container unit relies on for its health (Notify=healthy without HealthCmd=), or None."""
    if unit_type != 'container':
        return None
    if (unit.get('Container', 'Notify') or '').strip().lower() != 'healthy' or unit.get('Container', 'HealthCmd'):
        return None
    image = unit.get('Container', 'Image') or ''
    return None if not image or image.endswith('.image') or image.endswith('.build') else image


def image_has_healthcheck(inspected):
    """Whether a podman image inspect entry declares a HEALTHCHECK that runs (not NONE)."""
    check = ((inspected.get('Config') or {}).get('Healthcheck') or inspected.get('HealthCheck') or {})
    test = check.get('Test') or []
    return bool(test) and test[0].upper() != 'NONE'


def phase_report(phase, plans):
    return {'phase': phase, 'units': [p['file'] for p in plans],
            'started': [p['service_name'] for p in plans if p['service_action'] == 'start'],
            'restarted': [p['service_name'] for p in plans if p['service_action'] == 'restart'],
            'seconds': None, 'healthy': {}}


# ---------------------------------------------------------------------------
# Diff
# ---------------------------------------------------------------------------

def diff_block(filename, text):
    text = text or ''
    return '# file: %s\n%s%s' % (filename, text, '' if not text or text.endswith('\n') else '\n')


def build_diff(plans, secrets, mask, routes=(), files=()):
    """before/after: the changed files one after the other under `# file: NAME` headers, secrets masked."""
    before, after = [], []
    for plan in plans:
        if plan['file_action'] != 'unchanged':
            before.append(diff_block(plan['file'], mask(plan['before'])))
            after.append(diff_block(plan['file'], mask(plan['after'])))
    for item in files:
        if item['changed']:
            before.append(diff_block(item['path'], mask(item['before'])))
            after.append(diff_block(item['path'], mask(item['content'])))
    for item in routes:
        if item.changed:
            before.append(diff_block(item.path, mask(item.old)))
            after.append(diff_block(item.path, mask(item.text)))
    for name in sorted(secrets):
        before.append('# secret: %s = %s\n' % (name, podman.MASK))
        after.append('# secret: %s = %s (changed)\n' % (name, podman.MASK))
    return {'before': ''.join(before), 'after': ''.join(after)}


class Masker(object):
    """Hides credential-like NAME=value pairs and every known secret value (given and previous)."""

    def __init__(self, values=()):
        self.values = set()
        self.add(values)

    def add(self, values):
        self.values.update(v for v in ('%s' % x for x in values if x is not None) if len(v) >= MIN_MASKED_LENGTH)

    def __call__(self, text):
        if not text:
            return text
        for value in sorted(self.values, key=len, reverse=True):
            text = text.replace(value, podman.MASK)
        return podman.mask_secrets(text)


# ---------------------------------------------------------------------------
# Journal records (pure)
# ---------------------------------------------------------------------------

def journal_unit(plan):
    return {'path': plan['path'], 'type': plan['type'], 'before': plan['before'],
            'after': plan['after'] if plan['state'] == 'present' else None,
            'service': plan['service_name'], 'container': plan.get('container'),
            'was_active': plan['was_active'], 'phase': plan['phase'], 'wait': plan['wait'],
            'timeout': plan['timeout'], 'file_action': plan['file_action'],
            'service_action': plan['service_action'], 'touched': plan['service_action'] == 'stop'}


def new_record(name, scope, plans, previous_secrets, now=None, pid=None, txn_id=None, routes=(), files=(), moved=None):
    """The journal of a transaction before its first change: every unit it touches, the previous secrets,
    the route files it changes (path, text before, text after).

    Units it stops (state=absent) count as touched from the start: they are stopped before any file changes.
    """
    now = time.time() if now is None else now
    return {'version': JOURNAL_VERSION, 'txn_id': txn_id or uuid.uuid4().hex[:12], 'name': name,
            'scope': scope.name, 'user': scope.user, 'state': 'prepared', 'pid': os.getpid() if pid is None else pid,
            'started': now, 'updated': now,
            'units': dict((p['file'], journal_unit(p)) for p in plans if touches(p)),
            # running units the transaction does not touch: systemd stops those that Requires= a unit whose restart
            # fails, so a rollback starts them again (bystanders)
            'bystanders': dict((p['file'], journal_unit(p)) for p in plans
                               if not touches(p) and p['state'] == 'present' and p['was_active']
                               and p['type'] not in INFRA_TYPES),
            'routes': dict((r.name, {'path': r.path, 'before': r.old, 'after': r.text}) for r in routes if r.changed),
            'files': dict((f['path'], {'before': f['before'], 'mode': f['mode_before'], 'after': f['content']})
                          for f in files if f['changed']),
            'secrets': dict(previous_secrets),
            # image references a pull moved to a new image: put back on the image they named (rollback, revert)
            'moved': dict(moved or {})}


def last_record(record, now=None):
    """The rollback point kept after a commit: the journal with every unit counted as touched."""
    last = copy.deepcopy(record)
    last['state'] = 'committed'
    last['committed'] = time.time() if now is None else now
    last.pop('pid', None)
    for unit in last['units'].values():
        unit['touched'] = True
    return last


def recovery_kind(record):
    """A leftover journal is rolled back, unless its transaction had committed (then it is just finished)."""
    return 'finish' if record.get('state') == 'committed' else 'rollback'


def ordered_units(record):
    return sorted(record['units'].items(), key=lambda item: (item[1]['phase'], item[0]))


def rollback_plan(record, current):
    """What puts the units of a record back, given the current file texts {file: text or None}.

    Files that differ from their before text are restored (or removed when they were new). Services the
    transaction touched are restarted when they ran before and stopped when they did not; new units are
    stopped too. Stops come first, in reverse phase order; restarts after the reload, in phase order.
    """
    plan = {'stop': [], 'restore': [], 'remove': [], 'restart': [], 'reload': record.get('state') != 'prepared'}
    for filename, unit in ordered_units(record):
        if current.get(filename) != unit['before']:
            plan['remove' if unit['before'] is None else 'restore'].append(filename)
        if unit['before'] is None or (unit['touched'] and not unit['was_active']):
            plan['stop'].append(unit['service'])
        elif unit['touched']:
            plan['restart'].append(unit['service'])
    plan['stop'].reverse()
    plan['reload'] = plan['reload'] or bool(plan['restore'] or plan['remove'])
    return plan


def secrets_to_restore(previous, current):
    """{name: previous value or None} of the secrets that no longer hold their previous value."""
    return dict((name, value) for name, value in (previous or {}).items() if current.get(name) != value)


def rollback_summary(rollback):
    """One line per thing a rollback did, for recovered[].actions and messages."""
    lines = ['restored %s' % f for f in rollback['restored']] + ['removed %s' % f for f in rollback['removed']]
    lines += ['route %s' % r for r in rollback.get('routes') or []]
    lines += ['file %s' % f for f in rollback.get('files') or []]
    lines += ['secret %s restored' % s for s in rollback['secrets']]
    lines += ['daemon-reload'] if rollback.get('reloaded') else []
    lines += ['stopped %s' % s for s in rollback['stopped']] + ['restarted %s' % s for s in rollback['restarted']]
    lines += ['started again %s' % s for s in rollback.get('started') or []]
    lines += ['tag %s put back' % i for i in rollback.get('retagged') or []]
    return lines


def job_verdict(show, baseline):
    """Has a queued start/restart begun? 'begun', None (still queued), or why it ended without starting.

    A new InvocationID means systemd started the unit (again); no job left and the same invocation means
    the job ended without starting it (a dependency failed, a condition was not met).
    """
    invocation = show.get('InvocationID') or ''
    if invocation and invocation != (baseline or ''):
        return 'begun'
    if show.get('Job'):
        return None
    if show.get('ActiveState') in ACTIVE_STATES:
        return 'begun'
    return 'the start job of %s ended without starting it (%s/%s, result %s); did a dependency fail?' % (
        show.get('Id'), show.get('ActiveState'), show.get('SubState'), show.get('Result'))


def command_verdict(rc, out, err, stdout_regex):
    """Error of one verify command run, or None when it passed."""
    if rc != 0:
        return 'exit code %s: %s' % (rc, (err or out).strip()[-500:])
    if stdout_regex and not re.search(stdout_regex, out or ''):
        return 'stdout does not match %r: %s' % (stdout_regex, (out or '').strip()[-500:])
    return None


# ---------------------------------------------------------------------------
# Journal files
# ---------------------------------------------------------------------------

def txn_dir(scope):
    return os.path.join(scope.state_dir(), 'txn')


def leftover_journals(directory):
    """Journal files left by runs that did not finish (the rollback points are not journals)."""
    try:
        names = os.listdir(directory)
    except (IOError, OSError):
        return []
    return sorted(os.path.join(directory, n) for n in names
                  if n.endswith('.json') and not n.endswith('.last.json') and not n.startswith('.'))


def stat_mode(path):
    """The permission bits of a file, or None when there is none."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        return None


def read_json(path):
    """The JSON in path, None when there is no such file; ValueError when it is not a journal."""
    try:
        with open(path) as handle:
            data = json.load(handle)
    except (IOError, OSError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get('units'), dict):
        raise ValueError('%s is not a transaction journal' % path)
    return data


def write_private(scope, path, data):
    """Atomically replace path with data as JSON, mode 0600 from the first byte, in a 0700 directory."""
    directory = os.path.dirname(path)
    scope.makedirs(directory, 0o700)
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), suffix='.tmp', dir=directory)
    try:
        with os.fdopen(fd, 'w') as handle:
            json.dump(data, handle, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        scope.own(tmp)
        os.rename(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    sync_dir(directory)


def sync_dir(directory):
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def remove_file(path):
    if os.path.exists(path):
        os.remove(path)


class Journal(object):
    """<state_dir>/txn/<name>.json while a transaction runs; <name>.last.json: the last committed one."""

    def __init__(self, scope, name):
        self.scope = scope
        self.path = os.path.join(txn_dir(scope), name + '.json')
        self.last_path = os.path.join(txn_dir(scope), name + '.last.json')

    def save(self, record):
        record['updated'] = time.time()
        write_private(self.scope, self.path, record)

    def save_last(self, record):
        write_private(self.scope, self.last_path, record)

    def load_last(self):
        return read_json(self.last_path)

    def remove(self):
        remove_file(self.path)

    def remove_last(self):
        remove_file(self.last_path)


def pause_seconds(value, state):
    """Seconds to pause at state for HOMELAB_DEPLOY_PAUSE_AT=STATE[:SECONDS] (default 120), or None."""
    wanted, _sep, seconds = (value or '').partition(':')
    if wanted != state:
        return None
    try:
        return float(seconds) if seconds else PAUSE_SECONDS
    except ValueError:
        return PAUSE_SECONDS


def pause_at(state, sleep=time.sleep):
    """Test hook: stop right after reaching state when HOMELAB_DEPLOY_PAUSE_AT names it (tests kill us there)."""
    seconds = pause_seconds(os.environ.get(PAUSE_ENV), state)
    if seconds is not None:
        sleep(seconds)


class Timer(object):
    def __init__(self, clock):
        self.clock, self.start, self.seconds = clock, clock(), {}

    def mark(self, key, since):
        self.seconds[key] = round(self.clock() - since, 2)

    def total(self):
        self.mark('total', self.start)
        return self.seconds


def purge_object(spec, unit):
    """(kind, name) of the podman object purge=true removes for an absent unit, or None."""
    if not spec['purge'] or spec['type'] not in quadlet.OBJECT_KEYS:
        return None
    kind = quadlet.OBJECT_KEYS[spec['type']][1]
    name = quadlet.object_name(spec['base'], spec['type'], unit)
    if kind == 'container' and unit is not None:
        name = quadlet.container_target(unit) or name
    return kind, name


def rollback_message(rollback):
    done = ', '.join(rollback_summary(rollback)) or 'nothing needed undoing'
    if rollback['ok']:
        return 'rolled the whole set back: %s' % done
    return ('rolled the set back WITH ERRORS: %s (done: %s); the journal is kept and the next run rolls back again'
            % ('; '.join(rollback['errors']), done))


def is_job(text):
    """Whether a unit text is a one-shot job (quadlet.is_job): done when it exited 0, its container gone."""
    if not text:
        return False
    try:
        return quadlet.is_job(parse_unit(text))
    except UnitFileError:
        return False


def health_target(item):
    if item.get('job'):
        return podman.Target(item['service_name'], unit=item['service_name'])  # its container is gone when done
    if item.get('container'):
        return podman.Target(item['container'], container=item['container'], unit=item['service_name'])
    return podman.Target.from_name(item['service_name'])


# ---------------------------------------------------------------------------
# The host
# ---------------------------------------------------------------------------

class Refused(Exception):
    """The set cannot be applied; found before anything changed."""

    def __init__(self, msg, **extra):
        super(Refused, self).__init__(msg + ' Nothing was changed.')
        self.extra = extra


class Host(object):
    """The host as a transaction sees it: unit files, services, secrets and images, calls batched."""

    def __init__(self, module, scope, runner):
        self.module, self.scope, self.runner = module, scope, runner
        self.image_cache = {}  # image -> podman image inspect entry, for the images the host has

    def store(self, filename):
        return quadlet.UnitStore(self.module, self.scope, filename)

    def read(self, filename):
        return self.store(filename).read()

    def put(self, filename, text):
        """Write text atomically as the unit file, or remove the file when text is None."""
        if text is None:
            self.store(filename).remove()
        else:
            self.store(filename).write(text)

    def states(self, services, properties=PLAN_PROPERTIES):
        return self.runner.unit_states(sorted(set(services)), properties)

    def secret_values(self, names):
        return dict((name, self.runner.secret_value(name)) for name in sorted(names))

    def images(self, images):
        """{image: podman image inspect entry} for the images the host has: one podman call for all the images not
        asked about yet (one per image when some are missing, as podman then leaves them out of its answer and the
        order no longer matches); kept for the rest of the transaction."""
        wanted = sorted(set(i for i in images if i and i not in self.image_cache))
        if wanted:
            found = self.runner.json(['podman', 'image', 'inspect', '--'] + wanted, ok_rcs=(0, 125)) or []
            if len(found) != len(wanted):
                found = [(self.runner.json(['podman', 'image', 'inspect', '--', i], ok_rcs=(0, 125)) or [None])[0]
                         for i in wanted]
            self.image_cache.update((i, entry) for i, entry in zip(wanted, found) if entry)
        return dict((i, self.image_cache[i]) for i in images if i in self.image_cache)

    def forget_images(self):
        """After starts that may have pulled or re-tagged images: ask podman again."""
        self.image_cache = {}

    def pull(self, images, auth_files=None):
        """Pull {image: policy} concurrently (at most PULL_WORKERS at once), each with its registry credentials
        ({image: auth file}, podman's own login otherwise); {image: error} of the pulls that failed."""
        auth_files = auth_files or {}

        def one(item):
            image, policy = item
            argv = (['pull', '--quiet'] + (['--policy', 'newer'] if policy == 'newer' else [])
                    + (['--authfile', auth_files[image]] if auth_files.get(image) else []) + ['--', image])
            try:
                self.runner.podman(*argv)
            except podman.CommandError as exc:
                return image, ((exc.stderr or exc.stdout or '%s' % exc).strip().splitlines() or ['%s' % exc])[-1]
            return image, None
        with ThreadPoolExecutor(max_workers=min(PULL_WORKERS, len(images))) as pool:
            results = list(pool.map(one, sorted(images.items())))
        return dict((image, error) for image, error in results if error)

    def retag(self, moved):
        """Put image references back on the images they named before a pull moved them (a rollback)."""
        for image, image_id in sorted(moved.items()):
            self.runner.podman('tag', image_id, image)
        self.forget_images()

    def image(self, image):
        """podman image inspect's entry for an image, or None when the host does not have it."""
        return self.images([image]).get(image)

    def digest(self, image):
        found = self.image(image)
        return found.get('Digest') if found else None

    def digests(self, images):
        """{image: digest} for the images on the host."""
        return dict((i, entry['Digest']) for i, entry in self.images(images).items() if entry.get('Digest'))

    def exists(self, obj):
        rc, dummy, dummy = self.runner.podman(obj[0], 'exists', obj[1], ok_rcs=(0, 1))
        return rc == 0

    def systemctl(self, verb, services, no_block=False, ok_rcs=(0,)):
        if services:
            argv = (['--no-block'] if no_block else []) + [verb, '--'] + list(services)
            self.runner.systemctl(*argv, ok_rcs=ok_rcs)

    def loaded(self, services):
        shows = self.states(services, ('Id', 'LoadState'))
        return [s for s in services if (shows.get(s) or {}).get('LoadState') not in (None, 'not-found')]

    def logs(self, container, lines=20, unit=None):
        """The tail of a container's log for evidence, or, when the container is gone (podman run failed, or it
        exited and was removed), the unit's journal: that holds podman's own error. Never raises."""
        if not container:
            return None
        try:
            rc, out, err = self.runner.podman('logs', '--tail', str(lines), container, ok_rcs=None)
        except podman.CommandError as exc:
            rc, out, err = 1, '', '%s' % exc
        if rc != 0 and unit:
            return self.runner.unit_journal(unit, lines)[-3000:]
        return (out + err).strip()[-3000:]


class Progress(object):
    """Progress lines (JSON, one per event) appended to a file a controller reads while the module runs.

    No secrets go there: phase numbers, unit and service names, seconds. Without a path it does nothing.
    The file is created new (O_EXCL, never through a symlink) and removed when the module ends.
    """

    def __init__(self, path, clock=time.monotonic):
        self.path, self.clock, self.t0, self.fd = path, clock, clock(), None
        if path:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | getattr(os, 'O_NOFOLLOW', 0)
            self.fd = os.open(path, flags, 0o644)
            os.fchmod(self.fd, 0o644)  # readable by the connecting user when the module runs with become

    def __call__(self, event, **data):
        if self.fd is None:
            return
        data.update(event=event, t=round(self.clock() - self.t0, 2))
        try:
            os.write(self.fd, (json.dumps(data, sort_keys=True) + '\n').encode('utf-8'))
        except OSError:
            pass  # progress is for people watching; it never fails the transaction

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
            remove_file(self.path)


class Waiter(object):
    """Queues the starts of a group of units (systemctl --no-block) and waits for all of them together."""

    def __init__(self, host, interval, mask, clock=time.monotonic, sleep=time.sleep, watcher=podman.HealthWatcher,
                 progress=None):
        self.host, self.interval, self.mask = host, interval, mask
        self.clock, self.sleep, self.watcher = clock, sleep, watcher
        self.progress = progress or Progress(None)

    def start(self, items, queued=None):
        """items: {file, service_name, container, wait, timeout, verb}. Returns ({target: seconds}, failure).

        queued() is called once the jobs are queued, before waiting (the pause hook of a phase).
        """
        t0 = self.clock()
        baseline = self.host.states([i['service_name'] for i in items], ('Id', 'InvocationID'))
        for verb in ('start', 'restart'):
            self.host.systemctl(verb, [i['service_name'] for i in items if i['verb'] == verb], no_block=True)
        if queued is not None:
            queued()
        waited = [i for i in items if i['wait']]
        deadline = t0 + max([i['timeout'] for i in waited] or [0])
        failure = self.wait_begun(waited, baseline, deadline)
        if failure or not waited:
            return {}, failure
        return self.wait_healthy(waited, deadline, t0)

    def wait_begun(self, items, baseline, deadline):
        """Until every queued job has begun: a restart would otherwise find the old container healthy."""
        pending = dict((i['service_name'], i) for i in items)
        while pending:
            shows = self.host.states(list(pending), JOB_PROPERTIES)
            for service in sorted(pending):
                before = (baseline.get(service) or {}).get('InvocationID')
                verdict = job_verdict(shows.get(service) or {'Id': service}, before)
                if verdict == 'begun':
                    del pending[service]
                elif verdict:
                    return self.failure(pending[service], 'start', verdict)
            if pending and self.clock() >= deadline:
                item = pending[sorted(pending)[0]]
                return self.failure(item, 'start', 'the start of %s did not begin within %ss'
                                    % (item['service_name'], item['timeout']))
            if pending:
                self.sleep(0.2)
        return None

    def wait_healthy(self, items, deadline, t0, report=True):
        targets = [health_target(i) for i in items]
        offset = self.clock() - t0

        def healthy_now(name, seconds):
            if report:  # the time to healthy of a start; a recheck (verify_health) has none to tell
                self.progress('healthy', container=name, seconds=round(offset + seconds, 1))
        results = self.watcher(self.host.runner, targets, timeout=max(0.0, deadline - self.clock()),
                               interval=self.interval, clock=self.clock, sleep=self.sleep, on_healthy=healthy_now).wait()
        healthy = dict((r['name'], round(offset + (r['time_to_healthy'] or 0), 1)) for r in results if r['healthy'])
        bad = [r for r in results if not r['healthy']]
        if not bad:
            return healthy, None
        item = [i for i, t in zip(items, targets) if t.name == bad[0]['name']][0]
        cause = '%s did not become healthy: %s (%s)' % (item['service_name'], bad[0]['status'], bad[0]['reason'])
        return healthy, self.failure(item, 'health', cause, bad[0])

    def failure(self, item, check, cause, result=None):
        evidence = {'status': self.mask(self.host.runner.unit_status(item['service_name'])),
                    'logs': self.mask(self.host.logs(item.get('container'), unit=item['service_name']))}
        if result is not None:
            log = (result.get('container') or {}).get('health_log') or []
            evidence['health_log'] = [dict(entry, output=self.mask(entry.get('output'))) for entry in log]
            evidence['reason'] = self.mask(result.get('reason'))
            evidence['health_status'] = result.get('status')
        return {'unit': item['file'], 'service': item['service_name'], 'check': check, 'cause': self.mask(cause),
                'evidence': evidence}


class Restorer(object):
    """Puts a journal record back: files, secrets, services. For in-run failures, leftover journals and revert."""

    def __init__(self, host, waiter, mask):
        self.host, self.waiter, self.mask = host, waiter, mask

    def run(self, record):
        current = dict((f, self.host.read(f)) for f in record['units'])
        plan = rollback_plan(record, current)
        previous = record.get('secrets') or {}
        secrets = secrets_to_restore(previous, self.host.secret_values(previous))
        out = {'restored': [], 'removed': [], 'stopped': [], 'restarted': [], 'secrets': sorted(secrets),
               'reloaded': False, 'routes': [], 'errors': []}
        for name, item in sorted((record.get('routes') or {}).items()):
            self.step(out, self.restore_route, name, item, out)
        out['files'] = []
        for path, item in sorted((record.get('files') or {}).items()):
            self.step(out, self.restore_config, path, item, out)
        self.step(out, self.stop, plan['stop'], out)
        for filename in plan['restore'] + plan['remove']:
            self.step(out, self.restore_file, record['units'][filename], filename, out)
        for name in sorted(secrets):
            self.step(out, self.host.runner.set_secret, name, secrets[name])
        if plan['reload']:
            self.step(out, self.reload, out)
        self.step(out, self.host.systemctl, 'reset-failed', out['stopped'], ok_rcs=None)
        if record.get('moved'):
            self.step(out, self.host.retag, record['moved'])
            out['retagged'] = sorted(record['moved'])
        self.step(out, self.restart, record, plan['restart'], out)
        self.step(out, self.revive, record, out)
        out['ok'] = not out['errors']
        return out

    def revive(self, record, out):
        """Start the bystanders systemd stopped along with a unit they require (Requires= propagates a failed
        restart); waited on like the restarted ones."""
        bystanders = record.get('bystanders') or {}
        if not bystanders:
            return
        shows = self.host.states([unit['service'] for unit in bystanders.values()])
        items = [dict(unit, file=f, service_name=unit['service'], verb='start', job=is_job(unit['before']))
                 for f, unit in sorted(bystanders.items(), key=lambda item: (item[1]['phase'], item[0]))
                 if not is_active(shows.get(unit['service']))]
        if not items:
            return
        self.host.systemctl('reset-failed', [i['service_name'] for i in items], ok_rcs=None)
        dummy, failure = self.waiter.start(items)
        out['started'] = [i['service_name'] for i in items]
        if failure:
            out['errors'].append('%s did not come back: %s' % (failure['service'], failure['cause']))

    def step(self, out, func, *args, **kwargs):
        try:
            func(*args, **kwargs)
        except (podman.CommandError, OSError, IOError) as exc:
            out['errors'].append(self.mask('%s' % exc))

    def stop(self, services, out):
        loaded = self.host.loaded(services)
        self.host.systemctl('stop', loaded)
        out['stopped'] = loaded

    @staticmethod
    def restore_route(name, item, out):
        """The route file as it was before the transaction (removed when it was new); Traefik reloads it itself."""
        if route.read_text(item['path']) == item['before']:
            return
        if item['before'] is None:
            os.remove(item['path'])
            out['routes'].append('%s removed' % name)
        else:
            route.replace_file(item['path'], item['before'])
            out['routes'].append('%s restored' % name)

    @staticmethod
    def restore_config(path, item, out):
        """A file of the files option as it was before (removed when it was new), before its units restart."""
        if item['before'] is None:
            if os.path.lexists(path):
                os.remove(path)
                out['files'].append('%s removed' % path)
        elif route.read_text(path) != item['before'] or stat_mode(path) != item['mode']:
            route.replace_file(path, item['before'], item['mode'] if item['mode'] is not None else 0o644)
            out['files'].append('%s restored' % path)

    def restore_file(self, unit, filename, out):
        self.host.put(filename, unit['before'])
        out['removed' if unit['before'] is None else 'restored'].append(filename)

    def reload(self, out):
        self.host.runner.systemctl('daemon-reload')
        out['reloaded'] = True

    def restart(self, record, services, out):
        if not services:
            return
        items = [dict(unit, file=f, service_name=unit['service'], verb='restart', job=is_job(unit['before']))
                 for f, unit in ordered_units(record) if unit['service'] in services]
        healthy, failure = self.waiter.start(items)
        out['restarted'] = list(services)
        if failure:
            out['errors'].append('%s did not come back: %s' % (failure['service'], failure['cause']))


class Checks(object):
    """The verify checks: a command in a container and/or an HTTP probe from the host, each retried."""

    def __init__(self, runner, mask, sleep=time.sleep, probe=podman.probe_http, open_url=None):
        self.runner, self.mask, self.sleep, self.probe, self.open_url = runner, mask, sleep, probe, open_url

    def run_all(self, checks):
        """([{name, ok, attempts, error}], failure of the first failed check or None); stops at a failure."""
        results = []
        for check in checks:
            results.append(self.run(check))
            if not results[-1]['ok']:
                failure = {'unit': None, 'service': None, 'check': 'verify %s' % check['name'],
                           'cause': results[-1]['error'], 'evidence': {'container': check.get('container')}}
                return results, failure
        return results, None

    def run(self, check):
        retries = max(1, check.get('retries') or 1)
        error = None
        for attempt in range(1, retries + 1):
            error = self.once(check)
            if error is None:
                return {'name': check['name'], 'ok': True, 'attempts': attempt}
            if attempt < retries:
                self.sleep(check.get('delay') or 0)
        return {'name': check['name'], 'ok': False, 'attempts': retries, 'error': self.mask(error)}

    def once(self, check):
        errors = []
        if check.get('command'):
            errors.append(self.command_error(check))
        if check.get('http'):
            errors.append(self.http_error(check['http']))
        errors = [e for e in errors if e]
        return '; '.join(errors) if errors else None

    def command_error(self, check):
        rc, out, err = self.runner.podman('exec', check['container'], *check['command'], ok_rcs=None)
        return command_verdict(rc, out, err, check.get('stdout_regex'))

    def http_error(self, http):
        result = self.probe(http['url'], timeout=http.get('timeout') or 5, status_codes=http.get('status') or [200],
                            body_regex=http.get('body_regex'), opener=self.opener(http.get('host'), http.get('headers')))
        if result['ok']:
            return None
        return '%s%s: %s' % (http['url'], ' (Host: %s)' % http['host'] if http.get('host') else '', result['error'] or
                             'HTTP %s, expected %s%s' % (result['status'], '/'.join(str(c) for c in http.get('status') or [200]),
                                                         ' with a body matching %r' % http['body_regex']
                                                         if http.get('body_regex') else ''))

    def opener(self, host, extra=None):
        base = self.open_url
        if base is None:
            from ansible.module_utils.urls import open_url as base
        headers = dict(extra or {})
        if host:
            headers['Host'] = host
        return lambda url, **kwargs: base(url, headers=headers or None, **kwargs)


# ---------------------------------------------------------------------------
# Planning on the host
# ---------------------------------------------------------------------------

class Planner(object):
    """Reads the host once and decides before anything changes: texts, pins, validation, secrets, actions."""

    def __init__(self, module, scope, host):
        self.module, self.scope, self.host = module, scope, host
        self.images = {}
        self.pulls = {}   # image -> what the pull did ('pulled (always)', 'up to date (newer)', 'would pull (missing)')
        self.moved = {}   # image reference -> the image id it named before a pull moved it
        self.created = set()  # directories and files the transaction writes (a bind source that will exist)

    def plan(self, specs, secrets, pin):
        # every image of the set in one podman call: health from the image, pinning and digests read from it
        self.host.images(image for spec in specs if spec['type'] == 'container' and spec['content']
                         for image in IMAGE_LINE_RE.findall(spec['content']))
        for spec in specs:
            spec['pull_policy'], spec['auth_file'] = pull_spec(spec)  # read once from the content as given
        self.check_auth_files(specs)
        self.pull_images(specs)
        for spec in specs:
            spec['before'] = self.host.read(spec['file'])
            spec['path'] = self.host.store(spec['file']).path
            spec['after'] = self.desired(spec, pin)
        units = self.parse_all(specs)
        for spec in specs:
            self.describe(spec, units.get(spec['file']))
        self.preflight(specs, units)
        names = [s['service_name'] for s in specs]
        shows = self.host.states(names)
        validation = self.validate(specs) if needs_validation(specs, shows) else None
        if names != [s['service_name'] for s in specs]:  # the generator named a service otherwise
            shows = self.host.states([s['service_name'] for s in specs])
        current = self.host.secret_values(secrets)
        changed = changed_secrets(secrets, current)
        self.restart_moved(specs, pin)
        plans = [plan_unit(s, shows.get(s['service_name']), changed) for s in specs]
        masked = [p['service_name'] for p in plans if p['masked']]
        if masked:
            self.module.warn('%s masked on the host (systemctl mask): left stopped, not started or waited on; '
                             'systemctl unmask to let the deploy run it' % ', '.join(masked))
        self.check_secret_refs(plans, secrets)
        self.check_images(plans, units)
        return plans, {'validation': validation, 'secrets_changed': changed,
                       'previous': dict((name, current[name]) for name in changed), 'moved': dict(self.moved)}

    # -- pulls -------------------------------------------------------------------

    def pull_images(self, specs):
        """Every image the pull policies ask for, pulled before anything changes and concurrently: `missing` when
        the host lacks it, `always` on every run, `newer` when the registry has a newer one. A failed pull refuses
        the run (nothing has changed yet). In check mode nothing is pulled; the result says what would be."""
        wanted, users, auths = {}, {}, {}
        for spec in specs:
            policy, image = spec['pull_policy']
            if image and policy != 'never':
                current = wanted.get(image, 'never')
                wanted[image] = max(policy, current, key=PULL_POLICIES.index)
                users.setdefault(image, []).append(spec['file'])
                if spec['auth_file'] and not auths.get(image):
                    auths[image] = spec['auth_file']
        todo = dict((image, policy) for image, policy in sorted(wanted.items())
                    if policy != 'missing' or self.host.image(image) is None)
        if not todo:
            return
        if self.module.check_mode:
            self.pulls.update((image, 'would pull (%s)' % policy) for image, policy in todo.items())
            return
        before = dict((image, (self.host.image(image) or {}).get('Id')) for image in todo)
        errors = self.host.pull(todo, auths)
        if errors:
            image = sorted(errors)[0]
            raise Refused('cannot pull image %s of %s (pull policy %s): %s.' % (
                image, ', '.join(users[image]), todo[image], errors[image].rstrip('.')),
                missing_images=sorted(errors), pull_errors=errors)
        self.host.forget_images()
        for image, policy in todo.items():
            now = (self.host.image(image) or {}).get('Id')
            self.pulls[image] = 'pulled (%s)' % policy if now != before[image] else 'up to date (%s)' % policy
            if before[image] and now != before[image]:
                self.moved[image] = before[image]

    def check_auth_files(self, specs):
        """podman refuses to pull or start with an AuthFile= that is not there: refused before anything changes."""
        missing = sorted(set((spec['auth_file'], spec['file']) for spec in specs
                             if spec['auth_file'] and not os.path.isfile(spec['auth_file'])))
        if missing:
            raise Refused('the registry credentials %s (--authfile of %s) do not exist on the host; write them with '
                          '"podman login --authfile %s REGISTRY" (or containers.podman.podman_login) first.'
                          % (missing[0][0], missing[0][1], missing[0][0]), missing_auth_files=[m[0] for m in missing])

    def restart_moved(self, specs, pin):
        """A running container whose image reference now names another image (a pull moved the tag) is restarted,
        also when its unit file is unchanged. Pinned units need none of this: the new digest changes the file."""
        if pin:
            return
        candidates = [s for s in specs if s['container'] and s['pull_policy'][0] not in (None, 'never')
                      and s.get('after') == s.get('before')]
        if not candidates:
            return
        running = dict((info.get('Name'), info.get('Image')) for info in self.host.runner.container_inspect(
            [s['container'] for s in candidates])
            if (info.get('State') or {}).get('Running') or (info.get('State') or {}).get('Status') == 'running')
        for spec in candidates:
            image = spec['pull_policy'][1]
            now = (self.host.image(image) or {}).get('Id')
            if spec['container'] in running and now and running[spec['container']] != now:
                spec['restart'] = True
                spec['image_note'] = 'image %s is a new build (%s): restarted' % (image, now[:12])

    # -- texts -------------------------------------------------------------------

    def desired(self, spec, pin):
        if spec['state'] == 'absent':
            return None
        if spec['content'] is None:
            return self.kept(spec)
        try:
            unit = parse_unit(spec['content'], spec['file'])
        except UnitFileError:
            return spec['content']  # parse_all reports it
        text = self.health_from_image(spec, unit, spec['content'])
        if not pin:
            return text
        image = image_to_pin(unit, spec['type'])
        digest = self.host.digest(image) if image else None
        if image and digest is None:
            self.cannot_pin(spec, unit, image)
        return rewrite_image(text, image, quadlet.pin_reference(image, digest)) if digest else text

    def health_from_image(self, spec, unit, text):
        """Notify=healthy only when a healthcheck runs: a unit that relies on its image's own HEALTHCHECK, whose
        image has none, is started without it (systemd would wait for ever) and waited on until running. The image
        was pulled before, by pull_images, so the answer comes from the image that will run."""
        image = waits_on_image_healthcheck(unit, spec['type'])
        if image is None:
            return text
        found = self.host.image(image)
        if found is None:
            return text  # not on the host and not pulled (check mode, pull policy never): refused or judged later
        if image_has_healthcheck(found):
            return text
        spec['health_note'] = ('image %s has no HEALTHCHECK: started without Notify=healthy, waited on until it runs'
                               % image)
        return NOTIFY_HEALTHY_RE.sub('', text, count=1)

    @staticmethod
    def kept(spec):
        """restart=true without content: the file on disk as it is (not pinned), which must exist."""
        if spec['before'] is None:
            raise Refused('unit %s: restart=true without content keeps the file on disk as it is, but there is no %s.'
                          % (spec['file'], spec['path']), missing_units=[spec['file']])
        return spec['before']

    def cannot_pin(self, spec, unit, image):
        local = quadlet.images_to_check(unit, spec['type'])
        if local:
            raise Refused('image %s of %s is not present in %s and will not be pulled (%s); load or build it first.'
                          % (image, spec['file'], self.storage(), local[0][1]), missing_images=[image])
        self.module.warn('cannot pin %s of %s: it is not in %s yet; left as is' % (image, spec['file'], self.storage()))

    def storage(self):
        return 'the image storage of user %s' % self.scope.user if self.scope.is_user else 'root\'s image storage'

    def parse_all(self, specs):
        units, errors = {}, {}
        for spec in specs:
            # an absent unit whose file is already gone is read from the content given, to name what purge removes
            text = spec['after'] if spec['state'] == 'present' else (
                spec['before'] if spec['before'] is not None else spec['content'])
            try:
                units[spec['file']] = parse_unit(text, spec['file']) if text is not None else None
            except UnitFileError as exc:
                if spec['state'] == 'present':
                    errors[spec['file']] = '%s' % exc
        if errors:
            self.refuse_unparsable(specs, errors)
        return units

    def refuse_unparsable(self, specs, errors):
        """The generator's own words are the clearest; ours only when it has none."""
        validation = self.validator().validate_set(self.present_files(specs))
        lines = ['%s: %s' % (f, '; '.join(validation['files'][f]['errors'] or [msg])) for f, msg in sorted(errors.items())]
        raise Refused('invalid unit %s.' % '; '.join(lines), validation=brief_validation(validation))

    def describe(self, spec, unit):
        spec['service_name'] = quadlet.service_name(spec['base'], spec['type'], unit)
        container = spec['type'] == 'container' and unit is not None
        spec['container'] = quadlet.container_target(unit) if container else None
        # a one-shot job (Type=oneshot): done when its unit is active after the container exited 0
        spec['job'] = bool(container and quadlet.is_job(unit))
        spec['secrets'] = quadlet.secret_names(unit, spec['type']) if unit is not None else []
        spec['purge_object'] = None
        if spec['state'] == 'absent':
            obj = purge_object(spec, unit)
            spec['purge_object'] = obj if obj and self.host.exists(obj) else None
        elif container:
            self.images[spec['file']] = unit.get('Container', 'Image')

    # -- checks before anything changes ----------------------------------------

    def preflight(self, specs, units):
        errors = []
        for spec in specs:
            if spec['state'] != 'present':
                continue
            shadow = self.host.store(spec['file']).shadowed_by()
            if shadow:
                errors.append('%s is shadowed by %s, which quadlet reads first; remove that file' % (spec['path'], shadow))
            unit = units[spec['file']]
            errors.extend('%s: %s' % (spec['file'], e) for e in quadlet.check_sections(unit, spec['type']))
            if spec['type'] == 'container':
                # podman reads them when the container starts: a missing one would fail the start mid-transaction
                errors.extend('%s: EnvironmentFile=%s does not exist on the host' % (spec['file'], path)
                              for path in unit.lookup_words('Container', 'EnvironmentFile')
                              if os.path.isabs(path) and not os.path.exists(path))
                # podman refuses to start a container whose bind source is missing
                errors.extend('%s: Volume= source %s does not exist on the host (and is not in directories or files)'
                              % (spec['file'], path) for path in bind_sources(unit)
                              if path not in self.created and not os.path.exists(path))
            self.warn_credentials(spec, unit)
        if errors:
            raise Refused('invalid unit set: %s.' % '; '.join(errors), errors=errors)

    def warn_credentials(self, spec, unit):
        names = quadlet.secret_like_environment(unit, spec['type'])
        if names:
            self.module.warn('%s passes %s in Environment=; keep credentials in podman secrets instead (the secrets '
                             'option, and Secret=NAME,type=env,target=VAR in the unit)' % (spec['file'], ', '.join(names)))

    def validator(self):
        return quadlet.Validator(self.host.runner, self.scope, self.module.tmpdir)

    @staticmethod
    def present_files(specs):
        return dict((s['file'], s['after']) for s in specs if s['state'] == 'present')

    def validate(self, specs):
        """One generator dry run over every present unit, staged together ahead of the installed ones."""
        files = self.present_files(specs)
        if not files:
            return None
        validation = self.validator().validate_set(files)
        brief = brief_validation(validation)
        errors = ['%s: %s' % (f, e) for f, r in sorted(validation['files'].items()) for e in r['errors']]
        errors += validation['errors']
        if errors:
            raise Refused('quadlet rejected the set: %s.' % '; '.join(errors), validation=brief)
        for spec in specs:
            spec['service_name'] = validation['files'].get(spec['file'], {}).get('service') or spec['service_name']
        return brief

    def check_secret_refs(self, plans, given):
        """Secret= names of units about to (re)start must exist already or come with the secrets option."""
        used = set(n for p in plans if p['service_action'] in ('start', 'restart') for n in p['secrets'])
        missing = [name for name in sorted(used - set(given)) if not self.host.runner.secret_exists(name)]
        if missing:
            raise Refused('the units use podman secret(s) %s, which do not exist in the %s scope; create them or pass '
                          'them in the secrets option.' % (', '.join(missing), self.scope.name), missing_secrets=missing)

    def check_images(self, plans, units):
        missing = []
        for plan in plans:
            if plan['state'] == 'present' and plan['service_action'] in ('start', 'restart'):
                local = quadlet.images_to_check(units[plan['file']], plan['type'])
                policy, image = plan['pull_policy']
                if policy == 'never' and not local:
                    local = [(image, 'pull policy never')]
                missing.extend((plan['file'], image, why) for image, why in local
                               if not self.host.runner.image_exists(image))
        if missing:
            raise Refused('image %s of %s is not present in %s and will not be pulled (%s); load or build it first.'
                          % (missing[0][1], missing[0][0], self.storage(), missing[0][2]),
                          missing_images=sorted(set(m[1] for m in missing)))


def brief_validation(validation):
    """The generator's verdict without the generated text (which the result does not need)."""
    files = dict((name, {'errors': r['errors'], 'warnings': r['warnings'], 'service': r['service']})
                 for name, r in validation['files'].items())
    return {'rc': validation['rc'], 'files': files, 'errors': validation['errors'],
            'other_errors': validation['other_errors']}


# ---------------------------------------------------------------------------
# The transaction
# ---------------------------------------------------------------------------

class Transaction(object):
    """One quadlet_apply call: recover leftovers, then apply, revert or verify, all under the host lock."""

    def __init__(self, module, clock=time.monotonic, sleep=time.sleep):
        self.module, self.params = module, module.params
        check_txn_name(self.params['name'])
        self.specs = unit_specs(self.params['units'])
        self.routes, hidden = route_items(self.params.get('routes'))
        self.files = file_items(self.params.get('files'), self.specs)
        self.directories = directory_items(self.params.get('directories'))
        module.no_log_values.update(hidden)
        quadlet.check_secret_names(self.params['secrets'] or {})
        check_verify(self.params['verify'])
        if self.params['revert'] and (self.specs or self.routes or self.files):
            raise quadlet.QuadletError('revert=true restores the last committed transaction; give no units, routes or '
                                       'files with it')
        self.scope = podman.Scope(self.params['scope'], self.params['user'])
        self.runner = podman.Runner(module, self.scope)
        self.host = Host(module, self.scope, self.runner)
        self.mask = Masker((self.params['secrets'] or {}).values())
        self.clock, self.sleep, self.timer = clock, sleep, Timer(clock)
        self.journal = Journal(self.scope, self.params['name'])
        self.progress = Progress(self.params.get('progress_file'), clock)
        self.waiter = Waiter(self.host, self.params['health_interval'], self.mask, clock, sleep, progress=self.progress)
        self.restorer = Restorer(self.host, self.waiter, self.mask)
        self.record, self.locked = None, False
        self.result = {'changed': False, 'txn_id': None, 'recovered': [], 'units': {}, 'phases': [], 'routes': {}, 'files': {},
                       'directories': {},
                       'secrets_changed': [], 'verify': [], 'images': {}, 'digests': {}, 'pulls': {}, 'seconds': self.timer.seconds}

    def fail(self, msg, **extra):
        self.result.update(extra)
        self.timer.total()
        self.progress.close()
        self.module.fail_json(msg=self.mask(msg), **self.result)

    def protect(self, values):
        """Previous secret values: never in results or logs (they live only in the 0600 journal files)."""
        values = [v for v in values if v is not None and len('%s' % v) >= MIN_MASKED_LENGTH]
        self.mask.add(values)
        self.module.no_log_values.update('%s' % v for v in values)

    def run(self):
        problem = self.scope.problem()
        if problem:
            self.fail(problem)
        try:
            self.result['changed'] = self.runner.ensure_linger(self.module.check_mode)
            self.progress('lock')
            with podman.host_lock(self.scope.lock_path(), self.params['lock_timeout'], self.scope):
                self.locked = True
                self.progress('locked')
                self.dispatch()
        except podman.CommandError as exc:
            if not self.locked:
                self.fail('%s. Nothing was changed.' % exc)
            self.fail('%s' % exc, **dict((k, self.mask(v) if isinstance(v, str) else v) for k, v in exc.details().items()))
        except Refused as exc:
            self.fail('%s' % exc, refused=True, **exc.extra)  # before anything changed: nothing to roll back
        self.timer.total()
        self.progress.close()
        return self.result

    def dispatch(self):
        self.recover_all()
        if self.params['revert']:
            self.revert()
        elif not self.specs and not self.routes and not self.files and self.params['verify']:
            self.verify_only()
        elif self.specs or self.routes or self.files:
            self.apply()

    # -- apply -----------------------------------------------------------------------

    def apply(self):
        t0 = self.clock()
        planner = Planner(self.module, self.scope, self.host)
        self.plan_directories()
        # what the set writes itself (directories, files such as a mounted config) is a bind source that exists
        planner.created = set(d['path'] for d in self.directories) | set(f['path'] for f in self.files)
        self.plan_files()
        plans, info = planner.plan(self.specs, self.params['secrets'] or {}, self.params['pin_images'])
        self.result['pulls'] = planner.pulls
        self.plan_routes()
        self.timer.mark('validate', t0)
        self.protect(info['previous'].values())
        if self.report(plans, info, planner.images) and not self.module.check_mode:
            self.execute(plans, info)
        elif not self.module.check_mode:
            self.health_only(plans)
        if not self.module.check_mode:
            self.report_digests()

    def plan_directories(self):
        """Each directory: there already (left as it is: data and its owner are the user's), or to create. One
        whose existing part goes through a symbolic link, or that is a file, is refused before anything changes."""
        for item in self.directories:
            link = symlink_on_path(item['path'])
            if link:
                raise Refused('directories: %s goes through the symbolic link %s (-> %s); give the real path'
                              % (item['path'], link, os.readlink(link)))
            if os.path.lexists(item['path']) and not os.path.isdir(item['path']):
                raise Refused('directories: %s exists and is not a directory' % item['path'])
            item['create'] = not os.path.isdir(item['path'])
            if not self.scope.is_user:
                try:
                    item['ids'] = (host_id(item['owner'], 'user'), host_id(item['group'], 'group'))
                except KeyError as exc:
                    raise Refused('directories: %s: no such user or group on the host: %s' % (item['path'], exc))

    def create_directories(self):
        """The missing directories, with their owner, group and mode (user scope: the user's, and owner/group
        inside the user namespace through podman unshare)."""
        for item in self.directories:
            if not item['create'] or os.path.isdir(item['path']):
                continue
            self.scope.makedirs(item['path'], item['mode'])
            os.chmod(item['path'], item['mode'])
            if item['owner'] is None and item['group'] is None:
                continue
            if self.scope.is_user:
                owner = '%s' % (item['owner'] if item['owner'] is not None else 0)
                group = '%s' % (item['group'] if item['group'] is not None else owner)
                self.runner.podman('unshare', 'chown', '%s:%s' % (owner, group), item['path'])
            else:
                os.chown(item['path'], *item['ids'])

    def plan_files(self):
        """Each file compared with the host's; a changed one restarts the units it names (restart=true)."""
        self.files = [plan_file(item, route.read_text(item['path']), stat_mode(item['path'])) for item in self.files]
        restart = set(unit for item in self.files if item['changed'] for unit in item['restarts'])
        for spec in self.specs:
            if spec['file'] in restart:
                spec['restart'] = True

    def plan_routes(self):
        """Each route read, rendered and checked (spec, policy, names through Traefik's API) before any change."""
        for item in self.routes:
            try:
                item.plan()
            except route.RouteError as exc:
                raise Refused('route %s: %s' % (item.name, exc), **exc.extra)

    def report(self, plans, info, images):
        """Fill the result from the plan; True when the plan changes anything."""
        self.result['units'] = dict((p['file'], unit_report(p)) for p in plans)
        self.result['phases'] = [phase_report(n, group) for n, group in phase_groups(plans)]
        self.result.update(secrets_changed=info['secrets_changed'], images=images)
        if info['validation'] is not None:
            self.result['validation'] = info['validation']
        self.result['routes'] = dict((r.name, route_report(r)) for r in self.routes)
        self.result['files'] = dict((f['path'], {'action': 'write' if f['changed'] else 'unchanged',
                                                 'restarts': f['restarts']}) for f in self.files)
        self.result['directories'] = dict((d['path'], 'create' if d['create'] else 'exists') for d in self.directories)
        change = (is_change(plans, info['secrets_changed']) or any(p['purge_object'] for p in plans)
                  or any(r.changed for r in self.routes) or any(f['changed'] for f in self.files)
                  or any(d['create'] for d in self.directories))
        self.result['changed'] = self.result['changed'] or change
        if self.module._diff:
            self.result['diff'] = dict(build_diff(plans, info['secrets_changed'], self.mask, self.routes, self.files),
                                       before_header=self.params['name'], after_header=self.params['name'])
        return change

    def execute(self, plans, info):
        self.record = new_record(self.params['name'], self.scope, plans, info['previous'], routes=self.routes,
                                 files=self.files, moved=info.get('moved'))
        self.result['txn_id'] = self.record['txn_id']
        self.save('prepared')
        try:
            self.withdraw_routes()
            self.host.systemctl('stop', [p['service_name'] for p in reversed(plans) if p['service_action'] == 'stop'])
            self.write(plans, info['secrets_changed'])
            self.reload(plans)
            for number, group in phase_groups(plans):
                self.run_phase(number, group)
            self.confirm_routes()
            self.run_verify(set(p['container'] for p in plans if p.get('masked') and p.get('container')))
            self.run_health(plans)
        except TxnError as exc:
            self.abort(exc)
        except (podman.CommandError, OSError, IOError, route.RouteError) as exc:
            self.abort(TxnError('%s' % exc, {'unit': None, 'service': None, 'check': 'command',
                                             'cause': self.mask('%s' % exc), 'evidence': {}}))
        self.commit()
        self.purge(plans)
        self.host.forget_images()

    def report_digests(self):
        """The image of every present container pinned by the digest it runs (repo@sha256:...), for the history."""
        images = self.result.get('images') or {}
        found = self.host.digests(images.values())
        self.result['digests'] = dict((name, quadlet.pin_reference(image, found[image]))
                                      for name, image in images.items() if image in found)

    def save(self, state, pause=True):
        self.record['state'] = state
        self.journal.save(self.record)
        if pause:
            self.pause(state)

    def pause(self, state):
        pause_at(state, self.sleep)

    def withdraw_routes(self):
        """Routes that go away are removed first: Traefik stops sending traffic before their units stop."""
        for item in self.routes:
            if item.changed and not item.present:
                item.write()

    def write(self, plans, secrets):
        """Unit files, the other files, then route files (Traefik loads those while the phases start), then
        secrets."""
        t0 = self.clock()
        self.create_directories()
        for plan in plans:
            if plan['file_action'] != 'unchanged':
                self.host.put(plan['file'], plan['after'])
        for item in self.files:
            if item['changed']:
                self.write_file(item)
        for item in self.routes:
            if item.changed and item.present:
                item.write()
        for name in secrets:
            self.runner.set_secret(name, '%s' % self.params['secrets'][name])
        self.timer.mark('write', t0)
        self.save('written')

    def write_file(self, item):
        # every missing parent belongs to the user in the user scope (root acting for hl must not leave
        # ~/.local/share/homelab-deploy root-owned, or hl's own later runs cannot write under it)
        self.scope.makedirs(os.path.dirname(item['path']), 0o755)
        route.replace_file(item['path'], item['content'], item['mode'])
        self.scope.own(item['path'])

    def reload(self, plans):
        t0 = self.clock()
        if any(p['reload'] for p in plans):
            self.host.runner.systemctl('daemon-reload')
        removed = [p['service_name'] for p in plans if p['file_action'] == 'remove']
        self.host.systemctl('reset-failed', removed, ok_rcs=None)
        self.timer.mark('reload', t0)
        self.save('reloaded')

    def run_phase(self, number, group):
        todo = [p for p in group if p['service_action'] in ('start', 'restart')]
        for plan in todo:
            self.record['units'][plan['file']]['touched'] = True
        state = 'phase-%d' % number
        self.save(state, pause=not todo)  # with starts, the pause comes once they are queued
        t0 = self.clock()
        items = [dict(p, verb=p['service_action']) for p in todo]
        self.progress('phase', phase=number, start=[p['service_name'] for p in todo if p['service_action'] == 'start'],
                      restart=[p['service_name'] for p in todo if p['service_action'] == 'restart'])
        healthy, failure = self.waiter.start(items, lambda: self.pause(state)) if todo else ({}, None)
        self.record_phase(number, group, healthy)
        self.timer.mark('phase-%d' % number, t0)
        self.progress('phase_done', phase=number, ok=failure is None, seconds=self.timer.seconds['phase-%d' % number])
        self.phase_result(number)['seconds'] = self.timer.seconds['phase-%d' % number]
        if failure:
            raise TxnError('phase %d: %s' % (number, failure['cause']), failure)

    def phase_result(self, number):
        return [p for p in self.result['phases'] if p['phase'] == number][0]

    def record_phase(self, number, group, healthy):
        self.phase_result(number)['healthy'] = healthy
        for plan in group:
            seconds = healthy.get(plan['service_name'] if plan.get('job') else (plan['container'] or plan['service_name']))
            self.result['units'][plan['file']]['seconds_to_healthy'] = seconds

    def confirm_routes(self):
        """Traefik serves every changed route as written (or no longer serves a removed one); a route it rejects
        fails the transaction, which puts the previous route files back with the units."""
        t0 = self.clock()
        if any(r.changed and r.params['confirm'] for r in self.routes):
            self.progress('routes', names=[r.name for r in self.routes if r.changed])
        for item in self.routes:
            if not item.changed or not item.params['confirm']:
                continue
            try:
                item.confirm()
            except route.RouteError as exc:
                evidence = dict((k, v) for k, v in exc.extra.items() if k in ('traefik_errors', 'pending'))
                raise TxnError('route %s: %s' % (item.name, exc),
                               {'unit': None, 'service': item.name, 'check': 'route', 'cause': self.mask('%s' % exc),
                                'evidence': evidence})
            self.result['routes'][item.name] = route_report(item)
        if any(r.changed for r in self.routes):
            self.timer.mark('routes', t0)

    def run_verify(self, masked=()):
        """The checks; one about the container of a masked service (its container key) is skipped, said so."""
        checks = [c for c in self.params['verify'] if c.get('container') not in masked]
        skipped = [{'name': c['name'], 'ok': True, 'attempts': 0, 'skipped': '%s is masked' % c['container']}
                   for c in self.params['verify'] if c.get('container') in masked]
        if checks or skipped:
            t0 = self.clock()
            self.progress('verify', names=[c['name'] for c in checks])
            results, failure = self.checks().run_all(checks) if checks else ([], None)
            self.result['verify'] = results + skipped
            self.timer.mark('verify', t0)
            if failure:
                raise TxnError('verify: %s' % failure['cause'], failure)
        self.save('verified')

    def run_health(self, plans):
        """verify_health: every waited-on container of the set judged once more after the checks (its healthcheck
        run now, its unit active and not restarting); a container still starting is given HEALTH_RECHECK seconds."""
        items = [p for p in plans if p['state'] == 'present' and p['type'] == 'container' and p['wait'] and not p.get('job')
                 and not p.get('masked')]
        if not self.params['verify_health'] or not items:
            return
        t0 = self.clock()
        self.progress('health', names=[p['container'] or p['service_name'] for p in items])
        deadline = t0 + min(HEALTH_RECHECK, max(p['timeout'] for p in items))
        healthy, failure = self.waiter.wait_healthy(items, deadline, t0, report=False)
        self.result['health'] = dict((p['container'] or p['service_name'],
                                      'healthy' if (p['container'] or p['service_name']) in healthy else 'not healthy')
                                     for p in items)
        self.timer.mark('health', t0)
        if failure:
            raise TxnError('health: %s' % failure['cause'], failure)

    def health_only(self, plans):
        """verify_health on a run that changes nothing: judged the same way; a failure fails the run (nothing to
        roll back)."""
        try:
            self.run_health(plans)
        except TxnError as exc:
            self.result['failure'] = exc.failure
            self.fail('%s' % exc)

    def checks(self):
        return Checks(self.runner, self.mask, sleep=self.sleep)

    def abort(self, exc):
        self.result['failure'] = exc.failure
        if not self.params['rollback']:
            self.journal.save_last(last_record(self.record))
            self.journal.remove()
            self.fail('%s; rollback=false: the set is left as it is (revert=true puts the previous one back)' % exc,
                      changed=True)
        self.progress('rollback', cause=self.mask('%s' % exc))
        rollback = self.restorer.run(self.record)
        self.result['rollback'] = rollback
        if rollback['ok']:
            self.journal.remove()
        self.fail('%s; %s' % (exc, rollback_message(rollback)), changed=True)

    def commit(self):
        for unit in self.record['units'].values():
            unit['touched'] = True
        self.save('committed')
        self.journal.save_last(last_record(self.record))
        self.journal.remove()

    def purge(self, plans):
        """Podman objects of absent units with purge=true, after the commit: data is gone only when all else worked."""
        purged = []
        for obj in [p['purge_object'] for p in plans if p['purge_object']]:
            try:
                if self.host.exists(obj):  # again: stopping a quadlet container already removes it
                    self.runner.podman(obj[0], 'rm', '--', obj[1])
                purged.append('%s/%s' % obj)
            except podman.CommandError as exc:
                self.module.warn('could not purge %s/%s: %s' % (obj[0], obj[1], exc))
        self.result['purged'] = purged

    # -- leftovers, revert, verify only ----------------------------------------------

    def recover_all(self):
        """Roll back every leftover journal of this scope; the lock we hold proves their runs are dead."""
        for path in leftover_journals(txn_dir(self.scope)):
            entry = self.recover(path)
            if entry:
                self.result['recovered'].append(entry)
                self.result['changed'] = True

    def recover(self, path):
        try:
            record = read_json(path)
        except ValueError as exc:
            return self.quarantine(path, exc)
        if record is None:
            return None
        self.protect((record.get('secrets') or {}).values())
        name = os.path.basename(path)[:-len('.json')]
        entry = {'txn': record.get('txn_id'), 'name': name, 'state': record.get('state'), 'actions': []}
        if self.module.check_mode:
            entry['actions'] = ['would %s' % ('finish' if recovery_kind(record) == 'finish' else 'roll back')]
            return entry
        journal = Journal(self.scope, name)
        if recovery_kind(record) == 'finish':
            journal.save_last(last_record(record))
            entry['actions'] = ['kept as the rollback point']
        else:
            self.roll_back_leftover(record, entry)
        journal.remove()
        return entry

    def roll_back_leftover(self, record, entry):
        rollback = self.restorer.run(record)
        entry.update(actions=rollback_summary(rollback), rollback=rollback)
        if not rollback['ok']:
            self.result['recovered'].append(entry)
            self.fail('recovering the leftover transaction %s (%s, %s) failed: %s; its journal is kept'
                      % (entry['name'], entry['txn'], entry['state'], '; '.join(rollback['errors'])), changed=True)

    def quarantine(self, path, exc):
        if not self.module.check_mode:
            os.rename(path, path + '.corrupt')
        self.module.warn('%s; moved aside to %s.corrupt' % (exc, path))
        return {'txn': None, 'name': os.path.basename(path)[:-len('.json')], 'state': 'unreadable', 'actions': []}

    def load_last(self):
        try:
            return self.journal.load_last()
        except ValueError as exc:
            self.fail('%s' % exc)

    def revert(self):
        last = self.load_last()
        self.result['reverted'] = last is not None
        if last is None:
            return
        self.protect((last.get('secrets') or {}).values())
        self.result.update(txn_id=last.get('txn_id'), changed=True)
        if not self.module.check_mode:
            self.revert_last(last, 'revert')

    def revert_last(self, last, why):
        rollback = self.restorer.run(last)
        self.result['rollback'] = rollback
        if not rollback['ok']:
            self.fail('%s of transaction %s: %s' % (why, last.get('txn_id'), rollback_message(rollback)), changed=True)
        self.journal.remove_last()

    def verify_only(self):
        t0 = self.clock()
        results, failure = self.checks().run_all(self.params['verify'])
        self.result['verify'] = results
        self.timer.mark('verify', t0)
        if failure is None:
            return
        self.result['failure'] = failure
        last = self.load_last() if self.params['rollback'] and not self.module.check_mode else None
        if last is None:
            self.fail('verify: %s; nothing was reverted' % failure['cause'])
        self.protect((last.get('secrets') or {}).values())
        self.result.update(txn_id=last.get('txn_id'), changed=True)
        self.revert_last(last, 'verify: %s; reverting' % failure['cause'])
        self.fail('verify: %s; reverted the last committed transaction %s: %s'
                  % (failure['cause'], last.get('txn_id'), rollback_message(self.result['rollback'])), changed=True)

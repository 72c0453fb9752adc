# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deploy executor (controller side): turns a plan into host transactions and prints progress.

One quadlet_apply call applies the whole plan under one host lock: every unit (all phases and their health
waits), the files that belong with them, the Traefik routes (written with the units, confirmed after the last
phase) and the verification checks; a failure anywhere rolls all of it back. The history event is built once, by plugin_utils._events.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import json
import os
import threading
import time
import uuid
from shlex import quote

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_native, to_text
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.homelab.deploy.plugins.module_utils import _traefik as traefik
from ansible_collections.homelab.deploy.plugins.plugin_utils import _events as events
from ansible_collections.homelab.deploy.plugins.plugin_utils import _render

display = Display()

APPLY = 'homelab.deploy.quadlet_apply'
ROUTE = 'homelab.deploy.traefik_route'
# traefik_route options a plan's route may carry (anything else in it, such as the logical service, is ours)
ROUTE_ARGS = ('name', 'hostname', 'path_prefix', 'rule', 'entrypoints', 'priority', 'middlewares', 'define_middlewares',
              'urls', 'weighted', 'pass_host_header', 'health_check', 'tls', 'public', 'required_middlewares',
              'auth', 'auth_reason', 'auth_middlewares', 'lan_middleware', 'policy_exempt', 'policy_exempt_reason',
              'confirm', 'confirm_timeout', 'dynamic_dir', 'api_url', 'mode')
TRAEFIK_KEYS = ('dynamic_dir', 'api_url', 'entrypoints')
# Traefik settings that are not traefik_route options: the entry points an HTTPS route (tls) listens on and the
# certificate resolvers Traefik has (the traefik role's homelab_traefik), to refuse a route Traefik could not serve
TRAEFIK_TLS_KEYS = ('tls_entrypoints', 'cert_resolvers', 'default_cert_resolver')
# ...and the forward-auth middlewares it defines (traefik_forward_auth), which count as authentication on a route
TRAEFIK_AUTH_KEYS = ('auth_middlewares',)

# Connections that run each command as its own process (ssh over its ControlMaster, local), so a copy of one can
# read the progress file while the module runs on the original
LIVE_TRANSPORTS = ('ssh', 'local')
PROGRESS_INTERVAL = 1.0

ARGUMENT_SPEC = dict(
    plan=dict(type='dict', required=True),
    state=dict(type='str', default='present', choices=['present', 'absent']),
    purge=dict(type='bool', default=False),
    secrets=dict(type='dict', default={}, no_log=True),
    user=dict(type='str'),
    pin_images=dict(type='bool', default=True),
    rollback=dict(type='bool', default=True),
    verify=dict(type='bool', default=True),
    checks=dict(type='list', elements='dict', default=[]),
    files=dict(type='list', elements='dict', default=[]),
    lock_timeout=dict(type='int', default=120),
    health_interval=dict(type='float', default=1.0),
    health_timeout=dict(type='int'),
    verify_health=dict(type='bool', default=False),
    traefik=dict(type='dict', default={}),
    event=dict(type='dict', default={}),
    publish=dict(type='bool', default=True),
)


class ActionModule(ActionBase):
    """Run a plan on one host: units in one transaction, routes, verification; progress and one history event."""

    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        super(ActionModule, self).run(tmp, task_vars)
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        self.task_vars = task_vars or {}
        self.args = args
        self.plan = args['plan']
        self.started = time.time()
        self.profile = []
        self.check_mode = bool(self._task.check_mode)
        self.live = False
        try:
            return self.deploy() if args['state'] == 'present' else self.remove()
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)

    # -- host calls -------------------------------------------------------------------------------------------

    def call(self, module, module_args):
        start = time.time()
        reader = self.progress_reader(module_args)
        try:
            result = self._execute_module(module_name=module, module_args=module_args, task_vars=self.task_vars)
        finally:
            if reader is not None:
                reader.stop()
        self.live = reader is not None and reader.shown > 0
        result.pop('invocation', None)
        self.profile.append({'call': 'revert' if module_args.get('revert') else 'apply',
                             'seconds': round(time.time() - start, 2), 'on_host': result.get('seconds')})
        return result

    def progress_reader(self, module_args):
        """Start reading the module's progress file on a copy of the connection, where that is safe; or None."""
        transport = getattr(self._connection, 'transport', '') or ''
        if transport.rsplit('.', 1)[-1] not in LIVE_TRANSPORTS or self.check_mode:
            return None
        module_args['progress_file'] = '/tmp/homelab-deploy-progress-%s.jsonl' % uuid.uuid4().hex
        reader = ProgressReader(copy.copy(self._connection), module_args['progress_file'],
                                lambda event: events.progress_line(self.plan, event))
        reader.start()
        return reader

    def apply_args(self, **extra):
        scope = self.plan.get('scope', 'system')
        base = {'name': self.plan['name'], 'scope': scope, 'lock_timeout': self.args['lock_timeout'],
                'health_interval': self.args['health_interval'], 'rollback': self.args['rollback']}
        if scope == 'user':
            base['user'] = self.args['user']
        base.update(extra)
        return base

    def units(self, state='present'):
        out = []
        for index, phase in enumerate(self.plan['phases']):
            for unit in phase:
                item = {'name': unit['name'], 'phase': index, 'state': state}
                if state == 'present':
                    item.update(content=unit['text'], wait=bool(unit.get('wait', unit['name'].endswith('.container'))),
                                timeout=int(self.args['health_timeout'] or unit.get('timeout') or 120))
                    if unit.get('pull'):
                        item['pull'] = unit['pull']
                else:
                    # the text names the podman object purge removes, also when the file is already gone
                    item.update(content=unit['text'], purge=self.args['purge'] or unit['name'].endswith('.container'))
                out.append(item)
        return out

    def traefik_settings(self):
        """The task's traefik option over the play's module_defaults for traefik_route (group/homelab.deploy.traefik):
        a nested module call does not get module_defaults by itself. An omitted key (default(omit) in a role, which
        ansible-core before 2.19 leaves in nested dicts as its placeholder) falls through."""
        omit = self.task_vars.get('omit')
        given = dict((k, v) for k, v in (self.args['traefik'] or {}).items() if v is not None and v != omit)
        try:
            from ansible.executor.module_common import _apply_action_arg_defaults
            defaults = _apply_action_arg_defaults(ROUTE, self._task, {}, self._templar)
        except Exception:  # pylint: disable=broad-except  # older ansible-core, or no play around the task
            defaults = {}
        base = dict((k, v) for k, v in (defaults or {}).items() if k in TRAEFIK_KEYS)
        known = TRAEFIK_KEYS + TRAEFIK_TLS_KEYS + TRAEFIK_AUTH_KEYS
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise AnsibleActionFail('traefik: unknown key(s) %s (known: %s)' % (', '.join(unknown), ', '.join(known)))
        return dict(base, **given)

    def route_args(self, route, state='present'):
        args = dict((k, v) for k, v in route.items() if k in ROUTE_ARGS and v is not None)
        settings = self.traefik_settings()
        for key in TRAEFIK_KEYS:
            if key not in args and settings.get(key) is not None:
                args[key] = settings[key]
        # a public route is served over HTTPS by default when the traefik role has a default resolver
        tls = _render.effective_route_tls(route, settings.get('default_cert_resolver') if state == 'present' else None)
        args.pop('tls', None)
        if tls is not None:
            args['tls'] = tls
        if isinstance(args.get('tls'), dict) and state == 'present':
            args['tls'] = self.route_tls(route['name'], args['tls'], settings)
        if settings.get('auth_middlewares') and state == 'present':
            # the forward auth the traefik role defines counts as authentication, besides what the route names
            args['auth_middlewares'] = sorted(set(args.get('auth_middlewares') or traefik.AUTH_MIDDLEWARES)
                                              | set(settings['auth_middlewares']))
        if state == 'absent':
            args = dict((k, v) for k, v in args.items() if k in ('name', 'dynamic_dir', 'api_url'))
            args['state'] = 'absent'
        return args

    def route_tls(self, name, tls, settings):
        """The route's tls with the Traefik TLS entry points; refused (before the host is called) when the Traefik
        the settings describe has no HTTPS entry point or not the certificate resolver the route names."""
        where = '%s: route %s: tls' % (self.plan['name'], name)
        if not tls.get('entrypoints'):
            if settings.get('tls_entrypoints') is not None and not settings['tls_entrypoints']:
                raise AnsibleActionFail('%s: Traefik has no HTTPS entry point (run the homelab.deploy.traefik role '
                                        'with traefik_https: true). Nothing was changed.' % where)
            if settings.get('tls_entrypoints'):
                tls = dict(tls, entrypoints=list(settings['tls_entrypoints']))
        resolvers = settings.get('cert_resolvers')
        if tls.get('cert_resolver') and resolvers is not None and tls['cert_resolver'] not in resolvers:
            raise AnsibleActionFail('%s: certificate resolver %r is not configured in Traefik (its resolvers: %s; '
                                    'add it to the traefik role\'s traefik_cert_resolvers). Nothing was changed.'
                                    % (where, tls['cert_resolver'], ', '.join(resolvers) or 'none'))
        return tls

    # -- present ----------------------------------------------------------------------------------------------

    def deploy(self):
        """One host call: units, routes and checks in one transaction, rolled back together."""
        if self.plan.get('unrouted'):
            display.warning('%s: rootless services %s are not routed (the rootful Traefik cannot reach a rootless '
                            'network)' % (self.plan['name'], ', '.join(self.plan['unrouted'])))
        routes = [self.route_args(r) for r in self.plan.get('routes') or []]
        checks = ((self.plan.get('verify') or []) + self.args['checks']) if self.args['verify'] else []
        applied = self.call(APPLY, self.apply_args(units=self.units(), secrets=self.args['secrets'],
                                                   pin_images=self.args['pin_images'], routes=routes, verify=checks,
                                                   files=self.files(), directories=self.plan.get('directories') or [],
                                                   verify_health=self.args['verify_health']))
        self.show_phases(applied)
        return self.finish(applied, self.outcome(applied) if applied.get('failed') else 'success')

    def files(self):
        """The plan's files (a template rendered here, on the controller, with the play's variables) and the task's."""
        out = []
        for item in self.plan.get('files') or []:
            item = dict(item)
            if 'template' in item:
                item['content'] = self.render_template(item.pop('template'))
            out.append(item)
        return out + list(self.args['files'])

    def render_template(self, path):
        """A Jinja template file like the template module renders it: a relative path is looked up in the role's
        and the playbook's templates/."""
        try:
            source = path if os.path.isabs(path) else self._find_needle('templates', path)
            with open(source) as handle:
                text = handle.read()
        except (IOError, OSError, AnsibleActionFail) as exc:
            raise AnsibleActionFail('%s: config template %s: %s' % (self.plan['name'], path, to_native(exc)))
        try:
            from ansible.template import trust_as_template  # ansible-core 2.19: a file is templated only when trusted
            text = trust_as_template(text)
        except ImportError:
            pass
        templar = self._templar.copy_with_new_env(available_variables=self.task_vars)
        return to_text(templar.template(text, preserve_trailing_newlines=True, escape_backslashes=False))

    @staticmethod
    def outcome(result):
        return 'rolled_back' if (result.get('rollback') or {}).get('ok') else 'failed'

    # -- absent -----------------------------------------------------------------------------------------------

    def remove(self):
        """Routes withdrawn first, then the units stopped and removed: one transaction."""
        routes = [self.route_args(r, 'absent') for r in self.plan.get('routes') or []]
        removed = self.call(APPLY, self.apply_args(units=self.units('absent'), routes=routes))
        return self.finish(removed, 'failed' if removed.get('failed') else 'success', kind='remove')

    # -- output -----------------------------------------------------------------------------------------------

    def show_phases(self, applied):
        lines = events.recovered_lines(applied.get('recovered'))
        if not self.live:  # shown as the run went; the summary follows
            lines += events.phase_lines(self.plan, applied)
        for line in lines:
            display.display(line)

    def finish(self, applied, outcome, kind=None):
        total = time.time() - self.started
        if applied.get('failure') and applied['failure'].get('check') != 'route':
            applied = dict(applied, failure=events.failure_record(self.plan, applied['failure']))
        names = [] if (applied.get('rollback') or {}).get('ok') else sorted(
            name for name, r in (applied.get('routes') or {}).items() if r.get('action') != 'unchanged')
        summary = events.summary_lines(self.plan, applied, names, total)
        if applied.get('failed'):
            failure = applied.get('failure') or {}
            where = ' %s (%s):' % (failure['service'], failure.get('check')) if failure.get('service') else ''
            summary.insert(0, '%s FAILED:%s %s' % (self.plan['name'], where, failure.get('cause') or applied.get('msg')))
        for line in summary:
            display.display(line)
        masked = sorted(u['service_name'] for u in (applied.get('units') or {}).values() if u.get('masked'))
        if masked:
            display.warning('%s: %s masked on the host (systemctl mask): left stopped, not started, waited on or '
                            'checked; systemctl unmask to let the deploy run it' % (self.plan['name'], ', '.join(masked)))
        result = {
            'changed': bool(applied.get('changed')), 'failed': bool(applied.get('failed')),
            'outcome': outcome, 'summary': summary, 'phases': applied.get('phases') or [],
            'units': applied.get('units') or {}, 'routes_changed': names, 'recovered': applied.get('recovered') or [],
            'images': applied.get('images') or {}, 'digests': applied.get('digests') or {},
            'pulls': applied.get('pulls') or {},
            'container_images': self.container_images(applied), 'failure': applied.get('failure'),
            'rollback': applied.get('rollback'), 'refused': bool(applied.get('refused')),
            'verify': applied.get('verify') or [],
            'health': applied.get('health') or {},
            'seconds': dict(events.phase_seconds(self.plan, applied), total=round(total, 1)),
            'service_seconds': events.service_seconds(self.plan, applied),
            'changed_services': events.changed_services(self.plan, applied),
            # where the time went: each host round trip, and inside the transaction its own steps
            'profile': self.profile,
            'check_mode': self.check_mode,
        }
        if applied.get('diff'):
            result['diff'] = applied['diff']
        # the role-level faces of the run, so a role needs no filter task (each costs a worker loading every filter)
        result['result'] = events.deploy_result(result, self.plan)
        if applied.get('failed'):
            result['msg'] = '\n'.join(summary + [to_text((applied.get('failure') or {}).get('evidence') or '')])
            result['report'] = events.deploy_report(result, self.plan, self.task_vars.get('inventory_hostname'),
                                                    self.args.get('rollback', True))
        if not self.check_mode and (applied.get('changed') or applied.get('failed')):
            result['event'] = self.event(result, outcome, kind)
            if self.args['publish']:
                result['ansible_stats'] = events.event_stats([result['event']])
        return result

    def container_images(self, applied):
        """{container: image} it runs, pinned by digest where the host reported one, else as planned."""
        digests, images = applied.get('digests') or {}, applied.get('images') or {}
        return dict((u['container'], digests.get(u['name']) or images.get(u['name']) or u.get('image'))
                    for phase in self.plan['phases'] for u in phase if u.get('container'))

    def event(self, result, outcome, kind):
        spec = self.args['event']
        images = result['container_images']
        details = dict(spec.get('details') or {}, scope=self.plan.get('scope', 'system'),
                       phases=[[u.get('service') or u['name'] for u in p] for p in self.plan['phases']],
                       touched=result['changed_services'], service_seconds=result['service_seconds'],
                       routes_changed=result['routes_changed'], recovered=result['recovered'])
        if kind:
            details['operation'] = kind
        return events.deploy_event(spec.get('kind') or self.plan.get('kind') or 'deploy',
                                   self.task_vars.get('inventory_hostname'), self.plan['name'], outcome, self.started,
                                   time.time(), images=images, pattern=spec.get('pattern'),
                                   strategy=spec.get('strategy') or 'phased', phases=events.phase_seconds(self.plan, result),
                                   failure=result['failure'], details=details,
                                   automation_level=spec.get('automation_level'))


class ProgressReader(object):
    """Reads a progress file on the host every PROGRESS_INTERVAL seconds in a thread and prints each new event.

    It uses its own copy of the connection (a separate ssh process per read over the same ControlMaster) and
    never fails the task: a read that fails is tried again at the next tick.
    """

    def __init__(self, connection, path, line_of, interval=None, show=None):
        self.connection, self.path, self.line_of = connection, path, line_of
        self.interval = PROGRESS_INTERVAL if interval is None else interval
        self.show = show or display.display
        self.seen, self.shown = 0, 0
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.loop, name='homelab-deploy-progress')
        self.thread.daemon = True

    def start(self):
        self.thread.start()

    def stop(self):
        self.done.set()
        self.thread.join(timeout=10)

    def loop(self):
        while not self.done.wait(self.interval):
            self.read()

    def read(self):
        try:
            rc, out, dummy = self.connection.exec_command('cat -- %s 2>/dev/null || true' % quote(self.path),
                                                          sudoable=False)
        except Exception:  # pylint: disable=broad-except
            return  # the host is busy or the connection hiccups: progress is best effort
        self.feed(to_text(out))

    def feed(self, text):
        """Print the complete lines after those already seen."""
        lines = text.split('\n')[:-1]  # the last piece is empty or a line still being written
        for line in lines[self.seen:]:
            self.seen += 1
            try:
                shown = self.line_of(json.loads(line))
            except ValueError:
                continue
            if shown:
                self.show(shown)
                self.shown += 1

# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private: one Traefik route file, planned, written and confirmed; not a public API, may change without notice.

The traefik_route module and the quadlet_apply transaction share this: the options (route_spec), their
validation outside a module (check_args), and Route, which reads the file, renders the wanted one, checks
it (spec, policy, references through the API), writes it atomically and confirms through Traefik's API.
Errors are RouteError with the message and the details a module result carries.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import tempfile

from ansible.module_utils.common.text.converters import to_bytes, to_native

from ansible_collections.homelab.deploy.plugins.module_utils import _traefik as traefik

CONSTRAINTS = dict(
    mutually_exclusive=[('rule', 'hostname'), ('rule', 'path_prefix'), ('urls', 'weighted')],
    required_if=[
        ('state', 'present', ('rule', 'hostname', 'path_prefix'), True),
        ('state', 'present', ('urls', 'weighted'), True),
        ('policy_exempt', True, ('policy_exempt_reason',)),
    ],
)


class RouteError(Exception):
    """A route was refused or not served; extra holds the result keys that explain it."""

    def __init__(self, msg, **extra):
        super(RouteError, self).__init__(msg)
        self.extra = extra


def route_spec():
    """The options of one route (traefik_route's argument spec)."""
    weighted = dict(
        name=dict(type='str', required=True),
        weight=dict(type='int', required=True),
        urls=dict(type='list', elements='str'),
        service=dict(type='str'),
    )
    basic_auth = dict(
        users=dict(type='list', elements='str', required=True, no_log=True),
        realm=dict(type='str'),
        remove_header=dict(type='bool'),
        header_field=dict(type='str'),
    )
    middleware = dict(
        name=dict(type='str', required=True),
        headers=dict(type='dict'),
        basic_auth=dict(type='dict', options=basic_auth),
        config=dict(type='dict'),
    )
    health_check = dict(
        path=dict(type='str'), interval=dict(type='str'), timeout=dict(type='str'),
        scheme=dict(type='str', choices=['http', 'https']), hostname=dict(type='str'),
        port=dict(type='int'), method=dict(type='str'), status=dict(type='int'),
    )
    tls = dict(
        cert_resolver=dict(type='str', aliases=['resolver']),
        entrypoints=dict(type='list', elements='str', default=list(traefik.TLS_ENTRYPOINTS)),
        redirect=dict(type='bool', default=True),
        options=dict(type='str'),
        domains=dict(type='list', elements='dict', options=dict(main=dict(type='str', required=True),
                                                                sans=dict(type='list', elements='str'))),
    )
    return dict(
        name=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        dynamic_dir=dict(type='path', default=traefik.DYNAMIC_DIR),
        hostname=dict(type='list', elements='str', aliases=['hostnames']),
        path_prefix=dict(type='str', aliases=['path']),
        rule=dict(type='str'),
        entrypoints=dict(type='list', elements='str', default=list(traefik.ENTRYPOINTS)),
        priority=dict(type='int'),
        middlewares=dict(type='list', elements='str', default=[]),
        define_middlewares=dict(type='list', elements='dict', default=[], options=middleware,
                                mutually_exclusive=[('headers', 'basic_auth', 'config')],
                                required_one_of=[('headers', 'basic_auth', 'config')]),
        urls=dict(type='list', elements='str'),
        weighted=dict(type='list', elements='dict', options=weighted,
                      mutually_exclusive=[('urls', 'service')], required_one_of=[('urls', 'service')]),
        pass_host_header=dict(type='bool', default=True, no_log=False),
        health_check=dict(type='dict', options=health_check),
        tls=dict(type='dict', options=tls),
        public=dict(type='bool', default=True),
        auth=dict(type='str', default='required', choices=['required', 'none']),
        auth_reason=dict(type='str'),
        auth_middlewares=dict(type='list', elements='str', default=list(traefik.AUTH_MIDDLEWARES)),
        lan_middleware=dict(type='str', default=traefik.LAN_MIDDLEWARE),
        required_middlewares=dict(type='list', elements='str', default=['security-headers@file']),
        policy_exempt=dict(type='bool', default=False),
        policy_exempt_reason=dict(type='str'),
        api_url=dict(type='str', default=traefik.API_URL),
        confirm=dict(type='bool', default=True),
        confirm_timeout=dict(type='int', default=30),
    )


def check_args(raw, where):
    """(validated route options with their defaults, values to keep out of logs); RouteError naming where."""
    from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
    result = ArgumentSpecValidator(route_spec(), **CONSTRAINTS).validate(dict(raw or {}))
    if result.error_messages:
        raise RouteError('%s: %s' % (where, '; '.join(to_native(e) for e in result.error_messages)))
    return result.validated_parameters, set(result._no_log_values)


def summarize(served):
    normalizers = {'routers': traefik.normalize_router, 'services': traefik.normalize_service,
                   'middlewares': traefik.normalize_middleware}
    return dict((kind, [normalizers[kind](item) for item in served.get(kind, {}).values() if item])
                for kind in traefik.KINDS)


class Route(object):
    """One route file: plan() reads and checks, write()/restore() change it, confirm() asks Traefik."""

    def __init__(self, params, open_url, writer=None):
        self.params = params
        self.name = params['name']
        self.path = os.path.join(params['dynamic_dir'], '%s.yml' % self.name)
        self.api = traefik.TraefikApi(params['api_url'], open_url)
        self.writer = writer or replace_file
        self.old = self.text = self.config = None
        self.info = {'path': self.path}

    @property
    def present(self):
        return self.params['state'] == 'present'

    @property
    def changed(self):
        return self.old != self.text

    def read(self):
        return read_text(self.path)

    def api_call(self, func, *args):
        try:
            return func(*args)
        except traefik.TraefikApiError as exc:
            raise RouteError('Traefik API error: %s (set confirm=false to skip the API)' % to_native(exc))

    # -- planning (nothing is written) ----------------------------------------------------------------------

    def plan(self):
        """Read the file and work out the wanted text; refuses (RouteError) before anything is written."""
        if not traefik.NAME_RE.match(self.name or ''):
            # for every state: a name is a file name in dynamic_dir, never a path (../x, /etc/x)
            raise RouteError('name %r must match %s (it names the file <dynamic_dir>/<name>.yml). Nothing was '
                             'changed.' % (self.name, traefik.NAME_RE.pattern))
        self.old = self.read()
        foreign = self.old is not None and traefik.parse_manifest(self.old) is None
        if not self.present:
            if foreign:  # a file someone wrote by hand is not ours to remove
                self.info['kept'] = ('%s was not written by homelab.deploy.traefik_route (no "%s" line): left '
                                     'alone' % (self.path, traefik.MANIFEST_PREFIX))
                self.text = self.old
            else:
                self.text = None
            return self
        if foreign:
            raise RouteError('%s exists and was not written by homelab.deploy.traefik_route (it has no "%s" line): '
                             'it is left alone. Remove or rename that file, or give the route another name. Nothing '
                             'was changed.' % (self.path, traefik.MANIFEST_PREFIX))
        errors = traefik.validate_spec(self.params)
        if errors:
            raise RouteError('Invalid route %s: %s' % (self.name, '; '.join(errors)), errors=errors)
        self.config = traefik.render_config(self.params)
        self.info['rule'] = self.config['http']['routers'][self.name]['rule']
        policy = traefik.check_policy(self.params)
        self.info['policy'] = policy
        if not policy['ok'] and policy['missing_middlewares']:
            raise RouteError(
                'Policy: public route %s lacks required middlewares %s; add them to middlewares, set public=false, '
                'or set policy_exempt=true with policy_exempt_reason. Nothing was written.'
                % (self.name, ', '.join(policy['missing_middlewares'])), policy=policy)
        if not policy['ok']:
            raise RouteError('Policy: %s. Nothing was written.' % policy['auth_problem'], policy=policy)
        self.text = traefik.render_file(self.config)
        if self.changed:  # a file already as wanted was checked when it was written (drift_check watches it since)
            self.check_references()
        return self

    def check_references(self):
        if not self.params['confirm']:
            return  # no API: names served by other files or providers cannot be known
        api_names = self.api_call(self.api.names)
        clashes = traefik.foreign_definitions(self.config, api_names, self.old)
        if clashes:
            raise RouteError('Already defined by another file in %s (Traefik would ignore ours): %s. Nothing was written.'
                             % (self.params['dynamic_dir'], ', '.join(clashes)))
        available = traefik.available_names(api_names, self.config, traefik.parse_manifest(self.old))
        missing = traefik.missing_references(self.params, available)
        if missing['services'] or missing['middlewares']:
            raise RouteError('Route %s refers to names neither defined in this file nor served by Traefik (API %s): %s. '
                             'Nothing was written.' % (self.name, self.params['api_url'],
                                                       ', '.join(missing['services'] + missing['middlewares'])),
                             missing=missing)

    def diff(self):
        return {'before': self.old or '', 'after': self.text or '', 'before_header': self.path,
                'after_header': self.path}

    # -- changing the file ----------------------------------------------------------------------------------

    def write(self):
        """The wanted text on disk (the file removed for state=absent)."""
        self.put(self.text)

    def restore(self):
        """The file as plan() found it."""
        self.put(self.old)

    def put(self, text):
        if text is None:
            if os.path.exists(self.path):
                os.remove(self.path)
            return
        if not os.path.isdir(self.params['dynamic_dir']):
            raise RouteError('dynamic_dir %s does not exist' % self.params['dynamic_dir'])
        self.writer(self.path, text)

    # -- confirming through the API -------------------------------------------------------------------------

    def served(self):
        """(loaded, (pending, errors, served)): loaded once every object matches the file."""
        try:
            served = traefik.served_state(self.api, self.config)
        except traefik.TraefikApiError as exc:
            return False, (['Traefik API: %s' % to_native(exc)], [], {})
        loose = [item['name'] for item in self.params['define_middlewares'] if item.get('config') is not None]
        pending, errors = traefik.compare_served(self.config, served, loose)
        return not pending, (pending, errors, served)

    def not_serving(self):
        loaded, (pending, errors, dummy) = self.served()
        return (not loaded or not errors), None

    def confirm(self, timeout=None):
        """Traefik serves the file as written (present) or no longer serves the router (absent).

        A present file that Traefik rejects or does not load in time is restored before RouteError is raised.
        """
        timeout = self.params['confirm_timeout'] if timeout is None else timeout
        if self.present:
            self.confirm_present(timeout)
        else:
            self.confirm_absent(timeout)

    def confirm_present(self, timeout):
        loaded, (pending, errors, served) = traefik.poll(self.served, timeout)
        if loaded and not errors:
            self.info['served'] = summarize(served)
            return
        self.restore()
        # Restored once Traefik no longer serves the rejected objects as written.
        recovered, dummy = traefik.poll(self.not_serving, timeout)
        if self.old is not None:
            restored = 'Restored the previous file' + ('; Traefik serves it again' if recovered
                                                       else '; Traefik has not reloaded it yet')
        else:
            restored = 'Removed the new file' + ('' if recovered else '; Traefik still serves the rejected objects')
        if loaded:
            raise RouteError('Traefik rejected %s: %s (reported by the Traefik API at %s). %s.'
                             % (self.path, '; '.join(errors), self.params['api_url'], restored),
                             traefik_errors=errors, rollback_confirmed=recovered)
        raise RouteError('Traefik did not load %s within %ss: %s. Traefik stops reloading the directory while any file '
                         'in it fails to parse, and skips names defined twice; see its log. %s.'
                         % (self.path, timeout, '; '.join(pending[:5]), restored),
                         pending=pending, rollback_confirmed=recovered)

    def confirm_absent(self, timeout):
        manifest = traefik.parse_manifest(self.old) or {'routers': [self.name]}
        names = [('routers', name) for name in manifest.get('routers', [])]

        def gone():
            left = [name for kind, name in names if self.api_call(self.api.get, kind, traefik.qualify(name)) is not None]
            return not left, left
        done, left = traefik.poll(gone, timeout)
        if not done:
            raise RouteError('Removed %s but Traefik still serves router(s) %s after %ss; another file may define them.'
                             % (self.path, ', '.join(left), timeout))


def read_text(path):
    """The text of a route file, or None when there is none."""
    if not os.path.exists(path):
        return None
    with open(path, 'rb') as handle:
        return handle.read().decode('utf-8')


def replace_file(path, text, mode=0o644):
    """Write text to path atomically: a temporary file beside it (.tmp is not a suffix Traefik loads), renamed."""
    directory = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), suffix='.tmp', dir=directory)
    try:
        with os.fdopen(fd, 'wb') as handle:
            handle.write(to_bytes(text))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.rename(tmp, path)
    except Exception:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise

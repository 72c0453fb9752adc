#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: traefik_route
short_description: Route one service through Traefik's file provider, confirmed through Traefik's API
version_added: 0.1.0
description:
  - Writes one file, C(<dynamic_dir>/<name>.yml), to the directory Traefik's file provider watches.
    The file declares a router C(<name>), a service C(<name>) (a load balancer, or a weighted parent with
    child load balancers C(<name>-<child>) for canaries), and optionally middlewares of its own.
    Other files in the directory are never touched.
  - Before writing, the route is validated (names, rule, URLs, weights), the middleware policy is enforced
    (a public route must carry the required authentication and security middlewares), and every
    middleware or service the file points at must be defined in the file or already served by Traefik.
    Nothing is written when any of these fail.
  - The file is written atomically. The module then polls Traefik's API until the router, services and
    middlewares are served exactly as written (rule, entry points, middleware chain, servers, weights) with
    status C(enabled) and no errors. If Traefik rejects the file or does not load it within
    O(confirm_timeout) seconds, the previous file is restored (or the new one removed) and the module
    fails with the error text Traefik's API reported.
  - Traefik starts serving a new file as soon as it loads it, so a rejected change can interrupt the route
    for the few seconds until the restored file is loaded again.
author:
  - homelab.deploy maintainers (@homelab)
extends_documentation_fragment:
  - homelab.deploy.attributes
  - ansible.builtin.files
attributes:
  check_mode:
    support: full
    details:
      - Validation, policy and reference checks (which read Traefik's API) run; nothing is written.
  diff_mode:
    support: full
    details:
      - The diff is the file text before and after.
  idempotent:
    support: full
    details:
      - The rendered text is compared with the file on disk; equal text means no change and no API confirmation.
options:
  name:
    description:
      - Service name. Names the file (C(<name>.yml)), the router and the service.
      - Letters, digits, C(-) and C(_).
    type: str
    required: true
  state:
    description:
      - C(present) writes the file and confirms Traefik serves it.
      - C(absent) removes the file and confirms Traefik no longer serves the router.
    type: str
    choices: [present, absent]
    default: present
  dynamic_dir:
    description: Directory watched by Traefik's file provider. It must exist.
    type: path
    default: /etc/traefik/dynamic
  hostname:
    description:
      - Host names routed to the service; the rule becomes C(Host(`a`) || Host(`b`)).
      - Combined with O(path_prefix) using C(&&).
    type: list
    elements: str
    aliases: [hostnames]
  path_prefix:
    description: Path prefix routed to the service, as C(PathPrefix(`/x`)).
    type: str
    aliases: [path]
  rule:
    description:
      - An explicit Traefik router rule, used as is. Its syntax is checked by Traefik itself; a rule
        Traefik rejects is rolled back and its error is reported.
    type: str
  entrypoints:
    description: Entry points the router listens on.
    type: list
    elements: str
    default: [web]
  priority:
    description: Router priority. Traefik defaults to the rule length.
    type: int
  middlewares:
    description:
      - Middleware chain, in order, by name. A name without C(@provider) refers to the file provider
        (this file or another file in O(dynamic_dir)).
      - Every name must be defined in O(define_middlewares) or already served by Traefik.
    type: list
    elements: str
    default: []
  define_middlewares:
    description:
      - Middlewares defined in this file. They still have to be listed in O(middlewares) to be used.
      - Names are global to the file provider; a name already defined by another file is an error.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Middleware name, without C(@provider).
        type: str
        required: true
      headers:
        description:
          - Configuration of a C(headers) middleware, in Traefik's own keys (for example C(customResponseHeaders)).
          - It must set at least one option; Traefik refuses an empty headers block.
        type: dict
      basic_auth:
        description: A C(basicAuth) middleware.
        type: dict
        suboptions:
          users:
            description:
              - C(user:hash) entries as produced by C(htpasswd -nB). Kept out of logs and output.
              - Consider O(mode=0600) for a file holding hashes.
            type: list
            elements: str
            required: true
          realm:
            description: Realm sent with the 401 challenge.
            type: str
          remove_header:
            description: Remove the Authorization header before forwarding.
            type: bool
          header_field:
            description: Header that carries the authenticated user name to the backend.
            type: str
      config:
        description:
          - "Any other middleware, as C({type: settings}) in Traefik's keys, for example C({redirectScheme: {scheme: https}})."
          - Exactly one middleware type. Confirmation checks only that a middleware of that type is served,
            since Traefik normalises some values.
        type: dict
  urls:
    description: Backend server URLs of a single load-balancer service (C(http://tr-web:8080)).
    type: list
    elements: str
  weighted:
    description:
      - Weighted round robin over several backends, for canaries. Shifting traffic means changing weights only.
      - Each item with O(weighted[].urls) becomes a child load balancer C(<name>-<item name>);
        an item with O(weighted[].service) points at an existing service instead.
    type: list
    elements: dict
    suboptions:
      name:
        description: Child name, for example C(stable) or C(canary).
        type: str
        required: true
      weight:
        description: Relative weight, an integer >= 0. At least one weight must be above 0.
        type: int
        required: true
      urls:
        description: Server URLs of this child's load balancer.
        type: list
        elements: str
      service:
        description: An existing service (C(name@provider)) to use instead of O(weighted[].urls).
        type: str
  pass_host_header:
    description: Forward the client's Host header to the backends.
    type: bool
    default: true
  health_check:
    description:
      - Traefik active health check for the load balancer(s). Servers failing it are taken out of rotation.
    type: dict
    suboptions:
      path:
        description: Path requested on each server.
        type: str
      interval:
        description: Time between checks, a Go duration such as C(10s).
        type: str
      timeout:
        description: Time before a check counts as failed.
        type: str
      scheme:
        description: Scheme of the check request when it differs from the server URL's.
        type: str
        choices: [http, https]
      hostname:
        description: Host header of the check request.
        type: str
      port:
        description: Port of the check request when it differs from the server URL's.
        type: int
      method:
        description: HTTP method of the check request.
        type: str
      status:
        description: Expected HTTP status; by default any 2xx or 3xx.
        type: int
  tls:
    description: Serve the router with TLS. An empty dict enables TLS with the default certificate.
    type: dict
    suboptions:
      cert_resolver:
        description: Certificate resolver from Traefik's static configuration.
        type: str
      options:
        description: TLS options name.
        type: str
      domains:
        description: Domains to request certificates for.
        type: list
        elements: dict
        suboptions:
          main:
            description: Main domain.
            type: str
            required: true
          sans:
            description: Subject alternative names.
            type: list
            elements: str
  public:
    description:
      - Whether the route is reachable from outside the trusted network. A public route must carry every
        middleware of O(required_middlewares) unless O(policy_exempt=true).
      - Defaults to C(true) so that forgetting it fails closed; set C(false) for LAN-only routes.
    type: bool
    default: true
  required_middlewares:
    description: Middlewares a public route must have in O(middlewares).
    type: list
    elements: str
    default: [authelia@file, security-headers@file]
  policy_exempt:
    description: Skip the middleware policy for this route. Requires O(policy_exempt_reason), which is returned.
    type: bool
    default: false
  policy_exempt_reason:
    description: Why this route is exempt, for the audit trail. Required when O(policy_exempt=true).
    type: str
  api_url:
    description: Base URL of Traefik's API (the C(traefik) entry point with C(api.insecure), or a router to C(api@internal)).
    type: str
    default: http://127.0.0.1:8080
  confirm:
    description:
      - Confirm through Traefik's API, and check referenced middlewares and services against it.
      - With C(false) the API is not contacted at all, so references and name clashes are not checked.
    type: bool
    default: true
  confirm_timeout:
    description: Seconds to wait for Traefik to load (or drop) the file. Traefik reloads the directory after about 2 seconds.
    type: int
    default: 30
notes:
  - Traefik merges every file of the directory into one configuration and stops reloading while any file
    fails to parse; the module then times out and restores the previous file.
seealso:
  - module: homelab.deploy.traefik_route_info
'''

EXAMPLES = r'''
- name: Publish Nextcloud behind Authelia and security headers
  homelab.deploy.traefik_route:
    name: nextcloud
    hostname: [cloud.example.org]
    entrypoints: [websecure]
    urls: [http://nextcloud:80]
    middlewares: [crowdsec-bouncer@file, authelia@file, security-headers@file]
    health_check:
      path: /status.php
      interval: 10s
    tls:
      cert_resolver: letsencrypt

- name: Canary 90/10; shift traffic later by changing the weights only
  homelab.deploy.traefik_route:
    name: whoami
    hostname: [whoami.lan]
    public: false
    weighted:
      - name: stable
        weight: 90
        urls: [http://whoami-stable:8080]
      - name: canary
        weight: 10
        urls: [http://whoami-canary:8080]

- name: A LAN tool with its own basic auth, exempt from the SSO policy
  homelab.deploy.traefik_route:
    name: printer
    hostname: [printer.lan]
    urls: [http://192.0.2.10:631]
    middlewares: [printer-auth]
    define_middlewares:
      - name: printer-auth
        basic_auth:
          users: ["{{ printer_htpasswd }}"]
    policy_exempt: true
    policy_exempt_reason: CUPS has no OIDC support; reachable from the LAN only

- name: Remove the route
  homelab.deploy.traefik_route:
    name: whoami
    state: absent
'''

RETURN = r'''
path:
  description: The file managed for this service.
  returned: always
  type: str
  sample: /etc/traefik/dynamic/whoami.yml
rule:
  description: Router rule written to the file.
  returned: when O(state=present)
  type: str
  sample: Host(`whoami.lan`)
policy:
  description: Outcome of the middleware policy.
  returned: when O(state=present)
  type: dict
  contains:
    public:
      description: Whether the route was declared public.
      type: bool
    required_middlewares:
      description: Middlewares the policy asked for.
      type: list
      elements: str
    missing_middlewares:
      description: Required middlewares absent from the chain.
      type: list
      elements: str
    exempt:
      description: Whether the route is exempt.
      type: bool
    exempt_reason:
      description: The recorded reason for the exemption.
      type: str
    ok:
      description: Whether the route passes the policy.
      type: bool
  sample: {public: false, required_middlewares: [], missing_middlewares: [], exempt: false, exempt_reason: null, ok: true}
served:
  description:
    - What Traefik's API reported once the file was confirmed, by kind and name
      (see M(homelab.deploy.traefik_route_info) for the fields).
  returned: when the file was written and confirmed
  type: dict
  sample: {routers: [{name: whoami@file, status: enabled}], services: [], middlewares: []}
traefik_errors:
  description: Error texts from Traefik's API when it rejected the file (on failure).
  returned: failure
  type: list
  elements: str
  sample: ["router whoami@file: error while parsing rule Host(`a`: ..."]
'''

import os
import tempfile

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes, to_native
from ansible.module_utils.urls import open_url

from ansible_collections.homelab.deploy.plugins.module_utils import _traefik as traefik


class TraefikRouteManager(object):
    """Reads the current file, renders the wanted one, and applies the difference."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.name = self.params['name']
        self.path = os.path.join(self.params['dynamic_dir'], '%s.yml' % self.name)
        self.api = traefik.TraefikApi(self.params['api_url'], open_url)
        self.result = {'changed': False, 'path': self.path}

    # -- reading -------------------------------------------------------------

    def get_current(self):
        if not os.path.exists(self.path):
            return None
        with open(self.path, 'rb') as handle:
            return handle.read().decode('utf-8')

    def api_call(self, func, *args):
        try:
            return func(*args)
        except traefik.TraefikApiError as exc:
            self.module.fail_json(msg='Traefik API error: %s (set confirm=false to skip the API)' % to_native(exc), **self.result)

    # -- checks before writing -----------------------------------------------

    def validate(self):
        errors = traefik.validate_spec(self.params)
        if errors:
            self.module.fail_json(msg='Invalid route %s: %s' % (self.name, '; '.join(errors)), errors=errors, **self.result)

    def enforce_policy(self):
        policy = traefik.check_policy(self.params)
        self.result['policy'] = policy
        if not policy['ok']:
            self.module.fail_json(
                msg='Policy: public route %s lacks required middlewares %s; add them to middlewares, set public=false, '
                    'or set policy_exempt=true with policy_exempt_reason. Nothing was written.'
                    % (self.name, ', '.join(policy['missing_middlewares'])), **self.result)

    def check_references(self, config, old_text):
        if not self.params['confirm']:
            return  # no API: names served by other files or providers cannot be known
        api_names = self.api_call(self.api.names)
        clashes = traefik.foreign_definitions(config, api_names, old_text)
        if clashes:
            self.module.fail_json(msg='Already defined by another file in %s (Traefik would ignore ours): %s. Nothing was written.'
                                  % (self.params['dynamic_dir'], ', '.join(clashes)), **self.result)
        available = traefik.available_names(api_names, config, traefik.parse_manifest(old_text))
        missing = traefik.missing_references(self.params, available)
        if missing['services'] or missing['middlewares']:
            self.module.fail_json(msg='Route %s refers to names neither defined in this file nor served by Traefik (API %s): %s. '
                                      'Nothing was written.' % (self.name, self.params['api_url'],
                                                                ', '.join(missing['services'] + missing['middlewares'])),
                                  missing=missing, **self.result)

    # -- writing ---------------------------------------------------------------

    def write_file(self, text):
        directory = self.params['dynamic_dir']
        if not os.path.isdir(directory):
            self.module.fail_json(msg='dynamic_dir %s does not exist' % directory, **self.result)
        # Same directory as the target so the rename is atomic; .tmp is not a suffix Traefik loads.
        fd, tmp = tempfile.mkstemp(prefix='.%s.' % self.name, suffix='.tmp', dir=directory)
        with os.fdopen(fd, 'wb') as handle:
            handle.write(to_bytes(text))
        self.module.atomic_move(tmp, self.path, unsafe_writes=self.params['unsafe_writes'])

    def restore(self, old_text):
        if old_text is None:
            os.remove(self.path)
        else:
            self.write_file(old_text)

    def set_attributes(self):
        file_args = self.module.load_file_common_arguments(self.params, path=self.path)
        diff = {}
        self.result['changed'] = self.module.set_fs_attributes_if_different(file_args, self.result['changed'], diff)

    # -- confirming through the API --------------------------------------------

    def served(self, config):
        """(loaded, (pending, errors, served)): loaded once every object matches the file."""
        try:
            served = traefik.served_state(self.api, config)
        except traefik.TraefikApiError as exc:
            return False, (['Traefik API: %s' % to_native(exc)], [], {})
        pending, errors = traefik.compare_served(config, served, self.loose_middlewares())
        return not pending, (pending, errors, served)

    def loose_middlewares(self):
        return [item['name'] for item in self.params['define_middlewares'] if item.get('config') is not None]

    def confirm_present(self, config, old_text):
        timeout = self.params['confirm_timeout']
        loaded, (pending, errors, served) = traefik.poll(lambda: self.served(config), timeout)
        if loaded and not errors:
            self.result['served'] = summarize(served)
            return
        self.restore(old_text)
        # Restored once Traefik no longer serves the rejected objects as written.
        recovered, dummy = traefik.poll(lambda: self.not_serving(config), timeout)
        if old_text is not None:
            restored = 'Restored the previous file' + ('; Traefik serves it again' if recovered else '; Traefik has not reloaded it yet')
        else:
            restored = 'Removed the new file' + ('' if recovered else '; Traefik still serves the rejected objects')
        if loaded:
            self.module.fail_json(msg='Traefik rejected %s: %s (reported by the Traefik API at %s). %s.'
                                  % (self.path, '; '.join(errors), self.params['api_url'], restored),
                                  traefik_errors=errors, rollback_confirmed=recovered, **self.result)
        self.module.fail_json(msg='Traefik did not load %s within %ss: %s. Traefik stops reloading the directory while any file in it '
                                  'fails to parse, and skips names defined twice; see its log. %s.'
                                  % (self.path, timeout, '; '.join(pending[:5]), restored),
                              pending=pending, rollback_confirmed=recovered, **self.result)

    def not_serving(self, config):
        loaded, (pending, errors, dummy) = self.served(config)
        return (not loaded or not errors), None

    def confirm_absent(self, old_text):
        manifest = traefik.parse_manifest(old_text) or {'routers': [self.name]}
        names = [('routers', name) for name in manifest.get('routers', [])]

        def gone():
            left = [name for kind, name in names if self.api_call(self.api.get, kind, traefik.qualify(name)) is not None]
            return not left, left
        done, left = traefik.poll(gone, self.params['confirm_timeout'])
        if not done:
            self.module.fail_json(msg='Removed %s but Traefik still serves router(s) %s after %ss; another file may define them.'
                                  % (self.path, ', '.join(left), self.params['confirm_timeout']), **self.result)

    # -- states ----------------------------------------------------------------

    def present(self):
        self.validate()
        config = traefik.render_config(self.params)
        self.result['rule'] = config['http']['routers'][self.name]['rule']
        self.enforce_policy()
        old_text = self.get_current()
        self.check_references(config, old_text)
        text = traefik.render_file(config)
        self.result['changed'] = old_text != text
        self.set_diff(old_text, text)
        if self.result['changed'] and not self.module.check_mode:
            self.write_file(text)
            if self.params['confirm']:
                self.confirm_present(config, old_text)
        if self.module.check_mode and old_text is None:
            return
        self.set_attributes()

    def absent(self):
        old_text = self.get_current()
        self.result['changed'] = old_text is not None
        self.set_diff(old_text, None)
        if self.result['changed'] and not self.module.check_mode:
            os.remove(self.path)
            if self.params['confirm']:
                self.confirm_absent(old_text)

    def set_diff(self, before, after):
        if self.module._diff:
            self.result['diff'] = {'before': before or '', 'after': after or '',
                                   'before_header': self.path, 'after_header': self.path}

    def run(self):
        if self.params['state'] == 'present':
            self.present()
        else:
            self.absent()
        return self.result


def summarize(served):
    normalizers = {'routers': traefik.normalize_router, 'services': traefik.normalize_service, 'middlewares': traefik.normalize_middleware}
    return dict((kind, [normalizers[kind](item) for item in served.get(kind, {}).values() if item]) for kind in traefik.KINDS)


def argument_spec():
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
        cert_resolver=dict(type='str'),
        options=dict(type='str'),
        domains=dict(type='list', elements='dict', options=dict(main=dict(type='str', required=True),
                                                                sans=dict(type='list', elements='str'))),
    )
    return dict(
        name=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        dynamic_dir=dict(type='path', default='/etc/traefik/dynamic'),
        hostname=dict(type='list', elements='str', aliases=['hostnames']),
        path_prefix=dict(type='str', aliases=['path']),
        rule=dict(type='str'),
        entrypoints=dict(type='list', elements='str', default=['web']),
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
        required_middlewares=dict(type='list', elements='str', default=['authelia@file', 'security-headers@file']),
        policy_exempt=dict(type='bool', default=False),
        policy_exempt_reason=dict(type='str'),
        api_url=dict(type='str', default='http://127.0.0.1:8080'),
        confirm=dict(type='bool', default=True),
        confirm_timeout=dict(type='int', default=30),
    )


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[('rule', 'hostname'), ('rule', 'path_prefix'), ('urls', 'weighted')],
        required_if=[
            ('state', 'present', ('rule', 'hostname', 'path_prefix'), True),
            ('state', 'present', ('urls', 'weighted'), True),
            ('policy_exempt', True, ('policy_exempt_reason',)),
        ],
        add_file_common_args=True,
        supports_check_mode=True,
    )
    module.exit_json(**TraefikRouteManager(module).run())


if __name__ == '__main__':
    main()

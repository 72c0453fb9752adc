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
  - Writes one file, C(<dynamic_dir>/<name>.yml), to the directory Traefik's file provider watches
    (O(dynamic_dir), which must exist).
    The file declares a router C(<name>), a service C(<name>) (a load balancer, or a weighted parent with
    child load balancers C(<name>-<child>) for canaries), and optionally middlewares of its own.
    Other files in the directory are never touched. A file of the same name that this module did not write
    (its files carry a C(# homelab.deploy.traefik_route defines:) line) is refused for O(state=present) and left alone
    for O(state=absent). O(name) is checked for every state, so it can only name a file in O(dynamic_dir).
  - The module holds the host lock of the engine (the C(flock) on C(/run/homelab-deploy.lock) that
    M(homelab.deploy.quadlet_apply) takes) while it reads, writes and confirms, so it does not interleave with a
    deploy on the same host; it needs root for that (C(become)).
  - Before writing, the route is validated (names, rule, URLs, weights; a URL on the port of O(api_url) at a
    loopback address, C(localhost) or the C(traefik) container, and a weighted child on C(api@internal),
    C(dashboard@internal) or another of Traefik's own services, are refused, as they reach Traefik's API and
    dashboard), the middleware policy is enforced
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
  - homelab.deploy.traefik
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
    description:
      - Entry points the router listens on; with O(tls), the plain-HTTP entry points the route redirects from.
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
    description:
      - Serve the route over HTTPS. An empty dict serves it with Traefik's default certificate; O(tls.resolver) gets
        one from an ACME certificate resolver of the C(homelab.deploy.traefik) role (O(tls.resolver=letsencrypt)).
      - The router C(<name>) is then on O(tls.entrypoints) with TLS, and a second router C(<name>-http), with the same
        rule on O(entrypoints), redirects to HTTPS (a middleware C(<name>-https-redirect) of this file, a permanent
        redirect) or, with O(tls.redirect=false), serves HTTP as well.
    type: dict
    suboptions:
      cert_resolver:
        description: Certificate resolver from Traefik's static configuration (the role's C(traefik_cert_resolvers)).
        type: str
        aliases: [resolver]
      entrypoints:
        description: Entry points the HTTPS router listens on (the role's C(homelab_traefik.tls_entrypoints)).
        type: list
        elements: str
        default: [websecure]
      redirect:
        description: Redirect the route's hosts from HTTP (O(entrypoints)) to HTTPS; C(false) serves both.
        type: bool
        default: true
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
    description:
      - Middlewares a public route must have in O(middlewares), on top of an authentication middleware (O(auth)).
    type: list
    elements: str
    default: [security-headers@file]
  auth:
    description:
      - Whether a public route must be behind authentication. C(required) - O(middlewares) must hold one of
        O(auth_middlewares) (or a basicAuth middleware the route defines itself), whatever O(required_middlewares)
        says. C(none) - reachable without a login (an app with its own login and API clients, a public site), which
        needs O(auth_reason).
      - Ignored for routes with O(public=false).
    type: str
    choices: [required, none]
    default: required
  auth_reason:
    description: Why a public route may be reached without authentication; required with O(auth=none), returned in
      RV(policy.auth_reason).
    type: str
  auth_middlewares:
    description: Middlewares that count as authentication for O(auth=required) (forward-auth such as Authelia or
      authentik).
    type: list
    elements: str
    default: [authelia@file, authentik@file]
  lan_middleware:
    description:
      - The IP allow-list put first in the chain of a route with O(public=false), so a LAN-only route answers 403 to
        clients outside the trusted network. The M(homelab.deploy.traefik) role defines C(lan-only@file) from its
        C(traefik_lan_ranges); Traefik must serve the middleware (it is checked like any reference).
      - An empty string leaves a non-public route without an allow-list (a Traefik reachable from the LAN only).
    type: str
    default: lan-only@file
  policy_exempt:
    description: Skip the middleware policy for this route. Requires O(policy_exempt_reason), which is returned.
    type: bool
    default: false
  policy_exempt_reason:
    description: Why this route is exempt, for the audit trail. Required when O(policy_exempt=true).
    type: str
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
  lock_timeout:
    description: Seconds to wait for another run on the same host to release the host lock.
    type: int
    default: 120
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
    urls: [http://nextcloud:80]
    middlewares: [crowdsec-bouncer@file, authelia@file, security-headers@file]
    health_check:
      path: /status.php
      interval: 10s
    # HTTPS on websecure with a Let's Encrypt certificate; http://cloud.example.org/ redirects there
    tls:
      resolver: letsencrypt

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
kept:
  description: With O(state=absent), why a file of that name was left alone (it was not written by this module).
  returned: when such a file was found
  type: str
  sample: '/etc/traefik/dynamic/whoami.yml was not written by homelab.deploy.traefik_route (...): left alone'
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
    auth:
      description: C(required) or C(none) for a public route, null for a LAN-only one.
      type: str
    auth_reason:
      description: Why the public route is reachable without authentication (with C(auth=none)).
      type: str
    auth_problem:
      description: Why the authentication rule refuses the route, or null.
      type: str
    lan_middleware:
      description: The allow-list in front of a non-public route, or null.
      type: str
    exempt:
      description: Whether the route is exempt.
      type: bool
    exempt_reason:
      description: The recorded reason for the exemption.
      type: str
    ok:
      description: Whether the route passes the policy.
      type: bool
  sample: {public: false, required_middlewares: [], missing_middlewares: [], auth: null, auth_reason: null, auth_problem: null,
           lan_middleware: lan-only@file, exempt: false, exempt_reason: null, ok: true}
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
from ansible.module_utils.common.text.converters import to_bytes
from ansible.module_utils.urls import open_url

from ansible_collections.homelab.deploy.plugins.module_utils import _podman as podman
from ansible_collections.homelab.deploy.plugins.module_utils import _route as route


def lock_path():
    """The engine's host lock (quadlet_apply's): Traefik is a system service, so the system scope's."""
    return podman.Scope('system').lock_path()


class TraefikRouteManager(object):
    """The module around one _route.Route: check mode, diff, file attributes and the result."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.route = route.Route(self.params, open_url, writer=self.write_file)
        self.result = {'changed': False, 'path': self.route.path}

    def write_file(self, path, text):
        # Same directory as the target so the rename is atomic; .tmp is not a suffix Traefik loads.
        fd, tmp = tempfile.mkstemp(prefix='.%s.' % self.params['name'], suffix='.tmp', dir=os.path.dirname(path))
        with os.fdopen(fd, 'wb') as handle:
            handle.write(to_bytes(text))
        self.module.atomic_move(tmp, path, unsafe_writes=self.params['unsafe_writes'])

    def set_attributes(self):
        file_args = self.module.load_file_common_arguments(self.params, path=self.route.path)
        self.result['changed'] = self.module.set_fs_attributes_if_different(file_args, self.result['changed'], {})

    def apply(self):
        self.route.plan()
        self.result['changed'] = self.route.changed
        if self.module._diff:
            self.result['diff'] = self.route.diff()
        if self.route.changed and not self.module.check_mode:
            self.route.write()
            if self.params['confirm']:
                self.route.confirm()
        if self.route.present and not (self.module.check_mode and self.route.old is None):
            self.set_attributes()

    def run(self):
        try:
            with podman.host_lock(lock_path(), self.params['lock_timeout']):
                self.apply()
        except podman.CommandError as exc:
            self.module.fail_json(msg='%s' % exc, **self.result)
        except route.RouteError as exc:
            self.result.update(self.route.info)
            self.module.fail_json(msg='%s' % exc, **dict(self.result, **exc.extra))
        self.result.update(self.route.info)
        if self.route.info.get('kept'):
            self.module.warn(self.route.info['kept'])
        return self.result


def main():
    module = AnsibleModule(
        argument_spec=dict(route.route_spec(), lock_timeout=dict(type='int', default=120)),
        add_file_common_args=True,
        supports_check_mode=True,
        **route.CONSTRAINTS
    )
    module.exit_json(**TraefikRouteManager(module).run())


if __name__ == '__main__':
    main()

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: drift_check
short_description: Report configuration drift between Quadlet units, Traefik routes and what actually runs
version_added: 0.1.0
description:
  - Compares every C(.container) unit in the unit directory of O(scope) with the container that runs for it -
    image (tag and digest), command, entrypoint, environment, volumes and their options (ro/rw, SELinux z/Z),
    published ports, networks, labels, podman memory/CPU limits, health settings and user, and the run-time keys
    the unit declares (C(runtime.*) - WorkingDir, HostName, StopSignal, Timezone, ShmSize, RunInit, ReadOnly, DNS,
    DNSSearch, DNSOption, AddHost, GroupAdd, Ulimit, Annotation, Tmpfs, AddDevice, NoNewPrivileges, and
    AddCapability/DropCapability judged by the capabilities the process has (C(EffectiveCaps)); a privileged
    container is drift unless its unit says C(--privileged)). C(Sysctl=) is not compared (podman's inspect output
    does not show it).
  - Compares the unit file on disk with what systemd has loaded (a daemon-reload pending) and the systemd cgroup
    limits (C(MemoryMax), C(MemoryHigh), C(MemoryLow), C(MemoryMin), C(CPUQuota), C(CPUWeight)) with the
    C([Service]) section.
  - Reports containers that no unit declares (a manual C(podman run)); they are never touched.
  - Compares declared Traefik routes (O(routes)) with their files in O(dynamic_dir), and the files with what
    the Traefik API serves (router missing, middleware chain differs, backend down). An empty O(api_url) skips
    the comparison with what Traefik serves.
  - Reads the host with a constant number of processes whatever the number of containers - C(podman ps),
    one batched C(podman container inspect), one C(podman image inspect) and one C(systemctl show) - not one
    process per container.
  - Reports only; it never changes the host. Each drifted field comes with the declared value, the running
    value, the impact and the remediation (C(restart) recreates the container from its unit,
    C(reload_restart) reloads systemd first, C(rewrite_route) rewrites the route file, C(review) needs a human).
    The playbook C(homelab.deploy.drift) applies the remediations.
author:
  - homelab.deploy maintainers (@homelab)
extends_documentation_fragment:
  - homelab.deploy.attributes
  - homelab.deploy.attributes.INFO_MODULE
  - homelab.deploy.scope
  - homelab.deploy.traefik
options:
  names:
    description:
      - Only these container units, as file names (C(web.container)) or names without suffix. All when empty.
      - Containers no unit declares are only reported when O(names) is empty.
    type: list
    elements: str
    default: []
  unmanaged:
    description: Report containers that no unit of the scope declares.
    type: bool
    default: true
  ignore:
    description:
      - Fields not to report, as globs of C(field) or C(unit:field), matched against the field names of the
        result, for example C(env.TZ), C(labels.*), C(web.container:memory), C(*:health.interval).
      - C(unmanaged) or C(NAME:unmanaged) hides containers nobody declares.
    type: list
    elements: str
    default: []
  ignore_env:
    description:
      - Environment variables podman or the runtime set by themselves, never reported.
      - Variables the image declares are compared against the image's value, so they need no entry here.
    type: list
    elements: str
    default: [HOSTNAME, HOME, container, TERM]
  ignore_labels:
    description: Labels podman, quadlet or buildah add by themselves, never reported unless a unit declares them.
    type: list
    elements: str
    default: [PODMAN_SYSTEMD_UNIT, io.containers.autoupdate, io.buildah.version]
  routes:
    description:
      - Declared Traefik routes, with the options of M(homelab.deploy.traefik_route) that shape the file.
      - Each is compared with C(<dynamic_dir>/<name>.yml) and with what the Traefik API serves.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Route name (the file is C(<name>.yml)).
        type: str
        required: true
      hostname:
        description: Host names of the router rule.
        type: list
        elements: str
      path_prefix:
        description: Path prefix of the router rule.
        type: str
      rule:
        description: A complete router rule instead of O(routes[].hostname)/O(routes[].path_prefix).
        type: str
      urls:
        description: Backend URLs.
        type: list
        elements: str
        required: true
      middlewares:
        description: Middleware chain of the router.
        type: list
        elements: str
        default: []
      entrypoints:
        description: Entry points of the router.
        type: list
        elements: str
        default: [web]
      priority:
        description: Router priority.
        type: int
      pass_host_header:
        description: Pass the Host header to the backend.
        type: bool
        default: true
      public:
        description: Whether the route is public; a route that is not has the LAN allow-list (O(routes[].lan_middleware))
          first in its chain, as M(homelab.deploy.traefik_route) writes it.
        type: bool
        default: true
      lan_middleware:
        description: The allow-list of a non-public route (M(homelab.deploy.traefik_route)'s C(lan_middleware)).
        type: str
        default: lan-only@file
      define_middlewares:
        description:
          - Middlewares the route file defines, as M(homelab.deploy.traefik_route) takes them (C(name), and
            C(headers), C(basic_auth) or C(config)).
        type: list
        elements: dict
        default: []
      tls:
        description:
          - HTTPS of the route, as M(homelab.deploy.traefik_route) takes it (O(homelab.deploy.traefik_route#module:tls)).
            The HTTPS router is on O(routes[].tls.entrypoints), a redirecting router on O(routes[].entrypoints).
        type: dict
        suboptions:
          cert_resolver:
            description: Certificate resolver from Traefik's static configuration.
            type: str
            aliases: [resolver]
          entrypoints:
            description: Entry points the HTTPS router listens on.
            type: list
            elements: str
            default: [websecure]
          redirect:
            description: Redirect the route's hosts from HTTP to HTTPS; C(false) serves both.
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
  route_files:
    description:
      - Also compare every file in O(dynamic_dir) written by M(homelab.deploy.traefik_route) with what Traefik
        serves, declared in O(routes) or not.
    type: bool
    default: true
  fail_on_drift:
    description: Fail the task when anything drifted (for CI and timers); the result still carries the report.
    type: bool
    default: false
seealso:
  - module: homelab.deploy.quadlet
  - module: homelab.deploy.traefik_route
'''

EXAMPLES = r'''
- name: Report drift on the host
  homelab.deploy.drift_check:
  register: drift

- name: Fail a CI job on drift, ignoring a variable the operator may tune by hand
  homelab.deploy.drift_check:
    ignore: [env.LOG_LEVEL, "*:health.interval"]
    fail_on_drift: true

- name: Check the route of wiki as declared, too
  homelab.deploy.drift_check:
    names: [wiki-app.container]
    routes:
      - name: wiki
        hostname: [wiki.example.org]
        urls: [http://wiki-app:3000]
        middlewares: [security-headers@file]
'''

RETURN = r'''
drifted:
  description: Whether anything drifted (services, unmanaged containers or routes).
  returned: always
  type: bool
drifted_count:
  description: Number of drifted services, unmanaged containers and routes.
  returned: always
  type: int
  sample: 2
services:
  description: One entry per container unit checked.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Unit file name, or container name for an unmanaged container, or route name.
      type: str
    unit:
      description: The systemd service of the unit.
      type: str
    container:
      description: The container name the unit declares.
      type: str
    drifted:
      description: Whether any field drifted.
      type: bool
    remediation:
      description: The strongest remediation the fields need (C(none), C(rewrite_route), C(restart), C(reload_restart), C(review)).
      type: str
    managed:
      description:
        - Whether the unit carries the collection's ownership label (C(Label=io.homelab.deploy.managed=true)). The drift
          playbook's C(auto_fix) restarts only such units; others are reported.
      type: bool
    fields:
      description: Each drifted field.
      type: list
      elements: dict
      contains:
        field:
          description: Field name, such as C(env.HL_WEB_VERSION), C(volumes./data.mode), C(memory.limit), C(daemon_reload).
          type: str
        declared:
          description: The value the unit (or route) declares.
          type: raw
        running:
          description: The value that runs.
          type: raw
        impact:
          description: What the difference means.
          type: str
        remediation:
          description: What fixes it.
          type: str
        detail:
          description: More context, when there is some.
          type: str
  sample:
    - name: web.container
      unit: web.service
      container: web
      drifted: true
      remediation: restart
      managed: true
      fields:
        - {field: env.HL_WEB_VERSION, declared: "1", running: "2", remediation: restart,
           impact: the application runs with other settings than declared, detail: null}
unmanaged:
  description: Containers no unit declares, in the same shape as RV(services) (field C(unmanaged), remediation C(review)).
  returned: always
  type: list
  elements: dict
routes:
  description: One entry per declared route and route file, in the same shape as RV(services).
  returned: always
  type: list
  elements: dict
commands:
  description: The commands run to read the host (their number does not grow with the number of containers).
  returned: always
  type: list
  elements: str
summary:
  description: One line per drifted field, for logs and notifications.
  returned: always
  type: list
  elements: str
'''

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.urls import open_url

from ansible_collections.homelab.deploy.plugins.module_utils import _drift as drift
from ansible_collections.homelab.deploy.plugins.module_utils import _podman as podman
from ansible_collections.homelab.deploy.plugins.module_utils import _quadlet as quadlet
from ansible_collections.homelab.deploy.plugins.module_utils import _route
from ansible_collections.homelab.deploy.plugins.module_utils import _traefik as traefik
from ansible_collections.homelab.deploy.plugins.module_utils._drift_host import DriftChecker


def argument_spec():
    route = dict(
        name=dict(type='str', required=True),
        hostname=dict(type='list', elements='str'),
        path_prefix=dict(type='str'),
        rule=dict(type='str'),
        urls=dict(type='list', elements='str', required=True),
        middlewares=dict(type='list', elements='str', default=[]),
        entrypoints=dict(type='list', elements='str', default=list(traefik.ENTRYPOINTS)),
        priority=dict(type='int'),
        pass_host_header=dict(type='bool', default=True, no_log=False),
        tls=_route.route_spec()['tls'],
        public=dict(type='bool', default=True),
        lan_middleware=dict(type='str', default=traefik.LAN_MIDDLEWARE),
        # as traefik_route takes them (name, and headers, basic_auth or config); checked by the route renderer
        define_middlewares=dict(type='list', elements='dict', default=[]),
    )
    return dict(
        names=dict(type='list', elements='str', default=[]),
        unmanaged=dict(type='bool', default=True),
        ignore=dict(type='list', elements='str', default=[]),
        ignore_env=dict(type='list', elements='str', default=list(drift.DEFAULT_IGNORED_ENV)),
        ignore_labels=dict(type='list', elements='str', default=list(drift.DEFAULT_IGNORED_LABELS)),
        routes=dict(type='list', elements='dict', default=[], options=route),
        route_files=dict(type='bool', default=True),
        dynamic_dir=dict(type='path', default=traefik.DYNAMIC_DIR),
        api_url=dict(type='str', default=traefik.API_URL),
        fail_on_drift=dict(type='bool', default=False),
        scope=dict(type='str', default='system', choices=['system', 'user']),
        user=dict(type='str'),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), required_if=[('scope', 'user', ('user',))],
                           supports_check_mode=True)
    try:
        scope = podman.Scope(module.params['scope'], module.params['user'])
        problem = scope.problem()
        if problem:
            module.fail_json(msg=problem)
        result = DriftChecker(module, podman.Runner(module, scope), open_url).run()
    except (podman.CommandError, ValueError, quadlet.QuadletError) as exc:
        details = exc.details() if isinstance(exc, podman.CommandError) else {}
        module.fail_json(msg=to_native(exc), **details)
    if module.params['fail_on_drift'] and result['drifted']:
        module.fail_json(msg='drift found: %s' % '; '.join(result['summary'][:20]), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()

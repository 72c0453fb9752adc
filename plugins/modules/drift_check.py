#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: drift_check
short_description: Report configuration drift between Quadlet units, Traefik routes and what actually runs
version_added: 0.2.0
description:
  - Compares every C(.container) unit in the unit directory of O(scope) with the container that runs for it:
    image (tag and digest), command, entrypoint, environment, volumes and their options (ro/rw, C(:z)/C(:Z)),
    published ports, networks, labels, podman memory/CPU limits, health settings and user.
  - Compares the unit file on disk with what systemd has loaded (a daemon-reload pending) and the systemd cgroup
    limits (C(MemoryMax), C(MemoryHigh), C(MemoryLow), C(MemoryMin), C(CPUQuota), C(CPUWeight)) with the
    C([Service]) section.
  - Reports containers that no unit declares (a manual C(podman run)); they are never touched.
  - Compares declared Traefik routes (O(routes)) with their files in O(dynamic_dir), and the files with what
    the Traefik API serves (router missing, middleware chain differs, backend down).
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
  route_files:
    description:
      - Also compare every file in O(dynamic_dir) written by M(homelab.deploy.traefik_route) with what Traefik
        serves, declared in O(routes) or not.
    type: bool
    default: true
  dynamic_dir:
    description: Traefik's file-provider directory.
    type: path
    default: /etc/traefik/dynamic
  api_url:
    description: Traefik API base URL. Empty skips the comparison with what Traefik serves.
    type: str
    default: http://127.0.0.1:8080
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
      fields:
        - {field: env.HL_WEB_VERSION, declared: "1", running: "2", remediation: restart,
           impact: the application runs with other settings than declared, detail: null}
unmanaged:
  description: Containers no unit declares, in the same shape as O(services) (field C(unmanaged), remediation C(review)).
  returned: always
  type: list
  elements: dict
routes:
  description: One entry per declared route and route file, in the same shape as O(services).
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

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.urls import open_url

from ansible_collections.homelab.deploy.plugins.module_utils import _drift as drift
from ansible_collections.homelab.deploy.plugins.module_utils import _podman as podman
from ansible_collections.homelab.deploy.plugins.module_utils import _quadlet as quadlet
from ansible_collections.homelab.deploy.plugins.module_utils import _traefik as traefik
from ansible_collections.homelab.deploy.plugins.module_utils._unitfile import UnitFileError, container_spec, parse_unit

try:
    import yaml
    HAS_YAML = True
except ImportError:
    HAS_YAML = False


class DriftChecker(object):
    """Reads the declared state (unit files, routes) and the running state once, then compares."""

    def __init__(self, module, runner):
        self.module, self.runner = module, runner
        self.params = module.params
        self.commands = []

    def run_json(self, argv, ok_rcs=(0,)):
        self.commands.append(' '.join(argv[:4]) + (' ...' if len(argv) > 4 else ''))
        return self.runner.json(argv, ok_rcs=ok_rcs) or []

    # -- declared ---------------------------------------------------------------

    def unit_files(self):
        directory = self.runner.scope.unit_dir()
        if not os.path.isdir(directory):
            return directory, []
        names = sorted(f for f in os.listdir(directory) if f.rpartition('.')[2] in quadlet.UNIT_TYPES)
        return directory, names

    def read_units(self):
        """(container units, {reference: object name}, errors) from the unit directory."""
        directory, names = self.unit_files()
        units, refs, errors = [], {}, []
        for filename in names:
            base, unit_type, dummy = quadlet.split_name(filename)
            path = os.path.join(directory, filename)
            try:
                unit = parse_unit(quadlet.read_text(path) or '', path)
                if unit_type in ('volume', 'network'):
                    refs[filename] = quadlet.object_name(base, unit_type, unit)
                elif unit_type == 'container' and self.wanted(filename):
                    units.append({'unit_name': filename, 'service_name': quadlet.service_name(base, unit_type, unit),
                                  'spec': container_spec(unit), 'path': path})
            except UnitFileError as exc:
                errors.append('%s: %s' % (path, to_native(exc)))
        return units, refs, errors

    def wanted(self, filename):
        names = self.params['names']
        return not names or filename in names or filename.rpartition('.')[0] in names

    # -- running ---------------------------------------------------------------

    def containers(self):
        listed = self.run_json(['podman', 'ps', '-a', '--format', 'json'])
        ids = [entry.get('Id') for entry in listed if entry.get('Id')]
        if not ids:
            return []
        return self.run_json(['podman', 'container', 'inspect', '--'] + ids, ok_rcs=(0, 125))

    def images(self, infos, units):
        refs = set(info.get('Image') for info in infos if info.get('Image'))
        refs.update(u['spec']['image'] for u in units if u['spec'].get('image')
                    and not u['spec']['image'].endswith(('.image', '.build')))
        if not refs:
            return []
        return self.run_json(['podman', 'image', 'inspect', '--'] + sorted(refs), ok_rcs=(0, 125))

    def unit_states(self, units):
        services = sorted(set(u['service_name'] for u in units))
        if not services:
            return {}
        self.commands.append('systemctl show -p ... (%d units)' % len(services))
        argv = self.runner.systemctl_argv('show', '-p', ','.join(drift.SHOW_PROPERTIES), '--', *services)
        dummy, out, dummy = self.runner.run(argv)
        return dict((block.get('Id'), block) for block in podman.parse_show(out))

    # -- routes ------------------------------------------------------------------

    def read_route_file(self, name):
        path = os.path.join(self.params['dynamic_dir'], '%s.yml' % name)
        text = quadlet.read_text(path)
        if text is None:
            return None, None
        try:
            if HAS_YAML:
                return text, yaml.safe_load(text) or {}
            return text, drift.read_block_yaml(text)
        except (drift.BlockYamlError, ValueError) as exc:
            return text, {'unreadable': '%s (without PyYAML on the host only the block style traefik_route '
                                        'writes can be read)' % to_native(exc) if not HAS_YAML else to_native(exc)}

    def managed_route_files(self):
        directory = self.params['dynamic_dir']
        if not self.params['route_files'] or not os.path.isdir(directory):
            return []
        names = []
        for filename in sorted(os.listdir(directory)):
            if filename.endswith('.yml') and traefik.parse_manifest(quadlet.read_text(os.path.join(directory, filename))):
                names.append(filename[:-len('.yml')])
        return names

    def served(self, config):
        if not self.params['api_url']:
            return [], [], {}
        api = traefik.TraefikApi(self.params['api_url'], open_url)
        try:
            served = traefik.served_state(api, config)
        except traefik.TraefikApiError as exc:
            return ['Traefik API: %s' % to_native(exc)], [], {}
        pending, errors = traefik.compare_served(config, served, loose=list(config.get('http', {}).get('middlewares', {})))
        return pending, errors, served

    def check_route(self, name, declared):
        text, file_config = self.read_route_file(name)
        findings = []
        if declared is not None:
            findings.extend(drift.compare_route_file(name, traefik.render_config(declared), file_config))
        if file_config is not None and 'unreadable' not in file_config:
            findings.extend(drift.compare_route_served(*self.served(file_config)))
        elif file_config is not None:
            findings.append(drift.finding('route_file', 'valid YAML', file_config['unreadable']))
        findings = [f for f in findings if not drift.is_ignored(name, f['field'], self.params['ignore'])]
        return drift.service_result(name, None, None, findings)

    def routes(self):
        declared = dict((spec['name'], spec) for spec in self.params['routes'])
        names = sorted(set(declared) | set(self.managed_route_files()))
        return [self.check_route(name, declared.get(name)) for name in names]

    # -- all -----------------------------------------------------------------

    def run(self):
        self.check_routes_input()
        units, refs, errors = self.read_units()
        infos = self.containers()
        image_infos = self.images(infos, units)
        shows = self.unit_states(units)
        services, unmanaged = drift.check_host(
            units, infos, image_infos, shows, refs, ignore=self.params['ignore'],
            ignored_env=self.params['ignore_env'], ignored_labels=self.params['ignore_labels'],
            report_unmanaged=self.params['unmanaged'] and not self.params['names'])
        routes = self.routes()
        drifted = [s for s in services + unmanaged + routes if s['drifted']]
        return {'changed': False, 'drifted': bool(drifted or errors), 'drifted_count': len(drifted) + len(errors),
                'services': services, 'unmanaged': unmanaged, 'routes': routes, 'errors': errors,
                'commands': self.commands, 'summary': summary_lines(drifted) + errors}

    def check_routes_input(self):
        for spec in self.params['routes']:
            problems = traefik.validate_spec(spec)
            if problems:
                self.module.fail_json(msg='routes[%s]: %s' % (spec['name'], '; '.join(problems)))


def summary_lines(entries):
    lines = []
    for entry in entries:
        for field in entry['fields']:
            lines.append('%s: %s declared %r, running %r -> %s' % (entry['name'], field['field'], field['declared'],
                                                                   field['running'], field['remediation']))
    return lines


def argument_spec():
    route = dict(
        name=dict(type='str', required=True),
        hostname=dict(type='list', elements='str'),
        path_prefix=dict(type='str'),
        rule=dict(type='str'),
        urls=dict(type='list', elements='str', required=True),
        middlewares=dict(type='list', elements='str', default=[]),
        entrypoints=dict(type='list', elements='str', default=['web']),
        priority=dict(type='int'),
        pass_host_header=dict(type='bool', default=True, no_log=False),
    )
    return dict(
        names=dict(type='list', elements='str', default=[]),
        unmanaged=dict(type='bool', default=True),
        ignore=dict(type='list', elements='str', default=[]),
        ignore_env=dict(type='list', elements='str', default=list(drift.DEFAULT_IGNORED_ENV)),
        ignore_labels=dict(type='list', elements='str', default=list(drift.DEFAULT_IGNORED_LABELS)),
        routes=dict(type='list', elements='dict', default=[], options=route),
        route_files=dict(type='bool', default=True),
        dynamic_dir=dict(type='path', default='/etc/traefik/dynamic'),
        api_url=dict(type='str', default='http://127.0.0.1:8080'),
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
        result = DriftChecker(module, podman.Runner(module, scope)).run()
    except (podman.CommandError, ValueError, quadlet.QuadletError) as exc:
        details = exc.details() if isinstance(exc, podman.CommandError) else {}
        module.fail_json(msg=to_native(exc), **details)
    if module.params['fail_on_drift'] and result['drifted']:
        module.fail_json(msg='drift found: %s' % '; '.join(result['summary'][:20]), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()

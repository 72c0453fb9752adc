#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: preflight_info
short_description: Read in one call what a pre-flight judges on a host
version_added: 0.2.0
description:
  - Reads everything the C(homelab.deploy.preflight) role judges, in one module run -
    podman's and systemd's versions, C(podman info), the failed units, the scope's containers, networks and
    volumes, load, memory and memory pressure, listening sockets, the restart counts of the container services,
    the free space where the deployment writes, the unit files that already carry the deployment's names, and
    the host paths it mounts.
  - Asks Traefik's API which host names it routes, when O(hostnames) is not empty. An API that does not answer is
    a warning in RV(facts.warnings), not a failure.
  - Runs the host's own quadlet generator (dry run) and C(systemd-analyze verify) over the rendered units of
    O(unit_sets), staged ahead of the scope's unit directory, so references to units already on the host resolve
    as they will after the deploy. Nothing is written to the unit directory.
  - The facts are judged on the controller by the C(homelab.deploy.preflight_assess) filter.
author:
  - homelab.deploy maintainers (@homelab)
extends_documentation_fragment:
  - homelab.deploy.attributes
  - homelab.deploy.attributes.INFO_MODULE
options:
  scope:
    description:
      - C(system) reads rootful podman and the system manager; C(user) reads O(user)'s rootless podman and
        user manager (connect as root or as that user).
    type: str
    choices: [system, user]
    default: system
  user:
    description: Account of the rootless deployment. Required with O(scope=user).
    type: str
  instance:
    description: Name of the deployment; unit files labelled C(io.homelab.deploy.instance=INSTANCE) are its own.
    type: str
    default: ''
  unit_names:
    description: Unit file names the deployment writes; those already in the scope's unit directory are listed.
    type: list
    elements: str
    default: []
  host_paths:
    description: Host paths the deployment mounts; the missing ones are listed.
    type: list
    elements: path
    default: []
  storage_paths:
    description:
      - Directories the deployment writes to, besides podman's volume path (which is always measured).
      - A directory that does not exist yet is measured at its nearest existing parent.
    type: list
    elements: path
    default: []
  unit_sets:
    description:
      - The deployment's rendered units, once per set of cgroup controllers they were rendered for (limits the
        host cannot enforce are left out of the units). The set whose O(unit_sets[].controllers) are exactly the
        host's, among the controllers the sets differ by, is validated.
      - Empty skips the validation (RV(facts.generator) is null).
    type: list
    elements: dict
    default: []
    suboptions:
      controllers:
        description: cgroup controllers the units were rendered for.
        type: list
        elements: str
        default: []
      units:
        description: The unit files.
        type: list
        elements: dict
        required: true
        suboptions:
          name:
            description: File name, for example C(wiki-app.container).
            type: str
            required: true
          content:
            description: Unit file text.
            type: str
            required: true
  hostnames:
    description: Host names the deployment routes; when not empty, Traefik's routers are read.
    type: list
    elements: str
    default: []
  api_url:
    description: Traefik's API, as the C(homelab.deploy.traefik) role exports it in C(homelab_traefik.api_url).
    type: str
    default: http://127.0.0.1:8080
  timeout:
    description: Seconds to wait for each Traefik API request.
    type: int
    default: 10
seealso:
  - module: homelab.deploy.quadlet_apply
  - module: homelab.deploy.traefik_route_info
'''

EXAMPLES = r'''
- name: Read the host for a rootless wiki
  homelab.deploy.preflight_info:
    scope: user
    user: hl
    instance: wiki
    unit_names: [wiki.network, wiki-app.container]
    hostnames: [wiki.example.org]
  register: host

- name: Judge it
  ansible.builtin.debug:
    msg: "{{ host.facts | homelab.deploy.preflight_assess({'instance': 'wiki', 'hostnames': ['wiki.example.org']}, {'scope': 'user'}) }}"
'''

RETURN = r'''
facts:
  description: What was read, in the shape C(homelab.deploy.preflight_assess) takes; command output is raw text.
  returned: always
  type: dict
  contains:
    podman_version:
      description: Output of C(podman version --format json).
      type: str
    systemd_version:
      description: Output of C(systemctl --version).
      type: str
    podman_info:
      description: Output of C(podman info --format json) in the scope.
      type: str
    failed_units:
      description: Failed units of the system manager, and of the user manager with O(scope=user).
      type: list
      elements: dict
    containers:
      description: C(podman ps -a --format json) of the scope.
      type: list
      elements: dict
    networks:
      description: C(podman network ls --format json) of the scope.
      type: list
      elements: dict
    volumes:
      description: C(podman volume ls --format json) of the scope.
      type: list
      elements: dict
    loadavg:
      description: C(/proc/loadavg).
      type: str
    meminfo:
      description: C(/proc/meminfo).
      type: str
    nproc:
      description: Online CPUs.
      type: int
    memory_pressure:
      description: C(/proc/pressure/memory), empty without PSI.
      type: str
    listening:
      description: Output of C(ss -Htlnu).
      type: str
    unit_restarts:
      description: C(systemctl show -p Id,NRestarts) of the services that run the scope's containers.
      type: str
    disks:
      description: Measured path to the last line of C(df -P -B1) for it.
      type: dict
    unit_files_existing:
      description: O(unit_names) already in the scope's unit directory.
      type: list
      elements: str
    unit_files_ours:
      description: Those of them labelled for O(instance).
      type: list
      elements: str
    missing_host_paths:
      description: O(host_paths) that do not exist.
      type: list
      elements: str
    routers:
      description: Traefik's routers (as M(homelab.deploy.traefik_route_info) returns them), or null when not asked or unreachable.
      type: list
      elements: dict
    warnings:
      description: What could not be read.
      type: list
      elements: str
    generator:
      description: The validation of the rendered units (C(errors), one line each naming its file, and the C(controllers) of the set), or null.
      type: dict
  sample: {podman_version: '{"Client": {"Version": "5.4.2"}}', nproc: 2, unit_files_existing: [], routers: null, warnings: [],
           generator: {errors: [], controllers: []}}
controllers:
  description: cgroup controllers podman reports for the scope.
  returned: always
  type: list
  elements: str
  sample: [cpu, memory, pids]
unit_dir:
  description: The scope's unit directory.
  returned: always
  type: str
  sample: /etc/containers/systemd
'''

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.urls import open_url

from ansible_collections.homelab.deploy.plugins.module_utils import _podman as podman
from ansible_collections.homelab.deploy.plugins.module_utils import _preflight_host as host
from ansible_collections.homelab.deploy.plugins.module_utils import _traefik as traefik


def main():
    module = AnsibleModule(
        argument_spec=dict(
            scope=dict(type='str', choices=['system', 'user'], default='system'),
            user=dict(type='str'),
            instance=dict(type='str', default=''),
            unit_names=dict(type='list', elements='str', default=[]),
            host_paths=dict(type='list', elements='path', default=[]),
            storage_paths=dict(type='list', elements='path', default=[]),
            unit_sets=dict(type='list', elements='dict', default=[], options=dict(
                controllers=dict(type='list', elements='str', default=[]),
                units=dict(type='list', elements='dict', required=True, options=dict(
                    name=dict(type='str', required=True),
                    content=dict(type='str', required=True),
                )),
            )),
            hostnames=dict(type='list', elements='str', default=[]),
            api_url=dict(type='str', default=traefik.API_URL),
            timeout=dict(type='int', default=10),
        ),
        required_if=[('scope', 'user', ['user'])],
        supports_check_mode=True,
    )
    params = module.params
    try:
        scope = podman.Scope(params['scope'], params['user'])
    except ValueError as exc:
        module.fail_json(msg=to_native(exc))
    problem = scope.problem()
    if problem:
        module.fail_json(msg='pre-flight: %s' % problem)
    api = traefik.TraefikApi(params['api_url'], open_url, timeout=params['timeout']) if params['api_url'] else None
    try:
        result = host.HostReader(module, scope, podman.Runner(module, scope), api).read(params)
    except podman.CommandError as exc:
        module.fail_json(msg='pre-flight could not read the host: %s' % to_native(exc), **exc.details())
    module.exit_json(changed=False, **result)


if __name__ == '__main__':
    main()

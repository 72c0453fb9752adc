#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: quadlet_info
short_description: List the Podman Quadlet units of a scope with the state of their services
version_added: 0.1.0
description:
  - Reads the Quadlet files in the unit directory of O(scope) (the directory M(homelab.deploy.quadlet)
    manages) and reports, for each, its type, the generated service and that service's state, whether it
    starts at boot, and its last-known-good copy.
  - One C(systemctl show) call covers every unit.
author:
  - homelab.deploy maintainers (@homelab)
extends_documentation_fragment:
  - homelab.deploy.attributes
  - homelab.deploy.attributes.INFO_MODULE
  - homelab.deploy.scope
options:
  names:
    description:
      - Only these units, as file names (C(web.container)) or names without suffix (C(web) matches every type).
      - All units of the directory when empty.
    type: list
    elements: str
    default: []
  content:
    description: Also return each file's text (values of credential-like environment variables masked).
    type: bool
    default: false
seealso:
  - module: homelab.deploy.quadlet
'''

EXAMPLES = r'''
- name: What runs as Quadlet units on the host
  homelab.deploy.quadlet_info:
  register: units

- name: The rootless units of hl, with their files
  homelab.deploy.quadlet_info:
    scope: user
    user: hl
    names: [cache.container]
    content: true
'''

RETURN = r'''
unit_dir:
  description: The directory that was read.
  returned: always
  type: str
  sample: /etc/containers/systemd
units:
  description: One entry per unit file, sorted by file name.
  returned: always
  type: list
  elements: dict
  contains:
    unit_name:
      description: File name.
      type: str
    type:
      description: Unit type (C(container), C(volume), ...).
      type: str
    unit_path:
      description: Path of the file.
      type: str
    service_name:
      description: The generated systemd service.
      type: str
    active_state:
      description: C(ActiveState) of the service (C(active), C(inactive), C(failed), ...).
      type: str
    sub_state:
      description: C(SubState) of the service.
      type: str
    load_state:
      description: C(LoadState) of the service; C(not-found) until systemd was reloaded after the file appeared.
      type: str
    enabled:
      description: Whether the file has an C([Install]) section that starts it at boot.
      type: bool
    backup_path:
      description: The last-known-good copy of the previous version, if any.
      type: str
    error:
      description: Why the file could not be read, if it could not.
      type: str
    content:
      description: The file text, with O(content=true).
      type: str
  sample:
    - unit_name: web.container
      type: container
      unit_path: /etc/containers/systemd/web.container
      service_name: web.service
      active_state: active
      sub_state: running
      load_state: loaded
      enabled: true
      backup_path: /var/lib/homelab-deploy/backups/system/web.container.lkg
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.homelab.deploy.plugins.module_utils import _podman as podman
from ansible_collections.homelab.deploy.plugins.module_utils import _quadlet as quadlet
from ansible_collections.homelab.deploy.plugins.module_utils._unitfile import UnitFileError, parse_unit


def wanted(filename, names):
    base = filename.rpartition('.')[0]
    return not names or filename in names or base in names


def describe(module, scope, filename):
    """What the file says, without asking systemd yet."""
    base, unit_type, dummy = quadlet.split_name(filename)
    store = quadlet.UnitStore(module, scope, filename)
    text = store.read()
    entry = {'unit_name': filename, 'type': unit_type, 'unit_path': store.path,
             'backup_path': store.existing_backup(), 'enabled': False, 'error': None}
    try:
        unit = parse_unit(text or '', filename)
        entry['enabled'] = bool(quadlet.install_targets(unit))
    except UnitFileError as exc:
        unit = None
        entry['error'] = to_native(exc)
    entry['service_name'] = quadlet.service_name(base, unit_type, unit)
    if module.params['content']:
        entry['content'] = podman.mask_secrets(text)
    return entry


def list_units(module, scope):
    directory = scope.unit_dir()
    if not os.path.isdir(directory):
        return []
    files = sorted(f for f in os.listdir(directory)
                   if f.rpartition('.')[2] in quadlet.UNIT_TYPES and os.path.isfile(os.path.join(directory, f))
                   and wanted(f, module.params['names']))
    return [describe(module, scope, f) for f in files if quadlet.NAME_RE.match(f.rpartition('.')[0])]


def run_module(module):
    scope = podman.Scope(module.params['scope'], module.params['user'])
    problem = scope.problem()
    if problem:
        module.fail_json(msg=problem)
    units = list_units(module, scope)
    states = podman.Runner(module, scope).unit_states([u['service_name'] for u in units])
    for entry in units:
        show = states.get(entry['service_name']) or {}
        entry.update(active_state=show.get('ActiveState'), sub_state=show.get('SubState'),
                     load_state=show.get('LoadState'))
    return {'changed': False, 'unit_dir': scope.unit_dir(), 'units': units}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            names=dict(type='list', elements='str', default=[]),
            content=dict(type='bool', default=False),
            scope=dict(type='str', default='system', choices=['system', 'user']),
            user=dict(type='str'),
        ),
        required_if=[('scope', 'user', ('user',))],
        supports_check_mode=True,
    )
    try:
        module.exit_json(**run_module(module))
    except (podman.CommandError, ValueError) as exc:
        details = exc.details() if isinstance(exc, podman.CommandError) else {}
        module.fail_json(msg=to_native(exc), **details)


if __name__ == '__main__':
    main()

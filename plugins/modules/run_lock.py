#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: run_lock
short_description: Hold a run lock on the host across the tasks of one run, owned by the run's controller process
version_added: 0.2.0
description:
  - A lock for work that spans many tasks (a canary release holds it from its first step to its decision), for
    which the flock of one module process (the one M(homelab.deploy.quadlet_apply) holds) cannot last long enough.
  - The lock is a small JSON file on the host naming its owner, the C(ansible-playbook) process of the run on its
    controller. Taking, taking over and releasing it happen under the same C(flock) helper the host transaction
    uses, so two runs never both get it.
  - "There is no time-based takeover: the action plugin checks on the controller whether the owner still runs.
    A run killed on the same controller leaves a lock that the next run takes over at once. A lock held by a run of
    another controller is refused, naming it; O(break_lock=true) takes it over after you made sure that run is
    gone (as C(terraform force-unlock) does)."
  - Runs on the controller as an action plugin and calls this module on the host.
author:
  - homelab.deploy maintainers (@homelab)
extends_documentation_fragment:
  - homelab.deploy.attributes
attributes:
  action:
    support: full
    description: The owner is worked out and judged on the controller; the lock file is read and written on the host.
  check_mode:
    support: full
    details:
      - Reports whether the lock would be taken or released, and who holds it, without writing.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - The lock is bookkeeping of the run, not a change of the host's services, so it never reports C(changed).
        Taking a lock the run already holds, or releasing one it does not hold, does nothing.
options:
  path:
    description: The lock file on the host; its directory is created (mode 0755) when missing.
    type: path
    required: true
  state:
    description: C(held) takes the lock (or keeps it), C(released) gives it up when this run holds it.
    type: str
    choices: [held, released]
    default: held
  label:
    description: What the lock is for, kept in the lock file and shown to a run that is refused.
    type: str
    default: ''
  break_lock:
    description:
      - Take over a lock whose owner runs on another controller (whose process this controller cannot check).
        Only when you know that run is gone. A lock of a live run on this controller is never broken.
    type: bool
    default: false
  lock_timeout:
    description: Seconds to wait for the short flock that guards reading and writing the lock file.
    type: int
    default: 10
  owner:
    description:
      - Internal, set by the action plugin - the owner record of this run (id, controller, pid, label). Do not set
        it.
    type: dict
  take_over:
    description:
      - Internal, set by the action plugin - the id of a lock to replace (its owner is gone); the lock is replaced
        only when it still is that one. Do not set it.
    type: str
seealso:
  - module: homelab.deploy.quadlet_apply
'''

EXAMPLES = r'''
- name: Make sure no other canary run of this service is under way
  homelab.deploy.run_lock:
    path: /run/homelab-deploy/canary/wiki.json
    label: canary of wiki

- name: Release it
  homelab.deploy.run_lock:
    path: /run/homelab-deploy/canary/wiki.json
    state: released
'''

RETURN = r'''
acquired:
  description: Whether this run holds the lock now (with O(state=held)).
  returned: always
  type: bool
  sample: true
took_over:
  description: The owner of the lock this run took over (a killed run, or one broken with O(break_lock)), or null.
  returned: always
  type: dict
  sample: null
held_by:
  description: The owner of the lock when another run holds it (id, controller, pid, label, since), else null.
  returned: always
  type: dict
  sample: {id: "ctl/3f2a...:4242:98765", controller: ctl, pid: 4242, label: canary of wiki, since: 1796200000.5}
released:
  description: Whether the lock was given up (with O(state=released)).
  returned: always
  type: bool
  sample: false
path:
  description: The lock file.
  returned: always
  type: str
  sample: /run/homelab-deploy/canary/wiki.json
'''

import json
import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.homelab.deploy.plugins.module_utils import _podman as podman
from ansible_collections.homelab.deploy.plugins.module_utils import _route as route


def read_owner(path):
    """The owner in the lock file, or None when there is none (a file that is not a lock counts as none)."""
    try:
        with open(path) as handle:
            owner = json.load(handle)
    except (IOError, OSError, ValueError):
        return None
    return owner if isinstance(owner, dict) and owner.get('id') else None


def decide(current, owner, state, take_over):
    """'take', 'keep', 'refuse', 'release' or 'none' for the lock as it is."""
    mine = current is not None and current.get('id') == owner['id']
    if state == 'released':
        return 'release' if mine else 'none'
    if mine:
        return 'keep'
    if current is None or (take_over and current.get('id') == take_over):
        return 'take'
    return 'refuse'


def run(module):
    params = module.params
    path, owner = params['path'], dict(params['owner'])
    directory = os.path.dirname(path)
    result = {'changed': False, 'acquired': False, 'released': False, 'held_by': None, 'took_over': None, 'path': path}
    if not os.path.isdir(directory):
        if module.check_mode:
            result['acquired'] = params['state'] == 'held'
            return result
        os.makedirs(directory, 0o755)
    with podman.host_lock(path + '.flock', params['lock_timeout']):
        current = read_owner(path)
        action = decide(current, owner, params['state'], params['take_over'])
        if action == 'refuse':
            result['held_by'] = current
        elif action in ('take', 'keep'):
            result['acquired'] = True
            if action == 'take' and current is not None:
                result['took_over'] = current
            if action == 'take' and not module.check_mode:
                owner['since'] = time.time()
                route.replace_file(path, json.dumps(owner, sort_keys=True) + '\n')
        elif action == 'release':
            result['released'] = True
            if not module.check_mode:
                os.remove(path)
    return result


def main():
    module = AnsibleModule(argument_spec=dict(
        path=dict(type='path', required=True),
        state=dict(type='str', default='held', choices=['held', 'released']),
        label=dict(type='str', default=''),
        break_lock=dict(type='bool', default=False),
        lock_timeout=dict(type='int', default=10),
        owner=dict(type='dict'),
        take_over=dict(type='str'),
    ), supports_check_mode=True)
    if not (module.params['owner'] or {}).get('id'):
        module.fail_json(msg='run_lock: owner.id is missing (run the module through its action plugin)')
    try:
        module.exit_json(**run(module))
    except (podman.CommandError, IOError, OSError) as exc:
        module.fail_json(msg='run_lock: %s' % to_native(exc), path=module.params['path'])


if __name__ == '__main__':
    main()

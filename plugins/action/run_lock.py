# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run lock (controller side): the owner is the run's ansible-playbook process; whether a holder still runs is
judged here, where its process is, never by the lock's age."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import socket
import time

from ansible.plugins.action import ActionBase

MODULE = 'homelab.deploy.run_lock'

ARGUMENT_SPEC = dict(
    path=dict(type='path', required=True),
    state=dict(type='str', default='held', choices=['held', 'released']),
    label=dict(type='str', default=''),
    break_lock=dict(type='bool', default=False),
    lock_timeout=dict(type='int', default=10),
)


def _read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return ''


def controller_id():
    """This controller: host name and boot (a pid means nothing after a reboot or on another machine)."""
    return '%s/%s' % (socket.gethostname(), _read('/proc/sys/kernel/random/boot_id').strip() or 'unknown-boot')


def process_start(pid):
    """The start time of a process in clock ticks since boot (/proc/PID/stat field 22), or None."""
    stat = _read('/proc/%d/stat' % pid)
    fields = stat.rsplit(')', 1)[-1].split() if stat else []
    return fields[19] if len(fields) > 19 else None


def run_owner(label, pid=None):
    """The owner record of this run: the ansible-playbook process (a task's worker is its child)."""
    pid = os.getppid() if pid is None else pid
    controller, started = controller_id(), process_start(pid)
    return {'id': '%s:%d:%s' % (controller, pid, started or '?'), 'controller': controller, 'pid': pid,
            'label': label}


def owner_alive(owner, controller=None):
    """True/False when the owner's process can be judged from here (same controller), None when it cannot."""
    controller = controller_id() if controller is None else controller
    if owner.get('controller') != controller or not isinstance(owner.get('pid'), int):
        return None
    started = process_start(owner['pid'])
    return started is not None and owner['id'] == '%s:%d:%s' % (controller, owner['pid'], started)


def describe(owner):
    since = owner.get('since')
    return '%s (pid %s on %s%s)' % (owner.get('label') or 'a run', owner.get('pid'), owner.get('controller'),
                                    ', since %s' % time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(since))
                                    if isinstance(since, (int, float)) else '')


class ActionModule(ActionBase):
    """Take, keep or release the run lock for this run."""

    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        super(ActionModule, self).run(tmp, task_vars)
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        module_args = dict(args, owner=run_owner(args['label']))
        try:
            result = self.call(module_args, task_vars)
            held = result.get('held_by')
            if args['state'] == 'held' and not result.get('acquired') and held and not result.get('failed'):
                alive = owner_alive(held)
                if alive is False or (alive is None and args['break_lock']):
                    result = self.call(dict(module_args, take_over=held['id']), task_vars)
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        held = result.get('held_by')
        if args['state'] == 'held' and not result.get('acquired') and held and not result.get('failed'):
            result['failed'] = True
            result['msg'] = ('%s is held by %s, which still runs: wait for it to finish. Nothing was changed.'
                             % (args['path'], describe(held)) if owner_alive(held) else
                             '%s is held by %s, on another controller, whose process cannot be checked from here: '
                             'wait for it, or when you know it is gone take the lock over with break_lock=true. '
                             'Nothing was changed.' % (args['path'], describe(held)))
        return result

    def call(self, module_args, task_vars):
        result = self._execute_module(module_name=MODULE, module_args=module_args, task_vars=task_vars)
        result.pop('invocation', None)
        return result

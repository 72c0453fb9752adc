# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pre-flight (controller side): one preflight_info run on the host, judged by preflight_assess, the report
written on the controller."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import datetime
import json
import os

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase

from ansible_collections.homelab.deploy.plugins.filter import preflight
from ansible_collections.homelab.deploy.plugins.module_utils import _route as route

READ = 'homelab.deploy.preflight_info'

PATTERN_SPEC = dict(
    name=dict(type='str', required=True),
    overrides=dict(type='dict', default={}),
    overrides_source=dict(type='str', default='preflight_overrides'),
    instance=dict(type='str', required=True),
    scope=dict(type='str', default='system', choices=['system', 'user']),
    user=dict(type='str'),
    hostname=dict(type='str'),
    proxy_network=dict(type='str'),
    storage_root=dict(type='str'),
    pull=dict(type='str', default='missing'),
    bind_roots=dict(type='list', elements='str'),
    bind_readonly=dict(type='list', elements='str'),
    config_dir=dict(type='str'),
    validate_units=dict(type='bool', default=True),
    api_url=dict(type='str'),
)

ARGUMENT_SPEC = dict(
    pattern=dict(type='dict', options=PATTERN_SPEC),
    read=dict(type='dict', default={}),
    requirements=dict(type='dict'),
    settings=dict(type='dict', default={}),
    report_dir=dict(type='path'),
)


def write_report(directory, name, report):
    """Write the report as JSON next to the others, atomically (the one atomic writer, mode 0644); its path."""
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    path = os.path.join(directory, name)
    route.replace_file(path, json.dumps(report, indent=2, sort_keys=True) + '\n')
    return path


def checked_at(now=None):
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return now.replace(tzinfo=None).isoformat() + 'Z'


class ActionModule(ActionBase):
    """Read the host in one module run, judge it, write the report."""

    TRANSFERS_FILES = False
    _requires_connection = True

    def run(self, tmp=None, task_vars=None):
        super(ActionModule, self).run(tmp, task_vars)
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC,
                                                  mutually_exclusive=[['pattern', 'requirements']],
                                                  required_one_of=[['pattern', 'requirements']])
        task_vars = task_vars or {}
        read, requirements = dict(args['read']), args['requirements']
        if args['pattern']:
            # the pattern loaded, validated and rendered here, once: a bad pattern fails before the host is read
            try:
                extra, requirements = preflight.preflight_inputs(args['pattern'])
            except AnsibleFilterError as exc:
                return {'failed': True, 'msg': to_native(exc)}
            read.update(extra)
        try:
            found = self._execute_module(module_name=READ, module_args=read, task_vars=task_vars)
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        found.pop('invocation', None)
        if found.get('failed'):
            return found
        host = task_vars.get('inventory_hostname', '')
        try:
            report = preflight.preflight_assess(found['facts'], requirements, args['settings'])
        except AnsibleFilterError as exc:
            return {'failed': True, 'msg': 'pre-flight: %s' % to_native(exc)}
        report.update({'host': host, 'checked_at': checked_at()})
        path = None
        if args['report_dir']:
            try:
                path = write_report(args['report_dir'], '%s-%s.json' % (host, report['instance']), report)
            except (IOError, OSError) as exc:
                return {'failed': True, 'report': report,
                        'msg': 'pre-flight: cannot write the report in %s: %s' % (args['report_dir'], to_native(exc))}
        return {'changed': False, 'report': report, 'report_path': path, 'controllers': found.get('controllers', []),
                'unit_dir': found.get('unit_dir'), 'pattern': requirements.get('pattern')}

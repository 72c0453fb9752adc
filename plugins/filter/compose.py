# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compose import: a docker-compose document as a homelab.deploy stack (plugins/plugin_utils/_compose.py does the
work), with a report of every compose key and the secret values apart. playbooks/import_compose.yml writes the
files; stack_load validates them."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.homelab.deploy.plugins.plugin_utils import _compose


def compose_to_stack(data, compose_file=None, env=None, env_file=None, stack_name=None, profiles=None,
                     bind_root=None, stack_file=None):
    """{stack, report, secrets, report_lines, stack_text, secrets_text} of a compose document (mapping or text)."""
    if env is not None and not isinstance(env, dict):
        raise AnsibleFilterError('compose_to_stack: env must be a mapping, got %s' % type(env).__name__)
    if profiles is not None and not isinstance(profiles, (list, str)):
        raise AnsibleFilterError('compose_to_stack: profiles must be a list or a comma-separated string')
    try:
        result = _compose.convert(data, compose_file=compose_file or None, env=env, env_file=env_file or None,
                                  stack_name=stack_name or None, profiles=profiles, bind_root=bind_root or None)
    except _compose.ComposeError as exc:
        raise AnsibleFilterError('compose_to_stack: %s' % to_native(exc))
    secrets_file = '%s.secrets.yml' % stack_file if stack_file else None
    result['report_lines'] = _compose.report_lines(result['report'])
    result['stack_text'] = _compose.stack_text(result, compose_file, secrets_file)
    result['secrets_text'] = _compose.secrets_text(result, secrets_file, stack_file)
    return result


class FilterModule(object):
    """homelab.deploy compose import."""

    def filters(self):
        return {'compose_to_stack': compose_to_stack}

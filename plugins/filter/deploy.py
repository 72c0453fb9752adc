# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Faces of the deploy executor's result for roles: the role result, the failure report, the history events."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import time

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.deploy.plugins.plugin_utils import _events as events


def _check(run, plan):
    if not isinstance(run, dict) or not isinstance(plan, dict) or 'phases' not in plan:
        raise AnsibleFilterError('expects a homelab.deploy.deploy result and the plan it ran')


def deploy_result(run, plan):
    _check(run, plan)
    return events.deploy_result(run, plan)


def deploy_report(run, plan, host, rollback=True):
    _check(run, plan)
    return events.deploy_report(run, plan, host, rollback)


def deploy_event(kind, host, name, outcome, started, finished, **fields):
    return events.deploy_event(kind, host, name, outcome, started, finished, **fields)


def deploy_service_event(run, host, finished=None):
    if not isinstance(run, dict) or 'started' not in run:
        raise AnsibleFilterError('deploy_service_event expects the run as a dict with at least started')
    return events.service_event(host, run, time.time() if finished is None else finished)


class FilterModule(object):
    """homelab.deploy executor result filters."""

    def filters(self):
        return {'deploy_result': deploy_result, 'deploy_report': deploy_report, 'deploy_event': deploy_event,
                'deploy_service_event': deploy_service_event}

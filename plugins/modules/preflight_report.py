#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: preflight_report
short_description: Read a host, judge it for one deployment and write the pre-flight report
version_added: 0.2.0
description:
  - An action plugin that runs on the controller - one M(homelab.deploy.preflight_info) run on the host with
    O(read), judged by the C(homelab.deploy.preflight_assess) filter with O(requirements) and O(settings), and the
    report written as C(INVENTORY_HOSTNAME-INSTANCE.json) in O(report_dir) on the controller.
  - It only reads the host; the report is an output of the run, so the task never reports a change.
  - The C(homelab.deploy.preflight) role calls it; call it yourself to judge a host for something the role does
    not render.
author:
  - homelab.deploy maintainers (@homelab)
extends_documentation_fragment:
  - homelab.deploy.attributes
  - homelab.deploy.attributes.INFO_MODULE
attributes:
  action:
    support: full
    description: Runs on the controller and calls M(homelab.deploy.preflight_info) on the host.
options:
  read:
    description: Options of M(homelab.deploy.preflight_info) (scope, user, instance, unit names, unit sets, ...).
    type: dict
    default: {}
  requirements:
    description:
      - What the deployment needs, as C(homelab.deploy.pattern_render) returns it in C(requirements), with
        C(instance), C(pattern) and C(risk) added.
    type: dict
    required: true
  settings:
    description: Thresholds and choices of the assessment (see the C(homelab.deploy.preflight_assess) filter).
    type: dict
    default: {}
  report_dir:
    description: Directory on the controller for the JSON report; created when missing. Unset, no report is written.
    type: path
seealso:
  - module: homelab.deploy.preflight_info
'''

EXAMPLES = r'''
- name: Judge the host for a wiki and keep the report
  homelab.deploy.preflight_report:
    read:
      instance: wiki
      unit_names: [wiki.network, wiki-app.container]
    requirements: {instance: wiki, pattern: web-app-with-database, risk: medium, unit_names: [wiki.network, wiki-app.container]}
    settings: {scope: system, resource_limits: best_effort}
    report_dir: /var/tmp/preflight
  register: judged

- name: Stop unless it may go ahead
  ansible.builtin.assert:
    that: judged.report.decision == 'proceed'
'''

RETURN = r'''
report:
  description:
    - The assessment (see the C(homelab.deploy.preflight_assess) filter) with C(host) and C(checked_at) (UTC).
  returned: success
  type: dict
  sample: {instance: wiki, decision: proceed, health_score: 100, strategy: direct, host: node, checked_at: '2026-12-02T05:00:00Z'}
report_path:
  description: Path of the written report, or null without O(report_dir).
  returned: success
  type: str
  sample: /var/tmp/preflight/node-wiki.json
controllers:
  description: cgroup controllers podman reports for the scope.
  returned: success
  type: list
  elements: str
unit_dir:
  description: The scope's unit directory.
  returned: success
  type: str
'''

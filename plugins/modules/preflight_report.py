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
  - With O(pattern) instead of O(requirements), the action loads and validates the pattern with its overrides,
    renders it once for the requirements and once per set of cgroup controllers for the units the deploy will
    write (the host's generator dry run validates the set that matches the host), and adds what that gives to
    O(read). A bad pattern or override fails before the host is read.
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
  pattern:
    description:
      - The pattern deployment to judge; mutually exclusive with O(requirements), one of the two is required.
    type: dict
    suboptions:
      name:
        description: Pattern name (C(patterns/NAME.yml)) or path of a pattern file.
        type: str
        required: true
      overrides:
        description: Overrides merged into the pattern (see C(homelab.deploy.pattern_load)).
        type: dict
        default: {}
      overrides_source:
        description: How errors in O(pattern.overrides) name their source.
        type: str
        default: preflight_overrides
      instance:
        description: Name of the deployment (the units' prefix).
        type: str
        required: true
      scope:
        description: Scope of the deployment.
        type: str
        choices: [system, user]
        default: system
      user:
        description: Account of a O(pattern.scope=user) deployment.
        type: str
      hostname:
        description: Host name of the route; unset, the pattern's default.
        type: str
      proxy_network:
        description: Traefik's network; unset, the renderer's default.
        type: str
      storage_root:
        description: Root of the pattern's bind storage; unset, the renderer's default.
        type: str
      pull:
        description: Pull policy the units are rendered with.
        type: str
        default: missing
      bind_roots:
        description: Roots bind storage must lie under; unset, the renderer's defaults.
        type: list
        elements: str
      bind_readonly:
        description: Host paths that may be bind-mounted read-only; unset, the renderer's defaults.
        type: list
        elements: str
      config_dir:
        description: Where the pattern's configuration files are written; unset, the renderer's default.
        type: str
      validate_units:
        description: Run the rendered units through the host's Quadlet generator.
        type: bool
        default: true
      api_url:
        description:
          - Traefik API the pattern's host names are looked up in; C('') does not ask Traefik, unset asks the
            default of M(homelab.deploy.preflight_info).
        type: str
  read:
    description: Options of M(homelab.deploy.preflight_info) (scope, user, instance, unit names, unit sets, ...).
    type: dict
    default: {}
  requirements:
    description:
      - What the deployment needs, as C(homelab.deploy.pattern_render) returns it in C(requirements), with
        C(instance), C(pattern) and C(risk) added. Mutually exclusive with O(pattern).
    type: dict
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
- name: Judge the host for a wiki from the web-app-with-database pattern
  homelab.deploy.preflight_report:
    pattern:
      name: web-app-with-database
      instance: wiki
      hostname: wiki.example.org
      overrides: {variables: {db_name: wiki}}
    settings: {scope: system, resource_limits: best_effort}
    report_dir: /var/tmp/preflight
  register: judged_wiki

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
pattern:
  description: Name of the pattern judged (from O(pattern) or O(requirements)).
  returned: success
  type: str
  sample: web-app-with-database
'''

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: deploy
short_description: Deploy a rendered plan (a stack or a pattern's services) in one host transaction, with progress
version_added: 0.1.0
description:
  - The collection's one deployment executor. It is an action plugin that runs on the controller and takes a plan
    made by the renderer (M(homelab.deploy.deploy) with the filters C(homelab.deploy.stack_plan) or
    C(homelab.deploy.pattern_plan)).
  - "Order: the whole plan goes to the host in one M(homelab.deploy.quadlet_apply) call: every unit in all its
    phases, the Traefik routes and the verification checks. That call holds one host lock, validates the whole
    set (units with the host's quadlet generator, routes like M(homelab.deploy.traefik_route) does), journals,
    writes the unit and route files, reloads once, starts each phase together and waits for it, confirms the
    changed routes through Traefik's API, runs the checks, and rolls all of it back (previous unit files, images
    by digest, secrets, route files) when a phase, a route or a check fails."
  - Progress as the run goes. Over an ssh or local connection it reads the progress file of
    M(homelab.deploy.quadlet_apply) every second while the host transaction runs (a thread on a copy of the
    connection) and prints each phase as it starts, each service as it becomes healthy with its seconds, the route
    confirmation, the checks and a rollback. Over other connections, and in check mode, it prints one line per
    phase when the host transaction returns. Then a final summary with per-service, per-phase and total times.
  - Outside check mode it publishes one C(homelab_deploy_events) history event (set_stats semantics, read by the
    C(homelab.deploy.deploy_history) callback), failures included.
author:
  - homelab.deploy maintainers (@homelab)
extends_documentation_fragment:
  - homelab.deploy.attributes
attributes:
  action:
    support: full
    description: Runs on the controller and calls modules on the host.
  check_mode:
    support: full
    details:
      - The whole set is validated on the host; nothing is written, started or routed. Verification is skipped.
  diff_mode:
    support: full
    details:
      - The diff is the text of every unit file that changes, credentials masked.
  idempotent:
    support: full
    details:
      - A second run with the same plan writes nothing, reloads nothing and restarts nothing.
options:
  plan:
    description:
      - The plan, as returned by the C(homelab.deploy.stack_plan) or C(homelab.deploy.pattern_plan) filter
        (name, kind, scope, phases of units with their text, routes, verification checks).
    type: dict
    required: true
  state:
    description:
      - C(present) deploys the plan. C(absent) withdraws its routes, then stops and removes its units (data stays
        unless O(purge=true)).
    type: str
    choices: [present, absent]
    default: present
  purge:
    description: With O(state=absent), also remove the named volumes and networks of the plan (THE DATA).
    type: bool
    default: false
  secrets:
    description: Podman secret values by name (the names the plan's units reference). Never logged or returned.
    type: dict
    default: {}
  user:
    description: The account whose rootless units these are, when the plan's scope is C(user).
    type: str
  pin_images:
    description: Write C(Image=) pinned by the digest the reference resolves to on the host, so a rollback brings
      back the exact image that ran.
    type: bool
    default: true
  rollback:
    description: Put the whole set back when a phase, a route or a check fails (false leaves the host as it is).
    type: bool
    default: true
  verify:
    description: Run the plan's verification checks after the units and routes.
    type: bool
    default: true
  checks:
    description:
      - Verification checks run after the plan's own (same form as the plan's C(verify) entries, see
        M(homelab.deploy.quadlet_apply) O(homelab.deploy.quadlet_apply#module:verify)), for example a request
        through Traefik that the caller knows how to make.
    type: list
    elements: dict
    default: []
  files:
    description:
      - Files that belong with the plan's units (a service's configuration, its guide), written in the same
        transaction; the O(homelab.deploy.quadlet_apply#module:files) items (path, content, mode, restarts).
      - Only with O(state=present).
    type: list
    elements: dict
    default: []
  lock_timeout:
    description: Seconds to wait for another run on the same host to release the host lock.
    type: int
    default: 120
  health_interval:
    description: Seconds between health observations while a phase is waited on.
    type: float
    default: 1.0
  health_timeout:
    description: Seconds every unit may take to become healthy, instead of the plan's own timeout per unit.
    type: int
  verify_health:
    description:
      - After the checks, every waited-on container of the plan is judged once more (its healthcheck run now, its unit
        active and not restarting), also on a run that changes nothing; one that is not healthy fails the run, and a
        run that changed something is rolled back. RV(health) says what was found.
      - See O(homelab.deploy.quadlet_apply#module:verify_health).
    type: bool
    default: false
  traefik:
    description:
      - Traefik settings for the routes (C(dynamic_dir), C(api_url), C(entrypoints), and C(tls_entrypoints), the
        entry points of routes with C(tls) that do not name their own; C(cert_resolvers), the resolvers Traefik
        has; C(auth_middlewares), its forward-auth middlewares, which count as authentication on a public route
        besides M(homelab.deploy.traefik_route)'s own C(auth_middlewares)). Unset keys take
        C(module_defaults) for M(homelab.deploy.traefik_route) (or the C(group/homelab.deploy.traefik) action group),
        else the M(homelab.deploy.traefik_route) defaults; the roles pass C(homelab_traefik) from the
        C(homelab.deploy.traefik) role.
    type: dict
    default: {}
  event:
    description:
      - Fields of the history event this run publishes (C(kind), C(pattern), C(strategy), C(details), and
        C(automation_level) when a level gated the run); the rest
        (host, outcome, times, phases, images, failure) comes from the run.
    type: dict
    default: {}
  publish:
    description:
      - Publish the event (RV(event)) for the history. C(false) when the caller publishes an event of its own (the
        C(deploy_service) playbook publishes one per run, with its pre-flight, approval and automation level).
      - "A failed run publishes its event only when the task's result is not failed (register it with
        C(failed_when: false) and fail afterwards, as the C(homelab.deploy.stack) role does); Ansible drops the
        statistics of a failed task."
    type: bool
    default: true
notes:
  - One host round trip applies the whole plan (units, routes and checks); a removal is one round trip too.
seealso:
  - module: homelab.deploy.quadlet_apply
  - module: homelab.deploy.traefik_route
'''

EXAMPLES = r'''
- name: Deploy the demo stack
  homelab.deploy.deploy:
    plan: "{{ 'demo' | homelab.deploy.stack_load | homelab.deploy.stack_plan }}"
    secrets:
      demo-db-password: "{{ vault_demo_db_password }}"
  register: demo

- name: Show how long each service took to get healthy
  ansible.builtin.debug:
    var: demo.service_seconds
'''

RETURN = r'''
outcome:
  description: C(success), C(rolled_back) (a failure, and everything was put back) or C(failed).
  returned: always
  type: str
summary:
  description: The summary lines that were printed.
  returned: always
  type: list
  elements: str
phases:
  description: Per phase, as M(homelab.deploy.quadlet_apply) returns them (units, started, restarted, seconds).
  returned: always
  type: list
  elements: dict
units:
  description: Per unit file, what was done (file action, service action, seconds to healthy).
  returned: always
  type: dict
changed_services:
  description: The plan's services whose unit was written, started or restarted.
  returned: always
  type: list
  elements: str
service_seconds:
  description: Seconds to healthy per service that was started or restarted.
  returned: always
  type: dict
seconds:
  description: Seconds per phase, for verification and in total.
  returned: always
  type: dict
routes_changed:
  description: Routes that were written.
  returned: always
  type: list
  elements: str
recovered:
  description: Leftover transactions of killed runs that the host rolled back first.
  returned: always
  type: list
  elements: dict
images:
  description: The image each unit file runs (pinned by digest with O(pin_images)).
  returned: always
  type: dict
digests:
  description:
    - The image each container unit file runs, pinned by the digest it has on the host (C(repo@sha256:...)); the
      history event records these. Empty in check mode and for images the host does not have.
  returned: always
  type: dict
container_images:
  description:
    - "Image per container (C(container -> image)) for every container of the plan, pinned by digest where the
      host reported one (see RV(digests)), else the image as planned."
  returned: always
  type: dict
pulls:
  description: What each image pull of the transaction did (see M(homelab.deploy.quadlet_apply)'s RV(pulls)).
  returned: always
  type: dict
health:
  description: With O(verify_health=true), the health of each container found after the checks.
  returned: always
  type: dict
  sample: {demo-web: healthy}
failure:
  description: The first failure, C({service, check, cause, evidence}), or null.
  returned: always
  type: dict
refused:
  description: The set was refused before anything on the host changed; the report then says no rollback was needed.
  returned: when O(state=present)
  type: bool
rollback:
  description: What the rollback did (restored, removed, restarted, errors, ok).
  returned: on failure
  type: dict
check_mode:
  description: Whether the run was a check-mode run (also when check mode was set on the task or an include, which
    C(ansible_check_mode) does not show).
  returned: when O(state=present)
  type: bool
profile:
  description: Where the time went - each host round trip (C(apply), C(revert)) with its seconds, and the host
    transaction's own steps (validate, write, reload, phase-N, routes, verify, total).
  returned: always
  type: list
  elements: dict
result:
  description:
    - The run as a role reports it (the C(stack_result) of M(homelab.deploy.stack)) - name, scope, outcome,
      phases (services per phase), changed services, images per container, seconds, service_seconds,
      routes_changed, recovered, summary, failure, profile. The same as the P(homelab.deploy.deploy_result#filter)
      filter gives.
  returned: always
  type: dict
report:
  description:
    - The failure report - what failed and why, what the rollback did, what was kept, the evidence - as the
      P(homelab.deploy.deploy_report#filter) filter gives it.
  returned: on failure
  type: str
event:
  description: The history event that was published.
  returned: when not in check mode and something changed or failed
  type: dict
'''

#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: podman_health
short_description: Wait for containers and their systemd services to be healthy, and judge them with evidence
version_added: 0.1.0
description:
  - Waits, for all of O(names) at once, until each is healthy O(successes) times in a row, is conclusively
    unhealthy, or O(timeout) runs out. One loop polls every target; each round makes one batched
    C(podman container inspect) call and one C(systemctl show) call.
  - "A target is healthy in a round when its container runs and its own healthcheck (C(State.Health)) says
    C(healthy) (or it has none), its systemd service is C(active), and its HTTP probe (if any) passes."
  - "A target is conclusively unhealthy when its healthcheck reports C(unhealthy) after O(start_period), its
    service is C(failed), its service restarted while waiting (a restart loop, from C(NRestarts)), or its
    container stopped with no service restarting it."
  - With O(run_healthchecks=true) the module runs C(podman healthcheck run) itself each round instead of
    waiting for the container's healthcheck timer, so slow healthcheck intervals do not slow the verdict.
  - The result carries evidence per target, in any case (the last healthcheck log lines, the unit state,
    probe results, and the time it took to become healthy).
author:
  - homelab.deploy maintainers (@homelab)
extends_documentation_fragment:
  - homelab.deploy.attributes
  - homelab.deploy.scope
attributes:
  check_mode:
    support: full
    details:
      - Reports the current health from one round of observations, without waiting or running healthchecks.
  diff_mode:
    support: none
  idempotent:
    support: full
    details:
      - Never changes anything; C(changed) is always C(false). Running a healthcheck only updates the
        container's health log.
options:
  names:
    description:
      - What to judge. A name ending in C(.service) is a systemd service (its container is the one whose
        C(PODMAN_SYSTEMD_UNIT) label names it, if any); anything else is a container name or ID, and its
        service is found from the same label.
    type: list
    elements: str
    required: true
  timeout:
    description: Seconds to wait for all targets. C(0) takes a single look.
    type: int
    default: 60
  interval:
    description: Seconds between polling rounds.
    type: float
    default: 2
  successes:
    description: Consecutive healthy rounds a target needs to count as healthy.
    type: int
    default: 1
  start_period:
    description:
      - Seconds from the start of the wait during which an C(unhealthy) healthcheck is not yet conclusive
        (the container may still be starting).
    type: int
    default: 0
  run_healthchecks:
    description: Run C(podman healthcheck run) for each running container with a healthcheck in every round.
    type: bool
    default: true
  probes:
    description:
      - HTTP probes from the managed host (for images without C(wget)/C(curl) for a healthcheck of their own).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The entry of O(names) this probe belongs to. May be omitted when O(names) has one entry.
        type: str
      url:
        description: URL to GET, for example C(http://127.0.0.1:8080/health).
        type: str
        required: true
      status_codes:
        description: Acceptable status codes.
        type: list
        elements: int
        default: [200]
      body_regex:
        description: Regular expression the response body must match.
        type: str
      max_latency_ms:
        description: Slowest acceptable answer, in milliseconds.
        type: int
      timeout:
        description: Seconds before the request counts as failed.
        type: int
        default: 5
  fail_on_unhealthy:
    description: Fail unless every target is healthy. With C(false) the results are only reported.
    type: bool
    default: true
seealso:
  - module: homelab.deploy.quadlet
  - name: podman-healthcheck-run(1)
    description: Running a container's healthcheck by hand.
    link: https://docs.podman.io/en/latest/markdown/podman-healthcheck-run.1.html
'''

EXAMPLES = r'''
- name: Wait for the web stack, in parallel
  homelab.deploy.podman_health:
    names: [web, db, cache.service]
    timeout: 120

- name: An image without a healthcheck, judged by an HTTP probe (two good answers in a row)
  homelab.deploy.podman_health:
    names: [whoami]
    successes: 2
    probes:
      - url: http://127.0.0.1:8081/
        body_regex: Hostname
        max_latency_ms: 500

- name: Report only, for a dashboard
  homelab.deploy.podman_health:
    names: [web, db]
    timeout: 0
    fail_on_unhealthy: false
  register: health

- name: Rootless containers of user hl
  homelab.deploy.podman_health:
    names: [cache]
    scope: user
    user: hl
'''

RETURN = r'''
healthy:
  description: Whether every target is healthy.
  returned: always
  type: bool
  sample: false
unhealthy:
  description: Names of the targets that are not healthy.
  returned: always
  type: list
  elements: str
  sample: [db]
elapsed:
  description: Seconds spent waiting.
  returned: always
  type: float
  sample: 6.2
results:
  description: One entry per target, in the order of O(names).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The target as given.
      type: str
    status:
      description:
        - C(healthy), C(unhealthy) (conclusively), C(timeout) (not healthy when time ran out), or in check
          mode C(starting) (not healthy yet, not conclusively unhealthy).
      type: str
    healthy:
      description: Whether the target is healthy.
      type: bool
    reason:
      description: Why, in words, at the last observation.
      type: str
    time_to_healthy:
      description: Seconds from the start of the wait until the target counted as healthy.
      type: float
    checks:
      description: Number of observations made.
      type: int
    container:
      description:
        - The container at the last observation (C(name), C(id), C(state), C(started_at), C(exit_code),
          C(has_healthcheck), C(health), C(failing_streak), C(health_log) with the last three healthcheck runs,
          C(unit)). Null when no container was found.
      type: dict
    unit:
      description: The systemd service (C(name), C(load_state), C(active_state), C(sub_state), C(result), C(n_restarts)).
      type: dict
    probe:
      description: The last HTTP probe (C(url), C(ok), C(status), C(latency_ms), C(error)).
      type: dict
  sample:
    - name: web
      status: unhealthy
      healthy: false
      reason: healthcheck reports unhealthy (failing streak 2)
      time_to_healthy: null
      checks: 3
      container: {name: web, id: 3f2a1b0c9d8e, state: running, health: unhealthy, failing_streak: 2,
                  health_log: [{exit_code: 1, start: "2026-11-27T00:20:39Z", output: ""}], unit: web.service}
      unit: {name: web.service, active_state: active, sub_state: running, n_restarts: 0}
      probe: null
'''

import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.homelab.deploy.plugins.module_utils import _podman as podman


def build_targets(module):
    """One Target per name, with its probe attached."""
    names = module.params['names']
    probes = {}
    for probe in module.params['probes']:
        owner = probe.get('name') or (names[0] if len(names) == 1 else None)
        if owner not in names:
            module.fail_json(msg='probe for %s must name one of names (%s) in probes[].name'
                                 % (probe['url'], ', '.join(names)))
        probes[owner] = podman.probe_args(probe)
    return [podman.Target.from_name(name, probe=probes.get(name)) for name in names]


def run_module(module):
    scope = podman.Scope(module.params['scope'], module.params['user'])
    problem = scope.problem()
    if problem:
        module.fail_json(msg=problem)
    p = module.params
    watcher = podman.HealthWatcher(podman.Runner(module, scope), build_targets(module), timeout=p['timeout'],
                                   interval=p['interval'], successes=p['successes'], start_period=p['start_period'],
                                   run_healthchecks=p['run_healthchecks'])
    start = time.monotonic()
    results = watcher.snapshot() if module.check_mode else watcher.wait()
    unhealthy = [r['name'] for r in results if not r['healthy']]
    return dict(changed=False, healthy=not unhealthy, unhealthy=unhealthy, results=results,
                elapsed=round(time.monotonic() - start, 1))


def main():
    probe_options = dict(podman.PROBE_OPTIONS, name=dict(type='str'))
    module = AnsibleModule(
        argument_spec=dict(
            names=dict(type='list', elements='str', required=True),
            timeout=dict(type='int', default=60),
            interval=dict(type='float', default=2),
            successes=dict(type='int', default=1),
            start_period=dict(type='int', default=0),
            run_healthchecks=dict(type='bool', default=True),
            probes=dict(type='list', elements='dict', default=[], options=probe_options),
            fail_on_unhealthy=dict(type='bool', default=True),
            scope=dict(type='str', default='system', choices=['system', 'user']),
            user=dict(type='str'),
        ),
        required_if=[('scope', 'user', ('user',))],
        supports_check_mode=True,
    )
    try:
        result = run_module(module)
    except (podman.CommandError, ValueError) as exc:
        details = exc.details() if isinstance(exc, podman.CommandError) else {}
        module.fail_json(msg=to_native(exc), **details)
    if module.params['fail_on_unhealthy'] and not result['healthy']:
        module.fail_json(msg='not healthy: %s' % podman.summarize(result['results']), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()

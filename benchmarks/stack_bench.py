# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark of homelab.deploy.stack on the test node; prints three ratios measured in one run (issue #5).

1. overhead: the 4-service stacks/immich.yml deployed by the collection (ansible-playbook deploy_stack, fresh)
   vs a plain shell script on the node doing the same podman/systemctl operations in the same order (the same
   unit files, secret, daemon-reload, each phase started at once and waited on, the route file, the same
   verification commands). Target <= 1.5x.
2. parallel phase: one phase of 3 independent services that each take T to become healthy vs 3T, where T is
   measured by deploying one such service the same way. Target well under 1.
3. no-change re-run of the whole stack: changed=0, and its time vs the first deploy. Target <= 0.25.
4. a single service from a pattern (reverse-proxy-backend with the node's hl-web image) deployed by
   ansible-playbook deploy_service (pre-flight, deploy, route, check through Traefik, guide) vs a shell script
   writing the same unit and route and waiting the same way. Target <= 1.5x. Printed beside it: the floor, an
   ansible-playbook run of one ping task, which any playbook touching the host pays.

Needs a running node (HLNODE_NAME, tests/harness/hlnode up) with Traefik (this script runs
tests/integration/setup_traefik.yml first). Run from the repo root after `source tests/env.sh && hl_env`:
    python benchmarks/stack_bench.py
"""

from __future__ import absolute_import, division, print_function

import base64
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'output', 'collections'))
from ansible_collections.homelab.deploy.plugins.filter import patterns  # noqa: E402  pylint: disable=wrong-import-position
from ansible_collections.homelab.deploy.plugins.filter import stacks  # noqa: E402  pylint: disable=wrong-import-position

HLNODE = [sys.executable, os.path.join(ROOT, 'tests', 'harness', 'hlnode')]
SECRET = 'bench-db-password-0123456789'
SLOW_T = 8  # seconds each "slow" service needs before its healthcheck passes
UNIT_DIR = '/etc/containers/systemd'
REPEAT = int(os.environ.get('BENCH_REPEAT', '3'))  # runs of each side for lines 1, 3 and 4; medians are printed


def median(values):
    return sorted(values)[len(values) // 2]


def sh(argv, **kwargs):
    proc = subprocess.run(argv, check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, **kwargs)
    if proc.returncode:
        sys.stderr.write(proc.stdout[-6000:])
        raise SystemExit('%s failed with rc %d' % (' '.join(argv[:3]), proc.returncode))
    return proc.stdout


def node(script):
    """Run a bash script on the node; seconds it took."""
    start = time.monotonic()
    sh(HLNODE + ['exec', '--', 'bash', '-euc', script])
    return time.monotonic() - start


def inventory():
    return sh(HLNODE + ['inventory']).strip()


PLAYBOOK = """
- hosts: node
  gather_facts: false
  roles:
    - role: homelab.deploy.stack
  post_tasks:
    - name: Show the result (a debug task needs no host round trip, unlike a copy to the controller)
      ansible.builtin.debug:
        msg: "BENCHRESULT {{ stack_result | to_json | b64encode }}"
      when: stack_state | default('present') == 'present'
"""


def play(workdir, extra):
    """ansible-playbook with the stack role; (seconds, changed count, stack_result)."""
    book = os.path.join(workdir, 'bench.yml')
    with open(book, 'w') as handle:
        handle.write(PLAYBOOK)
    with open(os.path.join(workdir, 'vars.json'), 'w') as handle:
        json.dump(extra, handle)
    start = time.monotonic()
    out = sh(['ansible-playbook', '-i', inventory(), book, '-e', '@' + os.path.join(workdir, 'vars.json')])
    seconds = time.monotonic() - start
    changed = int(re.search(r'node\s*:.*changed=(\d+)', out).group(1))
    return seconds, changed, json.loads(base64.b64decode(re.search(r'BENCHRESULT ([A-Za-z0-9+/=]+)', out).group(1)))


def remove(workdir, definition):
    """Remove a stack with its data (not timed)."""
    extra = {'stack_definition': definition, 'stack_state': 'absent', 'stack_purge': True}
    subprocess.run(['ansible-playbook', '-i', inventory(), os.path.join(workdir, 'bench.yml'),
                    '-e', json.dumps(extra)], check=True, stdout=subprocess.DEVNULL)
    node('podman secret rm --ignore %s-db-password >/dev/null' % definition['name'])


def shell_script(rendered):
    """The same operations as the role, as a careful operator's shell script."""
    lines = ['printf %%s %s | podman secret create --replace %s-db-password - >/dev/null'
             % (shlex.quote(SECRET), rendered['name'])]
    install = '\n[Install]\nWantedBy=multi-user.target\n'
    infra = rendered['infra']
    for unit in infra:
        lines.append('cat > %s/%s <<"EOF"\n%sEOF' % (UNIT_DIR, unit['name'], unit['text'] + install))
    lines.append('systemctl daemon-reload')
    lines.append(' '.join('systemctl start %s &' % _infra_service(u) for u in infra) + ' wait')
    for phase in rendered['phases']:
        for unit in phase:
            lines.append('cat > %s/%s <<"EOF"\n%sEOF' % (UNIT_DIR, unit['name'], unit['text'] + install))
        lines.append('systemctl daemon-reload')
        # Notify=healthy: each start returns when its container is healthy; started together, waited together
        lines.append(' '.join('systemctl start %s &' % unit['unit'] for unit in phase) + ' wait')
        lines.append('for u in %s; do systemctl is-active -q $u; done' % ' '.join(u['unit'] for u in phase))
    for route in rendered['routes']:
        lines.append('cat > /etc/traefik/dynamic/%s.yml <<"EOF"\nhttp:\n  routers:\n    %s:\n      rule: "Host(`%s`)"\n'
                     '      service: %s\n      entryPoints: [web]\n  services:\n    %s:\n      loadBalancer:\n'
                     '        servers:\n          - url: %s\nEOF'
                     % (route['name'], route['name'], route['hostname'][0], route['name'], route['name'], route['urls'][0]))
    for check in rendered['verify']:
        if 'command' in check:
            cmd = 'podman exec %s %s' % (check['container'], ' '.join(shlex.quote(a) for a in check['command']))
            cmd += ' | grep -qE %s' % shlex.quote(check['stdout_regex']) if check.get('stdout_regex') else ' >/dev/null'
        else:
            http = check['http']
            quoted = [shlex.quote(x) for x in ('Host: ' + http['host'], http['url'], http['body_regex'] or '.')]
            cmd = 'curl -fsS -H %s %s | grep -qE %s' % tuple(quoted)
        lines.append('for i in $(seq 10); do if %s; then break; fi; [ $i = 10 ] && exit 1; sleep 1; done' % cmd)
    return '\n'.join(lines)


def _infra_service(unit):
    base, kind = unit['name'].rsplit('.', 1)
    return '%s-%s.service' % (base, kind)


def shell_teardown(rendered):
    units = [u for phase in rendered['phases'] for u in phase]
    return '\n'.join([
        'systemctl stop %s' % ' '.join([u['unit'] for u in units] + [_infra_service(u) for u in rendered['infra']]),
        'rm -f %s' % ' '.join('%s/%s' % (UNIT_DIR, u['name']) for u in units + rendered['infra']),
        'rm -f %s' % ' '.join('/etc/traefik/dynamic/%s.yml' % r['name'] for r in rendered['routes']),
        'systemctl daemon-reload',
        'podman volume rm --force %s >/dev/null' % ' '.join(u['sections']['Volume']['VolumeName'] for u in rendered['infra']
                                                            if u['type'] == 'volume'),
        'podman network rm --force %s >/dev/null || true' % rendered['name'],
        'podman secret rm --ignore %s-db-password >/dev/null' % rendered['name'],
    ])


def slow_stack(name, count):
    """count independent hl-web services that become healthy SLOW_T seconds after their first healthcheck (a
    timer the first check starts in the container; no % or $, which systemd would expand)."""
    health = ('test -f /tmp/ready && exec /bin/hl-web health; test -f /tmp/timer || '
              '{ touch /tmp/timer; (sleep %d; touch /tmp/ready) >/dev/null 2>&1 & }; exit 1' % SLOW_T)
    services = dict(('slow%d' % i, {'image': 'localhost/hl-web:latest', 'healthcheck': {
        'cmd': health, 'interval': '1s', 'retries': 60, 'timeout': '2s'}, 'wait_for': {'timeout': 90}})
        for i in range(1, count + 1))
    return {'schema_version': 1, 'name': name, 'services': services}


SERVICE = 'benchsvc'
SERVICE_OVERRIDES = {'routing': {'port': 8080}, 'monitoring': {'health': {'path': '/health'}},
                     'services': {'app': {'image': 'localhost/hl-web:latest', 'read_only': False,
                                          'healthcheck': {'cmd': '/bin/hl-web health', 'interval': '2s'}}}}


def service_plan():
    pattern = patterns.pattern_load('reverse-proxy-backend', SERVICE_OVERRIDES)
    rendered = patterns.pattern_render(pattern, SERVICE, hostname='%s.test' % SERVICE, limits='best_effort', controllers=[])
    return patterns.pattern_plan(rendered)


def service_shell(plan):
    """What deploy_service does for one service, by hand: the unit, a reload, a start that returns once healthy
    (Notify=healthy), the route file, and the request through Traefik."""
    units = [unit for phase in plan['phases'] for unit in phase]
    lines = ['cat > %s/%s <<"EOF"\n%sEOF' % (UNIT_DIR, unit['name'], unit['text']) for unit in units]
    lines += ['systemctl daemon-reload', 'systemctl start %s' % ' '.join(u['unit'] for u in units)]
    route = plan['routes'][0]
    lines.append('cat > /etc/traefik/dynamic/%s.yml <<"EOF"\nhttp:\n  routers:\n    %s:\n      rule: "Host(`%s`)"\n'
                 '      service: %s\n      entryPoints: [web]\n      middlewares: [%s]\n  services:\n    %s:\n'
                 '      loadBalancer:\n        servers:\n          - url: %s\nEOF'
                 % (route['name'], route['name'], route['hostname'][0], route['name'], ', '.join(route['middlewares']),
                    route['name'], route['urls'][0]))
    lines.append('for i in $(seq 30); do curl -fsS -o /dev/null -H "Host: %s" http://127.0.0.1/health && break; '
                 '[ $i = 30 ] && exit 1; sleep 0.5; done' % route['hostname'][0])
    return '\n'.join(lines)


def service_teardown(plan):
    units = [unit for phase in plan['phases'] for unit in phase]
    return '\n'.join(['systemctl stop %s' % ' '.join(u['unit'] for u in units),
                      'rm -f %s /etc/traefik/dynamic/%s.yml' % (' '.join('%s/%s' % (UNIT_DIR, u['name']) for u in units),
                                                                SERVICE),
                      'systemctl daemon-reload'])


def deploy_service(workdir):
    """ansible-playbook deploy_service for the benchmark service; seconds."""
    service_file = os.path.join(workdir, '%s.yml' % SERVICE)
    with open(service_file, 'w') as handle:
        json.dump({'pattern': 'reverse-proxy-backend', 'name': SERVICE, 'hostname': '%s.test' % SERVICE,
                   'resource_limits': 'best_effort', 'overrides': SERVICE_OVERRIDES}, handle)
    start = time.monotonic()
    sh(['ansible-playbook', '-i', inventory(), os.path.join(ROOT, 'playbooks', 'deploy_service.yml'),
        '-e', json.dumps({'deploy_target': 'node', 'deploy_service_file': service_file,
                          'preflight_report_dir': workdir})])
    return time.monotonic() - start


FLOOR_PLAYBOOK = """
- hosts: node
  gather_facts: false
  tasks:
    - name: One module round trip, the least any playbook that touches the host costs
      ansible.builtin.ping:
"""


def floor(workdir):
    """ansible-playbook with one ping task against the node; seconds (best of three)."""
    book = os.path.join(workdir, 'floor.yml')
    with open(book, 'w') as handle:
        handle.write(FLOOR_PLAYBOOK)
    times = []
    for dummy in range(3):
        start = time.monotonic()
        sh(['ansible-playbook', '-i', inventory(), book])
        times.append(time.monotonic() - start)
    return min(times)


def main():
    immich = stacks.stack_load('immich')
    rendered = stacks.stack_render(immich, 'system')
    sh(['ansible-playbook', '-i', inventory(), os.path.join(ROOT, 'tests', 'integration', 'setup_traefik.yml')])
    with tempfile.TemporaryDirectory() as workdir:
        with open(os.path.join(workdir, 'bench.yml'), 'w') as handle:
            handle.write(PLAYBOOK)
        common = {'stack_definition': immich, 'stack_secrets': {'db-password': SECRET}}
        remove(workdir, immich)

        # each side REPEAT times, alternating, and the median of each: one slow database start must not decide
        shells, firsts, agains = [], [], []
        for dummy in range(REPEAT):
            shells.append(node(shell_script(rendered)))
            node(shell_teardown(rendered))
            first, first_changed, first_result = play(workdir, common)
            again, again_changed, again_result = play(workdir, common)
            remove(workdir, immich)
            firsts.append((first, first_changed, first_result))
            agains.append((again, again_changed, again_result))
        shell_seconds = median(shells)
        first, first_changed, first_result = sorted(firsts, key=lambda r: r[0])[REPEAT // 2]
        again, again_changed, again_result = sorted(agains, key=lambda r: r[0])[REPEAT // 2]
        again_changed = max(r[1] for r in agains)

        single = slow_stack('benchone', 1)
        one_total, dummy, one_result = play(workdir, {'stack_definition': single})
        remove(workdir, single)
        triple = slow_stack('benchthree', 3)
        three_total, dummy, three_result = play(workdir, {'stack_definition': triple})
        remove(workdir, triple)

        plan = service_plan()
        service_shells, services = [], []
        for dummy in range(REPEAT):
            service_shells.append(node(service_shell(plan)))
            node(service_teardown(plan))
            services.append(deploy_service(workdir))
            node(service_teardown(plan))
        service_shell_seconds, service_seconds = median(service_shells), median(services)
        floor_seconds = floor(workdir)

    t_single = one_result['seconds']['phase 1']
    t_three = three_result['seconds']['phase 1']
    print('stack benchmark (node %s, %s)' % (os.environ.get('HLNODE_NAME', 'node'), time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())))
    print('medians of %d runs of each side for lines 1, 3 and 4 (BENCH_REPEAT)' % REPEAT)
    print('1. overhead: collection %.1f s vs plain shell script %.1f s for the 4-service immich stack -> %.2fx (target <= 1.5x)'
          % (first, shell_seconds, first / shell_seconds))
    print('   runs (s): collection %s; shell %s' % (' '.join('%.1f' % r[0] for r in firsts), ' '.join('%.1f' % v for v in shells)))
    print('   phases of the collection run: %s' % json.dumps(first_result['seconds']))
    print('   host round trips of the deploy task: %s' % json.dumps(first_result.get('profile')))
    print('2. parallel phase: 3 services that each take T to get healthy: phase %.1f s; one such service (T incl. '
          'start) %.1f s; 3T = %.1f s -> %.2f of 3T (healthcheck gate %d s)'
          % (t_three, t_single, 3 * t_single, t_three / (3 * t_single), SLOW_T))
    print('   phase of 3 vs one such service: %.1f s vs %.1f s -> %.2f (target <= 1.1)' % (t_three, t_single, t_three / t_single))
    print('   time to healthy per service in the phase of 3: %s' % json.dumps(three_result['service_seconds']))
    print('3. no-change re-run: changed=%d (stack_result.changed=%s), %.1f s vs first deploy %.1f s -> %.2f'
          % (again_changed, again_result['changed'], again, first, again / first))
    print('   first deploy changed=%d; phases of the re-run: %s' % (first_changed, json.dumps(again_result['seconds'])))
    print('   host round trips of the re-run: %s' % json.dumps(again_result.get('profile')))
    print('4. single service: deploy_service %.1f s vs plain shell script %.1f s for one pattern service -> %.2fx '
          '(target <= 1.5x)' % (service_seconds, service_shell_seconds, service_seconds / service_shell_seconds))
    print('   runs (s): deploy_service %s; shell %s; fixed cost of the collection (median difference) %.1f s'
          % (' '.join('%.1f' % v for v in services), ' '.join('%.1f' % v for v in service_shells),
             median([a - b for a, b in zip(services, service_shells)])))
    print('   floor: ansible-playbook with one ping task %.1f s -> %.2fx the shell script by itself'
          % (floor_seconds, floor_seconds / service_shell_seconds))
    return 0 if again_changed == 0 else 1


if __name__ == '__main__':
    sys.exit(main())

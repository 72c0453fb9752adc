# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark of homelab.deploy.drift_check on the test node: 30 services, batched check vs a per-container loop (issue #8).

On the node, 30 Quadlet container units (hl-web) run. Both ways are measured in ONE run, on the node (no
Ansible transport in the figures), with the collection's own helpers:

* batched: what drift_check does - `podman ps`, ONE `podman container inspect` of every container, ONE
  `podman image inspect`, ONE `systemctl show` of every unit, then the comparison;
* loop: the naive way - for each service `podman container inspect NAME`, `podman image inspect IMAGE` and
  `systemctl show UNIT`, then the same comparison.

podman processes are counted by a wrapper put first on PATH that logs each invocation (then execs the real
podman). Each way runs REPEAT times; the median time is reported. Prints the podman process counts, the
times and the ratios. The batched count must not grow with the number of services (O(1)).

Needs a running node (HLNODE_NAME, tests/harness/hlnode up). From the repo root after
`source tests/env.sh && hl_env`:
    python benchmarks/drift_bench.py [--services 30]
"""

from __future__ import absolute_import, division, print_function

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HLNODE = [sys.executable, os.path.join(ROOT, 'tests', 'harness', 'hlnode')]
WORK = '/tmp/hl-drift-bench'
HELPERS = ('_podman.py', '_unitfile.py', '_quadlet.py', '_traefik.py', '_drift.py', '_drift_host.py')
PACKAGES = ('ansible_collections', 'ansible_collections/homelab', 'ansible_collections/homelab/deploy',
            'ansible_collections/homelab/deploy/plugins', 'ansible_collections/homelab/deploy/plugins/module_utils',
            'ansible', 'ansible/module_utils', 'ansible/module_utils/six', 'ansible/module_utils/six/moves')

# Runs on the node (python3 only). argv: number of services, repeats.
NODE_SCRIPT = r'''
import json, os, statistics, subprocess, sys, time
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'python'))
from ansible_collections.homelab.deploy.plugins.module_utils import _drift as drift, _podman as podman
from ansible_collections.homelab.deploy.plugins.module_utils._drift_host import DriftChecker

WORK = os.path.dirname(os.path.abspath(__file__))
LOG = os.path.join(WORK, 'podman-calls.log')
COUNT, REPEAT = int(sys.argv[1]), int(sys.argv[2])
NAMES = ['hlbench%02d' % i for i in range(COUNT)]
UNIT_DIR = '/etc/containers/systemd'


class Module(object):
    def __init__(self, params):
        self.params, self.check_mode = params, True

    def run_command(self, argv, data=None, binary_data=False, environ_update=None, cwd=None):
        proc = subprocess.run(argv, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=dict(os.environ, **(environ_update or {})), cwd=cwd, check=False)
        return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def run(*argv):
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)


def setup():
    for index, name in enumerate(NAMES):
        with open(os.path.join(UNIT_DIR, name + '.container'), 'w') as handle:
            handle.write('[Container]\nImage=localhost/hl-web:latest\nContainerName=%s\nNetwork=hl.network\n'
                         'Environment=HL_WEB_VERSION=%d\nLabel=io.homelab.deploy.managed=true\n'
                         'HealthCmd=/bin/hl-web health\n' % (name, index))
    run('systemctl', 'daemon-reload')
    run('systemctl', 'start', *[n + '.service' for n in NAMES])
    with open('/usr/local/bin/podman', 'w') as handle:
        handle.write('#!/bin/sh\necho "$*" >> %s\nexec /usr/bin/podman "$@"\n' % LOG)
    os.chmod('/usr/local/bin/podman', 0o755)


def cleanup():
    if os.path.exists('/usr/local/bin/podman'):
        os.remove('/usr/local/bin/podman')
    subprocess.run(['systemctl', 'stop'] + [n + '.service' for n in NAMES], check=False)
    for name in NAMES:
        path = os.path.join(UNIT_DIR, name + '.container')
        if os.path.exists(path):
            os.remove(path)
    run('systemctl', 'daemon-reload')


def podman_calls():
    if not os.path.exists(LOG):
        return 0
    with open(LOG) as handle:
        return sum(1 for dummy in handle)


def batched():
    module = Module({'names': NAMES, 'unmanaged': False, 'api_url': '', 'route_files': False})
    result = DriftChecker(module, podman.Runner(module, podman.Scope('system')), None).run()
    return result['services']


def loop():
    module = Module({})
    runner = podman.Runner(module, podman.Scope('system'))
    checker = DriftChecker(Module({'names': NAMES}), runner, None)
    units, refs, dummy = checker.read_units()
    services = []
    for unit in units:
        infos = runner.json(['podman', 'container', 'inspect', '--', unit['spec']['name']], ok_rcs=(0, 125)) or []
        images = runner.json(['podman', 'image', 'inspect', '--', unit['spec']['image']], ok_rcs=(0, 125)) or []
        dummy, out, dummy = runner.run(['systemctl', 'show', '-p', ','.join(drift.SHOW_PROPERTIES), '--',
                                        unit['service_name']])
        shows = dict((b.get('Id'), b) for b in podman.parse_show(out))
        found, dummy = drift.check_host([unit], infos, images, shows, refs, report_unmanaged=False)
        services.extend(found)
    return services


def measure(func):
    times, calls, result = [], [], None
    for dummy in range(REPEAT):
        if os.path.exists(LOG):
            os.remove(LOG)
        start = time.monotonic()
        result = func()
        times.append(time.monotonic() - start)
        calls.append(podman_calls())
    return {'seconds': statistics.median(times), 'all_seconds': times, 'podman_processes': calls[-1],
            'drifted': sum(1 for s in result if s['drifted']), 'services': len(result)}


try:
    setup()
    time.sleep(3)
    out = {'services': COUNT, 'batched': measure(batched), 'loop': measure(loop)}
finally:
    cleanup()
print(json.dumps(out))
'''


def payload():
    """A tar of the helpers (as their package tree), the Ansible stand-in and the node script."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode='w') as tar:
        def add(name, data):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for package in PACKAGES:
            add('python/%s/__init__.py' % package, b'')
        for helper in HELPERS:
            with open(os.path.join(ROOT, 'plugins', 'module_utils', helper), 'rb') as handle:
                add('python/ansible_collections/homelab/deploy/plugins/module_utils/' + helper, handle.read())
        with open(os.path.join(ROOT, 'roles', 'drift_timer', 'files', 'collections_abc.py'), 'rb') as handle:
            add('python/ansible/module_utils/six/moves/collections_abc.py', handle.read())
        add('bench.py', NODE_SCRIPT.encode('utf-8'))
    return buf.getvalue()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--services', type=int, default=30)
    parser.add_argument('--repeat', type=int, default=3)
    args = parser.parse_args()
    script = 'rm -rf {w} && mkdir -p {w} && tar -x -C {w} && python3 {w}/bench.py {n} {r}; rc=$?; rm -rf {w}; exit $rc'.format(
        w=WORK, n=args.services, r=args.repeat)
    proc = subprocess.run(HLNODE + ['exec', '--', 'sh', '-c', script], input=payload(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, check=False)
    text = proc.stdout.decode('utf-8', 'replace')
    if proc.returncode:
        raise SystemExit('benchmark failed on the node (rc %d):\n%s' % (proc.returncode, text[-4000:]))
    data = json.loads(text.strip().splitlines()[-1])
    batched, loop = data['batched'], data['loop']
    print('drift check of %d services on the node (median of %d runs each)' % (data['services'], args.repeat))
    for label, item in (('batched (drift_check)', batched), ('per-container loop', loop)):
        print('  %-22s %7.3f s  %4d podman processes  %d services checked, %d drifted'
              % (label, item['seconds'], item['podman_processes'], item['services'], item['drifted']))
    print('ratio podman processes loop/batched: %.1fx (batched: %d, constant; loop: %d = %.1f per service)'
          % (loop['podman_processes'] / float(batched['podman_processes']), batched['podman_processes'],
             loop['podman_processes'], loop['podman_processes'] / float(data['services'])))
    print('ratio time loop/batched: %.2fx' % (loop['seconds'] / batched['seconds']))
    if batched['services'] != data['services'] or batched['drifted'] or loop['drifted']:
        raise SystemExit('unexpected result: every service checked and none drifted was expected: %s' % json.dumps(data))
    print(json.dumps(data))


if __name__ == '__main__':
    main()

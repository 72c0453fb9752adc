# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""homelab.deploy drift check for the systemd timer (installed by the drift_timer role).

Runs the same comparison as the homelab.deploy.drift_check module with python3, podman and systemd only,
writes a JSON report and a Prometheus textfile metric, and runs a notification command on drift.
Exit status: 0 = checked (drift or not, unless fail_on_drift), 2 = drift found with fail_on_drift, 1 = error.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

# The helpers are copied next to this file; a real Ansible installation, if any, wins over the stand-in.
sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), 'python'))

from ansible_collections.homelab.deploy.plugins.module_utils import _podman as podman  # noqa: E402
from ansible_collections.homelab.deploy.plugins.module_utils._drift_host import DriftChecker  # noqa: E402

CHECK_KEYS = ('ignore', 'routes', 'api_url', 'dynamic_dir')


class HostModule(object):
    """What podman.Runner and DriftChecker need from an AnsibleModule: params and run_command."""

    def __init__(self, params):
        self.params = params
        self.check_mode = True

    def run_command(self, argv, data=None, binary_data=False, environ_update=None, cwd=None):
        env = dict(os.environ, **(environ_update or {}))
        proc = subprocess.run(argv, input=data.encode('utf-8') if isinstance(data, str) else data,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd, check=False)
        return proc.returncode, proc.stdout.decode('utf-8', 'replace'), proc.stderr.decode('utf-8', 'replace')


def open_url(url, method='GET', timeout=10, use_proxy=False, headers=None):
    """The slice of ansible's open_url TraefikApi uses; HTTPError carries .code like Ansible's."""
    request = urllib.request.Request(url, method=method, headers=headers or {})
    handlers = [] if use_proxy else [urllib.request.ProxyHandler({})]
    return urllib.request.build_opener(*handlers).open(request, timeout=timeout)


def write_atomic(path, text, mode=0o644):
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), dir=directory)
    with os.fdopen(fd, 'w') as handle:
        handle.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def metric_text(result, seconds, ok):
    host = socket.gethostname()
    count = result.get('drifted_count', 0) if ok else 0
    lines = [
        '# HELP homelab_deploy_drifted_services Services, unmanaged containers and routes that drifted from their declaration.',
        '# TYPE homelab_deploy_drifted_services gauge',
        'homelab_deploy_drifted_services{host="%s"} %d' % (host, count),
        '# HELP homelab_deploy_drift_check_success Whether the last drift check could run.',
        '# TYPE homelab_deploy_drift_check_success gauge',
        'homelab_deploy_drift_check_success{host="%s"} %d' % (host, 1 if ok else 0),
        '# HELP homelab_deploy_drift_check_timestamp_seconds When the last drift check ran.',
        '# TYPE homelab_deploy_drift_check_timestamp_seconds gauge',
        'homelab_deploy_drift_check_timestamp_seconds{host="%s"} %d' % (host, int(time.time())),
        '# HELP homelab_deploy_drift_check_duration_seconds How long the last drift check took.',
        '# TYPE homelab_deploy_drift_check_duration_seconds gauge',
        'homelab_deploy_drift_check_duration_seconds{host="%s"} %.3f' % (host, seconds),
    ]
    return '\n'.join(lines) + '\n'


def check(config):
    params = dict((key, config[key]) for key in CHECK_KEYS if key in config)
    module = HostModule(params)
    scope = podman.Scope(config.get('scope') or 'system', config.get('user'))
    return DriftChecker(module, podman.Runner(module, scope), open_url).run()


def notify(config, result, report_path):
    argv = config.get('notify_command') or []
    if not argv or not result.get('drifted'):
        return None
    env = dict(os.environ, DRIFT_COUNT=str(result['drifted_count']), DRIFT_REPORT=report_path)
    proc = subprocess.run(argv, input='\n'.join(result['summary']).encode('utf-8'), env=env, check=False)
    return proc.returncode


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default='/etc/homelab-deploy/drift-check.json')
    args = parser.parse_args(argv)
    with open(args.config) as handle:
        config = json.load(handle)
    started = time.monotonic()
    try:
        result, ok = check(config), True
    except (podman.CommandError, ValueError, OSError) as exc:
        result, ok = {'error': str(exc), 'drifted': None}, False
    result['checked_at'] = time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())
    report_path = config.get('report_path') or '/var/lib/homelab-deploy/drift/report.json'
    write_atomic(report_path, json.dumps(result, indent=2, sort_keys=True) + '\n')
    if config.get('textfile_dir'):
        write_atomic(os.path.join(config['textfile_dir'], 'homelab_deploy_drift.prom'),
                     metric_text(result, time.monotonic() - started, ok))
    if not ok:
        print('drift check failed: %s' % result['error'], file=sys.stderr)
        return 1
    rc = notify(config, result, report_path)
    print('drift: %d finding(s)%s' % (result['drifted_count'], ''.join('\n  ' + line for line in result['summary'])))
    if rc:
        print('notification command exited with %d' % rc, file=sys.stderr)
    return 2 if result['drifted'] and config.get('fail_on_drift') else 0


if __name__ == '__main__':
    sys.exit(main())

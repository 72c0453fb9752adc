# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the pre-flight reads on a managed host, in one process (homelab.deploy.preflight_info).

The facts come back in the shape the controller-side assessment (plugins/filter/preflight.py, preflight_assess)
judges: raw command output where the assessment parses it, so that one parser reads it.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re

from ansible_collections.homelab.deploy.plugins.module_utils import _podman as podman
from ansible_collections.homelab.deploy.plugins.module_utils import _quadlet as quadlet
from ansible_collections.homelab.deploy.plugins.module_utils import _traefik as traefik

INSTANCE_LABEL = 'io.homelab.deploy.instance'


def parse_json(text):
    try:
        found = json.loads(text)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def existing_parent(path):
    """The path itself, or its nearest existing parent (a directory the deploy creates is measured there)."""
    path = os.path.abspath(path)
    while not os.path.exists(path) and path != os.path.dirname(path):
        path = os.path.dirname(path)
    return path


def last_line(text):
    lines = [line for line in (text or '').splitlines() if line.strip()]
    return lines[-1] if lines else ''


def unit_files(unit_dir, names, instance):
    """(existing, ours): the unit files with these names in unit_dir, and those labelled for this instance."""
    label = re.compile(r'^Label=%s=%s$' % (re.escape(INSTANCE_LABEL), re.escape(instance)), re.M)
    existing, ours = [], []
    for name in names:
        path = os.path.join(unit_dir, name)
        if not os.path.isfile(path):
            continue
        existing.append(name)
        if instance and label.search(quadlet.read_text(path) or ''):
            ours.append(name)
    return existing, ours


def systemd_units(containers):
    """The systemd units that run the listed containers (podman's PODMAN_SYSTEMD_UNIT label), once each."""
    units = []
    for ctr in containers or []:
        unit = (ctr.get('Labels') or {}).get('PODMAN_SYSTEMD_UNIT')
        if unit and unit not in units:
            units.append(unit)
    return units


def pick_unit_set(unit_sets, controllers):
    """The unit set rendered for the host's cgroup controllers: the one whose controllers are exactly the host's
    among those the sets vary by. None when no set matches."""
    relevant = set(c for item in unit_sets for c in item.get('controllers') or [])
    wanted = relevant & set(controllers or [])
    for item in unit_sets:
        if set(item.get('controllers') or []) == wanted:
            return item
    return None


def generator_errors(result):
    """Every error of a Validator.validate_set result, each naming its file."""
    errors = list(result.get('errors') or [])
    for name, item in sorted(result['files'].items()):
        errors.extend('%s: %s' % (name, line) if name not in line else line for line in item['errors'])
    return errors


class HostReader(object):
    """Reads everything the pre-flight judges, in the deployment's scope (root acting for a rootless user runs
    podman and systemctl --user as that user)."""

    def __init__(self, module, scope, runner, api=None):
        self.module, self.scope, self.runner, self.api = module, scope, runner, api

    def out(self, argv, switch=True):
        return self.runner.run(argv, switch=switch)[1]

    def json(self, argv):
        return self.runner.json(argv) or []

    def failed_units(self):
        argv = ['list-units', '--state=failed', '--output=json']
        found = self.runner.json(['systemctl'] + argv) or []
        if self.scope.is_user:
            found += self.runner.json(self.runner.systemctl_argv(*argv)) or []
        return found

    def restarts(self, containers):
        units = systemd_units(containers)
        if not units:
            return ''
        return self.out(self.runner.systemctl_argv('show', '-p', 'Id,NRestarts', '--', *units))

    def disks(self, paths):
        found = {}
        for path in paths:
            found[path] = last_line(self.out(['df', '-P', '-B1', '--', existing_parent(path)], switch=False))
        return found

    def routers(self, hostnames):
        """(routers, warnings): what Traefik routes, or None with a warning when its API does not answer."""
        if not hostnames or self.api is None:
            return None, []
        try:
            served = traefik.filter_objects(self.api.list('routers'), [], [])
        except traefik.TraefikApiError as exc:
            return None, ['Traefik API error: %s; host-name conflicts were not checked' % exc]
        return served['routers'], []

    def generator(self, unit_sets, controllers):
        if not unit_sets:
            return None
        chosen = pick_unit_set(unit_sets, controllers)
        if chosen is None:
            return {'errors': ['no rendered unit set matches the host\'s cgroup controllers %s' % sorted(controllers)]}
        files = dict((unit['name'], quadlet.ensure_newline(unit['content'])) for unit in chosen['units'])
        try:
            result = quadlet.Validator(self.runner, self.scope, tmpdir=self.module.tmpdir).validate_set(files)
        except podman.CommandError as exc:
            return {'errors': [str(exc)]}
        return {'errors': generator_errors(result), 'controllers': sorted(chosen.get('controllers') or [])}

    def read(self, params):
        info_text = self.out(['podman', 'info', '--format', 'json'])
        info = parse_json(info_text)
        controllers = (info.get('host') or {}).get('cgroupControllers') or []
        volume_path = (info.get('store') or {}).get('volumePath')
        containers = self.json(['podman', 'ps', '-a', '--format', 'json'])
        existing, ours = unit_files(self.scope.unit_dir(), params['unit_names'], params['instance'])
        routers, warnings = self.routers(params['hostnames'])
        proc = quadlet.read_text('/proc/loadavg') or ''
        facts = {
            'podman_version': self.out(['podman', 'version', '--format', 'json']),
            'systemd_version': self.out(['systemctl', '--version'], switch=False),
            'podman_info': info_text,
            'failed_units': self.failed_units(),
            'containers': containers,
            'networks': self.json(['podman', 'network', 'ls', '--format', 'json']),
            'volumes': self.json(['podman', 'volume', 'ls', '--format', 'json']),
            'loadavg': proc.splitlines()[0] if proc else '',
            'meminfo': quadlet.read_text('/proc/meminfo') or '',
            'nproc': os.sysconf('SC_NPROCESSORS_ONLN'),
            'memory_pressure': quadlet.read_text('/proc/pressure/memory') or '',
            'listening': self.out(['ss', '-Htlnu'], switch=False),
            'unit_restarts': self.restarts(containers),
            'disks': self.disks(([volume_path] if volume_path else []) + list(params['storage_paths'])),
            'unit_files_existing': existing,
            'unit_files_ours': ours,
            'missing_host_paths': [path for path in params['host_paths'] if not os.path.lexists(path)],
            'routers': routers,
            'warnings': warnings,
            'generator': self.generator(params['unit_sets'], controllers),
        }
        return {'facts': facts, 'controllers': sorted(controllers), 'unit_dir': self.scope.unit_dir()}

# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private: read declared and running state of a host for the drift check; not a public API, may change without notice.

Shared by the drift_check module and the drift timer's runner (roles/drift_timer), which runs on hosts
without Ansible: ``module`` only needs ``params`` and ``run_command`` and the Traefik API ``opener`` is passed in.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

from ansible_collections.homelab.deploy.plugins.module_utils import _drift as drift
from ansible_collections.homelab.deploy.plugins.module_utils import _podman as podman
from ansible_collections.homelab.deploy.plugins.module_utils import _quadlet as quadlet
from ansible_collections.homelab.deploy.plugins.module_utils import _traefik as traefik
from ansible_collections.homelab.deploy.plugins.module_utils._unitfile import UnitFileError, container_spec, parse_with_dropins

try:
    import yaml
    HAS_YAML = True
except ImportError:
    HAS_YAML = False

DEFAULTS = {'names': [], 'unmanaged': True, 'ignore': [], 'ignore_env': list(drift.DEFAULT_IGNORED_ENV),
            'ignore_labels': list(drift.DEFAULT_IGNORED_LABELS), 'routes': [], 'route_files': True,
            'dynamic_dir': traefik.DYNAMIC_DIR, 'api_url': traefik.API_URL}


ROUTE_DEFAULTS = {'middlewares': [], 'entrypoints': list(traefik.ENTRYPOINTS), 'pass_host_header': True}


def to_native(value):
    return '%s' % (value,)


class DriftChecker(object):
    """Reads the declared state (unit files, routes) and the running state once, then compares."""

    def __init__(self, module, runner, opener):
        self.module, self.runner, self.opener = module, runner, opener
        self.params = dict(DEFAULTS, **module.params)
        self.commands = []

    def run_json(self, argv, ok_rcs=(0,)):
        self.commands.append(' '.join(argv[:4]) + (' ...' if len(argv) > 4 else ''))
        return self.runner.json(argv, ok_rcs=ok_rcs) or []

    # -- declared ---------------------------------------------------------------

    def unit_files(self):
        directory = self.runner.scope.unit_dir()
        if not os.path.isdir(directory):
            return directory, []
        names = sorted(f for f in os.listdir(directory) if f.rpartition('.')[2] in quadlet.UNIT_TYPES)
        return directory, names

    def read_units(self):
        """(container units, {reference: object name}, errors) from the unit directory."""
        directory, names = self.unit_files()
        units, refs, errors = [], {}, []
        for filename in names:
            base, unit_type, dummy = quadlet.split_name(filename)
            path = os.path.join(directory, filename)
            try:
                unit, dummy = parse_with_dropins(path, quadlet.read_text)  # what Quadlet reads: drop-ins merged
                if unit_type in ('volume', 'network'):
                    refs[filename] = quadlet.object_name(base, unit_type, unit)
                elif unit_type == 'container':
                    refs[filename] = quadlet.container_target(unit) or 'systemd-' + base  # for Network=x.container
                if unit_type == 'container' and self.wanted(filename):
                    units.append({'unit_name': filename, 'service_name': quadlet.service_name(base, unit_type, unit),
                                  'spec': container_spec(unit), 'path': path,
                                  'job': quadlet.is_job(unit)})
            except UnitFileError as exc:
                errors.append('%s: %s' % (path, to_native(exc)))
        return units, refs, errors

    def wanted(self, filename):
        names = self.params['names']
        return not names or filename in names or filename.rpartition('.')[0] in names

    # -- running ---------------------------------------------------------------

    def containers(self):
        listed = self.run_json(['podman', 'ps', '-a', '--format', 'json'])
        ids = [entry.get('Id') for entry in listed if entry.get('Id')]
        if not ids:
            return []
        return self.run_json(['podman', 'container', 'inspect', '--'] + ids, ok_rcs=(0, 125))

    def images(self, infos, units):
        refs = set(info.get('Image') for info in infos if info.get('Image'))
        refs.update(u['spec']['image'] for u in units if u['spec'].get('image')
                    and not u['spec']['image'].endswith(('.image', '.build')))
        if not refs:
            return []
        return self.run_json(['podman', 'image', 'inspect', '--'] + sorted(refs), ok_rcs=(0, 125))

    def unit_states(self, units):
        services = sorted(set(u['service_name'] for u in units))
        if not services:
            return {}
        self.commands.append('systemctl show -p ... (%d units)' % len(services))
        argv = self.runner.systemctl_argv('show', '-p', ','.join(drift.SHOW_PROPERTIES), '--', *services)
        dummy, out, dummy = self.runner.run(argv)
        return dict((block.get('Id'), block) for block in podman.parse_show(out))

    # -- routes ------------------------------------------------------------------

    def read_route_file(self, name):
        path = os.path.join(self.params['dynamic_dir'], '%s.yml' % name)
        text = quadlet.read_text(path)
        if text is None:
            return None, None
        try:
            if HAS_YAML:
                return text, yaml.safe_load(text) or {}
            return text, drift.read_block_yaml(text)
        except (drift.BlockYamlError, ValueError) as exc:
            return text, {'unreadable': '%s (without PyYAML on the host only the block style traefik_route '
                                        'writes can be read)' % to_native(exc) if not HAS_YAML else to_native(exc)}

    def managed_route_files(self):
        directory = self.params['dynamic_dir']
        if not self.params['route_files'] or not os.path.isdir(directory):
            return []
        names = []
        for filename in sorted(os.listdir(directory)):
            if filename.endswith('.yml') and traefik.parse_manifest(quadlet.read_text(os.path.join(directory, filename))):
                names.append(filename[:-len('.yml')])
        return names

    def served(self, config):
        if not self.params['api_url']:
            return [], [], {}
        api = traefik.TraefikApi(self.params['api_url'], self.opener)
        try:
            served = traefik.served_state(api, config)
        except traefik.TraefikApiError as exc:
            return ['Traefik API: %s' % to_native(exc)], [], {}
        pending, errors = traefik.compare_served(config, served, loose=list(config.get('http', {}).get('middlewares', {})))
        return pending, errors, served

    def check_route(self, name, declared):
        text, file_config = self.read_route_file(name)
        findings = []
        if declared is not None:
            findings.extend(drift.compare_route_file(name, traefik.render_config(declared), file_config))
        if file_config is not None and 'unreadable' not in file_config:
            findings.extend(drift.compare_route_served(*self.served(file_config)))
        elif file_config is not None:
            findings.append(drift.finding('route_file', 'valid YAML', file_config['unreadable']))
        findings = [f for f in findings if not drift.is_ignored(name, f['field'], self.params['ignore'])]
        return drift.service_result(name, None, None, findings)

    def routes(self):
        declared = dict((spec['name'], dict(ROUTE_DEFAULTS, **dict((k, v) for k, v in spec.items() if v is not None)))
                        for spec in self.params['routes'])
        names = sorted(set(declared) | set(self.managed_route_files()))
        return [self.check_route(name, declared.get(name)) for name in names]

    # -- all -----------------------------------------------------------------

    def run(self):
        self.check_routes_input()
        units, refs, errors = self.read_units()
        infos = self.containers()
        image_infos = self.images(infos, units)
        shows = self.unit_states(units)
        services, unmanaged = drift.check_host(
            units, infos, image_infos, shows, refs, ignore=self.params['ignore'],
            ignored_env=self.params['ignore_env'], ignored_labels=self.params['ignore_labels'],
            report_unmanaged=self.params['unmanaged'] and not self.params['names'])
        routes = self.routes()
        drifted = [s for s in services + unmanaged + routes if s['drifted']]
        return {'changed': False, 'drifted': bool(drifted or errors), 'drifted_count': len(drifted) + len(errors),
                'services': services, 'unmanaged': unmanaged, 'routes': routes, 'errors': errors,
                'commands': self.commands, 'summary': summary_lines(drifted) + errors}

    def check_routes_input(self):
        for spec in self.params['routes']:
            problems = traefik.validate_spec(spec)
            if problems:
                raise ValueError('routes[%s]: %s' % (spec['name'], '; '.join(problems)))


def summary_lines(entries):
    lines = []
    for entry in entries:
        for field in entry['fields']:
            lines.append('%s: %s declared %r, running %r -> %s' % (entry['name'], field['field'], field['declared'],
                                                                   field['running'], field['remediation']))
    return lines

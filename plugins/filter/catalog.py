# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Service catalog filters: load and validate services/*.yml, turn entries into pattern_service variables, plan a reconcile."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import difflib
import os

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.homelab.deploy.plugins.filter import patterns
from ansible_collections.homelab.deploy.plugins.module_utils import _traefik as traefik
from ansible_collections.homelab.deploy.plugins.module_utils import _unitfile as unitfile
from ansible_collections.homelab.deploy.plugins.module_utils._podman import mask_secrets
from ansible_collections.homelab.deploy.plugins.plugin_utils import _binds, _render

SCHEMA_PATH = os.path.join(patterns.COLLECTION_ROOT, 'services', 'schema', 'service.schema.json')
MANAGED_LABEL = 'io.homelab.deploy.managed'
INSTANCE_LABEL = 'io.homelab.deploy.instance'
UNIT_HEADER = '# Managed by homelab.deploy.quadlet'


class CatalogError(AnsibleFilterError):
    """Every problem of the catalog at once, each as file: key: reason."""

    def __init__(self, problems):
        self.problems = problems
        super(CatalogError, self).__init__('invalid service catalog (%d problem%s):\n%s' % (
            len(problems), '' if len(problems) == 1 else 's', '\n'.join('%s: %s: %s' % p for p in problems)))


# -- loading ---------------------------------------------------------------------------------------

def _catalog_files(path):
    if not isinstance(path, str) or not path:
        raise AnsibleFilterError('catalog_load needs the catalog directory (a path), got %r' % (path,))
    if not os.path.isdir(path):
        raise AnsibleFilterError('the service catalog %s is not a readable directory' % path)
    try:
        names = sorted(f for f in os.listdir(path) if f.endswith(('.yml', '.yaml')) and not f.startswith('.'))
    except OSError as exc:
        raise AnsibleFilterError('cannot read the service catalog %s: %s' % (path, to_native(exc)))
    return [os.path.join(path, name) for name in names]


def _entry_problems(data, path, schema):
    source = os.path.basename(path)
    if not isinstance(data, dict):
        return [(source, '(top level)', 'a service file is a mapping, got %s' % type(data).__name__)]
    problems = [(source, key or '(top level)', reason) for key, reason in patterns.schema_problems(data, schema)]
    stem = os.path.splitext(source)[0]
    meta = data.get('metadata')
    name = meta.get('name') if isinstance(meta, dict) else None
    if not problems and name != stem:
        problems.append((source, 'metadata.name', 'is %r but the file is %s: they must match' % (name, source)))
    return problems


def catalog_load(path, allow_empty=False):
    """Validated catalog entries from the directory path, sorted by name; every problem raised at once."""
    patterns._require_jsonschema()
    files = _catalog_files(path)
    if not files and not allow_empty:
        raise AnsibleFilterError('the service catalog %s has no service files; an empty catalog is refused '
                                 '(set allow_empty / reconcile_allow_empty=true if that is really meant)' % path)
    schema = patterns.load_schema(SCHEMA_PATH)
    entries, problems = [], []
    for filename in files:
        try:
            data = patterns._read_yaml(filename)
        except AnsibleFilterError as exc:
            problems.append((os.path.basename(filename), '(file)', to_native(exc)))
            continue
        found = _entry_problems(data, filename, schema)
        problems.extend(found)
        if not found:
            entries.append(dict(data, source=filename))
    problems.extend(_pattern_problems(entries))
    if problems:
        raise CatalogError(problems)
    return entries


def _pattern_problems(entries):
    """Each entry's pattern with its overrides must load (the pattern schema names the key)."""
    problems = []
    for entry in entries:
        source = os.path.basename(entry['source'])
        try:
            service_vars(entry)
        except patterns.PatternError as exc:
            problems.extend((source, 'deployment (pattern %s): %s' % (entry['deployment']['pattern'], key), reason)
                            for key, reason in exc.problems)
        except AnsibleFilterError as exc:
            problems.append((source, 'deployment.pattern', to_native(exc)))
    return problems


# -- entry -> pattern_service variables ------------------------------------------------------------------

def _main_service(pattern):
    if pattern.get('routing'):
        return pattern['routing']['service']
    return pattern['monitoring']['health']['service']


def _set(tree, keys, value):
    for key in keys[:-1]:
        tree = tree.setdefault(key, {})
    tree[keys[-1]] = value


def _pattern_tls(tls):
    """The catalog's security.tls as the pattern's: none/false plain HTTP, internal/true Traefik's default
    certificate, another name an ACME resolver of the traefik role. None: not set (the pattern's own applies)."""
    if tls is None:
        return None
    if tls in (False, 'none'):
        return False
    if tls in (True, 'internal'):
        return True
    return {'resolver': tls}


def entry_overrides(entry, pattern):
    """Pattern overrides from the catalog's sections (deployment.overrides merged last)."""
    main = _main_service(pattern)
    out = {}
    deployment, networking = entry['deployment'], entry.get('networking') or {}
    security, health = entry.get('security') or {}, entry.get('health') or {}
    mapping = [
        (deployment.get('image'), ('services', main, 'image')),
        (entry.get('environment'), ('services', main, 'environment')),
        (networking.get('internal_port'), ('routing', 'port')),
        (networking.get('path_prefix'), ('routing', 'path_prefix')),
        (security.get('authentication'), ('security', 'auth_required')),
        (security.get('auth_reason'), ('security', 'auth_reason')),
        (security.get('public'), ('security', 'public')),
        (security.get('middleware'), ('security', 'middlewares')),
        (_pattern_tls(security.get('tls')), ('security', 'tls')),
        (health.get('path'), ('monitoring', 'health', 'path')),
        (health.get('expect_status'), ('monitoring', 'health', 'expect_status')),
        (health.get('cmd'), ('services', main, 'healthcheck', 'cmd')),
        (health.get('interval'), ('services', main, 'healthcheck', 'interval')),
    ]
    for value, keys in mapping:
        if value is not None:
            _set(out, keys, value)
    resources = entry.get('resources') or {}
    for group in ('memory', 'cpu'):
        if resources.get(group):
            _set(out, ('services', main, 'resources', group), dict(resources[group]))
    if (entry.get('storage') or {}).get('volumes') is not None:
        _set(out, ('services', main, 'volumes'), entry['storage']['volumes'])
    return patterns.merge(out, deployment.get('overrides') or {})


def service_vars(entry):
    """The pattern_service variables that deploy (or remove) one catalog entry."""
    meta, deployment = entry['metadata'], entry['deployment']
    base = patterns.pattern_load(deployment['pattern'])
    overrides = entry_overrides(entry, base)
    patterns.pattern_load(deployment['pattern'], overrides, overrides_source='%s: deployment' % os.path.basename(entry.get('source', meta['name'])))
    return {
        'pattern_service_pattern': deployment['pattern'],
        'pattern_service_name': meta['name'],
        'pattern_service_hostname': (entry.get('networking') or {}).get('hostname', ''),
        'pattern_service_overrides': overrides,
        'pattern_service_state': 'present' if meta.get('deployed', True) else 'absent',
        'pattern_service_purge': bool(meta.get('purge', False)),
        'pattern_service_scope': deployment.get('scope', 'system'),
        'pattern_service_user': deployment.get('user', ''),
        'pattern_service_route': bool((entry.get('networking') or {}).get('route', True)),
    }


# -- plan ----------------------------------------------------------------------------------------------

def _strip_header(text):
    return ''.join(line for line in (text or '').splitlines(True) if not line.startswith(UNIT_HEADER))


def _unit_diff(name, before, after):
    """'' when the unit on the host is the catalog's; else a unified diff with credential-like values masked."""
    before = _strip_header(before)
    if before == after:
        return ''
    text = ''.join(difflib.unified_diff(mask_secrets(before).splitlines(True), mask_secrets(after).splitlines(True),
                                        'host/%s' % name, 'catalog/%s' % name))
    return text or 'credential-like values differ (masked)'


def installed_text(unit, scope):
    """The text homelab.deploy.quadlet writes for a unit with enabled=true (it adds [Install] WantedBy=), without
    its managed header: the one renderer's (plugins/plugin_utils/_render.py) installed_text."""
    return _render.installed_text(unit['sections'], scope)


def render_entry(entry, options):
    svars = service_vars(entry)
    pattern = patterns.pattern_load(svars['pattern_service_pattern'], svars['pattern_service_overrides'])
    rendered = patterns.pattern_render(
        pattern, svars['pattern_service_name'], hostname=svars['pattern_service_hostname'] or None,
        proxy_network=options.get('proxy_network', traefik.NETWORK), storage_root=options.get('storage_root', '/srv/homelab'),
        limits=options.get('limits', 'best_effort'), controllers=options.get('controllers'),
        pull=options.get('pull', 'missing'), auth_middleware=options.get('auth_middleware', 'authelia@file'),
        required_middlewares=options.get('required_middlewares'), allow_privileged=options.get('allow_privileged', False),
        bind_roots=options.get('bind_roots', _binds.DEFAULT_ROOTS), bind_readonly=options.get('bind_readonly', _binds.DEFAULT_READONLY))
    if not svars['pattern_service_route']:
        rendered['route'] = None
    return svars, rendered


def _running_units(units):
    """{unit file name: text} from quadlet_info's units (content=true)."""
    return dict((u['unit_name'], u.get('content')) for u in units or [] if u.get('unit_name'))


RUNNING_STATES = ('active', 'activating', 'reloading')


def _unit_states(units):
    """{unit file name: (active_state, load_state)} of quadlet_info's units, where it reported them."""
    return dict((u['unit_name'], (u.get('active_state'), u.get('load_state'))) for u in units or []
                if u.get('unit_name') and u.get('active_state') is not None)


def _not_running(rendered, states):
    """({unit: why} of the entry's services that should run and do not, [units masked by their owner])."""
    stopped, masked = {}, []
    for unit in rendered['units']:
        if unit['type'] != 'container' or unit.get('job') or unit['name'] not in states:
            continue
        active, load = states[unit['name']]
        if load == 'masked':
            masked.append(unit['name'])
        elif active not in RUNNING_STATES:
            stopped[unit['name']] = 'not running (%s): started' % active
    return stopped, masked


def _managed_instances(containers, on_host=None):
    """{instance: [container or unit names]} of what carries this collection's ownership labels: containers, and
    container units on the host (a stopped service has no container, as Quadlet removes it, but its unit stays)."""
    out = {}
    for entry in containers or []:
        labels = entry.get('Labels') or {}
        if labels.get(MANAGED_LABEL) == 'true' and labels.get(INSTANCE_LABEL):
            out.setdefault(labels[INSTANCE_LABEL], []).append((entry.get('Names') or [entry.get('Id')])[0])
    for name, text in sorted((on_host or {}).items()):
        if not name.endswith('.container') or not text:
            continue
        try:
            labels = unitfile.container_spec(unitfile.parse_unit(text, name))['labels']
        except unitfile.UnitFileError:
            continue  # a unit that does not parse is nobody's we could remove safely
        if labels.get(MANAGED_LABEL) == 'true' and labels.get(INSTANCE_LABEL):
            names = out.setdefault(labels[INSTANCE_LABEL], [])
            if name not in names:
                names.append(name)
    return out


def plan_entry(entry, on_host, managed, options, states=None):
    svars, rendered = render_entry(entry, options)
    name = svars['pattern_service_name']
    present = [u['name'] for u in rendered['units'] if u['name'] in on_host]
    item = {'name': name, 'vars': svars, 'source': entry.get('source', name), 'diff': {}, 'units': [u['name'] for u in rendered['units']],
            'images': dict((u['container'], u['image']) for u in rendered['units'] if u['type'] == 'container'),
            'pattern': svars['pattern_service_pattern'], 'route': rendered['route']}
    if svars['pattern_service_state'] == 'absent':
        # only what this collection labelled as its own is removed
        item['action'] = 'remove' if name in managed else 'absent'
        item['diff'] = dict((u, 'remove (data kept)' if not svars['pattern_service_purge'] else 'remove with data')
                            for u in present) if name in managed else {}
        return item
    for unit in rendered['units']:
        if unit['name'] not in on_host:
            item['diff'][unit['name']] = 'new unit'
        else:
            text = _unit_diff(unit['name'], on_host[unit['name']], installed_text(unit, svars['pattern_service_scope']))
            if text:
                item['diff'][unit['name']] = text
    # declared, deployed and not running (stopped by hand, failed): reconcile starts it; masked: its owner's call
    stopped, item['masked'] = _not_running(rendered, states or {})
    for name, why in stopped.items():
        item['diff'].setdefault(name, why)
    missing = [u for u in rendered['units'] if u['name'] not in on_host]
    item['action'] = 'deploy' if len(missing) == len(rendered['units']) else ('update' if item['diff'] else 'unchanged')
    return item


def catalog_plan(catalog, units=None, containers=None, allow_remove_all=False, **options):
    """What reconcile does: deploy, update (with a diff per unit), remove deployed: false entries, leave the rest.

    units: homelab.deploy.quadlet_info's units (with content); containers: `podman ps -a --format json`.
    Managed instances that the catalog does not mention are listed as unknown and never removed.
    """
    if not isinstance(catalog, list):
        raise AnsibleFilterError('catalog_plan expects the list catalog_load returns, got %s' % type(catalog).__name__)
    on_host = _running_units(units)
    managed = _managed_instances(containers, on_host)
    states = _unit_states(units)
    items = [plan_entry(entry, on_host, managed, options, states) for entry in catalog]
    by_action = dict((action, [i['name'] for i in items if i['action'] == action])
                     for action in ('deploy', 'update', 'remove', 'unchanged', 'absent'))
    known = set(i['name'] for i in items)
    plan = dict(by_action, services=items, unknown=sorted(set(managed) - known), refused=None)
    deployed = [i for i in items if i['action'] in ('update', 'unchanged')]
    if by_action['remove'] and not deployed and not by_action['deploy'] and not allow_remove_all:
        plan['refused'] = ('the plan removes every managed service (%s) and keeps none: refused without '
                           'allow_remove_all / reconcile_allow_remove_all=true' % ', '.join(by_action['remove']))
    plan['lines'] = plan_lines(plan)
    return plan


def plan_lines(plan):
    lines = []
    for item in plan['services']:
        lines.append('%-9s %s (%s)' % (item['action'], item['name'], item['pattern']))
        lines.extend('    %s: masked on the host: left stopped (systemctl unmask to run it)' % unit
                     for unit in item.get('masked') or [])
        for unit, text in sorted(item['diff'].items()):
            lines.extend('    ' + line for line in ('%s: %s' % (unit, text) if '\n' not in text else text).rstrip('\n').splitlines())
    lines.extend('unknown   %s (managed on the host, not in the catalog: left alone)' % name for name in plan['unknown'])
    if plan['refused']:
        lines.append('REFUSED: %s' % plan['refused'])
    return lines


ROUTE_KEYS = ('name', 'hostname', 'path_prefix', 'rule', 'urls', 'middlewares', 'entrypoints', 'priority', 'pass_host_header',
              'tls', 'public', 'lan_middleware', 'define_middlewares')


def route_args(routes, default_cert_resolver=None):
    """Only the route keys homelab.deploy.drift_check takes (traefik_route options that shape the file), with the
    tls the deploy gave each (a public route without one: the default resolver, when the traefik role has one)."""
    out = []
    for route in routes or []:
        args = dict((k, v) for k, v in route.items() if k in ROUTE_KEYS and k != 'tls')
        tls = _render.effective_route_tls(route, default_cert_resolver)
        if tls is not None:
            args['tls'] = tls
        out.append(args)
    return out


def catalog_routes(catalog, **options):
    """The Traefik routes the deployed catalog entries declare (traefik_route options), for drift checks."""
    routes = []
    for entry in catalog or []:
        if not entry['metadata'].get('deployed', True):
            continue
        dummy, rendered = render_entry(entry, dict(options, limits='best_effort'))
        if rendered['route']:
            routes.append(rendered['route'])
    return routes


class FilterModule(object):
    """Service catalog filters."""

    def filters(self):
        return {
            'catalog_load': catalog_load,
            'catalog_plan': catalog_plan,
            'catalog_routes': catalog_routes,
            'drift_route_args': route_args,
            'catalog_service_vars': service_vars,
        }

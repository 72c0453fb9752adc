# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Multi-service stacks: load and validate a stack (JSON Schema plus cross-references), compute its deployment
phases from depends_on (topological layers), and render its services into Quadlet units.

Stacks live in the collection's stacks/ directory (stacks/schema/stack.schema.json is their schema), in a file
of your own, or inline in variables. Every error names the source, the key path and the reason, and is raised on
the controller before anything on a host changes.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import os

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

try:
    import yaml
except ImportError:  # pragma: no cover - ansible-core depends on PyYAML
    yaml = None

from ansible_collections.homelab.deploy.plugins.filter.patterns import (
    COLLECTION_ROOT, INSTANCE_RE, PatternError, _require_jsonschema, find_cycle, load_schema, merge,
    pattern_load, schema_problems)
from ansible_collections.homelab.deploy.plugins.module_utils import _traefik as traefik
from ansible_collections.homelab.deploy.plugins.module_utils._quadlet import pin_reference
from ansible_collections.homelab.deploy.plugins.plugin_utils import _binds, _render
from ansible_collections.homelab.deploy.plugins.plugin_utils._yaml import bounded, load_yaml

STACKS_DIR = os.path.join(COLLECTION_ROOT, 'stacks')
STACK_SCHEMA_PATH = os.path.join(STACKS_DIR, 'schema', 'stack.schema.json')
DEFAULT_TIMEOUT = _render.DEFAULT_TIMEOUT
LABEL_PREFIX = _render.LABEL_PREFIX
# Pattern service keys a stack service takes over (explicit keys of the stack win).
PATTERN_KEYS = ('image', 'description', 'command', 'environment', 'healthcheck')


class StackError(PatternError):
    """A stack is invalid; the message lists every problem as `source: key.path: reason`."""

    what = 'invalid stack'


# -- reading -----------------------------------------------------------------------------------------------

def stack_path(name, stacks_dir=None):
    """The file of a stack given by name (from stacks_dir) or as a path to a .yml file."""
    if name.endswith(('.yml', '.yaml')) or os.sep in name:
        return name
    if not INSTANCE_RE.match(name):
        raise AnsibleFilterError('invalid stack name %r' % name)
    directory = stacks_dir or STACKS_DIR
    path = os.path.join(directory, name + '.yml')
    if not os.path.isfile(path):
        known = sorted(f[:-4] for f in os.listdir(directory) if f.endswith('.yml')) if os.path.isdir(directory) else []
        raise AnsibleFilterError('no stack %r in %s (known: %s)' % (name, directory, ', '.join(known) or 'none'))
    return path


def read_stack(path):
    try:
        with open(path) as handle:
            return load_yaml(handle)
    except (IOError, OSError) as exc:
        raise AnsibleFilterError('cannot read %s: %s' % (path, to_native(exc)))
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: an integer beyond Python's 4300 digits
        raise StackError(path, [('', 'not valid YAML: %s' % bounded(to_native(exc).replace('\n', ' ')))])


def _source_of(source, stacks_dir, source_name):
    """(data, source label) from a stack name, a path or an inline mapping."""
    if isinstance(source, dict):
        data = copy.deepcopy(source)
        loaded_from = data.pop('source', None)  # a stack that stack_load returned before
        return data, source_name or loaded_from or 'inline stack'
    if not isinstance(source, str) or not source:
        raise AnsibleFilterError('a stack is a name, a path or a mapping, got %r' % (source,))
    path = stack_path(source, stacks_dir)
    label = os.path.relpath(path, COLLECTION_ROOT) if path.startswith(COLLECTION_ROOT + os.sep) else path
    return read_stack(path), source_name or label


# -- cross-references ---------------------------------------------------------------------------------------

def dependency_problems(entries):
    """Problems of [(name, depends_on)] pairs: duplicate names, unknown or self dependencies, one cycle."""
    problems, deps, seen = [], {}, set()
    for index, (name, depends_on) in enumerate(entries):
        if name in seen:
            problems.append(('services[%d]' % index, 'duplicate service name %r' % name))
        seen.add(name)
        deps.setdefault(name, [])
    for name, depends_on in entries:
        for dep in depends_on or []:
            if dep == name:
                problems.append(('services.%s.depends_on' % name, '%r depends on itself' % name))
            elif dep not in deps:
                problems.append(('services.%s.depends_on' % name, 'unknown service %r (services: %s)'
                                 % (dep, ', '.join(sorted(deps)))))
            elif dep not in deps[name]:
                deps[name].append(dep)
    cycle = find_cycle(deps)
    if cycle:
        problems.append(('services.%s.depends_on' % cycle[0], 'dependency cycle: %s' % ' -> '.join(cycle)))
    return problems


def _entries(stack):
    services = stack.get('services')
    if isinstance(services, dict):
        return [(name, (svc or {}).get('depends_on', [])) for name, svc in services.items()]
    if isinstance(services, list):
        return [(svc.get('name'), svc.get('depends_on', [])) for svc in services if isinstance(svc, dict)]
    raise AnsibleFilterError('a stack needs services as a mapping of name to service')


def reference_problems(stack):
    services = stack['services']
    problems = dependency_problems(_entries(stack))
    declared = {'secrets': set(stack.get('secrets', {})), 'volumes': set(stack.get('volumes', {}))}
    for name, svc in sorted(services.items()):
        for index, ref in enumerate(svc.get('secrets', [])):
            if ref['secret'] not in declared['secrets']:
                problems.append(('services.%s.secrets[%d].secret' % (name, index), 'secret %r is not declared in secrets'
                                 % ref['secret']))
        for index, vol in enumerate(svc.get('volumes', [])):
            if 'volume' in vol and vol['volume'] not in declared['volumes']:
                problems.append(('services.%s.volumes[%d].volume' % (name, index), 'volume %r is not declared in volumes'
                                 % vol['volume']))
        problems.extend(_render.surface_problems(svc, 'services.%s' % name, routed=bool(svc.get('route'))))
        route = svc.get('route') or {}
        if route.get('auth') == 'none' and route.get('public', True) and not route.get('auth_reason'):
            problems.append(('services.%s.route.auth_reason' % name, 'a public route with auth: none says why it may '
                             'be reached without a login (or drop auth: none, or set public: false)'))
    for index, check in enumerate(stack.get('verify', [])):
        if check.get('service') is not None and check['service'] not in services:
            problems.append(('verify[%d].service' % index, 'unknown service %r' % check['service']))
        if 'command' in check and check.get('service') is None:
            problems.append(('verify[%d]' % index, 'a command check needs the service whose container runs it'))
    order = stack.get('rollback_order')
    if order is not None and set(order) != set(services):
        missing, unknown = sorted(set(services) - set(order)), sorted(set(order) - set(services))
        problems.append(('rollback_order', 'must list every service exactly once (missing: %s; unknown: %s)'
                         % (', '.join(missing) or 'none', ', '.join(unknown) or 'none')))
    return problems


def _from_pattern(name, svc, source):
    """The service with the keys it does not set taken from a service of its pattern."""
    if 'pattern' not in svc:
        return svc
    try:
        pattern = pattern_load(svc['pattern'])
    except AnsibleFilterError as exc:
        raise StackError(source, [('services.%s.pattern' % name, to_native(exc))])
    wanted = svc.get('pattern_service') or sorted(pattern['services'])[0]
    if wanted not in pattern['services']:
        raise StackError(source, [('services.%s.pattern_service' % name, 'pattern %s has no service %r (it has: %s)'
                                   % (svc['pattern'], wanted, ', '.join(sorted(pattern['services']))))])
    base = pattern['services'][wanted]
    merged = dict((key, copy.deepcopy(base[key])) for key in PATTERN_KEYS if key in base)
    if isinstance(merged.get('healthcheck'), dict) and merged['healthcheck'].get('cmd') == 'none':
        merged['healthcheck'] = 'none'
    merged.update(svc)
    return merged


# -- public filters -------------------------------------------------------------------------------------------

def stack_load(source, overrides=None, stacks_dir=None, source_name=None):
    """Load a stack (name, path or mapping), merge overrides, fill services from their patterns, validate it all."""
    _require_jsonschema()
    data, label = _source_of(source, stacks_dir, source_name)
    if not isinstance(data, dict):
        raise StackError(label, [('', 'a stack is a mapping, got %s' % type(data).__name__)])
    if overrides:
        if not isinstance(overrides, dict):
            raise StackError(label, [('', 'overrides must be a mapping, got %s' % type(overrides).__name__)])
        data, label = merge(data, overrides), '%s with overrides' % label
    problems = schema_problems(data, load_schema(STACK_SCHEMA_PATH))
    if problems:
        raise StackError(label, problems)
    data['services'] = dict((name, _from_pattern(name, svc, label)) for name, svc in data['services'].items())
    problems = schema_problems(data, load_schema(STACK_SCHEMA_PATH)) + reference_problems(data)
    if problems:
        raise StackError(label, problems)
    data['source'] = label
    _resolve_templates(data, source)
    return data


def _resolve_templates(stack, source):
    """Relative config templates of a stack file are relative to its directory; an inline stack's stay relative
    (the deploy action finds them like the template module: in the role's or playbook's templates/)."""
    base = os.path.dirname(os.path.abspath(stack_path(source))) if isinstance(source, str) else None
    for svc in stack['services'].values():
        for config in svc.get('configs', []):
            if 'template' in config and base and not os.path.isabs(config['template']):
                config['template'] = os.path.join(base, config['template'])


def stack_phases(stack):
    """Deployment phases: lists of service names; each service comes in the phase after its last dependency."""
    entries = _entries(stack)
    problems = dependency_problems(entries)
    if problems:
        raise StackError(stack.get('source') or stack.get('name') or 'stack', problems)
    deps = dict((name, set(d or [])) for name, d in entries)
    phases, placed = [], set()
    while len(placed) < len(deps):
        layer = sorted(name for name, needs in deps.items() if name not in placed and needs <= placed)
        phases.append(layer)
        placed.update(layer)
    return phases


def _pinned(svc, digests):
    """The service's image pinned by the digest its reference resolves to on the host (as given without one)."""
    return stack_pin(svc['image'], (digests or {}).get(svc['image']))


def _volume_model(prefix, vol):
    if 'volume' in vol:
        return {'source': '%s-%s.volume' % (prefix, vol['volume']), 'target': vol['target'], 'options': [vol.get('mode', 'rw')]}
    return {'source': vol['path'], 'target': vol['target'],
            'options': [vol.get('mode', 'rw')] + ([vol['selinux']] if vol.get('selinux') else [])}


def container_model(stack, name, svc, scope='system', images=None, proxy_network=traefik.NETWORK, config_dir=None):
    """The normalised container model (plugins/plugin_utils/_render.py) of one service of a stack."""
    prefix = stack['name']
    config_dir = config_dir or _binds.CONFIG_DIR
    wait = _wait_for(svc)
    networks = ['%s.network' % prefix]
    if svc.get('route') and scope == 'system':
        networks.append(proxy_network)
    model = _render.service_keys(svc)
    model.update({
        'name': '%s-%s' % (prefix, name), 'description': '%s: %s' % (prefix, (svc.get('description') or name).rstrip('.')),
        'image': _pinned(svc, images), 'pull': svc.get('pull', 'missing'), 'networks': networks, 'network_aliases': [name],
        'volumes': ([_volume_model(prefix, v) for v in svc.get('volumes', [])]
                    + [_binds.config_mount(config_dir, prefix, name, c) for c in svc.get('configs', [])]),
        'secrets': [_secret_ref(prefix, ref) for ref in svc.get('secrets', [])],
        'labels': [('%s.managed' % LABEL_PREFIX, 'true'), ('%s.stack' % LABEL_PREFIX, prefix),
                   ('%s.service' % LABEL_PREFIX, name)],
        'wait': wait['healthy'] or model['job'],
        'depends_on': ['%s-%s' % (prefix, dep) for dep in sorted(set(svc.get('depends_on', [])))],
        'start_timeout': wait['timeout'] + 30,
    })
    return model


def _secret_ref(prefix, ref):
    name = '%s-%s' % (prefix, ref['secret'])
    return {'name': name, 'env': ref['env']} if 'env' in ref else {'name': name, 'file': ref['file']}


def _wait_for(svc):
    return dict({'healthy': True, 'timeout': DEFAULT_TIMEOUT}, **svc.get('wait_for', {}))


def _container_unit(stack, name, svc, scope, images, proxy_network, config_dir):
    model = container_model(stack, name, svc, scope, images, proxy_network, config_dir)
    unit = _render.container_unit(model)
    return {
        'name': unit['name'], 'type': 'container', 'service': name, 'unit': unit['unit'], 'container': unit['container'],
        'image': model['image'], 'pull': unit['pull'], 'job': model['job'], 'depends_on': sorted(set(svc.get('depends_on', []))),
        'secrets': sorted(set(ref['name'] for ref in model['secrets'])),
        'wait_for': _wait_for(svc), 'sections': unit['sections'], 'text': unit['text'],
    }


def _infra_units(stack):
    prefix = stack['name']
    labels = [('%s.stack' % LABEL_PREFIX, prefix)]
    units = [_render.network_unit(prefix, '%s: stack network' % prefix, labels)]
    for name, vol in sorted(stack.get('volumes', {}).items()):
        units.append(_render.volume_unit('%s-%s' % (prefix, name), '%s: %s' % (prefix, (vol or {}).get('description') or name),
                                         labels))
    return units


def _routes(stack, scope):
    if scope != 'system':
        return []
    prefix = stack['name']
    routes = []
    for name, svc in sorted(stack['services'].items()):
        if not svc.get('route'):
            continue
        route = {'name': '%s-%s' % (prefix, name), 'service': name, 'hostname': [svc['route']['hostname']],
                 'path_prefix': svc['route'].get('path_prefix'), 'middlewares': svc['route'].get('middlewares', []),
                 'public': svc['route'].get('public', True),
                 'urls': ['http://%s-%s:%d' % (prefix, name, svc['route']['port'])]}
        tls = _render.route_tls(svc['route'].get('tls'))
        if tls is not None or svc['route'].get('tls') is False:
            route['tls'] = False if tls is None else tls  # False: plain HTTP on purpose, no default certificate
        route.update((key, svc['route'][key]) for key in ('auth', 'auth_reason') if svc['route'].get(key))
        routes.append(route)
    return routes


def host_paths(stack, bind_roots=_binds.DEFAULT_ROOTS, bind_readonly=_binds.DEFAULT_READONLY,
               config_dir=_binds.CONFIG_DIR):
    """The stack's host paths checked against the deployment's policy (plugins/plugin_utils/_binds.py):
    {directories: to create when missing, configs: files to write, problems: [(key path, reason)]}."""
    problems = _binds.check_roots(bind_roots, 'bind_roots') + _binds.check_roots(bind_readonly, 'bind_readonly', system_ok=True)
    problem = _binds.path_problem(config_dir)
    if problem:
        problems.append(('config_dir', problem))
    directories = []
    for name, svc in sorted(stack['services'].items()):
        for index, vol in enumerate(svc.get('volumes', [])):
            if 'path' not in vol:
                continue
            key = 'services.%s.volumes[%d].path' % (name, index)
            problem = _binds.bind_problem(vol['path'], vol.get('mode', 'rw'), bind_roots, bind_readonly)
            if problem:
                problems.append((key, problem))
            elif vol.get('create', True) and _binds.may_create(vol['path'], bind_roots):
                directories.append(dict((k, vol[k]) for k in ('path', 'owner', 'group') if vol.get(k) is not None))
                directories[-1]['mode'] = vol.get('dir_mode', '0750')
    configs, config_problems = _binds.config_files(config_dir, stack['name'], dict(
        (name, svc.get('configs', [])) for name, svc in stack['services'].items()))
    problems.extend(config_problems)
    twice = sorted(set(d['path'] for d in directories if [e['path'] for e in directories].count(d['path']) > 1))
    for path in twice:
        owners = set((d.get('owner'), d.get('group'), d['mode']) for d in directories if d['path'] == path)
        if len(owners) > 1:
            problems.append(('services', 'directory %s is created with different owner/group/mode by its services' % path))
    unique = []
    for item in directories:
        if item not in unique:
            unique.append(item)
    return {'directories': unique, 'configs': configs, 'problems': problems}


def stack_render(stack, scope='system', images=None, proxy_network=traefik.NETWORK, bind_roots=_binds.DEFAULT_ROOTS,
                 bind_readonly=_binds.DEFAULT_READONLY, config_dir=_binds.CONFIG_DIR, allow_privileged=False):
    """Units, phases, routes, checks and rollback order of a loaded stack, for the stack role."""
    if scope not in ('system', 'user'):
        raise AnsibleFilterError('scope must be system or user, got %r' % (scope,))
    paths = host_paths(stack, bind_roots, bind_readonly, config_dir)
    problems = paths['problems'] + _render.privileged_problems(stack['services'], allow_privileged)
    if problems:
        raise StackError(stack.get('source') or stack.get('name') or 'stack', problems)
    phases = stack_phases(stack)
    containers = dict((name, _container_unit(stack, name, svc, scope, images, proxy_network, config_dir))
                      for name, svc in stack['services'].items())
    order = stack.get('rollback_order') or [name for layer in reversed(phases) for name in layer]
    return {
        'name': stack['name'], 'scope': scope, 'phases': [[containers[n] for n in layer] for layer in phases],
        'phase_names': phases, 'infra': _infra_units(stack), 'routes': _routes(stack, scope),
        'services': containers, 'rollback_order': order, 'verify': _checks(stack),
        'secrets': dict(('%s-%s' % (stack['name'], name), dict({'length': 32}, **(spec or {})))
                        for name, spec in stack.get('secrets', {}).items()),
        'unrouted': sorted(name for name, svc in stack['services'].items() if svc.get('route')) if scope == 'user' else [],
        'directories': paths['directories'], 'files': paths['configs'],
    }


def stack_plan(stack, scope='system', proxy_network=traefik.NETWORK, bind_roots=_binds.DEFAULT_ROOTS,
               bind_readonly=_binds.DEFAULT_READONLY, config_dir=None, allow_privileged=False, home=None):
    """The plan of a stack for the deploy executor: phase 0 its network and volumes, then its dependency phases;
    the host directories its bind mounts need and its configuration files. config_dir unset: the scope's default
    (/etc/homelab-deploy/stacks; in the user scope under home, the user's home directory)."""
    if isinstance(stack, str):
        stack = stack_load(stack)
    if not config_dir:
        config_dir = _binds.config_dir_for('stacks', scope, home)
        if config_dir is None and not any(svc.get('configs') for svc in stack['services'].values()):
            config_dir = _binds.CONFIG_DIR  # no file goes there
        elif config_dir is None:
            raise StackError(stack.get('source') or stack.get('name') or 'stack', [(
                'config_dir', 'a user-scope stack needs the user\'s home (home) or an explicit stack_config_dir '
                'for its configuration files')])
    rendered = stack_render(stack, scope, proxy_network=proxy_network, bind_roots=bind_roots, bind_readonly=bind_readonly,
                            config_dir=config_dir, allow_privileged=allow_privileged)
    phases = [[_render.plan_unit(unit, scope) for unit in rendered['infra']]]
    phases += [[_render.plan_unit(unit, scope, service=unit['service'], wait=unit['wait_for']['healthy'] or unit['job'],
                                  timeout=unit['wait_for']['timeout'], secrets=unit['secrets'], image=unit['image'])
                for unit in layer] for layer in rendered['phases']]
    plan = _render.plan(stack['name'], 'stack', scope, phases, secrets=rendered['secrets'], routes=rendered['routes'],
                        verify=rendered['verify'], rollback_order=rendered['rollback_order'],
                        directories=rendered['directories'], files=rendered['files'])
    plan['unrouted'] = rendered['unrouted']
    return plan


def _checks(stack):
    out = []
    for check in stack.get('verify', []):
        item = dict({'retries': 5, 'delay': 2, 'service': None}, **check)
        if item['service']:
            item['container'] = '%s-%s' % (stack['name'], item['service'])
        if 'http' in item:
            item['http'] = dict({'status': [200], 'host': None, 'body_regex': None}, **item['http'])
        out.append(item)
    return out


def stack_pin(image, digest):
    """repo@digest for an image reference and the digest it resolves to on the host (tag dropped); the host
    transaction pins with the same function."""
    return pin_reference(image, digest)


def _service_of(stack_name, unit):
    prefix = stack_name + '-'
    base = unit[:-len('.service')] if unit.endswith('.service') else unit
    return base[len(prefix):] if base.startswith(prefix) else base


def _log_line(entry):
    if isinstance(entry, dict):
        return 'healthcheck exit %s: %s' % (entry.get('exit_code'), entry.get('output') or '')
    return str(entry)


def stack_phase_verdict(results, stack_name, lead=0.0):
    """From podman_health results of one phase: seconds to healthy per service (counted from the start of the
    phase: lead is the time spent writing and starting units) and the first failure, or None."""
    times, failure = {}, None
    for result in results or []:
        service = _service_of(stack_name, result.get('name', ''))
        if result.get('healthy'):
            times[service] = round(float(lead) + float(result.get('time_to_healthy') or 0), 1)
        elif failure is None:
            container = result.get('container') or {}
            log = container.get('health_log') or []
            failure = {'service': service, 'check': 'health (%s)' % result.get('status'),
                       'cause': result.get('reason') or result.get('status'),
                       'evidence': '\n'.join(_log_line(entry) for entry in log)[-1500:]}
    return {'times': times, 'failure': failure}


def stack_check_failure(results, stack_name):
    """The first failed verification check (registered loop results of command and uri tasks) as a failure
    record {service, check, cause, evidence}, or None when every check passed."""
    for result in results or []:
        if not result.get('failed'):
            continue
        check = result.get('item') or {}
        if 'command' in check:
            cause = 'rc %s%s' % (result.get('rc'), ', stdout does not match %r' % check['stdout_regex']
                                 if check.get('stdout_regex') and result.get('rc') == 0 else '')
            evidence = '\n'.join(x for x in (result.get('stdout'), result.get('stderr'), result.get('msg')) if x)
        else:
            http = check.get('http') or {}
            cause = 'HTTP %s from %s (expected %s%s)' % (
                result.get('status', 'no answer'), http.get('url'), '/'.join(str(c) for c in http.get('status', [])),
                ', body matching %r' % http['body_regex'] if http.get('body_regex') else '')
            evidence = '\n'.join(str(x) for x in (result.get('msg'), result.get('content')) if x)
        return {'service': check.get('service') or stack_name, 'check': 'verify: %s' % check.get('name'),
                'cause': cause, 'evidence': evidence.strip()[-1500:]}
    return None


def stack_rollback_plan(rendered, files, touched, unit_dir, dynamic_dir=traefik.DYNAMIC_DIR):
    """What a rollback does, from the rendered stack, the snapshot of files ({path: text or None}) and what the run
    touched ({services: [], routes: [], infra: []}): services to restore (their unit file existed) or remove (new),
    in rollback order, and the same for routes and network/volume units. Volumes are never purged."""
    def existed(path):
        return files.get(path) is not None
    services = [name for name in rendered['rollback_order'] if name in (touched.get('services') or [])]
    routes = list(touched.get('routes') or [])
    infra = list(touched.get('infra') or [])

    def unit(name):
        return '%s/%s' % (unit_dir, name)
    return {
        'restore': [s for s in services if existed(unit(rendered['services'][s]['name']))],
        'remove': [s for s in services if not existed(unit(rendered['services'][s]['name']))],
        'routes_restore': [r for r in routes if existed('%s/%s.yml' % (dynamic_dir, r))],
        'routes_withdraw': [r for r in routes if not existed('%s/%s.yml' % (dynamic_dir, r))],
        'infra_restore': [i for i in infra if existed(unit(i))],
        'infra_remove': [i for i in infra if not existed(unit(i))],
    }


class FilterModule(object):
    """homelab.deploy stack filters."""

    def filters(self):
        return {
            'stack_load': stack_load,
            'stack_phases': stack_phases,
            'stack_render': stack_render,
            'stack_plan': stack_plan,
            'stack_pin': stack_pin,
            'stack_phase_verdict': stack_phase_verdict,
            'stack_check_failure': stack_check_failure,
            'stack_rollback_plan': stack_rollback_plan,
        }

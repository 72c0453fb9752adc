# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Deployment patterns: load and validate them (JSON Schema plus cross-references), merge user overrides,
render a pattern's services into Quadlet unit definitions, and recommend a pattern for a service.

Patterns live in the collection's patterns/ directory (patterns/schema/pattern.schema.json is their schema).
Every error names the file (or the override's source), the key path and the reason.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy
import json
import os
import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

try:
    import yaml
except ImportError:  # pragma: no cover - ansible-core depends on PyYAML
    yaml = None

from ansible_collections.homelab.deploy.plugins.module_utils import _traefik as traefik
from ansible_collections.homelab.deploy.plugins.plugin_utils import _binds, _render
from ansible_collections.homelab.deploy.plugins.plugin_utils._traefik_static import forward_auth
from ansible_collections.homelab.deploy.plugins.plugin_utils._yaml import bounded, load_yaml

COLLECTION_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PATTERNS_DIR = os.path.join(COLLECTION_ROOT, 'patterns')
SCHEMA_PATH = os.path.join(PATTERNS_DIR, 'schema', 'pattern.schema.json')
CONTAINER_SCHEMA_PATH = _render.CONTAINER_SCHEMA  # one path for the shared container keys

PROXY_NETWORK = 'proxy'
PLACEHOLDER_RE = re.compile(r'\{([a-z][a-z0-9_]*)\}')
LITERAL_RE = re.compile(r'\.configs\[\d+\]\.content\Z')
# {url}: the application's own address, https://{hostname} when its route has security.tls, else http://{hostname}
BUILTIN_PLACEHOLDERS = ('instance', 'hostname', 'url', 'proxy_network')
INSTANCE_RE = re.compile(r'^[a-z][a-z0-9]*(-[a-z0-9]+)*\Z')
SIZE_UNITS = {'K': 1024, 'M': 1024 ** 2, 'G': 1024 ** 3, 'T': 1024 ** 4}
# [Service] limit key -> cgroup v2 controller it needs (None: enforced without a controller)
LIMIT_KEYS = (('MemoryMax', 'memory'), ('MemoryHigh', 'memory'), ('CPUWeight', 'cpu'), ('Nice', None))
LABEL_PREFIX = _render.LABEL_PREFIX
RISK_LEVELS = ('low', 'medium', 'high', 'critical')

_SCHEMA_CACHE = {}


class PatternError(AnsibleFilterError):
    """A pattern or an override is invalid; the message lists every problem as `source: key.path: reason`."""

    what = 'invalid pattern data'

    def __init__(self, source, problems):
        self.source = source
        self.problems = problems
        lines = ['%s: %s: %s' % (source, path or '(top level)', reason) for path, reason in problems]
        super(PatternError, self).__init__('%s (%d problem%s):\n%s' % (
            self.what, len(problems), '' if len(problems) == 1 else 's', '\n'.join(lines)))


# -- loading ---------------------------------------------------------------------------------------

def _require_jsonschema():
    """The jsonschema module, imported when a filter validates: Ansible imports every filter file of the collection
    to find one filter by name, and jsonschema alone took a quarter of a second of every such task."""
    try:
        import jsonschema
    except ImportError:  # pragma: no cover - ansible-core installs do not always have it
        raise AnsibleFilterError('the homelab.deploy pattern filters need the Python library jsonschema on the '
                                 'controller (pip install jsonschema)')
    return jsonschema


def _read_yaml(path):
    try:
        with open(path) as handle:
            return load_yaml(handle)
    except (IOError, OSError) as exc:
        raise AnsibleFilterError('cannot read %s: %s' % (path, to_native(exc)))
    except (yaml.YAMLError, ValueError) as exc:  # ValueError: an integer beyond Python's 4300 digits
        raise AnsibleFilterError('%s is not valid YAML: %s' % (path, bounded(exc)))


def load_schema(path=SCHEMA_PATH):
    if path not in _SCHEMA_CACHE:
        with open(path) as handle:
            _SCHEMA_CACHE[path] = json.load(handle)
    return _SCHEMA_CACHE[path]


def pattern_path(name, patterns_dir=None):
    """The file of a pattern given by name (from patterns_dir) or as a path to a .yml file."""
    if not isinstance(name, str) or not name:
        raise AnsibleFilterError('a pattern is named by a non-empty string, got %r' % (name,))
    if name.endswith(('.yml', '.yaml')) or os.sep in name:
        return name
    if not INSTANCE_RE.match(name):
        raise AnsibleFilterError('invalid pattern name %r' % name)
    path = os.path.join(patterns_dir or PATTERNS_DIR, name + '.yml')
    if not os.path.isfile(path):
        raise AnsibleFilterError('no pattern %r in %s (known: %s)' % (
            name, patterns_dir or PATTERNS_DIR, ', '.join(pattern_names(patterns_dir))))
    return path


def pattern_names(patterns_dir=None):
    directory = patterns_dir or PATTERNS_DIR
    return sorted(f[:-4] for f in os.listdir(directory) if f.endswith('.yml'))


# -- schema validation -------------------------------------------------------------------------------

def key_path(parts):
    """services.app.volumes[0].mode from a jsonschema path deque."""
    out = ''
    for part in parts:
        out += '[%d]' % part if isinstance(part, int) else ('.' if out else '') + str(part)
    return out


def _error_reason(error):
    """The most specific reason: for oneOf/anyOf, the deepest sub-error."""
    if error.context:
        deepest = max(error.context, key=lambda e: len(e.absolute_path))
        if len(deepest.absolute_path) > len(error.absolute_path):
            return bounded(key_path(deepest.absolute_path)), bounded(deepest.message)
    return bounded(key_path(error.absolute_path)), bounded(error.message)


def _registry():
    """The schemas the collection's schemas reference by URI (schemas/container.schema.json: the container keys a
    pattern's and a stack's services share)."""
    if 'registry' not in _SCHEMA_CACHE:
        import referencing  # pylint: disable=import-outside-toplevel  # jsonschema's own dependency
        import referencing.jsonschema  # pylint: disable=import-outside-toplevel
        shared = load_schema(CONTAINER_SCHEMA_PATH)
        resource = referencing.Resource.from_contents(shared, default_specification=referencing.jsonschema.DRAFT202012)
        _SCHEMA_CACHE['registry'] = referencing.Registry().with_resource(shared['$id'], resource)
    return _SCHEMA_CACHE['registry']


MAX_INT = 2 ** 63
_END_ANCHOR_RE = re.compile(r'(?<!\\)\$\Z')


def _number_problems(value, path=''):
    """Integers no key takes (beyond 64 bits): refused before the schema, whose messages would try to print
    them (a 5000-digit integer makes Python refuse the conversion)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= MAX_INT:
        return [(path, 'a number of %d bits is larger than any key takes' % value.bit_length())]
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in _number_problems(item, '%s.%s' % (path, key) if path else str(key))]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in _number_problems(item, '%s[%d]' % (path, index))]
    return []


def _anchored_pattern(validator, pattern, instance, schema):
    """JSON Schema's pattern keyword with a final $ read as the end of the text: Python's $ also matches before a
    trailing newline, so 'web\\n' would pass ^[a-z]+$ and reach a unit name."""
    if validator.is_type(instance, 'string') and not re.search(_END_ANCHOR_RE.sub(r'\\Z', pattern), instance):
        # a schema may say what the pattern means (x-pattern-reason) instead of printing a long expression
        reason = schema.get('x-pattern-reason')
        yield _require_jsonschema().ValidationError('%r is not %s' % (instance, reason) if reason
                                                    else '%r does not match %r' % (instance, pattern))


def schema_problems(data, schema):
    problems = _number_problems(data)
    if problems:
        return sorted(set(problems))
    jsonschema = _require_jsonschema()
    base = jsonschema.validators.validator_for(schema)
    validator_cls = jsonschema.validators.extend(base, {'pattern': _anchored_pattern})
    validator = validator_cls(schema, registry=_registry())
    problems = set(_error_reason(e) for e in validator.iter_errors(data))
    return sorted(problems)


def _partial(node, refs_partial=True):
    """A copy of a schema node that accepts a partial object, for overrides that are merged into a pattern.

    Mappings are merged key by key, so `required` is dropped along properties/additionalProperties; lists
    replace the pattern's list whole, so everything under `items` keeps the full schema.
    """
    if isinstance(node, list):
        return [_partial(item, refs_partial) for item in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == 'required' and refs_partial:
            continue
        if key == '$ref' and refs_partial:
            # the schema's own definitions; a shared one (schemas/container.schema.json) is a scalar or a list
            out[key] = value.replace('#/$defs/', '#/$defs/partial_', 1) if value.startswith('#/$defs/') else value
        elif key == 'items':
            out[key] = value
        elif key in ('$defs',):
            continue
        else:
            out[key] = _partial(value, refs_partial)
    return out


def partial_schema(schema):
    cached = _SCHEMA_CACHE.get(('partial', id(schema)))
    if cached is None:
        cached = _partial(schema)
        defs = dict(schema.get('$defs', {}))
        for name, body in schema.get('$defs', {}).items():
            defs['partial_' + name] = _partial(body)
        cached['$defs'] = defs
        _SCHEMA_CACHE[('partial', id(schema))] = cached
    return cached


# -- cross-reference checks --------------------------------------------------------------------------------

def _enabled_services(pattern):
    return dict((name, svc) for name, svc in pattern['services'].items() if svc.get('enabled', True))


def _is_literal(path):
    """A shipped config file's content is written as it is: no {placeholder} in it is one (nginx and JSON
    configs are full of braces); a template is for what varies."""
    return bool(LITERAL_RE.search(path))


def _walk_strings(value, path):
    if _is_literal(path):
        return
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk_strings(item, '%s.%s' % (path, key) if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk_strings(item, '%s[%d]' % (path, index))


def _placeholder_problems(pattern):
    known = set(BUILTIN_PLACEHOLDERS) | set(pattern.get('variables') or {})
    problems = []
    for key, value in pattern.items():
        if key in ('variables', 'match', 'name'):
            continue
        for path, text in _walk_strings(value, key):
            for name in PLACEHOLDER_RE.findall(text):
                if name not in known:
                    problems.append((path, 'unknown placeholder {%s} (known: %s)' % (name, ', '.join(sorted(known)))))
    return problems


def size_bytes(text):
    return int(text[:-1]) * SIZE_UNITS[text[-1]]


def find_cycle(deps):
    """One dependency cycle as [a, b, ..., a], or None. deps: {name: [names it depends on]} (known names only)."""
    state = {}

    def visit(name, trail):
        state[name] = 'visiting'
        for dep in deps.get(name, []):
            if state.get(dep) == 'visiting':
                return trail[trail.index(dep):] + [dep]
            if dep not in state:
                found = visit(dep, trail + [dep])
                if found:
                    return found
        state[name] = 'done'
        return None

    for name in sorted(deps):
        if name not in state:
            found = visit(name, [name])
            if found:
                return found
    return None


def _service_problems(pattern, name, svc, names):
    enabled = _enabled_services(pattern)
    networks = set(n['name'] for n in pattern['networks_required'])
    storage = set(s['name'] for s in pattern['storage_requirements'])
    secrets = set(pattern.get('secrets') or {})
    base = 'services.%s' % name
    problems = []
    for index, net in enumerate(svc.get('networks', [])):
        if net not in networks:
            problems.append(('%s.networks[%d]' % (base, index), 'network %r is not in networks_required' % net))
    if svc.get('network_mode') and svc.get('networks'):
        problems.append(('%s.networks' % base, 'network_mode %s replaces the networks: drop one of them'
                         % svc['network_mode']))
    elif not svc.get('network_mode') and not svc.get('networks'):
        problems.append(('%s.networks' % base, 'a service joins at least one network of networks_required (or sets '
                         'network_mode)'))
    routed = (pattern.get('routing') or {}).get('service') == name
    problems.extend(_render.surface_problems(svc, base, routed=routed))
    for index, vol in enumerate(svc.get('volumes', [])):
        if vol['storage'] not in storage:
            problems.append(('%s.volumes[%d].storage' % (base, index),
                             'storage %r is not in storage_requirements' % vol['storage']))
    for index, ref in enumerate(svc.get('secrets', [])):
        if ref['secret'] not in secrets:
            problems.append(('%s.secrets[%d].secret' % (base, index), 'secret %r is not declared in secrets' % ref['secret']))
    for index, dep in enumerate(svc.get('depends_on', [])):
        if dep == name or dep not in names:
            problems.append(('%s.depends_on[%d]' % (base, index), 'no other service named %r' % dep))
        elif name in enabled and dep not in enabled:
            problems.append(('%s.depends_on[%d]' % (base, index), 'depends on %r, which is disabled' % dep))
    memory = svc['resources']['memory']
    if size_bytes(memory['high']) > size_bytes(memory['max']):
        problems.append(('%s.resources.memory.high' % base, 'high (%s) is above max (%s)' % (memory['high'], memory['max'])))
    return problems


def _reference_problems(pattern):
    services = pattern['services']
    enabled = _enabled_services(pattern)
    problems = []
    for name, svc in sorted(services.items()):
        problems.extend(_service_problems(pattern, name, svc, services))
    cycle = find_cycle(dict((name, [dep for dep in svc.get('depends_on', []) if dep in enabled])
                            for name, svc in enabled.items()))
    if cycle:
        problems.append(('services', 'depends_on forms a cycle: %s' % ' -> '.join(cycle)))
    refs = [('routing.service', (pattern.get('routing') or {}).get('service')),
            ('monitoring.health.service', pattern['monitoring']['health']['service']),
            ('monitoring.metrics.service', (pattern['monitoring'].get('metrics') or {}).get('service'))]
    for path, ref in refs:
        if ref is not None and ref not in enabled:
            problems.append((path, 'no enabled service named %r' % ref))
    security = pattern.get('security') or {}
    if pattern.get('routing') and security.get('public') and not security.get('auth_required') \
            and not security.get('auth_reason'):
        problems.append(('security.auth_reason', 'a public route without auth_required needs auth_reason (why it may be '
                         'reached without the forward-auth login), or set auth_required: true, or public: false'))
    routed = (pattern.get('routing') or {}).get('service')
    if routed in enabled and not enabled[routed].get('network_mode') and PROXY_NETWORK not in enabled[routed].get('networks', []):
        problems.append(('services.%s.networks' % routed, 'the routed service must join the %r network' % PROXY_NETWORK))
    problems.extend(_unique_problems(pattern))
    problems.extend(_placeholder_problems(pattern))
    return problems


def _unique_problems(pattern):
    problems = []
    for key in ('networks_required', 'storage_requirements'):
        seen = set()
        for index, item in enumerate(pattern[key]):
            if item['name'] in seen:
                problems.append(('%s[%d].name' % (key, index), 'duplicate name %r' % item['name']))
            seen.add(item['name'])
    ports = {}
    for name, svc in sorted(_enabled_services(pattern).items()):
        for index, pub in enumerate(svc.get('publish', [])):
            key = (pub['host_port'], pub.get('protocol', 'tcp'))
            if key in ports:
                problems.append(('services.%s.publish[%d].host_port' % (name, index),
                                 'host port %d/%s is also published by %s' % (key[0], key[1], ports[key])))
            ports[key] = name
    return problems


def validate_pattern(data, source, expected_name=None):
    """Raise PatternError unless data is a valid pattern (schema, then cross-references)."""
    _require_jsonschema()
    if not isinstance(data, dict):
        raise PatternError(source, [('', 'a pattern is a mapping, got %s' % type(data).__name__)])
    problems = schema_problems(data, load_schema())
    if problems:
        raise PatternError(source, problems)
    problems = _reference_problems(data)
    if expected_name and data['name'] != expected_name:
        problems.insert(0, ('name', 'is %r but the file is named %s.yml' % (data['name'], expected_name)))
    if problems:
        raise PatternError(source, problems)
    return data


def validate_override(data, source):
    """Raise PatternError unless data is a valid partial pattern (unknown keys, wrong types, bad values)."""
    _require_jsonschema()
    if not isinstance(data, dict):
        raise PatternError(source, [('', 'overrides are a mapping, got %s' % type(data).__name__)])
    problems = schema_problems(data, partial_schema(load_schema()))
    if problems:
        raise PatternError(source, problems)
    return data


def merge(base, override):
    """Mappings merge key by key; anything else (lists, scalars, null) replaces the pattern's value."""
    if isinstance(base, dict) and isinstance(override, dict):
        out = dict(base)
        for key, value in override.items():
            out[key] = merge(base.get(key), value)
        return out
    return copy.deepcopy(override)


def pattern_load(name, overrides=None, patterns_dir=None, overrides_source='overrides'):
    """Load a pattern by name or path, validate it, merge overrides (validated on their own) and validate the result."""
    path = pattern_path(name, patterns_dir)
    source = os.path.relpath(path, COLLECTION_ROOT) if path.startswith(COLLECTION_ROOT + os.sep) else path
    stem = os.path.splitext(os.path.basename(path))[0]
    pattern = validate_pattern(_read_yaml(path), source, expected_name=stem)
    _resolve_templates(pattern, os.path.dirname(os.path.abspath(path)))
    if not overrides:
        return pattern
    validate_override(overrides, overrides_source)
    merged = merge(pattern, overrides)
    validate_pattern(merged, '%s with %s' % (source, overrides_source))
    return merged


def _resolve_templates(pattern, base):
    """A pattern's relative config templates are relative to its file (an override's stay as given: the deploy
    action looks them up in the role's and playbook's templates/, like the template module)."""
    for svc in pattern['services'].values():
        for config in svc.get('configs', []):
            if 'template' in config and not os.path.isabs(config['template']):
                config['template'] = os.path.join(base, config['template'])


# -- rendering ------------------------------------------------------------------------------------------

def substitute(value, values, path=''):
    """Replace {name} placeholders in every string of value (not in a config file's literal content)."""
    if _is_literal(path):
        return value
    if isinstance(value, str):
        def repl(match):
            if match.group(1) not in values:
                raise PatternError('render', [(path, 'unknown placeholder {%s}' % match.group(1))])
            return str(values[match.group(1)])
        return PLACEHOLDER_RE.sub(repl, value)
    if isinstance(value, dict):
        return dict((k, substitute(v, values, '%s.%s' % (path, k) if path else k)) for k, v in value.items())
    if isinstance(value, list):
        return [substitute(v, values, '%s[%d]' % (path, i)) for i, v in enumerate(value)]
    return value


quote_word = _render.quote_word
_publish_value = _render.publish_value


def _labels(ctx, service=None):
    labels = [('%s.managed' % LABEL_PREFIX, 'true'), ('%s.instance' % LABEL_PREFIX, ctx['instance']),
              ('%s.pattern' % LABEL_PREFIX, ctx['pattern']['name'])]
    if service:
        labels.append(('%s.service' % LABEL_PREFIX, service))
    return labels


def _network_ref(ctx, name):
    if name in ctx['external_networks']:
        return ctx['external_networks'][name]
    return '%s-%s.network' % (ctx['instance'], name)


def _volume_source(ctx, storage):
    if storage['type'] == 'volume':
        return '%s-%s.volume' % (ctx['instance'], storage['name'])
    return storage['path']


def _volume_model(ctx, vol):
    storage = ctx['storage'][vol['storage']]
    options = [vol['mode']]
    if vol.get('selinux', 'Z') != 'none':
        options.append(vol.get('selinux', 'Z'))
    if vol.get('chown'):
        options.append('U')
    return {'source': _volume_source(ctx, storage), 'target': vol['target'], 'options': options}


def _secret_ref(ctx, ref):
    name = ctx['secrets'][ref['secret']]['name']
    return {'name': name, 'env': ref['env']} if 'env' in ref else {'name': name, 'file': ref['file']}


def _limit_values(svc):
    resources = svc['resources']
    return {'MemoryMax': resources['memory']['max'], 'MemoryHigh': resources['memory']['high'],
            'CPUWeight': resources['cpu']['weight'], 'Nice': resources['cpu']['nice']}


def _service_limits(ctx, name, svc):
    """[Service] limit keys to write, recording the ones the host cannot enforce."""
    values = _limit_values(svc)
    keep = {}
    for key, controller in LIMIT_KEYS:
        missing = controller is not None and ctx['controllers'] is not None and controller not in ctx['controllers']
        if missing and ctx['limits'] == 'best_effort':
            ctx['dropped'].append({'service': name, 'key': key, 'value': values[key], 'controller': controller})
            continue
        keep[key] = values[key]
    return keep


def container_model(ctx, name, svc):
    """The normalised container model (plugins/plugin_utils/_render.py) of one service of a pattern."""
    instance = ctx['instance']
    model = _render.service_keys(svc)
    model.update({
        'name': '%s-%s' % (instance, name),
        'description': '%s: %s (%s)' % (ctx['pattern']['title'], svc['description'].rstrip('.'), instance),
        'image': svc['image'], 'pull': svc.get('pull') or ctx['pull'],
        'networks': [_network_ref(ctx, n) for n in svc.get('networks', [])],
        'volumes': ([_volume_model(ctx, v) for v in svc.get('volumes', [])]
                    + [_binds.config_mount(ctx['config_dir'], instance, name, c) for c in svc.get('configs', [])]),
        'secrets': [_secret_ref(ctx, r) for r in svc.get('secrets', [])],
        'labels': _labels(ctx, name), 'wait': True,
        'depends_on': ['%s-%s' % (instance, d) for d in svc.get('depends_on', [])],
        'start_timeout': svc.get('start_timeout', 300), 'limits': _service_limits(ctx, name, svc),
    })
    return model


def _container_unit(ctx, name, svc):
    model = container_model(ctx, name, svc)
    unit = _render.container_unit(model)
    return {
        'name': unit['name'], 'type': 'container', 'service': name, 'container': unit['container'],
        'unit': unit['unit'], 'image': svc['image'], 'pull': unit['pull'], 'job': model['job'],
        'secrets': sorted(set(ref['name'] for ref in model['secrets'])),
        'healthcheck': unit['notify_healthy'], 'depends_on': list(svc.get('depends_on', [])),
        'wait': True, 'timeout': model['start_timeout'], 'sections': unit['sections'], 'text': unit['text'],
    }


def _network_unit(ctx, net):
    return _render.network_unit('%s-%s' % (ctx['instance'], net['name']),
                                '%s: %s' % (ctx['instance'], net['description'].rstrip('.')),
                                _labels(ctx), internal=net.get('internal', False))


def _volume_unit(ctx, storage):
    return _render.volume_unit('%s-%s' % (ctx['instance'], storage['name']),
                               '%s: %s' % (ctx['instance'], storage['description'].rstrip('.')), _labels(ctx))


def start_order(services):
    """Service names so that every service comes after the ones it depends on (ties by name)."""
    order, placed = [], set()
    while len(order) < len(services):
        ready = sorted(n for n, s in services.items() if n not in placed and set(s.get('depends_on', [])) <= placed)
        if not ready:
            raise AnsibleFilterError('services depend on each other in a cycle: %s' % sorted(set(services) - placed))
        order.extend(ready[:1])
        placed.add(ready[0])
    return order


def _storage_entries(ctx, pattern):
    out = {}
    for item in pattern['storage_requirements']:
        entry = dict(item)
        if entry['type'] == 'bind' and not entry.get('path'):
            entry['path'] = '%s/%s/%s' % (ctx['storage_root'].rstrip('/'), ctx['instance'], entry['name'])
        if entry['type'] != 'volume' and not entry['path'].startswith('/'):
            raise PatternError('render', [('storage_requirements.%s.path' % entry['name'],
                                           'must be an absolute path, got %r' % entry['path'])])
        out[entry['name']] = entry
    return out


def _bind_problems(storage, services, roots, readonly):
    """A pattern's bind storage under the deployment's policy for host paths (plugins/plugin_utils/_binds.py), as a
    stack's bind mounts: under a bind root, or a read-only host path mounted ro; system paths refused. A host
    storage (a path of the host the pattern declares, such as /proc for an exporter) is mounted read-only only."""
    problems = _binds.check_roots(roots, 'bind_roots') + _binds.check_roots(readonly, 'bind_readonly', system_ok=True)
    for name, svc in sorted(services.items()):
        for index, vol in enumerate(svc.get('volumes', [])):
            entry = storage[vol['storage']]
            if entry['type'] == 'volume':
                continue
            if entry['type'] == 'host':
                problem = _binds.path_problem(entry['path']) or (
                    None if vol['mode'] == 'ro' else 'host storage %s (%s) is mounted read-only only: mode ro'
                    % (entry['name'], entry['path']))
            else:
                problem = _binds.bind_problem(entry['path'], vol['mode'], roots, readonly)
            if problem:
                problems.append(('services.%s.volumes[%d] (storage %s)' % (name, index, entry['name']), problem))
    return problems


def _check_render_args(instance, limits):
    if not isinstance(instance, str) or not INSTANCE_RE.match(instance) or len(instance) > 40:
        raise AnsibleFilterError('instance %r must be lowercase letters, digits and single dashes, starting with a '
                                 'letter (at most 40 characters)' % (instance,))
    if limits not in ('enforce', 'best_effort'):
        raise AnsibleFilterError("limits must be 'enforce' or 'best_effort', got %r" % (limits,))


def _route(ctx, pattern, auth_middleware, required_middlewares):
    routing = pattern.get('routing')
    if not routing:
        return None
    security = pattern['security']
    chain = list(security['middlewares'])
    required = list(required_middlewares)
    if security['auth_required']:
        chain = [auth_middleware] + [m for m in chain if m != auth_middleware]
        required = [auth_middleware] + [m for m in required if m != auth_middleware]
    route = {'name': ctx['instance'], 'hostname': [ctx['hostname']], 'public': security['public'],
             'urls': ['http://%s-%s:%d' % (ctx['instance'], routing['service'], routing['port'])],
             'middlewares': chain, 'required_middlewares': required if security['public'] else []}
    if security['public'] and security['auth_required']:
        route['auth_middlewares'] = [auth_middleware]
    elif security['public']:
        route.update({'auth': 'none', 'auth_reason': security['auth_reason']})
    if routing.get('path_prefix'):
        route['path_prefix'] = routing['path_prefix']
    tls = _render.route_tls(security.get('tls'))
    if tls is not None or security.get('tls') is False:
        route['tls'] = False if tls is None else tls  # False: plain HTTP on purpose, no default certificate
    auth = security.get('forward_auth')
    if auth:
        spec = {'address': 'http://%s-%s:%d%s' % (ctx['instance'], routing['service'], routing['port'], auth['path'])}
        spec.update((key, auth[key]) for key in ('trust_forward_header', 'response_headers') if key in auth)
        route['define_middlewares'] = [{'name': auth['name'], 'config': forward_auth(auth['name'], spec)}]
    return route


def _requirements(ctx, pattern, services, units):
    enabled = [services[n] for n in sorted(services)]
    needs = set(c for key, c in LIMIT_KEYS if c)
    requires = pattern.get('requires') or {}
    return {
        'memory_high_bytes': sum(size_bytes(s['resources']['memory']['high']) for s in enabled),
        'memory_max_bytes': sum(size_bytes(s['resources']['memory']['max']) for s in enabled),
        'storage': [{'name': s['name'], 'type': s['type'], 'path': s.get('path'), 'min_free_gb': s['min_free_gb']}
                    for s in ctx['storage'].values() if s['type'] != 'host' or s['min_free_gb']],
        'host_paths': sorted(s['path'] for s in ctx['storage'].values() if s['type'] == 'host'),
        'host_ports': sorted(({'ip': p.get('host_ip', '127.0.0.1'), 'port': p['host_port'],
                               'protocol': p.get('protocol', 'tcp')} for s in enabled for p in s.get('publish', [])),
                             key=lambda p: (p['port'], p['protocol'])),
        'controllers': sorted(requires.get('controllers') or needs),
        'podman': requires.get('podman', '4.4'), 'systemd': requires.get('systemd', 250),
        'unit_names': [u['name'] for u in units],
        'container_names': [u['container'] for u in units if u['type'] == 'container'],
        'network_names': [u['object'] for u in units if u['type'] == 'network'],
        'volume_names': [u['object'] for u in units if u['type'] == 'volume'],
        'secret_names': sorted(s['name'] for s in ctx['secrets'].values()),
        'hostnames': [ctx['hostname']] if pattern.get('routing') else [],
    }


def pattern_render(pattern, instance, hostname=None, proxy_network=traefik.NETWORK, external_networks=None,
                   storage_root='/srv/homelab', limits='enforce', controllers=None, pull='missing',
                   auth_middleware='authelia@file', required_middlewares=None, allow_privileged=False,
                   config_dir=_binds.SERVICE_CONFIG_DIR, bind_roots=_binds.DEFAULT_ROOTS,
                   bind_readonly=_binds.DEFAULT_READONLY):
    """Render a loaded pattern into Quadlet unit definitions and everything a deploy needs to know."""
    _check_render_args(instance, limits)
    privileged = _render.privileged_problems(_enabled_services(pattern), allow_privileged)
    if privileged:
        raise PatternError(pattern.get('name') or 'pattern', privileged)
    hostname = hostname or '%s.localhost' % instance
    values = dict(pattern.get('variables') or {})
    scheme = 'https' if _render.route_tls((pattern.get('security') or {}).get('tls')) is not None else 'http'
    values.update({'instance': instance, 'hostname': hostname, 'url': '%s://%s' % (scheme, hostname),
                   'proxy_network': proxy_network})
    pattern = dict(pattern, **substitute(dict((k, v) for k, v in pattern.items() if k not in ('variables', 'match', 'name')), values))
    services = _enabled_services(pattern)
    ctx = {'instance': instance, 'hostname': hostname, 'pattern': pattern, 'pull': pull, 'limits': limits,
           'controllers': None if controllers is None else set(controllers), 'dropped': [],
           'storage_root': storage_root, 'config_dir': config_dir,
           'external_networks': dict({PROXY_NETWORK: proxy_network}, **(external_networks or {})),
           'secrets': dict((k, dict(v, name='%s-%s' % (instance, k), length=v.get('length', 32)))
                           for k, v in (pattern.get('secrets') or {}).items())}
    ctx['storage'] = _storage_entries(ctx, pattern)
    dir_problem = _binds.path_problem(config_dir)
    ctx['files'], problems = _binds.config_files(config_dir, instance, dict(
        (name, svc.get('configs', [])) for name, svc in services.items()))
    problems = ([('config_dir', dir_problem)] if dir_problem else []) + problems
    problems += _bind_problems(ctx['storage'], services, bind_roots, bind_readonly)
    if problems:
        raise PatternError(pattern.get('name') or 'pattern', problems)
    missing = sorted(set(c for k, c in LIMIT_KEYS if c) - ctx['controllers']) if ctx['controllers'] is not None else []
    if limits == 'enforce' and missing:
        raise AnsibleFilterError('resource limits cannot be enforced: the cgroup controller(s) %s are not available '
                                 '(use limits=best_effort to deploy without them)' % ', '.join(missing))
    used_networks = set(n for s in services.values() for n in s.get('networks', []))
    used_storage = set(v['storage'] for s in services.values() for v in s.get('volumes', []))
    units = [_network_unit(ctx, n) for n in pattern['networks_required']
             if not n.get('external') and n['name'] not in ctx['external_networks'] and n['name'] in used_networks]
    units += [_volume_unit(ctx, s) for s in ctx['storage'].values() if s['type'] == 'volume' and s['name'] in used_storage]
    units += [_container_unit(ctx, name, services[name]) for name in start_order(services)]
    return _rendered(ctx, pattern, services, units, auth_middleware,
                     ['security-headers@file'] if required_middlewares is None else required_middlewares)


def _rendered(ctx, pattern, services, units, auth_middleware, required_middlewares):
    routing = pattern.get('routing')
    health = pattern['monitoring']['health']
    metrics = pattern['monitoring'].get('metrics')
    return {
        'instance': ctx['instance'], 'pattern': pattern['name'], 'title': pattern['title'], 'risk': pattern['risk'],
        'risk_reason': pattern['risk_reason'], 'hostname': ctx['hostname'] if routing else None,
        'units': units, 'secrets': ctx['secrets'],
        'containers': [u['container'] for u in units if u['type'] == 'container'],
        'directories': [{'path': s['path'], 'owner': s.get('owner'), 'group': s.get('group'), 'mode': s.get('mode', '0750'),
                         'storage': s['name']} for s in ctx['storage'].values() if s['type'] == 'bind'],
        'route': _route(ctx, pattern, auth_middleware, required_middlewares),
        'health': {'container': '%s-%s' % (ctx['instance'], health['service']), 'path': health.get('path'),
                   'expect_status': health.get('expect_status', [200])},
        'metrics': None if not metrics else {
            'targets': ['%s-%s:%d' % (ctx['instance'], metrics['service'], metrics['port'])],
            'path': metrics.get('path', '/metrics')},
        'limits': {'mode': ctx['limits'], 'dropped': ctx['dropped'],
                   'controllers': None if ctx['controllers'] is None else sorted(ctx['controllers'])},
        'requirements': _requirements(ctx, pattern, services, units),
        'security': pattern['security'], 'storage': list(ctx['storage'].values()),
        'networks': pattern['networks_required'], 'services': services, 'files': ctx['files'],
        'post_deployment': pattern['post_deployment'], 'common_issues': pattern['common_issues'],
        'description': pattern['description'],
    }


def render_text(sections):
    """The unit file text for sections, rendered by the same code as the quadlet module (minus its header)."""
    return _render.unit_text(sections)


def pattern_plan(rendered, scope='system'):
    """The plan of a rendered pattern for the deploy executor: phase 0 its networks and volumes, then its
    containers in dependency layers (a container comes in the layer after the last one it depends on)."""
    if not isinstance(rendered, dict) or 'units' not in rendered or 'instance' not in rendered:
        raise AnsibleFilterError('pattern_plan expects what homelab.deploy.pattern_render returns')
    _render.check_scope(scope)
    units = rendered['units']
    containers = dict((u['service'], u) for u in units if u['type'] == 'container')
    services = rendered.get('services') or {}
    layers = _render.layers(dict((name, u.get('depends_on', (services.get(name) or {}).get('depends_on', [])))
                                 for name, u in containers.items()))
    phases = [[_render.plan_unit(u, scope) for u in units if u['type'] != 'container']]
    phases += [[_render.plan_unit(containers[name], scope, service=name, wait=containers[name].get('wait', True),
                                  timeout=containers[name].get('timeout'), secrets=containers[name].get('secrets', []),
                                  image=containers[name].get('image')) for name in layer] for layer in layers]
    route = rendered.get('route')
    plan = _render.plan(rendered['instance'], 'service', scope, phases,
                        secrets=dict((s['name'], {'length': s.get('length', 32)}) for s in (rendered.get('secrets') or {}).values()),
                        routes=[route] if route and scope == 'system' else [],
                        rollback_order=[name for layer in reversed(layers) for name in layer],
                        files=rendered.get('files') or [])
    plan['unrouted'] = [route['name']] if route and scope != 'system' else []
    return plan


# -- recommendation -----------------------------------------------------------------------------------------

TRAIT_FLAGS = {
    'needs_database': 'database', 'database': 'database', 'media': 'media', 'auth': 'auth', 'sso': 'sso',
    'web': 'web', 'metrics': 'metrics', 'exporter': 'exporter', 'mqtt': 'mqtt', 'iot': 'iot', 'cache': 'cache',
    'photos': 'photos', 'documents': 'documents', 'ocr': 'ocr', 'passwords': 'passwords',
    'machine_learning': 'machine-learning', 'gpu': 'gpu', 'workers': 'workers',
}
CHARACTERISTIC_KEYS = set(TRAIT_FLAGS) | set(['image', 'ports', 'stateful', 'traits', 'name'])


def _asked_traits(chars):
    traits = set(chars.get('traits') or [])
    for key, trait in TRAIT_FLAGS.items():
        if chars.get(key) is True:
            traits.add(trait)
    if chars.get('stateful') is True:
        traits.add('stateful')
    elif chars.get('stateful') is False:
        traits.add('stateless')
    return traits


def _denied_traits(chars):
    return set(trait for key, trait in TRAIT_FLAGS.items() if chars.get(key) is False)


def _image_match(image, fragments):
    """The longest fragment found in the image's repository path (registry and tag ignored)."""
    if not image:
        return None
    repo = image.lower().split('@')[0]
    repo = repo.rsplit(':', 1)[0] if ':' in repo.rsplit('/', 1)[-1] else repo
    if '/' in repo and ('.' in repo.split('/')[0] or ':' in repo.split('/')[0]):
        repo = repo.split('/', 1)[1]
    hits = [f for f in fragments if f.lower() in repo]
    return max(hits, key=len) if hits else None


def _score(pattern, chars, asked, denied):
    match = pattern.get('match') or {}
    traits = set(match.get('traits') or [])
    score, reasons = 0, []
    fragment = _image_match(chars.get('image'), match.get('images') or [])
    if fragment:
        score += 60
        reasons.append('image %s matches %r' % (chars['image'], fragment))
    ports = sorted(set(chars.get('ports') or []) & set(match.get('ports') or []))
    if ports:
        score += 5 * len(ports)
        reasons.append('port%s %s' % ('s' if len(ports) > 1 else '', ', '.join(str(p) for p in ports)))
    shared, absent, conflicting = asked & traits, asked - traits, denied & traits
    # traits the pattern brings beyond what was asked cost a little: the most specific fit wins
    extra = (traits - asked - denied) if asked else set()
    score += 10 * len(shared) - 6 * len(absent) - 12 * len(conflicting) - 2 * len(extra)
    if shared:
        reasons.append('fits %s' % ', '.join(sorted(shared)))
    if absent:
        reasons.append('lacks %s' % ', '.join(sorted(absent)))
    if conflicting:
        reasons.append('brings %s you said it does not need' % ', '.join(sorted(conflicting)))
    return score, reasons


def pattern_recommend(characteristics, patterns_dir=None):
    """The best pattern for a service described by characteristics, with a reason, a confidence and alternatives."""
    if not isinstance(characteristics, dict) or not characteristics:
        raise AnsibleFilterError('pattern_recommend expects a non-empty mapping of service characteristics')
    unknown = sorted(set(characteristics) - CHARACTERISTIC_KEYS)
    if unknown:
        raise AnsibleFilterError('unknown characteristic(s) %s (known: %s)' % (
            ', '.join(unknown), ', '.join(sorted(CHARACTERISTIC_KEYS))))
    asked, denied = _asked_traits(characteristics), _denied_traits(characteristics)
    scored = []
    for name in pattern_names(patterns_dir):
        pattern = pattern_load(name, patterns_dir=patterns_dir)
        score, reasons = _score(pattern, characteristics, asked, denied)
        scored.append((score, RISK_LEVELS.index(pattern['risk']), name, reasons, pattern['risk']))
    scored.sort(key=lambda s: (-s[0], s[1], s[2]))
    best, runner_up = scored[0], scored[1]
    return _recommendation(best, runner_up, scored)


def _recommendation(best, runner_up, scored):
    alternatives = [{'pattern': s[2], 'score': s[0]} for s in scored[1:4] if s[0] > 0]
    if best[0] <= 0:
        return {'pattern': None, 'confidence': 0.0, 'score': best[0], 'alternatives': alternatives,
                'reason': 'no pattern matches these characteristics; describe the image, its ports or traits'}
    strength = min(1.0, best[0] / 80.0)
    margin = min(1.0, (best[0] - runner_up[0]) / 30.0)
    confidence = round(strength * (0.5 + 0.5 * margin), 2)
    reason = '%s (risk %s): %s' % (best[2], best[4], '; '.join(best[3]))
    if margin < 0.34 and runner_up[0] > 0:
        reason += '; %s is nearly as good' % runner_up[2]
    return {'pattern': best[2], 'confidence': confidence, 'score': best[0], 'reason': reason,
            'alternatives': alternatives}


# -- filters ------------------------------------------------------------------------------------------

def pattern_catalog(patterns_dir=None):
    """Name, title, risk and examples of every pattern."""
    out = []
    for name in pattern_names(patterns_dir or None):
        pattern = pattern_load(name, patterns_dir=patterns_dir or None)
        out.append({'name': name, 'title': pattern['title'], 'risk': pattern['risk'],
                    'examples': pattern.get('examples', []), 'routed': bool(pattern.get('routing'))})
    return out


def deploy_dirs(scope='system', home=None):
    """The default directories of a deployment's own files in a scope (plugin_utils._binds.deploy_dirs)."""
    dirs = _binds.deploy_dirs(scope, home)
    if dirs is None:
        raise AnsibleFilterError('deploy_dirs: the user scope needs the home directory of the user')
    return dirs


class FilterModule(object):
    """Deployment pattern filters."""

    def filters(self):
        return {
            'pattern_load': pattern_load,
            'pattern_render': pattern_render,
            'pattern_recommend': pattern_recommend,
            'pattern_catalog': pattern_catalog,
            'pattern_plan': pattern_plan,
            'deploy_dirs': deploy_dirs,
        }

# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one renderer of homelab.deploy (controller side, pure Python; private, may change without notice).

Patterns, stacks and the service catalog load their own files and turn each service into one normalised
container model (a plain dict, see CONTAINER_DEFAULTS); everything from there on happens here, once:

* hardening defaults (NoNewPrivileges=true unless the model says otherwise),
* health semantics (healthcheck absent or cmd null = the image's own, 'none' or {cmd: none} = HealthCmd=none
  and no Notify=, an explicit cmd = HealthCmd=; Notify=healthy when the service is waited on and a healthcheck
  runs: for the image's own, the host transaction (quadlet_apply) leaves Notify= out when the image has none),
* escaping: Quadlet copies [Container] values into the ExecStart= of the service it generates, where systemd
  expands % specifiers and $VAR; a literal value has % doubled and $ doubled (Description= only %),
* naming (<name>.container runs as <name>.service; .network/.volume units as <base>-network.service ...),
* the [Install] section and the managed header that the quadlet module writes with enabled=true,
* the plan (renderer -> executor): units by phase with their full text, secrets, routes, checks.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import re
import shlex
from collections import OrderedDict

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.homelab.deploy.plugins.module_utils._quadlet import MANAGED_HEADER, default_target, service_name
from ansible_collections.homelab.deploy.plugins.module_utils._unitfile import UnitFileError, render_unit

LABEL_PREFIX = 'io.homelab.deploy'
DEFAULT_TIMEOUT = 120
DEFAULT_RESTART = 'always'
HEALTH_FIELDS = (('interval', 'HealthInterval'), ('timeout', 'HealthTimeout'), ('retries', 'HealthRetries'),
                 ('start_period', 'HealthStartPeriod'))
# The keys of the normalised container model and their defaults (None: not written).
CONTAINER_DEFAULTS = OrderedDict([
    ('name', None),               # container name; the unit is <name>.container, its service <name>.service
    ('description', None),        # [Unit] Description=
    ('image', None),
    ('pull', None),               # pull policy: missing | always | newer | never (the deploy pulls; see unit_pull)
    ('auth_file', None),          # PodmanArgs=--authfile=: registry credentials on the host (the deploy's pull uses them)
    ('networks', []),             # Network= values (foo.network references or external network names)
    ('network_aliases', []),
    ('volumes', []),              # {source, target, options: [..]} or a ready Volume= value
    ('environment', {}),          # name -> scalar, written sorted by name
    ('env_files', []),            # EnvironmentFile= paths on the host (KEY=value lines podman reads at start)
    ('secrets', []),              # {name: podman secret, env: VAR} or {name, file: /path}
    ('publish', []),              # PublishPort= values, or {host_ip, host_port, container_port, protocol}
    ('command', None),            # Exec=
    ('entrypoint', None),         # Entrypoint= (a string, or a list written as the JSON array Quadlet takes)
    ('user', None),
    ('devices', []),
    ('tmpfs', []),
    ('read_only', False),
    ('no_new_privileges', True),
    ('drop_capabilities', []),
    ('add_capabilities', []),
    ('stop_timeout', None),
    ('stop_signal', None),        # StopSignal=
    ('working_dir', None),        # WorkingDir=
    ('hostname', None),           # HostName=
    ('init', False),              # RunInit=
    ('shm_size', None),           # ShmSize=
    ('ulimits', {}),              # name -> n | {soft, hard}: Ulimit=name=soft:hard, sorted by name
    ('sysctls', {}),              # name -> value: Sysctl=, sorted by name
    ('network_mode', None),       # host | none: Network= instead of the networks (no aliases, no published ports)
    ('dns', []), ('dns_search', []), ('dns_options', []),  # DNS=, DNSSearch=, DNSOption=
    ('extra_hosts', {}),          # host name -> IP: AddHost=, sorted by name
    ('timezone', None),           # Timezone=
    ('group_add', []),            # GroupAdd=
    ('privileged', False),        # PodmanArgs=--privileged (whether it is allowed is the deployment's call)
    ('annotations', {}),          # Annotation=, sorted by key
    ('container_labels', {}),     # the service's own labels (its labels key), after the deploy's own labels
    ('labels', []),               # the deploy's labels: [(key, value)] or {key: value}, in order
    ('healthcheck', None),        # None | 'none' | {cmd, interval, timeout, retries, start_period}
    ('wait', True),               # the start waits for health: Notify=healthy when a healthcheck runs
    ('depends_on', []),           # container names it needs: Requires= and After= their services
    ('restart', DEFAULT_RESTART),  # Restart=: always | on-failure | no (a job: no)
    ('job', False),               # a one-shot job (migration, model pull): Type=oneshot, RemainAfterExit=yes, no restart
    ('start_timeout', None),      # TimeoutStartSec=
    ('limits', {}),               # [Service] keys (MemoryMax, MemoryHigh, CPUWeight, Nice, ...) in order
])
# Keys a pattern's or a stack's service hands to the model as they are (most of them defined once in
# schemas/container.schema.json); left out, the model's default above applies.
SERVICE_KEYS = ('auth_file', 'environment', 'env_files', 'publish', 'command', 'entrypoint', 'user', 'devices', 'tmpfs', 'read_only',
                'no_new_privileges', 'drop_capabilities', 'add_capabilities', 'stop_timeout', 'healthcheck', 'restart',
                'stop_signal', 'working_dir', 'hostname', 'init', 'shm_size', 'ulimits', 'sysctls', 'network_mode', 'dns',
                'dns_search', 'dns_options', 'extra_hosts', 'timezone', 'group_add', 'privileged', 'annotations')
# A service's labels key is the model's container_labels (the model's labels are the deploy's own).
SERVICE_RENAMED = (('labels', 'container_labels'),)
SCOPES = ('system', 'user')
_NEEDS_QUOTES = re.compile(r'[\s"\'\\]')


CONTAINER_SCHEMA = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                'schemas', 'container.schema.json')
_IMAGE_RULE = {}


def image_reference_problem(image):
    """Why image is not an image reference, or None: the one rule of schemas/container.schema.json ($defs/image),
    for what the schemas do not check themselves (a compose file's image)."""
    if 'rule' not in _IMAGE_RULE:
        with open(CONTAINER_SCHEMA) as handle:
            rule = json.load(handle)['$defs']['image']
        _IMAGE_RULE['rule'] = (re.compile(rule['pattern'][:-1] + r'\Z'), rule['x-pattern-reason'])
    pattern, reason = _IMAGE_RULE['rule']
    if not isinstance(image, str) or not pattern.match(image):
        return '%r is not %s' % (image, reason)
    return None


class RenderError(AnsibleFilterError):
    """A model cannot be rendered into a unit Quadlet reads back the same way."""


# -- escaping ----------------------------------------------------------------------------------------

def effective_route_tls(route, default_resolver=None):
    """The tls a route is deployed with: its own; none for tls False (plain HTTP on purpose); for a public route
    without one, a certificate from the default resolver of the traefik role (traefik_default_cert_resolver) when
    one is set. The one rule for the deploy and for the drift check of what it deployed."""
    tls = route.get('tls')
    if tls is False:
        return None
    if tls is None and route.get('public') and default_resolver:
        return {'cert_resolver': default_resolver}
    return tls


def route_tls(tls):
    """A route's tls key (stack route.tls, pattern security.tls) as homelab.deploy.traefik_route takes it, or None for
    plain HTTP. The entry points are not set here: the deploy action takes them from the Traefik settings (the
    traefik role's homelab_traefik.tls_entrypoints)."""
    if tls is None or tls is False:
        return None
    if tls is True:
        return {}
    out = {}
    if tls.get('resolver'):
        out['cert_resolver'] = tls['resolver']
    if 'redirect' in tls:
        out['redirect'] = tls['redirect']
    return out


def escape(text):
    """A literal value for a key Quadlet copies into ExecStart=: % specifiers and $VAR expansion disarmed."""
    return str(text).replace('%', '%%').replace('$', '$$')


def escape_specifiers(text):
    """A literal value for a systemd key that expands % specifiers but not $VAR (Description=)."""
    return str(text).replace('%', '%%')


def quote_word(text):
    """A word for Quadlet's word-split keys (Environment=, Label=, Exec= words): quoted when it holds blanks or quotes."""
    if text and not _NEEDS_QUOTES.search(text):
        return text
    return '"%s"' % text.replace('\\', '\\\\').replace('"', '\\"')


def scalar(value):
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)


def literal_word(text):
    """A word that reaches the container exactly as given (escaped, then quoted when needed)."""
    return quote_word(escape(text))


# -- naming ------------------------------------------------------------------------------------------

def unit_file(base, unit_type):
    return '%s.%s' % (base, unit_type)


def unit_service(base, unit_type):
    """The systemd service Quadlet generates for <base>.<unit_type>."""
    return service_name(base, unit_type)


# -- values ------------------------------------------------------------------------------------------

def volume_value(volume):
    if isinstance(volume, str):
        return escape(volume)
    parts = [volume['source'], volume['target']]
    if volume.get('options'):
        parts.append(','.join(volume['options']))
    return escape(':'.join(parts))


def secret_value(ref):
    if ref.get('env'):
        return '%s,type=env,target=%s' % (ref['name'], ref['env'])
    return '%s,type=mount,target=%s' % (ref['name'], escape(ref['file']))


def publish_value(pub):
    if isinstance(pub, str):
        return pub
    host_ip = pub.get('host_ip', '127.0.0.1')
    if ':' in host_ip and not host_ip.startswith('['):
        host_ip = '[%s]' % host_ip
    value = '%s:%d:%d' % (host_ip, pub['host_port'], pub['container_port'])
    if pub.get('protocol', 'tcp') != 'tcp':
        value += '/' + pub['protocol']
    return value


def label_words(labels):
    pairs = labels.items() if isinstance(labels, dict) else labels
    return [literal_word('%s=%s' % (key, scalar(value))) for key, value in pairs]


def health_mode(healthcheck):
    """'image' (the image's own HEALTHCHECK), 'none' (disabled) or 'cmd' (an explicit command)."""
    if healthcheck == 'none' or (isinstance(healthcheck, dict) and healthcheck.get('cmd') == 'none'):
        return 'none'
    if isinstance(healthcheck, dict) and healthcheck.get('cmd') is not None:
        return 'cmd'
    if healthcheck is None or isinstance(healthcheck, dict):
        return 'image'
    raise RenderError("healthcheck must be omitted, 'none' or a mapping with cmd, got %r" % (healthcheck,))


def health_keys(healthcheck, wait=True):
    """[Container] health keys, Notify=healthy included when a healthcheck runs and the start waits for it."""
    mode = health_mode(healthcheck)
    if mode == 'none':
        return OrderedDict([('HealthCmd', 'none')])
    health = healthcheck or {}
    keys = OrderedDict()
    if mode == 'cmd':
        keys['HealthCmd'] = escape(health['cmd'])
    for field, key in HEALTH_FIELDS:
        if health.get(field) is not None:
            keys[key] = health[field]
    if wait:
        keys['Notify'] = 'healthy'  # the service is "started" only once healthy: boot order follows health
    return keys


# -- units -------------------------------------------------------------------------------------------

def normalise(model):
    unknown = sorted(set(model) - set(CONTAINER_DEFAULTS))
    if unknown:
        raise RenderError('unknown container model key(s): %s' % ', '.join(unknown))
    out = OrderedDict((key, model.get(key, default)) for key, default in CONTAINER_DEFAULTS.items())
    for key in ('name', 'image'):
        if not out[key]:
            raise RenderError('a container model needs %s' % key)
    return out


def exec_value(command):
    """Exec= of a model's command: a string as one shell-like line, a list word for word (each word quoted when
    needed, so Quadlet splits it back into exactly these words); escaped."""
    if command is None:
        return None
    if isinstance(command, (list, tuple)):
        return ' '.join(literal_word(str(word)) for word in command)
    return escape(command)


def entrypoint_value(entrypoint):
    """Entrypoint= of a model's entrypoint: a string as it is, a list as the JSON array Quadlet parses; escaped."""
    if entrypoint is None:
        return None
    if isinstance(entrypoint, (list, tuple)):
        return escape(json.dumps([str(part) for part in entrypoint]))
    return escape(entrypoint)


def service_keys(svc):
    """The container model keys a service sets the same way in a pattern and a stack; kind: job is the model's job."""
    out = dict((key, svc[key]) for key in SERVICE_KEYS if key in svc)
    out.update((model_key, svc[key]) for key, model_key in SERVICE_RENAMED if key in svc)
    out['job'] = svc.get('kind') == 'job'
    return out


# Keys a service with a network_mode cannot have, with why (%s: the mode); the compose import drops them with the
# same reasons
NETWORK_MODE_CONFLICTS = (
    ('publish', 'ports are not published from the %s network (on host, the container\'s own ports are the host\'s)'),
    ('dns', 'DNS servers cannot be set on the %s network'),
    ('dns_search', 'DNS search domains cannot be set on the %s network'),
    ('dns_options', 'DNS options cannot be set on the %s network'),
)
NETWORK_MODE_UNROUTED = ('a service on the %s network is not on the proxy network: Traefik cannot route to it (drop the '
                         'route or the network_mode)')
HOST_NET_SYSCTLS = 'net.* sysctls would change the host\'s own network settings: refused with network_mode host'


def privileged_problems(services, allow_privileged):
    """(key path, reason) for each privileged service of {name: service} the deployment does not allow."""
    if allow_privileged:
        return []
    return [('services.%s.privileged' % name, 'a privileged container gets every capability and device of the host '
             'and no confinement: refused unless the deployment allows it (stack_allow_privileged or '
             'pattern_service_allow_privileged: true); prefer add_capabilities and devices')
            for name, svc in sorted(services.items()) if svc.get('privileged')]


def surface_problems(svc, base, routed=False):
    """(key path, reason) for container keys of a service (pattern, stack or catalog entry alike) that are valid on
    their own but not together: checked before anything on the host changes. Whether a privileged service is allowed
    is the deployment's call (privileged_problems)."""
    problems = []
    mode = svc.get('network_mode')
    if mode:
        problems.extend(('%s.%s' % (base, key), why % mode) for key, why in NETWORK_MODE_CONFLICTS if svc.get(key))
        if routed:
            problems.append(('%s.network_mode' % base, NETWORK_MODE_UNROUTED % mode))
        if mode == 'host' and any(str(name).startswith('net.') for name in svc.get('sysctls') or {}):
            problems.append(('%s.sysctls' % base, HOST_NET_SYSCTLS))
    for key in sorted(svc.get('labels') or {}):
        if str(key).startswith(LABEL_PREFIX + '.'):
            problems.append(('%s.labels.%s' % (base, key), 'the %s. labels are the deploy\'s own (ownership, stack, '
                             'service): choose another prefix' % LABEL_PREFIX))
    if _has_empty_word(svc.get('command')):
        problems.append(('%s.command' % base, EMPTY_WORD))
    ulimits = svc.get('ulimits') or {}
    for name, value in sorted(ulimits.items()):
        if isinstance(value, dict) and not _ulimit_ordered(value['soft'], value['hard']):
            problems.append(('%s.ulimits.%s' % (base, name), 'soft (%s) is above hard (%s)' % (value['soft'], value['hard'])))
    return problems


EMPTY_WORD = ('an empty argument ("" or \'\') ends Quadlet\'s Exec=: podman\'s generator drops it and every word after '
              'it, so the container would run without them; leave it out, or set the option in a config file (for '
              'valkey/redis --save "": a configs entry with save "")')


def _has_empty_word(command):
    """Whether a command has an empty word, which Quadlet's Exec= splitting cannot carry."""
    if isinstance(command, (list, tuple)):
        return any(str(word) == '' for word in command)
    if not command:
        return False
    try:
        return '' in shlex.split(str(command))
    except ValueError:
        return False  # unbalanced quotes: Quadlet tolerates them, and so does the split of the unit


def _ulimit_ordered(soft, hard):
    return hard == -1 or (soft != -1 and soft <= hard)


def unit_pull(policy):
    """The Pull= a unit gets for a pull policy. The deploy pulls (quadlet_apply's units[].pull) before anything
    changes; the unit itself only pulls a missing image, so a start at boot never waits for a registry (or fails
    because it is down) to re-check an image that is there. never stays never."""
    if policy is None:
        return None
    return 'never' if policy == 'never' else 'missing'


def ulimit_value(name, value):
    """Ulimit= of a compose-style ulimit: n (soft = hard) or {soft, hard}."""
    if isinstance(value, dict):
        return '%s=%d:%d' % (name, value['soft'], value['hard'])
    return '%s=%d:%d' % (name, value, value)


def _pairs(mapping, separator):
    return [literal_word('%s%s%s' % (key, separator, scalar(value))) for key, value in sorted((mapping or {}).items())]


def _drop_empty(section):
    return OrderedDict((k, v) for k, v in section.items() if v is not None and v != [])


def container_section(model):
    m = normalise(model)
    problems = surface_problems(dict(m, labels=m['container_labels']), 'container')
    if problems:
        raise RenderError('; '.join('%s: %s' % problem for problem in problems))
    host_mode = m['network_mode'] is not None
    section = OrderedDict([
        ('Image', m['image']), ('ContainerName', m['name']), ('Pull', unit_pull(m['pull'])),
        ('Network', [m['network_mode']] if host_mode else list(m['networks'])),
        ('NetworkAlias', [] if host_mode else list(m['network_aliases'])),
        ('HostName', m['hostname']),
        ('DNS', list(m['dns'])), ('DNSSearch', list(m['dns_search'])), ('DNSOption', list(m['dns_options'])),
        ('AddHost', _pairs(m['extra_hosts'], ':')),
        ('Volume', [volume_value(v) for v in m['volumes']]),
        ('Environment', [literal_word('%s=%s' % (k, scalar(v))) for k, v in sorted(m['environment'].items())]),
        ('EnvironmentFile', [escape(path) for path in m['env_files']]),
        ('Secret', [secret_value(ref) for ref in m['secrets']]),
        ('PublishPort', [publish_value(p) for p in m['publish']]),
        ('Entrypoint', entrypoint_value(m['entrypoint'])),
        ('Exec', exec_value(m['command'])),
        ('WorkingDir', escape(m['working_dir']) if m['working_dir'] is not None else None),
        ('User', m['user']), ('GroupAdd', [escape(scalar(g)) for g in m['group_add']]),
        ('AddDevice', [escape(d) for d in m['devices']]), ('Tmpfs', [escape(t) for t in m['tmpfs']]),
        ('ShmSize', m['shm_size']),
        ('Ulimit', [ulimit_value(name, value) for name, value in sorted(m['ulimits'].items())]),
        ('Sysctl', _pairs(m['sysctls'], '=')),
        ('ReadOnly', True if m['read_only'] else None),
        ('NoNewPrivileges', bool(m['no_new_privileges'])),
        ('DropCapability', list(m['drop_capabilities'])), ('AddCapability', list(m['add_capabilities'])),
        ('RunInit', True if m['init'] else None),
        ('Timezone', m['timezone']),
        ('StopSignal', m['stop_signal']), ('StopTimeout', m['stop_timeout']),
        ('Label', label_words(m['labels']) + label_words(sorted((m['container_labels'] or {}).items()))),
        ('Annotation', label_words(sorted((m['annotations'] or {}).items()))),
        # Quadlet 5.4 has no AuthFile= in [Container]: podman run takes --authfile (the schema keeps the path one word)
        ('PodmanArgs', [arg for arg in ('--privileged' if m['privileged'] else None,
                                        '--authfile=' + escape(m['auth_file']) if m['auth_file'] else None) if arg]),
    ])
    section = _drop_empty(section)
    # a job has run when it exits 0: it is waited on by its unit (oneshot), never by a healthcheck
    section.update(health_keys(m['healthcheck'], m['wait'] and not m['job']))
    return section


def container_sections(model):
    """{Unit, Container, Service} of a container model (no [Install]: see install())."""
    m = normalise(model)
    unit = OrderedDict([('Description', escape_specifiers(m['description'] or m['name']))])
    deps = [unit_service(dep, 'container') for dep in m['depends_on']]
    if deps:
        unit['Requires'] = deps
        unit['After'] = list(deps)
    if m['job']:
        # systemd waits for a oneshot's exit (After= on it too) and keeps it active once it exited 0
        service = OrderedDict([('Type', 'oneshot'), ('RemainAfterExit', True), ('Restart', 'no')])
    else:
        service = OrderedDict([('Restart', m['restart'] or DEFAULT_RESTART)])
    if m['start_timeout'] is not None:
        service['TimeoutStartSec'] = m['start_timeout']
    service.update(m['limits'] or {})
    return OrderedDict([('Unit', unit), ('Container', container_section(m)), ('Service', service)])


def container_unit(model):
    """The container unit: file name, type, container, systemd service, sections and text."""
    sections = container_sections(model)
    return {'name': unit_file(model['name'], 'container'), 'type': 'container', 'container': model['name'],
            'unit': unit_service(model['name'], 'container'), 'sections': sections, 'text': unit_text(sections),
            'notify_healthy': 'Notify' in sections['Container'], 'pull': model.get('pull')}


def _infra_unit(unit_type, section, name_key, name, description, labels, extra):
    body = OrderedDict([(name_key, name), ('Label', label_words(labels))])
    body.update(extra)
    sections = OrderedDict([('Unit', OrderedDict([('Description', escape_specifiers(description))])),
                            (section, _drop_empty(body))])
    return {'name': unit_file(name, unit_type), 'type': unit_type, 'object': name,
            'unit': unit_service(name, unit_type), 'sections': sections, 'text': unit_text(sections)}


def network_unit(name, description, labels=(), internal=False):
    """<name>.network creating the podman network <name>."""
    return _infra_unit('network', 'Network', 'NetworkName', name, description, labels,
                       {'Internal': True} if internal else {})


def volume_unit(name, description, labels=()):
    """<name>.volume creating the podman volume <name>."""
    return _infra_unit('volume', 'Volume', 'VolumeName', name, description, labels, {})


# -- text --------------------------------------------------------------------------------------------

def unit_text(sections):
    """The unit file text for sections, rendered by the same code as the quadlet module (minus its header)."""
    try:
        return render_unit(sections)
    except UnitFileError as exc:
        raise RenderError('cannot render unit: %s' % to_native(exc))


def check_scope(scope):
    if scope not in SCOPES:
        raise RenderError('scope must be system or user, got %r' % (scope,))


def install(sections, scope):
    """The sections with [Install] WantedBy= as the quadlet module adds it with enabled=true."""
    check_scope(scope)
    out = OrderedDict((name, OrderedDict(body)) for name, body in sections.items())
    body = out.setdefault('Install', OrderedDict())
    if not any(key in body for key in ('WantedBy', 'RequiredBy')):
        body['WantedBy'] = default_target(scope)
    return out


def installed_text(sections, scope):
    """The unit text the quadlet module writes for sections with enabled=true, without its header."""
    return unit_text(install(sections, scope))


def managed_text(sections, scope):
    """The whole file the quadlet module writes for sections with enabled=true (managed header included)."""
    return MANAGED_HEADER + installed_text(sections, scope)


# -- plan --------------------------------------------------------------------------------------------

ROUTE_ARGS = ('name', 'hostname', 'path_prefix', 'rule', 'entrypoints', 'priority', 'middlewares', 'define_middlewares', 'urls',
              'public', 'required_middlewares', 'auth', 'auth_reason', 'auth_middlewares', 'pass_host_header', 'tls')
CHECK_KEYS = ('name', 'container', 'command', 'stdout_regex', 'http', 'retries', 'delay')


def layers(deps):
    """Topological layers of {name: [names it needs]} (names sorted inside a layer); unknown names ignored."""
    needs = dict((name, set(d for d in (wanted or []) if d in deps)) for name, wanted in deps.items())
    out, placed = [], set()
    while len(placed) < len(needs):
        layer = sorted(name for name, wanted in needs.items() if name not in placed and wanted <= placed)
        if not layer:
            raise RenderError('dependency cycle among %s' % ', '.join(sorted(set(needs) - placed)))
        out.append(layer)
        placed.update(layer)
    return out


def plan_unit(unit, scope, service=None, wait=None, timeout=None, secrets=(), image=None):
    """One unit of a plan: its file name and full text (header and [Install] included) and how to start it."""
    is_container = unit['type'] == 'container'
    return {
        'name': unit['name'], 'text': managed_text(unit['sections'], scope),
        'service': service, 'unit': unit['unit'], 'container': unit.get('container') if is_container else None,
        'image': image if is_container else None, 'pull': unit.get('pull') if is_container else None,
        'job': bool(is_container and unit.get('job')),
        'wait': is_container and (True if wait is None else bool(wait)),
        'timeout': int(timeout or DEFAULT_TIMEOUT), 'secrets': sorted(set(secrets)),
    }


def plan_route(route):
    return dict((key, route[key]) for key in ROUTE_ARGS if route.get(key) is not None)


def plan_check(check):
    out = dict((key, check.get(key)) for key in CHECK_KEYS)
    out['retries'] = 5 if out['retries'] is None else out['retries']
    out['delay'] = 2 if out['delay'] is None else out['delay']
    if out['http'] is not None:
        out['http'] = dict({'status': [200], 'host': None, 'body_regex': None}, **out['http'])
    return out


def plan(name, kind, scope, phases, secrets=None, routes=(), verify=(), rollback_order=(), directories=(), files=()):
    """The plan dict the executor runs: phases of plan units (phase 0: networks and volumes) and the rest:
    host directories to create when missing ({path, owner, group, mode}) and files to write ({path, content or
    template, mode, restarts})."""
    check_scope(scope)
    return {
        'name': name, 'kind': kind, 'scope': scope, 'phases': [list(phase) for phase in phases],
        'secrets': dict(secrets or {}), 'routes': [plan_route(r) for r in routes],
        'verify': [plan_check(c) for c in verify], 'rollback_order': list(rollback_order),
        'directories': [dict(d) for d in directories], 'files': [dict(f) for f in files],
    }

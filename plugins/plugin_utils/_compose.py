# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A docker-compose document as a homelab.deploy stack, with a report of every compose key (controller side; private).

Compose semantics follow the compose specification: interpolation (``${VAR}``, ``${VAR:-d}``, ``${VAR-d}``,
``${VAR:?e}``, ``${VAR?e}``, ``${VAR:+a}``, ``${VAR+a}``, ``$VAR``, ``$$``) from the shell environment over the
env file, profiles, short and long syntax of ports, volumes, depends_on, healthcheck, environment, env_file,
secrets and configs. The target is what stacks/schema/stack.schema.json accepts. Every compose key ends up in the
report as mapped, approximated or unsupported (with the reason); none is dropped silently. Secret values (compose
secrets, secret-looking environment values) are returned apart from the stack, never inside it or the report.

``convert`` is the entry point; errors are ComposeError naming the compose file, the key path and the reason.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import posixpath
import re
import shlex

try:
    import yaml
except ImportError:  # pragma: no cover - ansible-core depends on PyYAML
    yaml = None

from ansible_collections.homelab.deploy.plugins.module_utils import _podman as podman
from ansible_collections.homelab.deploy.plugins.plugin_utils import _render
from ansible_collections.homelab.deploy.plugins.plugin_utils._yaml import bounded, load_yaml

NAME_RE = re.compile(r'^[a-z][a-z0-9]*(-[a-z0-9]+)*\Z')
VAR_RE = re.compile(r'[_a-zA-Z][_a-zA-Z0-9]*')
ENV_NAME_RE = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*\Z')
EXPRESSION_RE = re.compile(r'^([_a-zA-Z][_a-zA-Z0-9]*)(?:(:?[-?+])(.*))?$', re.S)
USER_RE = re.compile(r'^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?\Z')
DURATION_RE = re.compile(r'(\d+(?:\.\d+)?)(us|ms|h|m|s)')
HOST_RULE_RE = re.compile(r'Host\(\s*`([^`]+)`')
PATH_RULE_RE = re.compile(r'PathPrefix\(\s*`([^`]+)`')
PORT_NUMBERS_RE = re.compile(r'^[0-9]+(-[0-9]+)?\Z')
IP_RE = re.compile(r'^(\[[0-9a-fA-F:.]+\]|[0-9.]+)\Z')
MAX_NAME = 40
LABEL_PREFIX = 'io.homelab.deploy'
LABEL_NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._/-]*\Z')
SIZE_RE = re.compile(r'^([0-9]+)\s*([bkmg]?)b?\Z', re.I)
SIGNAL_RE = re.compile(r'^(SIG)?([A-Z0-9+]+)\Z')
ULIMITS = ('core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio',
           'rttime', 'sigpending', 'stack')
SYSCTL_RE = re.compile(r'^(net\.[a-z0-9_./-]+|kernel\.(shm[a-z_]+|msg[a-z_]+|sem)|fs\.mqueue\.[a-z_]+)\Z')
HOSTNAME_RE = re.compile(r'^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?\Z')
ADDRESS_RE = re.compile(r'^([0-9A-Fa-f.:]+|host-gateway)\Z')
STATUSES = ('mapped', 'approximated', 'unsupported')
DEFAULT_BIND_ROOT = '/srv/homelab'
MAX_CONFIG_BYTES = 1024 * 1024
DOCKER_SOCKETS = ('/var/run/docker.sock', '/run/docker.sock')
# the deploy's defaults for host paths (plugins/plugin_utils/_binds.py): only used to word the report
DEFAULT_BIND_ROOTS = ('/srv', '/mnt', '/media', '/data')
DEFAULT_READONLY = ('/etc/localtime', '/etc/timezone')

# Service keys the stack model has no key for, with why (checked against the schemas: a key they gain moves out).
UNSUPPORTED = {
    'build': 'the stack deploys images; build it and push it to a registry, then set image',
    'deploy': 'swarm deploy options (replicas, resources, placement) have no stack key',
    'cpus': 'no CPU limit key in the stack model',
    'cpu_shares': 'no CPU key in the stack model',
    'cpu_quota': 'no CPU key in the stack model',
    'cpuset': 'no CPU key in the stack model',
    'mem_limit': 'no memory limit key in the stack model',
    'mem_reservation': 'no memory key in the stack model',
    'memswap_limit': 'no memory key in the stack model',
    'pids_limit': 'no pids limit key in the stack model',
    'logging': 'containers log to the journal (podman under systemd); no logging key',
    'pid': 'no pid namespace key in the stack model',
    'ipc': 'no ipc key in the stack model',
    'cgroup_parent': 'systemd places the container in its unit\'s cgroup',
    'platform': 'the host pulls the image for its own platform',
    'tty': 'no tty key in the stack model',
    'stdin_open': 'no stdin key in the stack model',
    'extends': 'extends is not resolved; merge the extended service into this one',
    'runtime': 'no OCI runtime key in the stack model',
    'oom_score_adj': 'no OOM key in the stack model',
    'mac_address': 'no MAC address key in the stack model',
    'domainname': 'no domain name key in the stack model',
    'gpus': 'no GPU key in the stack model (pass the device nodes in devices)',
    'external_links': 'services outside the stack are not reachable by name',
    'volumes_from': 'no volumes_from key in the stack model; mount the same named volumes',
    'userns_mode': 'no user namespace key in the stack model',
    'isolation': 'not a Linux option',
    'storage_opt': 'no storage key in the stack model',
    'device_cgroup_rules': 'no device cgroup key in the stack model',
    'post_start': 'no lifecycle hooks in the stack model',
    'pre_stop': 'no lifecycle hooks in the stack model',
    'develop': 'compose watch is a development feature',
    'attach': 'containers log to the journal',
    'scale': 'one container per service',
    'use_api_socket': 'no container engine socket is passed in',
    'credential_spec': 'not a Linux option',
}
TOP_LEVEL_UNSUPPORTED = {
    'include': 'include is not resolved; merge the included files into this one',
    'models': 'no model runner in the stack model',
}


class ComposeError(ValueError):
    """The compose document cannot be converted: `source: key.path: reason`."""

    def __init__(self, source, key, reason):
        self.source, self.key, self.reason = source, key, reason
        super(ComposeError, self).__init__('%s: %s: %s' % (source, key or '(document)', reason))


# -- interpolation -------------------------------------------------------------------------------------------

class Interpolator(object):
    """Compose interpolation of strings from one environment; remembers the variables that were unset."""

    def __init__(self, env, source):
        self.env, self.source, self.unset = env, source, []

    def text(self, text, key):
        out, i = [], 0
        while i < len(text):
            if text[i] != '$':
                out.append(text[i])
                i += 1
            elif text.startswith('$$', i):
                out.append('$')
                i += 2
            elif text.startswith('${', i):
                end = self._closing(text, i + 2, key)
                out.append(self._expression(text[i + 2:end], key))
                i = end + 1
            else:
                match = VAR_RE.match(text, i + 1)
                out.append(self._value(match.group(0), key) if match else '$')
                i = match.end() if match else i + 1
        return ''.join(out)

    def _closing(self, text, start, key):
        depth, i = 1, start
        while i < len(text):
            if text.startswith('$$', i):
                i += 2
                continue
            if text.startswith('${', i):
                depth, i = depth + 1, i + 2
                continue
            if text[i] == '}':
                depth -= 1
                if depth == 0:
                    return i
            i += 1
        raise ComposeError(self.source, key, 'interpolation: "${" without its closing "}"')

    def _value(self, name, key):
        if name not in self.env:
            if name not in self.unset:
                self.unset.append(name)
            return ''
        return self.env[name]

    def _expression(self, body, key):
        match = EXPRESSION_RE.match(body)
        if not match:
            raise ComposeError(self.source, key, 'interpolation: invalid expression ${%s}' % body)
        name, op, arg = match.groups()
        value, is_set = self.env.get(name), name in self.env
        if op is None:
            return self._value(name, key)
        if op in (':-', '-'):
            keep = is_set and (op == '-' or value != '')
            return value if keep else self.text(arg, key)
        if op in (':?', '?'):
            if is_set and (op == '?' or value != ''):
                return value
            raise ComposeError(self.source, key, 'required variable %s is %s: %s'
                               % (name, 'empty' if is_set else 'not set', self.text(arg, key) or 'no message'))
        use = is_set and (op == '+' or value != '')
        return self.text(arg, key) if use else ''

    def tree(self, node, key):
        """Values (never keys) of a parsed document, interpolated."""
        if isinstance(node, dict):
            return dict((k, self.tree(v, _join(key, k))) for k, v in node.items())
        if isinstance(node, list):
            return [self.tree(v, '%s[%d]' % (key, i)) for i, v in enumerate(node)]
        if isinstance(node, str):
            return self.text(node, key)
        return node


def _join(key, part):
    return '%s.%s' % (key, part) if key else str(part)


# -- dotenv files ----------------------------------------------------------------------------------------------

def _unquote_double(value):
    out, i = [], 0
    escapes = {'n': '\n', 't': '\t', 'r': '\r', '"': '"', '\\': '\\', '$': '$$'}
    while i < len(value):
        if value[i] == '\\' and i + 1 < len(value) and value[i + 1] in escapes:
            out.append(escapes[value[i + 1]])
            i += 2
        else:
            out.append(value[i])
            i += 1
    return ''.join(out)


def _dotenv_value(raw):
    """(text, interpolate?) of the value part of a KEY=value line."""
    value = raw.strip()
    if len(value) >= 2 and value[0] == "'" and value.rfind("'") > 0:
        return value[1:value.rfind("'")], False
    if len(value) >= 2 and value[0] == '"' and value.rfind('"') > 0:
        return _unquote_double(value[1:value.rfind('"')]), True
    return re.split(r'\s+#', value, maxsplit=1)[0].rstrip(), True


def parse_dotenv(text, env, source):
    """KEY=value lines of an env file (compose's dotenv format) as a dict; values interpolated from env and the
    file's own earlier lines. A bare KEY takes its value from env (and is left out when env lacks it)."""
    out = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if line.startswith('export '):
            line = line[len('export '):].lstrip()
        if not line or line.startswith('#'):
            continue
        name, sep, raw = line.partition('=')
        name = name.strip()
        if not ENV_NAME_RE.match(name):
            raise ComposeError(source, 'line %d' % lineno, 'not a KEY=value line: %r is no variable name' % name)
        if not sep:
            if name in env:
                out[name] = env[name]
            continue
        value, interpolate = _dotenv_value(raw)
        scope = dict(out, **env)
        out[name] = Interpolator(scope, source).text(value, 'line %d' % lineno) if interpolate else value
    return out


def read_text(path, source, key):
    try:
        with open(path, 'rb') as handle:
            return handle.read().decode('utf-8')
    except (IOError, OSError) as exc:
        raise ComposeError(source, key, 'cannot read %s: %s' % (path, exc.strerror or exc))
    except UnicodeDecodeError:
        raise ComposeError(source, key, '%s is not UTF-8 text' % path)


# -- names, durations, small conversions ----------------------------------------------------------------------

def stack_name_of(name):
    """A compose name (service, volume, secret, project) as a stack name: lowercase words joined by '-'."""
    out = re.sub(r'[^a-z0-9]+', '-', str(name).lower()).strip('-')
    if out and not out[0].isalpha():
        out = 's-' + out
    return out[:MAX_NAME].rstrip('-')


def duration_ms(value):
    """Milliseconds of a compose duration (1m30s, 10s, 500ms, 1.5s) or of a number of seconds; None if invalid."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value * 1000)
    text = str(value).strip()
    parts = DURATION_RE.findall(text)
    if not parts or ''.join(n + u for n, u in parts) != text:
        return None
    scale = {'us': 0.001, 'ms': 1, 's': 1000, 'm': 60000, 'h': 3600000}
    return int(round(sum(float(n) * scale[u] for n, u in parts)))


def duration_text(ms):
    """A duration in the one-unit form the stack schema takes (90s, 5m, 500ms)."""
    for unit, size in (('h', 3600000), ('m', 60000), ('s', 1000)):
        if ms and ms % size == 0:
            return '%d%s' % (ms // size, unit)
    return '%dms' % ms


def qualify_image(image):
    """Docker's implicit registry made explicit: podman does not assume docker.io for a short name."""
    first = image.split('/', 1)[0]
    if '/' in image and ('.' in first or ':' in first or first == 'localhost'):
        return image
    return 'docker.io/%s' % (image if '/' in image else 'library/' + image)


def scalar_text(value):
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return '' if value is None else str(value)


def is_secret(name, value):
    """Secret-looking environment values: the collection's one policy (the masking policy of module_utils/_podman:
    by the variable's name, or a URL with user:password@; a NAME_FILE=/path is not a secret)."""
    return podman.secret_valued(name, value)


def find_cycle(deps):
    """One dependency cycle of {name: [deps]} as a path [a, b, a], or None."""
    state = {}

    def visit(node, path):
        state[node] = 'open'
        for dep in deps.get(node, []):
            if state.get(dep) == 'open':
                return path[path.index(dep):] + [dep]
            if dep not in state:
                found = visit(dep, path + [dep])
                if found:
                    return found
        state[node] = 'done'
        return None

    for node in deps:
        if node not in state:
            found = visit(node, [node])
            if found:
                return found
    return None


# -- the converter -----------------------------------------------------------------------------------------------

class Converter(object):
    """One conversion: the stack being built, the report, the secret values."""

    def __init__(self, source, base_dir, env, stack_name, profiles, bind_root):
        self.source, self.base_dir = source, base_dir
        self.interp = Interpolator(env, source)
        self.env = env
        self.stack_name, self.profiles, self.bind_root = stack_name, profiles, bind_root
        self.report, self.secret_values = [], {}
        self.stack = {'schema_version': 1, 'name': stack_name}
        self.secrets, self.volumes = {}, {}
        self.renames, self.volume_names, self.compose_secrets, self.compose_configs = {}, {}, {}, {}
        self.jobs, self.empty_secrets = set(), {}

    # report and errors
    def note(self, key, status, detail):
        self.report.append({'key': key, 'status': status, 'detail': detail})

    def renote(self, key, status, detail):
        """A key noted as mapped that a later key undoes: its notes (and those below it) become this one."""
        self.report = [e for e in self.report if e['key'] != key and not e['key'].startswith(key + '.')
                       and not e['key'].startswith(key + '[')]
        self.note(key, status, detail)

    def fail(self, key, reason):
        raise ComposeError(self.source, key, reason)

    def path(self, rel):
        return rel if os.path.isabs(rel) else os.path.join(self.base_dir or os.getcwd(), rel)

    # secrets
    def add_secret(self, name_hint, value):
        """The stack secret holding value, its name: one secret per distinct value (services that share a value
        in compose share it here too), and one per variable name for empty values (the deploy generates those)."""
        known = [n for n, v in self.secret_values.items() if v == value] if value else self.empty_secrets.get(name_hint)
        if known:
            return known[0] if isinstance(known, list) else known
        name, index = stack_name_of(name_hint) or 'secret', 2
        base = name
        while name in self.secrets:
            name, index = '%s-%d' % (base[:MAX_NAME - 3], index), index + 1
        self.secrets[name] = {}
        if value:
            self.secret_values[name] = value
        else:
            self.empty_secrets[name_hint] = name
        return name


def _as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _labels(value):
    if isinstance(value, dict):
        return [(str(k), scalar_text(v)) for k, v in value.items()]
    return [(name, val) for name, sep, val in (str(item).partition('=') for item in _as_list(value))]


# ---- environment ----

def _env_files(conv, svc, key):
    """The values of a service's env_file entries, read on the controller, in order (later files win)."""
    values = {}
    for index, entry in enumerate(_as_list(svc.get('env_file'))):
        entry_key = '%s.env_file[%d]' % (key, index) if isinstance(svc.get('env_file'), list) else key + '.env_file'
        path, required = (entry, True) if isinstance(entry, str) else (entry.get('path'), entry.get('required', True))
        if not isinstance(path, str) or not path:
            conv.fail(entry_key, 'an env_file entry is a path or {path, required}, got %r' % (entry,))
        full = conv.path(path)
        if not os.path.isfile(full):
            if required:
                conv.fail(entry_key, 'env file %s does not exist' % full)
            conv.note(entry_key, 'mapped', 'optional env file %s does not exist: nothing read' % path)
            continue
        found = parse_dotenv(read_text(full, conv.source, entry_key), conv.env, full)
        values.update(found)
        conv.note(entry_key, 'mapped', 'read on the controller (%s): %d variables inlined into environment or '
                  'secrets' % (path, len(found)))
    return values


def _environment_items(conv, svc, key):
    """(name, value or None, key) of the environment key, list or map form; None = take it from the environment."""
    env = svc.get('environment')
    if isinstance(env, dict):
        return [(str(k), None if v is None else scalar_text(v), '%s.environment.%s' % (key, k)) for k, v in env.items()]
    if isinstance(env, list):
        out = []
        for index, item in enumerate(env):
            name, sep, value = str(item).partition('=')
            out.append((name, value if sep else None, '%s.environment[%d]' % (key, index)))
        return out
    if env is not None:
        conv.fail(key + '.environment', 'environment is a list or a mapping, got %s' % type(env).__name__)
    return []


def _environment(conv, svc, key, out):
    values = _env_files(conv, svc, key)
    for name, value, item_key in _environment_items(conv, svc, key):
        if not ENV_NAME_RE.match(name):
            conv.note(item_key, 'unsupported', 'not a variable name the stack model takes: %r' % name)
            continue
        if value is None:
            if name not in conv.env:
                values.pop(name, None)
                conv.note(item_key, 'approximated', '%s has no value here and none in the environment: left unset, '
                          'as compose does' % name)
                continue
            value = conv.env[name]
        values[name] = value
    if svc.get('environment') is not None:
        conv.note(key + '.environment', 'mapped', 'environment (values as strings; secret-looking ones as secrets)')
    _split_secrets(conv, values, key, out)


def _split_secrets(conv, values, key, out):
    plain, refs = {}, []
    for name, value in values.items():
        if is_secret(name, value):
            secret = conv.add_secret(name, value)
            refs.append({'secret': secret, 'env': name})
            conv.note('%s.environment.%s' % (key, name), 'approximated',
                      'secret-looking value: a podman secret %s (stack secret %s) as $%s, its value in the secrets '
                      'file, not in the stack' % ('%s-%s' % (conv.stack_name, secret), secret, name))
        elif podman.secret_named(name) and value == '':
            secret = conv.add_secret(name, None)
            refs.append({'secret': secret, 'env': name})
            conv.note('%s.environment.%s' % (key, name), 'approximated',
                      'secret-looking name with an empty value: stack secret %s, generated by the deploy unless '
                      'stack_secrets gives it' % secret)
        else:
            plain[name] = value
    if plain:
        out['environment'] = plain
    out.setdefault('secrets', []).extend(refs)


# ---- ports ----

def _expand(text):
    low, sep, high = text.partition('-')
    return list(range(int(low), int(high or low) + 1))


def parse_port(text):
    """(ip, host, container, protocol) of compose's short port syntax [[IP:]HOST:]CONTAINER[/PROTOCOL], or None."""
    text, sep, proto = str(text).strip().partition('/')
    if sep and proto not in ('tcp', 'udp', 'sctp'):
        return None
    ip = None
    if text.startswith('['):
        ip, sep, text = text.partition(']:')
        ip = ip + ']'
    parts = text.split(':')
    if ip is None and len(parts) == 3:
        ip, parts = parts[0], parts[1:]
    if len(parts) > 2 or (ip is not None and len(parts) != 2):
        return None
    host, container = (parts[0] or None, parts[1]) if len(parts) == 2 else (None, parts[0])
    if (ip and not IP_RE.match(ip)) or not PORT_NUMBERS_RE.match(container) or (host and not PORT_NUMBERS_RE.match(host)):
        return None
    return ip or None, host, container, proto or None


def _port_short(conv, item, key):
    parsed = parse_port(item)
    if parsed is None:
        conv.note(key, 'unsupported', 'not a port mapping: %r' % (item,))
        return []
    ip, host, container, proto = parsed
    if not host:
        conv.note(key, 'unsupported', 'container port %s without a host port (compose picks a random one): '
                  'nothing published; other services of the stack reach it anyway' % container)
        return []
    return _publish(conv, ip, host, container, proto, key)


def _port_long(conv, item, key):
    target, published = item.get('target'), item.get('published')
    for extra in sorted(set(item) - {'target', 'published', 'host_ip', 'protocol', 'mode', 'name', 'app_protocol'}):
        conv.note('%s.%s' % (key, extra), 'unsupported', 'not a port option')
    for extra in ('mode', 'name', 'app_protocol'):
        if extra in item:
            conv.note('%s.%s' % (key, extra), 'unsupported', 'no %s for a published port in the stack model' % extra)
    if target is None or published in (None, ''):
        conv.note(key, 'unsupported', 'no published host port: nothing published (the stack network reaches it)')
        return []
    ip = item.get('host_ip')
    return _publish(conv, '[%s]' % ip if ip and ':' in ip else ip, str(published), str(target), item.get('protocol'), key)


def _publish(conv, ip, host, container, proto, key):
    hosts, containers = _expand(host), _expand(container)
    if len(hosts) != len(containers):
        conv.note(key, 'unsupported', 'host range %s and container range %s differ in size' % (host, container))
        return []
    if proto == 'sctp':
        conv.note(key, 'unsupported', 'sctp is not published by the stack model (tcp, udp)')
        return []
    out = ['%s%d:%d%s' % (ip + ':' if ip else '', h, c, '/' + proto if proto else '') for h, c in zip(hosts, containers)]
    conv.note(key, 'mapped', 'publish %s' % ', '.join(out))
    return out


def _ports(conv, svc, key, out):
    publish = []
    for index, item in enumerate(_as_list(svc['ports'])):
        item_key = '%s.ports[%d]' % (key, index)
        publish += _port_long(conv, item, item_key) if isinstance(item, dict) else _port_short(conv, item, item_key)
    if publish:
        out['publish'] = publish


# ---- volumes ----

def _is_path(source):
    return source.startswith(('/', './', '../', '~')) or source in ('.', '..')


def _volume_short(text):
    """(source, target, options) of SRC:TGT[:OPTS] / TGT; options as a list."""
    parts = text.split(':')
    if len(parts) == 1:
        return None, parts[0], []
    if len(parts) == 2 and parts[1].startswith('/'):
        return parts[0], parts[1], []
    if len(parts) == 2:
        return None, parts[0], parts[1].split(',')  # TGT:OPTS (anonymous)
    return parts[0], parts[1], ':'.join(parts[2:]).split(',')


def _volume_long(conv, item, key):
    kind = item.get('type', 'volume')
    options = ['ro'] if item.get('read_only') else []
    selinux = (item.get('bind') or {}).get('selinux')
    if selinux:
        options.append(selinux)
    for extra in sorted(set(item) - {'type', 'source', 'target', 'read_only', 'bind', 'volume', 'tmpfs', 'consistency'}):
        conv.note('%s.%s' % (key, extra), 'unsupported', 'not a volume option of the stack model')
    for sub in ('volume', 'consistency'):
        if sub in item:
            conv.note('%s.%s' % (key, sub), 'unsupported', 'volume %s options (nocopy, subpath) have no stack key' % sub
                      if sub == 'volume' else 'consistency is a Docker Desktop option')
    bind = dict(item.get('bind') or {})
    bind.pop('selinux', None)
    if bind:
        conv.note(key + '.bind', 'unsupported', 'bind options %s have no stack key (selinux is mapped)'
                  % ', '.join(sorted(bind)))
    return kind, item.get('source'), item.get('target'), options, item.get('tmpfs') or {}


def _volume(conv, item, key, svc_name, index, out):
    if isinstance(item, dict):
        kind, source, target, options, tmpfs = _volume_long(conv, item, key)
    else:
        source, target, options = _volume_short(str(item))
        kind, tmpfs = ('bind' if source and _is_path(source) else 'volume'), {}
    if not target or not str(target).startswith('/'):
        conv.fail(key, 'a volume needs an absolute target in the container, got %r' % (item,))
    if kind == 'tmpfs':
        return _tmpfs_volume(conv, target, tmpfs, key, out)
    mode = 'ro' if 'ro' in options or 'readonly' in options else 'rw'
    selinux = 'Z' if 'Z' in options else ('z' if 'z' in options else None)
    rest = [o for o in options if o not in ('ro', 'rw', 'readonly', 'z', 'Z', '')]
    if rest:
        conv.note(key, 'approximated', 'mount options %s dropped (the stack model takes mode and selinux)'
                  % ', '.join(rest))
    if kind == 'bind':
        return _bind(conv, source, target, mode, selinux, key, svc_name, out)
    if kind != 'volume':
        conv.note(key, 'unsupported', 'volume type %s is not in the stack model' % kind)
        return
    _named_volume(conv, source, target, mode, selinux, key, svc_name, index, out)


def _tmpfs_volume(conv, target, tmpfs, key, out):
    opts = []
    if tmpfs.get('size') is not None:
        opts.append('size=%s' % tmpfs['size'])
    if tmpfs.get('mode') is not None:
        opts.append('mode=%o' % tmpfs['mode'] if isinstance(tmpfs['mode'], int) else 'mode=%s' % tmpfs['mode'])
    out.setdefault('tmpfs', []).append(target + (':' + ','.join(opts) if opts else ''))
    conv.note(key, 'mapped', 'tmpfs %s' % target)


def _named_volume(conv, source, target, mode, selinux, key, svc_name, index, out):
    if source is None:
        name = stack_name_of('%s-data-%d' % (svc_name, index))
        conv.volumes.setdefault(name, {'description': 'anonymous volume of %s at %s' % (svc_name, target)})
        conv.note(key, 'approximated', 'anonymous volume: the named volume %s (kept across re-creation; compose makes '
                  'a new one for a new container)' % name)
    else:
        if source not in conv.volume_names:
            conv.fail(key, 'named volume %r is not declared in the top-level volumes' % source)
        name = conv.volume_names[source]
        conv.note(key, 'mapped', 'named volume %s at %s' % (name, target))
    entry = {'volume': name, 'target': target}
    if mode == 'ro':
        entry['mode'] = 'ro'
    if selinux:
        conv.note(key, 'approximated', ':%s dropped: a named volume of the stack needs no relabel' % selinux)
    out.setdefault('volumes', []).append(entry)


def _host_path(conv, source):
    """The host path of a bind source: relative ones under the bind root; (path, approximated detail or None)."""
    if source.startswith('/'):
        path = posixpath.normpath(source)
        return ('/' + path.lstrip('/')), None
    rel = source[1:].lstrip('/') if source.startswith('~') else source
    parts = [p for p in posixpath.normpath(rel).split('/') if p not in ('..', '.', '')]
    path = posixpath.join(conv.bind_root, *parts) if parts else conv.bind_root
    return path, ('relative path %s: the host path %s (bind_root; the import copies no data: put what %s held '
                  'there)' % (source, path, source))


def _bind(conv, source, target, mode, selinux, key, svc_name, out):
    if posixpath.normpath(source) in DOCKER_SOCKETS:
        conv.note(key, 'unsupported', 'the Docker socket is not mounted: a container with it controls the host\'s '
                  'containers (and podman has its own socket)')
        return
    local = None if source.startswith(('/', '~')) else conv.path(source)
    if local and os.path.isfile(local):
        return _file_as_config(conv, source, local, target, mode, key, out)
    path, detail = _host_path(conv, source)
    entry = {'path': path, 'target': target, 'mode': mode}
    if selinux:
        entry['selinux'] = selinux
    out.setdefault('volumes', []).append(entry)
    if detail:
        conv.note(key, 'approximated', detail)
    elif _allowed_by_default(path, mode):
        conv.note(key, 'mapped', 'host path %s at %s (%s)' % (path, target, mode))
    else:
        conv.note(key, 'approximated', 'host path %s at %s (%s): outside the default bind roots (%s) and read-only '
                  'host paths (%s): the deploy refuses it unless the deployment allows it'
                  % (path, target, mode, ', '.join(DEFAULT_BIND_ROOTS), ', '.join(DEFAULT_READONLY)))


def _under(path, root):
    return path == root or path.startswith(root.rstrip('/') + '/')


def _allowed_by_default(path, mode):
    """What the deploy's bind mount policy allows with its default roots (stack_bind_roots, stack_bind_readonly)."""
    if mode == 'ro' and any(_under(path, ro) for ro in DEFAULT_READONLY):
        return True
    return any(_under(path, root) for root in DEFAULT_BIND_ROOTS)


def _file_as_config(conv, source, local, target, mode, key, out):
    if os.path.getsize(local) > MAX_CONFIG_BYTES:
        conv.note(key, 'unsupported', 'the file %s is larger than %d bytes: not shipped as a config file'
                  % (source, MAX_CONFIG_BYTES))
        return
    content = read_text(local, conv.source, key)
    out.setdefault('configs', []).append({'target': target, 'content': content, 'mode': '0444'})
    conv.note(key, 'approximated', 'the file %s beside the compose file: shipped as a config file, mounted read-only '
              '(%s): changes the container writes to it are not kept' % (source, 'as compose' if mode == 'ro' else 'compose: rw'))


def _volumes(conv, svc, key, svc_name, out):
    for index, item in enumerate(_as_list(svc['volumes'])):
        _volume(conv, item, '%s.volumes[%d]' % (key, index), svc_name, index, out)


# ---- healthcheck ----

def _health_test(conv, test, key):
    """The stack's cmd of a compose test: a string, or 'none'; None for the image's own; False if not mappable."""
    if isinstance(test, list) and test:
        head, args = str(test[0]).upper(), [str(a) for a in test[1:]]
        if head == 'NONE':
            return 'none'
        if head == 'CMD' and args:
            conv.note(key + '.test', 'approximated', 'CMD form as the shell line %s: podman runs a string health '
                      'command with /bin/sh -c, so the image needs a shell' % shlex.join(args))
            return shlex.join(args)
        if head == 'CMD-SHELL' and args:
            conv.note(key + '.test', 'mapped', 'CMD-SHELL: run by the shell as compose does')
            return ' '.join(args)
        conv.note(key + '.test', 'unsupported', 'a test list starts with NONE, CMD or CMD-SHELL and has a command')
        return False
    if isinstance(test, str) and test.strip():
        conv.note(key + '.test', 'mapped', 'a string test runs in the shell (CMD-SHELL), as compose does')
        return test
    conv.note(key + '.test', 'unsupported', 'not a test: %r' % (test,))
    return False


def _health_timings(conv, health, key, out):
    for field in ('interval', 'timeout', 'start_period'):
        if field in health:
            ms = duration_ms(health[field])
            if ms is None or ms <= 0:
                conv.note('%s.%s' % (key, field), 'unsupported', 'not a duration: %r' % (health[field],))
            else:
                out[field] = duration_text(ms)
                conv.note('%s.%s' % (key, field), 'mapped', out[field])
    if 'retries' in health:
        retries = health['retries']
        if isinstance(retries, int) and not isinstance(retries, bool) and retries >= 1:
            out['retries'] = retries
            conv.note(key + '.retries', 'mapped', str(retries))
        else:
            conv.note(key + '.retries', 'unsupported', 'retries is a number of at least 1, got %r' % (retries,))
    for extra in sorted(set(health) - {'test', 'interval', 'timeout', 'start_period', 'retries', 'disable'}):
        conv.note('%s.%s' % (key, extra), 'unsupported', 'no %s in the stack healthcheck' % extra)


def _healthcheck(conv, svc, key, out):
    health, key = svc['healthcheck'], key + '.healthcheck'
    if not isinstance(health, dict):
        conv.fail(key, 'healthcheck is a mapping, got %s' % type(health).__name__)
    if health.get('disable') is True:
        out['healthcheck'] = 'none'
        conv.note(key, 'mapped', "disable: true -> healthcheck: none (the image's check does not run either)")
        return
    cmd = _health_test(conv, health['test'], key) if 'test' in health else None
    if cmd is False:
        return
    if cmd == 'none':
        out['healthcheck'] = 'none'
        conv.note(key, 'mapped', 'test NONE -> healthcheck: none')
        return
    if cmd is not None and ('\n' in cmd or '\r' in cmd):
        conv.note(key + '.test', 'unsupported', 'a health command of several lines: put it in a script in the image')
        return
    timings = {}
    _health_timings(conv, health, key, timings)
    if cmd is None and not timings:
        conv.note(key, 'mapped', "no test: the image's own HEALTHCHECK (healthcheck omitted)")
        return
    out['healthcheck'] = dict({'cmd': cmd}, **timings)
    conv.note(key, 'mapped', 'healthcheck' if cmd else "the image's own command with these timings (cmd: null)")


# ---- depends_on ----

def _depends_items(conv, svc, key):
    deps = svc['depends_on']
    if isinstance(deps, list):
        return [(str(d), {'condition': 'service_started'}, '%s.depends_on[%d]' % (key, i)) for i, d in enumerate(deps)]
    if isinstance(deps, dict):
        return [(str(d), spec or {}, '%s.depends_on.%s' % (key, d)) for d, spec in deps.items()]
    conv.fail(key + '.depends_on', 'depends_on is a list or a mapping, got %s' % type(deps).__name__)


def _dependency_note(conv, dep, spec, item_key):
    condition = spec.get('condition', 'service_started')
    if condition == 'service_healthy':
        conv.note(item_key, 'mapped', 'after %s is healthy' % dep)
    elif condition == 'service_completed_successfully':
        conv.note(item_key, 'mapped', 'after %s exited 0: %s is a job (kind: job)' % (dep, dep))
    elif condition == 'service_started':
        conv.note(item_key, 'approximated', 'compose starts it once %s has started; the stack waits until %s is healthy '
                  '(running, when no healthcheck runs)' % (dep, dep))
    else:
        conv.note(item_key, 'unsupported', 'unknown condition %r: waited on as healthy' % condition)
    for extra in sorted(set(spec) - {'condition', 'restart', 'required'}):
        conv.note('%s.%s' % (item_key, extra), 'unsupported', 'not a depends_on option')
    if 'restart' in spec:
        conv.note(item_key + '.restart', 'mapped', 'a restart of %s restarts this service (Requires=)' % dep)


def _depends_on(conv, svc, key, out, services):
    deps = []
    for dep, spec, item_key in _depends_items(conv, svc, key):
        if dep not in services:
            if spec.get('required') is False:
                conv.note(item_key, 'mapped', 'optional dependency %s is not imported (inactive profile or absent)' % dep)
                continue
            reason = ('in profiles %s, none of them active' % ', '.join(services.inactive[dep])
                      if dep in services.inactive else 'no such service')
            conv.fail(item_key, 'depends on %r: %s' % (dep, reason))
        _dependency_note(conv, dep, spec, item_key)
        if spec.get('required') is False:
            conv.note(item_key + '.required', 'approximated', 'required: false: the stack always needs %s' % dep)
        deps.append(conv.renames[dep])
    if deps:
        out['depends_on'] = deps


# ---- traefik labels ----

def _route(conv, labels, key, svc, out):
    routers, ports, rest = {}, {}, []
    for name, value in labels:
        parts = name.split('.')
        if name.startswith('traefik.http.routers.') and len(parts) >= 5:
            routers.setdefault(parts[3], {})['.'.join(parts[4:])] = value
        elif name.startswith('traefik.http.services.') and name.endswith('.loadbalancer.server.port'):
            ports[parts[3]] = value
        rest.append((name, value))
    hosts = [(r, HOST_RULE_RE.search(spec.get('rule', ''))) for r, spec in routers.items()]
    hosts = [(r, m.group(1)) for r, m in hosts if m]
    used = set()
    if hosts:
        router, hostname = hosts[0]
        used = _route_from(conv, router, hostname, routers[router], ports, svc, key, out)
    for name, value in rest:
        label_key = '%s.labels.%s' % (key, name)
        if name in used:
            continue
        if name == 'traefik.enable' and 'route' in out:
            conv.note(label_key, 'mapped', 'a service with a route is routed through Traefik')
        elif name.startswith('traefik.'):
            conv.note(label_key, 'unsupported', 'Traefik label not imported (the route takes a hostname, port, path '
                      'prefix and middlewares of this collection\'s Traefik)')
        elif name.startswith(LABEL_PREFIX + '.'):
            conv.note(label_key, 'unsupported', 'the %s. labels are the deploy\'s own' % LABEL_PREFIX)
        elif not LABEL_NAME_RE.match(name):
            conv.note(label_key, 'unsupported', 'not a label name the stack model takes: %r' % name)
        else:
            out.setdefault('labels', {})[name] = value
            conv.note(label_key, 'mapped', 'container label')


def _route_port(ports, router_spec, svc):
    service = router_spec.get('service')
    if service in ports:
        return ports[service]
    if len(ports) == 1:
        return list(ports.values())[0]
    expose = [str(p).split('/', maxsplit=1)[0] for p in _as_list(svc.get('expose'))]
    return expose[0] if len(expose) == 1 else None


def _route_from(conv, router, hostname, spec, ports, svc, key, out):
    base = 'traefik.http.routers.%s.' % router
    port = _route_port(ports, spec, svc)
    if port is None or not str(port).isdigit():
        conv.note('%s.labels.%srule' % (key, base), 'unsupported', 'route to %s not imported: no port (Traefik would '
                  'take the image\'s EXPOSE, which is not known here): add route: {hostname: %s, port: PORT}'
                  % (hostname, hostname))
        return {base + 'rule'}
    route = {'hostname': hostname, 'port': int(port), 'public': True}
    path = PATH_RULE_RE.search(spec.get('rule', ''))
    if path:
        route['path_prefix'] = path.group(1)
    out['route'] = route
    conv.note('%s.labels.%srule' % (key, base), 'approximated', 'route %s -> port %s, public: true: the deploy '
              'refuses it until you add an authentication middleware (authelia@file) to route.middlewares, or '
              'auth: none with auth_reason for an app with its own login, or set public: false (LAN only). '
              'Entry points and middlewares of the labels are not imported'
              % (hostname + route.get('path_prefix', ''), port))
    used = {base + 'rule'} | set('traefik.http.services.%s.loadbalancer.server.port' % s for s in ports)
    for name in sorted(used - {base + 'rule'}):
        conv.note('%s.labels.%s' % (key, name), 'mapped', 'route port %s' % port)
    return used | _route_tls(conv, base, spec, route, key)


def _route_tls(conv, base, spec, route, key):
    """The router's tls and tls.certresolver labels as the route's tls (served on the traefik role's TLS entry
    points, HTTP redirected to it); the resolver must be one of the traefik role's traefik_cert_resolvers."""
    resolver = spec.get('tls.certresolver')
    enabled = str(spec.get('tls', '')).lower() == 'true'
    used = set()
    if resolver:
        route['tls'] = {'resolver': str(resolver)}
        used.add(base + 'tls.certresolver')
        conv.note('%s.labels.%stls.certresolver' % (key, base), 'mapped',
                  'route tls: {resolver: %s} (define it in the traefik role\'s traefik_cert_resolvers)' % resolver)
    elif enabled:
        route['tls'] = True
    if 'tls' in spec:
        used.add(base + 'tls')
        conv.note('%s.labels.%stls' % (key, base), 'mapped', 'route tls (HTTPS, HTTP redirected)'
                  if 'tls' in route else 'tls is not true: plain HTTP')
    return used


# ---- secrets and configs of a service ----

def _service_secrets(conv, svc, key, out):
    refs = []
    for index, item in enumerate(_as_list(svc['secrets'])):
        item_key = '%s.secrets[%d]' % (key, index)
        source = item if isinstance(item, str) else (item or {}).get('source')
        if source not in conv.compose_secrets:
            conv.fail(item_key, 'secret %r is not declared in the top-level secrets' % (source,))
        target = source if isinstance(item, str) else item.get('target') or source
        target = target if str(target).startswith('/') else '/run/secrets/%s' % target
        refs.append({'secret': conv.compose_secrets[source], 'file': target})
        conv.note(item_key, 'mapped', 'podman secret %s-%s at %s' % (conv.stack_name, conv.compose_secrets[source], target))
        for extra in sorted(set(item) - {'source', 'target'} if isinstance(item, dict) else []):
            conv.note('%s.%s' % (item_key, extra), 'unsupported', 'podman mounts secrets 0444 root; no %s' % extra)
    out.setdefault('secrets', []).extend(refs)


def _service_configs(conv, svc, key, out):
    for index, item in enumerate(_as_list(svc['configs'])):
        item_key = '%s.configs[%d]' % (key, index)
        source = item if isinstance(item, str) else (item or {}).get('source')
        if source not in conv.compose_configs:
            conv.fail(item_key, 'config %r is not declared in the top-level configs' % (source,))
        content = conv.compose_configs[source]
        if content is None:
            conv.note(item_key, 'unsupported', 'config %s has no content the import can read' % source)
            continue
        target = source if isinstance(item, str) else item.get('target') or source
        target = target if str(target).startswith('/') else '/' + str(target)
        mode = item.get('mode') if isinstance(item, dict) else None
        mode = '0%o' % mode if isinstance(mode, int) else (str(mode) if mode else '0444')
        out.setdefault('configs', []).append({'target': target, 'content': content, 'mode': mode})
        conv.note(item_key, 'mapped', 'config file at %s (mode %s)' % (target, mode))
        for extra in sorted(set(item) - {'source', 'target', 'mode'} if isinstance(item, dict) else []):
            conv.note('%s.%s' % (item_key, extra), 'unsupported', 'the config file is owned by root; no %s' % extra)


# ---- the other service keys ----

def _image(conv, svc, key, out):
    image = svc['image']
    if not isinstance(image, str) or not image.strip():
        conv.fail(key + '.image', 'image is empty')
    out['image'] = qualify_image(image.strip())
    problem = _render.image_reference_problem(out['image'])
    if problem:  # a placeholder of the docs (gitea/gitea:@version@) would fail only at the pull
        conv.fail(key + '.image', problem + ': set the image the service should run')
    status = 'mapped' if out['image'] == image else 'approximated'
    conv.note(key + '.image', status, out['image'] if status == 'mapped' else
              '%s (the short name qualified with Docker Hub, which compose assumes and podman does not)' % out['image'])


def _pull(conv, svc, key, out):
    policy = str(svc['pull_policy'])
    mapping = {'always': 'always', 'missing': 'missing', 'if_not_present': 'missing', 'never': 'never'}
    if policy in mapping:
        out['pull'] = mapping[policy]
        conv.note(key + '.pull_policy', 'mapped', 'pull: %s' % out['pull'])
    elif policy in ('daily', 'weekly') or policy.startswith('every_'):
        out['pull'] = 'newer'
        conv.note(key + '.pull_policy', 'approximated', 'pull: newer (checked on every deploy, not %s)' % policy)
    else:
        conv.note(key + '.pull_policy', 'unsupported', 'pull policy %s: the stack deploys images, it builds none' % policy)


def _restart(conv, svc, key, out, name):
    policy = str(svc['restart'])
    if name in conv.jobs:
        conv.note(key + '.restart', 'mapped', 'a job (kind: job) is never restarted')
    elif policy in ('always', 'no'):
        out['restart'] = policy
        conv.note(key + '.restart', 'mapped', 'restart: %s' % policy)
    elif policy == 'unless-stopped':
        out['restart'] = 'always'
        conv.note(key + '.restart', 'approximated', 'restart: always (systemd has no "unless stopped": a service '
                  'stopped with systemctl stays stopped until the next boot or deploy)')
    elif policy.startswith('on-failure'):
        out['restart'] = 'on-failure'
        conv.note(key + '.restart', 'approximated' if ':' in policy else 'mapped',
                  'restart: on-failure' + (' (no limit of attempts)' if ':' in policy else ''))
    else:
        conv.note(key + '.restart', 'unsupported', 'unknown restart policy %r' % policy)


def _command(conv, svc, key, out):
    command = svc['command']
    if isinstance(command, list):
        out['command'] = [scalar_text(c) for c in command]
        conv.note(key + '.command', 'mapped', 'command (exec form, word for word)')
    elif command is not None:
        out['command'] = scalar_text(command)
        conv.note(key + '.command', 'mapped', 'command')


def _entrypoint(conv, svc, key, out):
    entry = svc['entrypoint']
    words = [scalar_text(e) for e in entry] if isinstance(entry, list) else shlex.split(scalar_text(entry))
    if not words:
        conv.note(key + '.entrypoint', 'unsupported', "an empty entrypoint (no entrypoint at all) has no stack form")
        return
    out['entrypoint'] = words[0] if len(words) == 1 else words
    conv.note(key + '.entrypoint', 'mapped', 'entrypoint')


def _user(conv, svc, key, out):
    user = scalar_text(svc['user'])
    if USER_RE.match(user):
        out['user'] = user
        conv.note(key + '.user', 'mapped', 'user %s' % user)
    else:
        conv.note(key + '.user', 'unsupported', 'not a user[:group] the stack model takes: %r' % user)


def _flag(field):
    def handle(conv, svc, key, out):
        value = svc[field]
        if isinstance(value, bool):
            out[field] = value
            conv.note('%s.%s' % (key, field), 'mapped', '%s: %s' % (field, str(value).lower()))
        else:
            conv.note('%s.%s' % (key, field), 'unsupported', 'not a boolean: %r' % (value,))
    return handle


def _tmpfs(conv, svc, key, out):
    for index, item in enumerate(_as_list(svc['tmpfs'])):
        if str(item).startswith('/'):
            out.setdefault('tmpfs', []).append(str(item))
        else:
            conv.note('%s.tmpfs[%d]' % (key, index), 'unsupported', 'not an absolute path: %r' % (item,))
    conv.note(key + '.tmpfs', 'mapped', 'tmpfs')


def _devices(conv, svc, key, out):
    for index, item in enumerate(_as_list(svc['devices'])):
        item_key = '%s.devices[%d]' % (key, index)
        text = item if isinstance(item, str) else None
        if text and text.startswith('/dev/'):
            out.setdefault('devices', []).append(text)
            conv.note(item_key, 'mapped', 'device %s' % text)
        else:
            conv.note(item_key, 'unsupported', 'only host device nodes (/dev/...) are passed in, not %r' % (item,))


def _capabilities(field, target):
    def handle(conv, svc, key, out):
        for index, cap in enumerate(_as_list(svc[field])):
            name = str(cap).upper()
            name = name if name == 'ALL' or name.startswith('CAP_') else 'CAP_' + name
            if name == 'ALL' and target == 'add_capabilities':
                conv.note('%s.%s[%d]' % (key, field, index), 'unsupported', 'adding ALL capabilities is privileged')
                continue
            out.setdefault(target, []).append(name)
        conv.note('%s.%s' % (key, field), 'mapped', '%s (CAP_ names)' % target)
    return handle


def _security_opt(conv, svc, key, out):
    for index, opt in enumerate(_as_list(svc['security_opt'])):
        item_key = '%s.security_opt[%d]' % (key, index)
        name, sep, value = str(opt).replace('=', ':', 1).partition(':')
        if name == 'no-new-privileges':
            out['no_new_privileges'] = value.lower() != 'false'
            conv.note(item_key, 'mapped', 'no_new_privileges: %s' % str(out['no_new_privileges']).lower())
        else:
            conv.note(item_key, 'unsupported', 'security option %s has no stack key' % opt)


def _stop_grace(conv, svc, key, out):
    ms = duration_ms(svc['stop_grace_period'])
    if ms is None:
        conv.note(key + '.stop_grace_period', 'unsupported', 'not a duration: %r' % (svc['stop_grace_period'],))
        return
    seconds = min(600, max(1, (ms + 999) // 1000))
    out['stop_timeout'] = seconds
    exact = seconds * 1000 == ms
    conv.note(key + '.stop_grace_period', 'mapped' if exact else 'approximated', 'stop_timeout: %d seconds' % seconds)


def _pairs_of(value, separators='='):
    """A compose mapping, or list of 'key<sep>value' items, as (key, value) pairs."""
    if isinstance(value, dict):
        return [(str(k), scalar_text(v)) for k, v in value.items()]
    pairs = []
    for item in _as_list(value):
        text = str(item)
        cut = min([text.find(s) for s in separators if s in text] or [-1])
        pairs.append((text, None) if cut < 0 else (text[:cut], text[cut + 1:]))
    return pairs


def _shm_size(conv, svc, key, out):
    value = svc['shm_size']
    match = SIZE_RE.match(scalar_text(value).strip()) if not isinstance(value, bool) else None
    if not match:
        conv.note(key + '.shm_size', 'unsupported', 'not a size: %r' % (value,))
        return
    out['shm_size'] = match.group(1) + match.group(2).lower()
    conv.note(key + '.shm_size', 'mapped', 'shm_size: %s' % out['shm_size'])


def _ulimit(value):
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, dict) and set(value) == {'soft', 'hard'} and all(
            isinstance(v, int) and not isinstance(v, bool) for v in value.values()):
        return {'soft': value['soft'], 'hard': value['hard']}
    return None


def _ulimits(conv, svc, key, out):
    value = svc['ulimits']
    if not isinstance(value, dict):
        conv.note(key + '.ulimits', 'unsupported', 'ulimits are a mapping, got %r' % (value,))
        return
    for name, limit in value.items():
        item_key = '%s.ulimits.%s' % (key, name)
        parsed = _ulimit(limit)
        if name not in ULIMITS or parsed is None:
            conv.note(item_key, 'unsupported', 'not a ulimit the stack model takes (%s; a number or soft and hard)'
                      % ', '.join(ULIMITS))
            continue
        out.setdefault('ulimits', {})[str(name)] = parsed
        conv.note(item_key, 'mapped', 'ulimit %s' % name)


def _sysctls(conv, svc, key, out):
    for name, value in _pairs_of(svc['sysctls']):
        item_key = '%s.sysctls.%s' % (key, name)
        if value is None or not SYSCTL_RE.match(name) or not value.strip():
            conv.note(item_key, 'unsupported', 'only namespaced sysctls with a value are set in a container '
                      '(net.*, kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*)')
            continue
        out.setdefault('sysctls', {})[name] = value.strip()
        conv.note(item_key, 'mapped', 'sysctl %s' % name)


def _extra_hosts(conv, svc, key, out):
    for index, (name, address) in enumerate(_pairs_of(svc['extra_hosts'], '=:')):
        item_key = '%s.extra_hosts[%d]' % (key, index)
        address = (address or '').strip().strip('[]')
        if not HOSTNAME_RE.match(name) or not ADDRESS_RE.match(address):
            conv.note(item_key, 'unsupported', 'not a host name and IP address: %r' % ('%s:%s' % (name, address),))
            continue
        out.setdefault('extra_hosts', {})[name] = address
        conv.note(item_key, 'mapped', 'extra host %s' % name)


def _word_list(field, target, pattern):
    def handle(conv, svc, key, out):
        for index, item in enumerate(_as_list(svc[field])):
            text = scalar_text(item)
            if re.match(pattern, text):
                out.setdefault(target, []).append(text)
            else:
                conv.note('%s.%s[%d]' % (key, field, index), 'unsupported', 'not a value the stack model takes: %r' % text)
        conv.note('%s.%s' % (key, field), 'mapped', target)
    return handle


def _mapping(field):
    def handle(conv, svc, key, out):
        for name, value in _pairs_of(svc[field]):
            if not LABEL_NAME_RE.match(name) or value is None:
                conv.note('%s.%s.%s' % (key, field, name), 'unsupported', 'not a key=value the stack model takes')
                continue
            out.setdefault(field, {})[name] = value
        conv.note('%s.%s' % (key, field), 'mapped', field)
    return handle


def _working_dir(conv, svc, key, out):
    path = scalar_text(svc['working_dir'])
    if path.startswith('/') and '\n' not in path:
        out['working_dir'] = path
        conv.note(key + '.working_dir', 'mapped', 'working_dir %s' % path)
    else:
        conv.note(key + '.working_dir', 'unsupported', 'not an absolute path: %r' % path)


def _stop_signal(conv, svc, key, out):
    text = scalar_text(svc['stop_signal']).upper()
    match = SIGNAL_RE.match(text)
    if not match:
        conv.note(key + '.stop_signal', 'unsupported', 'not a signal: %r' % text)
        return
    out['stop_signal'] = text if text.isdigit() or text.startswith('SIG') else 'SIG' + text
    conv.note(key + '.stop_signal', 'mapped', 'stop_signal %s' % out['stop_signal'])


def _network_mode(conv, svc, key, out):
    mode = scalar_text(svc['network_mode'])
    if mode in ('host', 'none'):
        out['network_mode'] = mode
        conv.note(key + '.network_mode', 'mapped', 'network_mode %s' % mode)
    elif mode in ('bridge', 'default'):
        conv.note(key + '.network_mode', 'approximated', 'the service joins the stack network')
    else:
        conv.note(key + '.network_mode', 'unsupported', 'network_mode %s: only host and none (or the stack network)'
                  % mode)


def _privileged(conv, svc, key, out):
    if svc['privileged'] is True:
        out['privileged'] = True
        conv.note(key + '.privileged', 'mapped', 'privileged: the deploy refuses it unless stack_allow_privileged is '
                  'true; prefer add_capabilities and devices')
    elif svc['privileged'] is False:
        conv.note(key + '.privileged', 'mapped', 'not privileged')
    else:
        conv.note(key + '.privileged', 'unsupported', 'not a boolean: %r' % (svc['privileged'],))


def _off_network(conv, key, out):
    """What the stack model refuses beside network_mode, dropped with why (compose ignores ports there too)."""
    mode = out.get('network_mode')
    if not mode:
        return
    if out.pop('route', None):
        conv.note(key + '.labels', 'unsupported', _render.NETWORK_MODE_UNROUTED % mode)  # its labels keep their notes
    for field, why in _render.NETWORK_MODE_CONFLICTS:
        if out.pop(field, None):
            compose_key = {'publish': 'ports', 'dns_options': 'dns_opt'}.get(field, field)
            conv.renote('%s.%s' % (key, compose_key), 'unsupported', why % mode)
    if mode == 'host':
        for name in [n for n in out.get('sysctls', {}) if n.startswith('net.')]:
            del out['sysctls'][name]
            conv.renote('%s.sysctls.%s' % (key, name), 'unsupported', _render.HOST_NET_SYSCTLS)


def _labels_key(conv, svc, key, out):
    _route(conv, _labels(svc['labels']), key, svc, out)


def _networks(conv, svc, key, out):
    conv.note(key + '.networks', 'approximated', 'one network per stack: every service reaches every other by its '
              'service name; the compose networks are not kept apart')


def _container_name(conv, svc, key, out, name):
    given = scalar_text(svc['container_name'])
    conv.note(key + '.container_name', 'approximated', 'the container is named %s-%s; other services reach it as %s%s'
              % (conv.stack_name, name, name, '' if given == name else ', not as %s' % given))


def _hostname(conv, svc, key, out, name):
    given = scalar_text(svc['hostname'])
    if not HOSTNAME_RE.match(given) or len(given) > 253:
        conv.note(key + '.hostname', 'unsupported', 'not a host name: %r' % given)
        return
    out['hostname'] = given
    conv.note(key + '.hostname', 'mapped' if given == name else 'approximated', 'hostname %s%s'
              % (given, '' if given == name else '; other services reach it as %s, not as %s' % (name, given)))


def _links(conv, svc, key, out):
    conv.note(key + '.links', 'approximated', 'every service reaches the others by service name (link aliases are '
              'not kept)')


def _expose(conv, svc, key, out):
    conv.note(key + '.expose', 'mapped', 'every port is reachable on the stack network')


def _profiles(conv, svc, key, out):
    conv.note(key + '.profiles', 'mapped', 'imported: one of its profiles is active')


# Service keys in the order they go into the stack service; handlers that need the service name take it last.
SERVICE_KEYS = [
    ('image', _image), ('pull_policy', _pull), ('restart', None), ('command', _command),
    ('entrypoint', _entrypoint), ('environment', None), ('env_file', None), ('secrets', _service_secrets),
    ('volumes', None), ('configs', _service_configs), ('depends_on', None), ('healthcheck', _healthcheck),
    ('user', _user), ('read_only', _flag('read_only')), ('tmpfs', _tmpfs), ('devices', _devices),
    ('cap_add', _capabilities('cap_add', 'add_capabilities')),
    ('cap_drop', _capabilities('cap_drop', 'drop_capabilities')), ('security_opt', _security_opt),
    ('stop_grace_period', _stop_grace), ('stop_signal', _stop_signal), ('labels', _labels_key), ('ports', _ports),
    ('expose', _expose), ('network_mode', _network_mode), ('networks', _networks), ('links', _links),
    ('profiles', _profiles), ('container_name', None), ('hostname', None), ('privileged', _privileged),
    ('shm_size', _shm_size), ('ulimits', _ulimits), ('sysctls', _sysctls), ('extra_hosts', _extra_hosts),
    ('dns', _word_list('dns', 'dns', r'^[0-9A-Fa-f.:]+\Z')),
    ('dns_search', _word_list('dns_search', 'dns_search', r'^[A-Za-z0-9.-]+\Z')),
    ('dns_opt', _word_list('dns_opt', 'dns_options', r'^[A-Za-z0-9_:.-]+\Z')),
    ('init', _flag('init')), ('working_dir', _working_dir), ('annotations', _mapping('annotations')),
    ('group_add', _word_list('group_add', 'group_add', r'^(keep-groups|[A-Za-z0-9_.-]+)\Z')),
]
SERVICE_HANDLERS = dict(SERVICE_KEYS)
# in the order the schema lists them, so the stack file reads like the shipped stacks
OUTPUT_ORDER = ('image', 'pull', 'kind', 'restart', 'command', 'entrypoint', 'environment', 'secrets', 'volumes',
                'configs', 'depends_on', 'healthcheck', 'user', 'read_only', 'tmpfs', 'devices', 'add_capabilities',
                'drop_capabilities', 'no_new_privileges', 'stop_timeout', 'stop_signal', 'working_dir', 'hostname',
                'init', 'shm_size', 'ulimits', 'sysctls', 'network_mode', 'dns', 'dns_search', 'dns_options',
                'extra_hosts', 'group_add', 'privileged', 'labels', 'annotations', 'route', 'publish')


class Services(dict):
    """The active compose services by name, and the inactive ones with their profiles."""

    def __init__(self, active, inactive):
        super(Services, self).__init__(active)
        self.inactive = inactive


def _service(conv, name, svc, services):
    key = 'services.%s' % name
    if not isinstance(svc, dict):
        conv.fail(key, 'a service is a mapping, got %s' % type(svc).__name__)
    if 'image' not in svc:
        conv.fail(key, 'no image%s: the stack deploys images (build it, push it to a registry and set image)'
                  % (' (only build:)' if 'build' in svc else ''))
    out = {}
    for field in svc:
        if field in SERVICE_HANDLERS:
            continue
        if str(field).startswith('x-'):
            conv.note('%s.%s' % (key, field), 'mapped', 'compose extension field: nothing to convert')
            continue
        conv.note('%s.%s' % (key, field), 'unsupported', UNSUPPORTED.get(field, 'not a compose service key the import knows'))
    for field, handler in SERVICE_KEYS:
        if field not in svc:
            continue
        _dispatch(conv, field, handler, svc, key, name, out, services)
    if name in conv.jobs:
        out['kind'] = 'job'
    _off_network(conv, key, out)
    return dict((k, out[k]) for k in OUTPUT_ORDER if k in out and out[k] not in ([], {}))


def _dispatch(conv, field, handler, svc, key, name, out, services):
    if field == 'restart':
        _restart(conv, svc, key, out, name)
    elif field == 'environment' or (field == 'env_file' and 'environment' not in svc):
        _environment(conv, svc, key, out)
    elif field == 'env_file':
        return  # read with environment, which it comes before
    elif field == 'volumes':
        _volumes(conv, svc, key, name, out)
    elif field == 'depends_on':
        _depends_on(conv, svc, key, out, services)
    elif field in ('container_name', 'hostname'):
        (_container_name if field == 'container_name' else _hostname)(conv, svc, key, out, conv.renames[name])
    else:
        handler(conv, svc, key, out)


# ---- top level ----

def _active_services(conv, doc):
    services = doc.get('services')
    if not isinstance(services, dict) or not services:
        conv.fail('services', 'a compose file needs services as a non-empty mapping')
    active, inactive = {}, {}
    for name, svc in services.items():
        if not isinstance(svc, dict):
            conv.fail('services.%s' % name, 'a service is a mapping, got %s' % type(svc).__name__)
        profiles = svc.get('profiles')
        if profiles and '*' not in conv.profiles and not set(map(str, profiles)) & set(conv.profiles):
            inactive[name] = [str(p) for p in profiles]
            conv.note('services.%s' % name, 'mapped', 'not imported: its profiles (%s) are not active (active: %s)'
                      % (', '.join(inactive[name]), ', '.join(conv.profiles) or 'none'))
        else:
            active[name] = svc
    return Services(active, inactive)


def _rename_services(conv, services):
    seen = {}
    for name in services:
        new = stack_name_of(name)
        if not new:
            conv.fail('services.%s' % name, 'no stack name can be made of %r' % name)
        if new in seen:
            conv.fail('services.%s' % name, 'both %r and %r become the service name %r' % (seen[new], name, new))
        seen[new], conv.renames[name] = name, new
        if new != name:
            conv.note('services.%s' % name, 'approximated', 'renamed to %s (stack names are lowercase words joined '
                      'by "-"): other services reach it as %s; whatever reaches it by the name %s breaks'
                      % (new, new, name))


def _find_jobs(conv, services):
    """Services another waits on with service_completed_successfully, and that compose does not restart."""
    for name, svc in services.items():
        deps = svc.get('depends_on') if isinstance(svc, dict) else None
        for dep, spec in (deps.items() if isinstance(deps, dict) else []):
            if (spec or {}).get('condition') == 'service_completed_successfully' and dep in services:
                restart = str((services[dep] or {}).get('restart', 'no'))
                if restart == 'no' or restart.startswith('on-failure'):
                    conv.jobs.add(dep)


def _check_cycles(conv, services):
    deps = {}
    for name, svc in services.items():
        raw = svc.get('depends_on') or []
        raw = raw if isinstance(raw, (list, dict)) else []
        deps[name] = [str(d) for d in raw if str(d) in services]
    cycle = find_cycle(deps)
    if cycle:
        conv.fail('services.%s.depends_on' % cycle[0], 'dependency cycle: %s' % ' -> '.join(cycle))


def _top_volumes(conv, volumes):
    for name, spec in (volumes or {}).items():
        new = stack_name_of(name)
        if not new:
            conv.fail('volumes.%s' % name, 'no stack name can be made of %r' % name)
        conv.volume_names[name] = new
        conv.volumes[new] = {}
        detail = 'named volume %s-%s' % (conv.stack_name, new)
        status = 'mapped' if new == name else 'approximated'
        for field in sorted(spec or {}):
            conv.note('volumes.%s.%s' % (name, field), 'unsupported' if field != 'external' else 'approximated',
                      'the stack creates its own volume %s-%s; existing data of an external volume is not used'
                      % (conv.stack_name, new) if field in ('external', 'name') else 'no volume %s in the stack model' % field)
        conv.note('volumes.%s' % name, status, detail + ('' if new == name else ' (renamed from %s)' % name))


def _secret_value(conv, name, spec, key):
    """The value of a top-level secret, or None (with the reason reported)."""
    if 'file' in spec:
        path = conv.path(str(spec['file']))
        if os.path.isfile(path):
            return read_text(path, conv.source, key + '.file'), 'read from %s' % spec['file']
        return None, 'the file %s does not exist on the controller: the deploy generates a value unless ' \
                     'stack_secrets gives one' % spec['file']
    if 'environment' in spec:
        value = conv.env.get(str(spec['environment']))
        if value:
            return value, 'from the environment variable %s' % spec['environment']
        return None, '%s is not set: the deploy generates a value unless stack_secrets gives one' % spec['environment']
    return None, ('external secret: its value is not known here; give it in stack_secrets' if spec.get('external')
                  else 'no file or environment: the deploy generates a value unless stack_secrets gives one')


def _top_secrets(conv, secrets):
    for name, spec in (secrets or {}).items():
        key, spec = 'secrets.%s' % name, spec or {}
        value, detail = _secret_value(conv, name, spec, key)
        new = stack_name_of(name)
        if not new:
            conv.fail(key, 'no stack name can be made of %r' % name)
        if new in conv.secrets:
            conv.fail(key, 'another secret is already named %s' % new)
        conv.secrets[new] = {}
        if value:
            conv.secret_values[new] = value
        conv.compose_secrets[name] = new
        conv.note(key, 'mapped' if value else 'approximated', 'stack secret %s: %s' % (new, detail))
        for field in sorted(set(spec) - {'file', 'environment', 'external', 'name'}):
            conv.note('%s.%s' % (key, field), 'unsupported', 'no secret %s in the stack model' % field)


def _top_configs(conv, configs):
    for name, spec in (configs or {}).items():
        key, spec = 'configs.%s' % name, spec or {}
        if 'content' in spec:
            conv.compose_configs[name] = scalar_text(spec['content'])
            conv.note(key, 'mapped', 'inline content, shipped with each service that uses it')
        elif 'file' in spec:
            conv.compose_configs[name] = read_text(conv.path(str(spec['file'])), conv.source, key + '.file')
            conv.note(key, 'mapped', 'the content of %s (read on the controller), shipped with each service that '
                      'uses it' % spec['file'])
        elif 'environment' in spec:
            conv.compose_configs[name] = conv.env.get(str(spec['environment']), '')
            conv.note(key, 'mapped', 'the value of %s, shipped with each service that uses it' % spec['environment'])
        else:
            conv.compose_configs[name] = None
            conv.note(key, 'unsupported', 'external configs have no content the import can read')


def _top_level(conv, doc, name_source):
    handled = {'services', 'volumes', 'secrets', 'configs', 'name', 'networks', 'version'}
    if 'version' in doc:
        conv.note('version', 'mapped', 'obsolete in the compose specification; nothing to convert')
    if 'networks' in doc:
        conv.note('networks', 'approximated', 'one network per stack (%s.network); compose networks and their '
                  'drivers are not kept' % conv.stack_name)
    for field in doc:
        if field in handled:
            continue
        if field.startswith('x-'):
            conv.note(field, 'mapped', 'compose extension field (for YAML anchors): nothing to convert')
        else:
            conv.note(field, 'unsupported', TOP_LEVEL_UNSUPPORTED.get(field, 'not a compose key the import knows'))


def _note_name(conv, doc, origin, given):
    origins = {'option': 'given by stack_name', 'compose': 'the compose name', 'directory': 'the compose file\'s '
               'directory, as compose names the project', 'default': 'nothing names it'}
    exact = origin == 'compose' and conv.stack_name == given
    detail = 'stack name %s (%s%s)' % (conv.stack_name, origins[origin], '' if conv.stack_name == given else
                                       ', made of %r' % given)
    conv.note('name', 'mapped' if exact or origin == 'option' else 'approximated', detail)


def _name(doc, stack_name, compose_file, source):
    if stack_name:
        given, origin = stack_name, 'option'
    elif isinstance(doc.get('name'), str) and doc['name']:
        given, origin = doc['name'], 'compose'
    elif compose_file:
        given, origin = os.path.basename(os.path.dirname(os.path.abspath(compose_file))), 'directory'
    else:
        given, origin = 'compose', 'default'
    name = stack_name_of(given)
    if not NAME_RE.match(name or ''):
        raise ComposeError(source, 'name', 'no stack name can be made of %r: give stack_name' % given)
    return name, origin, given


def load_document(document, source):
    """The compose document as a mapping (parsed YAML text or an already parsed mapping)."""
    if isinstance(document, str):
        try:
            document = load_yaml(document)
        except (yaml.YAMLError, ValueError) as exc:  # ValueError: an alias bomb, an integer past 4300 digits
            raise ComposeError(source, '', 'not valid YAML: %s' % bounded(str(exc).replace('\n', ' ')))
    if not isinstance(document, dict):
        raise ComposeError(source, '', 'a compose file is a mapping, got %s' % type(document).__name__)
    return document


def interpolation_env(env, env_file, compose_file, source):
    """The environment interpolation reads: the env file (default: .env beside the compose file), the shell
    environment over it. Returns (env, the env file used or None)."""
    shell = dict((str(k), scalar_text(v)) for k, v in (env or {}).items())
    if not env_file and compose_file:
        default = os.path.join(os.path.dirname(os.path.abspath(compose_file)), '.env')
        env_file = default if os.path.isfile(default) else None
    if not env_file:
        return shell, None
    values = parse_dotenv(read_text(env_file, source, 'env_file'), shell, env_file)
    values.update(shell)
    return values, env_file


def _profiles_of(profiles, env):
    if profiles is None:
        profiles = env.get('COMPOSE_PROFILES', '')
    if isinstance(profiles, str):
        profiles = profiles.split(',')
    return [str(p).strip() for p in profiles if str(p).strip()]


def convert(document, compose_file=None, env=None, env_file=None, stack_name=None, profiles=None, bind_root=None):
    """{stack, report, secrets} of a compose document; ComposeError on input that cannot be converted."""
    source = compose_file or 'compose document'
    doc = load_document(document, source)
    merged_env, used_env_file = interpolation_env(env, env_file, compose_file, source)
    name, origin, given = _name(doc, stack_name, compose_file, source)
    root = bind_root or posixpath.join(DEFAULT_BIND_ROOT, name)
    conv = Converter(source, os.path.dirname(os.path.abspath(compose_file)) if compose_file else None, merged_env,
                     name, _profiles_of(profiles, merged_env), root)
    doc = conv.interp.tree(doc, '')
    services = _active_services(conv, doc)
    if not services:
        conv.fail('services', 'no service is active with the profiles %s' % (', '.join(conv.profiles) or '(none)'))
    _top_level(conv, doc, origin)
    _note_name(conv, doc, origin, given)
    _top_volumes(conv, doc.get('volumes'))
    _top_secrets(conv, doc.get('secrets'))
    _top_configs(conv, doc.get('configs'))
    _rename_services(conv, services)
    _check_cycles(conv, services)
    _find_jobs(conv, services)
    stack_services = dict((conv.renames[n], _service(conv, n, svc, services)) for n, svc in services.items())
    return _result(conv, stack_services, used_env_file)


def _result(conv, stack_services, used_env_file):
    stack = conv.stack
    stack['description'] = 'Imported from %s by homelab.deploy.compose_to_stack.' % os.path.basename(conv.source)
    if conv.secrets:
        stack['secrets'] = conv.secrets
    if conv.volumes:
        stack['volumes'] = conv.volumes
    stack['services'] = stack_services
    for name in conv.interp.unset:
        conv.note('interpolation.%s' % name, 'approximated', '%s is set neither in the environment nor in the env '
                  'file: an empty string, as compose substitutes it (with a warning)' % name)
    if used_env_file:
        conv.note('env_file', 'mapped', 'interpolation read %s (the shell environment wins over it)' % used_env_file)
    _clear_text_secrets(conv, stack_services)
    return {'stack': stack, 'report': conv.report, 'secrets': dict(conv.secret_values)}


def _strings(node, key):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _strings(v, _join(key, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _strings(v, '%s[%d]' % (key, i))
    elif isinstance(node, str):
        yield key, node


def _clear_text_secrets(conv, services):
    """A secret value that interpolation put into another key (a command, a health check) is there in clear."""
    for key, text in _strings(services, 'services'):
        if not key.endswith(('.command', '.healthcheck.cmd', '.entrypoint')) and '.entrypoint[' not in key:
            continue
        for name, value in conv.secret_values.items():
            if len(value) >= 4 and value in text:
                conv.note(key, 'approximated', 'holds the value of secret %s in clear text (interpolated from the '
                          'compose file): replace it, e.g. read the secret\'s file or variable in the container' % name)


# -- the files the import writes ---------------------------------------------------------------------------------

def _one_line(text):
    return re.sub(r'[\r\n]+', ' ', text)


def report_lines(report):
    """The report as text lines, one per entry (no secret value is ever in it)."""
    return ['%-12s %s: %s' % (e['status'], _one_line(e['key']), _one_line(e['detail'])) for e in report]


def stack_text(result, compose_file=None, secrets_file=None):
    """The stack file: the report as comments on top, then the stack as YAML."""
    counts = dict((s, sum(1 for e in result['report'] if e['status'] == s)) for s in STATUSES)
    header = [
        'Stack %s, imported from %s by homelab.deploy.compose_to_stack.' % (result['stack']['name'],
                                                                            compose_file or 'a compose document'),
        'Review it before you deploy it: every compose key is listed here as mapped, approximated or unsupported.',
        'Secret values are not in this file%s.' % (': they are in %s (encrypt it with ansible-vault)' % secrets_file
                                                   if secrets_file and result['secrets'] else ''),
        '%(mapped)d mapped, %(approximated)d approximated, %(unsupported)d unsupported' % counts, '',
    ] + report_lines(result['report'])
    body = yaml.safe_dump(result['stack'], sort_keys=False, default_flow_style=False, allow_unicode=True, width=120)
    return ''.join(('# %s' % line).rstrip() + '\n' for line in header) + '---\n' + body


def secrets_text(result, secrets_file=None, stack_file=None):
    """The secrets file: stack_secrets as the stack role takes it, with how to encrypt and use it."""
    name = secrets_file or 'THIS_FILE'
    header = [
        'Secret values of the stack %s (homelab.deploy.compose_to_stack), as the stack role\'s stack_secrets.'
        % result['stack']['name'],
        'Encrypt this file before anything else: ansible-vault encrypt %s' % name,
        'Deploy: ansible-playbook -i INVENTORY homelab.deploy.deploy_stack -e stack_target=HOST -e stack_name=%s '
        '-e @%s --ask-vault-pass' % (stack_file or 'STACK_FILE', name),
    ]
    body = yaml.safe_dump({'stack_secrets': result['secrets']}, sort_keys=False, default_flow_style=False,
                          allow_unicode=True, width=120)
    return ''.join('# %s\n' % line for line in header) + '---\n' + body

# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private drift comparison (declared Quadlet/route state vs running state); not a public API, may change without notice.

Pure functions over what ONE batched ``podman container inspect``, ONE ``podman image inspect`` and
ONE ``systemctl show`` return, so they are unit-tested on real captured output.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import fnmatch
import json
import re
import signal

from ansible_collections.homelab.deploy.plugins.module_utils._podman import MASK, mask_secrets

MANAGED_LABEL = 'io.homelab.deploy.managed'
# Filled in by podman, quadlet or the image itself: never drift.
DEFAULT_IGNORED_ENV = ('HOSTNAME', 'HOME', 'container', 'TERM')
DEFAULT_IGNORED_LABELS = ('PODMAN_SYSTEMD_UNIT', 'io.containers.autoupdate', 'io.buildah.version')
SHOW_PROPERTIES = ('Id', 'LoadState', 'ActiveState', 'SubState', 'NeedDaemonReload', 'FragmentPath', 'SourcePath',
                   'MemoryMax', 'MemoryHigh', 'MemoryLow', 'MemoryMin', 'CPUQuotaPerSecUSec', 'CPUWeight')

# field -> (impact, remediation). Remediations, mildest first, are what drift.yml knows how to apply.
REMEDIATIONS = ('none', 'rewrite_route', 'restart', 'reload_restart', 'review')
FIELDS = {
    'state': ('the service is not running as its unit declares', 'restart'),
    'systemd_unit': ('the container was not started by its unit: systemd neither supervises nor restarts it', 'restart'),
    'image': ('the container runs another image than its unit declares', 'restart'),
    'image_digest': ('the tag now names another image than the running one: a restart changes the software', 'restart'),
    'command': ('the container runs another command than declared', 'restart'),
    'entrypoint': ('the container runs another entrypoint than declared', 'restart'),
    'env': ('the application runs with other settings than declared', 'restart'),
    'volumes': ('data is mounted elsewhere or with other options (ro/rw, SELinux label) than declared', 'restart'),
    'ports': ('the service is published on other host ports than declared', 'restart'),
    'networks': ('the container is on other networks than declared (Traefik may not reach it)', 'restart'),
    'labels': ('labels differ: auto-update, ownership or monitoring may treat the container wrongly', 'restart'),
    'memory': ('podman memory limits differ from the unit (out-of-memory behaviour changes)', 'restart'),
    'cpu': ('podman CPU limits differ from the unit', 'restart'),
    'health': ('the health check differs: failures may go unnoticed or restart a healthy service', 'restart'),
    'user': ('the container runs as another user than declared', 'restart'),
    'runtime': ('the container runs with other run-time settings (working directory, host name, DNS, ulimits, shm, '
                'init, stop signal, time zone, groups, annotations, read-only root, tmpfs, privileges) than declared',
                'restart'),
    'daemon_reload': ('the unit file on disk changed but systemd still runs the old version', 'reload_restart'),
    'systemd_limits': ('the cgroup limits systemd applies differ from the unit file', 'reload_restart'),
    'unmanaged': ('a container runs that no unit declares: nothing restarts, updates or backs it up', 'review'),
    'route_file': ('the route file differs from the declared route (edited by hand?)', 'rewrite_route'),
    'route_served': ('Traefik serves something other than the route file (router missing, middlewares differ)', 'rewrite_route'),
    'route_backend': ('Traefik reports the backend of the route as down', 'restart'),
}
_SIZE_UNITS = {'': 1, 'b': 1, 'k': 1024, 'm': 1024 ** 2, 'g': 1024 ** 3, 't': 1024 ** 4}
_SIZE_RE = re.compile(r'^\s*([0-9]+(?:\.[0-9]+)?)\s*([bkmgt]?)b?\s*$', re.IGNORECASE)
_SPAN_UNITS = {'us': 1e-6, 'ms': 1e-3, 's': 1.0, 'sec': 1.0, 'm': 60.0, 'min': 60.0, 'h': 3600.0, 'd': 86400.0}
_SPAN_RE = re.compile(r'([0-9]+(?:\.[0-9]+)?)\s*(us|ms|sec|min|s|m|h|d)')
_NONE_VALUES = (None, '', 'infinity', '[not set]', '18446744073709551615')


# ---------------------------------------------------------------------------
# Units of measure
# ---------------------------------------------------------------------------

def parse_size(value):
    """Bytes from 256m / 300M / 1G / 1048576; None for unset or infinity."""
    if value in _NONE_VALUES or value in (0, '0'):
        return None
    if isinstance(value, int):
        return value
    match = _SIZE_RE.match(str(value))
    if not match:
        return str(value)
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])


def parse_span(value):
    """Seconds from 10s / 1m30s / 500ms / 1.500000s; None for unset; a bare number means seconds."""
    if value in _NONE_VALUES:
        return None
    text = str(value).strip()
    if re.match(r'^[0-9]+(\.[0-9]+)?$', text):
        return float(text)
    parts = _SPAN_RE.findall(text)
    if not parts or ''.join(n + u for n, u in parts) != text.replace(' ', ''):
        return text
    return round(sum(float(n) * _SPAN_UNITS[u] for n, u in parts), 6)


def cpu_quota_usec(value):
    """systemd CPUQuota=50% as microseconds per second (CPUQuotaPerSecUSec), None when unset."""
    if value in _NONE_VALUES:
        return None
    text = str(value).strip()
    if text.endswith('%'):
        return int(round(float(text[:-1]) * 10000))
    span = parse_span(text)
    return int(round(span * 1e6)) if isinstance(span, float) else text


# ---------------------------------------------------------------------------
# Findings
# ---------------------------------------------------------------------------

def finding(field, declared, running, detail=None):
    impact, remediation = FIELDS[field.split('.', 1)[0]]
    return {'field': field, 'declared': declared, 'running': running, 'impact': impact,
            'remediation': remediation, 'detail': detail}


def is_ignored(service, field, rules):
    """Ignore rules are `field` or `service:field` globs (env.HL_*, labels.*, web:memory)."""
    for rule in rules or ():
        svc, sep, pattern = rule.rpartition(':')
        if sep and not fnmatch.fnmatchcase(service, svc):
            continue
        if fnmatch.fnmatchcase(field, pattern) or fnmatch.fnmatchcase(field.split('.', 1)[0], pattern):
            return True
    return False


def worst_remediation(findings):
    ranks = [REMEDIATIONS.index(f['remediation']) for f in findings]
    return REMEDIATIONS[max(ranks)] if ranks else 'none'


# ---------------------------------------------------------------------------
# Container vs its quadlet
# ---------------------------------------------------------------------------

def pairs_to_dict(items):
    out = {}
    for item in items or []:
        key, dummy, value = item.partition('=')
        out[key] = value
    return out


def resolve_ref(value, refs):
    """A .volume/.network reference as the podman object name it creates (refs maps file -> name): its
    NetworkName=/VolumeName=, or Quadlet's default systemd-<name>."""
    for suffix in ('.network', '.volume'):
        if value.endswith(suffix):
            return refs.get(value) or 'systemd-' + value[:-len(suffix)]
    return refs.get(value, value)


# network modes that are not networks a container is attached to (podman inspect lists none for them)
NETWORK_MODES = ('host', 'none', 'private', 'slirp4netns', 'pasta')


def declared_network(value, refs):
    """A Network= value as podman sees it: a network's name, a mode, or container:NAME for Network=x.container
    (Quadlet joins the network namespace of x's container, named by its ContainerName= or systemd-x)."""
    name = value.split(':', 1)[0]
    if name in ('container', 'ns'):
        return value
    if name.endswith('.container'):
        return 'container:' + (refs.get(name) or 'systemd-' + name[:-len('.container')])
    return resolve_ref(name, refs)


def compare_image(spec, info, images):
    out = []
    running_name = info.get('ImageName') or (info.get('Config') or {}).get('Image')
    declared = spec.get('image')
    if declared and not declared.endswith(('.image', '.build')):
        if declared != running_name and not _same_digest(declared, info):
            out.append(finding('image', declared, running_name))
        current = images.get(declared)
        if current and current.get('Id') and info.get('Image') and current['Id'] != info['Image']:
            out.append(finding('image_digest', current.get('Digest') or current['Id'],
                               info.get('ImageDigest') or info['Image'],
                               'the tag %s was re-pointed after the container started' % declared))
    return out


def _same_digest(declared, info):
    return '@' in declared and declared.split('@', 1)[1] == info.get('ImageDigest')


UNRESOLVED = object()


def expanded(value):
    """What podman gets for a value Quadlet puts on ExecStart, after systemd expanded it: %% -> %, $$ -> $.

    UNRESOLVED when it refers to a specifier (%h) or a variable ($VAR, ${VAR}) that only systemd resolves, so the
    running value cannot be predicted here. None stays None.
    """
    if value is None or ('%' not in value and '$' not in value):
        return value
    out, index = [], 0
    while index < len(value):
        char, following = value[index], value[index + 1:index + 2]
        if char in '%$' and following == char:
            out.append(char)
            index += 2
            continue
        if char == '%' or (char == '$' and (following == '{' or following.isalpha() or following == '_')):
            return UNRESOLVED
        out.append(char)
        index += 1
    return ''.join(out)


def compare_env(spec, info, image, ignored_env):
    declared = dict(spec.get('env') or {})
    running = pairs_to_dict((info.get('Config') or {}).get('Env'))
    baseline = pairs_to_dict((image.get('Config') or {}).get('Env')) if image else {}
    # podman secrets of type=env land in the environment; their values are not ours to compare (or print).
    # podman 5 lists them in the inspect output under the secret's name (name=*******), not the target
    secret_keys = set(key for s in spec.get('secrets') or [] if s.get('type') == 'env'
                      for key in (s['target'], s['name']))
    # with EnvironmentFile= the file's variables are declared too, but only the host knows them
    extra_allowed = bool(spec.get('env_files'))
    out = []
    for key in sorted(set(declared) | set(running)):
        if key in ignored_env or key in secret_keys:
            continue
        if extra_allowed and key not in declared:
            continue
        want = expanded(declared[key]) if key in declared else baseline.get(key)
        got = running.get(key)
        if want is not UNRESOLVED and want != got:
            out.append(finding('env.%s' % key, *_masked(key, want, got)))
    return out


def _masked(key, *values):
    """Values of credential-like variables never leave the host."""
    if mask_secrets('%s=x' % key) == '%s=x' % key:
        return values
    return tuple(None if value is None else MASK for value in values)


def compare_labels(spec, info, image, ignored_labels):
    declared = dict(spec.get('labels') or {})
    if spec.get('auto_update'):
        declared['io.containers.autoupdate'] = spec['auto_update']
    running = dict((info.get('Config') or {}).get('Labels') or {})
    baseline = dict((image.get('Config') or {}).get('Labels') or {}) if image else {}
    out = []
    for key in sorted(set(declared) | set(running)):
        if key in ignored_labels and key not in declared:
            continue
        want = expanded(declared[key]) if key in declared else baseline.get(key)
        if want is not UNRESOLVED and want != running.get(key):
            out.append(finding('labels.%s' % key, want, running.get(key)))
    return out


def _selinux(options):
    return ''.join(sorted(o for o in options if o in ('z', 'Z')))


def declared_mounts(spec, refs):
    mounts = {}
    for volume in spec.get('volumes') or []:
        source = volume['source']
        if source and not source.startswith('/'):
            source = resolve_ref(source, refs)
        mounts[volume['target']] = {'source': source, 'mode': volume['mode'], 'selinux': _selinux(volume['options'])}
    return mounts


def running_mounts(info):
    """{target: source, mode, selinux}; selinux is None where podman cannot show it."""
    mounts = {}
    selinux_host = bool(info.get('ProcessLabel'))
    for mount in info.get('Mounts') or []:
        if mount.get('Type') not in ('volume', 'bind'):
            continue
        source = mount.get('Name') if mount.get('Type') == 'volume' else mount.get('Source')
        modes = [m for m in (mount.get('Mode') or '').split(',') if m]
        # Without SELinux podman drops :z/:Z of bind mounts (it keeps them for named volumes).
        known = selinux_host or mount.get('Type') == 'volume'
        mounts[mount.get('Destination')] = {'source': source, 'mode': 'rw' if mount.get('RW') else 'ro',
                                            'selinux': _selinux(modes) if known else None}
    return mounts


def compare_volumes(spec, info, refs):
    declared, running = declared_mounts(spec, refs), running_mounts(info)
    out = []
    for target in sorted(set(declared) | set(running)):
        want, got = declared.get(target), running.get(target)
        if want is None or got is None:
            out.append(finding('volumes.%s' % target, _mount_text(want), _mount_text(got)))
            continue
        for key in ('source', 'mode', 'selinux'):
            if (want['source'] is None and key == 'source') or got[key] is None:
                continue  # an anonymous volume's name, or a label podman does not show
            if want[key] != got[key]:
                out.append(finding('volumes.%s.%s' % (target, key), want[key], got[key]))
    return out


def _mount_text(mount):
    if mount is None:
        return None
    options = ','.join(o for o in (mount['mode'], mount['selinux'] or '') if o)
    return '%s:%s' % (mount['source'] or '(anonymous)', options)


def declared_ports(spec):
    ports = set()
    for port in spec.get('ports') or []:
        proto = port['protocol'] or 'tcp'
        ports.add('%s:%s:%s/%s' % (port['host_ip'] or '0.0.0.0', port['host_port'] or '*', port['container_port'], proto))
    return ports


def running_ports(info, wildcard_hosts):
    ports = set()
    bindings = (info.get('HostConfig') or {}).get('PortBindings') or {}
    for container_port, hosts in bindings.items():
        number, dummy, proto = container_port.partition('/')
        for host in hosts or []:
            host_port = '*' if number in wildcard_hosts else host.get('HostPort')
            ports.add('%s:%s:%s/%s' % (host.get('HostIp') or '0.0.0.0', host_port, number, proto or 'tcp'))
    return ports


def compare_ports(spec, info):
    declared = declared_ports(spec)
    wildcard = set(p['container_port'] for p in spec.get('ports') or [] if not p['host_port'])
    running = running_ports(info, wildcard)
    if declared == running:
        return []
    return [finding('ports', sorted(declared), sorted(running))]


def compare_networks(spec, info, refs):
    declared = [declared_network(n, refs) for n in spec.get('networks') or []]
    if not declared or any(n in NETWORK_MODES or n.startswith('ns:') for n in declared):
        return []
    joined = [n for n in declared if n.startswith('container:')]
    if joined:
        # another container's namespace: podman shows container:<its id>, which only says the mode is right
        mode = (info.get('HostConfig') or {}).get('NetworkMode') or ''
        return [] if mode.startswith('container:') else [finding('networks', joined, mode or None)]
    running = sorted(((info.get('NetworkSettings') or {}).get('Networks') or {}).keys())
    if sorted(declared) != running:
        return [finding('networks', sorted(declared), running)]
    return []


def compare_command(spec, info, image):
    config = info.get('Config') or {}
    image_config = (image or {}).get('Config') or {}
    out = []
    want_cmd = [expanded(word) for word in spec.get('command') or []] or image_config.get('Cmd') or []
    if UNRESOLVED not in want_cmd and list(config.get('Cmd') or []) != list(want_cmd):
        out.append(finding('command', want_cmd, config.get('Cmd') or []))
    want_entry = spec.get('entrypoint')
    running_entry = config.get('Entrypoint')
    if isinstance(running_entry, list):
        running_entry = ' '.join(running_entry)
    if want_entry is None:
        want_entry = image_config.get('Entrypoint')
        want_entry = ' '.join(want_entry) if isinstance(want_entry, list) else want_entry
    if (want_entry or None) != (running_entry or None):
        out.append(finding('entrypoint', want_entry, running_entry))
    return out


def compare_user(spec, info, image):
    want = spec.get('user')
    if want is None:
        want = ((image or {}).get('Config') or {}).get('User') or ''
    got = (info.get('Config') or {}).get('User') or ''
    return [finding('user', want, got)] if str(want) != str(got) else []


_PODMAN_LIMITS = (
    ('memory', 'limit', 'Memory', parse_size), ('memory', 'reservation', 'MemoryReservation', parse_size),
    ('memory', 'swap', 'MemorySwap', parse_size), ('cpu', 'shares', 'CpuShares', int),
    ('cpu', 'quota', 'CpuQuota', int), ('cpu', 'period', 'CpuPeriod', int),
    ('cpu', 'cpuset_cpus', 'CpusetCpus', str), ('cpu', 'cpuset_mems', 'CpusetMems', str),
)


def _nano_cpus(value):
    return int(round(float(value) * 1e9)) if value not in (None, '') else 0


def compare_limits(spec, info):
    """Podman-side limits (HostConfig) against PodmanArgs --memory/--cpus...; unset means 0 / ''."""
    host = info.get('HostConfig') or {}
    out = []
    for group, key, inspect_key, convert in _PODMAN_LIMITS:
        declared = spec.get(group, {}).get(key)
        want = convert(declared) if declared not in (None, '') else None
        got = host.get(inspect_key)
        got = None if got in (0, '', None) else got
        if key == 'swap' and want is None:
            continue  # podman sets swap to twice the memory limit by itself
        if key in ('quota', 'period') and declared is None and (spec.get('cpu', {}).get('cpus') or host.get('NanoCpus')):
            continue  # podman derives quota/period from --cpus (NanoCpus), reported as cpu.cpus
        if want != got:
            out.append(finding('%s.%s' % (group, key), declared, got))
    declared_cpus = spec.get('cpu', {}).get('cpus')
    got_nano = host.get('NanoCpus') or 0
    if _nano_cpus(declared_cpus) != got_nano:
        out.append(finding('cpu.cpus', declared_cpus, got_nano / 1e9 if got_nano else None))
    return out


def _health_test(cmd):
    if cmd is None:
        return None
    if cmd.lower() == 'none':
        return ['NONE']
    return ['CMD-SHELL', cmd]


def compare_health(spec, info, image):
    declared = spec.get('health') or {}
    running = (info.get('Config') or {}).get('Healthcheck') or {}
    baseline = ((image or {}).get('Config') or {}).get('Healthcheck') or {}
    out = []
    want_test = _health_test(declared.get('cmd')) or baseline.get('Test')
    got_test = running.get('Test')
    if want_test and want_test != ['NONE'] and got_test != want_test:
        out.append(finding('health.cmd', _test_text(want_test), _test_text(got_test)))
    elif want_test == ['NONE'] and got_test not in (None, [], ['NONE']):
        out.append(finding('health.cmd', 'none', _test_text(got_test)))
    for field, key in (('interval', 'Interval'), ('timeout', 'Timeout'), ('start_period', 'StartPeriod')):
        if field in declared:
            want = parse_span(declared[field])
            got = (running.get(key) or 0) / 1e9
            if want != got:
                out.append(finding('health.%s' % field, declared[field], '%gs' % got))
    if 'retries' in declared and int(declared['retries']) != running.get('Retries'):
        out.append(finding('health.retries', int(declared['retries']), running.get('Retries')))
    return out


def _test_text(test):
    if not test:
        return None
    if test[0] in ('CMD-SHELL', 'CMD'):
        return ' '.join(test[1:])
    return ' '.join(test)


def _signal_number(name):
    text = str(name or '').upper()
    if text.isdigit():
        return int(text)
    try:
        return int(signal.Signals(text if text.startswith('SIG') else 'SIG' + text))
    except (KeyError, ValueError):
        return text


def _running_runtime(info):
    config, host = info.get('Config') or {}, info.get('HostConfig') or {}
    ulimits = dict((str(u.get('Name', '')).replace('RLIMIT_', '').lower(), (str(u.get('Soft')), str(u.get('Hard'))))
                   for u in host.get('Ulimits') or [])
    return {
        'working_dir': config.get('WorkingDir'), 'hostname': config.get('Hostname'),
        'stop_signal': config.get('StopSignal'), 'timezone': config.get('Timezone'),
        'shm_size': host.get('ShmSize'), 'init': bool(host.get('Init')), 'read_only': bool(host.get('ReadonlyRootfs')),
        'privileged': bool(host.get('Privileged')), 'dns': list(host.get('Dns') or []),
        'dns_search': list(host.get('DnsSearch') or []), 'dns_options': list(host.get('DnsOptions') or []),
        'add_hosts': list(host.get('ExtraHosts') or []), 'group_add': [str(g) for g in host.get('GroupAdd') or []],
        'ulimits': ulimits, 'annotations': dict(config.get('Annotations') or {}), 'tmpfs': sorted(host.get('Tmpfs') or {}),
        # what the process has, and what was asked for; None where the inspect output does not say
        'capabilities': None if info.get('EffectiveCaps') is None else sorted(info.get('EffectiveCaps') or []),
        'devices': None if 'Devices' not in host else sorted(
            d.get('PathOnHost') for d in host.get('Devices') or [] if d.get('PathOnHost')),
        'no_new_privileges': None if 'SecurityOpt' not in host else any(
            str(o).startswith('no-new-privileges') and not str(o).endswith(':false') for o in host.get('SecurityOpt') or []),
    }


def compare_capabilities(declared, running):
    """Findings for the declared capabilities against the ones the container's process has (EffectiveCaps):
    an added one it lacks, a dropped one it has, anything beyond the added ones after DropCapability=all."""
    have = running.get('capabilities')
    if have is None:
        return []
    out = []
    adds, drops = declared.get('add_capabilities') or [], declared.get('drop_capabilities') or []
    missing = sorted(set(adds) - set(have))
    if missing:
        out.append(finding('runtime.add_capabilities', sorted(adds), have))
    if 'ALL' in drops:
        extra = sorted(set(have) - set(adds))
    else:
        extra = sorted(set(drops) & set(have))
    if extra:
        out.append(finding('runtime.drop_capabilities', sorted(drops), have))
    return out


def _as_items(value):
    return value if isinstance(value, list) else [value]


def _unescaped(runtime):
    """The declared run-time values as podman gets them (%% and $$ expanded by systemd; see expanded())."""
    out = {}
    for key, value in runtime.items():
        if isinstance(value, str):
            value = expanded(value)
        elif isinstance(value, list):
            value = [expanded(v) if isinstance(v, str) else v for v in value]
        elif isinstance(value, dict) and key == 'annotations':
            value = dict((k, expanded(v)) for k, v in value.items())
        out[key] = value
    return out


def compare_runtime(spec, info):
    """The run-time keys the unit declares against the container (undeclared ones are podman's defaults and not
    compared, except privileged: a privileged container no unit declares is drift). Sysctl= is not compared: podman's
    inspect output does not show it."""
    declared, running = _unescaped(spec.get('runtime') or {}), _running_runtime(info)
    out = []
    for key in ('working_dir', 'hostname', 'timezone', 'dns', 'dns_search', 'dns_options', 'group_add'):
        if declared.get(key) and UNRESOLVED not in _as_items(declared[key]) and declared[key] != running[key]:
            out.append(finding('runtime.%s' % key, declared[key], running[key]))
    for key in ('init', 'read_only'):  # containers.conf may turn these on for every container: declared ones only
        if declared.get(key) is not None and bool(declared[key]) != running[key]:
            out.append(finding('runtime.%s' % key, declared[key], running[key]))
    if bool(declared.get('privileged')) != running['privileged']:  # a privileged container nobody declared is drift
        out.append(finding('runtime.privileged', bool(declared.get('privileged')), running['privileged']))
    if declared.get('shm_size') and parse_size(declared['shm_size']) != parse_size(running['shm_size']):
        out.append(finding('runtime.shm_size', declared['shm_size'], running['shm_size']))
    if declared.get('stop_signal') and _signal_number(declared['stop_signal']) != _signal_number(running['stop_signal']):
        out.append(finding('runtime.stop_signal', declared['stop_signal'], running['stop_signal']))
    names = dict(item.partition(':')[::2] for item in running['add_hosts'])
    for host in declared.get('add_hosts') or []:  # host-gateway is resolved by podman: only the name is checked
        name, dummy, address = host.partition(':')
        if name not in names or (address != 'host-gateway' and names[name] != address):
            out.append(finding('runtime.add_hosts.%s' % name, address, names.get(name)))
    for name, limits in sorted((declared.get('ulimits') or {}).items()):
        if running['ulimits'].get(name) != limits:
            out.append(finding('runtime.ulimits.%s' % name, ':'.join(limits), ':'.join(running['ulimits'].get(name) or ())))
    out.extend(compare_capabilities(declared, running))
    if running['devices'] is not None and set(declared.get('devices') or []) - set(running['devices']):
        out.append(finding('runtime.devices', sorted(declared.get('devices') or []), running['devices']))
    if declared.get('no_new_privileges') and running['no_new_privileges'] is False:
        out.append(finding('runtime.no_new_privileges', True, False))
    for key, value in sorted((declared.get('annotations') or {}).items()):
        if value is not UNRESOLVED and running['annotations'].get(key) != value:
            out.append(finding('runtime.annotations.%s' % key, value, running['annotations'].get(key)))
    missing = sorted(set(declared.get('tmpfs') or []) - set(running['tmpfs']))
    if missing:
        out.append(finding('runtime.tmpfs', sorted(declared['tmpfs']), running['tmpfs']))
    return out


def compare_container(unit, info, image, refs, ignored_env=DEFAULT_IGNORED_ENV, ignored_labels=DEFAULT_IGNORED_LABELS,
                      images=None):
    """Every drifted field of one running container against the container_spec of its unit."""
    spec = unit['spec']
    out = []
    labels = (info.get('Config') or {}).get('Labels') or {}
    if labels.get('PODMAN_SYSTEMD_UNIT') != unit['service_name']:
        out.append(finding('systemd_unit', unit['service_name'], labels.get('PODMAN_SYSTEMD_UNIT')))
    out.extend(compare_image(spec, info, images or {}))
    out.extend(compare_command(spec, info, image))
    out.extend(compare_env(spec, info, image, ignored_env))
    out.extend(compare_volumes(spec, info, refs))
    out.extend(compare_ports(spec, info))
    out.extend(compare_networks(spec, info, refs))
    out.extend(compare_labels(spec, info, image, ignored_labels))
    out.extend(compare_limits(spec, info))
    out.extend(compare_health(spec, info, image))
    out.extend(compare_user(spec, info, image))
    out.extend(compare_runtime(spec, info))
    return out


# ---------------------------------------------------------------------------
# Unit file vs what systemd has loaded
# ---------------------------------------------------------------------------

_SYSTEMD_LIMITS = (('MemoryMax', 'MemoryMax', parse_size), ('MemoryHigh', 'MemoryHigh', parse_size),
                   ('MemoryLow', 'MemoryLow', parse_size), ('MemoryMin', 'MemoryMin', parse_size),
                   ('CPUQuota', 'CPUQuotaPerSecUSec', cpu_quota_usec), ('CPUWeight', 'CPUWeight', None))


def _weight(value):
    return None if value in _NONE_VALUES else int(value)


def compare_unit(unit, show):
    """daemon-reload pending, not running, and systemd cgroup limits vs the [Service] section."""
    if not show or show.get('LoadState') == 'not-found':
        return [finding('daemon_reload', 'loaded', 'not-found', 'systemd does not know %s yet' % unit['service_name'])]
    out = []
    if show.get('NeedDaemonReload') == 'yes':
        out.append(finding('daemon_reload', 'reloaded', 'reload pending',
                           '%s changed on disk after systemd loaded it' % show.get('SourcePath')))
    if show.get('ActiveState') != 'active':
        out.append(finding('state', 'active', '%s/%s' % (show.get('ActiveState'), show.get('SubState'))))
    declared = dict(unit['spec'].get('memory') or {}, **(unit['spec'].get('cpu') or {}))
    for key, prop, convert in _SYSTEMD_LIMITS:
        if prop not in show:
            continue
        convert = convert or _weight
        want, got = convert(declared.get(key)), convert(show.get(prop))
        if key == 'CPUQuota' and isinstance(got, str):
            span = parse_span(got)
            got = int(round(span * 1e6)) if isinstance(span, float) else got
        if want != got:
            out.append(finding('systemd_limits.%s' % key, declared.get(key), show.get(prop)))
    return out


# ---------------------------------------------------------------------------
# Whole host
# ---------------------------------------------------------------------------

def index_containers(infos):
    return dict(((info.get('Name') or '').lstrip('/'), info) for info in infos or [])


def index_images(image_infos, wanted):
    """{reference: image inspect} for the declared references (by tag or id)."""
    out = {}
    for image in image_infos or []:
        keys = set(image.get('RepoTags') or []) | set(image.get('RepoDigests') or []) | {image.get('Id')}
        for ref in wanted:
            if ref in keys:
                out[ref] = image
    return out


def image_of(info, image_infos):
    for image in image_infos or []:
        if image.get('Id') == info.get('Image'):
            return image
    return None


def check_service(unit, containers, image_infos, images, shows, refs, options):
    name = unit['unit_name']
    findings = list(compare_unit(unit, shows.get(unit['service_name'])))
    info = containers.get(unit['spec'].get('name') or '')
    # a one-shot job that exited 0 stays active (RemainAfterExit) without a container: nothing more to compare
    job_done = unit.get('job') and info is None and (shows.get(unit['service_name']) or {}).get('ActiveState') == 'active'
    if info is None:
        if not job_done and not any(f['field'] == 'state' for f in findings):
            findings.append(finding('state', 'running', 'no container %s' % unit['spec'].get('name')))
    elif (info.get('State') or {}).get('Status') != 'running':
        findings.append(finding('state', 'running', (info.get('State') or {}).get('Status')))
    else:
        findings.extend(compare_container(unit, info, image_of(info, image_infos), refs,
                                          options['ignored_env'], options['ignored_labels'], images))
    findings = [f for f in findings if not is_ignored(name, f['field'], options['ignore'])]
    return service_result(name, unit['service_name'], unit['spec'].get('name'), findings,
                          is_managed(unit['spec'].get('labels')))


def is_managed(labels):
    """Whether labels carry the collection's ownership label (io.homelab.deploy.managed=true)."""
    return (labels or {}).get(MANAGED_LABEL) == 'true'


def service_result(name, service_name, container, findings, managed=False):
    """managed: the unit carries the collection's ownership label (Label=io.homelab.deploy.managed=true); only such
    units are ever restarted by a drift fix."""
    return {'name': name, 'unit': service_name, 'container': container, 'drifted': bool(findings),
            'fields': findings, 'remediation': worst_remediation(findings), 'managed': managed}


def unmanaged_containers(infos, declared_names, options):
    """Containers no unit of this scope declares (reported, never removed)."""
    out = []
    for name, info in sorted(index_containers(infos).items()):
        if name in declared_names or (info.get('Config') or {}).get('Labels', {}).get('PODMAN_SYSTEMD_UNIT'):
            continue
        if is_ignored(name, 'unmanaged', options['ignore']):
            continue
        labels = (info.get('Config') or {}).get('Labels') or {}
        out.append(service_result(name, None, name, [finding(
            'unmanaged', None, '%s (%s, %s)' % (info.get('ImageName'), (info.get('State') or {}).get('Status'),
                                                'labelled managed' if is_managed(labels) else 'not labelled managed'))]))
    return out


def check_host(units, infos, image_infos, shows, refs, ignore=(), ignored_env=DEFAULT_IGNORED_ENV,
               ignored_labels=DEFAULT_IGNORED_LABELS, report_unmanaged=True):
    """Drift of every declared container unit, plus containers nobody declares."""
    options = {'ignore': list(ignore or []), 'ignored_env': set(ignored_env), 'ignored_labels': set(ignored_labels)}
    containers = index_containers(infos)
    images = index_images(image_infos, [u['spec'].get('image') for u in units if u['spec'].get('image')])
    services = [check_service(u, containers, image_infos, images, shows, refs, options) for u in units]
    unmanaged = []
    if report_unmanaged:
        unmanaged = unmanaged_containers(infos, set(u['spec'].get('name') for u in units), options)
    return services, unmanaged


# ---------------------------------------------------------------------------
# Traefik routes
# ---------------------------------------------------------------------------

def compare_route_file(name, declared_config, file_config):
    """Field by field: the route file against the route as declared."""
    if file_config is None:
        return [finding('route_file', 'present', 'missing')]
    out = []
    want_http, got_http = declared_config.get('http', {}), file_config.get('http', {}) or {}
    for kind in ('routers', 'services', 'middlewares'):
        want_kind, got_kind = want_http.get(kind, {}), got_http.get(kind, {}) or {}
        for obj in sorted(set(want_kind) | set(got_kind)):
            want, got = want_kind.get(obj), got_kind.get(obj)
            if want is None or got is None:
                out.append(finding('route_file.%s.%s' % (kind, obj), want, got))
                continue
            for key in sorted(set(want) | set(got)):
                if want.get(key) != got.get(key):
                    out.append(finding('route_file.%s.%s.%s' % (kind, obj, key), want.get(key), got.get(key)))
    return out


def compare_route_served(pending, errors, served):
    out = [finding('route_served', None, line) for line in pending]
    out.extend(finding('route_served', None, line) for line in errors)
    for service in (served.get('services') or {}).values():
        for url, status in sorted(((service or {}).get('serverStatus') or {}).items()):
            if status != 'UP':
                out.append(finding('route_backend', 'UP', status, '%s: %s' % (service.get('name'), url)))
    return out


# ---------------------------------------------------------------------------
# Reading route files without PyYAML (managed nodes often lack it)
# ---------------------------------------------------------------------------

class BlockYamlError(ValueError):
    """The text is not in the block-YAML subset traefik_route writes."""


def _plain_scalar(text):
    text = text.strip()
    if text.startswith('"'):
        try:
            return json.loads(text)
        except ValueError:
            raise BlockYamlError('bad quoted scalar %s' % text)
    if text.startswith("'") and text.endswith("'") and len(text) > 1:
        return text[1:-1].replace("''", "'")
    words = {'null': None, '~': None, 'true': True, 'false': False, '{}': {}, '[]': []}
    if text in words:
        return words[text]
    if re.match(r'^-?[0-9]+$', text):
        return int(text)
    if text.startswith(('[', '{', '&', '*', '!', '|', '>')):
        raise BlockYamlError('unsupported YAML %s' % text)
    return text


def _yaml_lines(text):
    out = []
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith('#') or stripped == '---':
            continue
        out.append((len(raw) - len(raw.lstrip(' ')), stripped))
    return out


def _parse_block(lines, pos, indent):
    if lines[pos][1].startswith('- '):
        return _parse_list(lines, pos, indent)
    return _parse_map(lines, pos, indent)


def _parse_value(lines, pos, indent, rest):
    if rest:
        return _plain_scalar(rest), pos + 1
    if pos + 1 < len(lines) and lines[pos + 1][0] > indent:
        return _parse_block(lines, pos + 1, lines[pos + 1][0])
    if pos + 1 < len(lines) and lines[pos + 1][0] == indent and lines[pos + 1][1].startswith('- '):
        return _parse_list(lines, pos + 1, indent)
    return None, pos + 1


def _parse_map(lines, pos, indent):
    out = {}
    while pos < len(lines) and lines[pos][0] == indent and not lines[pos][1].startswith('- '):
        key, sep, rest = lines[pos][1].partition(':')
        if not sep or (rest and not rest.startswith(' ')):
            raise BlockYamlError('expected key: value, got %s' % lines[pos][1])
        value, pos = _parse_value(lines, pos, indent, rest.strip())
        out[_plain_scalar(key)] = value
    return out, pos


def _parse_list(lines, pos, indent):
    out = []
    while pos < len(lines) and lines[pos][0] == indent and lines[pos][1].startswith('- '):
        item = lines[pos][1][2:]
        if re.match(r'^("[^"]*"|[^"\s:]+):(\s|$)', item):
            # "- key: value" opens a mapping whose keys sit two columns further in
            sub = list(lines)
            sub[pos] = (indent + 2, item)
            value, pos = _parse_map(sub, pos, indent + 2)
        else:
            value, pos = _plain_scalar(item), pos + 1
        out.append(value)
    return out, pos


def read_block_yaml(text):
    """Parse the block YAML traefik_route writes (and hand edits in the same style); BlockYamlError otherwise."""
    lines = _yaml_lines(text or '')
    if not lines:
        return {}
    value, pos = _parse_block(lines, 0, lines[0][0])
    if pos != len(lines):
        raise BlockYamlError('unexpected indentation at %s' % lines[pos][1])
    return value

# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pre-flight assessment of a host before a deployment: health score, resources against the pattern's needs,
conflicts, versions, cgroup controllers for the scope, risk and deployment strategy, and the decision.

The roles/preflight role gathers raw command output on the host (read-only); everything here is a pure
function of that output, so it is tested with output captured on a real node.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native

RISK_WEIGHT = {'low': 1, 'medium': 2, 'high': 3, 'critical': 4}
HEALTH_WEIGHT = {'healthy': 1, 'degraded': 2, 'critical': 3}
# risk score (pattern weight x health weight) -> (risk level, strategy); the first row whose bound it does not exceed
STRATEGIES = ((2, 'low', 'direct'), (4, 'medium', 'direct_extended_monitoring'), (6, 'high', 'canary'),
              (12, 'critical', 'defer'))
LIMIT_CONTROLLERS = {'MemoryMax': 'memory', 'MemoryHigh': 'memory', 'CPUWeight': 'cpu'}
WILDCARDS = ('0.0.0.0', '::', '*', '[::]', '')
INSTANCE_LABEL = 'io.homelab.deploy.instance'
# podman runs each healthcheck as a transient unit; a failing check leaves one failed, already counted as unhealthy
HEALTHCHECK_UNIT_RE = re.compile(r'^\[systemd-run\] \S*podman healthcheck run ')

DEFAULT_SETTINGS = {
    'scope': 'system', 'resource_limits': 'enforce', 'approve_degraded': False,
    'disk_warn_percent': 65, 'disk_fail_percent': 75,
    'memory_warn_percent': 80, 'memory_fail_percent': 90,
    'load_warn_per_cpu': 1.0, 'load_fail_per_cpu': 2.0,
    'healthy_score': 80, 'degraded_score': 50,
}


# -- parsing raw command output ---------------------------------------------------------------------

def _json(value, what):
    if isinstance(value, (dict, list)) or value is None:
        return value
    try:
        return json.loads(value) if value.strip() else None
    except ValueError as exc:
        raise AnsibleFilterError('cannot read %s as JSON: %s' % (what, to_native(exc)))


def parse_meminfo(text):
    """{key: bytes} from /proc/meminfo."""
    out = {}
    for line in (text or '').splitlines():
        match = re.match(r'^(\w+):\s+(\d+)(?:\s+kB)?$', line.strip())
        if match:
            out[match.group(1)] = int(match.group(2)) * (1024 if line.strip().endswith('kB') else 1)
    return out


def parse_loadavg(text):
    parts = (text or '').split()
    if len(parts) < 3:
        raise AnsibleFilterError('cannot read /proc/loadavg: %r' % text)
    return [float(p) for p in parts[:3]]


def parse_pressure(text):
    """avg60 of the `some` line of a /proc/pressure file, or None."""
    match = re.search(r'^some .*avg60=([0-9.]+)', text or '', re.M)
    return float(match.group(1)) if match else None


def parse_df(line):
    """(total, used, available, percent, mountpoint) from one `df -P -B1` line."""
    fields = (line or '').split()
    if len(fields) < 6 or not fields[1].isdigit():
        raise AnsibleFilterError('cannot read df output: %r' % line)
    return {'filesystem': fields[0], 'total': int(fields[1]), 'used': int(fields[2]), 'available': int(fields[3]),
            'percent': int(fields[4].rstrip('%')), 'mount': fields[5]}


def parse_ss(text):
    """Listening sockets [(protocol, address, port)] from `ss -Htlnu` (or -Htln)."""
    out = []
    for line in (text or '').splitlines():
        fields = line.split()
        if len(fields) < 5:
            continue
        address, _sep, port = fields[4].rpartition(':')
        if port.isdigit():
            out.append((fields[0], address.split('%')[0].strip('[]'), int(port)))
    return out


def parse_systemd_version(text):
    match = re.search(r'^systemd (\d+)', text or '', re.M)
    if not match:
        raise AnsibleFilterError('cannot read the systemd version from %r' % (text or '')[:80])
    return int(match.group(1))


def parse_podman_version(value):
    data = _json(value, 'podman version')
    version = ((data or {}).get('Client') or {}).get('Version') if isinstance(data, dict) else None
    if not version:
        raise AnsibleFilterError('cannot read the podman version from %r' % (value,))
    return version


def parse_show(text):
    """Property blocks of `systemctl show -p A,B unit...` as a list of dicts."""
    blocks, current = [], {}
    for line in (text or '').splitlines() + ['']:
        if not line.strip():
            if current:
                blocks.append(current)
            current = {}
            continue
        key, _sep, value = line.partition('=')
        current[key] = value
    return blocks


def version_tuple(text):
    return tuple(int(p) for p in re.findall(r'\d+', str(text))[:3])


# -- assessment pieces ---------------------------------------------------------------------------------

def _failed_units(units):
    return sorted(u['unit'] for u in units or [] if not HEALTHCHECK_UNIT_RE.match(u.get('description', '')))


def _unhealthy_containers(containers):
    return sorted(c['Names'][0] for c in containers or [] if '(unhealthy)' in c.get('Status', ''))


def _restarting_units(blocks):
    return sorted(b['Id'] for b in blocks if b.get('NRestarts', '0').isdigit() and int(b['NRestarts']) > 0)


def _health(facts, s, memory, load_per_cpu, disks):
    """(score, deductions) of the host, 100 = nothing to worry about."""
    deductions = []

    def deduct(points, reason):
        deductions.append({'points': points, 'reason': reason})

    failed = _failed_units(facts.get('failed_units'))
    if failed:
        deduct(min(30, 10 * len(failed)), 'failed units: %s' % ', '.join(failed))
    unhealthy = _unhealthy_containers(facts.get('containers'))
    if unhealthy:
        deduct(min(30, 10 * len(unhealthy)), 'unhealthy containers: %s' % ', '.join(unhealthy))
    restarting = _restarting_units(parse_show(facts.get('unit_restarts')))
    if restarting:
        deduct(min(15, 5 * len(restarting)), 'services restarted by systemd since their last start: %s' % ', '.join(restarting))
    if load_per_cpu > s['load_fail_per_cpu']:
        deduct(20, 'load %.2f per CPU is above %.2f' % (load_per_cpu, s['load_fail_per_cpu']))
    elif load_per_cpu > s['load_warn_per_cpu']:
        deduct(10, 'load %.2f per CPU is above %.2f' % (load_per_cpu, s['load_warn_per_cpu']))
    if memory['used_percent'] > s['memory_fail_percent']:
        deduct(20, 'memory %d%% used (fail level %d%%)' % (memory['used_percent'], s['memory_fail_percent']))
    elif memory['used_percent'] > s['memory_warn_percent']:
        deduct(10, 'memory %d%% used (warn level %d%%)' % (memory['used_percent'], s['memory_warn_percent']))
    if memory.get('pressure_avg60') is not None and memory['pressure_avg60'] > 10:
        deduct(10, 'memory pressure: tasks stalled %.1f%% of the last minute' % memory['pressure_avg60'])
    worst = max([d['percent'] for d in disks] or [0])
    if worst > s['disk_fail_percent']:
        deduct(20, 'disk %d%% used (fail level %d%%)' % (worst, s['disk_fail_percent']))
    elif worst > s['disk_warn_percent']:
        deduct(10, 'disk %d%% used (warn level %d%%)' % (worst, s['disk_warn_percent']))
    return max(0, 100 - sum(d['points'] for d in deductions)), deductions


def _memory(facts, requirements):
    info = parse_meminfo(facts.get('meminfo'))
    total, available = info.get('MemTotal', 0), info.get('MemAvailable', info.get('MemFree', 0))
    return {'total_bytes': total, 'available_bytes': available,
            'used_percent': int(round(100.0 * (total - available) / total)) if total else 0,
            'required_high_bytes': requirements.get('memory_high_bytes', 0),
            'required_max_bytes': requirements.get('memory_max_bytes', 0),
            'pressure_avg60': parse_pressure(facts.get('memory_pressure'))}


def _storage_needs(requirements, volume_path):
    """GB of free space each measured path must have: volumes in podman's volume path, bind storage in place."""
    need = {}
    for storage in requirements.get('storage', []):
        path = volume_path if storage['type'] == 'volume' else storage.get('path')
        need[path] = need.get(path, 0.0) + float(storage['min_free_gb'])
    return need


def _disks(facts, requirements, s, volume_path):
    """One entry per filesystem the deploy writes to, with the free space its storage needs there."""
    need = _storage_needs(requirements, volume_path)
    by_mount = {}
    for path, line in sorted((facts.get('disks') or {}).items()):
        df = parse_df(line)
        disk = by_mount.setdefault(df['mount'], dict(df, paths=[], required_gb=0.0))
        disk['paths'].append(path)
        disk['required_gb'] += need.get(path, 0.0)
    out = []
    for disk in sorted(by_mount.values(), key=lambda d: d['mount']):
        disk['free_gb'] = round(disk['available'] / 1024.0 ** 3, 1)
        disk['status'] = 'fail' if disk['percent'] > s['disk_fail_percent'] or disk['free_gb'] < disk['required_gb'] \
            else 'warn' if disk['percent'] > s['disk_warn_percent'] else 'ok'
        out.append(disk)
    return out


def _owned(labels, instance):
    return (labels or {}).get(INSTANCE_LABEL) == instance


def _name_conflicts(facts, requirements, instance):
    conflicts = []
    ours = set(facts.get('unit_files_ours') or [])
    for name in sorted(set(facts.get('unit_files_existing') or []) - ours):
        conflicts.append('unit file %s exists and does not belong to %s' % (name, instance))
    wanted = set(requirements.get('container_names', []))
    for ctr in facts.get('containers') or []:
        for name in ctr.get('Names', []):
            if name in wanted and not _owned(ctr.get('Labels'), instance):
                conflicts.append('container %s exists and does not belong to %s' % (name, instance))
    for kind, key, name_key, labels_key in (('network', 'networks', 'name', 'labels'), ('volume', 'volumes', 'Name', 'Labels')):
        wanted = set(requirements.get('%s_names' % kind, []))
        for obj in facts.get(key) or []:
            if obj.get(name_key) in wanted and not _owned(obj.get(labels_key), instance):
                conflicts.append('%s %s exists and does not belong to %s' % (kind, obj[name_key], instance))
    return sorted(conflicts)


def _ours_publishes(facts, instance, port, protocol):
    for ctr in facts.get('containers') or []:
        if _owned(ctr.get('Labels'), instance) and ctr.get('State') == 'running':
            for pub in ctr.get('Ports') or []:
                if pub.get('host_port') == port and pub.get('protocol', 'tcp') == protocol:
                    return True
    return False


def _port_holder(facts, port, protocol):
    for ctr in facts.get('containers') or []:
        if any(p.get('host_port') == port and p.get('protocol', 'tcp') == protocol for p in ctr.get('Ports') or []):
            return 'container %s' % ctr['Names'][0]
    return 'a process on the host'


def _port_conflicts(facts, requirements, instance):
    listening = parse_ss(facts.get('listening'))
    conflicts = []
    for want in requirements.get('host_ports', []):
        proto = 'tcp' if want['protocol'] == 'tcp' else 'udp'
        for sock_proto, address, port in listening:
            overlaps = address in WILDCARDS or want['ip'] in WILDCARDS or address == want['ip']
            if sock_proto == proto and port == want['port'] and overlaps \
                    and not _ours_publishes(facts, instance, port, proto):
                conflicts.append('port %s:%d/%s is already in use by %s (listening on %s)' % (
                    want['ip'], port, proto, _port_holder(facts, port, proto), address or '*'))
                break
    return conflicts


def _hostname_conflicts(routers, requirements, instance):
    conflicts = []
    for hostname in requirements.get('hostnames', []):
        needle = 'Host(`%s`)' % hostname
        for router in routers or []:
            if needle in router.get('rule', '') and router.get('name') != '%s@file' % instance:
                conflicts.append('host name %s is already routed by Traefik router %s' % (hostname, router.get('name')))
    return conflicts


def _versions(facts, requirements):
    podman = parse_podman_version(facts.get('podman_version'))
    systemd = parse_systemd_version(facts.get('systemd_version'))
    need_podman, need_systemd = str(requirements.get('podman', '4.4')), int(requirements.get('systemd', 0))
    problems = []
    if version_tuple(podman) < version_tuple(need_podman):
        problems.append('podman %s is older than %s, which the pattern needs (Quadlet)' % (podman, need_podman))
    if systemd < need_systemd:
        problems.append('systemd %d is older than %d, which the pattern needs' % (systemd, need_systemd))
    generator = facts.get('generator')
    if generator and (generator.get('rc') or generator.get('errors')):
        problems.append('the node\'s quadlet generator (podman %s) rejects the rendered units: %s' % (
            podman, '; '.join(generator.get('errors') or ['exit code %s' % generator.get('rc')])))
    return {'podman': podman, 'systemd': systemd, 'required_podman': need_podman, 'required_systemd': need_systemd,
            'ok': not problems}, problems


def _cgroup(facts, requirements, s):
    info = _json(facts.get('podman_info'), 'podman info') or {}
    host = info.get('host') or {}
    version = host.get('cgroupVersion')
    available = sorted(host.get('cgroupControllers') or []) if version == 'v2' else []
    missing = sorted(set(requirements.get('controllers', [])) - set(available))
    return {'scope': s['scope'], 'version': version, 'controllers': available, 'required': requirements.get('controllers', []),
            'missing': missing, 'resource_limits': s['resource_limits'],
            'limits_enforced': not missing,
            'volume_path': (info.get('store') or {}).get('volumePath')}


def _classify(score, s):
    if score >= s['healthy_score']:
        return 'healthy'
    return 'degraded' if score >= s['degraded_score'] else 'critical'


def _risk(pattern_risk, health):
    score = RISK_WEIGHT[pattern_risk] * HEALTH_WEIGHT[health]
    for bound, level, strategy in STRATEGIES:
        if score <= bound:
            return {'pattern': pattern_risk, 'health': health, 'score': score, 'level': level}, strategy
    raise AnsibleFilterError('risk score %d out of range' % score)  # pragma: no cover - the table covers 1..12


def _settings(settings):
    s = dict(DEFAULT_SETTINGS)
    s.update(dict((k, v) for k, v in (settings or {}).items() if v is not None))
    unknown = sorted(set(s) - set(DEFAULT_SETTINGS))
    if unknown:
        raise AnsibleFilterError('unknown pre-flight setting(s): %s' % ', '.join(unknown))
    if s['resource_limits'] not in ('enforce', 'best_effort'):
        raise AnsibleFilterError("resource_limits must be 'enforce' or 'best_effort', got %r" % s['resource_limits'])
    if s['disk_warn_percent'] > s['disk_fail_percent'] or s['memory_warn_percent'] > s['memory_fail_percent']:
        raise AnsibleFilterError('warn levels must not be above fail levels')
    return s


# -- the assessment ------------------------------------------------------------------------------------

def _resource_issues(memory, disks, s):
    critical, warnings = [], []
    gib = 1024.0 ** 3
    if memory['available_bytes'] < memory['required_high_bytes']:
        critical.append('free memory %.1f GiB is below the %.1f GiB the services expect to use (MemoryHigh)' % (
            memory['available_bytes'] / gib, memory['required_high_bytes'] / gib))
    elif memory['available_bytes'] < memory['required_max_bytes']:
        warnings.append('free memory %.1f GiB is below the services\' hard limits (%.1f GiB MemoryMax)' % (
            memory['available_bytes'] / gib, memory['required_max_bytes'] / gib))
    if memory['used_percent'] > s['memory_fail_percent']:
        critical.append('memory %d%% used, above the fail level %d%%' % (memory['used_percent'], s['memory_fail_percent']))
    for disk in disks:
        if disk['percent'] > s['disk_fail_percent']:
            critical.append('disk %s is %d%% used, above the fail level %d%%' % (disk['mount'], disk['percent'], s['disk_fail_percent']))
        elif disk['percent'] > s['disk_warn_percent']:
            warnings.append('disk %s is %d%% used, above the warn level %d%%' % (disk['mount'], disk['percent'], s['disk_warn_percent']))
        if disk['free_gb'] < disk['required_gb']:
            critical.append('disk %s has %.1f GB free, the storage needs %.1f GB' % (disk['mount'], disk['free_gb'], disk['required_gb']))
    return critical, warnings


def _limit_issues(cgroup):
    if not cgroup['missing']:
        return [], []
    what = 'cgroup %s controller(s) %s not available in the %s scope' % (
        cgroup['version'] or 'unknown', ', '.join(cgroup['missing']), cgroup['scope'])
    if cgroup['resource_limits'] == 'enforce':
        return ['%s: resource_limits=enforce refuses to deploy limits the host cannot enforce '
                '(use best_effort to deploy without them)' % what], []
    return [], ['%s: deploying without the limits that need them (resource_limits=best_effort)' % what]


def _decision(critical, health, strategy, s):
    approval_needed = health != 'healthy' or strategy == 'defer'
    if critical:
        return 'refuse', approval_needed, 'critical issues: %s' % '; '.join(critical)
    if approval_needed and not s['approve_degraded']:
        why = 'the host is %s' % health if health != 'healthy' else 'the risk calls for deferring'
        return 'refuse', True, '%s; set approve_degraded=true to deploy anyway' % why
    return 'proceed', approval_needed, 'approved by approve_degraded=true' if approval_needed else 'no approval needed'


def preflight_assess(facts, requirements, settings=None):
    """Judge a host for one deployment: health score, issues, resources, risk, strategy and the decision."""
    if not isinstance(facts, dict) or not isinstance(requirements, dict):
        raise AnsibleFilterError('preflight_assess expects the gathered facts and the requirements as mappings')
    s = _settings(settings)
    instance = requirements.get('instance') or ''
    memory = _memory(facts, requirements)
    loadavg = parse_loadavg(facts.get('loadavg'))
    nproc = max(1, int(facts.get('nproc') or 1))
    cgroup = _cgroup(facts, requirements, s)
    disks = _disks(facts, requirements, s, cgroup['volume_path'])
    score, deductions = _health(facts, s, memory, loadavg[1] / nproc, disks)
    health = _classify(score, s)
    critical, warnings = _resource_issues(memory, disks, s)
    versions, version_problems = _versions(facts, requirements)
    limit_critical, limit_warnings = _limit_issues(cgroup)
    conflicts = {'names': _name_conflicts(facts, requirements, instance),
                 'ports': _port_conflicts(facts, requirements, instance),
                 'hostnames': _hostname_conflicts(facts.get('routers'), requirements, instance)}
    missing_paths = ['host path %s does not exist' % p for p in facts.get('missing_host_paths') or []]
    critical += version_problems + limit_critical + conflicts['names'] + conflicts['ports'] + conflicts['hostnames'] \
        + missing_paths
    warnings += limit_warnings + list(facts.get('warnings') or [])
    warnings += ['health %d/100 (%s): %s' % (score, health, d['reason']) for d in deductions]
    risk, strategy = _risk(requirements.get('risk', 'medium'), health)
    decision, approval_needed, reason = _decision(critical, health, strategy, s)
    if decision == 'proceed' and strategy == 'defer':
        strategy = 'canary'
        warnings.append('deferring was advised; deploying as a canary because approve_degraded=true')
    return {
        'instance': instance, 'pattern': requirements.get('pattern'), 'scope': s['scope'],
        'health_score': score, 'health': health, 'health_deductions': deductions,
        'critical_issues': critical, 'warnings': warnings,
        'resources': {'memory': memory, 'disks': disks, 'cgroup': cgroup,
                      'load': {'avg': loadavg, 'cpus': nproc, 'per_cpu_5min': round(loadavg[1] / nproc, 2)}},
        'conflicts': conflicts, 'versions': versions, 'risk': risk, 'strategy': strategy,
        'limits': {'mode': s['resource_limits'], 'controllers': cgroup['controllers'], 'missing': cgroup['missing'],
                   'enforced': cgroup['limits_enforced']},
        'approval': {'required': approval_needed, 'given': bool(s['approve_degraded']), 'reason': reason},
        'decision': decision, 'thresholds': dict((k, v) for k, v in s.items() if k.endswith(('_percent', '_cpu', '_score'))),
    }


def preflight_unit_sets(pattern, instance, scope='system', **render_args):
    """The units a best_effort deploy of the loaded pattern writes, once per set of the cgroup controllers its
    limits need (homelab.deploy.preflight_info validates the set that matches the host's controllers): the
    pre-flight validates exactly the units the deploy will write. One set when the limits make no difference."""
    from ansible_collections.homelab.deploy.plugins.filter import patterns  # pylint: disable=import-outside-toplevel
    relevant = sorted(set(controller for dummy, controller in patterns.LIMIT_KEYS if controller))
    subsets = [[c for i, c in enumerate(relevant) if mask & (1 << i)] for mask in range(1 << len(relevant))]
    render_args.setdefault('allow_privileged', True)  # what the deployment allows is the deploy's render's call
    sets = []
    for controllers in subsets:
        rendered = patterns.pattern_render(pattern, instance, limits='best_effort', controllers=controllers, **render_args)
        plan = patterns.pattern_plan(rendered, scope)
        sets.append({'controllers': controllers,
                     'units': [{'name': u['name'], 'content': u['text']} for phase in plan['phases'] for u in phase]})
    if all(item['units'] == sets[0]['units'] for item in sets):
        return [{'controllers': [], 'units': sets[0]['units']}]
    return sets


def preflight_inputs(pattern):
    """What the pre-flight of a pattern deployment reads and judges, from the pattern's name, overrides and the
    deployment's settings (the preflight_report action's pattern option): (the read options for
    homelab.deploy.preflight_info, the requirements for preflight_assess). The pattern is loaded and validated
    here, rendered once for the requirements and once per set of cgroup controllers for the units the deploy will
    write."""
    from ansible_collections.homelab.deploy.plugins.filter import patterns  # pylint: disable=import-outside-toplevel
    loaded = patterns.pattern_load(pattern['name'], pattern.get('overrides') or {},
                                   overrides_source=pattern.get('overrides_source') or 'preflight_overrides')
    instance, scope = pattern['instance'], pattern.get('scope') or 'system'
    # unset (None or ''): pattern_render's own defaults
    render_args = dict((key, pattern[key]) for key in ('proxy_network', 'storage_root', 'bind_roots', 'bind_readonly',
                                                       'config_dir')
                       if pattern.get(key) not in (None, ''))
    render_args['hostname'] = pattern.get('hostname') or None
    rendered = patterns.pattern_render(loaded, instance, limits='best_effort', allow_privileged=True, **render_args)
    needs = rendered['requirements']
    read = {'scope': scope, 'instance': instance, 'unit_names': needs['unit_names'], 'host_paths': needs['host_paths'],
            'storage_paths': [item['path'] for item in needs['storage'] if item['type'] == 'bind'],
            'unit_sets': (preflight_unit_sets(loaded, instance, scope, pull=pattern.get('pull') or 'missing', **render_args)
                          if pattern.get('validate_units', True) else []),
            # Traefik is asked about the pattern's host names unless the API URL is '' (unset: the module's default)
            'hostnames': needs['hostnames'] if pattern.get('api_url') != '' else []}
    if scope == 'user':
        read['user'] = pattern.get('user')
    if pattern.get('api_url'):
        read['api_url'] = pattern['api_url']
    requirements = dict(needs, instance=instance, pattern=rendered['pattern'], risk=rendered['risk'])
    return read, requirements


class FilterModule(object):
    """Pre-flight filters."""

    def filters(self):
        return {
            'preflight_assess': preflight_assess,
            'preflight_unit_sets': preflight_unit_sets,
        }

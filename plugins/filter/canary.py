# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Canary analysis from Traefik's own Prometheus metrics, and the decision that follows from it.

Pure functions of text scraped from Traefik (``/metrics`` on its ``traefik`` entry point), so they are
tested with scrapes captured on a real node. Traefik's counters only grow (and keep growing across weight
changes), so a measurement is always the difference between two scrapes: the one taken when the interval
began and the one taken when it ended.

A measurement is ``success``, ``failure`` or ``inconclusive`` (too little traffic to judge: never a
failure), or ``error`` when it could not be taken at all (no scrape). ``canary_decide`` turns the list of
measurements into ``continue``, ``promote``, ``rollback`` or ``pause`` with limits in the manner of Argo
Rollouts' analysis (failure, inconclusive and consecutive-error limits).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import math
import re

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.six import string_types

from ansible_collections.homelab.deploy.plugins.module_utils._quadlet import MANAGED_HEADER
from ansible_collections.homelab.deploy.plugins.module_utils._unitfile import (
    UnitFileError, parse_unit, render_unit, split_words)

REQUESTS = 'traefik_service_requests_total'
DURATION_BUCKET = 'traefik_service_request_duration_seconds_bucket'
VERDICTS = ('success', 'failure', 'inconclusive', 'error')
DECISIONS = ('continue', 'promote', 'rollback', 'pause')
DEFAULT_THRESHOLDS = {
    'min_requests': 10,          # fewer canary requests in an interval: inconclusive
    'min_success_rate': 0.95,    # share of non-5xx answers
    'max_p95_ms': 500,           # 95th percentile of the request duration
    'max_error_rate': None,      # 5xx answers per second
    'max_memory_mb': None,       # resident memory of the canary container
    'max_p95_ratio': None,       # canary p95 / stable p95 (when the stable has min_requests too)
}
DEFAULT_LIMITS = {'max_failures': 0, 'max_inconclusive': 1, 'max_consecutive_errors': 2}
OVERRIDES = ('promote', 'abort')
CANARY_LABEL = 'io.homelab.deploy.canary-of'
# keys a second instance beside the stable one must not copy: it would clash on them
CANARY_DROP = ('PublishPort', 'HostName', 'ServiceName', 'IP', 'IP6')

_SAMPLE_RE = re.compile(r'^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)(?:\s+-?\d+)?$')
_LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|$)')
_ESCAPES = {'\\\\': '\\', '\\"': '"', '\\n': '\n'}


# -- Prometheus text format -------------------------------------------------------------------------

def _unescape(value):
    return re.sub(r'\\[\\"n]', lambda match: _ESCAPES[match.group(0)], value)


def _parse_labels(text, lineno):
    labels = {}
    pos = 0
    while pos < len(text):
        match = _LABEL_RE.match(text, pos)
        if not match:
            raise AnsibleFilterError('canary: metrics line %d: cannot read the labels %r' % (lineno, text))
        labels[match.group(1)] = _unescape(match.group(2))
        pos = match.end()
    return labels


def _parse_value(text, lineno):
    try:
        return float({'+Inf': 'inf', '-Inf': '-inf'}.get(text, text))
    except ValueError:
        raise AnsibleFilterError('canary: metrics line %d: %r is not a number' % (lineno, text))


def parse_metrics(text):
    """Samples of a Prometheus text exposition as (name, labels, value); comments and blank lines skipped."""
    if not isinstance(text, string_types):
        raise AnsibleFilterError('canary: metrics must be the text of a Prometheus scrape, got %s'
                                 % type(text).__name__)
    samples = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        match = _SAMPLE_RE.match(line)
        if not match:
            raise AnsibleFilterError('canary: metrics line %d is not a Prometheus sample: %r' % (lineno, line[:120]))
        samples.append((match.group('name'), _parse_labels(match.group('labels') or '', lineno),
                        _parse_value(match.group('value'), lineno)))
    return samples


# -- per-service counters ----------------------------------------------------------------------------

def service_counters(samples, service):
    """Requests by status code and the duration histogram (le -> count) of one Traefik service."""
    codes, buckets = {}, {}
    for name, labels, value in samples:
        if labels.get('service') != service:
            continue
        if name == REQUESTS:
            codes[labels.get('code', '')] = codes.get(labels.get('code', ''), 0) + value
        elif name == DURATION_BUCKET:
            upper = _parse_value(labels.get('le', '+Inf'), 0)
            buckets[upper] = buckets.get(upper, 0) + value
    return {'codes': codes, 'buckets': buckets}


def _counter_delta(current, previous):
    """Increase of a counter; a counter below its previous value was reset (Traefik restarted)."""
    return current - previous if current >= previous else current


def counters_delta(current, previous):
    codes = dict((code, _counter_delta(value, previous['codes'].get(code, 0)))
                 for code, value in current['codes'].items())
    buckets = dict((upper, _counter_delta(value, previous['buckets'].get(upper, 0)))
                   for upper, value in current['buckets'].items())
    return {'codes': codes, 'buckets': buckets}


def histogram_quantile(quantile, buckets):
    """Quantile from cumulative buckets, interpolated linearly inside a bucket as Prometheus does.

    Returns None without observations; a quantile in the +Inf bucket is the largest finite bound.
    """
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    rank = quantile * buckets[bounds[-1]]
    lower_bound, lower_count = 0.0, 0.0
    for upper in bounds:
        count = buckets[upper]
        if count >= rank:
            if math.isinf(upper):
                return lower_bound
            if count == lower_count:
                return upper
            return lower_bound + (upper - lower_bound) * (rank - lower_count) / (count - lower_count)
        lower_bound, lower_count = upper, count
    return lower_bound


def summarize(delta, interval=None):
    """requests, 5xx errors, success rate, error rate (per second) and p95 (ms) of one interval."""
    requests = int(round(sum(delta['codes'].values())))
    errors = int(round(sum(value for code, value in delta['codes'].items() if code.startswith('5'))))
    p95 = histogram_quantile(0.95, delta['buckets'])
    return {
        'requests': requests,
        'errors': errors,
        'success_rate': round(1.0 - float(errors) / requests, 4) if requests else None,
        'error_rate': round(errors / float(interval), 4) if interval else None,
        'p95_ms': round(p95 * 1000.0, 1) if p95 is not None else None,
        'codes': dict((code, int(round(value))) for code, value in sorted(delta['codes'].items()) if value),
    }


# -- analysis ----------------------------------------------------------------------------------------

def _number(value, key, where):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise AnsibleFilterError('canary: %s.%s must be a number, got %r' % (where, key, value))
    if value < 0:
        raise AnsibleFilterError('canary: %s.%s must not be negative, got %r' % (where, key, value))
    return value


def check_settings(given, defaults, where):
    """Defaults merged with the given settings; unknown keys and non-numbers are refused by name."""
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise AnsibleFilterError('canary: %s must be a mapping, got %s' % (where, type(given).__name__))
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise AnsibleFilterError('canary: %s has unknown key(s) %s; known: %s'
                                 % (where, ', '.join(unknown), ', '.join(sorted(defaults))))
    settings = dict(defaults)
    settings.update(dict((key, _number(value, key, where)) for key, value in given.items()))
    for key in ('min_success_rate',):
        if settings.get(key) is not None and settings[key] > 1:
            raise AnsibleFilterError('canary: %s.%s is a share between 0 and 1, got %r' % (where, key, settings[key]))
    return settings


def _check(name, value, limit, passed):
    return {'name': name, 'value': value, 'limit': limit, 'ok': passed}


def _traffic_checks(canary, stable, thresholds):
    checks = []
    if thresholds['min_success_rate'] is not None:
        checks.append(_check('success_rate', canary['success_rate'], thresholds['min_success_rate'],
                             canary['success_rate'] >= thresholds['min_success_rate']))
    if thresholds['max_error_rate'] is not None and canary['error_rate'] is not None:
        checks.append(_check('error_rate', canary['error_rate'], thresholds['max_error_rate'],
                             canary['error_rate'] <= thresholds['max_error_rate']))
    if thresholds['max_p95_ms'] is not None and canary['p95_ms'] is not None:
        checks.append(_check('p95_ms', canary['p95_ms'], thresholds['max_p95_ms'],
                             canary['p95_ms'] <= thresholds['max_p95_ms']))
    if (thresholds['max_p95_ratio'] is not None and canary['p95_ms'] is not None and stable
            and stable['requests'] >= thresholds['min_requests'] and stable['p95_ms']):
        ratio = round(canary['p95_ms'] / stable['p95_ms'], 2)
        checks.append(_check('p95_ratio', ratio, thresholds['max_p95_ratio'], ratio <= thresholds['max_p95_ratio']))
    return checks


def _container_checks(health, memory_mb, thresholds):
    checks = []
    if health is not None:
        checks.append(_check('health', health, 'healthy', health == 'healthy'))
    if thresholds['max_memory_mb'] is not None and memory_mb is not None:
        checks.append(_check('memory_mb', memory_mb, thresholds['max_memory_mb'],
                             memory_mb <= thresholds['max_memory_mb']))
    return checks


def _verdict(checks, canary, thresholds):
    failed = [check for check in checks if not check['ok']]
    if failed:
        return 'failure', ['%s %s outside limit %s' % (c['name'], c['value'], c['limit']) for c in failed]
    if canary['requests'] < thresholds['min_requests']:
        return 'inconclusive', ['%d canary requests, fewer than min_requests %d'
                                % (canary['requests'], thresholds['min_requests'])]
    return 'success', []


def canary_analyze(current, previous=None, canary_service=None, stable_service=None, thresholds=None,
                   interval=None, health=None, memory_mb=None, weight=None, at=None):
    """One measurement of the canary from two Traefik scrapes, judged against the thresholds."""
    thresholds = check_settings(thresholds, DEFAULT_THRESHOLDS, 'thresholds')
    if not canary_service or not isinstance(canary_service, string_types):
        raise AnsibleFilterError('canary: canary_service (the Traefik service, e.g. web-canary@file) is required')
    interval = _number(interval, 'interval', 'canary_analyze')
    record = {'at': at, 'weight': weight, 'interval': interval, 'health': health, 'memory_mb': memory_mb,
              'canary': None, 'stable': None, 'checks': []}
    if not current:
        record.update(verdict='error', reasons=['no metrics scraped from Traefik'])
        return _with_line(record)
    current_samples = parse_metrics(current)
    previous_samples = parse_metrics(previous or '')
    stats = {}
    for role, service in (('canary', canary_service), ('stable', stable_service)):
        if service:
            delta = counters_delta(service_counters(current_samples, service),
                                   service_counters(previous_samples, service))
            stats[role] = summarize(delta, interval)
    record.update(stats)
    checks = _container_checks(health, memory_mb, thresholds)
    if stats['canary']['requests'] >= thresholds['min_requests']:  # too little traffic judges nothing
        checks += _traffic_checks(stats['canary'], stats.get('stable'), thresholds)
    verdict, reasons = _verdict(checks, stats['canary'], thresholds)
    record.update(checks=checks, verdict=verdict, reasons=reasons)
    return _with_line(record)


def _percent(value):
    return '-' if value is None else '%.1f%%' % (value * 100)


def _ms(value):
    return '-' if value is None else '%.0f ms' % value


def _with_line(record):
    """The measurement's one-line progress report (time, weight, success rate, p95, errors, verdict)."""
    canary = record.get('canary') or {}
    stable = record.get('stable') or {}
    weight = '-' if record.get('weight') is None else record['weight']
    parts = ['%s' % (record.get('at') or '-'), 'weight %s%%' % weight,
             'canary %s req, success %s, p95 %s, %s errors' % (
                 canary.get('requests', 0), _percent(canary.get('success_rate')), _ms(canary.get('p95_ms')),
                 canary.get('errors', 0))]
    if stable:
        parts.append('stable %s req, success %s, p95 %s' % (stable['requests'], _percent(stable['success_rate']),
                                                            _ms(stable['p95_ms'])))
    if record.get('health') is not None:
        parts.append('health %s' % record['health'])
    parts.append('verdict %s%s' % (record['verdict'], ' (%s)' % '; '.join(record['reasons']) if record['reasons'] else ''))
    record['line'] = ' | '.join(parts)
    return record


# -- decision ----------------------------------------------------------------------------------------

def _count(measurements):
    counts = dict((verdict, 0) for verdict in VERDICTS)
    consecutive_errors = 0
    for measurement in measurements:
        if not isinstance(measurement, dict) or measurement.get('verdict') not in VERDICTS:
            raise AnsibleFilterError('canary: every measurement needs a verdict (%s), got %r'
                                     % (', '.join(VERDICTS), measurement))
        counts[measurement['verdict']] += 1
        consecutive_errors = consecutive_errors + 1 if measurement['verdict'] == 'error' else 0
    return counts, consecutive_errors


def _decision(decision, reason, counts, consecutive_errors, measurements, override=None):
    return {'decision': decision, 'reason': reason, 'counts': counts, 'consecutive_errors': consecutive_errors,
            'measurements': len(measurements), 'override': override}


def canary_decide(measurements, limits=None, steps=None, override=None):
    """continue, promote, rollback or pause, from the measurements so far and the limits.

    Rollback beats pause beats promote: failures above ``max_failures`` or consecutive errors above
    ``max_consecutive_errors`` roll back; inconclusive measurements above ``max_inconclusive`` pause (the
    operator decides with ``override``: promote or abort); after ``steps`` measurements the canary is
    promoted only when at least one of them succeeded, else it pauses too. Never promotes on silence.
    """
    if not isinstance(measurements, list):
        raise AnsibleFilterError('canary: measurements must be a list, got %s' % type(measurements).__name__)
    limits = check_settings(limits, DEFAULT_LIMITS, 'limits')
    steps = _number(steps, 'steps', 'canary_decide')
    counts, consecutive = _count(measurements)
    if override not in (None, '') + OVERRIDES:
        raise AnsibleFilterError('canary: override must be promote or abort, got %r' % (override,))
    if override:
        return _decision('promote' if override == 'promote' else 'rollback',
                         'operator decision: %s' % override, counts, consecutive, measurements, override)
    if counts['failure'] > limits['max_failures']:
        return _decision('rollback', '%d failed measurement(s), more than max_failures %d'
                         % (counts['failure'], limits['max_failures']), counts, consecutive, measurements)
    if consecutive > limits['max_consecutive_errors']:
        return _decision('rollback', '%d consecutive measurement errors, more than max_consecutive_errors %d'
                         % (consecutive, limits['max_consecutive_errors']), counts, consecutive, measurements)
    if counts['inconclusive'] > limits['max_inconclusive']:
        return _decision('pause', '%d inconclusive measurement(s), more than max_inconclusive %d'
                         % (counts['inconclusive'], limits['max_inconclusive']), counts, consecutive, measurements)
    if steps is not None and len(measurements) >= steps:
        if counts['success'] == 0:
            return _decision('pause', 'all %d steps done without a successful measurement' % len(measurements),
                             counts, consecutive, measurements)
        return _decision('promote', '%d of %d measurement(s) successful within the limits'
                         % (counts['success'], len(measurements)), counts, consecutive, measurements)
    return _decision('continue', 'within the limits', counts, consecutive, measurements)


def canary_weights(steps=None, step_weight=None, max_weight=None):
    """The canary weights to go through: an explicit list, or step_weight up to max_weight (inclusive)."""
    if steps:
        if not isinstance(steps, list):
            raise AnsibleFilterError('canary: steps must be a list of weights (1-100), got %r' % (steps,))
        weights = [_number(step, 'steps[%d]' % index, 'canary') for index, step in enumerate(steps)]
    elif step_weight:
        step_weight = _number(step_weight, 'step_weight', 'canary')
        max_weight = _number(max_weight if max_weight is not None else 50, 'max_weight', 'canary')
        weights = [step_weight * n for n in range(1, int(max_weight // step_weight) + 1)]
    else:
        raise AnsibleFilterError('canary: give steps (a list of weights) or step_weight (and max_weight)')
    bad = [weight for weight in weights if weight <= 0 or weight > 100 or weight != int(weight)]
    if bad or not weights:
        raise AnsibleFilterError('canary: weights must be whole numbers from 1 to 100, got %r' % (bad or weights,))
    return [int(weight) for weight in weights]


# -- units -------------------------------------------------------------------------------------------

def _sections(unit):
    sections = {}
    for name in unit.sections():
        body = {}
        for key, value in unit.entries(name):
            if key in body:
                body[key] = (body[key] if isinstance(body[key], list) else [body[key]]) + [value]
            else:
                body[key] = value
        sections[name] = body
    return sections


def _env_key(value):
    try:
        words = split_words(value)
    except UnitFileError:
        return None
    return words[0].split('=', 1)[0] if len(words) == 1 else None


def _merge_environment(current, environment):
    """Environment= values with the given variables replacing single-variable lines of the same name."""
    values = current if isinstance(current, list) else ([current] if current else [])
    kept = [value for value in values if _env_key(value) not in environment]
    return kept + [_env_assignment(key, environment[key]) for key in sorted(environment)]


def _env_assignment(key, value):
    text = '%s=%s' % (key, to_native(value).lower() if isinstance(value, bool) else to_native(value))
    if re.search(r'[\s"\'\\]', text):  # Quadlet splits Environment= into words: quote the assignment
        text = '"%s"' % text.replace('\\', '\\\\').replace('"', '\\"')
    return text


def canary_unit(stable_text, container, image, environment=None, canary=True):
    """Quadlet sections for the new version, derived from the stable container's unit text.

    With canary=true: container <container>-canary, no published ports or fixed host name (they would clash
    with the stable one), no [Install] (a canary does not come back at boot), labelled as the canary of the
    stable one; networks, volumes, secrets and health check stay those of the stable unit. With canary=false:
    the stable unit itself, only its image and environment changed (the promotion); image=None keeps its image.
    """
    if not stable_text or not isinstance(stable_text, string_types):
        raise AnsibleFilterError('canary: the stable unit of %s is empty or missing' % container)
    if image is not None and (not image or not isinstance(image, string_types)):
        raise AnsibleFilterError('canary: the new image must be an image reference, got %r' % (image,))
    if environment is not None and not isinstance(environment, dict):
        raise AnsibleFilterError('canary: environment must be a mapping of variable to value')
    try:
        sections = _sections(parse_unit(stable_text, '%s.container' % container))
    except UnitFileError as exc:
        raise AnsibleFilterError('canary: cannot read the stable unit: %s' % to_native(exc))
    body = sections.get('Container')
    if body is None:
        raise AnsibleFilterError('canary: %s.container has no [Container] section' % container)
    if image is not None:  # None keeps the stable unit's image (to compare with what a promotion would write)
        body['Image'] = image
    if environment:
        body['Environment'] = _merge_environment(body.get('Environment'), environment)
    if canary:
        for key in CANARY_DROP:
            body.pop(key, None)
        body['ContainerName'] = '%s-canary' % container
        labels = body.get('Label', [])
        body['Label'] = (labels if isinstance(labels, list) else [labels]) + ['%s=%s' % (CANARY_LABEL, container)]
        sections.pop('Install', None)
        unit = sections.setdefault('Unit', {})
        unit['Description'] = 'Canary of %s (homelab.deploy canary)' % container
    return sections


def canary_unit_text(stable_text, container, image, environment=None, canary=True):
    """The whole unit file of the canary (or the promoted stable unit) as homelab.deploy.quadlet_apply writes it.

    The sections of canary_unit rendered by the collection's one unit renderer (render_unit) under the managed
    header, the way the planner builds a plan unit's text: byte for byte what the quadlet module wrote for these
    sections, so a unit the canary wrote before reads as unchanged.
    """
    sections = canary_unit(stable_text, container, image, environment, canary)
    try:
        return MANAGED_HEADER + render_unit(sections)
    except UnitFileError as exc:
        raise AnsibleFilterError('canary: cannot render the unit of %s%s: %s'
                                 % (container, '-canary' if canary else '', to_native(exc)))


_HOST_RULE_RE = re.compile(r'Host\(`([^`]+)`\)')


def canary_route(text, service, container, suffix='-canary', path=''):
    """What a canary needs from the stable service's Traefik route file (its YAML text).

    Returns the router (rule, entrypoints, middlewares, priority, tls as traefik_route takes it), the stable URLs,
    the same URLs pointed at the canary container (<container><suffix>), pass_host_header, the route's first
    host name, and whether a canary is already under way (the file splits the traffic: <service>-stable). Refuses
    a route that does not point at the container or defines middlewares of its own, naming the file.
    """
    where = path or '%s.yml' % service
    try:
        import yaml  # pylint: disable=import-outside-toplevel  # PyYAML comes with ansible-core
        http = (yaml.safe_load(text or '') or {}).get('http') or {}
    except (yaml.YAMLError, AttributeError) as exc:
        raise AnsibleFilterError('canary: cannot read the route file %s: %s' % (where, to_native(exc)))
    router = (http.get('routers') or {}).get(service)
    services = http.get('services') or {}
    own = services.get(service) or {}
    balancer = own.get('loadBalancer') or (services.get('%s-stable' % service) or {}).get('loadBalancer')
    if not router or not balancer:
        raise AnsibleFilterError('canary: %s has no router and service named %s' % (where, service))
    stable = [server.get('url') for server in balancer.get('servers') or [] if server.get('url')]
    host_re = re.compile(r'^(https?://)%s(?=[:/]|$)' % re.escape(container))
    canary = [host_re.sub(lambda m: m.group(1) + container + suffix, url) for url in stable]
    if http.get('middlewares') or not stable or canary == stable:
        raise AnsibleFilterError('canary: %s must route to the container %s (URLs %s) and define no middlewares of its '
                                 'own (shared NAME@file middlewares are fine)' % (where, container, stable))
    tls = router.get('tls')
    if isinstance(tls, dict):
        tls = dict((k, v) for k, v in (('cert_resolver', tls.get('certResolver')), ('options', tls.get('options')))
                   if v is not None)
    elif tls is not None:
        tls = {}
    hosts = _HOST_RULE_RE.findall(router.get('rule') or '')
    return {'router': {'rule': router.get('rule'), 'entrypoints': router.get('entryPoints'),
                       'middlewares': list(router.get('middlewares') or []), 'priority': router.get('priority'),
                       'tls': tls},
            'stable_urls': stable, 'canary_urls': canary, 'pass_host_header': balancer.get('passHostHeader', True),
            'hostname': hosts[0] if hosts else None, 'in_progress': 'loadBalancer' not in own}


class FilterModule(object):
    """Canary analysis filters."""

    def filters(self):
        return {
            'canary_analyze': _wrap(canary_analyze),
            'canary_decide': _wrap(canary_decide),
            'canary_weights': _wrap(canary_weights),
            'canary_unit': _wrap(canary_unit),
            'canary_unit_text': _wrap(canary_unit_text),
            'canary_route': _wrap(canary_route),
        }


def _wrap(function):
    def filter_function(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except AnsibleFilterError:
            raise
        except Exception as exc:  # a bug here must still name the filter
            raise AnsibleFilterError('canary: %s failed: %s' % (function.__name__, to_native(exc)))
    filter_function.__name__ = function.__name__
    filter_function.__doc__ = function.__doc__
    return filter_function

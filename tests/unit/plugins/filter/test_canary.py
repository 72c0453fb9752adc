# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the canary analysis filters, fed with Traefik /metrics scrapes captured on the test node
(fixtures/canary): a weighted route cweb 70/30 whose canary child answers 500 for 30% of requests with
HL_WEB_DELAY_MS=40; `before` after 200 requests, `after-100` after 100 more, `idle` with no traffic since."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.deploy.plugins.filter import canary as cf
from ansible_collections.homelab.deploy.plugins.module_utils._unitfile import parse_unit

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'fixtures', 'canary')
CANARY = 'cweb-canary@file'
STABLE = 'cweb-stable@file'


def scrape(name):
    with open(os.path.join(FIXTURES, 'traefik-70-30-%s.txt' % name)) as handle:
        return handle.read()


BEFORE, AFTER, IDLE = scrape('before'), scrape('after-100'), scrape('idle')


def measurement(verdict):
    return {'verdict': verdict}


# -- parsing and arithmetic ------------------------------------------------------------------------

def test_parse_metrics_reads_labels_values_and_skips_comments():
    samples = cf.parse_metrics('# HELP x y\n# TYPE x counter\nx{a="1",b="q\\"uote"} 3\ny 1.5e2 1700000000\n'
                               'z{le="+Inf"} +Inf\n\n')
    assert samples == [('x', {'a': '1', 'b': 'q"uote'}, 3.0), ('y', {}, 150.0), ('z', {'le': '+Inf'}, float('inf'))]


@pytest.mark.parametrize('text, words', [
    ('x{a="1"', 'not a Prometheus sample'),
    ('x{a=1} 2', 'cannot read the labels'),
    ('x 2 3 4', 'not a Prometheus sample'),
    ('x abc', 'not a number'),
])
def test_parse_metrics_refuses_broken_lines_by_line_number(text, words):
    with pytest.raises(AnsibleFilterError, match=words) as err:
        cf.parse_metrics('# ok\n' + text)
    assert 'line 2' in str(err.value)


def test_service_counters_from_real_scrape():
    counters = cf.service_counters(cf.parse_metrics(AFTER), CANARY)
    assert set(counters['codes']) == {'200', '500'}
    assert counters['buckets'][float('inf')] == sum(counters['codes'].values())
    assert cf.service_counters(cf.parse_metrics(AFTER), 'nope@file') == {'codes': {}, 'buckets': {}}


@pytest.mark.parametrize('buckets, expected', [
    ({0.1: 0, 0.2: 100, float('inf'): 100}, 0.195),           # inside one bucket: interpolated from its lower bound
    ({0.1: 50, 0.2: 100, float('inf'): 100}, 0.19),
    ({0.1: 100, float('inf'): 100}, 0.095),                    # first bucket interpolates from 0
    ({0.1: 10, float('inf'): 100}, 0.1),                       # in +Inf: the largest finite bound
    ({0.1: 0, float('inf'): 0}, None),                         # no observations
    ({}, None),
])
def test_histogram_quantile_interpolates_like_prometheus(buckets, expected):
    result = cf.histogram_quantile(0.95, buckets)
    assert result == expected if expected is None else abs(result - expected) < 1e-9


def test_counter_reset_counts_the_new_value():
    delta = cf.counters_delta({'codes': {'200': 5}, 'buckets': {}}, {'codes': {'200': 50}, 'buckets': {}})
    assert delta['codes'] == {'200': 5}


# -- verdicts ----------------------------------------------------------------------------------------

@pytest.mark.parametrize('current, previous, service, thresholds, health, memory, verdict, failed', [
    # the stable child of the real scrape: all 200, fast
    (AFTER, BEFORE, STABLE, {}, 'healthy', None, 'success', []),
    # the canary child: 30% 500 -> success rate below 0.95
    (AFTER, BEFORE, CANARY, {'max_p95_ms': None}, 'healthy', None, 'failure', ['success_rate']),
    # same canary, success rate tolerated, but HL_WEB_DELAY_MS=40 breaks a 45 ms p95
    (AFTER, BEFORE, CANARY, {'min_success_rate': 0.5, 'max_p95_ms': 45}, None, None, 'failure', ['p95_ms']),
    (AFTER, BEFORE, CANARY, {'min_success_rate': 0.5, 'max_p95_ms': 200}, None, None, 'success', []),
    # 5xx per second
    (AFTER, BEFORE, CANARY, {'min_success_rate': None, 'max_p95_ms': None, 'max_error_rate': 0.5},
     None, None, 'failure', ['error_rate']),
    # latency compared with the stable's
    (AFTER, BEFORE, CANARY, {'min_success_rate': 0.5, 'max_p95_ms': None, 'max_p95_ratio': 3},
     None, None, 'failure', ['p95_ratio']),
    # no traffic since the last scrape: inconclusive, never a failure
    (IDLE, AFTER, CANARY, {}, 'healthy', None, 'inconclusive', []),
    # too few requests to judge even a failing canary
    (AFTER, BEFORE, CANARY, {'min_requests': 31}, 'healthy', None, 'inconclusive', []),
    # unhealthy container fails even without traffic; memory above its limit too
    (IDLE, AFTER, CANARY, {}, 'unhealthy', None, 'failure', ['health']),
    (AFTER, BEFORE, STABLE, {'max_memory_mb': 2}, 'healthy', 3.1, 'failure', ['memory_mb']),
    (AFTER, BEFORE, STABLE, {'max_memory_mb': 4}, 'healthy', 3.1, 'success', []),
    # the first scrape of a route that has just become weighted: counted from zero
    (BEFORE, '', STABLE, {}, None, None, 'success', []),
    # nothing scraped: the measurement itself failed
    ('', BEFORE, CANARY, {}, None, None, 'error', []),
])
def test_canary_analyze_verdicts(current, previous, service, thresholds, health, memory, verdict, failed):
    other = STABLE if service == CANARY else CANARY
    result = cf.canary_analyze(current, previous, service, other, thresholds, interval=10, health=health,
                               memory_mb=memory, weight=30, at='03:40:00')
    assert result['verdict'] == verdict, result['line']
    assert [check['name'] for check in result['checks'] if not check['ok']] == failed
    assert 'verdict %s' % verdict in result['line'] and result['line'].startswith('03:40:00 | weight 30%')


def test_canary_analyze_metrics_of_the_real_scrape():
    result = cf.canary_analyze(AFTER, BEFORE, CANARY, STABLE, interval=10)
    assert result['canary']['requests'] == 30 and result['canary']['errors'] == 8
    assert result['canary']['success_rate'] == round(22 / 30.0, 4)
    assert result['canary']['error_rate'] == 0.8
    assert 50 < result['canary']['p95_ms'] < 100          # 40 ms delay + CGI start, bucket 0.05-0.1 s
    assert result['stable'] == {'requests': 70, 'errors': 0, 'success_rate': 1.0, 'error_rate': 0.0,
                                'p95_ms': result['stable']['p95_ms'], 'codes': {'200': 70}}
    assert result['stable']['p95_ms'] < 25


@pytest.mark.parametrize('kwargs, words', [
    ({'thresholds': {'max_p95': 3}}, 'unknown key'),
    ({'thresholds': {'min_success_rate': 95}}, 'share between 0 and 1'),
    ({'thresholds': {'max_p95_ms': 'fast'}}, 'max_p95_ms must be a number'),
    ({'thresholds': {'min_requests': -1}}, 'must not be negative'),
    ({'thresholds': []}, 'must be a mapping'),
    ({'canary_service': None}, 'canary_service'),
])
def test_canary_analyze_refuses_bad_settings(kwargs, words):
    args = dict({'current': AFTER, 'previous': BEFORE, 'canary_service': CANARY}, **kwargs)
    with pytest.raises(AnsibleFilterError, match=words):
        cf.canary_analyze(**args)


def test_canary_analyze_refuses_what_is_not_a_scrape():
    with pytest.raises(AnsibleFilterError, match='text of a Prometheus scrape'):
        cf.canary_analyze({'a': 1}, None, CANARY)


# -- decisions ---------------------------------------------------------------------------------------

@pytest.mark.parametrize('verdicts, limits, steps, decision', [
    (['success'], {}, 3, 'continue'),
    (['success', 'success', 'success'], {}, 3, 'promote'),
    (['success', 'inconclusive', 'success'], {}, 3, 'promote'),           # one inconclusive tolerated
    (['success', 'failure'], {}, 3, 'rollback'),                            # any failure with max_failures 0
    (['failure', 'success'], {'max_failures': 1}, 3, 'continue'),
    (['failure', 'failure'], {'max_failures': 1}, 3, 'rollback'),
    (['inconclusive', 'inconclusive'], {}, 3, 'pause'),                     # starved: pause, never fail
    (['inconclusive'], {'max_inconclusive': 0}, 3, 'pause'),
    (['inconclusive', 'inconclusive', 'inconclusive'], {'max_inconclusive': 5}, 3, 'pause'),  # no success
    (['error', 'error'], {}, 4, 'continue'),
    (['error', 'error', 'error'], {}, 4, 'rollback'),                       # consecutive errors
    (['error', 'success', 'error', 'error'], {}, 5, 'continue'),            # not consecutive
    (['inconclusive', 'inconclusive', 'failure'], {}, 3, 'rollback'),       # rollback beats pause
    ([], {}, 3, 'continue'),
])
def test_canary_decide(verdicts, limits, steps, decision):
    result = cf.canary_decide([measurement(v) for v in verdicts], limits, steps)
    assert result['decision'] == decision, result['reason']
    assert result['counts'][verdicts[0]] == verdicts.count(verdicts[0]) if verdicts else result['measurements'] == 0


@pytest.mark.parametrize('override, decision', [('promote', 'promote'), ('abort', 'rollback')])
def test_canary_decide_operator_override(override, decision):
    result = cf.canary_decide([measurement('inconclusive')] * 3, None, 5, override)
    assert result['decision'] == decision and result['override'] == override


@pytest.mark.parametrize('args, words', [
    (([{'verdict': 'great'}],), 'needs a verdict'),
    (('success',), 'must be a list'),
    (([], {'max_failure': 1}), 'unknown key'),
    (([], None, 3, 'yes'), 'promote or abort'),
])
def test_canary_decide_refuses_bad_input(args, words):
    with pytest.raises(AnsibleFilterError, match=words):
        cf.canary_decide(*args)


@pytest.mark.parametrize('kwargs, weights', [
    ({'steps': [10, 25, 50, 100]}, [10, 25, 50, 100]),
    ({'step_weight': 20, 'max_weight': 60}, [20, 40, 60]),
    ({'step_weight': 25}, [25, 50]),
])
def test_canary_weights(kwargs, weights):
    assert cf.canary_weights(**kwargs) == weights


@pytest.mark.parametrize('kwargs', [{}, {'steps': [0, 50]}, {'steps': [10, 150]}, {'steps': '10'},
                                    {'step_weight': 60, 'max_weight': 50}, {'steps': [12.5]}])
def test_canary_weights_refused(kwargs):
    with pytest.raises(AnsibleFilterError):
        cf.canary_weights(**kwargs)


# -- units -------------------------------------------------------------------------------------------

STABLE_UNIT = '''# Managed by homelab.deploy.quadlet; edits here are overwritten.
[Unit]
Description=cnweb

[Container]
ContainerName=cnweb
Image=localhost/hl-web:latest
Pull=never
Network=hl.network
Environment=HL_WEB_VERSION=1
Environment="HL_WEB_MESSAGE=hello world" OTHER=1
PublishPort=8081:8080
Volume=cnweb-data.volume:/data:Z
Secret=cnweb-token,type=env,target=TOKEN
Notify=healthy

[Install]
WantedBy=multi-user.target
'''


def test_canary_unit_beside_the_stable_one():
    sections = cf.canary_unit(STABLE_UNIT, 'cnweb', 'localhost/hl-web:2', {'HL_WEB_VERSION': 2, 'MSG': 'a "b" c'})
    body = sections['Container']
    assert body['ContainerName'] == 'cnweb-canary' and body['Image'] == 'localhost/hl-web:2'
    assert 'PublishPort' not in body and 'Install' not in sections
    assert body['Environment'] == ['"HL_WEB_MESSAGE=hello world" OTHER=1', 'HL_WEB_VERSION=2', '"MSG=a \\"b\\" c"']
    assert body['Volume'] == 'cnweb-data.volume:/data:Z' and body['Secret'] == 'cnweb-token,type=env,target=TOKEN'
    assert body['Label'] == ['io.homelab.deploy.canary-of=cnweb'] and body['Network'] == 'hl.network'


def test_canary_unit_promotion_keeps_everything_else():
    sections = cf.canary_unit(STABLE_UNIT, 'cnweb', 'localhost/hl-web@sha256:ab', {'HL_WEB_VERSION': '2'}, False)
    assert sections['Container']['ContainerName'] == 'cnweb' and sections['Container']['PublishPort'] == '8081:8080'
    assert sections['Container']['Image'] == 'localhost/hl-web@sha256:ab'
    assert sections['Install'] == {'WantedBy': 'multi-user.target'}
    assert cf.canary_unit(STABLE_UNIT, 'cnweb', None, None, False)['Container']['Image'] == 'localhost/hl-web:latest'


@pytest.mark.parametrize('text, image, env, words', [
    ('', 'x', None, 'empty or missing'),
    ('[Unit]\nDescription=x\n', 'x', None, 'no \\[Container\\] section'),
    ('[Container\nImage=x\n', 'x', None, 'cannot read the stable unit'),
    (STABLE_UNIT, '', None, 'image reference'),
    (STABLE_UNIT, 'x', ['A=1'], 'environment must be a mapping'),
])
def test_canary_unit_refuses(text, image, env, words):
    with pytest.raises(AnsibleFilterError, match=words):
        cf.canary_unit(text, 'cnweb', image, env)


def test_canary_unit_text_of_the_canary_is_the_rendered_sections_under_the_managed_header():
    text = cf.canary_unit_text(STABLE_UNIT, 'cnweb', 'localhost/hl-web:2', {'HL_WEB_VERSION': 2})
    assert text.startswith('# Managed by homelab.deploy.quadlet; edits here are overwritten.\n[Unit]\n')
    assert 'ContainerName=cnweb-canary\n' in text and 'Image=localhost/hl-web:2\n' in text
    assert 'Environment=HL_WEB_VERSION=2\n' in text and 'HL_WEB_VERSION=1' not in text
    assert 'Label=io.homelab.deploy.canary-of=cnweb\n' in text
    assert '[Install]' not in text and 'PublishPort' not in text
    # parsed back, the text holds the very sections canary_unit derived
    assert as_lists(cf._sections(parse_unit(text, 'cnweb-canary.container'))) == as_lists(cf.canary_unit(
        STABLE_UNIT, 'cnweb', 'localhost/hl-web:2', {'HL_WEB_VERSION': 2}))


def as_lists(sections):
    return dict((name, dict((key, value if isinstance(value, list) else [value]) for key, value in body.items()))
                for name, body in sections.items())


def test_canary_unit_text_of_an_unchanged_promotion_is_the_stable_file_byte_for_byte():
    """A stable unit the quadlet module wrote reads back as the same text: quadlet_apply sees no change."""
    assert cf.canary_unit_text(STABLE_UNIT, 'cnweb', None, None, False) == STABLE_UNIT
    promoted = cf.canary_unit_text(STABLE_UNIT, 'cnweb', 'localhost/hl-web@sha256:ab', {'HL_WEB_VERSION': '2'}, False)
    assert promoted == STABLE_UNIT.replace('Image=localhost/hl-web:latest', 'Image=localhost/hl-web@sha256:ab').replace(
        'Environment=HL_WEB_VERSION=1\nEnvironment="HL_WEB_MESSAGE=hello world" OTHER=1\n',
        'Environment="HL_WEB_MESSAGE=hello world" OTHER=1\nEnvironment=HL_WEB_VERSION=2\n')


def test_canary_unit_text_refuses_what_cannot_be_rendered():
    with pytest.raises(AnsibleFilterError, match='cannot render the unit of cnweb-canary: .*newline'):
        cf.canary_unit_text(STABLE_UNIT, 'cnweb', 'x', {'A': 'two\nlines'})
    with pytest.raises(AnsibleFilterError, match='empty or missing'):
        cf.canary_unit_text('', 'cnweb', 'x')


def test_canary_unit_text_is_a_filter():
    assert cf.FilterModule().filters()['canary_unit_text'](STABLE_UNIT, 'cnweb', None, None, False) == STABLE_UNIT


# -- the stable route ------------------------------------------------------------------------------------------

ROUTE = '''http:
  routers:
    wiki:
      rule: "Host(`wiki.test`) && PathPrefix(`/`)"
      service: wiki
      entryPoints: [websecure]
      middlewares: [security-headers@file]
      priority: 10
      tls: {certResolver: le}
  services:
    wiki:
      loadBalancer:
        servers:
          - url: "http://wiki-app:8080"
        passHostHeader: false
'''
SPLIT = '''http:
  routers:
    wiki: {rule: "Host(`wiki.test`)", service: wiki}
  services:
    wiki:
      weighted:
        services: [{name: wiki-stable, weight: 80}, {name: wiki-canary, weight: 20}]
    wiki-stable:
      loadBalancer: {servers: [{url: "http://wiki-app:8080/"}]}
    wiki-canary:
      loadBalancer: {servers: [{url: "http://wiki-app-canary:8080/"}]}
'''


def test_canary_route_reads_the_router_and_points_the_urls_at_the_canary():
    route = cf.canary_route(ROUTE, 'wiki', 'wiki-app')
    assert route['router'] == {'rule': 'Host(`wiki.test`) && PathPrefix(`/`)', 'entrypoints': ['websecure'],
                               'middlewares': ['security-headers@file'], 'priority': 10, 'tls': {'cert_resolver': 'le'}}
    assert route['stable_urls'] == ['http://wiki-app:8080'] and route['canary_urls'] == ['http://wiki-app-canary:8080']
    assert route['pass_host_header'] is False and route['hostname'] == 'wiki.test' and not route['in_progress']


def test_canary_route_of_a_split_under_way_takes_the_stable_backend():
    route = cf.canary_route(SPLIT, 'wiki', 'wiki-app')
    assert route['in_progress'] and route['stable_urls'] == ['http://wiki-app:8080/']
    assert route['canary_urls'] == ['http://wiki-app-canary:8080/'] and route['pass_host_header'] is True
    assert route['router']['tls'] is None and route['router']['entrypoints'] is None


@pytest.mark.parametrize('text, words', [
    (ROUTE.replace('wiki-app:8080', 'other:8080'), 'must route to the container wiki-app'),
    (ROUTE + '  middlewares:\n    strip: {stripPrefix: {prefixes: [/x]}}\n', 'define no middlewares of its own'),
    (ROUTE.replace('    wiki:\n      rule', '    other:\n      rule'), 'has no router and service named wiki'),
    ('http: [', 'cannot read the route file /d/wiki.yml'),
])
def test_canary_route_refuses_naming_the_file(text, words):
    with pytest.raises(AnsibleFilterError, match=words):
        cf.canary_route(text, 'wiki', 'wiki-app', path='/d/wiki.yml')

# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the private Traefik helpers: YAML emitter, rendering, validation, policy, API comparison."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import io
import json

import pytest
import yaml

from ansible_collections.homelab.deploy.plugins.module_utils import _traefik as traefik


def spec(**overrides):
    base = {
        'name': 'whoami', 'hostname': ['whoami.lan'], 'path_prefix': None, 'rule': None, 'entrypoints': ['web'],
        'priority': None, 'middlewares': [], 'define_middlewares': [], 'urls': ['http://tr-web:8080'], 'weighted': None,
        'pass_host_header': True, 'health_check': None, 'tls': None, 'public': False,
        'required_middlewares': ['authelia@file', 'security-headers@file'], 'policy_exempt': False, 'policy_exempt_reason': None,
        'lan_middleware': '',  # the LAN allow-list has tests of its own below
    }
    base.update(overrides)
    return base


CANARY = [{'name': 'stable', 'weight': 90, 'urls': ['http://s:8080'], 'service': None},
          {'name': 'canary', 'weight': 10, 'urls': ['http://c:8080'], 'service': None}]


# -- emitter ------------------------------------------------------------------

@pytest.mark.parametrize('data', [
    {'a': 'plain'},
    {'yes': 'no', 'on': 'off', 'null': None, 'true': True, 'n': 'y'},
    {'num': '1e3', 'oct': '0755', 'int': 8080, 'neg': -1, 'zero': 0, 'float': 1.5},
    {'hash': 'test:$apr1$H6uskkkW$IgXLP6ewTrSuBkTrqE8wj/', 'colon': 'a: b', 'hash2': '# not a comment'},
    {'quote': 'say "hi"', 'backslash': 'C:\\path', 'newline': 'a\nb', 'tab': 'a\tb', 'unicode': u'caf\u00e9 \u2603'},
    {'rule': 'Host(`a.lan`) || (Host(`b.lan`) && PathPrefix(`/x`))'},
    {'X-Frame-Options': 'DENY', 'key with space': 1, '': 'empty key', '-dash': 'x', '1abc': 'digit'},
    {'empty_list': [], 'empty_dict': {}, 'nested': {'list': [{'a': 1, 'b': [1, 2]}, 'x', [3, [4]], {}]}},
    {'http': {'routers': {'r': {'entryPoints': ['web', 'websecure'], 'tls': {}}}}},
    [1, 'two', {'three': 3}, [], [{'k': 'v'}]],
    'scalar',
])
def test_to_yaml_round_trips_through_a_yaml_parser(data):
    assert yaml.safe_load(traefik.to_yaml(data)) == data


def test_to_yaml_is_deterministic_and_keeps_key_order():
    data = {'z': 1, 'a': {'c': [1], 'b': 'x'}, 'y': 'yes'}
    assert traefik.to_yaml(data) == traefik.to_yaml(dict(data))
    assert traefik.to_yaml(data) == 'z: 1\na:\n  c:\n    - 1\n  b: "x"\n"y": "yes"\n'


@pytest.mark.parametrize('value', [object(), {1: 'int key'}, {('t',): 1}])
def test_to_yaml_refuses_what_it_cannot_represent(value):
    with pytest.raises(TypeError):
        traefik.to_yaml(value)


# -- rules and validation -----------------------------------------------------

@pytest.mark.parametrize('hosts, path, rule, expected', [
    (['a.lan'], None, None, 'Host(`a.lan`)'),
    (['a.lan', 'b.lan'], None, None, 'Host(`a.lan`) || Host(`b.lan`)'),
    (['a.lan'], '/x', None, 'Host(`a.lan`) && PathPrefix(`/x`)'),
    (['a.lan', 'b.lan'], '/x', None, '(Host(`a.lan`) || Host(`b.lan`)) && PathPrefix(`/x`)'),
    (None, '/x', None, 'PathPrefix(`/x`)'),
    (['ignored'], None, 'Header(`X`, `1`)', 'Header(`X`, `1`)'),
    (None, None, None, ''),
])
def test_build_rule(hosts, path, rule, expected):
    assert traefik.build_rule(hosts, path, rule) == expected


def test_valid_spec_has_no_errors():
    assert traefik.validate_spec(spec()) == []
    assert traefik.validate_spec(spec(urls=['http://10.0.0.5:8080', 'http://app-traefik-ui:8080'])) == []
    # a Traefik running on the host (not in a container) routes to services on loopback ports: only its API port
    # is refused
    assert traefik.validate_spec(spec(urls=['http://127.0.0.1:9001', 'http://localhost:9002'])) == []
    assert traefik.validate_spec(spec(urls=None, weighted=CANARY)) == []


@pytest.mark.parametrize('overrides, fragment', [
    ({'name': 'bad name'}, 'name'),
    ({'name': 'a@file'}, 'name'),
    ({'name': ''}, 'name'),
    ({'hostname': ['bad`host']}, 'hostname'),
    ({'hostname': ['has space.lan']}, 'hostname'),
    ({'hostname': None, 'rule': '   '}, 'rule is empty'),
    ({'hostname': None}, 'rule is empty'),
    ({'path_prefix': 'no-slash'}, 'path_prefix'),
    ({'entrypoints': []}, 'entrypoints'),
    ({'middlewares': ['ok', 'bad name']}, 'middleware reference'),
    ({'urls': []}, 'at least one URL'),
    ({'urls': ['tr-web:8080']}, 'not an absolute'),
    ({'urls': ['ftp://x']}, 'not an absolute'),
    ({'urls': ['http://']}, 'not an absolute'),
    ({'urls': None, 'weighted': [dict(CANARY[0], weight=-1), CANARY[1]]}, 'weight must be an integer >= 0'),
    ({'urls': None, 'weighted': [dict(CANARY[0], weight='90'), CANARY[1]]}, 'weight must be an integer'),
    ({'urls': None, 'weighted': [dict(CANARY[0], weight=True), CANARY[1]]}, 'weight must be an integer'),
    ({'urls': None, 'weighted': [dict(CANARY[0], weight=0), dict(CANARY[1], weight=0)]}, 'greater than 0'),
    ({'urls': None, 'weighted': [CANARY[0], dict(CANARY[1], name='stable')]}, 'duplicate'),
    ({'urls': None, 'weighted': [dict(CANARY[0], name='a b')]}, 'name must match'),
    ({'urls': None, 'weighted': [dict(CANARY[0], urls=['nope'])]}, 'not an absolute'),
    ({'urls': None, 'weighted': [dict(CANARY[0], urls=None, service='bad service')]}, 'valid name'),
    ({'health_check': {'interval': '10 seconds'}}, 'health_check.interval'),
    ({'health_check': {'timeout': '5'}}, 'health_check.timeout'),
    ({'health_check': {'path': 'health'}}, 'health_check.path'),
    ({'define_middlewares': [{'name': 'x@file', 'headers': {'frameDeny': True}}]}, 'no @provider'),
    ({'define_middlewares': [{'name': 'x', 'headers': {'frameDeny': True}}, {'name': 'x', 'headers': {'frameDeny': True}}]}, 'unique'),
    ({'define_middlewares': [{'name': 'x', 'headers': {}}]}, 'at least one option'),
    ({'define_middlewares': [{'name': 'x', 'config': {}}]}, 'one middleware type'),
    ({'define_middlewares': [{'name': 'x', 'config': {'a': {}, 'b': {}}}]}, 'one middleware type'),
    ({'define_middlewares': [{'name': 'x', 'config': {'compress': True}}]}, 'one middleware type'),
    ({'name': 'web\n'}, 'name'),
    ({'hostname': ['web.lan\n']}, 'hostname'),
    ({'middlewares': ['auth@file\n']}, 'middleware reference'),
    ({'urls': ['http://127.0.0.1:8080']}, "is Traefik's own API and dashboard (port 8080"),
    ({'urls': ['http://127.9.9.9:8080/']}, "is Traefik's own API"),
    ({'urls': ['http://[::1]:8080']}, "is Traefik's own API"),
    ({'urls': ['http://0.0.0.0:8080']}, "is Traefik's own API"),
    ({'urls': ['http://LocalHost:8080']}, "is Traefik's own API"),
    ({'urls': ['http://traefik:8080/api']}, "is Traefik's own API"),
    ({'urls': ['http://127.0.0.1:9090'], 'api_url': 'http://127.0.0.1:9090'}, "(port 9090, as api_url)"),
    ({'urls': None, 'weighted': [dict(CANARY[0], urls=['http://127.0.0.1:8080'])]}, "is Traefik's own API"),
    ({'urls': None, 'weighted': [dict(CANARY[0], urls=None, service='api@internal')]}, "Traefik's own API"),
    ({'urls': None, 'weighted': [dict(CANARY[0], urls=None, service='dashboard@internal')]}, "Traefik's own API"),
])
def test_validate_spec_reports_each_structural_error(overrides, fragment):
    errors = traefik.validate_spec(spec(**overrides))
    assert any(fragment in error for error in errors), errors


def test_empty_settings_are_fine_for_types_traefik_accepts_empty():
    assert traefik.validate_spec(spec(define_middlewares=[{'name': 'gz', 'config': {'compress': {}}}])) == []


def test_weight_zero_is_allowed_when_another_weight_is_positive():
    assert traefik.validate_spec(spec(urls=None, weighted=[dict(CANARY[0], weight=100), dict(CANARY[1], weight=0)])) == []


@pytest.mark.parametrize('duration', ['10s', '500ms', '1m30s', '2h', '1.5s'])
def test_durations_accepted(duration):
    assert traefik.validate_spec(spec(health_check={'interval': duration, 'timeout': duration})) == []


# -- rendering ------------------------------------------------------------------

def test_render_single_load_balancer():
    config = traefik.render_config(spec(priority=10, middlewares=['hdr', 'authelia@file'],
                                        health_check={'path': '/health', 'interval': '5s', 'timeout': None}))
    assert config == {'http': {
        'routers': {'whoami': {'rule': 'Host(`whoami.lan`)', 'entryPoints': ['web'], 'service': 'whoami', 'priority': 10,
                               'middlewares': ['hdr', 'authelia@file']}},
        'services': {'whoami': {'loadBalancer': {'servers': [{'url': 'http://tr-web:8080'}], 'passHostHeader': True,
                                                 'healthCheck': {'path': '/health', 'interval': '5s'}}}},
    }}


def test_render_weighted_children_and_parent():
    services = traefik.render_config(spec(urls=None, weighted=CANARY + [
        {'name': 'other', 'weight': 0, 'urls': None, 'service': 'legacy@docker'}]))['http']['services']
    assert services['whoami'] == {'weighted': {'services': [
        {'name': 'whoami-stable', 'weight': 90}, {'name': 'whoami-canary', 'weight': 10}, {'name': 'legacy@docker', 'weight': 0}]}}
    assert services['whoami-stable']['loadBalancer']['servers'] == [{'url': 'http://s:8080'}]
    assert services['whoami-canary']['loadBalancer']['servers'] == [{'url': 'http://c:8080'}]
    assert 'legacy@docker' not in services and len(services) == 3


def test_changing_weights_only_changes_weight_lines():
    before = traefik.render_file(traefik.render_config(spec(urls=None, weighted=CANARY))).splitlines()
    shifted = [dict(CANARY[0], weight=50), dict(CANARY[1], weight=50)]
    after = traefik.render_file(traefik.render_config(spec(urls=None, weighted=shifted))).splitlines()
    changed = [(a, b) for a, b in zip(before, after) if a != b]
    assert len(before) == len(after)
    assert changed == [('            weight: 90', '            weight: 50'), ('            weight: 10', '            weight: 50')]


@pytest.mark.parametrize('tls, expected', [
    ({}, {}),
    ({'cert_resolver': 'le', 'options': None, 'domains': None}, {'certResolver': 'le'}),
    ({'cert_resolver': None, 'options': 'modern', 'domains': [{'main': 'a.lan', 'sans': ['*.a.lan']}, {'main': 'b.lan', 'sans': None}]},
     {'options': 'modern', 'domains': [{'main': 'a.lan', 'sans': ['*.a.lan']}, {'main': 'b.lan'}]}),
])
def test_render_tls(tls, expected):
    assert traefik.render_config(spec(tls=tls))['http']['routers']['whoami']['tls'] == expected


def test_a_tls_route_is_served_on_websecure_and_its_http_router_redirects():
    http = traefik.render_config(spec(tls={'cert_resolver': 'pebble', 'entrypoints': ['websecure'], 'redirect': True},
                                      middlewares=['security-headers@file']))['http']
    assert http['routers']['whoami'] == {'rule': 'Host(`whoami.lan`)', 'entryPoints': ['websecure'], 'service': 'whoami',
                                         'middlewares': ['security-headers@file'], 'tls': {'certResolver': 'pebble'}}
    assert http['routers']['whoami-http'] == {'rule': 'Host(`whoami.lan`)', 'entryPoints': ['web'], 'service': 'whoami',
                                              'middlewares': ['whoami-https-redirect']}
    assert http['middlewares'] == {'whoami-https-redirect': {'redirectScheme': {'scheme': 'https', 'permanent': True}}}
    assert traefik.manifest_of({'http': http})['routers'] == ['whoami', 'whoami-http']


def test_a_tls_route_without_redirect_serves_http_too():
    http = traefik.render_config(spec(tls={'redirect': False}, middlewares=['security-headers@file']))['http']
    assert http['routers']['whoami']['entryPoints'] == ['websecure']
    assert http['routers']['whoami-http']['middlewares'] == ['security-headers@file']
    assert 'middlewares' not in http


def test_a_route_without_tls_has_one_router():
    assert list(traefik.render_config(spec())['http']['routers']) == ['whoami']


@pytest.mark.parametrize('tls, extra, fragment', [
    ({'entrypoints': []}, {}, 'tls.entrypoints must name at least one'),
    ({'entrypoints': ['web']}, {}, 'share web'),
    ({'entrypoints': ['bad name']}, {}, 'not an entry point name'),
    ({}, {'define_middlewares': [{'name': 'whoami-https-redirect', 'config': {'redirectScheme': {'scheme': 'https'}}}]},
     'own HTTPS redirect'),
])
def test_tls_errors(tls, extra, fragment):
    errors = traefik.validate_spec(spec(tls=tls, **extra))
    assert any(fragment in error for error in errors), errors


@pytest.mark.parametrize('item, expected', [
    ({'name': 'h', 'headers': {'customResponseHeaders': {'X-A': 'b'}}}, {'headers': {'customResponseHeaders': {'X-A': 'b'}}}),
    ({'name': 'b', 'basic_auth': {'users': ['u:$apr1$x'], 'realm': 'r', 'remove_header': True, 'header_field': None}},
     {'basicAuth': {'users': ['u:$apr1$x'], 'realm': 'r', 'removeHeader': True}}),
    ({'name': 'c', 'config': {'redirectScheme': {'scheme': 'https'}}}, {'redirectScheme': {'scheme': 'https'}}),
])
def test_render_middleware(item, expected):
    assert traefik.render_middleware(item) == expected


def test_render_file_has_manifest_and_parses_back():
    config = traefik.render_config(spec(urls=None, weighted=CANARY, define_middlewares=[{'name': 'hdr', 'headers': {'frameDeny': True}}]))
    text = traefik.render_file(config)
    assert yaml.safe_load(text) == config
    assert traefik.parse_manifest(text) == {'routers': ['whoami'], 'services': ['whoami', 'whoami-canary', 'whoami-stable'],
                                            'middlewares': ['hdr']}
    assert text == traefik.render_file(traefik.render_config(spec(urls=None, weighted=CANARY,
                                                                  define_middlewares=[{'name': 'hdr', 'headers': {'frameDeny': True}}])))


@pytest.mark.parametrize('text', [None, '', 'http:\n  routers: {}\n', '# some other comment\n'])
def test_parse_manifest_of_foreign_files(text):
    assert traefik.parse_manifest(text) is None


# -- policy and references --------------------------------------------------------

@pytest.mark.parametrize('overrides, ok, missing', [
    ({'public': False}, True, []),
    ({'public': True}, False, ['authelia@file', 'security-headers@file']),
    ({'public': True, 'middlewares': ['authelia@file']}, False, ['security-headers@file']),
    ({'public': True, 'middlewares': ['authelia', 'security-headers']}, True, []),
    ({'public': True, 'middlewares': ['authelia@docker', 'security-headers@file']}, False, ['authelia@file']),
    ({'public': True, 'middlewares': ['crowdsec-bouncer@file', 'authelia@file', 'security-headers@file']}, True, []),
    # an empty required_middlewares does not lift the authentication rule (issue 14 part 5)
    ({'public': True, 'required_middlewares': []}, False, []),
    ({'public': True, 'required_middlewares': [], 'middlewares': ['authentik@file']}, True, []),
    ({'public': True, 'required_middlewares': [], 'auth': 'none', 'auth_reason': 'its own login, API clients'}, True, []),
    ({'public': True, 'required_middlewares': [], 'auth': 'none', 'auth_reason': ' '}, False, []),
    ({'public': True, 'required_middlewares': [], 'middlewares': ['sso@file'], 'auth_middlewares': ['sso@file']}, True, []),
    ({'public': True, 'required_middlewares': [], 'middlewares': ['team-login'],
      'define_middlewares': [{'name': 'team-login', 'basic_auth': {'users': ['a:b']}}]}, True, []),
    ({'public': False, 'required_middlewares': [], 'auth': 'none'}, True, []),
    ({'public': True, 'policy_exempt': True, 'policy_exempt_reason': 'LAN printer'}, True, ['authelia@file', 'security-headers@file']),
])
def test_check_policy(overrides, ok, missing):
    policy = traefik.check_policy(spec(**overrides))
    assert policy['ok'] is ok
    assert policy['missing_middlewares'] == missing


def test_the_authentication_refusal_says_what_to_do():
    policy = traefik.check_policy(spec(public=True, required_middlewares=['security-headers@file'],
                                       middlewares=['security-headers@file']))
    assert policy['ok'] is False and policy['missing_middlewares'] == []
    assert 'has no authentication middleware (one of authelia@file, authentik@file)' in policy['auth_problem']
    assert 'auth: none with auth_reason' in policy['auth_problem']
    policy = traefik.check_policy(spec(public=True, required_middlewares=[], auth='none', auth_reason='status page'))
    assert (policy['auth'], policy['auth_reason'], policy['auth_problem']) == ('none', 'status page', None)


def test_exempt_reason_is_recorded():
    policy = traefik.check_policy(spec(public=True, policy_exempt=True, policy_exempt_reason='LAN only'))
    assert policy['exempt'] is True and policy['exempt_reason'] == 'LAN only'


def test_missing_references_uses_file_and_api_names():
    route = spec(middlewares=['hdr', 'authelia@file', 'ghost@file'], define_middlewares=[{'name': 'hdr', 'headers': {}}],
                 urls=None, weighted=[CANARY[0], {'name': 'old', 'weight': 1, 'urls': None, 'service': 'legacy@docker'}])
    config = traefik.render_config(route)
    api = {'middlewares': {'authelia@file'}, 'services': set()}
    missing = traefik.missing_references(route, traefik.available_names(api, config, None))
    assert missing == {'middlewares': ['ghost@file'], 'services': ['legacy@docker']}


def test_names_only_our_old_file_defined_do_not_count_as_available():
    route = spec(middlewares=['hdr'])
    config = traefik.render_config(route)
    api = {'middlewares': {'hdr@file'}, 'services': {'whoami@file'}}
    old_manifest = {'routers': ['whoami'], 'services': ['whoami'], 'middlewares': ['hdr']}
    assert traefik.missing_references(route, traefik.available_names(api, config, old_manifest))['middlewares'] == ['hdr@file']
    assert traefik.missing_references(route, traefik.available_names(api, config, None))['middlewares'] == []


def test_foreign_definitions():
    config = traefik.render_config(spec(define_middlewares=[{'name': 'hdr', 'headers': {}}]))
    api = {'routers': {'whoami@file'}, 'services': set(), 'middlewares': {'hdr@file'}}
    assert traefik.foreign_definitions(config, api, None) == ['router whoami@file', 'middleware hdr@file']
    ours = traefik.render_file(config)
    assert traefik.foreign_definitions(config, api, ours) == []
    assert traefik.foreign_definitions(config, api, 'http: {}\n') == []


# -- API client and comparison -------------------------------------------------------

class FakeResponse(object):
    def __init__(self, payload, next_page=None):
        self._body = json.dumps(payload).encode('utf-8')
        self.headers = {'X-Next-Page': str(next_page)} if next_page else {}

    def read(self):
        return io.BytesIO(self._body).read()


class NotFound(Exception):
    code = 404


def test_api_list_follows_pagination():
    pages = {1: FakeResponse([{'name': 'a@file'}], next_page=2), 2: FakeResponse([{'name': 'b@file'}], next_page=1)}
    seen = []

    def opener(url, **kwargs):
        seen.append(url)
        return pages[int(url.rsplit('page=', 1)[1])]
    assert traefik.TraefikApi('http://t:8080/', opener).list('routers') == [{'name': 'a@file'}, {'name': 'b@file'}]
    assert seen == ['http://t:8080/api/http/routers?per_page=100&page=1', 'http://t:8080/api/http/routers?per_page=100&page=2']


def test_api_get_maps_404_to_none_and_other_errors_to_api_error():
    def missing(url, **kwargs):
        raise NotFound()

    def refused(url, **kwargs):
        raise OSError('connection refused')
    assert traefik.TraefikApi('http://t', missing).get('routers', 'x@file') is None
    with pytest.raises(traefik.TraefikApiError, match='connection refused'):
        traefik.TraefikApi('http://t', refused).get('routers', 'x@file')


def served_for(config, **changes):
    """What Traefik's API returns for a cleanly loaded config, with optional per-name replacements."""
    http = config['http']
    served = {'routers': {}, 'services': {}, 'middlewares': {}}
    for name, router in http['routers'].items():
        served['routers'][name] = dict(router, name=name + '@file', status='enabled', middlewares=[
            traefik.qualify(m) for m in router.get('middlewares', [])])
    for name, service in http['services'].items():
        served['services'][name] = dict(service, name=name + '@file', status='enabled')
    for name, middleware in http.get('middlewares', {}).items():
        served['middlewares'][name] = dict(middleware, name=name + '@file', status='enabled')
    for kind_name, value in changes.items():
        kind, name = kind_name.split('__')
        served[kind][name] = value
    return served


def test_compare_served_clean():
    config = traefik.render_config(spec(urls=None, weighted=CANARY, middlewares=['hdr'],
                                        define_middlewares=[{'name': 'hdr', 'headers': {'frameDeny': True}}]))
    assert traefik.compare_served(config, served_for(config)) == ([], [])


def test_compare_served_reports_router_errors_as_traefik_wrote_them():
    config = traefik.render_config(spec(rule='Host(`a`', hostname=None))
    bad = dict(served_for(config)['routers']['whoami'], status='disabled', error=['error while parsing rule Host(`a`'])
    pending, errors = traefik.compare_served(config, served_for(config, routers__whoami=bad))
    assert pending == []
    assert errors == ['router whoami@file: error while parsing rule Host(`a`']


@pytest.mark.parametrize('kind, name, field, value, fragment', [
    ('routers', 'whoami', 'rule', 'Host(`old.lan`)', 'rule is'),
    ('routers', 'whoami', 'middlewares', ['x@file'], 'middlewares are'),
    ('routers', 'whoami', 'entryPoints', ['websecure'], 'entryPoints is'),
    ('services', 'whoami', 'weighted', {'services': [{'name': 'whoami-stable', 'weight': 50}, {'name': 'whoami-canary', 'weight': 50}]},
     'weights are'),
    ('services', 'whoami-canary', 'loadBalancer', {'servers': [{'url': 'http://old:8080'}], 'passHostHeader': True}, 'servers are'),
    ('services', 'whoami-canary', 'loadBalancer', {'servers': [{'url': 'http://c:8080'}], 'passHostHeader': False}, 'loadBalancer is'),
])
def test_compare_served_waits_while_traefik_serves_something_else(kind, name, field, value, fragment):
    config = traefik.render_config(spec(urls=None, weighted=CANARY))
    changed = dict(served_for(config)[kind][name], **{field: value})
    pending, errors = traefik.compare_served(config, served_for(config, **{kind + '__' + name: changed}))
    assert any(fragment in text for text in pending), pending


def test_compare_served_pending_when_not_loaded():
    config = traefik.render_config(spec())
    pending, dummy = traefik.compare_served(config, served_for(config, routers__whoami=None))
    assert pending == ['router whoami@file is not loaded']


def test_loose_middlewares_compare_by_type_only():
    config = traefik.render_config(spec(define_middlewares=[{'name': 'rl', 'config': {'rateLimit': {'period': '1m'}}}]))
    normalised = {'rateLimit': {'period': '1m0s'}, 'name': 'rl@file', 'status': 'enabled'}
    served = served_for(config, middlewares__rl=normalised)
    assert traefik.compare_served(config, served)[0] == ['middleware rl@file: served config differs from the file']
    assert traefik.compare_served(config, served, loose=['rl']) == ([], [])


@pytest.mark.parametrize('want, got, expected', [
    ({'a': 1}, {'a': 1, 'b': 2}, True),
    ({'a': 1}, {'a': 2}, False),
    ({'a': False}, {}, True),
    ({'a': True}, {}, False),
    ({'a': [1, 2]}, {'a': [1, 2]}, True),
    ({'a': [1, 2]}, {'a': [1]}, False),
    ({'a': {'b': {'c': 'd'}}}, {'a': {'b': {'c': 'd', 'e': 'f'}}}, True),
    ({}, None, False),
])
def test_is_subset(want, got, expected):
    assert traefik.is_subset(want, got) is expected


def test_poll_stops_at_success_and_at_timeout():
    clock = iter(range(100)).__next__
    calls = []

    def check():
        calls.append(1)
        return len(calls) == 3, len(calls)
    assert traefik.poll(check, 10, clock=clock, sleep=lambda s: None) == (True, 3)
    clock = iter(range(100)).__next__
    assert traefik.poll(lambda: (False, 'x'), 3, clock=clock, sleep=lambda s: None) == (False, 'x')


# -- info normalisation ----------------------------------------------------------------

API_SERVICES = [
    {'name': 'whoami@file', 'provider': 'file', 'type': 'weighted', 'status': 'enabled',
     'weighted': {'services': [{'name': 'whoami-stable', 'weight': 90}, {'name': 'whoami-canary', 'weight': 10}]}},
    {'name': 'whoami-stable@file', 'provider': 'file', 'type': 'loadbalancer', 'status': 'enabled',
     'loadBalancer': {'servers': [{'url': 'http://s:8080'}], 'passHostHeader': True}, 'serverStatus': {'http://s:8080': 'UP'}},
    {'name': 'whoami-canary@file', 'provider': 'file', 'type': 'loadbalancer', 'status': 'enabled',
     'loadBalancer': {'servers': [{'url': 'http://c:8080'}]}, 'serverStatus': {'http://c:8080': 'DOWN'}},
    {'name': 'api@internal', 'provider': 'internal', 'status': 'enabled'},
]
API_ROUTERS = [
    {'name': 'whoami@file', 'provider': 'file', 'rule': 'Host(`w`)', 'service': 'whoami', 'middlewares': ['auth@docker'], 'status': 'enabled'},
    {'name': 'api@internal', 'provider': 'internal', 'rule': 'PathPrefix(`/api`)', 'service': 'api@internal', 'status': 'enabled'},
]
API_MIDDLEWARES = [
    {'name': 'auth@docker', 'provider': 'docker', 'type': 'basicauth', 'status': 'enabled', 'basicAuth': {'users': ['u:hash']}},
    {'name': 'other@file', 'provider': 'file', 'type': 'headers', 'status': 'enabled', 'headers': {}},
]


def test_filter_by_name_brings_weighted_children_and_router_chain():
    result = traefik.filter_objects(API_ROUTERS, API_SERVICES, API_MIDDLEWARES, names=['whoami'])
    assert [r['name'] for r in result['routers']] == ['whoami@file']
    assert [s['name'] for s in result['services']] == ['whoami@file', 'whoami-stable@file', 'whoami-canary@file']
    assert result['services'][0]['weighted'] == [{'name': 'whoami-stable', 'weight': 90}, {'name': 'whoami-canary', 'weight': 10}]
    assert [s['servers'] for s in result['services'][1:]] == [[{'url': 'http://s:8080', 'status': 'UP'}],
                                                              [{'url': 'http://c:8080', 'status': 'DOWN'}]]
    assert [m['name'] for m in result['middlewares']] == ['auth@docker']
    assert result['middlewares'][0]['config'] == {'basicAuth': {'users': ['********']}}


@pytest.mark.parametrize('names, provider, routers, services', [
    (None, None, 2, 4),
    (None, 'internal', 1, 1),
    (['api@internal'], None, 1, 1),
    (['whoami-canary'], None, 0, 1),
    (['nothing'], None, 0, 0),
])
def test_filter_by_name_and_provider(names, provider, routers, services):
    result = traefik.filter_objects(API_ROUTERS, API_SERVICES, API_MIDDLEWARES, names=names, provider=provider)
    assert (len(result['routers']), len(result['services'])) == (routers, services)


# -- LAN only means the LAN (issue 14 part 5) -------------------------------------------------------------------

def test_a_lan_only_route_is_put_behind_the_lan_allow_list():
    lan = spec(public=False, middlewares=['security-headers@file'], lan_middleware='lan-only@file')
    config = traefik.render_config(lan)
    assert config['http']['routers']['whoami']['middlewares'] == ['lan-only@file', 'security-headers@file']
    assert traefik.referenced_names(lan)['middlewares'] == ['lan-only@file', 'security-headers@file']
    assert traefik.check_policy(lan)['lan_middleware'] == 'lan-only@file'
    # a spec without the key (drift_check's declared routes from older callers) gets the module's default
    bare = dict(lan)
    del bare['lan_middleware']
    assert traefik.render_config(bare) == config
    # given already, it is not added twice; a public route gets none
    assert traefik.chain(dict(lan, middlewares=['lan-only@file', 'x@file'])) == ['lan-only@file', 'x@file']
    assert traefik.chain(dict(lan, public=True)) == ['security-headers@file']
    assert traefik.check_policy(dict(lan, public=True, middlewares=['authelia@file', 'security-headers@file']))[
        'lan_middleware'] is None


def test_a_tls_lan_route_s_plain_http_router_keeps_the_allow_list_when_it_does_not_redirect():
    lan = spec(public=False, lan_middleware='lan-only@file', tls={'entrypoints': ['websecure'], 'redirect': False})
    routers = traefik.render_config(lan)['http']['routers']
    assert routers['whoami']['middlewares'] == ['lan-only@file']
    assert routers[traefik.http_router_name('whoami')]['middlewares'] == ['lan-only@file']


@pytest.mark.parametrize('item, fragment', [
    ({'name': 'm'}, 'give exactly one of headers, basic_auth or config'),
    ({'name': 'm', 'headers': {'frameDeny': True}, 'config': {'a': {}}}, 'give exactly one'),
    ({'name': 'm', 'config': 'x'}, 'config must be a mapping'),
    ({'name': 'm', 'basic_auth': {'realm': 'x'}}, 'basic_auth needs users'),
])
def test_a_defined_middleware_without_a_usable_body_is_an_error_not_a_traceback(item, fragment):
    """drift_check takes routes[].define_middlewares without traefik_route's argument spec: the route checks say what
    is wrong before anything is rendered."""
    errors = traefik.validate_spec(spec(define_middlewares=[item]))
    assert any(fragment in e for e in errors), errors

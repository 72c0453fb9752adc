# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""traefik_route / traefik_route_info against a real Traefik process on loopback.

Every test drives the real modules (subprocess, real AnsibleModule) and checks the result
through Traefik itself: requests on the web entry point and its API.
"""

import base64
import collections
import hashlib
import os


ROUTE = 'traefik_route'
INFO = 'traefik_route_info'
REQUESTS = 200
TOLERANCE = 10  # Traefik's smooth weighted round robin is exact over whole cycles; allow for stray in-flight picks
# htpasswd {SHA} of hl-route-test for user hltest (a format Traefik's basicAuth accepts)
HTPASSWD = 'hltest:{SHA}C3KTYo0jAuhH3Fh/KtdHTLKKxX0='
BASIC = base64.b64encode(b'hltest:hl-route-test').decode()


def route_args(traefik, name, **extra):
    """Module args for route <name> served as <name>.test; an extra key set to None is left out."""
    args = {'name': name, 'dynamic_dir': traefik.dynamic_dir, 'api_url': traefik.api_url, 'hostname': ['%s.test' % name],
            'public': False, 'confirm_timeout': 15}
    args.update(extra)
    return dict((key, value) for key, value in args.items() if value is not None)


def file_path(traefik, name):
    return os.path.join(traefik.dynamic_dir, '%s.yml' % name)


def read(path):
    with open(path) as handle:
        return handle.read()


def bodies(traefik, host, count=REQUESTS):
    return collections.Counter(traefik.get(host)[2] for dummy in range(count))


def assert_ok(result):
    assert not result.get('failed'), result.get('msg')


def test_route_lifecycle_check_run_idempotent(traefik, backends, run_module):
    args = route_args(traefik, 'web1', urls=[backends['stable']])
    path = file_path(traefik, 'web1')

    checked = run_module(ROUTE, args, check=True, diff=True)
    assert_ok(checked)
    assert checked['changed'] is True
    assert not os.path.exists(path), 'check mode wrote the file'
    assert checked['diff']['before'] == '' and 'Host(`web1.test`)' in checked['diff']['after']
    assert traefik.get('web1.test')[0] == 404

    applied = run_module(ROUTE, args, diff=True)
    assert_ok(applied)
    assert applied['changed'] is True
    assert applied['diff']['after'] == read(path) == checked['diff']['after']
    assert [r['status'] for r in applied['served']['routers']] == ['enabled']
    # confirmed means served: no waiting needed
    assert traefik.get('web1.test')[:3:2] == (200, 'stable')

    again_checked = run_module(ROUTE, args, check=True, diff=True)
    again = run_module(ROUTE, args, diff=True)
    for result in (again_checked, again):
        assert_ok(result)
        assert result['changed'] is False
        assert result['diff']['before'] == result['diff']['after'] == read(path)
    assert 'served' not in again, 'an unchanged file needs no confirmation round'


def test_headers_middleware_adds_response_header(traefik, backends, run_module):
    args = route_args(traefik, 'hdr1', urls=[backends['stable']], middlewares=['hdr1-headers'],
                      define_middlewares=[{'name': 'hdr1-headers', 'headers': {'customResponseHeaders': {'X-Served-By': 'homelab'}}}])
    result = run_module(ROUTE, args)
    assert_ok(result)
    status, headers, body = traefik.get('hdr1.test')
    assert (status, body, headers.get('X-Served-By')) == (200, 'stable', 'homelab')


def test_basic_auth_middleware_challenges_and_hides_hash(traefik, backends, run_module):
    secret_hash = '{SHA}' + base64.b64encode(hashlib.sha1(b's3cret').digest()).decode('ascii')
    args = route_args(traefik, 'ba1', urls=[backends['stable']], middlewares=['ba1-auth'],
                      define_middlewares=[{'name': 'ba1-auth', 'basic_auth': {'users': ['alice:' + secret_hash], 'realm': 'homelab'}}])
    result = run_module(ROUTE, args, diff=True)
    assert_ok(result)
    assert secret_hash not in str(result), 'the basicAuth hash leaked into module output'
    assert secret_hash in read(file_path(traefik, 'ba1'))
    status, headers, dummy = traefik.get('ba1.test')
    assert status == 401 and 'homelab' in headers.get('Www-Authenticate', '')
    good = 'Basic ' + base64.b64encode(b'alice:s3cret').decode('ascii')
    bad = 'Basic ' + base64.b64encode(b'alice:wrong').decode('ascii')
    assert traefik.get('ba1.test', headers={'Authorization': good})[::2] == (200, 'stable')
    assert traefik.get('ba1.test', headers={'Authorization': bad})[0] == 401


def canary(backends, stable, canary_weight):
    return [{'name': 'stable', 'weight': stable, 'urls': [backends['stable']]},
            {'name': 'canary', 'weight': canary_weight, 'urls': [backends['canary']]}]


def test_weighted_split_then_shift_without_restart(traefik, backends, run_module):
    pid = traefik.process.pid
    result = run_module(ROUTE, route_args(traefik, 'can1', weighted=canary(backends, 90, 10)))
    assert_ok(result)
    counts = bodies(traefik, 'can1.test')
    assert abs(counts['stable'] - 180) <= TOLERANCE and counts['stable'] + counts['canary'] == REQUESTS, counts

    shifted = run_module(ROUTE, route_args(traefik, 'can1', weighted=canary(backends, 50, 50)), diff=True)
    assert_ok(shifted)
    assert shifted['changed'] is True
    changed_lines = set(shifted['diff']['after'].splitlines()) ^ set(shifted['diff']['before'].splitlines())
    assert all('weight:' in line for line in changed_lines), changed_lines
    weights = [s['weighted'] for s in shifted['served']['services'] if s['name'] == 'can1@file']
    assert weights == [[{'name': 'can1-stable', 'weight': 50}, {'name': 'can1-canary', 'weight': 50}]]
    counts = bodies(traefik, 'can1.test')
    assert abs(counts['stable'] - 100) <= TOLERANCE and counts['stable'] + counts['canary'] == REQUESTS, counts
    assert traefik.process.poll() is None and traefik.process.pid == pid, 'Traefik was restarted'


def test_invalid_rule_is_rolled_back_with_traefik_error(traefik, backends, run_module):
    good = route_args(traefik, 'bad1', urls=[backends['stable']])
    assert_ok(run_module(ROUTE, good))
    before = read(file_path(traefik, 'bad1'))

    broken = route_args(traefik, 'bad1', urls=[backends['stable']], rule='Host(`bad1.test`', hostname=None)
    result = run_module(ROUTE, broken)
    assert result.get('failed') is True
    assert 'error while parsing rule' in result['msg'] and 'Traefik API' in result['msg'], result['msg']
    assert any('router bad1@file' in text for text in result['traefik_errors'])
    assert result['rollback_confirmed'] is True
    assert read(file_path(traefik, 'bad1')) == before
    assert traefik.get('bad1.test')[::2] == (200, 'stable')


def test_rejected_new_route_is_removed(traefik, backends, run_module, wait_for):
    result = run_module(ROUTE, route_args(traefik, 'new1', rule='Host(`new1.test`', hostname=None, urls=[backends['stable']]))
    assert result.get('failed') is True and 'error while parsing rule' in result['msg']
    assert not os.path.exists(file_path(traefik, 'new1'))
    assert wait_for(lambda: not run_module(INFO, {'api_url': traefik.api_url, 'name': ['new1']})['routers'], timeout=10)


def test_unloadable_directory_times_out_and_restores(traefik, backends, run_module):
    assert_ok(run_module(ROUTE, route_args(traefik, 'tmo1', urls=[backends['stable']])))
    before = read(file_path(traefik, 'tmo1'))
    # A broken neighbour freezes the whole file provider: Traefik keeps serving the old config.
    with open(os.path.join(traefik.dynamic_dir, 'zz-broken.yml'), 'w') as handle:
        handle.write('http:\n  routers:\n    x: [\n')
    result = run_module(ROUTE, route_args(traefik, 'tmo1', urls=[backends['canary']], confirm_timeout=4))
    assert result.get('failed') is True
    assert 'did not load' in result['msg'] and 'servers are' in result['msg'], result['msg']
    assert read(file_path(traefik, 'tmo1')) == before
    assert traefik.get('tmo1.test')[::2] == (200, 'stable')


def test_policy_violation_fails_before_writing(traefik, backends, run_module):
    args = route_args(traefik, 'pol1', urls=[backends['stable']])
    assert_ok(run_module(ROUTE, args))
    path = file_path(traefik, 'pol1')
    before, mtime = read(path), os.stat(path).st_mtime_ns

    result = run_module(ROUTE, dict(args, public=True, urls=[backends['canary']]))
    assert result.get('failed') is True
    assert result['msg'].startswith('Policy:') and 'security-headers@file' in result['msg']
    assert result['policy']['missing_middlewares'] == ['security-headers@file']
    assert 'has no authentication middleware' in result['policy']['auth_problem']
    assert (read(path), os.stat(path).st_mtime_ns) == (before, mtime)
    assert sorted(os.listdir(traefik.dynamic_dir)) == ['middlewares.yml', 'pol1.yml'], 'a temp file was left behind'

    fresh = run_module(ROUTE, route_args(traefik, 'pol2', urls=[backends['stable']], public=True))
    assert fresh.get('failed') is True and not os.path.exists(file_path(traefik, 'pol2'))


def test_public_route_passes_with_required_chain_or_exemption(traefik, backends, run_module):
    # a public route with the required chain but no authentication: refused, even with required_middlewares its own
    bare = run_module(ROUTE, route_args(traefik, 'pub0', urls=[backends['stable']], public=True,
                                        required_middlewares=['pub0-sec'], middlewares=['pub0-sec'],
                                        define_middlewares=[{'name': 'pub0-sec', 'headers': {'frameDeny': True}}]))
    assert bare.get('failed') is True and 'has no authentication middleware' in bare['msg'], bare
    assert not os.path.exists(file_path(traefik, 'pub0'))
    # behind the route's own basicAuth: served, and a request without credentials gets 401
    chain = route_args(traefik, 'pub1', urls=[backends['stable']], public=True, required_middlewares=['pub1-sec'],
                       middlewares=['pub1-auth', 'pub1-sec'],
                       define_middlewares=[{'name': 'pub1-sec', 'headers': {'frameDeny': True}},
                                           {'name': 'pub1-auth', 'basic_auth': {'users': [HTPASSWD]}}])
    result = run_module(ROUTE, chain)
    assert_ok(result)
    assert result['policy']['ok'] is True and result['policy']['exempt'] is False
    assert traefik.get('pub1.test')[0] == 401
    assert traefik.get('pub1.test', headers={'Authorization': 'Basic ' + BASIC})[2] == 'stable'
    # an app with its own login says so
    own = run_module(ROUTE, route_args(traefik, 'pub4', urls=[backends['stable']], public=True, required_middlewares=[],
                                       auth='none', auth_reason='its own login and API clients'))
    assert_ok(own)
    assert own['policy']['auth_reason'] == 'its own login and API clients'

    exempt = run_module(ROUTE, route_args(traefik, 'pub2', urls=[backends['stable']], public=True,
                                          policy_exempt=True, policy_exempt_reason='LAN kiosk'))
    assert_ok(exempt)
    assert exempt['policy']['exempt_reason'] == 'LAN kiosk' and exempt['policy']['missing_middlewares']

    unreasoned = run_module(ROUTE, route_args(traefik, 'pub3', urls=[backends['stable']], public=True, policy_exempt=True))
    assert unreasoned.get('failed') is True and 'policy_exempt_reason' in unreasoned['msg']


def test_missing_middleware_or_service_reference_fails_before_writing(traefik, backends, run_module):
    ghost_mw = run_module(ROUTE, route_args(traefik, 'ref1', urls=[backends['stable']], middlewares=['ghost@file']))
    assert ghost_mw.get('failed') is True and 'ghost@file' in ghost_mw['msg'] and 'Nothing was written' in ghost_mw['msg']
    halves = [{'name': 'a', 'weight': 1, 'urls': [backends['stable']]}, {'name': 'b', 'weight': 1, 'service': 'ghost@docker'}]
    ghost_svc = run_module(ROUTE, route_args(traefik, 'ref1', weighted=halves))
    assert ghost_svc.get('failed') is True and 'ghost@docker' in ghost_svc['msg']
    assert not os.path.exists(file_path(traefik, 'ref1'))

    # A middleware another file defines (as Traefik reports it) is a valid reference.
    assert_ok(run_module(ROUTE, route_args(traefik, 'ref2', urls=[backends['stable']], middlewares=['ref2-hdr'],
                                           define_middlewares=[{'name': 'ref2-hdr', 'headers': {'customResponseHeaders': {'X-Ref': '2'}}}])))
    shared = run_module(ROUTE, route_args(traefik, 'ref3', urls=[backends['canary']], middlewares=['ref2-hdr@file']))
    assert_ok(shared)
    assert traefik.get('ref3.test')[1].get('X-Ref') == '2'


def test_name_defined_by_another_file_is_refused(traefik, backends, run_module):
    shared = [{'name': 'shared', 'headers': {'frameDeny': True}}]
    assert_ok(run_module(ROUTE, route_args(traefik, 'own1', urls=[backends['stable']], define_middlewares=shared)))
    clash = run_module(ROUTE, route_args(traefik, 'own2', urls=[backends['stable']], define_middlewares=shared))
    assert clash.get('failed') is True and 'middleware shared@file' in clash['msg']
    assert not os.path.exists(file_path(traefik, 'own2'))


def test_absent_removes_file_and_router(traefik, backends, run_module):
    args = route_args(traefik, 'gone1', urls=[backends['stable']])
    assert_ok(run_module(ROUTE, args))
    absent = {'name': 'gone1', 'state': 'absent', 'dynamic_dir': traefik.dynamic_dir, 'api_url': traefik.api_url}

    checked = run_module(ROUTE, absent, check=True, diff=True)
    assert checked['changed'] is True and checked['diff']['after'] == '' and os.path.exists(file_path(traefik, 'gone1'))
    removed = run_module(ROUTE, absent, diff=True)
    assert_ok(removed)
    assert removed['changed'] is True and not os.path.exists(file_path(traefik, 'gone1'))
    assert traefik.get('gone1.test')[0] == 404
    again = run_module(ROUTE, absent)
    assert_ok(again)
    assert again['changed'] is False


def test_info_reports_weighted_children_and_server_health(traefik, backends, run_module, wait_for, free_port):
    dead = 'http://127.0.0.1:%d' % free_port()
    weighted = [{'name': 'stable', 'weight': 3, 'urls': [backends['stable']]}, {'name': 'canary', 'weight': 1, 'urls': [dead]}]
    assert_ok(run_module(ROUTE, route_args(traefik, 'inf1', weighted=weighted, health_check={'path': '/', 'interval': '1s', 'timeout': '1s'})))

    def info():
        result = run_module(INFO, {'api_url': traefik.api_url, 'name': ['inf1'], 'provider': 'file'}, check=True)
        servers = dict((s['name'], s['servers']) for s in result['services'])
        return result if servers.get('inf1-canary@file', [{}])[0].get('status') == 'DOWN' else None
    result = wait_for(info, timeout=15, interval=0.5)
    assert result, 'Traefik never reported the dead canary DOWN'
    assert result['changed'] is False
    assert [r['name'] for r in result['routers']] == ['inf1@file']
    services = dict((s['name'], s) for s in result['services'])
    assert sorted(services) == ['inf1-canary@file', 'inf1-stable@file', 'inf1@file']
    assert services['inf1@file']['weighted'] == [{'name': 'inf1-stable', 'weight': 3}, {'name': 'inf1-canary', 'weight': 1}]
    assert services['inf1-stable@file']['servers'] == [{'url': backends['stable'], 'status': 'UP'}]
    internal = run_module(INFO, {'api_url': traefik.api_url, 'provider': 'internal'})
    assert internal['routers'] and all(r['provider'] == 'internal' for r in internal['routers'])

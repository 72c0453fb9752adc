# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for traefik_route: argument checks, check/diff/idempotence on disk, policy, and rollback logic.

The API is replaced by a small in-memory stand-in here; tests/functional runs the same paths
against a real Traefik.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.homelab.deploy.plugins.module_utils import _route as route
from ansible_collections.homelab.deploy.plugins.module_utils import _traefik as traefik
from ansible_collections.homelab.deploy.plugins.modules import traefik_route


def run(capsys, args, check=False, diff=False):
    with patch_module_args(dict(args, _ansible_check_mode=check, _ansible_diff=diff)):
        with pytest.raises(SystemExit):
            traefik_route.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture(autouse=True)
def host_lock(tmp_path, monkeypatch):
    """The engine's host lock, in the test's directory."""
    path = str(tmp_path / 'homelab-deploy.lock')
    monkeypatch.setattr(traefik_route, 'lock_path', lambda: path)
    return path


@pytest.fixture
def base(tmp_path):
    (tmp_path / 'dynamic').mkdir()
    return {'name': 'whoami', 'dynamic_dir': str(tmp_path / 'dynamic'), 'hostname': ['whoami.lan'], 'urls': ['http://tr-web:8080'],
            'public': False, 'confirm': False}


def target(base):
    return os.path.join(base['dynamic_dir'], 'whoami.yml')


@pytest.mark.parametrize('extra, fragment', [
    ({'rule': 'Host(`x`)'}, 'mutually exclusive: rule|hostname'),
    ({'weighted': [{'name': 'a', 'weight': 1, 'urls': ['http://a']}]}, 'mutually exclusive: urls|weighted'),
    ({'policy_exempt': True}, 'policy_exempt_reason'),
    ({'weighted': None, 'urls': None}, 'urls, weighted'),
    ({'state': 'gone'}, 'state'),
    ({'define_middlewares': [{'name': 'm', 'headers': {'a': 'b'}, 'config': {'c': {}}}]}, 'mutually exclusive'),
    ({'urls': None, 'weighted': [{'name': 'a', 'weight': 1}]}, 'one of the following is required: urls, service'),
])
def test_declarative_argument_checks(capsys, base, extra, fragment):
    args = dict((key, value) for key, value in dict(base, **extra).items() if value is not None)
    result = run(capsys, args)
    assert result['failed'] is True and fragment in result['msg'], result['msg']
    assert not os.path.exists(target(base))


def test_check_run_idempotent_on_disk(capsys, base):
    checked = run(capsys, base, check=True, diff=True)
    assert checked['changed'] is True and not os.path.exists(target(base))
    applied = run(capsys, base, diff=True)
    assert applied['changed'] is True
    with open(target(base)) as handle:
        assert handle.read() == applied['diff']['after'] == checked['diff']['after']
    assert os.listdir(base['dynamic_dir']) == ['whoami.yml'], 'temp file left behind'
    assert run(capsys, base, check=True)['changed'] is False
    assert run(capsys, base)['changed'] is False


def test_mode_is_applied_and_reported(capsys, base):
    result = run(capsys, dict(base, mode='0600'))
    assert result['changed'] is True and oct(os.stat(target(base)).st_mode & 0o777) == '0o600'
    assert run(capsys, dict(base, mode='0600'))['changed'] is False
    assert run(capsys, dict(base, mode='0640'))['changed'] is True


@pytest.mark.parametrize('extra, fragment', [
    ({'public': True}, 'Policy: public route whoami lacks required middlewares security-headers@file'),
    ({'public': True, 'middlewares': ['security-headers@file']}, 'Policy: public route whoami has no authentication middleware'),
    ({'urls': ['not-a-url']}, 'Invalid route whoami'),
    ({'hostname': None, 'path_prefix': 'x'}, 'path_prefix'),
])
def test_refused_before_writing(capsys, base, extra, fragment):
    run(capsys, base)
    with open(target(base)) as handle:
        before = handle.read()
    args = dict((key, value) for key, value in dict(base, **extra).items() if value is not None)
    result = run(capsys, args)
    assert result['failed'] is True and fragment in result['msg'], result['msg']
    with open(target(base)) as handle:
        assert handle.read() == before


def test_absent(capsys, base):
    run(capsys, base)
    absent = {'name': 'whoami', 'dynamic_dir': base['dynamic_dir'], 'state': 'absent', 'confirm': False}
    assert run(capsys, absent, check=True)['changed'] is True and os.path.exists(target(base))
    assert run(capsys, absent)['changed'] is True and not os.path.exists(target(base))
    assert run(capsys, absent)['changed'] is False


class FakeApi(object):
    """Serves whatever the test puts in `objects`; a callable value is evaluated per request."""

    def __init__(self, objects=None):
        self.objects = objects or {}

    def get(self, kind, name):
        value = self.objects.get((kind, name))
        return value() if callable(value) else value

    def names(self):
        return dict((kind, set(name for (k, name) in self.objects if k == kind)) for kind in traefik.KINDS)


def route_for(base, api, **extra):
    params = dict(traefik_route_defaults(), **base)
    params.update(extra, confirm=True, confirm_timeout=1)
    item = route.Route(params, open_url=None)
    item.api = api
    return item


def traefik_route_defaults():
    return dict((key, value.get('default')) for key, value in route.route_spec().items())


def loaded(config, **router_extra):
    """API objects for a config as Traefik would serve it, optionally with router errors."""
    http = config['http']
    objects = {}
    for name, router in http['routers'].items():
        objects[('routers', name + '@file')] = dict(dict(router, name=name + '@file', status='enabled'), **router_extra)
    for name, service in http['services'].items():
        objects[('services', name + '@file')] = dict(service, name=name + '@file', status='enabled')
    return objects


def test_rejected_file_is_restored_with_traefik_error(base):
    old_params = dict(traefik_route_defaults(), **base)
    old_text = traefik.render_file(traefik.render_config(old_params))
    with open(target(base), 'w') as handle:
        handle.write(old_text)
    new_config = traefik.render_config(dict(old_params, hostname=None, rule='Host(`broken`'))
    api = FakeApi(loaded(new_config, status='disabled', error=['error while parsing rule Host(`broken`']))
    item = route_for(base, api)
    item.config, item.old = new_config, old_text
    with pytest.raises(route.RouteError) as failure:
        item.confirm()
    info = dict(failure.value.extra, msg='%s' % failure.value)
    assert 'error while parsing rule Host(`broken`' in info['msg'] and 'Traefik API at' in info['msg']
    assert info['traefik_errors'] == ['router whoami@file: error while parsing rule Host(`broken`']
    assert info['rollback_confirmed'] is False, 'the stand-in API keeps serving the broken router'
    with open(target(base)) as handle:
        assert handle.read() == old_text


def test_never_loaded_new_file_is_removed(base):
    config = traefik.render_config(dict(traefik_route_defaults(), **base))
    with open(target(base), 'w') as handle:
        handle.write(traefik.render_file(config))
    item = route_for(base, FakeApi())
    item.config = config
    with pytest.raises(route.RouteError) as failure:
        item.confirm()
    assert 'did not load' in '%s' % failure.value and 'router whoami@file is not loaded' in '%s' % failure.value
    assert not os.path.exists(target(base))


def test_confirm_succeeds_once_traefik_serves_the_file(base):
    config = traefik.render_config(dict(traefik_route_defaults(), **base))
    objects = loaded(config)
    served_router = objects[('routers', 'whoami@file')]
    calls = []

    def router_after_reload():
        calls.append(1)
        return served_router if len(calls) > 1 else dict(served_router, rule='Host(`old`)')
    objects[('routers', 'whoami@file')] = router_after_reload
    item = route_for(base, FakeApi(objects))
    item.config = config
    item.confirm()
    assert item.info['served']['routers'][0]['status'] == 'enabled'
    assert len(calls) >= 2


def test_clash_with_other_file_is_refused(base):
    item = route_for(base, FakeApi({('routers', 'whoami@file'): {'name': 'whoami@file'}}))
    with pytest.raises(route.RouteError) as failure:
        item.plan()
    assert 'router whoami@file' in '%s' % failure.value and 'Nothing was written' in '%s' % failure.value


@pytest.mark.parametrize('state', ['present', 'absent'])
@pytest.mark.parametrize('name', ['../victim', '/etc/traefik/victim', 'a/b', '.hidden', '', 'victim\n'])
def test_a_name_that_is_not_a_file_name_is_refused_for_every_state(capsys, base, tmp_path, name, state):
    victim = tmp_path / 'victim.yml'
    victim.write_text('http: {}\n')
    result = run(capsys, dict(base, name=name, state=state))
    assert result['failed'] is True and 'must match' in result['msg'] and 'Nothing was changed' in result['msg']
    assert victim.exists(), 'nothing outside dynamic_dir is touched'


HAND_WRITTEN = 'http:\n  routers:\n    whoami:\n      rule: Host(`mine.lan`)\n      service: mine\n'


def test_a_hand_written_file_of_the_same_name_is_never_replaced_or_removed(capsys, base):
    with open(target(base), 'w') as handle:
        handle.write(HAND_WRITTEN)
    refused = run(capsys, base)
    assert refused['failed'] is True and 'was not written by homelab.deploy.traefik_route' in refused['msg']
    kept = run(capsys, {'name': 'whoami', 'dynamic_dir': base['dynamic_dir'], 'state': 'absent', 'confirm': False})
    assert kept['changed'] is False and 'left alone' in kept['kept'] and kept.get('warnings')
    with open(target(base)) as handle:
        assert handle.read() == HAND_WRITTEN


def test_it_waits_for_the_host_lock_and_gives_up_naming_it(capsys, base, host_lock):
    import fcntl
    with open(host_lock, 'w') as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        result = run(capsys, dict(base, lock_timeout=0))
    assert result['failed'] is True and 'another run holds it' in result['msg'] and host_lock in result['msg']
    assert not os.path.exists(target(base))
    assert run(capsys, base)['changed'] is True, 'runs once the lock is free'

# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for traefik_route_info: API answers (shaped like Traefik 3.7's) to structured lists."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.homelab.deploy.plugins.modules import traefik_route_info

# Trimmed from GET /api/http/* of a Traefik 3.7.15 serving a 90/10 canary.
API = {
    'routers': [
        {'entryPoints': ['web'], 'service': 'can', 'rule': 'Host(`can.test`)', 'priority': 16, 'status': 'enabled',
         'using': ['web'], 'name': 'can@file', 'provider': 'file', 'middlewares': ['hdr@file']},
        {'entryPoints': ['traefik'], 'service': 'api@internal', 'rule': 'PathPrefix(`/api`)', 'status': 'enabled',
         'name': 'api@internal', 'provider': 'internal'},
        {'entryPoints': ['web'], 'service': 'a', 'rule': 'Host(`a.test`', 'status': 'disabled', 'name': 'bad@file', 'provider': 'file',
         'error': ["error while parsing rule Host(`a.test`: parsing rule Host(`a.test`: 1:14: missing ',' before newline in argument list"]},
    ],
    'services': [
        {'weighted': {'services': [{'name': 'can-stable', 'weight': 90}, {'name': 'can-canary', 'weight': 10}]},
         'status': 'enabled', 'usedBy': ['can@file'], 'name': 'can@file', 'provider': 'file', 'type': 'weighted'},
        {'loadBalancer': {'servers': [{'url': 'http://127.0.0.1:9001'}], 'passHostHeader': True}, 'status': 'enabled',
         'name': 'can-stable@file', 'provider': 'file', 'type': 'loadbalancer', 'serverStatus': {'http://127.0.0.1:9001': 'UP'}},
        {'loadBalancer': {'servers': [{'url': 'http://127.0.0.1:9002'}], 'passHostHeader': True}, 'status': 'enabled',
         'name': 'can-canary@file', 'provider': 'file', 'type': 'loadbalancer', 'serverStatus': {'http://127.0.0.1:9002': 'DOWN'}},
        {'status': 'enabled', 'usedBy': ['api@internal'], 'name': 'api@internal', 'provider': 'internal'},
    ],
    'middlewares': [
        {'headers': {'customResponseHeaders': {'X-Test': 'yes'}}, 'status': 'enabled', 'usedBy': ['can@file'],
         'name': 'hdr@file', 'provider': 'file', 'type': 'headers'},
    ],
}


class Response(object):
    headers = {}

    def __init__(self, payload):
        self.payload = payload

    def read(self):
        return json.dumps(self.payload).encode('utf-8')


def run(capsys, monkeypatch, args, opener):
    monkeypatch.setattr(traefik_route_info, 'open_url', opener)
    with patch_module_args(dict(args, _ansible_check_mode=True)):
        with pytest.raises(SystemExit):
            traefik_route_info.main()
    return json.loads(capsys.readouterr().out)


def api_opener(url, **kwargs):
    return Response(API[url.split('/api/http/', 1)[1].split('?', 1)[0]])


def test_all_objects_are_listed(capsys, monkeypatch):
    result = run(capsys, monkeypatch, {}, api_opener)
    assert result['changed'] is False
    assert [r['name'] for r in result['routers']] == ['can@file', 'api@internal', 'bad@file']
    bad = result['routers'][2]
    assert bad['status'] == 'disabled' and 'error while parsing rule' in bad['errors'][0]


def test_name_filter_returns_canary_halves_with_health(capsys, monkeypatch):
    result = run(capsys, monkeypatch, {'name': ['can'], 'provider': 'file'}, api_opener)
    services = dict((s['name'], s) for s in result['services'])
    assert services['can@file']['weighted'] == [{'name': 'can-stable', 'weight': 90}, {'name': 'can-canary', 'weight': 10}]
    assert services['can-canary@file']['servers'] == [{'url': 'http://127.0.0.1:9002', 'status': 'DOWN'}]
    assert [m['name'] for m in result['middlewares']] == ['hdr@file']


def test_unreachable_api_fails_with_the_url(capsys, monkeypatch):
    def refused(url, **kwargs):
        raise OSError('[Errno 111] Connection refused')
    result = run(capsys, monkeypatch, {'api_url': 'http://127.0.0.1:1'}, refused)
    assert result['failed'] is True
    assert 'http://127.0.0.1:1/api/http/routers' in result['msg'] and 'Connection refused' in result['msg']

# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the traefik_settings filter: the traefik role's fact, completed with the modules' defaults."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.deploy.plugins.filter import traefik as flt
from ansible_collections.homelab.deploy.plugins.module_utils import _route as route
from ansible_collections.homelab.deploy.plugins.module_utils import _traefik as traefik
from ansible_collections.homelab.deploy.plugins.modules import drift_check

ROLE_FACT = {'dynamic_dir': '/srv/traefik/dynamic', 'api_url': 'http://127.0.0.1:9080', 'entrypoints': ['web'],
             'tls_entrypoints': ['secure'], 'cert_resolvers': ['pebble'], 'network': 'edge.network',
             'http_url': 'http://127.0.0.1:8000', 'https_url': 'https://127.0.0.1:8443'}


@pytest.mark.parametrize('fact', [None, {}, {'dynamic_dir': None, 'api_url': None}])
def test_without_a_fact_the_modules_defaults(fact):
    assert flt.traefik_settings(fact) == {'dynamic_dir': '/etc/traefik/dynamic', 'api_url': 'http://127.0.0.1:8080',
                                          'entrypoints': ['web'], 'tls_entrypoints': ['websecure'],
                                          'network': 'hl.network', 'http_url': 'http://127.0.0.1:80'}


def test_the_defaults_are_the_ones_the_modules_use():
    spec = drift_check.argument_spec()
    settings = flt.traefik_settings({})
    assert settings['dynamic_dir'] == spec['dynamic_dir']['default'] == traefik.DYNAMIC_DIR
    assert settings['api_url'] == spec['api_url']['default'] == traefik.API_URL
    assert settings['entrypoints'] == spec['routes']['options']['entrypoints']['default']
    assert settings['tls_entrypoints'] == route.route_spec()['tls']['options']['entrypoints']['default']


def test_the_fact_wins_key_by_key_and_extra_keys_stay():
    assert flt.traefik_settings(ROLE_FACT) == ROLE_FACT
    partial = flt.traefik_settings({'api_url': 'http://10.0.0.2:8080', 'tls': True})
    assert partial['api_url'] == 'http://10.0.0.2:8080'
    assert partial['dynamic_dir'] == traefik.DYNAMIC_DIR
    assert partial['tls'] is True


def test_an_empty_api_url_is_kept():
    # "" is how the drift check is told to skip the API, not an unset value
    assert flt.traefik_settings({'api_url': ''})['api_url'] == ''


def test_the_defaults_are_fresh_each_time():
    flt.traefik_settings({})['entrypoints'].append('websecure')
    assert flt.traefik_settings({})['entrypoints'] == ['web']


@pytest.mark.parametrize('fact, message', [
    ('/etc/traefik/dynamic', 'a mapping'),
    ([], 'a mapping'),
    ({'dynamic_dir': ['/a']}, 'dynamic_dir must be a string'),
    ({'api_url': 8080}, 'api_url must be a string'),
    ({'entrypoints': 'web'}, 'entrypoints must be a list'),
    ({'entrypoints': ['web', '']}, 'entrypoints must be a list'),
    ({'tls_entrypoints': 'websecure'}, 'tls_entrypoints must be a list'),
    ({'cert_resolvers': [1]}, 'cert_resolvers must be a list'),
])
def test_a_malformed_fact_is_refused(fact, message):
    with pytest.raises(AnsibleFilterError, match=message):
        flt.traefik_settings(fact)


def test_registered():
    assert flt.FilterModule().filters()['traefik_settings'] is flt.traefik_settings

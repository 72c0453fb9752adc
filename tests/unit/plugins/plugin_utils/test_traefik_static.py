# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for Traefik's static configuration from the traefik role's variables (_traefik_static, traefik_static)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.deploy.plugins.filter import traefik as flt
from ansible_collections.homelab.deploy.plugins.plugin_utils import _traefik_static as st

BASE = {'https': False, 'http_port': 80, 'https_port': 443, 'https_redirect': 'routes', 'cert_resolvers': {},
        'acme_dir': '/var/lib/traefik/acme', 'environment': {}, 'env_secrets': {}, 'log_level': 'INFO',
        'metrics_buckets': [0.1, 1]}
PEBBLE = {'ca': 'https://host.containers.internal:14000/dir', 'ca_bundle': '/etc/pebble/ca.pem',
          'certificates_duration': 1}


def layout(**changes):
    return st.static_layout(dict(BASE, **changes))


def test_the_defaults_stay_http_only():
    out = layout()
    assert sorted(out['config']['entryPoints']) == ['traefik', 'web']
    assert 'certificatesResolvers' not in out['config']
    assert out['publish'] == ['80:80'] and out['volumes'] == [] and out['environment'] == []
    assert out['tls_entrypoints'] == [] and out['cert_resolvers'] == []
    assert out['config']['metrics']['prometheus']['buckets'] == [0.1, 1.0]


def test_https_adds_websecure_published_on_its_port():
    out = layout(https=True, https_port=8443)
    assert out['config']['entryPoints']['websecure'] == {'address': ':443', 'http': {'tls': {}}}
    assert 'http' not in out['config']['entryPoints']['web']
    assert out['publish'] == ['80:80', '8443:443'] and out['tls_entrypoints'] == ['websecure']


def test_redirect_all_redirects_the_web_entry_point():
    web = layout(https=True, https_redirect='all')['config']['entryPoints']['web']
    assert web['http']['redirections']['entryPoint'] == {'to': 'websecure', 'scheme': 'https', 'permanent': True}


@pytest.mark.parametrize('ca, server', [
    ('letsencrypt', 'https://acme-v02.api.letsencrypt.org/directory'),
    ('letsencrypt-staging', 'https://acme-staging-v02.api.letsencrypt.org/directory'),
    ('https://ca.lan/acme/directory', 'https://ca.lan/acme/directory'),
])
def test_a_resolver_by_name_or_url(ca, server):
    acme = layout(https=True, cert_resolvers={'le': {'ca': ca, 'email': 'a@b.org'}})['config']['certificatesResolvers']['le']['acme']
    assert acme == {'caServer': server, 'storage': '/acme/le.json', 'email': 'a@b.org',
                    'httpChallenge': {'entryPoint': 'web'}}


@pytest.mark.parametrize('spec, want', [
    ({'challenge': 'tls-alpn'}, {'tlsChallenge': {}}),
    ({'challenge': 'dns', 'dns': {'provider': 'cloudflare', 'resolvers': ['1.1.1.1:53']}},
     {'dnsChallenge': {'provider': 'cloudflare', 'resolvers': ['1.1.1.1:53']}}),
])
def test_challenges(spec, want):
    acme = layout(https=True, cert_resolvers={'r': spec})['config']['certificatesResolvers']['r']['acme']
    assert dict((k, v) for k, v in acme.items() if k.endswith('Challenge')) == want


def test_a_ca_bundle_is_mounted_and_trusted_with_the_system_roots_and_storage_persisted():
    out = layout(https=True, cert_resolvers={'pebble': PEBBLE})
    assert out['volumes'] == ['/var/lib/traefik/acme:/acme:Z', '/etc/pebble/ca.pem:/etc/traefik/ca/pebble.pem:ro,z']
    assert out['environment'] == ['"LEGO_CA_CERTIFICATES=/etc/traefik/ca/pebble.pem"', '"LEGO_CA_SYSTEM_CERT_POOL=true"']
    assert out['config']['certificatesResolvers']['pebble']['acme']['certificatesDuration'] == 1
    assert out['cert_resolvers'] == ['pebble']


def test_environment_is_quoted_for_systemd_and_secrets_become_env_secrets():
    out = layout(environment={'A': 'x%y "z"'}, env_secrets={'CF_DNS_API_TOKEN': 'cf-token'})
    assert out['environment'] == ['"A=x%%y \\"z\\""']
    assert out['secrets'] == ['cf-token,type=env,target=CF_DNS_API_TOKEN']


@pytest.mark.parametrize('changes, message', [
    ({'cert_resolvers': {'le': {}}}, 'traefik_cert_resolvers: .*traefik_https: true'),
    ({'https': True, 'cert_resolvers': {'le': {'ca': 'http://x/dir'}}}, r'traefik_cert_resolvers\.le\.ca'),
    ({'https': True, 'cert_resolvers': {'le': {'challange': 'http'}}}, 'unknown key.*challange'),
    ({'https': True, 'cert_resolvers': {'le': {'challenge': 'dns'}}}, r'le\.dns: challenge: dns needs dns\.provider'),
    ({'https': True, 'cert_resolvers': {'le': {'dns': {'provider': 'x'}}}}, r'le\.dns: is only used with challenge: dns'),
    ({'https': True, 'cert_resolvers': {'le': {'key_type': 'DSA'}}}, r'le\.key_type'),
    ({'https': True, 'cert_resolvers': {'le': {'certificates_duration': 0}}}, r'le\.certificates_duration'),
    ({'https': True, 'cert_resolvers': {'le': {'options': {'storage': '/x'}}}}, r'le\.options: sets storage'),
    ({'https': True, 'cert_resolvers': {'le': {'ca_bundle': 'ca.pem'}}}, r'le\.ca_bundle: must be an absolute path'),
    ({'https': True, 'cert_resolvers': {'bad name': {}}}, 'resolver name must match'),
    ({'https': True, 'cert_resolvers': {'le': {}}, 'acme_dir': 'acme'}, 'traefik_acme_dir'),
    ({'https_redirect': 'sometimes'}, 'traefik_https_redirect'),
    ({'environment': {'1A': 'x'}}, 'traefik_environment'),
    ({'environment': {'A': 'x\ny'}}, r'traefik_environment\.A'),
    ({'https': True, 'cert_resolvers': {'p': PEBBLE}, 'environment': {'LEGO_CA_CERTIFICATES': '/x'}},
     'traefik_environment: sets LEGO_CA_CERTIFICATES'),
    ({'env_secrets': {'TOKEN': 'a b'}}, r'traefik_env_secrets\.TOKEN'),
])
def test_bad_values_are_refused_naming_the_variable(changes, message):
    with pytest.raises(st.StaticConfigError, match=message):
        layout(**changes)


def test_the_filter_raises_a_filter_error():
    assert flt.FilterModule().filters()['traefik_static'] is flt.traefik_static
    assert flt.traefik_static(BASE)['publish'] == ['80:80']
    with pytest.raises(AnsibleFilterError, match='traefik role: traefik_https_redirect'):
        flt.traefik_static(dict(BASE, https_redirect='x'))
    with pytest.raises(AnsibleFilterError, match='a mapping'):
        flt.traefik_static([])


# -- shared middlewares: the LAN allow-list and forward auth (issue 14 parts 4 and 5) -----------------------------

def test_the_shared_middlewares_hold_the_lan_allow_list_forward_auth_and_the_user_s_own():
    out = layout(lan_ranges=['192.168.1.0/24'], middlewares={'security-headers': {'headers': {'frameDeny': True}}},
                 forward_auth={'authelia': {'address': 'http://sso-authelia:9091/api/authz/forward-auth'},
                               'authentik': {'address': 'http://ak:9000/outpost.goauthentik.io/auth/traefik',
                                             'trust_forward_header': False, 'response_headers': ['X-authentik-username']}})
    assert out['middlewares']['lan-only'] == {'ipAllowList': {'sourceRange': ['192.168.1.0/24']}}
    assert out['middlewares']['authelia'] == {'forwardAuth': {
        'address': 'http://sso-authelia:9091/api/authz/forward-auth', 'trustForwardHeader': True,
        'authResponseHeaders': ['Remote-User', 'Remote-Groups', 'Remote-Email', 'Remote-Name']}}
    assert out['middlewares']['authentik']['forwardAuth'] == {
        'address': 'http://ak:9000/outpost.goauthentik.io/auth/traefik', 'trustForwardHeader': False,
        'authResponseHeaders': ['X-authentik-username']}
    assert out['middlewares']['security-headers'] == {'headers': {'frameDeny': True}}
    assert out['auth_middlewares'] == ['authelia@file', 'authentik@file']
    assert layout()['auth_middlewares'] == [] and list(layout()['middlewares']) == ['lan-only']


@pytest.mark.parametrize('changes, fragment', [
    ({'forward_auth': {'sso': {'address': 'not-a-url'}}}, 'traefik_forward_auth.sso.address: must be the http(s) URL'),
    ({'forward_auth': {'sso': {'address': 'http://a', 'cookie': 1}}}, 'traefik_forward_auth.sso: unknown key(s) cookie'),
    ({'forward_auth': {'bad name': {'address': 'http://a'}}}, 'traefik_forward_auth.bad name: a middleware name'),
    ({'forward_auth': {'sso': {'address': 'http://a', 'response_headers': ['Remote User']}}},
     'traefik_forward_auth.sso.response_headers: must be a list of header names'),
    ({'middlewares': {'lan-only': {'headers': {}}}}, 'traefik_middlewares: defines lan-only, which the role defines'),
    ({'lan_ranges': '10.0.0.0/8'}, 'traefik_lan_ranges: must be a non-empty list of CIDR ranges'),
    ({'lan_ranges': []}, 'traefik_lan_ranges: must be a non-empty list of CIDR ranges'),
])
def test_bad_shared_middleware_settings_are_refused_naming_the_variable(changes, fragment):
    with pytest.raises(st.StaticConfigError) as raised:
        layout(**changes)
    assert fragment in str(raised.value)


def test_the_default_resolver_is_one_of_the_resolvers():
    assert layout()['default_cert_resolver'] == ''
    out = layout(https=True, cert_resolvers={'pebble': PEBBLE}, default_cert_resolver='pebble')
    assert out['default_cert_resolver'] == 'pebble'
    with pytest.raises(Exception, match="traefik_default_cert_resolver: 'letsencrypt' is not one of "
                                        r"traefik_cert_resolvers \(pebble\)"):
        layout(https=True, cert_resolvers={'pebble': PEBBLE}, default_cert_resolver='letsencrypt')
    with pytest.raises(Exception, match=r'traefik_cert_resolvers \(none\)'):
        layout(default_cert_resolver='letsencrypt')


def test_the_internal_ca_certificate_is_traefiks_default_and_only_its_served_directory_is_mounted():
    internal = {'names': ['*.home.arpa'], 'dir': '/etc/traefik/internal-ca',
                'cert': '/etc/traefik/internal-ca/served/default-20261203190000.crt'}
    out = layout(https=True, internal_ca=internal)
    assert '/etc/traefik/internal-ca/served:/etc/traefik/internal:ro,Z' in out['volumes']
    assert out['dynamic']['tls'] == {'stores': {'default': {'defaultCertificate': {
        'certFile': '/etc/traefik/internal/default-20261203190000.crt',
        'keyFile': '/etc/traefik/internal/default-20261203190000.key'}}}}
    assert out['dynamic']['http']['middlewares'] == out['middlewares']
    not_yet = layout(https=True, internal_ca=dict(internal, cert=None))  # check mode before the first issue
    assert 'tls' not in not_yet['dynamic'] and not_yet['volumes'] == out['volumes']
    assert 'tls' not in layout()['dynamic'] and layout(internal_ca={'names': [], 'dir': '/x'})['volumes'] == []


@pytest.mark.parametrize('internal, https, message', [
    ({'names': ['*.home.arpa'], 'dir': '/etc/traefik/internal-ca'}, False, 'set traefik_https: true'),
    ({'names': ['*.home.arpa'], 'dir': 'relative'}, True, 'traefik_internal_ca_dir: must be an absolute path'),
    ({'names': ['*.home.arpa'], 'dir': '/a:b'}, True, 'traefik_internal_ca_dir'),
    ({'names': 'home.arpa', 'dir': '/x'}, True, 'traefik_internal_ca_names: must be a list')])
def test_internal_ca_settings_are_checked_naming_the_variable(internal, https, message):
    with pytest.raises(st.StaticConfigError, match=message):
        layout(https=https, internal_ca=internal)

# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private: Traefik's static configuration and the container settings that go with it; not a public API.

The traefik role hands its variables to static_layout() (through the traefik_static filter) and writes what comes
back: the static configuration (entry points, ACME certificate resolvers, API, metrics, file provider), the ports
to publish, the volumes (ACME storage, CA bundles) and the environment of the container (LEGO_CA_CERTIFICATES).
Every value is checked here, on the controller, so a bad one is refused naming the role variable before anything
on the host changes. Controller-side and pure: no host access.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import re

# Let's Encrypt's ACME directories, by the names the role accepts for a resolver's ca.
ACME_DIRECTORIES = {
    'letsencrypt': 'https://acme-v02.api.letsencrypt.org/directory',
    'letsencrypt-staging': 'https://acme-staging-v02.api.letsencrypt.org/directory',
}
CHALLENGES = ('http', 'tls-alpn', 'dns')
REDIRECTS = ('routes', 'all')
KEY_TYPES = ('EC256', 'EC384', 'RSA2048', 'RSA4096', 'RSA8192')
LOG_LEVELS = ('DEBUG', 'INFO', 'WARN', 'ERROR')
RESOLVER_KEYS = ('ca', 'email', 'challenge', 'dns', 'ca_bundle', 'key_type', 'certificates_duration', 'options')
# Paths inside the container: the ACME storage directory (one <resolver>.json each) and the CA bundles.
ACME_DIR = '/acme'
CA_DIR = '/etc/traefik/ca'
INTERNAL_DIR = '/etc/traefik/internal'  # the internal CA's served certificates (not its key)
HTTP_ENTRYPOINT, TLS_ENTRYPOINT, API_ENTRYPOINT = 'web', 'websecure', 'traefik'
NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_-]*\Z')
ENV_NAME_RE = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*\Z')
SECRET_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]*\Z')
CONTROL_RE = re.compile(r'[\x00-\x1f\x7f]')


class StaticConfigError(ValueError):
    """A role variable Traefik's static configuration cannot be made from; the text names it."""


def _fail(where, reason):
    raise StaticConfigError('%s: %s' % (where, reason))


def _ca_server(where, ca):
    server = ACME_DIRECTORIES.get(ca, ca)
    if not isinstance(server, str) or not server.startswith('https://'):
        _fail(where + '.ca', '%r is neither %s nor an https:// ACME directory URL'
              % (ca, ' nor '.join(sorted(ACME_DIRECTORIES))))
    return server


def _challenge(where, spec):
    challenge = spec.get('challenge', 'http')
    if challenge not in CHALLENGES:
        _fail(where + '.challenge', '%r is not one of %s' % (challenge, ', '.join(CHALLENGES)))
    if spec.get('dns') is not None and challenge != 'dns':
        _fail(where + '.dns', 'is only used with challenge: dns (challenge is %s)' % challenge)
    if challenge == 'http':
        return {'httpChallenge': {'entryPoint': HTTP_ENTRYPOINT}}
    if challenge == 'tls-alpn':
        return {'tlsChallenge': {}}
    dns = spec.get('dns')
    if not isinstance(dns, dict) or not isinstance(dns.get('provider'), str) or not dns['provider']:
        _fail(where + '.dns', "challenge: dns needs dns.provider (Traefik's dnsChallenge options, e.g. "
              "{provider: cloudflare, resolvers: ['1.1.1.1:53']})")
    return {'dnsChallenge': dict(dns)}


def _acme_options(where, spec):
    acme = {}
    if spec.get('email') is not None:
        if not isinstance(spec['email'], str) or '@' not in spec['email']:
            _fail(where + '.email', '%r is not an e-mail address' % (spec['email'],))
        acme['email'] = spec['email']
    if spec.get('key_type') is not None:
        if spec['key_type'] not in KEY_TYPES:
            _fail(where + '.key_type', '%r is not one of %s' % (spec['key_type'], ', '.join(KEY_TYPES)))
        acme['keyType'] = spec['key_type']
    duration = spec.get('certificates_duration')
    if duration is not None:
        if isinstance(duration, bool) or not isinstance(duration, int) or duration < 1:
            _fail(where + '.certificates_duration', 'must be a whole number of hours >= 1, got %r' % (duration,))
        acme['certificatesDuration'] = duration
    return acme


def _pass_through(where, acme, options):
    if not isinstance(options, dict):
        _fail(where + '.options', "must be a mapping of Traefik's acme options, got %r" % (options,))
    clash = sorted(set(options) & set(acme))
    if clash:
        _fail(where + '.options', 'sets %s, which the resolver sets itself; use its own key instead'
              % ', '.join(clash))
    return dict(acme, **options)


def resolver(name, spec):
    """(Traefik's certificatesResolvers entry, the CA bundle's host path or None) for one resolver of the role."""
    where = 'traefik_cert_resolvers.%s' % name
    if not NAME_RE.match(name):
        _fail(where, 'a resolver name must match %s' % NAME_RE.pattern)
    if not isinstance(spec, dict):
        _fail(where, 'must be a mapping of %s, got %r' % (', '.join(RESOLVER_KEYS), spec))
    unknown = sorted(set(spec) - set(RESOLVER_KEYS))
    if unknown:
        _fail(where, 'unknown key(s) %s (known: %s)' % (', '.join(unknown), ', '.join(RESOLVER_KEYS)))
    acme = {'caServer': _ca_server(where, spec.get('ca', 'letsencrypt')),
            'storage': '%s/%s.json' % (ACME_DIR, name)}
    acme.update(_acme_options(where, spec))
    acme.update(_challenge(where, spec))
    acme = _pass_through(where, acme, spec.get('options') or {})
    bundle = spec.get('ca_bundle')
    if bundle is not None and (not isinstance(bundle, str) or not bundle.startswith('/')):
        _fail(where + '.ca_bundle', 'must be an absolute path on the host, got %r' % (bundle,))
    return {'acme': acme}, bundle


def _entrypoints(settings):
    web = {'address': ':80'}
    if settings.get('https'):
        if settings.get('https_redirect', 'routes') == 'all':
            web['http'] = {'redirections': {'entryPoint': {'to': TLS_ENTRYPOINT, 'scheme': 'https', 'permanent': True}}}
        # Routers on websecure get TLS (Traefik's default certificate) even when a route does not ask for it.
        return {HTTP_ENTRYPOINT: web, TLS_ENTRYPOINT: {'address': ':443', 'http': {'tls': {}}},
                API_ENTRYPOINT: {'address': ':8080'}}
    return {HTTP_ENTRYPOINT: web, API_ENTRYPOINT: {'address': ':8080'}}


def _check_settings(settings):
    if settings.get('https_redirect', 'routes') not in REDIRECTS:
        _fail('traefik_https_redirect', '%r is not one of %s' % (settings.get('https_redirect'), ', '.join(REDIRECTS)))
    if settings.get('log_level', 'INFO') not in LOG_LEVELS:
        _fail('traefik_log_level', '%r is not one of %s' % (settings.get('log_level'), ', '.join(LOG_LEVELS)))
    resolvers = settings.get('cert_resolvers') or {}
    if not isinstance(resolvers, dict):
        _fail('traefik_cert_resolvers', 'must be a mapping of resolver name to its settings, got %r' % (resolvers,))
    if resolvers and not settings.get('https'):
        _fail('traefik_cert_resolvers', 'certificates are served on the websecure entry point: set traefik_https: true')
    default = settings.get('default_cert_resolver') or ''
    if default and default not in resolvers:
        _fail('traefik_default_cert_resolver', '%r is not one of traefik_cert_resolvers (%s)'
              % (default, ', '.join(sorted(resolvers)) or 'none'))
    acme_dir = settings.get('acme_dir')
    if resolvers and (not isinstance(acme_dir, str) or not acme_dir.startswith('/')):
        _fail('traefik_acme_dir', 'must be an absolute path on the host, got %r' % (acme_dir,))
    return resolvers


def _static_config(settings, resolvers):
    config = {
        'global': {'checkNewVersion': False, 'sendAnonymousUsage': False},
        'entryPoints': _entrypoints(settings),
        'api': {'insecure': True, 'dashboard': True},
        'ping': {'entryPoint': API_ENTRYPOINT},
        'metrics': {'prometheus': {'entryPoint': API_ENTRYPOINT, 'addEntryPointsLabels': True,
                                   'addRoutersLabels': True, 'addServicesLabels': True,
                                   'buckets': [float(b) for b in settings.get('metrics_buckets') or []]}},
        'providers': {'file': {'directory': '/etc/traefik/dynamic', 'watch': True}},
        'log': {'level': settings.get('log_level', 'INFO')},
    }
    if not config['metrics']['prometheus']['buckets']:
        del config['metrics']['prometheus']['buckets']
    if resolvers:
        config['certificatesResolvers'] = resolvers
    return config


def _ca_environment(bundles):
    """lego's variables for the CA bundles: they replace the system pool unless LEGO_CA_SYSTEM_CERT_POOL is set."""
    if not bundles:
        return {}
    return {'LEGO_CA_CERTIFICATES': ':'.join(sorted(bundles.values())), 'LEGO_CA_SYSTEM_CERT_POOL': 'true'}


def _unit_environment(where, env):
    """Environment= values for the unit, quoted for systemd (and % doubled: systemd expands specifiers there)."""
    if not isinstance(env, dict):
        _fail(where, 'must be a mapping of variable name to value, got %r' % (env,))
    values = []
    for key in sorted(env):
        value = env[key]
        if not isinstance(key, str) or not ENV_NAME_RE.match(key):
            _fail(where, '%r is not an environment variable name' % (key,))
        if isinstance(value, bool) or not isinstance(value, (str, int, float)) or CONTROL_RE.search(str(value)):
            _fail('%s.%s' % (where, key), 'must be a string or number without control characters')
        text = ('%s=%s' % (key, value)).replace('\\', '\\\\').replace('"', '\\"').replace('%', '%%')
        values.append('"%s"' % text)
    return values


def _unit_secrets(secrets):
    """Secret= values: podman secrets handed to Traefik as environment variables (a DNS provider's credentials)."""
    if not isinstance(secrets, dict):
        _fail('traefik_env_secrets', 'must be a mapping of variable name to podman secret name, got %r' % (secrets,))
    values = []
    for key in sorted(secrets):
        if not isinstance(key, str) or not ENV_NAME_RE.match(key):
            _fail('traefik_env_secrets', '%r is not an environment variable name' % (key,))
        if not isinstance(secrets[key], str) or not SECRET_RE.match(secrets[key]):
            _fail('traefik_env_secrets.%s' % key, '%r is not a podman secret name' % (secrets[key],))
        values.append('%s,type=env,target=%s' % (secrets[key], key))
    return values


FORWARD_AUTH_KEYS = ('address', 'trust_forward_header', 'response_headers', 'request_headers')
DEFAULT_RESPONSE_HEADERS = ('Remote-User', 'Remote-Groups', 'Remote-Email', 'Remote-Name')
LAN_MIDDLEWARE = 'lan-only'
DEFAULT_LAN_RANGES = ('127.0.0.0/8', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16', '::1/128',
                      'fc00::/7', 'fe80::/10')
HEADER_RE = re.compile(r'^[A-Za-z0-9-]+\Z')
URL_RE = re.compile(r'^https?://[^\s/]+(/\S*)?\Z')


def forward_auth(name, spec):
    """Traefik's forwardAuth middleware for a traefik_forward_auth entry (Authelia, authentik...): every request is
    first sent to address; a 2xx lets it through with response_headers copied onto it, anything else (401, a 302 to
    the login portal) is the answer."""
    where = 'traefik_forward_auth.%s' % name
    if not NAME_RE.match(str(name)):
        _fail(where, 'a middleware name is letters, digits, - and _')
    if not isinstance(spec, dict):
        _fail(where, 'must be a mapping with address, got %r' % (spec,))
    unknown = sorted(set(spec) - set(FORWARD_AUTH_KEYS))
    if unknown:
        _fail(where, 'unknown key(s) %s (known: %s)' % (', '.join(unknown), ', '.join(FORWARD_AUTH_KEYS)))
    if not isinstance(spec.get('address'), str) or not URL_RE.match(spec['address']):
        _fail(where + '.address', 'must be the http(s) URL of the authorization endpoint, got %r' % (spec.get('address'),))
    out = {'address': spec['address'], 'trustForwardHeader': bool(spec.get('trust_forward_header', True))}
    for key, traefik_key, default in (('response_headers', 'authResponseHeaders', DEFAULT_RESPONSE_HEADERS),
                                      ('request_headers', 'authRequestHeaders', None)):
        headers = spec.get(key, default)
        if headers is None:
            continue
        if not isinstance(headers, (list, tuple)) or not all(isinstance(h, str) and HEADER_RE.match(h) for h in headers):
            _fail('%s.%s' % (where, key), 'must be a list of header names, got %r' % (headers,))
        out[traefik_key] = list(headers)
    return {'forwardAuth': out}


def middlewares(settings):
    """The shared middlewares file: lan-only (an ipAllowList of lan_ranges), the forward-auth middlewares and the
    user's own (traefik_middlewares, which may not redefine the role's). Returns (middlewares, auth names@file)."""
    ranges = settings.get('lan_ranges', DEFAULT_LAN_RANGES)
    if not isinstance(ranges, (list, tuple)) or not ranges \
            or not all(isinstance(r, str) and r and not CONTROL_RE.search(r) for r in ranges):
        _fail('traefik_lan_ranges', 'must be a non-empty list of CIDR ranges, got %r' % (ranges,))
    out = {LAN_MIDDLEWARE: {'ipAllowList': {'sourceRange': list(ranges)}}}
    auth = settings.get('forward_auth') or {}
    if not isinstance(auth, dict):
        _fail('traefik_forward_auth', 'must be a mapping of middleware name to settings, got %r' % (auth,))
    for name in sorted(auth):
        out[name] = forward_auth(name, auth[name])
    own = settings.get('middlewares') or {}
    if not isinstance(own, dict):
        _fail('traefik_middlewares', 'must be a mapping of middleware name to definition, got %r' % (own,))
    clash = sorted(set(own) & set(out))
    if clash:
        _fail('traefik_middlewares', 'defines %s, which the role defines (lan-only, traefik_forward_auth)' % ', '.join(clash))
    out.update(own)
    return out, ['%s@file' % name for name in sorted(auth)]


def internal_certificate(settings):
    """(volume, dynamic tls) for the internal CA's served certificate (homelab.deploy.internal_ca), or (None, None)
    when traefik_internal_ca_names is empty. The certificate becomes Traefik's default one: every TLS router
    without a resolver of its own is served with it."""
    internal = settings.get('internal_ca') or {}
    names = internal.get('names') or []
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) and n and not CONTROL_RE.search(n) for n in names):
        _fail('traefik_internal_ca_names', 'must be a list of DNS names or IP addresses, got %r' % (names,))
    if not names:
        return None, None
    if not settings.get('https'):
        _fail('traefik_internal_ca_names', 'certificates are served on the websecure entry point: set traefik_https: true')
    where = internal.get('dir')
    if not isinstance(where, str) or not where.startswith('/') or CONTROL_RE.search(where) or ':' in where:
        _fail('traefik_internal_ca_dir', 'must be an absolute path on the host without ":", got %r' % (where,))
    volume = '%s/served:%s:ro,Z' % (where.rstrip('/'), INTERNAL_DIR)
    cert = internal.get('cert')
    if not cert:  # not issued yet (check mode before the first run)
        return volume, None
    name = cert.rsplit('/', 1)[-1]
    return volume, {'stores': {'default': {'defaultCertificate': {
        'certFile': '%s/%s' % (INTERNAL_DIR, name), 'keyFile': '%s/%s' % (INTERNAL_DIR, name[:-4] + '.key')}}}}


def static_layout(settings):
    """The static configuration and the container settings for the traefik role's variables (see the filter)."""
    specs = _check_settings(settings)
    shared, auth_names = middlewares(settings)
    internal_volume, internal_tls = internal_certificate(settings)
    resolvers, bundles = {}, {}
    for name in sorted(specs):
        resolvers[name], bundle = resolver(name, specs[name])
        if bundle:
            bundles[bundle] = bundles.get(bundle) or '%s/%s.pem' % (CA_DIR, name)
    environment = settings.get('environment') or {}
    if not isinstance(environment, dict):
        _fail('traefik_environment', 'must be a mapping of variable name to value, got %r' % (environment,))
    environment = dict(environment)
    clash = sorted(set(environment) & set(_ca_environment(bundles)))
    if clash:
        _fail('traefik_environment', 'sets %s, which the role sets from the resolvers\' ca_bundle' % ', '.join(clash))
    environment.update(_ca_environment(bundles))
    publish = ['%s:80' % settings.get('http_port', 80)]
    if settings.get('https'):
        publish.append('%s:443' % settings.get('https_port', 443))
    volumes = ['%s:%s:ro,z' % (host, inside) for host, inside in sorted(bundles.items(), key=lambda item: item[1])]
    if resolvers:
        volumes.insert(0, '%s:%s:Z' % (settings.get('acme_dir'), ACME_DIR))
    if internal_volume:
        volumes.append(internal_volume)
    dynamic = {'http': {'middlewares': shared}}
    if internal_tls:
        dynamic['tls'] = internal_tls
    return {
        'config': _static_config(settings, resolvers),
        'publish': publish,
        'volumes': volumes,
        'environment': _unit_environment('traefik_environment', environment),
        'secrets': _unit_secrets(settings.get('env_secrets') or {}),
        'tls_entrypoints': [TLS_ENTRYPOINT] if settings.get('https') else [],
        'cert_resolvers': sorted(resolvers),
        'default_cert_resolver': settings.get('default_cert_resolver') or '',
        'middlewares': shared, 'auth_middlewares': auth_names,
        'dynamic': dynamic,  # the shared dynamic file: middlewares, and the internal CA's default certificate
    }

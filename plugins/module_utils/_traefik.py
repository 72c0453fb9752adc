# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private helpers for the traefik_route modules; not a public API, may change without notice."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import ipaddress
import json
import re
import time

from urllib.parse import quote, urlparse

# Where the homelab.deploy.traefik role puts Traefik by default: its watched file-provider directory, its API (the
# "traefik" entry point on loopback), its public entry points, the Quadlet network routed services join and the
# "web" entry point as seen from the host. Every default in the collection (module argument specs, filters, the
# drift timer's runner, the roles through the traefik_settings filter) comes from these; the doc fragment
# homelab.deploy.traefik repeats two of them as text and a unit test holds the two equal.
DYNAMIC_DIR = '/etc/traefik/dynamic'
API_URL = 'http://127.0.0.1:8080'
ENTRYPOINTS = ('web',)
# The entry point a route with TLS is served on (the traefik role's websecure, with traefik_https: true).
TLS_ENTRYPOINTS = ('websecure',)
NETWORK = 'hl.network'
HTTP_URL = 'http://127.0.0.1:80'

MANAGED_HEADER = '# Managed by homelab.deploy.traefik_route; local edits are overwritten.'
MANIFEST_PREFIX = '# homelab.deploy.traefik_route defines:'
# Forward-auth middlewares that count as authentication on a public route unless the caller names its own
AUTH_MIDDLEWARES = ('authelia@file', 'authentik@file')
# The ipAllowList of the LAN ranges (the traefik role's traefik_lan_ranges) put in front of every route that is not
# public, so that "LAN only" means it
LAN_MIDDLEWARE = 'lan-only@file'
KINDS = ('routers', 'services', 'middlewares')

NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_-]*\Z')
REF_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]*(@[A-Za-z0-9_-]+)?\Z')
HOST_RE = re.compile(r'^[A-Za-z0-9*_]([A-Za-z0-9_.-]*[A-Za-z0-9])?\Z')
PATH_RE = re.compile(r'^/[^\s`]*\Z')
DURATION_RE = re.compile(r'^(\d+(\.\d+)?(ns|us|ms|s|m|h))+\Z')
URL_SCHEMES = ('http', 'https', 'h2c')

# Plain YAML keys must not be read back as booleans/null/numbers by YAML 1.1 parsers.
_PLAIN_KEY_RE = re.compile(r'^[A-Za-z_][A-Za-z0-9_.-]*\Z')
_YAML11_WORDS = frozenset(['y', 'n', 'yes', 'no', 'on', 'off', 'true', 'false', 'null'])

HEALTH_CHECK_KEYS = (('path', 'path'), ('interval', 'interval'), ('timeout', 'timeout'), ('scheme', 'scheme'),
                     ('hostname', 'hostname'), ('port', 'port'), ('method', 'method'), ('status', 'status'))
BASIC_AUTH_KEYS = (('users', 'users'), ('realm', 'realm'), ('remove_header', 'removeHeader'), ('header_field', 'headerField'))


class TraefikApiError(Exception):
    """The Traefik API could not be reached or answered something unusable."""


# ---------------------------------------------------------------------------
# Deterministic YAML emitter (the node has no PyYAML)
# ---------------------------------------------------------------------------

def _scalar(value):
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        # A JSON string is a valid YAML double-quoted scalar: quoting every string
        # avoids YAML 1.1 surprises ("no", "1e3", "$apr1$...", ": ").
        return json.dumps(value, ensure_ascii=False)
    raise TypeError('cannot emit %r as YAML' % (value,))


def _key(key):
    if not isinstance(key, str):
        raise TypeError('YAML keys must be strings, got %r' % (key,))
    if _PLAIN_KEY_RE.match(key) and key.lower() not in _YAML11_WORDS:
        return key
    return json.dumps(key, ensure_ascii=False)


def _emit_dict(data, indent):
    lines = []
    for key, value in data.items():
        prefix = ' ' * indent + _key(key) + ':'
        if isinstance(value, (dict, list)) and value:
            lines.append(prefix)
            lines.extend(_emit(value, indent + 2))
        else:
            lines.append(prefix + ' ' + _flow_or_scalar(value))
    return lines


def _emit_list(data, indent):
    lines = []
    for item in data:
        if isinstance(item, (dict, list)) and item:
            nested = _emit(item, indent + 2)
            lines.append(' ' * indent + '- ' + nested[0].lstrip(' '))
            lines.extend(nested[1:])
        else:
            lines.append(' ' * indent + '- ' + _flow_or_scalar(item))
    return lines


def _flow_or_scalar(value):
    if isinstance(value, dict):
        return '{}'
    if isinstance(value, list):
        return '[]'
    return _scalar(value)


def _emit(value, indent):
    if isinstance(value, dict):
        return _emit_dict(value, indent)
    if isinstance(value, list):
        return _emit_list(value, indent)
    return [' ' * indent + _scalar(value)]


def to_yaml(data):
    """Render dicts/lists/scalars as block YAML; key order is kept, so equal input gives equal text."""
    return '\n'.join(_emit(data, 0)) + '\n'


# ---------------------------------------------------------------------------
# Names, rules and validation
# ---------------------------------------------------------------------------

def qualify(name, provider='file'):
    """Traefik resolves a name without @provider inside the provider that declares it."""
    return name if '@' in name else '%s@%s' % (name, provider)


def build_rule(hostnames=None, path=None, rule=None):
    if rule:
        return rule
    parts = []
    hosts = ['Host(`%s`)' % host for host in hostnames or []]
    if len(hosts) == 1 or (hosts and not path):
        parts.append(' || '.join(hosts))
    elif hosts:
        parts.append('(%s)' % ' || '.join(hosts))
    if path:
        parts.append('PathPrefix(`%s`)' % path)
    return ' && '.join(parts)


def child_service_name(name, child):
    return '%s-%s' % (name, child)


def http_router_name(name):
    """The router of a TLS route on the plain-HTTP entry points (it redirects to HTTPS, or serves HTTP too)."""
    return '%s-http' % name


def redirect_middleware_name(name):
    return '%s-https-redirect' % name


# Traefik's own services: its API, dashboard and metrics are never a route's target (internal services that only
# redirect, such as noop@internal, are not listed)
INTERNAL_SERVICES = ('api@internal', 'dashboard@internal', 'prometheus@internal', 'ping@internal', 'rest@internal')
# Host names that reach Traefik itself from where it runs (its container's loopback, the container's own name)
TRAEFIK_HOSTS = ('localhost', 'traefik')


def _is_traefik_host(host):
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host in TRAEFIK_HOSTS or host.endswith('.localhost')
    return address.is_loopback or address.is_unspecified


def _port(parsed):
    try:
        return parsed.port or (443 if parsed.scheme == 'https' else 80)
    except ValueError:
        return None


def _check_url(url, where, api_port=None):
    parsed = urlparse(url)
    if parsed.scheme not in URL_SCHEMES or not parsed.netloc:
        return ['%s: %r is not an absolute %s URL' % (where, url, '/'.join(URL_SCHEMES))]
    if api_port and _port(parsed) == api_port and _is_traefik_host((parsed.hostname or '').lower()):
        return ['%s: %r is Traefik\'s own API and dashboard (port %d, as api_url), never a route target'
                % (where, url, api_port)]
    return []


def _check_urls(urls, where, api_port=None):
    if not urls:
        return ['%s: at least one URL is required' % where]
    errors = []
    for url in urls:
        errors.extend(_check_url(url, where, api_port))
    return errors


def _api_port(spec):
    return _port(urlparse(spec.get('api_url') or API_URL))


def _check_route(spec):
    errors = []
    for host in spec.get('hostname') or []:
        if not HOST_RE.match(host):
            errors.append('hostname %r is not a valid host name' % host)
    if spec.get('path_prefix') and not PATH_RE.match(spec['path_prefix']):
        errors.append('path_prefix %r must start with / and contain no spaces or backticks' % spec['path_prefix'])
    if not build_rule(spec.get('hostname'), spec.get('path_prefix'), spec.get('rule')).strip():
        errors.append('the router rule is empty; set hostname, path_prefix or rule')
    if not spec.get('entrypoints'):
        errors.append('entrypoints must name at least one entry point')
    for ref in spec.get('middlewares') or []:
        if not REF_RE.match(ref):
            errors.append('middleware reference %r is not a valid name[@provider]' % ref)
    return errors


def _check_weighted(spec, api_port=None):
    errors = []
    seen = set()
    for item in spec['weighted']:
        where = 'weighted[%s]' % item.get('name')
        if not NAME_RE.match(item.get('name') or ''):
            errors.append('%s: name must match %s' % (where, NAME_RE.pattern))
        if item.get('name') in seen:
            errors.append('%s: duplicate name' % where)
        seen.add(item.get('name'))
        weight = item.get('weight')
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
            errors.append('%s: weight must be an integer >= 0, got %r' % (where, weight))
        if item.get('service'):
            if not REF_RE.match(item['service']):
                errors.append('%s: service %r is not a valid name[@provider]' % (where, item['service']))
            elif item['service'] in INTERNAL_SERVICES:
                errors.append('%s: service %s is Traefik\'s own API, dashboard or metrics, never a route target'
                              % (where, item['service']))
        else:
            errors.extend(_check_urls(item.get('urls'), where, api_port))
    if not errors and sum(item['weight'] for item in spec['weighted']) <= 0:
        errors.append('weighted: at least one weight must be greater than 0')
    return errors


def _check_health_check(spec):
    check = spec.get('health_check') or {}
    errors = []
    for key in ('interval', 'timeout'):
        if check.get(key) and not DURATION_RE.match(check[key]):
            errors.append('health_check.%s %r is not a duration such as 10s or 1m30s' % (key, check[key]))
    if check.get('path') and not check['path'].startswith('/'):
        errors.append('health_check.path %r must start with /' % check['path'])
    return errors


def _check_middleware_body(item):
    where = 'define_middlewares[%s]' % item.get('name')
    given = [key for key in ('headers', 'basic_auth', 'config') if item.get(key) is not None]
    if len(given) != 1:
        return ['%s: give exactly one of headers, basic_auth or config' % where]
    if not isinstance(item[given[0]], dict):
        return ['%s: %s must be a mapping' % (where, given[0])]
    if given[0] == 'basic_auth' and not isinstance(item['basic_auth'].get('users'), list):
        return ['%s: basic_auth needs users, a list of user:hash' % where]
    if item.get('headers') is not None and not item['headers']:
        # Traefik's file parser refuses an empty headers block and then stops reloading the whole directory.
        return ['%s: headers must set at least one option' % where]
    config = item.get('config')
    if config is not None and (len(config) != 1 or not isinstance(list(config.values())[0], dict)):
        return ['%s: config must be one middleware type mapped to its settings, e.g. {redirectScheme: {scheme: https}}' % where]
    return []


def _check_defined_middlewares(spec):
    errors = []
    items = spec.get('define_middlewares') or []
    names = [item.get('name') or '' for item in items]
    for name in names:
        if not NAME_RE.match(name):
            errors.append('define_middlewares: name %r must match %s (no @provider)' % (name, NAME_RE.pattern))
    if len(set(names)) != len(names):
        errors.append('define_middlewares: names must be unique')
    for item in items:
        errors.extend(_check_middleware_body(item))
    return errors


def _check_tls(spec):
    tls = spec.get('tls')
    if tls is None:
        return []
    errors = []
    tls_entrypoints = tls.get('entrypoints', list(TLS_ENTRYPOINTS))
    if not tls_entrypoints:
        errors.append('tls.entrypoints must name at least one entry point')
    for name in tls_entrypoints or []:
        if not NAME_RE.match(name or ''):
            errors.append('tls.entrypoints: %r is not an entry point name' % (name,))
    both = sorted(set(tls_entrypoints or []) & set(spec.get('entrypoints') or []))
    if both and tls.get('redirect', True):
        errors.append('tls.entrypoints and entrypoints share %s: the HTTP router would redirect the HTTPS one to itself'
                      % ', '.join(both))
    defined = [item.get('name') for item in spec.get('define_middlewares') or []]
    if tls.get('redirect', True) and redirect_middleware_name(spec.get('name')) in defined:
        errors.append('define_middlewares: %s is the name of the route\'s own HTTPS redirect'
                      % redirect_middleware_name(spec.get('name')))
    return errors


def validate_spec(spec):
    """Return a list of structural errors; empty means the spec can be rendered."""
    errors = []
    if not NAME_RE.match(spec.get('name') or ''):
        errors.append('name %r must match %s' % (spec.get('name'), NAME_RE.pattern))
    errors.extend(_check_route(spec))
    api_port = _api_port(spec)
    if spec.get('weighted'):
        errors.extend(_check_weighted(spec, api_port))
    else:
        errors.extend(_check_urls(spec.get('urls'), 'urls', api_port))
    errors.extend(_check_health_check(spec))
    errors.extend(_check_defined_middlewares(spec))
    errors.extend(_check_tls(spec))
    return errors


# ---------------------------------------------------------------------------
# Rendering the dynamic configuration file
# ---------------------------------------------------------------------------

def _mapped(source, mapping):
    return dict((dest, source[src]) for src, dest in mapping if source.get(src) is not None)


def _render_tls(tls):
    out = {}
    if tls.get('cert_resolver'):
        out['certResolver'] = tls['cert_resolver']
    if tls.get('options'):
        out['options'] = tls['options']
    if tls.get('domains'):
        out['domains'] = [_render_domain(domain) for domain in tls['domains']]
    return out


def _render_domain(domain):
    out = {'main': domain['main']}
    if domain.get('sans'):
        out['sans'] = list(domain['sans'])
    return out


def chain(spec):
    """The router's middlewares: the route's own, behind the LAN allow-list (lan_middleware) when it is not public.
    A spec without the keys gets the module's defaults (public, lan-only@file), as traefik_route writes it."""
    middlewares = list(spec.get('middlewares') or [])
    lan = lan_middleware(spec)
    if lan and qualify(lan) not in [qualify(m) for m in middlewares]:
        middlewares.insert(0, lan)
    return middlewares


def lan_middleware(spec):
    """The allow-list a non-public route gets (its lan_middleware, else LAN_MIDDLEWARE), None for a public route or
    an empty lan_middleware."""
    if spec.get('public', True):
        return None
    return (spec['lan_middleware'] if 'lan_middleware' in spec else LAN_MIDDLEWARE) or None


def _render_router(spec):
    router = {
        'rule': build_rule(spec.get('hostname'), spec.get('path_prefix'), spec.get('rule')),
        'entryPoints': list(spec['entrypoints']),
        'service': spec['name'],
    }
    if spec.get('priority') is not None:
        router['priority'] = spec['priority']
    middlewares = chain(spec)
    if middlewares:
        router['middlewares'] = middlewares
    if spec.get('tls') is not None:
        router['tls'] = _render_tls(spec['tls'])
        router['entryPoints'] = list(spec['tls'].get('entrypoints', TLS_ENTRYPOINTS))
    return router


def _render_http_router(spec):
    """The plain-HTTP router of a TLS route: the same rule, redirected to HTTPS (or served as it is)."""
    router = {
        'rule': build_rule(spec.get('hostname'), spec.get('path_prefix'), spec.get('rule')),
        'entryPoints': list(spec['entrypoints']),
        'service': spec['name'],
    }
    if spec.get('priority') is not None:
        router['priority'] = spec['priority']
    middlewares = [redirect_middleware_name(spec['name'])] if spec['tls'].get('redirect', True) else chain(spec)
    if middlewares:
        router['middlewares'] = middlewares
    return router


def _render_routers(spec):
    routers = {spec['name']: _render_router(spec)}
    if spec.get('tls') is not None:
        routers[http_router_name(spec['name'])] = _render_http_router(spec)
    return routers


def _render_middlewares(spec):
    middlewares = dict((item['name'], render_middleware(item)) for item in spec.get('define_middlewares') or [])
    if spec.get('tls') is not None and spec['tls'].get('redirect', True):
        middlewares[redirect_middleware_name(spec['name'])] = {'redirectScheme': {'scheme': 'https', 'permanent': True}}
    return middlewares


def _render_load_balancer(spec, urls):
    balancer = {'servers': [{'url': url} for url in urls], 'passHostHeader': bool(spec.get('pass_host_header', True))}
    if spec.get('health_check'):
        balancer['healthCheck'] = _mapped(spec['health_check'], HEALTH_CHECK_KEYS)
    return {'loadBalancer': balancer}


def _weighted_target(spec, item):
    return item['service'] if item.get('service') else child_service_name(spec['name'], item['name'])


def _render_services(spec):
    if not spec.get('weighted'):
        return {spec['name']: _render_load_balancer(spec, spec['urls'])}
    children = [{'name': _weighted_target(spec, item), 'weight': item['weight']} for item in spec['weighted']]
    services = {spec['name']: {'weighted': {'services': children}}}
    for item in spec['weighted']:
        if not item.get('service'):
            services[child_service_name(spec['name'], item['name'])] = _render_load_balancer(spec, item['urls'])
    return services


def render_middleware(item):
    if item.get('headers') is not None:
        return {'headers': dict(item['headers'])}
    if item.get('basic_auth') is not None:
        return {'basicAuth': _mapped(item['basic_auth'], BASIC_AUTH_KEYS)}
    return dict(item.get('config') or {})


def render_config(spec):
    """Build the dynamic configuration as plain data, in a fixed key order."""
    http = {'routers': _render_routers(spec), 'services': _render_services(spec)}
    middlewares = _render_middlewares(spec)
    if middlewares:
        http['middlewares'] = middlewares
    return {'http': http}


def manifest_of(config):
    http = config.get('http', {})
    return dict((kind, sorted(http.get(kind, {}))) for kind in KINDS)


def render_file(config):
    manifest = manifest_of(config)
    names = ' '.join('%s=%s' % (kind, ','.join(manifest[kind])) for kind in KINDS)
    return '\n'.join([MANAGED_HEADER, '%s %s' % (MANIFEST_PREFIX, names), to_yaml(config)])


def parse_manifest(text):
    """Names a file written by this module defines, or None for a file it did not write."""
    for line in (text or '').splitlines():
        if line.startswith(MANIFEST_PREFIX):
            manifest = dict((kind, []) for kind in KINDS)
            for part in line[len(MANIFEST_PREFIX):].split():
                kind, dummy, names = part.partition('=')
                if kind in manifest:
                    manifest[kind] = [name for name in names.split(',') if name]
            return manifest
    return None


# ---------------------------------------------------------------------------
# Policy and references
# ---------------------------------------------------------------------------

def auth_names(spec):
    """The qualified names that count as authentication on a route: the forward-auth middlewares (auth_middlewares,
    default AUTH_MIDDLEWARES) and the basicAuth middlewares the route defines itself."""
    names = [qualify(name) for name in (spec.get('auth_middlewares') or AUTH_MIDDLEWARES)]
    names += [qualify(m['name']) for m in spec.get('define_middlewares') or [] if m.get('basic_auth')]
    return names


def check_policy(spec):
    """Public routes must carry the required middleware chain, and an authentication middleware unless they say
    auth: none with an auth_reason, unless explicitly exempted. Passing required_middlewares: [] does not lift the
    authentication rule."""
    public = bool(spec.get('public'))
    names = [qualify(name) for name in chain(spec)]
    required = list(spec.get('required_middlewares') or []) if public else []
    missing = [name for name in required if qualify(name) not in names]
    exempt = bool(spec.get('policy_exempt'))
    auth = spec.get('auth') or 'required'
    reason = (spec.get('auth_reason') or '').strip() or None
    problem = None
    if public and auth == 'required' and not set(auth_names(spec)) & set(names):
        problem = ('public route %s has no authentication middleware (one of %s) in middlewares: add one, set '
                   'auth: none with auth_reason (why it may be reached without a login), or make it public: false'
                   % (spec.get('name'), ', '.join(auth_names(spec))))
    elif public and auth == 'none' and not reason:
        problem = 'public route %s says auth: none without auth_reason: say why it may be reached without a login' \
            % spec.get('name')
    return {
        'public': public,
        'required_middlewares': required,
        'missing_middlewares': missing,
        'auth': auth if public else None,
        'auth_reason': reason if public and auth == 'none' else None,
        'auth_problem': problem,
        'lan_middleware': lan_middleware(spec),
        'exempt': exempt,
        'exempt_reason': spec.get('policy_exempt_reason') if exempt else None,
        'ok': exempt or not (missing or problem),
    }


def referenced_names(spec):
    """Names (qualified) the rendered file points at: middleware chain and weighted services."""
    refs = {'middlewares': [qualify(name) for name in chain(spec)], 'services': []}
    for item in spec.get('weighted') or []:
        if item.get('service'):
            refs['services'].append(qualify(item['service']))
    return refs


def available_names(api_names, config, old_manifest):
    """What will exist after the write: Traefik's names minus what only our old file defined, plus the new file's."""
    new = manifest_of(config)
    available = {}
    for kind in ('services', 'middlewares'):
        dropped = set(qualify(name) for name in (old_manifest or {}).get(kind, []) if name not in new[kind])
        names = set(api_names.get(kind, [])) - dropped
        available[kind] = names | set(qualify(name) for name in new[kind])
    return available


def missing_references(spec, available):
    refs = referenced_names(spec)
    return dict((kind, [name for name in refs[kind] if name not in available[kind]]) for kind in ('services', 'middlewares'))


def foreign_definitions(config, api_names, old_text):
    """Names the new file defines that Traefik already serves from another file (Traefik would skip ours)."""
    old_manifest = parse_manifest(old_text)
    if old_text is not None and old_manifest is None:
        return []  # a hand-written file of this name: its names may be the ones Traefik serves
    new = manifest_of(config)
    clashes = []
    for kind in KINDS:
        ours = set((old_manifest or {}).get(kind, []))
        for name in new[kind]:
            if qualify(name) in api_names.get(kind, ()) and name not in ours:
                clashes.append('%s %s@file' % (kind[:-1], name))
    return clashes


# ---------------------------------------------------------------------------
# Traefik API
# ---------------------------------------------------------------------------

class TraefikApi(object):
    """Read-only client for Traefik's API (/api/http/...)."""

    PER_PAGE = 100

    def __init__(self, base_url, opener, timeout=10):
        self.base_url = base_url.rstrip('/')
        self.opener = opener
        self.timeout = timeout

    def _request(self, path):
        url = self.base_url + path
        try:
            response = self.opener(url, method='GET', timeout=self.timeout, use_proxy=False,
                                   headers={'Accept': 'application/json'})
            return response, json.loads(response.read().decode('utf-8'))
        except ValueError as exc:
            raise TraefikApiError('Traefik API %s returned invalid JSON: %s' % (url, exc))

    def get(self, kind, name):
        """One object as Traefik serves it, or None when Traefik does not know the name (404)."""
        path = '/api/http/%s/%s' % (kind, quote(name, safe='@'))
        try:
            return self._request(path)[1]
        except Exception as exc:  # urllib's HTTPError carries the status; anything else is unreachable
            if getattr(exc, 'code', None) == 404:
                return None
            if isinstance(exc, TraefikApiError):
                raise
            raise TraefikApiError('GET %s%s failed: %s' % (self.base_url, path, exc))

    def list(self, kind):
        """Every object of one kind, following Traefik's X-Next-Page pagination."""
        items, page = [], 1
        while True:
            path = '/api/http/%s?per_page=%d&page=%d' % (kind, self.PER_PAGE, page)
            try:
                response, data = self._request(path)
            except TraefikApiError:
                raise
            except Exception as exc:
                raise TraefikApiError('GET %s%s failed: %s' % (self.base_url, path, exc))
            items.extend(data or [])
            next_page = _next_page(response)
            if next_page is None or next_page <= page:
                return items
            page = next_page

    def names(self):
        return dict((kind, set(item.get('name') for item in self.list(kind))) for kind in KINDS)


def _next_page(response):
    headers = getattr(response, 'headers', None)
    value = headers.get('X-Next-Page') if headers is not None else None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------
# Comparing what Traefik serves with what the file asks for
# ---------------------------------------------------------------------------

def is_subset(want, got):
    """True when every key/value of want is present and equal in got (lists compared item by item)."""
    if isinstance(want, dict):
        return isinstance(got, dict) and all(_has(got, key, value) for key, value in want.items())
    if isinstance(want, list):
        return isinstance(got, list) and len(want) == len(got) and all(is_subset(w, g) for w, g in zip(want, got))
    return want == got


def _has(got, key, value):
    # Traefik's API omits false/empty values (omitempty), so a missing key matches an empty want.
    if key not in got:
        return value in (False, None, '', 0, [], {})
    return is_subset(value, got[key])


def _router_mismatches(want, got):
    diffs = []
    expected = dict(want, middlewares=[qualify(name) for name in want.get('middlewares', [])])
    served_chain = got.get('middlewares') or []
    for key in ('rule', 'service', 'entryPoints', 'priority'):
        if key in expected and expected[key] != got.get(key):
            diffs.append('router %s: %s is %r, want %r' % (got.get('name'), key, got.get(key), expected[key]))
    if expected['middlewares'] != served_chain:
        diffs.append('router %s: middlewares are %r, want %r' % (got.get('name'), served_chain, expected['middlewares']))
    if 'tls' in want and not is_subset(want['tls'], got.get('tls')):
        diffs.append('router %s: tls is %r, want %r' % (got.get('name'), got.get('tls'), want['tls']))
    if 'tls' not in want and got.get('tls') is not None:
        diffs.append('router %s: still has tls %r' % (got.get('name'), got.get('tls')))
    return diffs


def _service_mismatches(want, got):
    name = got.get('name')
    if 'weighted' in want:
        served = [{'name': item.get('name'), 'weight': item.get('weight')} for item in (got.get('weighted') or {}).get('services', [])]
        if served != want['weighted']['services']:
            return ['service %s: weights are %r, want %r' % (name, served, want['weighted']['services'])]
        return []
    served_urls = [server.get('url') for server in (got.get('loadBalancer') or {}).get('servers', [])]
    want_balancer = want['loadBalancer']
    want_urls = [server['url'] for server in want_balancer['servers']]
    if served_urls != want_urls:
        return ['service %s: servers are %r, want %r' % (name, served_urls, want_urls)]
    rest = dict((key, value) for key, value in want_balancer.items() if key != 'servers')
    if not is_subset(rest, got.get('loadBalancer')):
        return ['service %s: loadBalancer is %r, want %r' % (name, got.get('loadBalancer'), rest)]
    return []


def _mismatches(kind, want, got, loose):
    if kind == 'routers':
        return _router_mismatches(want, got)
    if kind == 'services':
        return _service_mismatches(want, got)
    if loose:
        # Free-form middleware config may be normalised by Traefik (durations, numbers): check its type only.
        want = dict((key, {}) for key in want)
    if not is_subset(want, got):
        return ['middleware %s: served config differs from the file' % got.get('name')]
    return []


def served_state(api, config):
    """Fetch every object the file defines from the API: {kind: {name: object-or-None}}."""
    http = config.get('http', {})
    return dict((kind, dict((name, api.get(kind, qualify(name))) for name in http.get(kind, {}))) for kind in KINDS)


def compare_served(config, served, loose=()):
    """(pending, errors): what still differs from the file, and Traefik's error texts for loaded objects.

    loose names middlewares whose config is compared by type only.
    """
    pending, errors = [], []
    http = config.get('http', {})
    for kind in KINDS:
        for name, want in http.get(kind, {}).items():
            got = served[kind].get(name)
            if got is None:
                pending.append('%s %s@file is not loaded' % (kind[:-1], name))
                continue
            pending.extend(_mismatches(kind, want, got, kind == 'middlewares' and name in loose))
            errors.extend(object_errors(kind, got))
    return pending, errors


def object_errors(kind, got):
    texts = ['%s %s: %s' % (kind[:-1], got.get('name'), text) for text in got.get('error') or []]
    if got.get('status') not in (None, 'enabled') and not texts:
        texts.append('%s %s: status is %s' % (kind[:-1], got.get('name'), got.get('status')))
    return texts


def poll(check, timeout, interval=0.5, clock=time.monotonic, sleep=time.sleep):
    """Call check() until it returns (True, value) or timeout seconds pass; returns (done, last value)."""
    deadline = clock() + timeout
    while True:
        done, value = check()
        if done or clock() >= deadline:
            return done, value
        sleep(interval)


# ---------------------------------------------------------------------------
# Normalising API objects for traefik_route_info
# ---------------------------------------------------------------------------

def _base_name(name):
    return (name or '').split('@', 1)[0]


def normalize_router(item):
    return {
        'name': item.get('name'),
        'provider': item.get('provider'),
        'rule': item.get('rule'),
        'service': item.get('service'),
        'entrypoints': item.get('entryPoints') or [],
        'middlewares': item.get('middlewares') or [],
        'priority': item.get('priority'),
        'tls': item.get('tls'),
        'status': item.get('status'),
        'errors': item.get('error') or [],
    }


def normalize_service(item):
    server_status = item.get('serverStatus') or {}
    balancer = item.get('loadBalancer') or {}
    servers = [{'url': server.get('url'), 'status': server_status.get(server.get('url'))} for server in balancer.get('servers', [])]
    return {
        'name': item.get('name'),
        'provider': item.get('provider'),
        'type': item.get('type'),
        'status': item.get('status'),
        'errors': item.get('error') or [],
        'used_by': item.get('usedBy') or [],
        'servers': servers,
        'pass_host_header': balancer.get('passHostHeader'),
        'health_check': balancer.get('healthCheck'),
        'weighted': [{'name': child.get('name'), 'weight': child.get('weight')}
                     for child in (item.get('weighted') or {}).get('services', [])],
    }


def _redact(config):
    redacted = {}
    for key, value in config.items():
        if key == 'users' and isinstance(value, list):
            value = ['********'] * len(value)
        elif isinstance(value, dict):
            value = _redact(value)
        redacted[key] = value
    return redacted


def normalize_middleware(item):
    meta = ('name', 'provider', 'type', 'status', 'error', 'usedBy')
    return {
        'name': item.get('name'),
        'provider': item.get('provider'),
        'type': item.get('type'),
        'status': item.get('status'),
        'errors': item.get('error') or [],
        'used_by': item.get('usedBy') or [],
        'config': _redact(dict((key, value) for key, value in item.items() if key not in meta)),
    }


def _matches(item, names, provider):
    if provider and item.get('provider') != provider:
        return False
    return not names or item.get('name') in names or _base_name(item.get('name')) in names


def _with_children(services, selected):
    """Add the children of selected weighted services, so a canary's stable/canary halves come along."""
    by_name = dict((item.get('name'), item) for item in services)
    wanted = list(selected)
    index = 0
    while index < len(wanted):
        item = wanted[index]
        provider = item.get('provider') or 'file'
        for child in (item.get('weighted') or {}).get('services', []):
            found = by_name.get(qualify(child.get('name'), provider))
            if found is not None and found not in wanted:
                wanted.append(found)
        index += 1
    return wanted


def filter_objects(routers, services, middlewares, names=None, provider=None):
    names = set(names or [])
    picked_routers = [item for item in routers if _matches(item, names, provider)]
    picked_services = [item for item in services if _matches(item, names, provider)]
    if names:
        picked_services = _with_children(services, picked_services)
        # the chain of a selected router comes along, whatever provider defines it
        names |= set(name for item in picked_routers for name in item.get('middlewares') or [])
    return {
        'routers': [normalize_router(item) for item in picked_routers],
        'services': [normalize_service(item) for item in picked_services],
        'middlewares': [normalize_middleware(item) for item in middlewares if _matches(item, names, provider)],
    }

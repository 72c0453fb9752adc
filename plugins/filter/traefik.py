# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where Traefik is on a host: the fact homelab_traefik the traefik role exports, completed with the defaults.

Roles that need the values themselves (a file to read in the watched directory, a metrics URL to scrape, a
configuration file for a runner without Ansible) cannot pass ``omit`` on to a module's default; they take them
from here, so the defaults stay the ones of plugins/module_utils/_traefik.py.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.deploy.plugins.module_utils import _traefik as traefik
from ansible_collections.homelab.deploy.plugins.plugin_utils import _traefik_static as static


def defaults():
    """The layout of a Traefik the traefik role set up with its own defaults."""
    return {'dynamic_dir': traefik.DYNAMIC_DIR, 'api_url': traefik.API_URL, 'entrypoints': list(traefik.ENTRYPOINTS),
            'tls_entrypoints': list(traefik.TLS_ENTRYPOINTS), 'network': traefik.NETWORK, 'http_url': traefik.HTTP_URL}


LIST_KEYS = ('entrypoints', 'tls_entrypoints', 'cert_resolvers')


def _checked(key, value):
    if key in LIST_KEYS:
        if isinstance(value, str) or not isinstance(value, (list, tuple)) \
                or not all(isinstance(item, str) and item for item in value):
            raise AnsibleFilterError('traefik_settings: %s must be a list of names, got %r' % (key, value))
        return list(value)
    if not isinstance(value, str):
        raise AnsibleFilterError('traefik_settings: %s must be a string, got %r' % (key, value))
    return value


def traefik_settings(fact=None):
    """The fact's values, each key it leaves unset (absent or null) taken from defaults(); other keys kept."""
    if fact is None:
        fact = {}
    if not isinstance(fact, Mapping):
        raise AnsibleFilterError('traefik_settings: expects the homelab_traefik fact (a mapping), got %r' % (type(fact).__name__,))
    settings = defaults()
    for key, value in fact.items():
        if value is not None:
            settings[key] = _checked(key, value) if key in settings or key in LIST_KEYS else value
    return settings


def traefik_static(settings):
    """Traefik's static configuration and its container's ports, volumes and environment, from the role's variables."""
    if not isinstance(settings, Mapping):
        raise AnsibleFilterError('traefik_static: expects a mapping of the traefik role\'s settings, got %r'
                                 % (type(settings).__name__,))
    try:
        return static.static_layout(dict(settings))
    except static.StaticConfigError as exc:
        raise AnsibleFilterError('traefik role: %s' % exc)


class FilterModule(object):

    def filters(self):
        return {'traefik_settings': traefik_settings, 'traefik_static': traefik_static}

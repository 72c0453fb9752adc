#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: traefik_route_info
short_description: Read the HTTP routers, services and middlewares Traefik actually serves
version_added: 0.1.0
description:
  - Queries Traefik's API (C(/api/http/routers), C(/api/http/services), C(/api/http/middlewares)) and returns
    what Traefik serves, from every provider, with status, errors, load-balancer servers with their health
    (C(UP)/C(DOWN)), and weighted services with their weights.
  - Use it to check drift against what M(homelab.deploy.traefik_route) wrote, or to read a canary's weights.
author:
  - homelab.deploy maintainers (@homelab)
extends_documentation_fragment:
  - homelab.deploy.attributes
  - homelab.deploy.attributes.INFO_MODULE
  - homelab.deploy.traefik
options:
  dynamic_dir:
    description:
      - Not used; this module only asks the API. Accepted so that C(module_defaults) for
        C(group/homelab.deploy.traefik) can set O(dynamic_dir) and O(api_url) for every module of the group.
  name:
    description:
      - Only return objects with these names, given as C(name) or C(name@provider).
      - The children of a selected weighted service are returned too, so C(name=[whoami]) brings back
        C(whoami), C(whoami-stable) and C(whoami-canary); so are the middlewares of the selected routers.
    type: list
    elements: str
    default: []
    aliases: [names]
  provider:
    description: Only return objects of this provider, for example C(file), C(docker) or C(internal).
    type: str
  timeout:
    description: Seconds to wait for each API request.
    type: int
    default: 10
seealso:
  - module: homelab.deploy.traefik_route
'''

EXAMPLES = r'''
- name: Read what Traefik serves for whoami, including the weighted children
  homelab.deploy.traefik_route_info:
    name: [whoami]
  register: whoami

- name: Fail when a backend of the canary is down
  ansible.builtin.assert:
    that:
      - whoami.services | map(attribute='servers') | flatten | selectattr('status', 'equalto', 'DOWN') | list | length == 0

- name: Every router Traefik rejected, from any provider
  homelab.deploy.traefik_route_info:
  register: all_routes

- name: Show the broken routers
  ansible.builtin.debug:
    msg: "{{ all_routes.routers | selectattr('status', '!=', 'enabled') | list }}"
'''

RETURN = r'''
routers:
  description: HTTP routers.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Qualified name, C(name@provider).
      type: str
    provider:
      description: Provider that defines it.
      type: str
    rule:
      description: Router rule.
      type: str
    service:
      description: Service name as written in the router.
      type: str
    entrypoints:
      description: Entry points.
      type: list
      elements: str
    middlewares:
      description: Middleware chain, qualified.
      type: list
      elements: str
    priority:
      description: Effective priority.
      type: int
    tls:
      description: TLS settings, or null.
      type: dict
    status:
      description: C(enabled), C(disabled) or C(warning).
      type: str
    errors:
      description: Error texts Traefik reports for the router.
      type: list
      elements: str
  sample: [{name: whoami@file, provider: file, rule: Host(`whoami.lan`), service: whoami, entrypoints: [web],
            middlewares: [], priority: 18, tls: null, status: enabled, errors: []}]
services:
  description: HTTP services.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Qualified name.
      type: str
    provider:
      description: Provider that defines it.
      type: str
    type:
      description: C(loadbalancer), C(weighted), C(mirroring) or C(failover); null for internal services.
      type: str
    status:
      description: Service status.
      type: str
    errors:
      description: Error texts.
      type: list
      elements: str
    used_by:
      description: Routers using the service.
      type: list
      elements: str
    servers:
      description: Load-balancer servers with their health-check status (C(UP), C(DOWN), or null without status).
      type: list
      elements: dict
    pass_host_header:
      description: Whether the Host header is passed on.
      type: bool
    health_check:
      description: Traefik health-check settings, or null.
      type: dict
    weighted:
      description: Children of a weighted service with their weights.
      type: list
      elements: dict
  sample: [{name: whoami@file, type: weighted, status: enabled, weighted: [{name: whoami-stable, weight: 90}, {name: whoami-canary, weight: 10}],
            servers: [], errors: [], used_by: [whoami@file], provider: file, pass_host_header: null, health_check: null}]
middlewares:
  description: HTTP middlewares. Basic/digest auth users are replaced by C(********).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Qualified name.
      type: str
    provider:
      description: Provider that defines it.
      type: str
    type:
      description: Middleware type in lower case, for example C(headers) or C(basicauth).
      type: str
    status:
      description: Middleware status.
      type: str
    errors:
      description: Error texts.
      type: list
      elements: str
    used_by:
      description: Routers using the middleware.
      type: list
      elements: str
    config:
      description: The middleware's settings as Traefik serves them.
      type: dict
  sample: [{name: security-headers@file, provider: file, type: headers, status: enabled, errors: [], used_by: [whoami@file],
            config: {headers: {frameDeny: true}}}]
'''

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native
from ansible.module_utils.urls import open_url

from ansible_collections.homelab.deploy.plugins.module_utils import _traefik as traefik


class TraefikRouteInfo(object):
    """Lists what Traefik serves and narrows it to the requested names and provider."""

    def __init__(self, module):
        self.module = module
        self.api = traefik.TraefikApi(module.params['api_url'], open_url, timeout=module.params['timeout'])

    def get_served(self):
        try:
            return dict((kind, self.api.list(kind)) for kind in traefik.KINDS)
        except traefik.TraefikApiError as exc:
            self.module.fail_json(msg='Traefik API error: %s' % to_native(exc))

    def run(self):
        served = self.get_served()
        result = traefik.filter_objects(served['routers'], served['services'], served['middlewares'],
                                        names=self.module.params['name'], provider=self.module.params['provider'])
        result['changed'] = False
        return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            api_url=dict(type='str', default=traefik.API_URL),
            dynamic_dir=dict(type='path', default=traefik.DYNAMIC_DIR),
            name=dict(type='list', elements='str', default=[], aliases=['names']),
            provider=dict(type='str'),
            timeout=dict(type='int', default=10),
        ),
        supports_check_mode=True,
    )
    module.exit_json(**TraefikRouteInfo(module).run())


if __name__ == '__main__':
    main()

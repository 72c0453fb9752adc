# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation fragment for the Traefik options shared by the modules of the action group homelab.deploy.traefik."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    # The defaults are plugins/module_utils/_traefik.py's DYNAMIC_DIR and API_URL (the argument specs use those
    # constants; tests/unit/plugins/doc_fragments/test_traefik_fragment.py holds this text equal to them).
    DOCUMENTATION = r'''
options:
  dynamic_dir:
    description:
      - Directory on the host that Traefik's file provider watches, one file per route.
      - The C(homelab.deploy.traefik) role creates it (C(traefik_dynamic_dir)) and exports it as the fact
        C(homelab_traefik.dynamic_dir), which the collection's roles and playbooks pass on.
      - To set it once for every module that takes it, use C(module_defaults) for C(group/homelab.deploy.traefik).
    type: path
    default: /etc/traefik/dynamic
  api_url:
    description:
      - Base URL of Traefik's API (the C(traefik) entry point with C(api.insecure), or a router to C(api@internal)).
      - The C(homelab.deploy.traefik) role publishes it on C(traefik_api_bind):C(traefik_api_port) and exports it as
        the fact C(homelab_traefik.api_url), which the collection's roles and playbooks pass on.
      - To set it once for every module that takes it, use C(module_defaults) for C(group/homelab.deploy.traefik).
    type: str
    default: http://127.0.0.1:8080
'''

# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation fragment for the system/user (rootless) scope options."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class ModuleDocFragment(object):

    DOCUMENTATION = r'''
options:
  scope:
    description:
      - C(system) manages rootful units in C(/etc/containers/systemd) with the system manager.
      - C(user) manages rootless units in C(~/.config/containers/systemd) of O(user)
        with C(systemctl --user); lingering is enabled for that user so units start at boot.
    type: str
    choices: [system, user]
    default: system
  user:
    description:
      - Account that owns rootless units. Required when O(scope=user).
    type: str
'''

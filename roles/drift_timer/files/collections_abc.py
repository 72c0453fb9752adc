# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stand-in for ansible.module_utils.six.moves.collections_abc on hosts without Ansible (drift timer runner only)."""
from collections.abc import *  # noqa: F401,F403 pylint: disable=wildcard-import,unused-wildcard-import

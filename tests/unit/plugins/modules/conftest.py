# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run every module test as a module runs on the managed node.

Importing controller code (the filter plugins' tests do, through ansible.template) flips
ansible.module_utils._internal.is_controller to True for the rest of the pytest process, and from
then on module.warn() goes to the controller's display instead of the module result, so a test
that checks a module's warnings would pass or fail with the test order. Reset it per test, and
start each test with no warnings left over from the one before.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible.module_utils import _internal
from ansible.module_utils.common import warnings


@pytest.fixture(autouse=True)
def as_on_the_node(monkeypatch):
    monkeypatch.setattr(_internal, 'is_controller', False)
    monkeypatch.setattr(warnings, '_global_warnings', {})
    monkeypatch.setattr(warnings, '_global_deprecations', {}, raising=False)

# -*- coding: utf-8 -*-
"""Run every integration target (tests/integration/targets/NAME/playbook.yml) against the node.

A target is a playbook whose assert tasks are the test: check mode, real run, idempotent
re-run, each asserted inside the playbook. This runner fails on any failed task.
"""
import os

import pytest

from conftest import TARGETS_DIR

TARGETS = sorted(d for d in os.listdir(TARGETS_DIR) if os.path.isfile(os.path.join(TARGETS_DIR, d, 'playbook.yml')))


@pytest.mark.parametrize('target', TARGETS)
def test_target(target, run_playbook, traefik_on_node):
    res = run_playbook(os.path.join(TARGETS_DIR, target, 'playbook.yml'))
    assert res.rc == 0, 'target %s failed:\n%s' % (target, '\n'.join(res.failures()))
    assert res.stats, 'target %s produced no recap: %s' % (target, res.stdout[-2000:])

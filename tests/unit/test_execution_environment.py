# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""execution-environment.yml: pinned as the tests run, the history callback on, and (when ansible-builder is
installed) accepted by ansible-builder, which writes its build context."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import shutil
import subprocess

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load():
    with open(os.path.join(ROOT, 'execution-environment.yml')) as handle:
        return yaml.safe_load(handle)


def dev_pins():
    pins = {}
    with open(os.path.join(ROOT, 'requirements-dev.txt')) as handle:
        for line in handle:
            match = re.match(r'^([A-Za-z0-9_.-]+)==(\S+)', line.strip())
            if match:
                pins[match.group(1).lower()] = match.group(2)
    return pins


def test_pins_match_the_tested_toolchain():
    ee, pins = load(), dev_pins()
    deps = ee['dependencies']
    assert ee['version'] == 3
    wanted = [deps['ansible_core']['package_pip'], deps['ansible_runner']['package_pip']] + deps['python']
    for requirement in wanted:
        name, version = requirement.split('==')
        assert pins.get(name.lower()) == version, '%s is not pinned as in requirements-dev.txt' % requirement


def test_history_callback_is_enabled_with_a_persistent_path():
    steps = '\n'.join(load()['additional_build_steps']['append_final'])
    assert 'ENV ANSIBLE_CALLBACKS_ENABLED=homelab.deploy.deploy_history' in steps
    assert 'ENV HOMELAB_DEPLOY_HISTORY_DB=/var/lib/homelab-deploy/history.sqlite' in steps


def test_ansible_builder_accepts_it(tmp_path):
    builder = shutil.which('ansible-builder')
    if not builder:
        pytest.skip('ansible-builder is not installed')
    work = tmp_path / 'ee'
    (work / 'ee-build').mkdir(parents=True)
    shutil.copy(os.path.join(ROOT, 'execution-environment.yml'), str(work))
    (work / 'ee-build' / 'homelab-deploy-0.0.0.tar.gz').write_bytes(b'')
    res = subprocess.run([builder, 'create', '-f', 'execution-environment.yml', '-c', str(tmp_path / 'ctx')],
                         cwd=str(work), capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    with open(str(tmp_path / 'ctx' / 'Dockerfile')) as handle:
        assert 'ENV ANSIBLE_CALLBACKS_ENABLED=homelab.deploy.deploy_history' in handle.read()

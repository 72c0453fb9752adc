# -*- coding: utf-8 -*-
"""The collection builds into a tarball and installs from it offline, and what it ships is usable."""
import os
import subprocess
import sys
import tarfile

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def tool(name):
    return os.path.join(BIN, name)


@pytest.fixture(scope='module')
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp('build')
    res = subprocess.run([tool('ansible-galaxy'), 'collection', 'build', ROOT, '--output-path', str(out)],
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stdout + res.stderr
    tarball = out / 'homelab-deploy-0.1.0.tar.gz'
    assert tarball.exists(), os.listdir(out)
    return tarball


def test_tarball_ships_the_collection_and_not_the_workspace(built):
    with tarfile.open(built) as tar:
        names = tar.getnames()
    for wanted in ('MANIFEST.json', 'meta/runtime.yml', 'roles/traefik/tasks/main.yml',
                   'plugins/modules/traefik_route.py', 'playbooks/demo.yml'):
        assert wanted in names, wanted
    for unwanted in ('.venv', 'tests/output', '.ci', '.git'):
        assert not any(n == unwanted or n.startswith(unwanted + '/') for n in names), unwanted


def test_installs_offline_and_documents_itself(built, tmp_path):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(tmp_path))
    res = subprocess.run([tool('ansible-galaxy'), 'collection', 'install', '--offline', str(built), '-p', str(tmp_path)],
                         capture_output=True, text=True, check=False, env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert (tmp_path / 'ansible_collections' / 'homelab' / 'deploy' / 'MANIFEST.json').exists()
    res = subprocess.run([tool('ansible-doc'), '-l', 'homelab.deploy'], capture_output=True, text=True,
                         check=False, env=env)
    assert res.returncode == 0, res.stderr
    assert 'homelab.deploy.traefik_route ' in res.stdout
    res = subprocess.run([tool('ansible-doc'), '-t', 'role', 'homelab.deploy.traefik'], capture_output=True,
                         text=True, check=False, env=env)
    assert res.returncode == 0 and 'traefik_dynamic_dir' in res.stdout, res.stderr

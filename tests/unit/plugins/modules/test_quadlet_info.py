# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for quadlet_info: which files are listed, what is read from them, and one systemctl call for all."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json

import pytest

from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

from ansible_collections.homelab.deploy.plugins.module_utils import _podman as podman
from ansible_collections.homelab.deploy.plugins.modules import quadlet_info

# systemctl show -p Id,LoadState,ActiveState,... -- web.service data-volume.service (captured shape, trimmed)
SHOW = ('Id=data-volume.service\nLoadState=loaded\nActiveState=active\nSubState=exited\n\n'
        'Id=web.service\nLoadState=loaded\nActiveState=failed\nSubState=failed\n')


@pytest.fixture
def units(tmp_path, monkeypatch):
    calls = []
    (tmp_path / 'web.container').write_text('[Container]\nImage=x\nEnvironment=DB_PASSWORD=hunter2\n'
                                            '[Install]\nWantedBy=multi-user.target\n')
    (tmp_path / 'data.volume').write_text('[Volume]\n')
    (tmp_path / 'broken.container').write_text('[Container]\nImage=x\\\n')
    (tmp_path / 'notes.txt').write_text('not a unit')
    (tmp_path / 'web.container.d').mkdir()
    monkeypatch.setattr(podman.Scope, 'unit_dir', lambda self: str(tmp_path))
    monkeypatch.setattr(podman.Scope, 'backup_dir', lambda self: str(tmp_path / 'backups'))
    monkeypatch.setattr(podman.os, 'geteuid', lambda: 0)

    def run_command(self, argv, **kwargs):
        calls.append(argv)
        return 0, SHOW, ''
    monkeypatch.setattr(basic.AnsibleModule, 'run_command', run_command)
    return calls


def run(capsys, args):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            quadlet_info.main()
    return json.loads(capsys.readouterr().out)


def test_lists_every_unit_with_its_service_state(capsys, units):
    result = run(capsys, {})
    assert not result['changed']
    by_name = dict((u['unit_name'], u) for u in result['units'])
    assert sorted(by_name) == ['broken.container', 'data.volume', 'web.container']
    assert by_name['web.container']['service_name'] == 'web.service'
    assert by_name['web.container']['active_state'] == 'failed' and by_name['web.container']['enabled'] is True
    assert by_name['data.volume']['service_name'] == 'data-volume.service'
    assert by_name['data.volume']['sub_state'] == 'exited' and by_name['data.volume']['enabled'] is False
    assert by_name['broken.container']['active_state'] is None
    assert 'content' not in by_name['web.container']
    assert len(units) == 1 and units[0][:3] == ['systemctl', 'show', '-p']


@pytest.mark.parametrize('names, expected', [
    (['web'], ['web.container']),
    (['data.volume'], ['data.volume']),
    (['web.volume'], []),
])
def test_names_filter(capsys, units, names, expected):
    assert [u['unit_name'] for u in run(capsys, {'names': names})['units']] == expected


def test_content_is_masked(capsys, units):
    result = run(capsys, {'names': ['web'], 'content': True})
    assert 'DB_PASSWORD=' + podman.MASK in result['units'][0]['content']
    assert 'hunter2' not in json.dumps(result)

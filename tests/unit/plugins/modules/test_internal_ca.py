# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for internal_ca with the real openssl command of the machine: the CA is made once, the served
certificate verifies against it for its names, check mode makes nothing, a re-run keeps both, and a change of
names, a short validity or a new CA issues a new certificate under a new name (the old one removed)."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import shutil
import subprocess

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.homelab.deploy.plugins.modules import internal_ca

pytestmark = pytest.mark.skipif(shutil.which('openssl') is None, reason='needs the openssl command')


def run(capsys, args, check=False, diff=False):
    with patch_module_args(dict(args, _ansible_check_mode=check, _ansible_diff=diff)):
        with pytest.raises(SystemExit):
            internal_ca.main()
    return json.loads(capsys.readouterr().out)


def verify(ca, cert, name):
    return subprocess.run(['openssl', 'verify', '-CAfile', ca, '-verify_hostname', name, cert],
                          capture_output=True, text=True, check=False).returncode == 0


def test_made_once_verified_for_its_names_and_kept(capsys, tmp_path):
    args = {'path': str(tmp_path / 'ca'), 'names': ['*.home.arpa', 'home.arpa', '192.168.1.2']}
    checked = run(capsys, args, check=True, diff=True)
    assert checked['changed'] and checked['issued'] == 'the CA was made' and not os.path.exists(args['path'])
    first = run(capsys, args)
    assert first['changed'] and first['cert'].startswith(args['path'] + '/served/default-')
    assert oct(os.stat(args['path']).st_mode & 0o777) == '0o700'
    assert oct(os.stat(first['key']).st_mode & 0o777) == '0o600'
    assert oct(os.stat(os.path.join(args['path'], 'ca.key')).st_mode & 0o777) == '0o600'
    assert verify(first['ca_cert'], first['cert'], 'photos.home.arpa') and verify(first['ca_cert'], first['cert'], 'home.arpa')
    assert not verify(first['ca_cert'], first['cert'], 'photos.example.org')
    assert first['names'] == ['DNS:*.home.arpa', 'DNS:home.arpa', 'IP:192.168.1.2']
    again = run(capsys, args, diff=True)
    assert not again['changed'] and again['cert'] == first['cert'] and again['issued'] == ''
    assert again['diff']['before'] == again['diff']['after'] == {'names': first['names'], 'not_after': first['not_after']}


def test_new_names_issue_a_new_certificate_with_the_same_ca(capsys, tmp_path, monkeypatch):
    args = {'path': str(tmp_path / 'ca'), 'names': ['*.home.arpa']}
    first = run(capsys, args)
    ca = open(first['ca_cert']).read()
    monkeypatch.setattr(internal_ca.time, 'strftime', lambda fmt, t=None: '20990101000000')
    changed = run(capsys, dict(args, names=['*.home.arpa', 'nas.lan']))
    assert changed['changed'] and changed['issued'] == 'the names changed' and changed['cert'] != first['cert']
    assert not os.path.exists(first['cert']) and not os.path.exists(first['key']), 'the old one is removed'
    assert open(changed['ca_cert']).read() == ca and verify(changed['ca_cert'], changed['cert'], 'nas.lan')


def test_a_certificate_expiring_within_renew_days_is_issued_again(capsys, tmp_path, monkeypatch):
    args = {'path': str(tmp_path / 'ca'), 'names': ['nas.lan'], 'cert_days': 10, 'renew_days': 5}
    first = run(capsys, args)
    monkeypatch.setattr(internal_ca.time, 'strftime', lambda fmt, t=None: '20990101000000')
    kept = run(capsys, dict(args, renew_days=9, cert_days=30))  # 10 days left: not within 9
    assert not kept['changed']
    renewed = run(capsys, dict(args, renew_days=20, cert_days=30))
    assert renewed['changed'] and renewed['issued'] == 'it expires within 20 days' and renewed['cert'] != first['cert']


def test_a_lost_ca_key_makes_a_new_ca_and_certificate(capsys, tmp_path, monkeypatch):
    args = {'path': str(tmp_path / 'ca'), 'names': ['*.home.arpa']}
    first = run(capsys, args)
    os.unlink(os.path.join(args['path'], 'ca.key'))
    monkeypatch.setattr(internal_ca.time, 'strftime', lambda fmt, t=None: '20990101000000')
    again = run(capsys, args)
    assert again['changed'] and again['issued'] == 'the CA was made' and verify(again['ca_cert'], again['cert'], 'a.home.arpa')
    assert not os.path.exists(first['cert'])


@pytest.mark.parametrize('names, message', [
    ([], 'at least one name'), (['bad name'], "'bad name' is neither"), (['*.*.lan'], 'is neither'),
    (['a..lan'], 'is neither'), (['x' * 64 + '.lan'], 'is neither'), (['*.lan'], 'a wildcard needs two labels')])
def test_bad_names_are_refused_before_anything_is_made(capsys, tmp_path, names, message):
    result = run(capsys, {'path': str(tmp_path / 'ca'), 'names': names})
    assert result['failed'] and message in result['msg'] and not os.path.exists(str(tmp_path / 'ca'))


def test_validity_must_outlast_the_renewal_window(capsys, tmp_path):
    result = run(capsys, {'path': str(tmp_path / 'ca'), 'names': ['a.lan'], 'cert_days': 30, 'renew_days': 30})
    assert result['failed'] and 'longer than renew_days' in result['msg']

# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for what homelab.deploy.preflight_info reads on a host, with a fake command runner."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import collections
import json

import pytest

from ansible_collections.homelab.deploy.plugins.module_utils import _podman as podman
from ansible_collections.homelab.deploy.plugins.module_utils import _preflight_host as host
from ansible_collections.homelab.deploy.plugins.module_utils import _traefik as traefik


def test_existing_parent_climbs_to_a_directory_that_exists(tmp_path):
    assert host.existing_parent(str(tmp_path / 'a' / 'b')) == str(tmp_path)
    assert host.existing_parent(str(tmp_path)) == str(tmp_path)


def test_last_line_skips_blank_lines():
    assert host.last_line('Filesystem 1024-blocks\n/dev/x 10 5 5 50% /\n\n') == '/dev/x 10 5 5 50% /'
    assert host.last_line('') == ''


def test_unit_files_lists_existing_and_labelled_for_the_instance(tmp_path):
    (tmp_path / 'wiki-app.container').write_text('[Container]\nLabel=io.homelab.deploy.instance=wiki\n')
    (tmp_path / 'wiki-db.container').write_text('[Container]\nLabel=io.homelab.deploy.instance=wiki2\n')
    existing, ours = host.unit_files(str(tmp_path), ['wiki-app.container', 'wiki-db.container', 'wiki.network'], 'wiki')
    assert existing == ['wiki-app.container', 'wiki-db.container']
    assert ours == ['wiki-app.container']


def test_systemd_units_are_listed_once():
    containers = [{'Labels': {'PODMAN_SYSTEMD_UNIT': 'a.service'}}, {'Labels': None},
                  {'Labels': {'PODMAN_SYSTEMD_UNIT': 'a.service'}}, {'Labels': {'PODMAN_SYSTEMD_UNIT': 'b.service'}}]
    assert host.systemd_units(containers) == ['a.service', 'b.service']


SETS = [{'controllers': [], 'units': [{'name': 'x.container', 'content': 'none'}]},
        {'controllers': ['cpu'], 'units': [{'name': 'x.container', 'content': 'cpu'}]},
        {'controllers': ['memory'], 'units': [{'name': 'x.container', 'content': 'memory'}]},
        {'controllers': ['cpu', 'memory'], 'units': [{'name': 'x.container', 'content': 'both'}]}]


@pytest.mark.parametrize('controllers, content', [
    ([], 'none'), (['pids', 'io'], 'none'), (['cpu', 'pids'], 'cpu'), (['memory'], 'memory'),
    (['cpuset', 'cpu', 'io', 'memory', 'pids'], 'both'),
])
def test_the_unit_set_for_the_host_controllers_is_picked(controllers, content):
    assert host.pick_unit_set(SETS, controllers)['units'][0]['content'] == content


def test_a_single_unit_set_fits_every_host():
    assert host.pick_unit_set(SETS[:1], ['cpu', 'memory']) is SETS[0]
    assert host.pick_unit_set(SETS[1:2], []) is None


def test_generator_errors_name_their_file():
    result = {'errors': ['set error'], 'files': {
        'b.container': {'errors': ['unsupported key Foo']},
        'a.container': {'errors': ['converting "a.container": bad']}}}
    assert host.generator_errors(result) == ['set error', 'converting "a.container": bad',
                                             'b.container: unsupported key Foo']


class FakeRunner(object):
    """Answers the commands the reader runs; records them."""

    def __init__(self, scope, answers):
        self.scope, self.answers, self.ran = scope, answers, []

    def run(self, argv, ok_rcs=(0,), data=None, env=None, switch=True):
        self.ran.append((list(argv), switch))
        for prefix, out in self.answers:
            if list(argv[:len(prefix)]) == list(prefix):
                if isinstance(out, podman.CommandError):
                    raise out
                return 0, out, ''
        raise AssertionError('unexpected command %s' % argv)

    def json(self, argv, ok_rcs=(0,)):
        out = self.run(argv)[1]
        return json.loads(out) if out.strip() else None

    def systemctl_argv(self, *args):
        return ['systemctl'] + (['--user'] if self.scope.is_user else []) + list(args)


class FakeApi(object):
    def __init__(self, routers=None, error=None):
        self.routers, self.error = routers, error

    def list(self, kind):
        if self.error:
            raise traefik.TraefikApiError(self.error)
        return self.routers


ANSWERS = [
    (['podman', 'info'], json.dumps({'host': {'cgroupControllers': ['cpu']}, 'store': {'volumePath': '/nonexistent/volumes'}})),
    (['podman', 'ps'], json.dumps([{'Names': ['a'], 'Labels': {'PODMAN_SYSTEMD_UNIT': 'a.service'}}])),
    (['podman', 'network'], '[]'),
    (['podman', 'volume'], ''),
    (['podman', 'version'], '{"Client": {"Version": "5.4.2"}}'),
    (['systemctl', '--version'], 'systemd 257 (257.9-1~deb13u1)\n'),
    (['systemctl', 'list-units'], '[{"unit": "x.service"}]'),
    (['systemctl', '--user', 'list-units'], '[{"unit": "y.service"}]'),
    (['systemctl', 'show'], 'Id=a.service\nNRestarts=2\n'),
    (['systemctl', '--user', 'show'], 'Id=a.service\nNRestarts=0\n'),
    (['ss'], 'tcp LISTEN 0 4096 0.0.0.0:80 0.0.0.0:*\n'),
    (['df'], 'Filesystem 1-blocks Used Available Capacity Mounted on\n/dev/root 100 40 60 40% /\n'),
]

PARAMS = {'unit_names': [], 'instance': 'wiki', 'hostnames': [], 'storage_paths': ['/srv/homelab/wiki'],
          'host_paths': ['/', '/nonexistent/path'], 'unit_sets': []}


PW = collections.namedtuple('PW', 'pw_name pw_uid pw_gid pw_dir')


def reader(scope_name='system', user=None, api=None):
    scope = podman.Scope(scope_name, user, euid=0, getpwnam=lambda name: PW(name, 1000, 1000, '/home/' + name))
    return host.HostReader(None, scope, FakeRunner(scope, ANSWERS), api)


def test_read_returns_the_facts_the_assessment_takes():
    found = reader().read(dict(PARAMS))
    facts = found['facts']
    assert found['controllers'] == ['cpu'] and found['unit_dir'] == '/etc/containers/systemd'
    assert facts['podman_version'] == '{"Client": {"Version": "5.4.2"}}'
    assert facts['failed_units'] == [{'unit': 'x.service'}]
    assert facts['volumes'] == [] and facts['networks'] == []
    assert facts['unit_restarts'] == 'Id=a.service\nNRestarts=2\n'
    assert sorted(facts['disks']) == ['/nonexistent/volumes', '/srv/homelab/wiki']
    assert facts['disks']['/srv/homelab/wiki'] == '/dev/root 100 40 60 40% /'
    assert facts['missing_host_paths'] == ['/nonexistent/path']
    assert facts['routers'] is None and facts['warnings'] == [] and facts['generator'] is None
    assert facts['nproc'] >= 1 and facts['loadavg'].count(' ') >= 4


def test_user_scope_reads_both_managers():
    found = reader('user', 'nobody-test').read(dict(PARAMS))
    assert found['facts']['failed_units'] == [{'unit': 'x.service'}, {'unit': 'y.service'}]
    assert found['facts']['unit_restarts'] == 'Id=a.service\nNRestarts=0\n'


def test_routers_are_read_only_for_host_names():
    api = FakeApi(routers=[{'name': 'other@file', 'provider': 'file', 'rule': 'Host(`wiki.lan`)', 'status': 'enabled'}])
    assert reader(api=api).read(dict(PARAMS))['facts']['routers'] is None
    found = reader(api=api).read(dict(PARAMS, hostnames=['wiki.lan']))['facts']
    assert [r['name'] for r in found['routers']] == ['other@file']


def test_an_api_that_does_not_answer_is_a_warning():
    found = reader(api=FakeApi(error='connection refused')).read(dict(PARAMS, hostnames=['wiki.lan']))['facts']
    assert found['routers'] is None
    assert found['warnings'] == ['Traefik API error: connection refused; host-name conflicts were not checked']


def test_no_matching_unit_set_is_an_error():
    found = reader().read(dict(PARAMS, unit_sets=SETS[2:3]))['facts']
    assert found['generator'] == {'errors': ["no rendered unit set matches the host's cgroup controllers ['cpu']"]}

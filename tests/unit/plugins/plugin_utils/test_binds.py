# -*- coding: utf-8 -*-
"""Host bind mounts and shipped configuration files of a stack: the path policy (plugins/plugin_utils/_binds.py),
what the stack plan asks the host to create and write, and the units that mount them."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import copy

import pytest
import yaml

from ansible_collections.homelab.deploy.plugins.filter import stacks as sf
from ansible_collections.homelab.deploy.plugins.plugin_utils import _binds

STACK = {
    'schema_version': 1, 'name': 'photos', 'description': 'A photo library.',
    'volumes': {'pgdata': {}},
    'services': {
        'app': {'image': 'localhost/hl-web:latest',
                'volumes': [{'path': '/srv/photos/library', 'target': '/usr/src/app/upload', 'owner': 1000, 'group': 1000},
                            {'path': '/etc/localtime', 'target': '/etc/localtime', 'mode': 'ro'},
                            {'volume': 'pgdata', 'target': '/var/lib/data'},
                            {'path': '/mnt/nas/import', 'target': '/import', 'mode': 'ro', 'selinux': 'z',
                             'create': False}],
                'configs': [{'target': '/etc/app/app.conf', 'content': 'listen = 8080\npercent = 100%\n'},
                            {'target': '/etc/app/extra.yml', 'template': 'extra.yml.j2', 'mode': '0640'}]},
        'worker': {'image': 'localhost/hl-web:latest', 'depends_on': ['app'],
                   'volumes': [{'path': '/srv/photos/library', 'target': '/library', 'owner': 1000, 'group': 1000}]},
    },
}


def load(stack=None):
    return sf.stack_load(copy.deepcopy(stack or STACK))


@pytest.mark.parametrize('path, mode, reason', [
    ('/etc', 'rw', 'a system path'),
    ('/etc/ssh', 'ro', 'a system path'),
    ('/', 'ro', 'a system path'),
    ('/usr/lib', 'rw', 'a system path'),
    ('/srv/homelab/../../etc', 'rw', 'must be normalised'),
    ('/srv//x', 'rw', 'must be normalised'),
    ('/srv/x/', 'rw', 'must be normalised'),
    ('srv/x', 'rw', 'must be an absolute path'),
    ('/home/me/photos', 'rw', 'outside the bind roots'),
    ('/etc/localtime', 'rw', 'allowed read-only only'),
    ('/srvx/data', 'rw', 'outside the bind roots'),
])
def test_a_host_path_outside_the_policy_is_refused_with_the_reason(path, mode, reason):
    assert reason in _binds.bind_problem(path, mode)


@pytest.mark.parametrize('path, mode', [
    ('/srv', 'rw'), ('/srv/photos', 'rw'), ('/mnt/nas/a b', 'ro'), ('/data/x', 'rw'), ('/etc/localtime', 'ro'),
])
def test_a_host_path_inside_the_policy_is_accepted(path, mode):
    assert _binds.bind_problem(path, mode) is None


def test_a_deployment_may_allow_a_system_path_read_only_but_never_as_a_root():
    assert _binds.bind_problem('/run/dbus', 'ro', readonly=('/run/dbus',)) is None
    assert _binds.bind_problem('/etc/ssl/certs', 'ro', readonly=('/etc/ssl/certs',)) is None
    assert 'allowed read-only only' in _binds.bind_problem('/etc/ssl/certs', 'rw', readonly=('/etc/ssl/certs',))
    assert _binds.check_roots(['/etc'], 'bind_roots') == [
        ('bind_roots[0]', "'/etc' is a system path: it cannot be a bind root (list it as read-only instead)")]
    assert 'cannot be allowed as a whole' in _binds.check_roots(['/'], 'bind_readonly', system_ok=True)[0][1]


def test_the_plan_creates_bind_directories_once_and_writes_configs_restarting_their_service():
    plan = sf.stack_plan(load())
    assert plan['directories'] == [{'path': '/srv/photos/library', 'owner': 1000, 'group': 1000, 'mode': '0750'}]
    base = _binds.CONFIG_DIR + '/photos/app'
    assert plan['files'] == [
        {'path': base + '/etc/app/app.conf', 'mode': '0644', 'restarts': ['photos-app.container'],
         'content': 'listen = 8080\npercent = 100%\n'},
        {'path': base + '/etc/app/extra.yml', 'mode': '0640', 'restarts': ['photos-app.container'],
         'template': 'extra.yml.j2'}]


def test_the_unit_mounts_binds_configs_and_volumes_as_declared():
    app = [u for phase in sf.stack_plan(load())['phases'] for u in phase if u['name'] == 'photos-app.container'][0]
    volumes = [line for line in app['text'].splitlines() if line.startswith('Volume=')]
    base = _binds.CONFIG_DIR + '/photos/app'
    assert volumes == ['Volume=/srv/photos/library:/usr/src/app/upload:rw', 'Volume=/etc/localtime:/etc/localtime:ro',
                       'Volume=photos-pgdata.volume:/var/lib/data:rw', 'Volume=/mnt/nas/import:/import:ro,z',
                       'Volume=%s/etc/app/app.conf:/etc/app/app.conf:ro,z' % base,
                       'Volume=%s/etc/app/extra.yml:/etc/app/extra.yml:ro,z' % base]


def test_a_template_of_a_stack_file_is_found_beside_it(tmp_path):
    path = tmp_path / 'photos.yml'
    path.write_text(yaml.safe_dump(STACK))
    stack = sf.stack_load(str(path))
    assert stack['services']['app']['configs'][1]['template'] == str(tmp_path / 'extra.yml.j2')


@pytest.mark.parametrize('change, key, reason', [
    ({'path': '/etc/ssh', 'target': '/keys', 'mode': 'ro'}, 'services.app.volumes[4].path', 'a system path'),
    ({'path': '/srv/../etc', 'target': '/x'}, 'services.app.volumes[4].path', 'must be normalised'),
    ({'path': '/home/u', 'target': '/x'}, 'services.app.volumes[4].path', 'outside the bind roots'),
])
def test_a_bind_outside_the_policy_is_refused_naming_the_key_before_the_plan(change, key, reason):
    stack = copy.deepcopy(STACK)
    stack['services']['app']['volumes'].append(change)
    with pytest.raises(sf.StackError) as err:
        sf.stack_plan(load(stack))
    assert key in str(err.value) and reason in str(err.value)


def test_roots_are_the_deployments_to_set():
    stack = copy.deepcopy(STACK)
    stack['services']['app']['volumes'].append({'path': '/home/u/photos', 'target': '/x'})
    plan = sf.stack_plan(load(stack), bind_roots=['/srv', '/mnt', '/home/u'])
    assert {'path': '/home/u/photos', 'mode': '0750'} in plan['directories']
    with pytest.raises(sf.StackError) as err:
        sf.stack_plan(load(), bind_roots=['/etc'])
    assert 'bind_roots[0]' in str(err.value)


def test_two_services_creating_one_directory_differently_are_refused():
    stack = copy.deepcopy(STACK)
    stack['services']['worker']['volumes'][0]['owner'] = 33
    with pytest.raises(sf.StackError) as err:
        sf.stack_plan(load(stack))
    assert 'created with different owner/group/mode' in str(err.value)


def test_a_config_given_twice_or_with_both_content_and_template_is_refused():
    stack = copy.deepcopy(STACK)
    stack['services']['app']['configs'].append({'target': '/etc/app/app.conf', 'content': 'x'})
    with pytest.raises(sf.StackError) as err:
        sf.stack_plan(load(stack))
    assert 'services.app.configs[2].target' in str(err.value) and 'more than once' in str(err.value)
    stack = copy.deepcopy(STACK)
    stack['services']['app']['configs'].append({'target': '/b', 'content': 'x', 'template': 'y'})
    with pytest.raises(sf.StackError) as err:
        load(stack)
    assert 'services.app.configs[2]' in str(err.value)


def test_the_config_dir_is_the_deployments_to_set():
    plan = sf.stack_plan(load(), config_dir='/srv/homelab/config')
    assert plan['files'][0]['path'] == '/srv/homelab/config/photos/app/etc/app/app.conf'
    with pytest.raises(sf.StackError) as err:
        sf.stack_plan(load(), config_dir='relative')
    assert 'config_dir' in str(err.value)


def test_deploy_dirs_are_one_place_for_both_scopes():
    system = _binds.deploy_dirs('system')
    assert system == {'base': '/etc/homelab-deploy', 'stacks': _binds.CONFIG_DIR, 'services': _binds.SERVICE_CONFIG_DIR,
                      'guides': '/etc/homelab-deploy/guides', 'monitoring': '/etc/homelab-deploy/monitoring'}
    user = _binds.deploy_dirs('user', '/home/hl/')
    assert user['services'] == '/home/hl/.local/share/homelab-deploy/services' == _binds.config_dir_for('services', 'user', '/home/hl')
    assert _binds.deploy_dirs('user') is None and _binds.config_dir_for('stacks', 'user') is None


def test_the_deploy_dirs_filter_names_a_missing_home():
    from ansible.errors import AnsibleFilterError
    from ansible_collections.homelab.deploy.plugins.filter import patterns
    assert patterns.FilterModule().filters()['deploy_dirs']('user', '/home/hl')['guides'] == '/home/hl/.local/share/homelab-deploy/guides'
    with pytest.raises(AnsibleFilterError, match='needs the home'):
        patterns.deploy_dirs('user')

# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the compose import (homelab.deploy.compose_to_stack, plugins/plugin_utils/_compose.py).

The fixtures under tests/unit/fixtures/compose/ are upstream compose files as their projects ship them (the source
is on each file's first line). Each converts, and the result passes the stack loader's own validation (stack_load),
as a mapping and as the file the import playbook writes. Host bind mounts ({path, target, mode, selinux}) and
config files (configs) need those keys in stacks/schema/stack.schema.json: the asserts relying on them say so.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.deploy.plugins.filter import stacks
from ansible_collections.homelab.deploy.plugins.filter.compose import compose_to_stack
from ansible_collections.homelab.deploy.plugins.plugin_utils import _compose
from ansible_collections.homelab.deploy.plugins.plugin_utils._compose import ComposeError, convert

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                        'fixtures', 'compose')
UPSTREAM = {
    'immich': 'immich/docker-compose.yml',
    'paperless': 'paperless/docker-compose.yml',
    'authelia': 'authelia-lite/compose.yml',
    'n8n': 'n8n/docker-compose.yml',
    'authentik': 'authentik/compose.yml',
    'gitea': 'gitea/docker-compose.yml',
    'netbox': 'netbox-docker/docker-compose.yml',
    'home-assistant': 'home-assistant/compose.yml',
    'vaultwarden': 'vaultwarden/compose.yaml',
}


# Placeholders upstream docs leave for the reader to fill in (the image tag), and what the tests fill in.
DOCS_PLACEHOLDERS = {'gitea': ('@version@', '1.24')}


def fixture(name):
    return os.path.join(FIXTURES, UPSTREAM.get(name, name))


def from_fixture(name, filled=True, **options):
    path = fixture(name)
    with open(path) as handle:
        text = handle.read()
    if filled and name in DOCS_PLACEHOLDERS:
        text = text.replace(*DOCS_PLACEHOLDERS[name])
    return compose_to_stack(text, compose_file=path, **dict({'env': {}}, **options))


def doc(services, **top):
    return dict(top, services=services)


def run(services, env=None, **options):
    top = options.pop('top', {})
    return convert(doc(services, **top), env=env or {}, stack_name=options.pop('stack_name', 'app'), **options)


def entry(result, key):
    found = [e for e in result['report'] if e['key'] == key]
    assert found, 'no report entry %s in %s' % (key, [e['key'] for e in result['report']])
    return found[0]


def service(result, name='web'):
    return result['stack']['services'][name]


# -- upstream compose files ------------------------------------------------------------------------------------

@pytest.mark.parametrize('name', sorted(UPSTREAM))
def test_an_upstream_compose_file_converts_to_a_stack_the_loader_accepts(name, tmp_path):
    options = {'profiles': 'cpu'} if name == 'n8n' else {}
    result = from_fixture(name, **options)
    # needs the bind mount and configs keys of the stack schema (host paths are in every fixture)
    loaded = stacks.stack_load(result['stack'])
    assert loaded['name'] == result['stack']['name']
    written = tmp_path / 'stack.yml'
    written.write_text(result['stack_text'])
    assert stacks.stack_load(str(written))['services'].keys() == result['stack']['services'].keys()
    assert yaml.safe_load(result['stack_text']) == result['stack'], 'the comments on top do not change the stack'


@pytest.mark.parametrize('name', sorted(UPSTREAM))
def test_every_compose_key_of_an_upstream_file_is_in_the_report(name):
    result = from_fixture(name, profiles='*')
    with open(fixture(name)) as handle:
        compose = yaml.safe_load(handle)
    keys = [e['key'] for e in result['report']]
    assert set(e['status'] for e in result['report']) <= set(_compose.STATUSES)
    for top in compose:
        assert any(k == top or k.startswith(top + '.') for k in keys), top
    for svc_name, svc in compose['services'].items():
        for field in svc:
            prefix = 'services.%s.%s' % (svc_name, field)
            assert any(k == prefix or k.startswith((prefix + '.', prefix + '[')) for k in keys), prefix


def test_a_placeholder_left_in_an_image_is_refused_at_the_import_naming_the_key():
    with pytest.raises(AnsibleFilterError, match=r"services\.server\.image: 'docker\.io/gitea/gitea:@version@' is not an "
                                                 r"image reference"):
        from_fixture('gitea', filled=False)
    assert service(from_fixture('gitea'), 'server')['image'] == 'docker.io/gitea/gitea:1.24'


@pytest.mark.parametrize('image', ['gitea/gitea:@version@', 'Web:1', 'web:{{ tag }}', 'a b', 'web:', 'x@sha256:12'])
def test_a_stack_or_pattern_image_that_is_no_image_reference_is_refused_by_the_schema(image):
    with pytest.raises(AnsibleFilterError, match=r'services\.web\.image: .* is not an image reference'):
        stacks.stack_load({'schema_version': 1, 'name': 'img', 'services': {'web': {'image': image}}})


def test_immich_shares_one_secret_and_mounts_its_library_from_the_bind_root():
    result = from_fixture('immich')
    stack = result['stack']
    assert stack['name'] == 'immich' and set(stack['services']) == {
        'immich-server', 'immich-machine-learning', 'redis', 'database'}
    # DB_PASSWORD (the .env, inlined from env_file) and POSTGRES_PASSWORD: ${DB_PASSWORD} have one value: one secret
    assert stack['secrets'] == {'db-password': {}} and result['secrets'] == {'db-password': 'postgres'}
    assert {'secret': 'db-password', 'env': 'POSTGRES_PASSWORD'} in service(result, 'database')['secrets']
    assert {'secret': 'db-password', 'env': 'DB_PASSWORD'} in service(result, 'immich-server')['secrets']
    assert 'POSTGRES_PASSWORD' not in service(result, 'database')['environment']
    assert 'DB_PASSWORD' not in service(result, 'immich-server')['environment']
    assert service(result, 'database')['environment']['POSTGRES_DB'] == 'immich'
    assert service(result, 'immich-server')['image'] == 'ghcr.io/immich-app/immich-server:release'
    assert service(result, 'immich-server')['publish'] == ['2283:2283']
    assert service(result, 'immich-server')['depends_on'] == ['redis', 'database']
    # bind mounts (schema: {path, target, mode})
    assert service(result, 'immich-server')['volumes'] == [
        {'path': '/srv/homelab/immich/library', 'target': '/data', 'mode': 'rw'},
        {'path': '/etc/localtime', 'target': '/etc/localtime', 'mode': 'ro'}]
    assert entry(result, 'services.immich-server.volumes[0]')['status'] == 'approximated'
    assert service(result, 'immich-machine-learning')['volumes'] == [{'volume': 'model-cache', 'target': '/cache'}]
    assert 'healthcheck' not in service(result, 'database'), "disable: false without a test: the image's own"
    assert service(result, 'redis')['healthcheck'] == {'cmd': 'redis-cli ping || exit 1'}
    assert service(result, 'database')['shm_size'] == '128m' and entry(result, 'services.database.shm_size')['status'] == 'mapped'
    assert entry(result, 'services.immich-server.container_name')['status'] == 'approximated'


def test_the_shell_environment_wins_over_the_env_file():
    result = from_fixture('immich', env={'IMMICH_VERSION': 'v1.120.0', 'DB_PASSWORD': 'from-the-shell'})
    assert service(result, 'immich-server')['image'] == 'ghcr.io/immich-app/immich-server:v1.120.0'
    # the database's ${DB_PASSWORD} is the shell's; the server's env_file .env is read as the container's env
    # (compose does not interpolate env_file values from the shell): two values, two secrets
    ref = [r for r in service(result, 'database')['secrets'] if r['env'] == 'POSTGRES_PASSWORD'][0]
    assert result['secrets'][ref['secret']] == 'from-the-shell'
    assert result['secrets']['db-password'] == 'postgres'


def test_paperless_unless_stopped_and_its_consume_folder():
    result = from_fixture('paperless')
    assert result['stack']['name'] == 'paperless', 'the directory names the project, as in compose'
    for name in ('broker', 'db', 'webserver'):
        assert service(result, name)['restart'] == 'always'
        assert entry(result, 'services.%s.restart' % name)['status'] == 'approximated'
    assert result['secrets'] == {'postgres-password': 'paperless'}
    web = service(result, 'webserver')
    assert web['environment'] == {'PAPERLESS_REDIS': 'redis://broker:6379', 'PAPERLESS_DBHOST': 'db'}
    assert web['publish'] == ['8000:8000']
    assert {'path': '/srv/homelab/paperless/consume', 'target': '/usr/src/paperless/consume', 'mode': 'rw'} in web['volumes']
    assert entry(result, 'services.webserver.env_file')['status'] == 'mapped'
    assert set(result['stack']['volumes']) == {'data', 'media', 'pgdata', 'redisdata'}


def test_paperless_with_another_bind_root_and_stack_name():
    result = from_fixture('paperless', bind_root='/data/docs', stack_name='docs')
    assert result['stack']['name'] == 'docs'
    assert {'path': '/data/docs/export', 'target': '/usr/src/paperless/export', 'mode': 'rw'} in \
        service(result, 'webserver')['volumes']


def test_authelia_lite_labels_healthcheck_and_the_docker_socket():
    result = from_fixture('authelia')
    assert service(result, 'authelia')['healthcheck'] == 'none'
    assert service(result, 'authelia')['image'] == 'docker.io/authelia/authelia'
    assert service(result, 'redis')['image'] == 'docker.io/library/redis:alpine'
    assert entry(result, 'services.redis.image')['status'] == 'approximated'
    assert 'route' not in service(result, 'authelia'), 'no port label: Traefik would read the image'
    rule = entry(result, 'services.authelia.labels.traefik.http.routers.authelia.rule')
    assert rule['status'] == 'unsupported' and 'port' in rule['detail']
    assert entry(result, 'services.traefik.volumes[1]')['status'] == 'unsupported'
    assert service(result, 'traefik')['volumes'] == [
        {'path': '/srv/homelab/authelia-lite/traefik', 'target': '/etc/traefik', 'mode': 'rw'}]
    assert service(result, 'traefik')['command'][:2] == ['--api', '--providers.docker=true'], 'exec form kept'
    assert service(result, 'traefik')['publish'] == ['80:80', '443:443']
    assert entry(result, 'networks')['status'] == 'approximated'
    assert entry(result, 'services.secure.labels.traefik.http.routers.secure.middlewares')['status'] == 'unsupported'


def test_n8n_import_job_profiles_and_renamed_volumes():
    result = from_fixture('n8n')
    stack = result['stack']
    assert set(stack['services']) == {'postgres', 'n8n-import', 'n8n', 'qdrant'}, 'no profile active: no ollama'
    assert entry(result, 'services.ollama-cpu')['detail'].startswith('not imported')
    job = service(result, 'n8n-import')
    assert job['kind'] == 'job' and 'restart' not in job
    assert job['entrypoint'] == '/bin/sh'
    assert job['command'] == ['-c', 'n8n import:credentials --separate --input=/demo-data/credentials && '
                              'n8n import:workflow --separate --input=/demo-data/workflows']
    assert service(result, 'n8n')['depends_on'] == ['postgres', 'n8n-import']
    assert service(result, 'postgres')['healthcheck'] == {
        'cmd': 'pg_isready -h localhost -U root -d n8n', 'interval': '5s', 'timeout': '5s', 'retries': 10}
    assert set(stack['volumes']) == {'n8n-storage', 'postgres-storage', 'ollama-storage', 'qdrant-storage'}
    assert entry(result, 'volumes.n8n_storage')['status'] == 'approximated'
    refs = service(result, 'n8n')['secrets']
    assert {'secret': 'postgres-password', 'env': 'DB_POSTGRESDB_PASSWORD'} in refs
    assert {'secret': 'postgres-password', 'env': 'POSTGRES_PASSWORD'} in refs
    assert result['secrets'] == {'postgres-password': 'password', 'n8n-encryption-key': 'super-secret-key',
                                 'n8n-user-management-jwt-secret': 'even-more-secret'}
    assert service(result, 'n8n')['environment']['DB_POSTGRESDB_USER'] == 'root'


def test_n8n_with_the_cpu_profile():
    result = from_fixture('n8n', profiles=['cpu'])
    assert {'ollama-cpu', 'ollama-pull-llama-cpu'} <= set(result['stack']['services'])
    assert 'ollama-gpu' not in result['stack']['services']
    assert service(result, 'ollama-pull-llama-cpu')['depends_on'] == ['ollama-cpu']
    assert 'not as ollama' in entry(result, 'services.ollama-cpu.container_name')['detail']
    assert from_fixture('n8n', env={'COMPOSE_PROFILES': 'gpu-amd'})['stack']['services']['ollama-gpu-amd']['devices'] \
        == ['/dev/kfd', '/dev/dri']


def test_nextcloud_fpm_with_a_built_image_is_refused_naming_the_file_and_service():
    with pytest.raises(AnsibleFilterError) as err:
        from_fixture('nextcloud-fpm/compose.yaml')
    message = str(err.value)
    assert 'nextcloud-fpm/compose.yaml' in message and 'services.web' in message and 'only build' in message


# -- interpolation -----------------------------------------------------------------------------------------------

ENV = {'SET': 'value', 'EMPTY': ''}


@pytest.mark.parametrize('text, expected', [
    ('${SET}', 'value'), ('$SET', 'value'), ('x${SET}y$SET', 'xvalueyvalue'), ('${UNSET}', ''), ('$UNSET-x', '-x'),
    ('${EMPTY:-d}', 'd'), ('${EMPTY-d}', ''), ('${UNSET-d}', 'd'), ('${UNSET:-d}', 'd'), ('${SET:-d}', 'value'),
    ('${SET:+alt}', 'alt'), ('${EMPTY:+alt}', ''), ('${EMPTY+alt}', 'alt'), ('${UNSET+alt}', ''),
    ('${EMPTY?e}', ''), ('${SET:?e}', 'value'),
    ('$$SET', '$SET'), ('$${SET}', '${SET}'), ('a$-b', 'a$-b'), ('$1', '$1'), ('cost $', 'cost $'),
    ('${UNSET:-${SET}}', 'value'), ('${UNSET:-${UNSET2:-deep}}', 'deep'), ('${SET:+${EMPTY:-x}y}', 'xy'),
    ('${UNSET:-a b c}', 'a b c'), ('${UNSET:-$$x}', '$x'),
])
def test_interpolation(text, expected):
    assert _compose.Interpolator(dict(ENV), 'f').text(text, 'k') == expected


@pytest.mark.parametrize('text, reason', [
    ('${UNSET:?give it a value}', 'required variable UNSET is not set: give it a value'),
    ('${EMPTY:?no empty}', 'required variable EMPTY is empty: no empty'),
    ('${UNSET?e}', 'required variable UNSET is not set: e'),
    ('${1bad}', 'invalid expression'), ('${SET', 'without its closing'), ('${SET/a/b}', 'invalid expression'),
])
def test_interpolation_errors_name_the_file_and_key(text, reason):
    with pytest.raises(ComposeError) as err:
        run({'web': {'image': 'x/y', 'environment': {'A': text}}}, env=dict(ENV))
    assert reason in str(err.value) and str(err.value).startswith('compose document: services.web.environment.A:')


def test_unset_variables_are_reported_and_keys_are_not_interpolated():
    result = run({'web': {'image': 'x/y:1${TAG}', 'environment': {'$KEEP': 'v'}}})
    assert service(result)['image'] == 'docker.io/x/y:1'
    assert entry(result, 'interpolation.TAG')['status'] == 'approximated'
    assert entry(result, 'services.web.environment.$KEEP')['status'] == 'unsupported'
    # an unset tag leaves no image reference: refused at the import, naming the key, not at the pull
    with pytest.raises(ComposeError, match=r"services\.web\.image: 'docker\.io/x/y:' is not an image reference"):
        run({'web': {'image': 'x/y:${TAG}'}})


def test_the_default_env_file_beside_the_compose_file_and_an_explicit_one(tmp_path):
    (tmp_path / '.env').write_text('TAG=from-dot-env\n')
    (tmp_path / 'other.env').write_text('TAG=from-other\n')
    compose = tmp_path / 'compose.yml'
    compose.write_text('services:\n  web:\n    image: x/y:${TAG}\n')
    assert service(convert(compose.read_text(), compose_file=str(compose)))['image'] == 'docker.io/x/y:from-dot-env'
    result = convert(compose.read_text(), compose_file=str(compose), env_file=str(tmp_path / 'other.env'))
    assert service(result)['image'] == 'docker.io/x/y:from-other'
    assert result['stack']['name'] == stacks_name(tmp_path.name)


def stacks_name(directory):
    return _compose.stack_name_of(directory)


@pytest.mark.parametrize('line, value', [
    ('A=plain', 'plain'), ('A = spaced ', 'spaced'), ("A='lit $SET # x'", 'lit $SET # x'), ('A="q $SET"', 'q value'),
    ('A="two\\nlines"', 'two\nlines'), ('A=v # comment', 'v'), ('A=v#not-a-comment', 'v#not-a-comment'),
    ('export A=exp', 'exp'), ('A=${SET:-d}-x', 'value-x'), ('A=', ''), ('A="\\$SET"', '$SET'),
])
def test_dotenv_lines(line, value):
    assert _compose.parse_dotenv('# comment\n\n' + line + '\n', {'SET': 'value'}, 'f.env') == {'A': value}


def test_dotenv_bare_names_and_earlier_lines():
    assert _compose.parse_dotenv('A=1\nB=${A}2\nHOME\nMISSING\n', {'HOME': '/root'}, 'f') == {
        'A': '1', 'B': '12', 'HOME': '/root'}
    with pytest.raises(ComposeError, match='line 1'):
        _compose.parse_dotenv('not a line\n', {}, 'f')


# -- profiles ------------------------------------------------------------------------------------------------

PROFILED = {'web': {'image': 'x/web'}, 'debug': {'image': 'x/debug', 'profiles': ['dev', 'debug']}}


@pytest.mark.parametrize('profiles, env, imported', [
    (None, {}, False), ('dev', {}, True), ('other,debug', {}, True), (['x'], {}, False), ('*', {}, True),
    (None, {'COMPOSE_PROFILES': 'debug'}, True), ([], {'COMPOSE_PROFILES': 'debug'}, False),
])
def test_profiles(profiles, env, imported):
    result = run(PROFILED, env=env, profiles=profiles)
    assert ('debug' in result['stack']['services']) is imported
    assert 'web' in result['stack']['services']


def test_a_dependency_in_an_inactive_profile_is_an_error_unless_optional():
    services = dict(PROFILED, web={'image': 'x/web', 'depends_on': ['debug']})
    with pytest.raises(ComposeError, match=r'services\.web\.depends_on\[0\]: depends on .debug.: in profiles dev, debug'):
        run(services)
    services['web']['depends_on'] = {'debug': {'condition': 'service_started', 'required': False}}
    assert 'depends_on' not in service(run(services))


# -- ports -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('port, publish', [
    ('8080:80', ['8080:80']), ('127.0.0.1:8080:80', ['127.0.0.1:8080:80']), ('53:53/udp', ['53:53/udp']),
    ('[::1]:8080:80/tcp', ['[::1]:8080:80/tcp']), ('8000-8001:9000-9001', ['8000:9000', '8001:9001']),
    (8080, []), ('80', []), ('127.0.0.1::80', []), ('x:80', []), ('1-3:1-2', []),
    ({'target': 80, 'published': '8080', 'host_ip': '127.0.0.1', 'protocol': 'tcp'}, ['127.0.0.1:8080:80/tcp']),
    ({'target': 80, 'published': 8081, 'mode': 'host'}, ['8081:80']), ({'target': 80}, []),
    ({'target': 53, 'published': 53, 'host_ip': '::1', 'protocol': 'udp'}, ['[::1]:53:53/udp']),
])
def test_ports(port, publish):
    result = run({'web': {'image': 'x/y', 'ports': [port]}})
    assert service(result).get('publish', []) == publish
    assert entry(result, 'services.web.ports[0]')['status'] == ('mapped' if publish else 'unsupported')
    stacks.stack_load(result['stack'])


# -- volumes ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize('volume, expected', [
    ('data:/var/lib/data', {'volume': 'data', 'target': '/var/lib/data'}),
    ('data:/var/lib/data:ro', {'volume': 'data', 'target': '/var/lib/data', 'mode': 'ro'}),
    ('data:/var/lib/data:Z', {'volume': 'data', 'target': '/var/lib/data'}),
    # host paths: the bind mount keys of the schema
    ('./conf:/etc/app:ro,z', {'path': '/srv/homelab/app/conf', 'target': '/etc/app', 'mode': 'ro', 'selinux': 'z'}),
    ('/srv/media:/media:Z', {'path': '/srv/media', 'target': '/media', 'mode': 'rw', 'selinux': 'Z'}),
    ('../up/../x:/x', {'path': '/srv/homelab/app/x', 'target': '/x', 'mode': 'rw'}),  # outside the project: under it
    ('~/photos:/photos', {'path': '/srv/homelab/app/photos', 'target': '/photos', 'mode': 'rw'}),
    ({'type': 'bind', 'source': '/mnt/a', 'target': '/a', 'read_only': True, 'bind': {'selinux': 'z'}},
     {'path': '/mnt/a', 'target': '/a', 'mode': 'ro', 'selinux': 'z'}),
    ({'type': 'volume', 'source': 'data', 'target': '/d'}, {'volume': 'data', 'target': '/d'}),
])
def test_volumes(volume, expected):
    result = run({'web': {'image': 'x/y', 'volumes': [volume]}}, top={'volumes': {'data': None}})
    assert service(result)['volumes'] == [expected]
    stacks.stack_load(result['stack'])


def test_anonymous_tmpfs_and_refused_volumes():
    result = run({'web': {'image': 'x/y', 'volumes': [
        '/cache', {'type': 'tmpfs', 'target': '/run/app', 'tmpfs': {'size': 1000, 'mode': 0o1777}},
        '/var/run/docker.sock:/var/run/docker.sock', '/opt/app:/app']}})
    web = service(result)
    assert web['volumes'][0] == {'volume': 'web-data-0', 'target': '/cache'} and 'web-data-0' in result['stack']['volumes']
    assert web['tmpfs'] == ['/run/app:size=1000,mode=1777']
    assert entry(result, 'services.web.volumes[2]')['status'] == 'unsupported'
    assert web['volumes'][1] == {'path': '/opt/app', 'target': '/app', 'mode': 'rw'}
    assert 'outside the default bind roots' in entry(result, 'services.web.volumes[3]')['detail']
    with pytest.raises(ComposeError, match="named volume 'nope' is not declared"):
        run({'web': {'image': 'x/y', 'volumes': ['nope:/x']}})
    with pytest.raises(ComposeError, match='absolute target'):
        run({'web': {'image': 'x/y', 'volumes': ['data:rel']}}, top={'volumes': {'data': {}}})


def test_a_relative_bind_of_a_file_is_shipped_as_a_config_file(tmp_path):
    (tmp_path / 'mosquitto.conf').write_text('listener 1883\nallow_anonymous false\n')
    compose = tmp_path / 'compose.yml'
    compose.write_text('services:\n  mqtt:\n    image: eclipse-mosquitto:2\n'
                       '    volumes: ["./mosquitto.conf:/mosquitto/config/mosquitto.conf:ro"]\n')
    result = convert(compose.read_text(), compose_file=str(compose), stack_name='home')
    # needs the configs key of the schema
    assert service(result, 'mqtt')['configs'] == [{'target': '/mosquitto/config/mosquitto.conf', 'mode': '0444',
                                                   'content': 'listener 1883\nallow_anonymous false\n'}]
    assert 'volumes' not in service(result, 'mqtt')
    assert entry(result, 'services.mqtt.volumes[0]')['status'] == 'approximated'
    stacks.stack_load(result['stack'])


# -- depends_on, jobs, cycles -------------------------------------------------------------------------------

def test_depends_on_conditions_and_jobs():
    result = run({
        'db': {'image': 'x/db'},
        'migrate': {'image': 'x/app', 'restart': 'no', 'depends_on': {'db': {'condition': 'service_healthy'}}},
        'web': {'image': 'x/app', 'restart': 'always', 'depends_on': {
            'migrate': {'condition': 'service_completed_successfully'}, 'db': {'condition': 'service_started', 'restart': True}}},
        'worker': {'image': 'x/app', 'depends_on': ['db']},
    })
    assert service(result, 'migrate')['kind'] == 'job' and 'restart' not in service(result, 'migrate')
    assert 'kind' not in service(result, 'web') and service(result, 'web')['restart'] == 'always'
    assert service(result, 'web')['depends_on'] == ['migrate', 'db']
    assert entry(result, 'services.migrate.depends_on.db')['status'] == 'mapped'
    assert entry(result, 'services.web.depends_on.migrate')['status'] == 'mapped'
    assert entry(result, 'services.web.depends_on.db')['status'] == 'approximated'
    assert entry(result, 'services.worker.depends_on[0]')['status'] == 'approximated'
    stacks.stack_load(result['stack'])


def test_a_completed_dependency_that_compose_restarts_is_no_job():
    result = run({'init': {'image': 'x/i', 'restart': 'always'},
                  'web': {'image': 'x/w', 'depends_on': {'init': {'condition': 'service_completed_successfully'}}}})
    assert 'kind' not in service(result, 'init')


@pytest.mark.parametrize('services, message', [
    ({'a': {'image': 'x/a', 'depends_on': ['b']}, 'b': {'image': 'x/b', 'depends_on': {'a': {}}}},
     r'services\.a\.depends_on: dependency cycle: a -> b -> a'),
    ({'a': {'image': 'x/a', 'depends_on': ['a']}}, r'dependency cycle: a -> a'),
    ({'a': {'image': 'x/a', 'depends_on': ['ghost']}}, r"services\.a\.depends_on\[0\]: depends on 'ghost': no such service"),
])
def test_dependency_errors(services, message):
    with pytest.raises(ComposeError, match=message):
        run(services)


# -- healthcheck ------------------------------------------------------------------------------------------

@pytest.mark.parametrize('health, expected, status', [
    ({'test': ['CMD', 'curl', '-f', 'http://localhost/a b']}, {'cmd': "curl -f 'http://localhost/a b'"}, 'approximated'),
    ({'test': ['CMD-SHELL', 'pg_isready || exit 1']}, {'cmd': 'pg_isready || exit 1'}, 'mapped'),
    ({'test': 'wget -q -O- localhost'}, {'cmd': 'wget -q -O- localhost'}, 'mapped'),
    ({'test': ['NONE']}, 'none', None), ({'disable': True}, 'none', None),
    ({'test': ['CMD-SHELL', 'x'], 'interval': '1m30s', 'timeout': '500ms', 'retries': 3, 'start_period': '1h'},
     {'cmd': 'x', 'interval': '90s', 'timeout': '500ms', 'retries': 3, 'start_period': '1h'}, 'mapped'),
    ({'interval': '10s'}, {'cmd': None, 'interval': '10s'}, None),
    ({'disable': False}, None, None),
])
def test_healthcheck_forms(health, expected, status):
    result = run({'web': {'image': 'x/y', 'healthcheck': health}})
    assert service(result).get('healthcheck') == expected
    if status:
        assert entry(result, 'services.web.healthcheck.test')['status'] == status
    stacks.stack_load(result['stack'])


def test_healthcheck_keys_without_a_stack_key_are_reported():
    result = run({'web': {'image': 'x/y', 'healthcheck': {'test': 'true', 'start_interval': '1s', 'retries': 0}}})
    assert entry(result, 'services.web.healthcheck.start_interval')['status'] == 'unsupported'
    assert entry(result, 'services.web.healthcheck.retries')['status'] == 'unsupported'
    assert service(result)['healthcheck'] == {'cmd': 'true'}


# -- environment and secrets ---------------------------------------------------------------------------------

@pytest.mark.parametrize('name, value, secret', [
    ('DB_PASSWORD', 'x', True), ('MYSQL_ROOT_PASS', 'x', True), ('API_TOKEN', 'x', True), ('SECRET_KEY', 'x', True),
    ('AWS_CREDENTIALS', 'x', True), ('private_key', 'x', True), ('DATABASE_URL', 'postgres://u:pw@db/x', True),
    ('DATABASE_URL', 'postgres://db/x', False), ('REDIS_URL', 'redis://user@host', False), ('TZ', 'UTC', False),
    ('POSTGRES_PASSWORD_FILE', '/run/secrets/db', False), ('DB_PASSWORD', '', False),
])
def test_secret_looking_values(name, value, secret):
    assert _compose.is_secret(name, value) is secret


def test_environment_list_map_env_file_and_secrets(tmp_path):
    (tmp_path / 'app.env').write_text('FROM_FILE=1\nAPI_TOKEN=tok-123\nOVERRIDDEN=file\n')
    compose = tmp_path / 'compose.yml'
    compose.write_text(yaml.safe_dump({'services': {
        'web': {'image': 'x/y', 'env_file': ['app.env', {'path': 'missing.env', 'required': False}],
                'environment': ['OVERRIDDEN=env', 'FROM_SHELL', 'NOT_ANYWHERE', 'URL=https://u:pw@h/']},
        'db': {'image': 'x/db', 'environment': {'N': 5, 'B': True, 'ADMIN_PASSWORD': None, 'EMPTY_SECRET': ''}},
    }}))
    result = compose_to_stack(compose.read_text(), compose_file=str(compose), env={'FROM_SHELL': 's', 'ADMIN_PASSWORD': 'pw-1'})
    web, db = service(result), service(result, 'db')
    assert web['environment'] == {'FROM_FILE': '1', 'OVERRIDDEN': 'env', 'FROM_SHELL': 's'}
    assert {'secret': 'api-token', 'env': 'API_TOKEN'} in web['secrets'] and {'secret': 'url', 'env': 'URL'} in web['secrets']
    assert db['environment'] == {'N': '5', 'B': 'true'}
    assert {'secret': 'admin-password', 'env': 'ADMIN_PASSWORD'} in db['secrets']
    assert {'secret': 'empty-secret', 'env': 'EMPTY_SECRET'} in db['secrets']
    assert result['secrets'] == {'api-token': 'tok-123', 'url': 'https://u:pw@h/', 'admin-password': 'pw-1'}
    assert 'empty-secret' in result['stack']['secrets'], 'declared: the deploy generates its value'
    assert entry(result, 'services.web.environment[2]')['status'] == 'approximated'
    assert entry(result, 'services.web.env_file[1]')['status'] == 'mapped'
    text = result['stack_text'] + '\n'.join(result['report_lines'])
    for value in result['secrets'].values():
        assert value not in text
    stacks.stack_load(result['stack'])
    with pytest.raises(ComposeError, match=r'services\.web\.env_file\[0\]: env file .*nope\.env does not exist'):
        convert({'services': {'web': {'image': 'x/y', 'env_file': ['nope.env']}}}, compose_file=str(compose))


def test_compose_secrets_from_a_file_and_the_environment(tmp_path):
    (tmp_path / 'db_password.txt').write_text('s3cret-from-file\n')
    compose = tmp_path / 'compose.yml'
    compose.write_text(yaml.safe_dump({
        'secrets': {'db_password': {'file': './db_password.txt'}, 'api': {'environment': 'API_KEY'},
                    'missing': {'file': './nope.txt'}},
        'services': {'web': {'image': 'x/y', 'secrets': [
            'db_password', {'source': 'api', 'target': 'api_key', 'mode': 0o400}, {'source': 'missing', 'target': '/etc/m'}]}},
    }))
    result = compose_to_stack(compose.read_text(), compose_file=str(compose), env={'API_KEY': 'k-1'}, stack_name='app')
    assert service(result)['secrets'] == [
        {'secret': 'db-password', 'file': '/run/secrets/db_password'}, {'secret': 'api', 'file': '/run/secrets/api_key'},
        {'secret': 'missing', 'file': '/etc/m'}]
    assert result['secrets'] == {'db-password': 's3cret-from-file\n', 'api': 'k-1'}
    assert set(result['stack']['secrets']) == {'db-password', 'api', 'missing'}
    assert entry(result, 'secrets.missing')['status'] == 'approximated'
    assert entry(result, 'services.web.secrets[1].mode')['status'] == 'unsupported'
    assert 's3cret-from-file' in result['secrets_text'] and 'stack_secrets:' in result['secrets_text']
    assert 'ansible-vault encrypt' in result['secrets_text']
    assert yaml.safe_load(result['secrets_text']) == {'stack_secrets': result['secrets']}
    assert 's3cret' not in result['stack_text']
    stacks.stack_load(result['stack'])
    with pytest.raises(ComposeError, match="secret 'other' is not declared"):
        run({'web': {'image': 'x/y', 'secrets': ['other']}})


def test_a_secret_interpolated_into_a_health_command_is_reported():
    result = run({'cache': {'image': 'x/valkey', 'environment': {'REDIS_PASSWORD': '${PW}'},
                            'healthcheck': {'test': ['CMD-SHELL', 'valkey-cli -a ${PW} ping']}}}, env={'PW': 'hunter22'})
    found = entry(result, 'services.cache.healthcheck.cmd')
    assert found['status'] == 'approximated' and 'redis-password' in found['detail'] and 'hunter22' not in found['detail']


# -- configs ----------------------------------------------------------------------------------------------

def test_configs_from_a_file_and_inline(tmp_path):
    (tmp_path / 'nginx.conf').write_text('server { listen 80; }\n')
    compose = tmp_path / 'compose.yml'
    compose.write_text(yaml.safe_dump({
        'configs': {'nginx': {'file': './nginx.conf'}, 'motd': {'content': 'hello ${WHO}'}},
        'services': {'web': {'image': 'nginx:1', 'configs': [
            {'source': 'nginx', 'target': '/etc/nginx/nginx.conf', 'mode': 0o440, 'uid': '101'}, 'motd']}},
    }))
    result = convert(compose.read_text(), compose_file=str(compose), env={'WHO': 'you'})
    # needs the configs key of the schema
    assert service(result)['configs'] == [
        {'target': '/etc/nginx/nginx.conf', 'content': 'server { listen 80; }\n', 'mode': '0440'},
        {'target': '/motd', 'content': 'hello you', 'mode': '0444'}]
    assert entry(result, 'services.web.configs[0].uid')['status'] == 'unsupported'
    stacks.stack_load(result['stack'])
    with pytest.raises(ComposeError, match="config 'x' is not declared"):
        run({'web': {'image': 'x/y', 'configs': ['x']}})


# -- names ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('name, expected', [
    ('web', 'web'), ('My_App', 'my-app'), ('immich_server', 'immich-server'), ('a.b', 'a-b'), ('1st', 's-1st'),
    ('--x--', 'x'), ('a' * 50, 'a' * 40),
])
def test_stack_names(name, expected):
    assert _compose.stack_name_of(name) == expected


def test_renamed_services_and_their_dependants():
    result = run({'Web_App': {'image': 'x/w', 'depends_on': ['db_main']}, 'db_main': {'image': 'x/d'}})
    assert set(result['stack']['services']) == {'web-app', 'db-main'}
    assert service(result, 'web-app')['depends_on'] == ['db-main']
    renamed = entry(result, 'services.db_main')
    assert renamed['status'] == 'approximated' and 'by the name db_main breaks' in renamed['detail']
    with pytest.raises(ComposeError, match="both 'a_b' and 'a-b' become the service name 'a-b'"):
        run({'a_b': {'image': 'x/1'}, 'a-b': {'image': 'x/2'}})


# -- the other keys ----------------------------------------------------------------------------------------------

def test_container_keys():
    result = run({'web': {
        'image': 'localhost:5000/hl/web:1', 'pull_policy': 'if_not_present', 'restart': 'on-failure:3',
        'command': ['serve', '--port', '80'], 'entrypoint': '/bin/sh -c', 'user': 1000, 'read_only': True,
        'tmpfs': '/tmp', 'devices': ['/dev/dri:/dev/dri', 'nvidia.com/gpu=all'], 'cap_add': ['net_bind_service'],
        'cap_drop': ['ALL'], 'security_opt': ['no-new-privileges:true', 'label=disable'], 'stop_grace_period': '1m',
        'privileged': True, 'x-custom': 1, 'made_up': 1, 'expose': ['80'],
    }})
    web = service(result)
    assert web['image'] == 'localhost:5000/hl/web:1' and web['pull'] == 'missing'
    assert web['restart'] == 'on-failure' and entry(result, 'services.web.restart')['status'] == 'approximated'
    assert web['command'] == ['serve', '--port', '80'] and web['entrypoint'] == ['/bin/sh', '-c']
    assert web['user'] == '1000' and web['read_only'] is True and web['tmpfs'] == ['/tmp']
    assert web['devices'] == ['/dev/dri:/dev/dri']
    assert entry(result, 'services.web.devices[1]')['status'] == 'unsupported'
    assert web['add_capabilities'] == ['CAP_NET_BIND_SERVICE'] and web['drop_capabilities'] == ['ALL']
    assert web['no_new_privileges'] is True
    assert entry(result, 'services.web.security_opt[1]')['status'] == 'unsupported'
    assert web['stop_timeout'] == 60
    assert web['privileged'] is True and entry(result, 'services.web.privileged')['status'] == 'mapped'
    assert 'stack_allow_privileged' in entry(result, 'services.web.privileged')['detail']
    assert entry(result, 'services.web.made_up')['status'] == 'unsupported'
    assert entry(result, 'services.web.x-custom')['status'] == 'mapped'
    stacks.stack_load(result['stack'])


@pytest.mark.parametrize('policy, pull, status', [
    ('always', 'always', 'mapped'), ('missing', 'missing', 'mapped'), ('never', 'never', 'mapped'),
    ('if_not_present', 'missing', 'mapped'), ('daily', 'newer', 'approximated'), ('build', None, 'unsupported'),
])
def test_pull_policies(policy, pull, status):
    result = run({'web': {'image': 'x/y', 'pull_policy': policy}})
    assert service(result).get('pull') == pull
    assert entry(result, 'services.web.pull_policy')['status'] == status


@pytest.mark.parametrize('restart, expected, status', [
    ('always', 'always', 'mapped'), ('no', 'no', 'mapped'), ('unless-stopped', 'always', 'approximated'),
    ('on-failure', 'on-failure', 'mapped'), ('sometimes', None, 'unsupported'),
])
def test_restart_policies(restart, expected, status):
    result = run({'web': {'image': 'x/y', 'restart': restart}})
    assert service(result).get('restart') == expected
    assert entry(result, 'services.web.restart')['status'] == status


@pytest.mark.parametrize('value, seconds', [('10s', 10), ('1m30s', 90), ('1500ms', 2), (5, 5), ('2h', 600)])
def test_stop_grace_period(value, seconds):
    assert service(run({'web': {'image': 'x/y', 'stop_grace_period': value}}))['stop_timeout'] == seconds


@pytest.mark.parametrize('image, qualified', [
    ('redis', 'docker.io/library/redis'), ('redis:7', 'docker.io/library/redis:7'), ('n8nio/n8n', 'docker.io/n8nio/n8n'),
    ('ghcr.io/a/b:1', 'ghcr.io/a/b:1'), ('localhost/x', 'localhost/x'), ('localhost:5000/hl/web:1', 'localhost:5000/hl/web:1'),
    ('docker.io/library/redis:7', 'docker.io/library/redis:7'),
])
def test_image_names(image, qualified):
    assert _compose.qualify_image(image) == qualified


def test_traefik_labels_become_a_route():
    result = run({'web': {'image': 'x/y', 'labels': [
        'traefik.enable=true', 'traefik.http.routers.web.rule=Host(`app.example.org`) && PathPrefix(`/app`)',
        'traefik.http.routers.web.entrypoints=websecure', 'traefik.http.services.web.loadbalancer.server.port=8080',
        'com.example.team=ops']}})
    assert service(result)['route'] == {'hostname': 'app.example.org', 'port': 8080, 'public': True, 'path_prefix': '/app'}
    assert entry(result, 'services.web.labels.traefik.http.routers.web.rule')['status'] == 'approximated'
    assert entry(result, 'services.web.labels.traefik.enable')['status'] == 'mapped'
    assert entry(result, 'services.web.labels.traefik.http.routers.web.entrypoints')['status'] == 'unsupported'
    assert entry(result, 'services.web.labels.com.example.team')['status'] == 'mapped'
    assert service(result)['labels'] == {'com.example.team': 'ops'}
    stacks.stack_load(result['stack'])


@pytest.mark.parametrize('labels, tls', [
    (['traefik.http.routers.web.tls=true', 'traefik.http.routers.web.tls.certresolver=le'], {'resolver': 'le'}),
    (['traefik.http.routers.web.tls.certresolver=le'], {'resolver': 'le'}),
    (['traefik.http.routers.web.tls=true'], True),
    (['traefik.http.routers.web.tls=false'], None),
])
def test_traefik_tls_labels_become_the_route_tls(labels, tls):
    result = run({'web': {'image': 'x/y', 'labels': [
        'traefik.http.routers.web.rule=Host(`app.example.org`)', 'traefik.http.services.web.loadbalancer.server.port=80']
        + labels}})
    assert service(result)['route'].get('tls') == tls
    for label in labels:
        assert entry(result, 'services.web.labels.' + label.split('=')[0])['status'] == 'mapped'
    rendered = stacks.stack_render(stacks.stack_load(result['stack']))
    assert ('tls' in rendered['routes'][0]) == (tls is not None)


def test_a_route_port_from_expose():
    result = run({'web': {'image': 'x/y', 'expose': ['3000'],
                          'labels': {'traefik.http.routers.r.rule': 'Host(`a.example`)'}}})
    assert service(result)['route']['port'] == 3000


def test_top_level_keys():
    top = {'version': '3.8', 'networks': {'n': {}}, 'include': ['x.yml'], 'x-anchors': {}, 'name': 'Ignored'}
    result = run({'web': {'image': 'x/y'}}, top=top)
    assert result['stack']['name'] == 'app', 'stack_name wins over the compose name'
    assert entry(result, 'version')['status'] == 'mapped'
    assert entry(result, 'networks')['status'] == 'approximated'
    assert entry(result, 'include')['status'] == 'unsupported'
    assert entry(result, 'x-anchors')['status'] == 'mapped'
    assert entry(result, 'name')['status'] == 'mapped'
    assert convert(doc({'web': {'image': 'x/y'}}, name='My_Project'))['stack']['name'] == 'my-project'


# -- errors ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize('document, message', [
    ('- a\n- b\n', 'a compose file is a mapping, got list'), ('just text', 'a compose file is a mapping, got str'),
    ('services: [\n', 'not valid YAML'), ({'services': {}}, 'services: a compose file needs services'),
    ({'services': {'web': {'build': '.'}}}, 'services.web: no image (only build:)'),
    ({'services': {'web': 'nginx'}}, 'services.web: a service is a mapping, got str'),
    ({'services': {'web': {'image': 'x/y', 'environment': 'A=1'}}}, 'environment is a list or a mapping'),
    ({'services': {'web': {'image': 'x/y', 'profiles': ['p']}}}, 'no service is active'),
])
def test_bad_input_is_an_error_naming_the_file_key_and_reason(document, message):
    with pytest.raises(AnsibleFilterError) as err:
        compose_to_stack(document, compose_file='/srv/src/compose.yml', stack_name='app')
    assert message in str(err.value) and '/srv/src/compose.yml' in str(err.value)


def test_filter_arguments_are_checked():
    with pytest.raises(AnsibleFilterError, match='env must be a mapping'):
        compose_to_stack({'services': {'web': {'image': 'x'}}}, env=['A=1'])
    with pytest.raises(AnsibleFilterError, match='profiles must be'):
        compose_to_stack({'services': {'web': {'image': 'x'}}}, profiles=3)


def test_the_stack_file_text_carries_the_report_as_comments():
    result = compose_to_stack({'services': {'web': {'image': 'x/y', 'pids_limit': 100, 'environment': {'TOKEN': 't0k3n'}}}},
                              stack_name='app', stack_file='/tmp/app.yml')
    lines = result['stack_text'].splitlines()
    assert lines[0].startswith('# Stack app, imported from a compose document')
    assert '# unsupported  services.web.pids_limit: no pids limit key in the stack model' in lines
    assert any('/tmp/app.yml.secrets.yml' in line for line in lines[:4])
    assert all(line.startswith('#') for line in lines[:lines.index('---')])
    assert 't0k3n' not in result['stack_text'] and 't0k3n' in result['secrets_text']
    assert '-e @/tmp/app.yml.secrets.yml' in result['secrets_text']


# -- the rest of the container surface (issue 13 part 1) --------------------------------------------------------

def test_the_container_surface_keys_are_mapped_and_the_loader_accepts_them():
    result = run({'web': {
        'image': 'x/y', 'shm_size': '2gb', 'ulimits': {'nofile': {'soft': 1024, 'hard': 4096}, 'nproc': 512, 'as': 1},
        'sysctls': ['net.core.somaxconn=1024', 'kernel.panic=1'],
        'extra_hosts': ['printer.lan:192.0.2.9', 'v6=[::1]', 'gw=host-gateway'],
        'dns': '192.0.2.53', 'dns_search': ['lan'], 'dns_opt': ['ndots:1'], 'init': True, 'working_dir': '/app',
        'stop_signal': 'quit', 'annotations': {'com.example.tier': 'web'}, 'group_add': ['video', 44],
        'hostname': 'web.lan', 'labels': {'com.example.team': 'ops', 'io.homelab.deploy.managed': 'false'}}})
    web = service(result)
    assert web['shm_size'] == '2g'
    assert web['ulimits'] == {'nofile': {'soft': 1024, 'hard': 4096}, 'nproc': 512}
    assert entry(result, 'services.web.ulimits.as')['status'] == 'unsupported'
    assert web['sysctls'] == {'net.core.somaxconn': '1024'}
    assert entry(result, 'services.web.sysctls.kernel.panic')['status'] == 'unsupported'
    assert web['extra_hosts'] == {'printer.lan': '192.0.2.9', 'v6': '::1', 'gw': 'host-gateway'}
    assert web['dns'] == ['192.0.2.53'] and web['dns_search'] == ['lan'] and web['dns_options'] == ['ndots:1']
    assert web['init'] is True and web['working_dir'] == '/app' and web['stop_signal'] == 'SIGQUIT'
    assert web['annotations'] == {'com.example.tier': 'web'} and web['group_add'] == ['video', '44']
    assert web['hostname'] == 'web.lan' and entry(result, 'services.web.hostname')['status'] == 'approximated'
    assert web['labels'] == {'com.example.team': 'ops'}
    assert entry(result, 'services.web.labels.io.homelab.deploy.managed')['status'] == 'unsupported'
    loaded = stacks.stack_load(result['stack'])
    text = stacks.stack_plan(loaded)['phases'][1][0]['text']
    for line in ('ShmSize=2g', 'Ulimit=nofile=1024:4096', 'Sysctl=net.core.somaxconn=1024', 'AddHost=v6:::1',
                 'RunInit=true', 'StopSignal=SIGQUIT', 'HostName=web.lan', 'Label=com.example.team=ops'):
        assert line in text.splitlines(), line


@pytest.mark.parametrize('mode, status', [('host', 'mapped'), ('none', 'mapped'), ('bridge', 'approximated'),
                                          ('service:db', 'unsupported'), ('container:x', 'unsupported')])
def test_network_mode(mode, status):
    result = run({'web': {'image': 'x/y', 'network_mode': mode}})
    assert entry(result, 'services.web.network_mode')['status'] == status
    assert service(result).get('network_mode') == (mode if status == 'mapped' else None)


def test_a_host_network_service_drops_what_the_stack_model_refuses_there_with_why():
    result = run({'ha': {'image': 'ghcr.io/home-assistant/home-assistant:stable', 'network_mode': 'host',
                         'ports': ['8123:8123'], 'dns': ['192.0.2.1'], 'sysctls': {'net.core.somaxconn': 1},
                         'labels': ['traefik.http.routers.ha.rule=Host(`ha.example.org`)',
                                    'traefik.http.services.ha.loadbalancer.server.port=8123']}})
    ha = service(result, 'ha')
    assert ha['network_mode'] == 'host'
    for key in ('route', 'publish', 'dns', 'sysctls'):
        assert key not in ha, key
    assert 'Traefik cannot route to it' in entry(result, 'services.ha.labels')['detail']
    assert [e['status'] for e in result['report'] if e['key'].startswith('services.ha.ports')] == ['unsupported']
    assert [e['status'] for e in result['report'] if e['key'].startswith('services.ha.dns')] == ['unsupported']
    assert entry(result, 'services.ha.sysctls.net.core.somaxconn')['status'] == 'unsupported'
    stacks.stack_load(result['stack'])


@pytest.mark.parametrize('name', [
    'DB_PASS', 'ADMIN_PASS', 'JWT_KEY', 'AUTH_KEY', 'NC_CREDENTIALS', 'admin_password', 'SmtpPassword', 'PASSPHRASE',
    'MONKEY', 'KEYCLOAK_URL', 'BYPASS_CACHE', 'KEYBOARD_LAYOUT', 'TZ', 'PUID'])
def test_one_secret_policy_for_the_import_the_masking_and_the_unit_warnings(name):
    """What the import moves into a podman secret is what the output masks and what a unit is warned about."""
    from ansible_collections.homelab.deploy.plugins.module_utils import _podman, _quadlet, _unitfile
    masked = _podman.mask_secrets('%s=value' % name) != '%s=value' % name
    unit = _unitfile.parse_unit('[Container]\nImage=x\nEnvironment=%s=value\n' % name, filename='a.container')
    warned = _quadlet.secret_like_environment(unit, 'container') == [name]
    assert _compose.is_secret(name, 'value') is masked is warned
    # the words count as whole words only: BYPASS, MONKEY, KEYCLOAK and KEYBOARD are not credentials
    assert masked is (name not in ('MONKEY', 'KEYCLOAK_URL', 'BYPASS_CACHE', 'KEYBOARD_LAYOUT', 'TZ', 'PUID'))

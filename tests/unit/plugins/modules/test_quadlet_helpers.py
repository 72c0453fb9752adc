# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the private quadlet helpers: names, content checks, generator output, validation and unit files.

Generator and systemd-analyze output below was captured on the hlnode test node (podman 5.4.2, systemd 257).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os

import pytest

from ansible_collections.homelab.deploy.plugins.module_utils import _podman as podman
from ansible_collections.homelab.deploy.plugins.module_utils import _quadlet as quadlet
from ansible_collections.homelab.deploy.plugins.module_utils._unitfile import parse_unit

# QUADLET_UNIT_DIRS=/tmp/s1 /usr/libexec/podman/quadlet -dryrun   (web.container, webdata.volume, webnet.network)
DRYRUN_STDOUT = """---webdata-volume.service---
[X-Volume]

[Unit]
Wants=network-online.target
After=network-online.target
SourcePath=/tmp/s1/webdata.volume
RequiresMountsFor=%t/containers

[Service]
ExecStart=/usr/bin/podman volume create --ignore systemd-webdata
SyslogIdentifier=%N
Type=oneshot
RemainAfterExit=yes

---webnet-network.service---
[X-Network]

[Unit]
Wants=network-online.target
After=network-online.target
SourcePath=/tmp/s1/webnet.network
RequiresMountsFor=%t/containers

[Service]
ExecStart=/usr/bin/podman network create --ignore systemd-webnet
SyslogIdentifier=%N
Type=oneshot
RemainAfterExit=yes

---web.service---
[Unit]
Wants=network-online.target
After=network-online.target
Description=test web
SourcePath=/tmp/s1/web.container
RequiresMountsFor=%t/containers
Requires=webnet-network.service
After=webnet-network.service
Requires=webdata-volume.service
After=webdata-volume.service

[X-Container]
Image=localhost/hl-web:latest
ContainerName=web
Volume=webdata.volume:/data
Network=webnet.network

[Service]
Restart=always
Environment=PODMAN_SYSTEMD_UNIT=%n
KillMode=mixed
ExecStop=/usr/bin/podman rm -v -f -i --cidfile=%t/%N.cid
ExecStopPost=-/usr/bin/podman rm -v -f -i --cidfile=%t/%N.cid
Delegate=yes
Type=notify
NotifyAccess=all
SyslogIdentifier=%N
ExecStart=/usr/bin/podman run --name web --cidfile=%t/%N.cid --replace --rm --cgroups=split --network systemd-webnet \
--sdnotify=conmon -d -v systemd-webdata:/data localhost/hl-web:latest

[Install]
WantedBy=multi-user.target

"""

LOADING = ('quadlet-generator[797]: Loading source unit file /tmp/st/a.container\n'
           'quadlet-generator[797]: Loading source drop-in file /etc/containers/systemd/a.container.d/10.conf\n')
WARNING = ('quadlet-generator[226]: Warning: a.container specifies the image "x" which not a fully qualified image name. '
           'This is not ideal for performance and security reasons. See the podman-pull manpage discussion of '
           'short-name-aliases.conf for details.')
BAD_KEY = ('quadlet-generator[214]: converting "a.container": unsupported key \'Bogus\' in group \'Container\' '
           'in /tmp/st/a.container')
MISSING_NETWORK = 'quadlet-generator[250]: converting "a.container": requested Quadlet unit missing.network was not found'
SYNTAX = ('quadlet-generator[346]: No files parsed from [/tmp/st]\nquadlet-generator[346]: error loading '
          '"/tmp/st/a.container", file contains line 1: \u201c[Container\u201d which is not a key-value pair, group, or comment')
OTHER = ('quadlet-generator[797]: converting "other.container": unsupported key \'Bogus\' in group \'Container\' '
         'in /etc/containers/systemd/other.container')

# systemd-analyze verify --man=no --recursive-errors=no /tmp/s3/gen/v.service
ANALYZE = ("/tmp/s3/gen/v.service:6: Unknown key 'Foo' in section [Unit], ignoring.\n"
           "/tmp/s3/gen/v.service:14: Failed to parse Restart=bogus, ignoring: Invalid argument\n"
           "/tmp/s3/gen/v.service:25: Unknown section 'Bogus'. Ignoring.\n"
           "podman-user-wait-network-online.service: Unit not found.\n")


def unit(text, filename='web.container'):
    return parse_unit(text, filename)


# -- names ------------------------------------------------------------------------------

@pytest.mark.parametrize('name, unit_type, expected', [
    ('web', 'container', ('web', 'container', 'web.container')),
    ('web.container', None, ('web', 'container', 'web.container')),
    ('web.container', 'container', ('web', 'container', 'web.container')),
    ('db-data.volume', None, ('db-data', 'volume', 'db-data.volume')),
    ('app.v2', 'pod', ('app.v2', 'pod', 'app.v2.pod')),
    ('nginx.image', None, ('nginx', 'image', 'nginx.image')),
])
def test_split_name(name, unit_type, expected):
    assert quadlet.split_name(name, unit_type) == expected


@pytest.mark.parametrize('name, unit_type, fragment', [
    ('web', None, 'cannot tell the unit type'),
    ('web.volume', 'container', 'has the suffix .volume but type is container'),
    ('../web', 'container', 'invalid unit name'),
    ('web@', 'container', 'invalid unit name'),
    ('-web', 'container', 'invalid unit name'),
    ('a b', 'container', 'invalid unit name'),
    ('x' * 202, 'container', 'invalid unit name'),
    ('.container', None, 'invalid unit name'),
])
def test_split_name_refuses(name, unit_type, fragment):
    with pytest.raises(quadlet.QuadletError, match=fragment):
        quadlet.split_name(name, unit_type)


@pytest.mark.parametrize('base, unit_type, text, expected', [
    ('web', 'container', None, 'web.service'),
    ('data', 'volume', None, 'data-volume.service'),
    ('net', 'network', None, 'net-network.service'),
    ('app', 'pod', None, 'app-pod.service'),
    ('app', 'kube', None, 'app.service'),
    ('nginx', 'image', None, 'nginx-image.service'),
    ('site', 'build', None, 'site-build.service'),
    ('web', 'container', '[Container]\nServiceName=frontend\n', 'frontend.service'),
    ('data', 'volume', '[Volume]\nServiceName=data.service\n', 'data.service'),
])
def test_service_name(base, unit_type, text, expected):
    assert quadlet.service_name(base, unit_type, unit(text) if text else None) == expected


@pytest.mark.parametrize('base, unit_type, text, expected', [
    ('data', 'volume', '[Volume]\n', 'systemd-data'),
    ('data', 'volume', '[Volume]\nVolumeName=appdata\n', 'appdata'),
    ('net', 'network', '[Network]\nNetworkName=front\n', 'front'),
    ('app', 'pod', '[Pod]\nPodName=app\n', 'app'),
    ('nginx', 'image', '[Image]\nImage=x\n', None),
    ('data', 'volume', None, 'systemd-data'),
])
def test_object_name(base, unit_type, text, expected):
    assert quadlet.object_name(base, unit_type, unit(text) if text else None) == expected


@pytest.mark.parametrize('text, expected', [
    ('[Container]\nImage=x\n', 'systemd-web'),
    ('[Container]\nImage=x\nContainerName=front\n', 'front'),
    ('[Container]\nImage=x\nContainerName=%N-x\n', 'web-x'),
    ('[Container]\nImage=x\nContainerName=%H\n', None),
    ('[Container]\nContainerName=no-image\n', None),
])
def test_container_target(text, expected):
    assert quadlet.container_target(unit(text)) == expected


# -- content checks -----------------------------------------------------------------------

@pytest.mark.parametrize('text, unit_type, errors', [
    ('[Container]\nImage=x\n[Unit]\n[Service]\n[Install]\n[Quadlet]\n[X-Custom]\n', 'container', []),
    ('[Container]\nImage=x\n[Contianer]\nA=1\n', 'container', ['unknown section [Contianer]']),
    ('[Volume]\n[Container]\nImage=x\n', 'volume', ['unknown section [Container] in a .volume file']),
    ('[Timer]\nOnCalendar=daily\n[Container]\nImage=x\n', 'container', ['unknown section [Timer]']),
])
def test_check_sections(text, unit_type, errors):
    found = quadlet.check_sections(unit(text), unit_type)
    assert len(found) == len(errors)
    assert all(e in f for e, f in zip(errors, found))


@pytest.mark.parametrize('text, unit_type, expected', [
    ('[Container]\nImage=localhost/hl-web:latest\n', 'container', [('localhost/hl-web:latest', 'a localhost/ image cannot be pulled')]),
    ('[Container]\nImage=docker.io/library/nginx:1\nPull=never\n', 'container', [('docker.io/library/nginx:1', 'Pull=never')]),
    ('[Container]\nImage=docker.io/library/nginx:1\nPull=Never\n', 'container', [('docker.io/library/nginx:1', 'Pull=never')]),
    ('[Container]\nImage=docker.io/library/nginx:1\n', 'container', []),
    ('[Container]\nImage=docker.io/library/nginx:1\nPull=newer\n', 'container', []),
    ('[Container]\nImage=site.build\n', 'container', []),
    ('[Container]\nImage=nginx.image\n', 'container', []),
    ('[Container]\nRootfs=/srv/root\n', 'container', []),
    ('[Image]\nImage=localhost/x\n', 'image', []),
])
def test_images_to_check(text, unit_type, expected):
    assert quadlet.images_to_check(unit(text), unit_type) == expected


@pytest.mark.parametrize('text, expected', [
    ('[Container]\nImage=x\n', []),
    ('[Install]\nWantedBy=default.target\nWantedBy=multi-user.target\n', ['default.target', 'multi-user.target']),
    ('[Install]\nRequiredBy=x.target\nAlias=y.service\n', ['x.target', 'y.service']),
    ('[Install]\nWantedBy=a.target\nWantedBy=\n', []),
])
def test_install_targets(text, expected):
    assert quadlet.install_targets(unit(text)) == expected


@pytest.mark.parametrize('text, expected', [
    ('[Container]\nEnvironment=POSTGRES_PASSWORD=x MODE=prod\n', ['POSTGRES_PASSWORD']),
    ('[Container]\nEnvironment="API_TOKEN=a b"\nEnvironment=db_secret=1\n', ['API_TOKEN', 'db_secret']),
    ('[Container]\nEnvironment=HL_WEB_VERSION=2\nSecret=db-pass,type=env,target=PGPASSWORD\n', []),
    ('[Container]\nEnvironment=POSTGRES_PASSWORD_FILE=/run/secrets/db-pass\n', []),
    ('[Container]\nEnvironment=POSTGRES_PASSWORD_FILE=hunter2\n', ['POSTGRES_PASSWORD_FILE']),
])
def test_secret_like_environment(text, expected):
    assert quadlet.secret_like_environment(unit(text), 'container') == expected


@pytest.mark.parametrize('text, unit_type, expected', [
    ('[Container]\nImage=x\nSecret=db,type=env,target=PW\nSecret=tls-key\n', 'container', ['db', 'tls-key']),
    ('[Container]\nImage=x\n', 'container', []),
    ('[Pod]\n', 'pod', []),
])
def test_secret_names(text, unit_type, expected):
    assert quadlet.secret_names(unit(text), unit_type) == expected


def test_copy_sections_copies_and_checks_shape():
    original = {'Container': {'Image': 'x'}}
    copied = quadlet.copy_sections(original)
    copied['Container']['Pull'] = 'never'
    assert original == {'Container': {'Image': 'x'}}
    with pytest.raises(quadlet.QuadletError, match='sections.Container must be a mapping'):
        quadlet.copy_sections({'Container': ['Image=x']})


def test_check_secret_names():
    quadlet.check_secret_names(['db-pass', 'a.b_c'])
    with pytest.raises(quadlet.QuadletError, match="'{{ q }}-pw'"):
        quadlet.check_secret_names(['ok', '{{ q }}-pw'])


# -- generator output ------------------------------------------------------------------------

def test_parse_dryrun_splits_services():
    units = quadlet.parse_dryrun(DRYRUN_STDOUT)
    assert list(units) == ['webdata-volume.service', 'webnet-network.service', 'web.service']
    assert units['web.service'].startswith('[Unit]\n') and units['web.service'].endswith('WantedBy=multi-user.target\n')


@pytest.mark.parametrize('source, expected', [
    ('/tmp/s1/web.container', 'web.service'),
    ('/tmp/s1/webdata.volume', 'webdata-volume.service'),
    ('/tmp/s1/nothere.container', None),
    ('/tmp/s1/web', None),
])
def test_find_generated_by_source_path(source, expected):
    assert quadlet.find_generated(quadlet.parse_dryrun(DRYRUN_STDOUT), source)[0] == expected


@pytest.mark.parametrize('stderr, ours, warnings, others', [
    (LOADING, [], [], []),
    (LOADING + WARNING, [], 1, []),
    (LOADING + BAD_KEY, ["converting \"a.container\": unsupported key 'Bogus' in group 'Container' in a.container"], [], []),
    (MISSING_NETWORK, ['converting "a.container": requested Quadlet unit missing.network was not found'], [], []),
    (SYNTAX, ['No files parsed from [/tmp/st]',
              'error loading "a.container", file contains line 1: \u201c[Container\u201d which is not a key-value pair, '
              'group, or comment'], [], []),
    (LOADING + OTHER, [], [], [OTHER.split(': ', 1)[1]]),
])
def test_classify_stderr(stderr, ours, warnings, others):
    got_ours, got_warnings, got_others = quadlet.classify_stderr(stderr, 'a.container', '/tmp/st/a.container')
    assert got_ours == ours
    assert (len(got_warnings) == warnings) if isinstance(warnings, int) else got_warnings == warnings
    assert got_others == others


def test_analyze_errors_keeps_our_lines_only():
    assert quadlet.analyze_errors(ANALYZE, '/tmp/s3/gen/v.service') == [
        "v.service:6: Unknown key 'Foo' in section [Unit], ignoring.",
        'v.service:14: Failed to parse Restart=bogus, ignoring: Invalid argument',
        "v.service:25: Unknown section 'Bogus'. Ignoring."]


# -- validator ----------------------------------------------------------------------------------

class GeneratorRunner(object):
    """Answers the generator with output for the staged file; errors about other units before and after."""

    def __init__(self, tmp_path, extra_err='', baseline_err='', analyze=''):
        self.extra_err, self.baseline_err, self.analyze = extra_err, baseline_err, analyze
        self.calls = []
        binary = tmp_path / 'quadlet'
        binary.write_text('')
        binary.chmod(0o755)
        self.binary = str(binary)
        self.module = self

    def quadlet_binary(self):
        return self.binary

    def get_bin_path(self, name):
        return '/usr/bin/systemd-analyze' if self.analyze is not None else None

    def run(self, argv, ok_rcs=(0,), env=None, switch=True):
        self.calls.append((argv, env, switch))
        if argv[0].endswith('systemd-analyze'):
            return 0, '', self.analyze.replace('@UNIT@', argv[-1])
        first = env['QUADLET_UNIT_DIRS'].split(':')[0]
        staged = [os.path.join(first, f) for f in os.listdir(first) if f.endswith('.container')] if first else []
        if not staged or not staged[0].startswith(str(self.tmp)):
            return 0, '', self.baseline_err
        out = '---a.service---\n[Unit]\nSourcePath=%s\n[Service]\nExecStart=/usr/bin/podman run --env DB_PASSWORD=x\n' % staged[0]
        return 0, out, self.extra_err


@pytest.fixture
def validator(tmp_path):
    def make(**kwargs):
        runner = GeneratorRunner(tmp_path, **kwargs)
        runner.tmp = tmp_path / 'stage'
        runner.tmp.mkdir()
        return quadlet.Validator(runner, podman.Scope('system', euid=0), str(runner.tmp)), runner
    return make


def test_validator_stages_ahead_of_the_real_directories(validator):
    val, runner = validator()
    result = val.validate('a.container', '[Container]\nImage=x\n')
    argv, env, switch = runner.calls[0]
    assert argv[1:] == ['-dryrun', '-no-kmsg-log'] and switch is False
    assert env['QUADLET_UNIT_DIRS'].split(':')[0].startswith(str(runner.tmp))
    assert result['service'] == 'a.service' and result['errors'] == []
    assert 'SourcePath=/etc/containers/systemd/a.container' in result['generated']
    assert 'DB_PASSWORD=' + podman.MASK in result['generated']
    assert os.listdir(str(runner.tmp)) == [], 'staging directory left behind'


def test_validator_blames_new_errors_in_other_units_on_the_new_file(validator):
    val, runner = validator(extra_err=OTHER + '\n' + MISSING_NETWORK.replace('a.container', 'app.container'),
                            baseline_err=LOADING + OTHER)
    result = val.validate('a.container', '[Container]\nImage=x\n')
    assert result['errors'] == ['converting "app.container": requested Quadlet unit missing.network was not found '
                                '(caused by the new a.container)']
    assert len(result['other_errors']) == 2


def test_validator_reports_systemd_analyze_lines(validator):
    val, runner = validator(analyze="@UNIT@:14: Failed to parse Restart=bogus, ignoring: Invalid argument\n")
    result = val.validate('a.container', '[Container]\nImage=x\n')
    assert result['errors'] == ['a.service:14: Failed to parse Restart=bogus, ignoring: Invalid argument']


def test_validator_without_a_generated_service_fails(validator):
    val, runner = validator()
    runner.run = lambda argv, ok_rcs=None, env=None, switch=True: (0, '', 'quadlet-generator[1]: No files parsed from [/x]')
    assert val.validate('a.container', 'x')['errors'] == ['No files parsed from [/x]']
    runner.run = lambda argv, ok_rcs=None, env=None, switch=True: (0, '', '')
    assert 'produced no service for a.container' in val.validate('a.container', 'x')['errors'][0]


# -- unit files ------------------------------------------------------------------------------------

class StoreModule(object):
    def atomic_move(self, src, dest):
        os.rename(src, dest)


@pytest.fixture
def store(tmp_path):
    class Scope(podman.Scope):
        def unit_dir(self):
            return str(tmp_path / 'units')

        def search_dirs(self):
            return [str(tmp_path / 'run'), self.unit_dir(), str(tmp_path / 'usr')]

        def backup_dir(self):
            return str(tmp_path / 'state' / 'backups')
    return quadlet.UnitStore(StoreModule(), Scope('system', euid=0), 'web.container')


def test_store_writes_atomically_and_keeps_a_private_backup(store, tmp_path):
    assert store.read() is None and store.existing_backup() is None
    store.write('[Container]\nImage=a\n')
    assert store.read() == '[Container]\nImage=a\n'
    assert oct(os.stat(store.path).st_mode & 0o777) == '0o644'
    assert os.listdir(str(tmp_path / 'units')) == ['web.container']
    os.chmod(store.path, 0o640)
    store.write('[Container]\nImage=b\n')
    assert oct(os.stat(store.path).st_mode & 0o777) == '0o640'
    path = store.backup('[Container]\nImage=a\n')
    assert path.endswith('backups/web.container.lkg') and store.read_backup() == '[Container]\nImage=a\n'
    assert oct(os.stat(path).st_mode & 0o777) == '0o600'
    assert oct(os.stat(os.path.dirname(path)).st_mode & 0o777) == '0o700'
    store.remove()
    assert store.read() is None and store.existing_backup() == path


def test_store_finds_shadowing_files_only_ahead_of_its_directory(store, tmp_path):
    (tmp_path / 'usr').mkdir()
    (tmp_path / 'usr' / 'web.container').write_text('')
    assert store.shadowed_by() is None
    (tmp_path / 'run').mkdir()
    (tmp_path / 'run' / 'web.container').write_text('')
    assert store.shadowed_by() == str(tmp_path / 'run' / 'web.container')


# -- a set of files validated together -------------------------------------------------------------------

class SetRunner(object):
    """The generator over a staged set: a service per staged file, the errors given, one analyze call."""

    def __init__(self, tmp_path, stderr='', analyze=''):
        self.stderr, self.analyze, self.calls = stderr, analyze, []
        binary = tmp_path / 'quadlet'
        binary.write_text('')
        binary.chmod(0o755)
        self.binary, self.module = str(binary), self

    def quadlet_binary(self):
        return self.binary

    def get_bin_path(self, name):
        return '/usr/bin/systemd-analyze'

    def run(self, argv, ok_rcs=(0,), env=None, switch=True):
        self.calls.append(argv)
        if argv[0].endswith('systemd-analyze'):
            return 0, '', '\n'.join(self.analyze.replace('@GEN@', os.path.dirname(argv[-1])).splitlines())
        staging = env['QUADLET_UNIT_DIRS'].split(':')[0]
        if not staging.startswith(str(self.tmp)):
            return 0, '', ''
        out = ''.join('---%s.service---\n[Unit]\nSourcePath=%s\n' % (name.split('.')[0], os.path.join(staging, name))
                      for name in sorted(os.listdir(staging)) if name.endswith('.container'))
        return 0, out, self.stderr.replace('@STAGE@', staging)


@pytest.fixture
def set_validator(tmp_path):
    def make(**kwargs):
        runner = SetRunner(tmp_path, **kwargs)
        runner.tmp = tmp_path / 'stage'
        runner.tmp.mkdir()
        return quadlet.Validator(runner, podman.Scope('system', euid=0), str(runner.tmp)), runner
    return make


def test_validate_set_stages_all_files_in_one_generator_run(set_validator):
    val, runner = set_validator()
    result = val.validate_set({'a.container': '[Container]\nImage=x\nNetwork=n.network\n', 'b.container': '[Container]\nImage=y\n',
                               'n.network': '[Network]\n'})
    generator_runs = [c for c in runner.calls if c[0].endswith('quadlet')]
    analyze_runs = [c for c in runner.calls if c[0].endswith('systemd-analyze')]
    assert len(generator_runs) == 1 and len(analyze_runs) == 1, 'one dry run and one analyze call for the whole set'
    assert [os.path.basename(p) for p in analyze_runs[0][4:]] == ['a.service', 'b.service']
    assert result['files']['a.container']['service'] == 'a.service' and result['files']['b.container']['errors'] == []
    assert 'SourcePath=/etc/containers/systemd/a.container' in result['files']['a.container']['generated']
    assert result['files']['n.network']['errors'] == ['the generator produced no service for n.network (rc=0)']
    assert os.listdir(str(runner.tmp)) == [], 'staging directory left behind'


def test_validate_set_files_errors_under_the_file_they_name(set_validator):
    stderr = ('quadlet-generator[1]: converting "b.container": requested Quadlet unit n.network was not found\n'
              'quadlet-generator[1]: Warning: a.container specifies the image "x" which not a fully qualified image name\n'
              'quadlet-generator[1]: error loading "@STAGE@/a.container", file contains line 3\n'
              'quadlet-generator[1]: something about no file at all\n')
    val, runner = set_validator(stderr=stderr, analyze='@GEN@/a.service:14: Failed to parse Restart=x\n')
    result = val.validate_set({'a.container': 'x', 'b.container': 'y'})
    assert result['files']['b.container']['errors'] == ['converting "b.container": requested Quadlet unit n.network was not found']
    assert result['files']['a.container']['errors'] == ['error loading "a.container", file contains line 3']
    assert result['files']['a.container']['warnings'][0].startswith('Warning: a.container specifies')
    assert result['errors'] == ['something about no file at all'], 'a line about no file is an error of the set'
    assert [c for c in runner.calls if c[0].endswith('systemd-analyze')] == [], 'no analyze run when every file has errors'


def test_validate_set_reports_analyze_lines_per_service(set_validator):
    val, runner = set_validator(analyze='@GEN@/b.service:14: Failed to parse Restart=x\n')
    result = val.validate_set({'a.container': 'x', 'b.container': 'y'})
    assert result['files']['b.container']['errors'] == ['b.service:14: Failed to parse Restart=x']
    assert result['files']['a.container']['errors'] == []


def test_classify_stderr_set_blames_lines_about_no_file():
    errors, warnings, others = quadlet.classify_stderr_set(
        'quadlet-generator[1]: general failure\n' + OTHER, {'a.container': '/s/a.container'}, blame='a.container')
    assert errors == {'a.container': ['general failure']} and warnings == {} and len(others) == 1
    errors, dummy, dummy = quadlet.classify_stderr_set('quadlet-generator[1]: general failure', {})
    assert errors == {None: ['general failure']}

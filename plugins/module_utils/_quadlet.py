# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private helpers for the quadlet module (names, generator validation, unit files); not a public API, may change without notice."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import re
import shutil
import tempfile

from ansible_collections.homelab.deploy.plugins.module_utils._podman import mask_secrets, secret_valued
from ansible_collections.homelab.deploy.plugins.module_utils._unitfile import CONTROL_RE, UnitFileError, container_spec

# type -> (the type's own section, suffix of the generated service name)
UNIT_TYPES = {
    'container': ('Container', ''),
    'volume': ('Volume', '-volume'),
    'network': ('Network', '-network'),
    'pod': ('Pod', '-pod'),
    'kube': ('Kube', ''),
    'image': ('Image', '-image'),
    'build': ('Build', '-build'),
}
# The key in the type's section that names the podman object, and the podman noun for it.
OBJECT_KEYS = {'container': ('ContainerName', 'container'), 'volume': ('VolumeName', 'volume'),
               'network': ('NetworkName', 'network'), 'pod': ('PodName', 'pod')}
COMMON_SECTIONS = ('Unit', 'Service', 'Install', 'Quadlet')
INSTALL_KEYS = ('WantedBy', 'RequiredBy', 'Alias')
NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]{0,200}\Z')
SECRET_NAME_RE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9_.-]{0,252}\Z')
GENERATOR_PREFIX_RE = re.compile(r'^quadlet-generator\[\d+\]:\s*')
QUADLET_FILE_RE = re.compile(r'[\w.@-]+\.(?:%s)\b' % '|'.join(UNIT_TYPES))
DRYRUN_HEADER_RE = re.compile(r'^---(.+\.service)---$')
MANAGED_HEADER = '# Managed by homelab.deploy.quadlet; edits here are overwritten.\n'


class QuadletError(Exception):
    """Invalid input, found before anything on the host changes."""


# ---------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------

def split_name(name, unit_type=None):
    """(base, type, file name) from C(web) + C(container) or from C(web.container)."""
    base, dot, ext = name.rpartition('.')
    if dot and ext in UNIT_TYPES:
        if unit_type and unit_type != ext:
            raise QuadletError('name %s has the suffix .%s but type is %s' % (name, ext, unit_type))
        unit_type = ext
    else:
        base = name
    if not unit_type:
        raise QuadletError('cannot tell the unit type of %r: give type, or a file name such as web.container' % name)
    if not NAME_RE.match(base):
        raise QuadletError('invalid unit name %r: use letters, digits, ".", "_" and "-" (at most 201), '
                           'starting with a letter or digit' % base)
    return base, unit_type, '%s.%s' % (base, unit_type)


def check_secret_names(names):
    """Podman secret names we are willing to create (podman itself accepts almost anything)."""
    bad = sorted(name for name in names if not SECRET_NAME_RE.match(name))
    if bad:
        raise QuadletError('invalid secret name(s) %s: use letters, digits, ".", "_" and "-" (at most 253), '
                           'starting with a letter or digit' % ', '.join(repr(n) for n in bad))


def service_name(base, unit_type, unit=None):
    """The systemd service quadlet generates, honouring ServiceName= (podman >= 5.3)."""
    section = UNIT_TYPES[unit_type][0]
    custom = unit.get(section, 'ServiceName') if unit is not None else None
    if custom:
        return custom if custom.endswith('.service') else custom + '.service'
    return '%s%s.service' % (base, UNIT_TYPES[unit_type][1])


def object_name(base, unit_type, unit=None):
    """Name of the podman object a unit creates (systemd-<name> unless overridden), or None."""
    if unit_type not in OBJECT_KEYS:
        return None
    custom = unit.get(UNIT_TYPES[unit_type][0], OBJECT_KEYS[unit_type][0]) if unit is not None else None
    return custom or 'systemd-%s' % base


def container_target(unit):
    """The container name of a .container unit (ContainerName= or systemd-%N), or None when only known at run time."""
    try:
        return container_spec(unit)['name']
    except UnitFileError:
        return None


# ---------------------------------------------------------------------------
# Content checks that the generator does not make
# ---------------------------------------------------------------------------

def check_sections(unit, unit_type):
    """Sections quadlet would pass to systemd, which ignores unknown ones silently."""
    allowed = (UNIT_TYPES[unit_type][0],) + COMMON_SECTIONS
    errors = []
    for section in unit.sections():
        if section not in allowed and not section.startswith('X-'):
            errors.append('unknown section [%s] in a .%s file (allowed: %s, or X-*); quadlet would pass it to '
                          'systemd, which ignores it' % (section, unit_type, ', '.join('[%s]' % s for s in allowed)))
    return errors


def images_to_check(unit, unit_type):
    """Images that must already be in local storage: Pull=never, or localhost/ images (nothing to pull from)."""
    if unit_type != 'container':
        return []
    image = unit.get('Container', 'Image')
    if not image or image.endswith('.image') or image.endswith('.build'):
        return []
    pull = (unit.get('Container', 'Pull') or '').strip().lower()
    if pull == 'never':
        return [(image, 'Pull=never')]
    if image.startswith('localhost/'):
        return [(image, 'a localhost/ image cannot be pulled')]
    return []


def secret_names(unit, unit_type):
    """Podman secrets a .container unit references with Secret=."""
    if unit_type != 'container':
        return []
    try:
        return [secret['name'] for secret in container_spec(unit)['secrets']]
    except UnitFileError:
        return []


def install_targets(unit):
    return [value for key in INSTALL_KEYS for value in unit.get_all('Install', key)]


def default_target(scope_name):
    return 'default.target' if scope_name == 'user' else 'multi-user.target'


def secret_like_environment(unit, unit_type):
    """Environment= names that look like credentials (they belong in podman secrets).

    NAME_FILE=/path is the images' convention for "read the credential from this file" (a mounted secret): the
    value is a path, not a credential, so it is no reason to warn.
    """
    names = []
    for value in unit.get_all(UNIT_TYPES[unit_type][0], 'Environment'):
        for word in value.split():
            key, _sep, val = word.strip('"\'').partition('=')
            if secret_valued(key, val):
                names.append(key)
    return names


def copy_sections(sections):
    """A copy of the sections option that can be amended (render_unit checks the values)."""
    out = {}
    for section, entries in (sections or {}).items():
        if not isinstance(entries, dict):
            raise QuadletError('sections.%s must be a mapping of key: value, got %s' % (section, type(entries).__name__))
        out[section] = dict(entries)
    return out


# ---------------------------------------------------------------------------
# Generator output
# ---------------------------------------------------------------------------

def parse_dryrun(stdout):
    """Split `quadlet -dryrun` output into {service name: unit text}."""
    units, current, lines = {}, None, []
    for line in stdout.splitlines():
        match = DRYRUN_HEADER_RE.match(line)
        if match:
            if current:
                units[current] = '\n'.join(lines).strip() + '\n'
            current, lines = match.group(1), []
        elif current:
            lines.append(line)
    if current:
        units[current] = '\n'.join(lines).strip() + '\n'
    return units


def find_generated(units, source_path):
    """(service, text) of the unit generated from source_path (matched on SourcePath=)."""
    needle = 'SourcePath=%s' % source_path
    for service, text in units.items():
        if needle in text.splitlines():
            return service, text
    return None, None


def classify_stderr(stderr, filename, staged_path):
    """Sort generator stderr into errors about our file, warnings about it, and errors about other files."""
    errors, warnings, others = classify_stderr_set(stderr, {filename: staged_path}, blame=filename)
    return errors.get(filename, []), warnings.get(filename, []), others


def classify_stderr_set(stderr, staged, blame=None):
    """Sort generator stderr by the staged file it is about: ({file: errors}, {file: warnings}, other errors).

    staged maps each file name to its staged path. A line about no quadlet file at all is an error of the
    set, filed under blame (None for a set, the file for a single one); lines about quadlet files outside
    the set are the third value.
    """
    errors, warnings, others = {}, {}, []
    for raw in stderr.splitlines():
        line = GENERATOR_PREFIX_RE.sub('', raw).strip()
        if not line or line.startswith('Loading source'):
            continue
        owner = line_owner(line, staged)
        if owner is not None:
            line = line.replace(staged[owner], owner)
        if 'Warning:' in line or line.startswith('Warning'):
            if owner is not None:
                warnings.setdefault(owner, []).append(line)
        elif owner is not None:
            errors.setdefault(owner, []).append(line)
        elif QUADLET_FILE_RE.search(line):
            others.append(line)
        else:
            errors.setdefault(blame, []).append(line)
    return errors, warnings, others


def line_owner(line, staged):
    """The staged file a generator line names (by staged path, quoted name or name as a word), or None."""
    for filename, path in sorted(staged.items()):
        if (path in line or '"%s"' % filename in line
                or re.search(r'(^|\s)%s(\s|:|$)' % re.escape(filename), line) is not None):
            return filename
    return None


def analyze_errors(output, unit_path):
    """systemd-analyze verify lines about our generated unit (bad keys, values, sections)."""
    prefix = unit_path + ':'
    name = os.path.basename(unit_path)
    return [name + line[len(unit_path):] for line in output.splitlines() if line.startswith(prefix)]


class Validator(object):
    """Run the node's own quadlet generator (dry run) and systemd-analyze on staged copies of new files.

    validate() checks one file; validate_set() checks several staged together, so references between them
    (a container's Network=x.network of the same set) resolve as they will once all are installed.
    """

    def __init__(self, runner, scope, tmpdir=None):
        self.runner, self.scope, self.tmpdir = runner, scope, tmpdir

    def validate(self, filename, text):
        result = self.staged({filename: text}, blame=filename)
        ours = result['files'][filename]
        return {'rc': result['rc'], 'errors': ours['errors'], 'warnings': ours['warnings'],
                'other_errors': result['other_errors'], 'service': ours['service'], 'generated': ours['generated']}

    def validate_set(self, files):
        """{'rc', 'files': {file: {errors, warnings, service, generated}}, 'errors': of the set, 'other_errors'}."""
        return self.staged(files, blame=None)

    def staged(self, files, blame):
        staging = tempfile.mkdtemp(prefix='homelab-quadlet-', dir=self.tmpdir)
        try:
            return self._validate(staging, files, blame)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _validate(self, staging, files, blame):
        staged = self.stage(staging, files)
        rc, out, err = self.generate([staging])
        errors, warnings, others = classify_stderr_set(err, staged, blame)
        if others:
            errors.setdefault(blame, []).extend(self.new_errors(others, blame or 'set of units'))
        units = parse_dryrun(out)
        result = dict((name, self.file_result(name, staged[name], units, errors, warnings, rc)) for name in files)
        services = [r['service'] for r in result.values() if r['service'] and not r['errors']]
        for name, lines in self.verify(staging, units, services).items():
            result[self.owner_of(result, name)]['errors'].extend(lines)
        for name, path in staged.items():
            real = os.path.join(self.scope.unit_dir(), name)
            result[name]['generated'] = mask_secrets((result[name]['generated'] or '').replace(path, real))
        return {'rc': rc, 'files': result, 'errors': errors.get(None, []), 'other_errors': others}

    def stage(self, staging, files):
        staged = {}
        for filename, text in files.items():
            staged[filename] = os.path.join(staging, filename)
            with open(staged[filename], 'w') as handle:
                handle.write(text)
        return staged

    @staticmethod
    def file_result(filename, path, units, errors, warnings, rc):
        service, generated = find_generated(units, path)
        ours = list(errors.get(filename, []))
        if service is None and not ours:
            ours.append('the generator produced no service for %s (rc=%s)' % (filename, rc))
        return {'errors': ours, 'warnings': warnings.get(filename, []), 'service': service, 'generated': generated}

    @staticmethod
    def owner_of(result, service):
        return [name for name, r in result.items() if r['service'] == service][0]

    def generate(self, extra_dirs):
        dirs = list(extra_dirs) + [d for d in self.scope.search_dirs() if os.path.isdir(d)]
        argv = [self.runner.quadlet_binary(), '-dryrun', '-no-kmsg-log'] + (['-user'] if self.scope.is_user else [])
        return self.runner.run(argv, ok_rcs=None, env={'QUADLET_UNIT_DIRS': ':'.join(dirs)}, switch=False)

    def new_errors(self, others, cause):
        """Errors in other units that appear only with the new files (e.g. a reference they broke)."""
        dummy, dummy, err = self.generate([])
        before = set(classify_stderr_set(err, {})[2])
        return ['%s (caused by the new %s)' % (line, cause) for line in others if line not in before]

    def verify(self, staging, units, services):
        """systemd-analyze verify of the generated services, in one call: {service: error lines}."""
        analyze = self.runner.module.get_bin_path('systemd-analyze')
        if not analyze or not services:
            return {}
        gen = os.path.join(staging, 'generated')
        os.mkdir(gen)
        for name, text in units.items():
            with open(os.path.join(gen, name), 'w') as handle:
                handle.write(text)
        targets = [os.path.join(gen, service) for service in services]
        dummy, out, err = self.runner.run([analyze, 'verify', '--man=no', '--recursive-errors=no'] + targets,
                                          ok_rcs=None, switch=False)
        found = dict((os.path.basename(t), analyze_errors(out + '\n' + err, t)) for t in targets)
        return dict((name, lines) for name, lines in found.items() if lines)


# ---------------------------------------------------------------------------
# Unit files on disk
# ---------------------------------------------------------------------------

class UnitStore(object):
    """Reads, writes (atomically), backs up and removes one unit file in the scope's unit directory."""

    def __init__(self, module, scope, filename):
        self.module, self.scope, self.filename = module, scope, filename
        self.path = os.path.join(scope.unit_dir(), filename)
        self.backup_path = os.path.join(scope.backup_dir(), filename + '.lkg')

    def read(self):
        return read_text(self.path)

    def read_backup(self):
        return read_text(self.backup_path)

    def existing_backup(self):
        return self.backup_path if os.path.exists(self.backup_path) else None

    def shadowed_by(self):
        """A same-named file in a directory quadlet reads before ours wins over it."""
        for directory in self.scope.search_dirs():
            if os.path.normpath(directory) == os.path.normpath(self.scope.unit_dir()):
                return None
            candidate = os.path.join(directory, self.filename)
            if os.path.exists(candidate):
                return candidate
        return None

    def write(self, text):
        mode = os.stat(self.path).st_mode & 0o7777 if os.path.exists(self.path) else 0o644
        self.write_file(self.scope.unit_dir(), self.path, text, mode, 0o755)

    def backup(self, text):
        self.write_file(self.scope.backup_dir(), self.backup_path, text, 0o600, 0o700)
        return self.backup_path

    def remove(self):
        if os.path.exists(self.path):
            os.remove(self.path)

    def write_file(self, directory, path, text, mode, dir_mode):
        self.scope.makedirs(directory, dir_mode)
        # a dot name without a quadlet suffix: a concurrent daemon-reload never sees a half-written unit
        fd, tmp = tempfile.mkstemp(prefix='.%s.' % os.path.basename(path), suffix='.tmp', dir=directory)
        try:
            with os.fdopen(fd, 'wb') as handle:
                handle.write(text.encode('utf-8'))
            self.module.atomic_move(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        os.chmod(path, mode)
        self.scope.own(path)


def read_text(path):
    """A unit file's text, None when it cannot be read; UnitFileError when it is not UTF-8 (as systemd reads it)."""
    try:
        with open(path, 'rb') as handle:
            data = handle.read()
    except (IOError, OSError):
        return None
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError as exc:
        raise UnitFileError('not valid UTF-8 (%s)' % exc, filename=path)


def is_job(unit):
    """A parsed .container unit that is a one-shot job (Type=oneshot): done when its container exited 0."""
    return (unit.get('Service', 'Type') or '').strip() == 'oneshot'


def check_content(filename, text):
    """Refuse unit text with control characters other than tab and line ends: systemd ends a line at NUL, so
    what follows one would be read as new lines of the unit."""
    found = CONTROL_RE.search(text or '')
    if found:
        line = text.count('\n', 0, found.start()) + 1
        raise QuadletError('unit %s: line %d contains the control character %r (a NUL would end the line for '
                           'systemd and the rest be read as new lines)' % (filename, line, found.group(0)))


def ensure_newline(text):
    return text if text.endswith('\n') else text + '\n'


def pin_reference(image, digest):
    """repo@digest for an image reference and the digest it resolves to on the host (tag dropped).

    The stack_pin filter is this function: a reference that already has a digest is left alone.
    """
    if not digest or '@' in image:
        return image
    slash = image.rfind('/')
    colon = image.rfind(':')
    repo = image[:colon] if colon > slash else image
    return '%s@%s' % (repo, digest)

# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Private systemd/Quadlet unit-file helpers for homelab.deploy; not a public API, may change without notice.

The parser follows what podman's Quadlet generator reads (pkg/systemd/parser in podman), not
a generic INI reader, so that "did the effective unit change?" is answered the way Quadlet
would answer it.  Runs on managed nodes: standard library only, Python 3.8+.

Behaviour copied from Quadlet on purpose, quirks included:

* Lines are split on ``\\n`` only and trimmed of whitespace (so CRLF files read like LF files).
* A line ending in a backslash is joined with the next one; the backslash is dropped and no
  space is added.  Comment *and blank* lines inside a continuation are skipped.  A
  continuation still open at end of file is discarded, as Quadlet discards it.
* ``#`` and ``;`` start a comment only at the start of a line.
* Repeated ``[Section]`` headers are merged into the first one.
* ``Key=`` (empty value) resets the list for list-valued lookups.
* Word splitting (Exec=, PodmanArgs=, Environment=, Label=, Secret= ...) unquotes and applies
  C escapes; a value with an invalid escape is skipped whole, and splitting stops at the
  first empty word (``""``), as in Quadlet's port of systemd's extract_first_word.
* Specifiers (%h, %n, %i, ...) are left untouched in values.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import os
import posixpath
import re

from ansible.module_utils.six.moves.collections_abc import Mapping

# Go's unicode.IsSpace, which Quadlet uses for trimming; str.strip() would also eat \x1c-\x1f.
_GO_SPACE = u'\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a' \
            u'\u2028\u2029\u202f\u205f\u3000'
_WORD_SEPARATORS = ' \t\n\r'
_SIMPLE_ESCAPES = {'a': '\a', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t', 'v': '\v',
                   '\\': '\\', '"': '"', "'": "'", 's': ' '}
_HEX_DIGITS = frozenset('0123456789abcdefABCDEF')
_OCT_DIGITS = frozenset('01234567')
# escape letter -> (number of digits, allowed digits, base, largest value)
_NUMERIC_ESCAPES = {'x': (2, _HEX_DIGITS, 16, 0xff), 'u': (4, _HEX_DIGITS, 16, 0xffff), 'U': (8, _HEX_DIGITS, 16, 0x10ffff)}

CONTAINER = 'Container'
SERVICE = 'Service'


class UnitFileError(Exception):
    """A unit file (or a value in it) cannot be read or written; ``line`` is 1-based or None."""

    def __init__(self, reason, line=None, filename=None):
        self.reason = reason
        self.line = line
        self.filename = filename
        where = [part for part in (filename, 'line %d' % line if line is not None else None) if part]
        super(UnitFileError, self).__init__(': '.join(where + [reason]))


# -- parsing -------------------------------------------------------------------------------------

class UnitFile(object):
    """Sections and their (key, value) entries in file order; comments are not kept."""

    def __init__(self, filename=None):
        self.filename = filename
        self._sections = {}
        self._order = []

    def __eq__(self, other):
        if not isinstance(other, UnitFile):
            return NotImplemented
        return self._as_pairs() == other._as_pairs()

    __hash__ = None

    def __repr__(self):
        return 'UnitFile(%r, %r)' % (self.filename, self._as_pairs())

    def _ensure_section(self, name):
        if name not in self._sections:
            self._sections[name] = []
            self._order.append(name)
        return self._sections[name]

    def _as_pairs(self):
        return [(name, list(self._sections[name])) for name in self._order]

    def merge(self, other):
        """Append a drop-in's entries to this unit, section by section, as Quadlet merges a .conf file: a key the
        drop-in sets again wins for single-value keys, adds to list keys, and an empty value resets them."""
        for name, entries in other._as_pairs():
            self._ensure_section(name).extend(entries)
        return self

    def sections(self):
        """Section names in order of first appearance (repeated headers are merged)."""
        return list(self._order)

    def entries(self, section):
        """All (key, value) pairs of a section in file order, resets included; [] if absent."""
        return list(self._sections.get(section, ()))

    def has(self, section, key):
        """True if the key is assigned at least once in the section, even to an empty value."""
        return any(k == key for k, dummy in self._sections.get(section, ()))

    def get(self, section, key, default=None):
        """The last value assigned to the key (possibly ''), or default."""
        for k, value in reversed(self._sections.get(section, ())):
            if k == key:
                return value
        return default

    def get_all(self, section, key):
        """Every value of the key in order; an empty assignment drops the values before it."""
        values = []
        for k, value in self._sections.get(section, ()):
            if k == key:
                values = values + [value] if value else []
        return values

    def lookup_words(self, section, key):
        """Words of every value (unquoted, unescaped), as Quadlet's LookupAllArgs returns them."""
        words = []
        for value in self.get_all(section, key):
            try:
                words.extend(split_words(value))
            except UnitFileError:
                continue  # Quadlet drops a value it cannot split instead of failing
        return words


def _is_comment(line):
    return not line or line[0] in '#;'


def _is_section_header(line):
    if not line.startswith('['):
        return False
    end = line.find(']')
    return end != -1 and not line[end + 1:].strip(' \t')


def _section_name_problem(name):
    if not name:
        return 'empty section name'
    if '[' in name or ']' in name:
        return 'section name %r contains "[" or "]"' % name
    if any(ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f for c in name):
        return 'section name %r contains a control character' % name
    return None


def _as_text(text, filename):
    if isinstance(text, bytes):
        try:
            return text.decode('utf-8')
        except UnicodeDecodeError as exc:
            raise UnitFileError('not valid UTF-8 (%s)' % exc, filename=filename)
    if not isinstance(text, str):
        raise UnitFileError('expected unit text, got %s' % type(text).__name__, filename=filename)
    return text


def _logical_lines(text):
    """Yield (line number, trimmed line) with continuations joined and comments dropped."""
    if text.endswith('\n'):
        text = text[:-1]
    lines = text.split('\n')
    pending = ''
    for index, raw in enumerate(lines):
        line = raw.strip(_GO_SPACE)
        if _is_comment(line):
            continue
        if line.endswith('\\'):
            line = line[:-1]
            if index != len(lines) - 1:
                pending += line
                continue
        yield index + 1, pending + line
        pending = ''


def _parse_line(unit, current, line, lineno):
    """Apply one logical line to unit; return the section that following keys belong to."""
    if _is_section_header(line):
        name = line[1:line.index(']')]
        problem = _section_name_problem(name)
        if problem:
            raise UnitFileError(problem, lineno, unit.filename)
        return unit._ensure_section(name)
    eq = line.find('=')
    if eq <= 0:
        raise UnitFileError('%r is not a [Section] header, a key=value pair or a comment' % line, lineno, unit.filename)
    if current is None:
        raise UnitFileError('key %r appears before any [Section] header' % line[:eq].rstrip(_GO_SPACE), lineno, unit.filename)
    current.append((line[:eq].rstrip(_GO_SPACE), line[eq + 1:].lstrip(_GO_SPACE)))
    return current


def parse_unit(text, filename=None):
    """Parse unit-file text (str or UTF-8 bytes) into a UnitFile; raise UnitFileError naming the line."""
    unit = UnitFile(filename)
    current = None
    for lineno, line in _logical_lines(_as_text(text, filename)):
        current = _parse_line(unit, current, line, lineno)
    return unit


def dropin_dirs(filename):
    """The drop-in directories Quadlet reads for a unit file name, least specific first: the top-level type
    directory (container.d), the names truncated after each dash (foo-.container.d, foo-bar-.container.d), a
    template's (foo@.container.d for foo@x.container), and the unit's own (foo-bar-baz.container.d)."""
    base, dot, unit_type = filename.rpartition('.')
    if not dot:
        return []
    dirs = ['%s.d' % unit_type]
    name, at, instance = base.partition('@')
    parts = name.split('-')
    dirs += ['%s-.%s.d' % ('-'.join(parts[:i]), unit_type) for i in range(1, len(parts))]
    if at and instance:
        dirs.append('%s@.%s.d' % (name, unit_type))
    dirs.append('%s.d' % filename)
    return dirs


def parse_with_dropins(path, read_text):
    """The unit at path with its drop-ins (*.conf in dropin_dirs beside it) merged in alphabetical order of their
    file names; a drop-in further down the hierarchy replaces one of the same name further up. read_text(path)
    returns a file's text or None. Returns (unit, the drop-in paths merged)."""
    directory, filename = posixpath.split(path)
    unit = parse_unit(read_text(path) or '', path)
    chosen = {}
    for sub in dropin_dirs(filename):
        folder = posixpath.join(directory, sub)
        if os.path.isdir(folder):
            for name in os.listdir(folder):
                if name.endswith('.conf'):
                    chosen[name] = posixpath.join(folder, name)
    merged = []
    for name in sorted(chosen):
        unit.merge(parse_unit(read_text(chosen[name]) or '', chosen[name]))
        merged.append(chosen[name])
    return unit, merged


def _format_sections(pairs):
    blocks = []
    for name, entries in pairs:
        lines = ['[%s]' % name] + ['%s=%s' % entry for entry in entries]
        blocks.append('\n'.join(lines) + '\n')
    return '\n'.join(blocks)


def canonical_text(text, filename=None):
    """The effective content of a unit: comments, blank lines and layout dropped, order kept.

    Equal canonical texts mean Quadlet generates the same effective unit.  Edits that only touch
    comments, blank lines, whitespace around "=" or at line ends, continuation layout or repeated
    section headers keep it equal; any value edit or reordering of entries changes it.
    """
    return _format_sections(parse_unit(text, filename)._as_pairs())


# -- word splitting --------------------------------------------------------------------------------

def _code_point(digits, spec):
    count, alphabet, base, limit = spec
    if len(digits) != count or not all(d in alphabet for d in digits):
        return None
    value = int(digits, base)
    if value == 0 or value > limit:  # NUL is refused, like systemd's cunescape
        return None
    return u'\ufffd' if 0xd800 <= value <= 0xdfff else chr(value)


def _unescape_at(text, pos):
    """Decode the C escape whose letter is at text[pos]: (char, length consumed) or None."""
    letter = text[pos]
    if letter in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[letter], 1
    if letter in _NUMERIC_ESCAPES:
        spec = _NUMERIC_ESCAPES[letter]
        char = _code_point(text[pos + 1:pos + 1 + spec[0]], spec)
        return (char, 1 + spec[0]) if char is not None else None
    if letter in _OCT_DIGITS:
        char = _code_point(text[pos:pos + 3], (3, _OCT_DIGITS, 8, 0xff))
        return (char, 3) if char is not None else None
    return None


def _take_word(text, pos, escapes, relax):
    """Read one word starting at a non-separator; return (word, position after it)."""
    out = []
    quote = None
    while pos < len(text):
        c = text[pos]
        if escapes and c == '\\':
            if pos + 1 == len(text):
                if relax:
                    return ''.join(out), len(text)
                raise UnitFileError('trailing backslash in %r' % text)
            decoded = _unescape_at(text, pos + 1)
            if decoded is None:
                raise UnitFileError('unsupported escape "\\%s" in %r' % (text[pos + 1], text))
            out.append(decoded[0])
            pos += 1 + decoded[1]
            continue
        if quote:
            if c == quote:
                quote = None
            else:
                out.append(c)
        elif c in '"\'':
            quote = c
        elif c in _WORD_SEPARATORS:
            break
        else:
            out.append(c)
        pos += 1
    if quote and not relax:
        raise UnitFileError('unbalanced quotes in %r' % text)
    return ''.join(out), pos


def _split(text, escapes, relax):
    text = text.split('\x00', 1)[0]  # the Go port treats NUL as end of input
    words = []
    pos = 0
    while True:
        while pos < len(text) and text[pos] in _WORD_SEPARATORS:
            pos += 1
        if pos >= len(text):
            return words
        word, pos = _take_word(text, pos, escapes, relax)
        if not word:
            return words  # Quadlet's splitter stops at an empty word such as ""
        words.append(word)


def split_words(value):
    """Split an Exec=-style value into words: quotes removed, C escapes applied.

    Raises UnitFileError for an unsupported escape; unbalanced quotes and a trailing backslash
    are tolerated the way Quadlet tolerates them.
    """
    return _split(value, escapes=True, relax=True)


def split_strv(value):
    """Split a list value (AddDevice=, DropCapability=, Unit After= ...): quotes removed, backslashes kept."""
    return _split(value, escapes=False, relax=False)


def _key_values(unit, section, key):
    """Quadlet's LookupAllKeyVal: KEY=VALUE words into a dict; a bare word maps to None."""
    result = {}
    for word in unit.lookup_words(section, key):
        name, sep, value = word.partition('=')
        result[name] = value if sep else None
    return result


def _lookup(unit, section, key):
    """Quadlet's Lookup: last value, trailing space trimmed, one surrounding pair of double quotes removed."""
    value = unit.get(section, key)
    if value is None:
        return None
    value = value.rstrip(_GO_SPACE)
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        value = value[1:-1]
    return value


def _lookup_set(unit, section, key):
    """Like _lookup, but None for an empty value too (Quadlet ignores empty single-value keys)."""
    return _lookup(unit, section, key) or None


# -- rendering -------------------------------------------------------------------------------------

def _check_section_name(name):
    if not isinstance(name, str):
        raise UnitFileError('section name %r is not a string' % (name,))
    problem = _section_name_problem(name)
    if problem:
        raise UnitFileError(problem)


# Control characters other than tab and the line ends (keys and values refuse those with their own message):
# systemd ends a line at NUL (the rest would become new lines of the unit, a [Service] section with ExecStartPre=
# for one), and the others have no place in a unit file either. quadlet.check_content uses it for unit text.
CONTROL_RE = re.compile(u'[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]')


def _check_key(section, key):
    if not isinstance(key, str) or not key:
        raise UnitFileError('[%s]: key %r must be a non-empty string' % (section, key))
    if '=' in key or '\n' in key or '\r' in key:
        raise UnitFileError('[%s]: key %r contains "=" or a newline' % (section, key))
    if CONTROL_RE.search(key):
        raise UnitFileError('[%s]: key %r contains a control character' % (section, key))
    if key != key.strip(_GO_SPACE) or key[0] in '#;':
        raise UnitFileError('[%s]: key %r has surrounding whitespace or starts like a comment' % (section, key))


def _scalar_text(section, key, value):
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return value
    raise UnitFileError('[%s] %s: cannot render a %s value' % (section, key, type(value).__name__))


def _render_value(section, key, value):
    text = _scalar_text(section, key, value)
    if '\n' in text or '\r' in text:
        raise UnitFileError('[%s] %s: value contains a newline' % (section, key))
    found = CONTROL_RE.search(text)
    if found:
        raise UnitFileError('[%s] %s: value contains the control character %r (a NUL would end the line for systemd)'
                            % (section, key, found.group(0)))
    if text != text.strip(_GO_SPACE):
        raise UnitFileError('[%s] %s: leading or trailing whitespace in %r would be lost' % (section, key, text))
    if text.endswith('\\'):
        raise UnitFileError('[%s] %s: a trailing backslash in %r would continue the line' % (section, key, text))
    return text


def _value_items(section, key, value):
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        if any(item is None or isinstance(item, (list, tuple, dict)) for item in value):
            raise UnitFileError('[%s] %s: list items must be scalars' % (section, key))
        return list(value)
    return [value]


def _section_entries(name, body):
    if not isinstance(body, Mapping):
        raise UnitFileError('[%s]: expected a mapping of keys, got %s' % (name, type(body).__name__))
    entries = []
    for key, value in body.items():
        _check_key(name, key)
        entries.extend((key, _render_value(name, key, item)) for item in _value_items(name, key, value))
    return entries


def _check_reads_back(text, pairs):
    """Safety net for shapes the checks above miss, e.g. a key "[a" with value "]" reads as a header."""
    read = parse_unit(text)._as_pairs()
    for index, (name, entries) in enumerate(pairs):
        if index >= len(read) or read[index] != (name, entries):
            raise UnitFileError('[%s]: these entries cannot be represented in a unit file: %r' % (name, entries))
    if len(read) != len(pairs):
        raise UnitFileError('the definition would read back with extra sections %r' % [n for n, e in read[len(pairs):]])


def render_unit(sections):
    """Render {section: {key: value or list}} to unit text; a list repeats the key, None omits it.

    Raises UnitFileError for anything that would not parse back to the same entries.
    """
    if not isinstance(sections, Mapping):
        raise UnitFileError('expected a mapping of sections, got %s' % type(sections).__name__)
    pairs = []
    for name, body in sections.items():
        _check_section_name(name)
        pairs.append((name, _section_entries(name, body)))
    text = _format_sections(pairs)
    _check_reads_back(text, pairs)
    return text


# -- container spec --------------------------------------------------------------------------------

# PodmanArgs flags taking a value -> (spec group, field)
_PODMAN_VALUE_FLAGS = {
    '--memory': ('memory', 'limit'), '-m': ('memory', 'limit'),
    '--memory-reservation': ('memory', 'reservation'), '--memory-swap': ('memory', 'swap'),
    '--cpus': ('cpu', 'cpus'), '--cpu-shares': ('cpu', 'shares'), '-c': ('cpu', 'shares'),
    '--cpu-quota': ('cpu', 'quota'), '--cpu-period': ('cpu', 'period'),
    '--cpuset-cpus': ('cpu', 'cpuset_cpus'), '--cpuset-mems': ('cpu', 'cpuset_mems'),
}
_SERVICE_LIMITS = {
    'memory': ('MemoryMin', 'MemoryLow', 'MemoryHigh', 'MemoryMax', 'MemorySwapMax'),
    'cpu': ('CPUWeight', 'CPUQuota', 'CPUQuotaPeriodSec', 'AllowedCPUs', 'Nice'),
}
_HEALTH_KEYS = (
    ('HealthCmd', 'cmd'), ('HealthInterval', 'interval'), ('HealthTimeout', 'timeout'), ('HealthRetries', 'retries'),
    ('HealthStartPeriod', 'start_period'), ('HealthOnFailure', 'on_failure'), ('HealthLogDestination', 'log_destination'),
    ('HealthMaxLogCount', 'max_log_count'), ('HealthMaxLogSize', 'max_log_size'), ('HealthStartupCmd', 'startup_cmd'),
    ('HealthStartupInterval', 'startup_interval'), ('HealthStartupRetries', 'startup_retries'),
    ('HealthStartupSuccess', 'startup_success'), ('HealthStartupTimeout', 'startup_timeout'),
)
_PORT_RE = re.compile(r'^(?:(?:(?P<ip>\[[^\]]*\]|[^:\[\]]*):)?(?P<host>[^:]*):)?(?P<container>[^:]+)$')
_SPECIFIER_RE = re.compile(r'%(.|$)')  # a lone trailing % cannot be resolved
_SECRET_FIELDS = ('type', 'target')


def _option_order(option):
    return option.lower(), option


def parse_volume(value):
    """Split a Volume= value: {source, target, options (sorted, case-insensitive), mode 'ro'|'rw'}."""
    parts = value.split(':', 2)
    if len(parts) == 1:
        source, target, options = None, parts[0], []
    else:
        # an empty source (Volume=:/data) is an anonymous volume, as podman makes it
        source, target = parts[0] or None, parts[1]
        options = [o for o in parts[2].split(',') if o] if len(parts) == 3 else []
    options = sorted(options, key=_option_order)
    return {'source': source, 'target': target, 'options': options, 'mode': 'ro' if 'ro' in options else 'rw'}


def parse_publish_port(value):
    """Split a PublishPort= value [[ip:][hostPort]:]containerPort[/protocol] into its parts (strings).

    Ports stay strings: ranges (8000-8010) and ${VAR} references are valid there.
    """
    spec, dummy, protocol = value.strip(_GO_SPACE).partition('/')
    match = _PORT_RE.match(spec)
    if not match:
        raise UnitFileError('PublishPort=%s: expected [[ip:][hostPort]:]containerPort[/protocol]; '
                            'write IPv6 addresses in brackets' % value)
    host_ip = match.group('ip') or None
    if host_ip and host_ip.startswith('['):
        host_ip = host_ip[1:-1] or None
    return {'host_ip': host_ip, 'host_port': match.group('host') or None,
            'container_port': match.group('container'), 'protocol': protocol or 'tcp'}


def parse_secret(value):
    """Split one Secret= word (name[,type=mount|env][,target=...][,uid=..,gid=..,mode=..]).

    Returns {name, type, target, options}; target defaults the way podman does
    (/run/secrets/<name> for a mount, the name for an env secret).
    """
    secret = {'name': None, 'type': 'mount', 'target': None, 'options': {}}
    for part in value.split(','):
        key, sep, item = part.partition('=')
        if not sep and secret['name'] is None:
            secret['name'] = key
        elif key in ('source', 'src') and sep:
            secret['name'] = item
        elif sep and key in _SECRET_FIELDS:
            secret[key] = item
        elif sep:
            secret['options'][key] = item
        else:
            raise UnitFileError('Secret=%s: %r is not an option=value pair' % (value, part))
    if not secret['name']:
        raise UnitFileError('Secret=%s: no secret name' % value)
    secret['target'] = _secret_target(secret)
    return secret


def _secret_target(secret):
    target = secret['target'] or secret['name']
    if secret['type'] == 'mount' and not target.startswith('/'):
        return '/run/secrets/' + target
    return target


def _unit_dir(unit):
    directory = posixpath.dirname(unit.filename or '')
    return directory if directory.startswith('/') else None


def _absolute(unit, path):
    """Quadlet's getAbsolutePath, when the unit's directory is known."""
    directory = _unit_dir(unit)
    if directory is None or path.startswith('/') or (path.startswith('%') and not path.startswith('%%')):
        return path
    return posixpath.normpath(posixpath.join(directory, path))


def _service_name(unit):
    if unit.has(CONTAINER, 'ServiceName'):
        return _lookup(unit, CONTAINER, 'ServiceName')
    base = posixpath.basename(unit.filename or '')
    dot = base.rfind('.')
    return base[:dot] if dot > 0 else base


def _resolve_specifiers(template, service):
    """Expand %N %p %i %% in a container name; None if anything else (or an unknown unit) is left."""
    prefix, at, instance = service.partition('@') if service else ('', '', '')
    values = {'N': service, 'p': prefix, 'i': instance if at else '', '%': '%'}
    unresolved = []

    def expand(match):
        value = values.get(match.group(1))
        if not value:
            unresolved.append(match.group(0))
        return value or ''

    name = _SPECIFIER_RE.sub(expand, template)
    return None if unresolved else name


def _container_name(unit):
    """ContainerName=, else Quadlet's default systemd-%N (systemd-%p_%i for template instances)."""
    name = _lookup_set(unit, CONTAINER, 'ContainerName')
    if name is None:
        name = 'systemd-%p_%i' if '@' in posixpath.basename(unit.filename or '') else 'systemd-%N'
    return _resolve_specifiers(name, _service_name(unit))


_MOUNT_RELABEL = {'shared': 'z', 'private': 'Z'}


def parse_mount(value):
    """A Mount= value (type=bind|volume,source=..,destination=..,ro,relabel=..) as parse_volume's dict, or None for
    the types drift does not model as volumes (tmpfs, image, devpts...)."""
    fields = {}
    for part in split_words(value.replace(',', ' ')) if value else []:
        key, sep, item = part.partition('=')
        fields[key.lower()] = item if sep else 'true'
    kind = fields.get('type', 'volume')
    if kind not in ('bind', 'volume'):
        return None
    source = fields.get('source') or fields.get('src')
    target = fields.get('destination') or fields.get('dst') or fields.get('target')
    if not target:
        raise UnitFileError('Mount=%s: no destination' % value)
    readonly = fields.get('ro', fields.get('readonly', 'false')).lower() in ('true', '1', 'yes')
    options = (['ro'] if readonly else []) + ([_MOUNT_RELABEL[fields['relabel']]] if fields.get('relabel') in _MOUNT_RELABEL else [])
    return {'source': source or None, 'target': target, 'options': sorted(options, key=_option_order),
            'mode': 'ro' if readonly else 'rw'}


def _pod(unit):
    pod = _lookup_set(unit, CONTAINER, 'Pod')
    if pod and not pod.endswith('.pod'):
        raise UnitFileError('Pod=%s: Quadlet takes a .pod unit only (Pod=%s.pod)' % (pod, pod), filename=unit.filename)
    return pod


def _entrypoint(unit):
    """Entrypoint= as Quadlet passes it: None when unset, '' for an empty Entrypoint= (--entrypoint=, which clears the
    image's entrypoint)."""
    if not unit.has(CONTAINER, 'Entrypoint'):
        return None
    return _lookup(unit, CONTAINER, 'Entrypoint') or ''


def _volumes(unit):
    volumes = []
    for value in unit.get_all(CONTAINER, 'Volume'):
        volume = parse_volume(value)
        if volume['source'] and volume['source'].startswith('.'):
            volume['source'] = _absolute(unit, volume['source'])
        volumes.append(volume)
    for value in unit.get_all(CONTAINER, 'Mount'):
        mount = parse_mount(value)
        if mount is not None:
            if mount['source'] and mount['source'].startswith('.'):
                mount['source'] = _absolute(unit, mount['source'])
            volumes.append(mount)
    return volumes


def _command(unit):
    """Quadlet's LookupLastArgs: words of the last Exec= only; an unsplittable value gives none."""
    value = unit.get(CONTAINER, 'Exec')
    try:
        return split_words(value) if value else []
    except UnitFileError:
        return []


def _flag_value(word, following):
    """(flag, value, words consumed) for a known value-taking PodmanArgs flag, else None."""
    if word in _PODMAN_VALUE_FLAGS:
        return (word, following, 2) if following is not None else None
    flag, sep, value = word.partition('=')
    if sep and flag in _PODMAN_VALUE_FLAGS:
        return flag, value, 1
    if len(word) > 2 and word[:2] in ('-m', '-c'):  # -m512m, like pflag accepts
        return word[:2], word[2:], 1
    return None


def _podman_arg_limits(words):
    """Resource flags from PodmanArgs; later flags win, as they do on podman's command line."""
    found = {'memory': {}, 'cpu': {}}
    index = 0
    while index < len(words):
        following = words[index + 1] if index + 1 < len(words) else None
        parsed = _flag_value(words[index], following)
        if parsed is None:
            index += 1
            continue
        group, field = _PODMAN_VALUE_FLAGS[parsed[0]]
        found[group][field] = parsed[1]
        index += parsed[2]
    return found


def _limits(unit, podman_args):
    limits = _podman_arg_limits(podman_args)
    memory = _lookup_set(unit, CONTAINER, 'Memory')
    if memory and 'limit' not in limits['memory']:
        limits['memory']['limit'] = memory
    for group, keys in _SERVICE_LIMITS.items():
        for key in keys:
            value = unit.get(SERVICE, key)
            if value:
                limits[group][key] = value
    return limits


def _health(unit):
    health = {}
    for key, field in _HEALTH_KEYS:
        value = _lookup_set(unit, CONTAINER, key)
        if value is not None:
            health[field] = value
    if (_lookup(unit, CONTAINER, 'Notify') or '').lower() == 'healthy':
        health['notify_healthy'] = True
    return health


def _user(unit):
    user = _lookup_set(unit, CONTAINER, 'User')
    group = _lookup_set(unit, CONTAINER, 'Group')
    if group and not user:
        raise UnitFileError('Group=%s is set without User= (Quadlet refuses this)' % group, filename=unit.filename)
    return '%s:%s' % (user, group) if group else user


def _image(unit):
    image = _lookup_set(unit, CONTAINER, 'Image')
    rootfs = _lookup_set(unit, CONTAINER, 'Rootfs')
    if image and rootfs:
        raise UnitFileError('Image= and Rootfs= cannot both be set', filename=unit.filename)
    if not image and not rootfs:
        raise UnitFileError('no Image= or Rootfs= in [Container]', filename=unit.filename)
    return image, rootfs


def container_spec(unit):
    """The desired container as a .container file declares it, normalized for comparison.

    Every key is always present (None, [] or {} when not declared).  Values are what Quadlet
    passes to podman: .network/.volume/.pod references, specifiers and ${VAR}s are kept as
    written; relative paths are made absolute only when the unit's filename is an absolute path.
    ``name`` is resolved (%N, %p, %i) from the filename, or None when it cannot be.  ``labels``
    holds Label= only: AutoUpdate= adds io.containers.autoupdate on the node, see ``auto_update``.
    ``memory`` and ``cpu`` hold podman-side limits under short names (memory: limit, reservation,
    swap; cpu: cpus, shares, quota, period, cpuset_cpus, cpuset_mems; PodmanArgs beats Memory=)
    and [Service] cgroup settings under their systemd names (MemoryMax, MemoryHigh, CPUWeight,
    CPUQuota, Nice, ...).  ``health`` uses podman's --health-* names with underscores, plus
    ``notify_healthy`` for Notify=healthy.  ``ports`` keep ports as strings (ranges, ${VAR}s).
    Raises UnitFileError where Quadlet would refuse the unit (no Image=/Rootfs=, both, Group=
    without User=) or a PublishPort=/Secret= value cannot be read.
    """
    image, rootfs = _image(unit)
    podman_args = unit.lookup_words(CONTAINER, 'PodmanArgs')
    limits = _limits(unit, podman_args)
    return {
        'name': _container_name(unit), 'image': image, 'rootfs': rootfs,
        'command': _command(unit), 'entrypoint': _entrypoint(unit),
        'env': _key_values(unit, CONTAINER, 'Environment'),
        'env_files': [_absolute(unit, p) for p in unit.lookup_words(CONTAINER, 'EnvironmentFile')],
        'volumes': _volumes(unit),
        'ports': [parse_publish_port(v) for v in unit.get_all(CONTAINER, 'PublishPort')],
        'networks': unit.get_all(CONTAINER, 'Network'),
        'labels': _key_values(unit, CONTAINER, 'Label'),
        'memory': limits['memory'], 'cpu': limits['cpu'], 'health': _health(unit), 'user': _user(unit),
        'secrets': [parse_secret(w) for w in unit.lookup_words(CONTAINER, 'Secret')],
        'pod': _pod(unit), 'auto_update': _lookup_set(unit, CONTAINER, 'AutoUpdate'),
        'pull': _lookup_set(unit, CONTAINER, 'Pull'), 'podman_args': podman_args,
        'runtime': _runtime(unit, podman_args),
    }


def _flag(unit, key):
    value = _lookup_set(unit, CONTAINER, key)
    return None if value is None else value.lower() in ('true', 'yes', '1', 'on')


def _capabilities(unit, key):
    """AddCapability=/DropCapability= words as podman names them (CAP_ prefixed, upper case; ALL for all)."""
    out = []
    for word in unit.lookup_words(CONTAINER, key):
        name = word.upper()
        out.append(name if name == 'ALL' or name.startswith('CAP_') else 'CAP_' + name)
    return out


def _ulimits(unit):
    out = {}
    for word in unit.lookup_words(CONTAINER, 'Ulimit'):
        name, dummy, limits = word.partition('=')
        soft, dummy, hard = limits.partition(':')
        out[name] = (soft, hard or soft)
    return out


def _runtime(unit, podman_args):
    """The keys of the container's run-time surface a unit sets (None, [] or {} when it does not), as Quadlet passes
    them to podman: ShmSize=, Ulimit=, WorkingDir=, HostName=, DNS*=, AddHost=, Timezone=, GroupAdd=, RunInit=,
    StopSignal=, Annotation=, ReadOnly=, Tmpfs=, AddCapability=, DropCapability=, AddDevice=, NoNewPrivileges= and
    PodmanArgs=--privileged."""
    return {
        'add_capabilities': _capabilities(unit, 'AddCapability'),
        'drop_capabilities': _capabilities(unit, 'DropCapability'),
        'devices': [word.split(':', 1)[0].lstrip('-') for word in unit.lookup_words(CONTAINER, 'AddDevice')],
        'no_new_privileges': _flag(unit, 'NoNewPrivileges'),
        'working_dir': _lookup_set(unit, CONTAINER, 'WorkingDir'), 'hostname': _lookup_set(unit, CONTAINER, 'HostName'),
        'stop_signal': _lookup_set(unit, CONTAINER, 'StopSignal'), 'timezone': _lookup_set(unit, CONTAINER, 'Timezone'),
        'shm_size': _lookup_set(unit, CONTAINER, 'ShmSize'), 'init': _flag(unit, 'RunInit'),
        'read_only': _flag(unit, 'ReadOnly'), 'privileged': True if '--privileged' in podman_args else None,
        'dns': unit.get_all(CONTAINER, 'DNS'), 'dns_search': unit.get_all(CONTAINER, 'DNSSearch'),
        'dns_options': unit.get_all(CONTAINER, 'DNSOption'), 'add_hosts': unit.lookup_words(CONTAINER, 'AddHost'),
        'group_add': unit.lookup_words(CONTAINER, 'GroupAdd'), 'ulimits': _ulimits(unit),
        'annotations': _key_values(unit, CONTAINER, 'Annotation'),
        'tmpfs': [word.split(':', 1)[0] for word in unit.get_all(CONTAINER, 'Tmpfs')],
    }

# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the private unit-file helpers: parsing, word splitting, canonical text, rendering, container specs.

Many inputs are podman's own parser and Quadlet test cases (pkg/systemd/parser/*_test.go,
test/e2e/quadlet/*.container) with the results Quadlet produces for them.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from collections import OrderedDict

import pytest

from ansible_collections.homelab.deploy.plugins.module_utils import _unitfile as uf
from ansible_collections.homelab.deploy.plugins.module_utils._unitfile import UnitFileError
NO_RUNTIME = {'working_dir': None, 'hostname': None, 'stop_signal': None, 'timezone': None, 'shm_size': None, 'init': None,
              'read_only': None, 'privileged': None, 'dns': [], 'dns_search': [], 'dns_options': [], 'add_hosts': [],
              'group_add': [], 'ulimits': {}, 'annotations': {}, 'tmpfs': [], 'add_capabilities': [],
              'drop_capabilities': [], 'devices': [], 'no_new_privileges': None}


def entries(text, section):
    return uf.parse_unit(text).entries(section)


# -- parsing ----------------------------------------------------------------------------------------

def test_parse_keeps_sections_and_repeated_keys_in_order():
    unit = uf.parse_unit('[Unit]\nDescription=web\nAfter=a.service\nAfter=b.service\n\n[Container]\nImage=x\nVolume=/a:/a\nVolume=/b:/b\n')
    assert unit.sections() == ['Unit', 'Container']
    assert unit.entries('Unit') == [('Description', 'web'), ('After', 'a.service'), ('After', 'b.service')]
    assert unit.entries('Container') == [('Image', 'x'), ('Volume', '/a:/a'), ('Volume', '/b:/b')]


@pytest.mark.parametrize('text, expected', [
    ('[S]\nExec=a \\\n  b\n', [('Exec', 'a b')]),
    # Quadlet drops the backslash and adds no space (systemd would add one)
    ('[S]\nExec=a\\\n  b\n', [('Exec', 'ab')]),
    # systemd-logind.service sample from podman's unitfile_test.go: comment inside a continuation
    ('[S]\nCaps=CAP_A CAP_B \\\n# comment inside a continuation line \\\nCAP_C \\\nCAP_D\n', [('Caps', 'CAP_A CAP_B CAP_C CAP_D')]),
    ('[S]\nCaps=A \\\n; semicolon comment\nB\n', [('Caps', 'A B')]),
    ('[S]\nCaps=A \\\n\n   \nB\n', [('Caps', 'A B')]),
    ('[S]\nExec=one \\\n  two \\\n  three\nNext=1\n', [('Exec', 'one two three'), ('Next', '1')]),
    # last line ending in a backslash: kept, trailing spaces before it included
    ('[S]\nLimitNOFILE=524288  \\', [('LimitNOFILE', '524288  ')]),
    ('[S]\nA=1 \\\n', [('A', '1 ')]),
    # a continuation still open at end of file is dropped, as Quadlet drops it (emptyline.container)
    ('[S]\nExec=true \\\n\n# must have a blank line above\n', []),
    ('[S]\nKeep=1\nLost=x \\\n# trailing comment', [('Keep', '1')]),
    ('[S]\nKey=a\\\n=b\n', [('Key', 'a=b')]),
])
def test_continuations(text, expected):
    assert entries(text, 'S') == expected


def test_continuation_can_join_a_section_header():
    assert uf.parse_unit('[Con\\\ntainer]\nImage=x\n').sections() == ['Container']


@pytest.mark.parametrize('text, expected', [
    ('[S]\n# Image=commented\n; Image=also\nImage=real\n', [('Image', 'real')]),
    ('[S]\n   # indented comment\n\t; tab indented\nA=1\n', [('A', '1')]),
    ('[S]\nExec=echo # not a comment\n', [('Exec', 'echo # not a comment')]),
    ('[S]\nExec=echo ; not a comment\n', [('Exec', 'echo ; not a comment')]),
    ('# before any section\n; also\n\n[S]\nA=1\n', [('A', '1')]),
    ('[S]\n#A=1\\\nB=2\n', [('B', '2')]),
])
def test_comments_only_at_line_start(text, expected):
    assert entries(text, 'S') == expected


@pytest.mark.parametrize('line, expected', [
    ('Key=value', ('Key', 'value')),
    ('  Key  =  value  ', ('Key', 'value')),
    ('\tKey\t=\tvalue with  inner  spaces\t', ('Key', 'value with  inner  spaces')),
    ('Key=', ('Key', '')),
    ('Key =   ', ('Key', '')),
    ('Key==x', ('Key', '=x')),
    ('Key=a=b=c', ('Key', 'a=b=c')),
    ('Key=value\xa0', ('Key', 'value')),
    ('Key=value\r', ('Key', 'value')),
    # Go's unicode.IsSpace does not include the \x1c-\x1f separators that str.strip() would remove
    ('\x1cKey=v', ('\x1cKey', 'v')),
    ('Key With Space=v', ('Key With Space', 'v')),
    (u'Beschreibung=Caf\u00e9 \u2603', (u'Beschreibung', u'Caf\u00e9 \u2603')),
])
def test_whitespace_is_trimmed_around_keys_and_values(line, expected):
    assert entries('[S]\n' + line + '\n', 'S') == [expected]


@pytest.mark.parametrize('value', [
    '/usr/bin/foo %h/.config %n %N %i %I %t/containers %%',
    '-%h/env-file',
    'PODMAN_SYSTEMD_UNIT=%n',
    '${PORT}:${PORT}',
])
def test_specifiers_and_variables_are_left_intact(value):
    unit = uf.parse_unit('[S]\nKey=' + value + '\n')
    assert unit.get('S', 'Key') == value
    assert ' '.join(unit.lookup_words('S', 'Key')) == value


def test_crlf_reads_like_lf():
    lf = '[Unit]\nDescription=x\n\n[Container]\nImage=a\nExec=a \\\n  b\n'
    crlf = lf.replace('\n', '\r\n')
    assert uf.parse_unit(crlf) == uf.parse_unit(lf)
    assert uf.parse_unit(crlf).get('Container', 'Exec') == 'a b'


def test_repeated_section_headers_are_merged_into_the_first():
    unit = uf.parse_unit('[Container]\nA=1\n[Service]\nB=2\n[Container]\nC=3\n')
    assert unit.sections() == ['Container', 'Service']
    assert unit.entries('Container') == [('A', '1'), ('C', '3')]


@pytest.mark.parametrize('text, expected', [
    ('[Unit]  \t\nA=1\n', ['Unit']),
    ('[ Spaced Name ]\n', [' Spaced Name ']),
    ('[X-Container]\n[Install]\n', ['X-Container', 'Install']),
    ('# only comments\n\n; nothing else\n', []),
    ('', []),
    ('\n\n', []),
])
def test_section_headers(text, expected):
    assert uf.parse_unit(text).sections() == expected


@pytest.mark.parametrize('text, line, fragment', [
    ('Image=x\n', 1, 'before any [Section]'),
    ('# comment\n\nImage=x\n', 3, 'before any [Section]'),
    ('[Unit]\nnot a pair\n', 2, 'is not a [Section] header'),
    ('[Unit]\n=value\n', 2, 'is not a [Section] header'),
    ('[Unit] trailing\n', 1, 'is not a [Section] header'),
    ('[Unit\n', 1, 'is not a [Section] header'),
    ('[]\n', 1, 'empty section name'),
    ('[a[b]\n', 1, 'contains "[" or "]"'),
    ('[Unit]\nA=1\n[Ser\x01vice]\n', 3, 'control character'),
    ('[Unit]\nfoo \\\nbar \\\nbaz\n', 4, "'foo bar baz' is not"),
    (u'\ufeff[Unit]\nA=1\n', 1, 'is not a [Section] header'),
])
def test_parse_errors_name_the_line_and_reason(text, line, fragment):
    with pytest.raises(UnitFileError) as err:
        uf.parse_unit(text, filename='web.container')
    assert err.value.line == line
    assert fragment in err.value.reason
    assert str(err.value).startswith('web.container: line %d: ' % line)


def test_error_message_without_filename_names_the_line():
    with pytest.raises(UnitFileError, match=r'^line 2: ') as err:
        uf.parse_unit('[Unit]\ngarbage\n')
    assert err.value.filename is None


@pytest.mark.parametrize('data, expected', [
    (b'[Unit]\nDescription=caf\xc3\xa9\n', u'caf\u00e9'),
    (u'[Unit]\nDescription=caf\u00e9\n', u'caf\u00e9'),
])
def test_text_and_utf8_bytes_are_accepted(data, expected):
    assert uf.parse_unit(data).get('Unit', 'Description') == expected


@pytest.mark.parametrize('data, fragment', [(b'[Unit]\nA=\xff\n', 'not valid UTF-8'), (None, 'expected unit text'), (42, 'expected unit text')])
def test_unreadable_input_is_refused(data, fragment):
    with pytest.raises(UnitFileError, match=fragment):
        uf.parse_unit(data)


LOOKUP_UNIT = '''[Container]
Image=first
Image=second
Volume=/a:/a
Volume=/b:/b
Volume=
Volume=/c:/c
Network=
Empty=
Dns=1.1.1.1
Dns=
'''


@pytest.mark.parametrize('section, key, default, expected', [
    ('Container', 'Image', None, 'second'),
    ('Container', 'Volume', None, '/c:/c'),
    ('Container', 'Empty', 'dflt', ''),
    ('Container', 'Missing', None, None),
    ('Container', 'Missing', 'dflt', 'dflt'),
    ('NoSuchSection', 'Image', 'dflt', 'dflt'),
    ('Container', 'image', None, None),
])
def test_get_returns_the_last_value(section, key, default, expected):
    assert uf.parse_unit(LOOKUP_UNIT).get(section, key, default) == expected


@pytest.mark.parametrize('key, expected', [
    ('Image', ['first', 'second']),
    ('Volume', ['/c:/c']),
    ('Network', []),
    ('Dns', []),
    ('Missing', []),
])
def test_get_all_honours_empty_assignment_resets(key, expected):
    assert uf.parse_unit(LOOKUP_UNIT).get_all('Container', key) == expected


@pytest.mark.parametrize('section, key, expected', [
    ('Container', 'Image', True), ('Container', 'Empty', True), ('Container', 'Dns', True),
    ('Container', 'Missing', False), ('Service', 'Image', False),
])
def test_has(section, key, expected):
    assert uf.parse_unit(LOOKUP_UNIT).has(section, key) is expected


def test_entries_keep_resets_and_are_copies():
    unit = uf.parse_unit(LOOKUP_UNIT)
    got = unit.entries('Container')
    assert ('Volume', '') in got and got.index(('Volume', '')) == 4
    got.append(('Injected', 'x'))
    assert not unit.has('Container', 'Injected')
    assert unit.entries('Nope') == []


def test_unit_equality_compares_content():
    assert uf.parse_unit('[A]\nk=v\n') == uf.parse_unit('# c\n[A]\n k = v\n')
    assert uf.parse_unit('[A]\nk=v\n') != uf.parse_unit('[A]\nk=w\n')
    assert uf.parse_unit('[A]\nk=v\n') != '[A]\nk=v\n'


# -- word splitting ----------------------------------------------------------------------------------

@pytest.mark.parametrize('value, expected', [
    # TestExtractFirstWordUnescapes from podman's split_test.go
    (r'\a \b \f \n \r \t \v \\ \" \' \s \x50odman is \U0001F51F/\u0031\u0030 \110ello \127orld',
     ['\a', '\b', '\f', '\n', '\r', '\t', '\v', '\\', '"', "'", ' ', 'Podman', 'is', u'\U0001F51F/10', 'Hello', 'World']),
    # escapes.container
    (r'''/some/path "an arg" "a;b\nc\td'e" a;b\nc\td 'a"b' '\110ello \127orld' ''',
     ['/some/path', 'an arg', "a;b\nc\td'e", 'a;b\nc\td', 'a"b', 'Hello World']),
    # exec.container after its continuation is joined
    ('"/some/binary file" --arg1   "arg 2"', ['/some/binary file', '--arg1', 'arg 2']),
    ('a"b c"d', ['ab cd']),
    ("it' 's' fine'", ['it s fine']),
    ("it's' fine'", ['its', 'fine']),
    ('\t one \n two\r\nthree ', ['one', 'two', 'three']),
    (r'\xAb \u2a00 \376 \x41\x42', [u'\u00ab', u'\u2a00', u'\u00fe', 'AB']),
    (r'"quoted \"inner\" escape"', ['quoted "inner" escape']),
    # unbalanced quote and trailing backslash are tolerated (SplitRelax)
    ('"abc def', ['abc def']),
    ('abc\\', ['abc']),
    # Quadlet's splitter stops at the first empty word
    ('a "" b', ['a']),
    ("'' b", []),
    ('', []),
    ('   \t ', []),
    ('a\x00b c', ['a']),
])
def test_split_words(value, expected):
    assert uf.split_words(value) == expected


@pytest.mark.parametrize('value', [
    r'\k', r'\x1', r'\xzz', r'\xaz', r'\x00', r'\u123', r'\u12v1A', r'\u0000', r'\U123', r'\U12345678', r'\U1234V678',
    r'\U00000000', r'\77', r'\792', r'\758', r'\000', r'\777', r"'test\.com'", 'foo\\ bar', r'\x+1', r'\u 123',
])
def test_split_words_refuses_unsupported_escapes(value):
    with pytest.raises(UnitFileError, match='unsupported escape'):
        uf.split_words(value)


@pytest.mark.parametrize('value, expected', [
    ('CAP_A "CAP B" c\\d', ['CAP_A', 'CAP B', 'c\\d']),
    ("a.service 'b c.service'", ['a.service', 'b c.service']),
    (r'\n', [r'\n']),
])
def test_split_strv_keeps_backslashes(value, expected):
    assert uf.split_strv(value) == expected


def test_split_strv_refuses_unbalanced_quotes():
    with pytest.raises(UnitFileError, match='unbalanced quotes'):
        uf.split_strv('a "b')


@pytest.mark.parametrize('lines, expected', [
    (['PodmanArgs=--a \'b c\'', 'PodmanArgs=--d'], ['--a', 'b c', '--d']),
    (['PodmanArgs=--a', 'PodmanArgs=', 'PodmanArgs=--d e'], ['--d', 'e']),
    (['PodmanArgs=--a', 'PodmanArgs=\'test\\.com\'', 'PodmanArgs=--d'], ['--a', '--d']),
    (['PodmanArgs=--a \\', '  --b \\', '# comment', '  --c'], ['--a', '--b', '--c']),
    (['PodmanArgs=--a'], ['--a']),
    ([], []),
])
def test_lookup_words_splits_every_value_and_honours_resets(lines, expected):
    unit = uf.parse_unit('[Container]\n' + '\n'.join(lines) + '\n')
    assert unit.lookup_words('Container', 'PodmanArgs') == expected


def test_lookup_words_on_environment_keeps_quoted_values_with_spaces():
    unit = uf.parse_unit('[Container]\nEnvironment=A=1 "B=two words" \'C=it\\\'s\' D="x y"\n')
    assert unit.lookup_words('Container', 'Environment') == ['A=1', 'B=two words', "C=it's", 'D=x y']


# -- canonical text ----------------------------------------------------------------------------------

BASE = '''[Unit]
Description=Web app
After=network-online.target

[Container]
Image=docker.io/library/nginx:1.27
Volume=/srv/web:/usr/share/nginx/html:ro,Z
Volume=/srv/conf:/etc/nginx/conf.d:ro
PublishPort=127.0.0.1:8080:80
Exec=nginx -g "daemon off;"

[Install]
WantedBy=default.target
'''


@pytest.mark.parametrize('edited', [
    '# Managed by homelab.deploy\n' + BASE,
    BASE.replace('[Container]\n', '[Container]\n# the image\n; pinned\n'),
    BASE.replace('\n\n', '\n\n\n\n'),
    BASE.replace('\n\n', '\n'),
    BASE.replace('Image=', 'Image = '),
    BASE.replace('Description=Web app', '   Description   =   Web app   '),
    BASE.replace('\n', '\r\n'),
    BASE.rstrip('\n'),
    BASE.replace('Exec=nginx -g "daemon off;"', 'Exec=nginx \\\n    -g \\\n    # why: foreground\n    "daemon off;"'),
    BASE.replace('[Install]', '[Install]   '),
    BASE.replace('\nAfter=network-online.target\n', '\n[Container]\n[Unit]\nAfter=network-online.target\n'),
    BASE + '\n# trailing comment\n',
], ids=['header-comment', 'section-comments', 'more-blank-lines', 'no-blank-lines', 'space-around-equals', 'indent-and-trailing-space',
        'crlf', 'no-final-newline', 'continuation', 'space-after-header', 'split-section', 'trailing-comment'])
def test_canonical_text_ignores_layout_only_edits(edited):
    assert uf.canonical_text(edited) == uf.canonical_text(BASE)


@pytest.mark.parametrize('edited', [
    BASE.replace('nginx:1.27', 'nginx:1.28'),
    BASE.replace('Image=', 'image='),
    BASE.replace('Volume=/srv/web:/usr/share/nginx/html:ro,Z\nVolume=/srv/conf:/etc/nginx/conf.d:ro',
                 'Volume=/srv/conf:/etc/nginx/conf.d:ro\nVolume=/srv/web:/usr/share/nginx/html:ro,Z'),
    BASE.replace('Volume=/srv/web', 'Volume=\nVolume=/srv/web'),
    BASE.replace('"daemon off;"', '"daemon  off;"'),
    BASE.replace('Exec=nginx -g "daemon off;"', 'Exec=nginx\\\n -g "daemon off;"'),
    BASE.replace('Description=Web app', 'Description=Web app # note'),
    BASE.replace('[Install]\nWantedBy=default.target\n', '[Install]\n'),
    BASE + '[X-Extra]\n',
    BASE.replace('Image=docker.io/library/nginx:1.27', 'Image="docker.io/library/nginx:1.27"'),
], ids=['value', 'key-case', 'reordered-repeated-keys', 'added-reset', 'inner-whitespace', 'continuation-without-space',
        'hash-inside-value', 'removed-key', 'new-empty-section', 'quoted-value-is-conservatively-different'])
def test_canonical_text_changes_with_effective_edits(edited):
    assert uf.canonical_text(edited) != uf.canonical_text(BASE)


def test_canonical_text_exact_form():
    text = '# c\n[Unit]\n  Description = Web  \n\n[Container]\nImage=x\nExec=a \\\n b\n[Unit]\nAfter=y\n'
    assert uf.canonical_text(text) == '[Unit]\nDescription=Web\nAfter=y\n\n[Container]\nImage=x\nExec=a b\n'


@pytest.mark.parametrize('text', [BASE, '', '# only a comment\n', '[Empty]\n', '[S]\nA=\nB=1 \\\n2\n'])
def test_canonical_text_is_idempotent(text):
    once = uf.canonical_text(text)
    assert uf.canonical_text(once) == once


def test_canonical_text_keeps_trailing_space_a_final_continuation_leaves():
    # Quadlet writes "B=1 " into the generated unit and LookupAll (Volume=, PublishPort=) passes it on as is
    assert uf.canonical_text('[S]\nB=1 \\\n') == '[S]\nB=1 \n'
    assert uf.canonical_text('[S]\nB=1 \\\n') != uf.canonical_text('[S]\nB=1\n')


def test_canonical_text_reports_parse_errors_with_filename():
    with pytest.raises(UnitFileError, match=r'^/etc/x\.container: line 2: '):
        uf.canonical_text('[Container]\noops\n', filename='/etc/x.container')


# -- rendering ---------------------------------------------------------------------------------------

def test_render_unit_exact_output():
    definition = OrderedDict([
        ('Unit', {'Description': 'Web app', 'After': ['network-online.target', 'traefik.service']}),
        ('Container', OrderedDict([('Image', 'nginx:1.27'), ('ReadOnly', True), ('NoNewPrivileges', False),
                                   ('HealthRetries', 3), ('Volume', []), ('Pod', None), ('Network', ('a.network', 'b.network'))])),
        ('Install', {}),
    ])
    assert uf.render_unit(definition) == (
        '[Unit]\nDescription=Web app\nAfter=network-online.target\nAfter=traefik.service\n\n'
        '[Container]\nImage=nginx:1.27\nReadOnly=true\nNoNewPrivileges=false\nHealthRetries=3\n'
        'Network=a.network\nNetwork=b.network\n\n'
        '[Install]\n'
    )


ROUND_TRIP = [
    {'Container': {'Image': 'docker.io/library/nginx:1.27', 'Exec': '/bin/sh -c "echo \\"%h\\" && sleep 1"',
                   'Environment': ['A=1', '"B=two words"'], 'Label': 'traefik.http.routers.x.rule=Host(`x.lan`)'}},
    {'Service': {'ExecStartPre': '-/usr/bin/mkdir -p %h/data', 'Restart': 'always', 'TimeoutStartSec': 900, 'Nice': -5}},
    {'Container': {'Volume': ['/a:/a:ro,Z', '', '/b:/b']}},
    {'Container': {'Exec': 'a\\nb # not a comment ; nor this', 'Note': u'caf\u00e9 \\ middle backslash'}},
    {'Unit': {'Key With Space': 'v', 'K': '=leading equals', 'Desc': '[not a header]'}},
    {'S': {'Ratio': 1.5}},
    {},
]


@pytest.mark.parametrize('definition', ROUND_TRIP)
def test_render_unit_round_trips(definition):
    text = uf.render_unit(definition)
    unit = uf.parse_unit(text)
    assert unit.sections() == list(definition)
    for section, body in definition.items():
        expected = [(k, uf._render_value(section, k, item)) for k, v in body.items() for item in uf._value_items(section, k, v)]
        assert unit.entries(section) == expected
    assert uf.canonical_text(text) == text


def test_render_unit_empty_string_is_a_reset():
    text = uf.render_unit({'Container': {'Volume': ['/a:/a', '', '/b:/b']}})
    assert 'Volume=\n' in text
    assert uf.parse_unit(text).get_all('Container', 'Volume') == ['/b:/b']


@pytest.mark.parametrize('definition, fragment', [
    ({'Container': {'Exec': 'a\nb'}}, 'newline'),
    ({'Container': {'Exec': 'a\rb'}}, 'newline'),
    ({'Container': {'Volume': ['/a:/a', 'b\nc']}}, 'newline'),
    ({'': {'A': '1'}}, 'empty section name'),
    ({'Con[tainer': {'A': '1'}}, 'contains "[" or "]"'),
    ({'Container]': {'A': '1'}}, 'contains "[" or "]"'),
    ({'Con\ttainer': {'A': '1'}}, 'control character'),
    ({'Con\ntainer': {'A': '1'}}, 'control character'),
    ({1: {'A': '1'}}, 'is not a string'),
    ({'S': {'': '1'}}, 'non-empty string'),
    ({'S': {2: '1'}}, 'non-empty string'),
    ({'S': {'A=B': '1'}}, 'contains "="'),
    ({'S': {'A\nB': '1'}}, 'newline'),
    ({'S': {' A': '1'}}, 'surrounding whitespace'),
    ({'S': {'A ': '1'}}, 'surrounding whitespace'),
    ({'S': {'#A': '1'}}, 'starts like a comment'),
    ({'S': {';A': '1'}}, 'starts like a comment'),
    ({'S': {'A': ' padded'}}, 'whitespace'),
    ({'S': {'A': 'padded\t'}}, 'whitespace'),
    ({'S': {'A': 'continues\\'}}, 'trailing backslash'),
    ({'S': {'A': {'nested': 'dict'}}}, 'cannot render a dict'),
    ({'S': {'A': object()}}, 'cannot render a object'),
    ({'S': {'A': ['ok', None]}}, 'list items must be scalars'),
    ({'S': {'A': ['ok', ['nested']]}}, 'list items must be scalars'),
    ({'S': ['A=1']}, 'expected a mapping of keys'),
    ({'S': {'[a': ']'}}, 'cannot be represented'),
    (['S'], 'expected a mapping of sections'),
])
def test_render_unit_refuses_what_it_cannot_represent(definition, fragment):
    with pytest.raises(UnitFileError, match=fragment.replace('[', r'\[').replace(']', r'\]')):
        uf.render_unit(definition)


# -- container spec ----------------------------------------------------------------------------------

WEB_CONTAINER = r'''# Managed by homelab.deploy
[Unit]
Description=Nextcloud
After=postgres.service

[Container]
Image=docker.io/library/nextcloud:29-apache
ContainerName=nextcloud
AutoUpdate=registry
Pull=newer
Network=proxy.network
Network=backend.network:ip=10.89.0.10
PublishPort=127.0.0.1:8080:80
PublishPort=3478:3478/udp
PublishPort=9000
Volume=/srv/nextcloud/data:/var/www/html/data:Z,rw
Volume=/srv/nextcloud/config:/var/www/html/config:ro,Z
Volume=nextcloud-apps.volume:/var/www/html/custom_apps
Volume=/tmp/scratch
Environment=POSTGRES_HOST=postgres "NEXTCLOUD_TRUSTED_DOMAINS=cloud.lan cloud.example.org" \
            PHP_MEMORY_LIMIT=1G
Environment=TZ=Europe/Berlin
EnvironmentFile=/etc/homelab/nextcloud.env
Label=traefik.enable=true
Label="traefik.http.routers.nextcloud.rule=Host(`cloud.lan`) && PathPrefix(`/`)"
Secret=nextcloud-db,type=env,target=POSTGRES_PASSWORD
Secret=nextcloud-admin
Secret=source=tls-key,type=mount,target=tls.key,uid=33,gid=33,mode=0400
User=33
Group=33
HealthCmd=curl -fsS http://localhost/status.php
HealthInterval=30s
HealthTimeout=5s
HealthRetries=3
HealthStartPeriod=2m
HealthOnFailure=kill
Notify=healthy
Memory=1g
PodmanArgs=--cpus=2 --cpu-shares 512 --memory-reservation 512m
Exec=apache2-foreground

[Service]
Restart=always
MemoryMax=2G
MemoryHigh=1536M
CPUWeight=50
CPUQuota=150%
Nice=5

[Install]
WantedBy=default.target
'''


def test_container_spec_of_a_realistic_unit():
    unit = uf.parse_unit(WEB_CONTAINER, filename='/etc/containers/systemd/nextcloud.container')
    assert uf.container_spec(unit) == {
        'name': 'nextcloud',
        'image': 'docker.io/library/nextcloud:29-apache',
        'rootfs': None,
        'command': ['apache2-foreground'],
        'entrypoint': None,
        'env': {'POSTGRES_HOST': 'postgres', 'NEXTCLOUD_TRUSTED_DOMAINS': 'cloud.lan cloud.example.org',
                'PHP_MEMORY_LIMIT': '1G', 'TZ': 'Europe/Berlin'},
        'env_files': ['/etc/homelab/nextcloud.env'],
        'volumes': [
            {'source': '/srv/nextcloud/data', 'target': '/var/www/html/data', 'options': ['rw', 'Z'], 'mode': 'rw'},
            {'source': '/srv/nextcloud/config', 'target': '/var/www/html/config', 'options': ['ro', 'Z'], 'mode': 'ro'},
            {'source': 'nextcloud-apps.volume', 'target': '/var/www/html/custom_apps', 'options': [], 'mode': 'rw'},
            {'source': None, 'target': '/tmp/scratch', 'options': [], 'mode': 'rw'},
        ],
        'ports': [
            {'host_ip': '127.0.0.1', 'host_port': '8080', 'container_port': '80', 'protocol': 'tcp'},
            {'host_ip': None, 'host_port': '3478', 'container_port': '3478', 'protocol': 'udp'},
            {'host_ip': None, 'host_port': None, 'container_port': '9000', 'protocol': 'tcp'},
        ],
        'networks': ['proxy.network', 'backend.network:ip=10.89.0.10'],
        'labels': {'traefik.enable': 'true', 'traefik.http.routers.nextcloud.rule': 'Host(`cloud.lan`) && PathPrefix(`/`)'},
        'memory': {'limit': '1g', 'reservation': '512m', 'MemoryMax': '2G', 'MemoryHigh': '1536M'},
        'cpu': {'cpus': '2', 'shares': '512', 'CPUWeight': '50', 'CPUQuota': '150%', 'Nice': '5'},
        'health': {'cmd': 'curl -fsS http://localhost/status.php', 'interval': '30s', 'timeout': '5s', 'retries': '3',
                   'start_period': '2m', 'on_failure': 'kill', 'notify_healthy': True},
        'user': '33:33',
        'secrets': [
            {'name': 'nextcloud-db', 'type': 'env', 'target': 'POSTGRES_PASSWORD', 'options': {}},
            {'name': 'nextcloud-admin', 'type': 'mount', 'target': '/run/secrets/nextcloud-admin', 'options': {}},
            {'name': 'tls-key', 'type': 'mount', 'target': '/run/secrets/tls.key', 'options': {'uid': '33', 'gid': '33', 'mode': '0400'}},
        ],
        'pod': None,
        'auto_update': 'registry',
        'pull': 'newer',
        'podman_args': ['--cpus=2', '--cpu-shares', '512', '--memory-reservation', '512m'], 'runtime': NO_RUNTIME,
    }


def spec_of(body, filename='app.container', service=''):
    text = '[Container]\nImage=localhost/imagename\n' + body + '\n'
    if service:
        text += '[Service]\n' + service + '\n'
    return uf.container_spec(uf.parse_unit(text, filename=filename))


def test_container_spec_of_a_minimal_unit_has_every_key_empty():
    assert spec_of('') == {
        'name': 'systemd-app', 'image': 'localhost/imagename', 'rootfs': None, 'command': [], 'entrypoint': None, 'env': {},
        'env_files': [], 'volumes': [], 'ports': [], 'networks': [], 'labels': {}, 'memory': {}, 'cpu': {}, 'health': {},
        'user': None, 'secrets': [], 'pod': None, 'auto_update': None, 'pull': None, 'podman_args': [],
        'runtime': NO_RUNTIME,
    }


def test_container_spec_reads_the_run_time_surface_the_renderer_writes():
    text = ('WorkingDir=/srv/100%%\nHostName=web.lan\nStopSignal=SIGINT\nTimezone=Europe/Berlin\nShmSize=96m\n'
            'RunInit=true\nReadOnly=true\nPodmanArgs=--privileged\nDNS=192.0.2.53\nDNSSearch=lan\nDNSOption=ndots:1\n'
            'AddHost=printer.lan:192.0.2.9\nGroupAdd=44\nUlimit=nofile=1024:4096\nUlimit=nproc=512\n'
            'Annotation="com.example.tier=web tier"\nTmpfs=/run/hl:rw,mode=1777\n'
            'AddCapability=net_bind_service CAP_CHOWN\nDropCapability=all\nAddDevice=/dev/dri:/dev/dri:rw\n'
            'AddDevice=-/dev/ttyUSB0\nNoNewPrivileges=true\n')
    runtime = spec_of(text)['runtime']
    assert runtime == {
        'working_dir': '/srv/100%%', 'hostname': 'web.lan', 'stop_signal': 'SIGINT', 'timezone': 'Europe/Berlin',
        'shm_size': '96m', 'init': True, 'read_only': True, 'privileged': True, 'dns': ['192.0.2.53'],
        'dns_search': ['lan'], 'dns_options': ['ndots:1'], 'add_hosts': ['printer.lan:192.0.2.9'], 'group_add': ['44'],
        'ulimits': {'nofile': ('1024', '4096'), 'nproc': ('512', '512')}, 'annotations': {'com.example.tier': 'web tier'},
        'tmpfs': ['/run/hl'], 'add_capabilities': ['CAP_NET_BIND_SERVICE', 'CAP_CHOWN'], 'drop_capabilities': ['ALL'],
        'devices': ['/dev/dri', '/dev/ttyUSB0'], 'no_new_privileges': True,
    }


def test_container_spec_of_podmans_comment_with_continuation_case():
    text = ('[Unit]\nWants=network-online.target\n\n#   -e HOST_WHITELIST= `#optional` \\\n\n[Container]\n'
            '# Image=localhost/otherimagename:latest\nImage=localhost/imagename:latest\n; Image=localhost/image:latest\n'
            'ContainerName=greatName\n; ContainerName=otherName\nEnvironment=PUID=1000 PGID=100 SEED_RATIO=1.3 TZ=Europe/Prague\n'
            'Volume=./.config:/config\n#   -v /path/to/watch/folder:/watch \\\n;   -v /other/path:/watch \\\nPublishPort=9091:9091\n')
    spec = uf.container_spec(uf.parse_unit(text, filename='/home/u/.config/containers/systemd/comment.container'))
    assert (spec['image'], spec['name']) == ('localhost/imagename:latest', 'greatName')
    assert spec['env'] == {'PUID': '1000', 'PGID': '100', 'SEED_RATIO': '1.3', 'TZ': 'Europe/Prague'}
    assert spec['volumes'] == [{'source': '/home/u/.config/containers/systemd/.config', 'target': '/config', 'options': [], 'mode': 'rw'}]
    assert spec['ports'] == [{'host_ip': None, 'host_port': '9091', 'container_port': '9091', 'protocol': 'tcp'}]


# PublishPort= lines of podman's ports.container
@pytest.mark.parametrize('value, expected', [
    ('127.0.0.1:80:90', ('127.0.0.1', '80', '90', 'tcp')),
    ('0.0.0.0:80:91', ('0.0.0.0', '80', '91', 'tcp')),
    (':80:92', (None, '80', '92', 'tcp')),
    ('127.0.0.1::93', ('127.0.0.1', None, '93', 'tcp')),
    ('0.0.0.0::94', ('0.0.0.0', None, '94', 'tcp')),
    ('::95', (None, None, '95', 'tcp')),
    ('80:96', (None, '80', '96', 'tcp')),
    ('97', (None, None, '97', 'tcp')),
    ('1234/udp', (None, None, '1234', 'udp')),
    ('1234:1234/udp', (None, '1234', '1234', 'udp')),
    ('127.0.0.1:1234:1234/udp', ('127.0.0.1', '1234', '1234', 'udp')),
    ('127.0.0.1:1234:1234/tcp', ('127.0.0.1', '1234', '1234', 'tcp')),
    ('${PORT}:${PORT}', (None, '${PORT}', '${PORT}', 'tcp')),
    ('[::1]:8443:443', ('::1', '8443', '443', 'tcp')),
    ('[fd00::2]::53/udp', ('fd00::2', None, '53', 'udp')),
    ('8000-8010:8000-8010', (None, '8000-8010', '8000-8010', 'tcp')),
    ('  8080:80  ', (None, '8080', '80', 'tcp')),
])
def test_parse_publish_port(value, expected):
    got = uf.parse_publish_port(value)
    assert (got['host_ip'], got['host_port'], got['container_port'], got['protocol']) == expected
    assert sorted(got) == ['container_port', 'host_ip', 'host_port', 'protocol']


@pytest.mark.parametrize('value', ['1:2:3:4', '::1:8080:80', '', '/udp', '127.0.0.1:80:', '[::1:80:80'])
def test_parse_publish_port_refuses_malformed_values(value):
    with pytest.raises(UnitFileError, match='PublishPort='):
        uf.parse_publish_port(value)


@pytest.mark.parametrize('value, expected', [
    ('/host/dir:/container/volume', {'source': '/host/dir', 'target': '/container/volume', 'options': [], 'mode': 'rw'}),
    ('/host/dir2:/container/volume2:Z', {'source': '/host/dir2', 'target': '/container/volume2', 'options': ['Z'], 'mode': 'rw'}),
    ('/srv/conf:/etc/app:ro,Z', {'source': '/srv/conf', 'target': '/etc/app', 'options': ['ro', 'Z'], 'mode': 'ro'}),
    ('/srv/conf:/etc/app:Z,ro', {'source': '/srv/conf', 'target': '/etc/app', 'options': ['ro', 'Z'], 'mode': 'ro'}),
    ('named:/data:U,z,rw', {'source': 'named', 'target': '/data', 'options': ['rw', 'U', 'z'], 'mode': 'rw'}),
    ('/a:/b:ro,,Z,', {'source': '/a', 'target': '/b', 'options': ['ro', 'Z'], 'mode': 'ro'}),
    ('/a:/b:', {'source': '/a', 'target': '/b', 'options': [], 'mode': 'rw'}),
    ('/a:/b:idmap=uids=0-1000-10:ro', {'source': '/a', 'target': '/b', 'options': ['idmap=uids=0-1000-10:ro'], 'mode': 'rw'}),
    ('/container/empty', {'source': None, 'target': '/container/empty', 'options': [], 'mode': 'rw'}),
    ('quadlet.volume:/container/quadlet', {'source': 'quadlet.volume', 'target': '/container/quadlet', 'options': [], 'mode': 'rw'}),
    ('%h/data:/data', {'source': '%h/data', 'target': '/data', 'options': [], 'mode': 'rw'}),
])
def test_parse_volume(value, expected):
    assert uf.parse_volume(value) == expected


@pytest.mark.parametrize('filename, expected', [
    ('/etc/containers/systemd/app.container', ['/etc/containers/systemd/data:/data', '/abs:/abs', '%h/x:/x', 'named:/n']),
    ('/etc/containers/systemd/sub/app.container', ['/etc/containers/systemd/sub/data:/data', '/abs:/abs', '%h/x:/x', 'named:/n']),
    ('app.container', ['./data:/data', '/abs:/abs', '%h/x:/x', 'named:/n']),
    (None, ['./data:/data', '/abs:/abs', '%h/x:/x', 'named:/n']),
])
def test_relative_volume_sources_resolve_against_the_unit_directory(filename, expected):
    spec = spec_of('Volume=./data:/data\nVolume=/abs:/abs\nVolume=%h/x:/x\nVolume=named:/n', filename=filename)
    assert ['%s:%s' % (v['source'], v['target']) for v in spec['volumes']] == expected


@pytest.mark.parametrize('body, expected', [
    ('EnvironmentFile=/etc/app.env', ['/etc/app.env']),
    ('EnvironmentFile=app.env\nEnvironmentFile=../shared/common.env', ['/etc/containers/systemd/app.env', '/etc/containers/shared/common.env']),
    ('EnvironmentFile=%h/app.env', ['%h/app.env']),
    ('EnvironmentFile=/a.env\nEnvironmentFile=\nEnvironmentFile=/b.env', ['/b.env']),
    ('EnvironmentFile="/with space/app.env"', ['/with space/app.env']),
])
def test_env_files(body, expected):
    assert spec_of(body, filename='/etc/containers/systemd/app.container')['env_files'] == expected


@pytest.mark.parametrize('value, expected', [
    ('mysecret', {'name': 'mysecret', 'type': 'mount', 'target': '/run/secrets/mysecret', 'options': {}}),
    ('source=mysecret,type=env,target=MYSECRET', {'name': 'mysecret', 'type': 'env', 'target': 'MYSECRET', 'options': {}}),
    ('source=mysecret,type=mount,uid=1000,gid=1001,mode=777',
     {'name': 'mysecret', 'type': 'mount', 'target': '/run/secrets/mysecret', 'options': {'uid': '1000', 'gid': '1001', 'mode': '777'}}),
    ('db,type=env', {'name': 'db', 'type': 'env', 'target': 'db', 'options': {}}),
    ('db,target=pw', {'name': 'db', 'type': 'mount', 'target': '/run/secrets/pw', 'options': {}}),
    ('db,target=/etc/app/pw', {'name': 'db', 'type': 'mount', 'target': '/etc/app/pw', 'options': {}}),
])
def test_parse_secret(value, expected):
    assert uf.parse_secret(value) == expected


@pytest.mark.parametrize('value, fragment', [('a,b', 'not an option=value pair'), ('type=env', 'no secret name'), (',type=env', 'no secret name')])
def test_parse_secret_refuses_malformed_values(value, fragment):
    with pytest.raises(UnitFileError, match=fragment):
        uf.parse_secret(value)


def test_secrets_come_from_every_secret_word():
    spec = spec_of('Secret=a b,type=env\nSecret=c')
    assert [(s['name'], s['type']) for s in spec['secrets']] == [('a', 'mount'), ('b', 'env'), ('c', 'mount')]


@pytest.mark.parametrize('filename, body, expected', [
    ('app.container', '', 'systemd-app'),
    ('/etc/containers/systemd/web.container', '', 'systemd-web'),
    ('my.app.container', '', 'systemd-my.app'),
    ('web@blue.container', '', 'systemd-web_blue'),
    ('web@.container', '', None),
    (None, '', None),
    (None, 'ContainerName=fixed', 'fixed'),
    ('web.container', 'ContainerName=app', 'app'),
    ('web.container', 'ContainerName="quoted"', 'quoted'),
    ('web.container', 'ContainerName=', 'systemd-web'),
    ('web.container', 'ContainerName=%N-app', 'web-app'),
    ('web.container', 'ContainerName=%p-100%%', 'web-100%'),
    ('web.container', 'ContainerName=%H-app', None),
    ('web.container', 'ContainerName=bad%', None),
    ('web.container', 'ServiceName=svc', 'systemd-svc'),
])
def test_container_name(filename, body, expected):
    assert spec_of(body, filename=filename)['name'] == expected


@pytest.mark.parametrize('body, service, expected', [
    ('Memory=1g', '', {'limit': '1g'}),
    ('PodmanArgs=--memory 512m', '', {'limit': '512m'}),
    ('PodmanArgs=--memory=512m', '', {'limit': '512m'}),
    ('PodmanArgs=-m 512m', '', {'limit': '512m'}),
    ('PodmanArgs=-m512m', '', {'limit': '512m'}),
    ('PodmanArgs=-m=512m', '', {'limit': '512m'}),
    ('Memory=1g\nPodmanArgs=--memory 2g', '', {'limit': '2g'}),
    ('PodmanArgs=--memory 1g --memory 3g', '', {'limit': '3g'}),
    ('PodmanArgs=--memory-swap=2g --memory-reservation 256m', '', {'swap': '2g', 'reservation': '256m'}),
    ('PodmanArgs=--memory', '', {}),
    ('', 'MemoryMax=2G\nMemoryHigh=1G', {'MemoryMax': '2G', 'MemoryHigh': '1G'}),
    ('', 'MemoryMax=2G\nMemoryMax=', {}),
    ('Memory=', '', {}),
])
def test_memory_limits(body, service, expected):
    assert spec_of(body, service=service)['memory'] == expected


@pytest.mark.parametrize('body, service, expected', [
    ('PodmanArgs=--cpus=2 --cpu-shares 512', '', {'cpus': '2', 'shares': '512'}),
    ('PodmanArgs=-c 256 --cpu-quota=50000 --cpu-period 100000', '', {'shares': '256', 'quota': '50000', 'period': '100000'}),
    ('PodmanArgs=--cpuset-cpus 0-3 --cpuset-mems=0', '', {'cpuset_cpus': '0-3', 'cpuset_mems': '0'}),
    ('PodmanArgs=--privileged --cpus 1.5 --label x=y', '', {'cpus': '1.5'}),
    ('', 'CPUWeight=50\nCPUQuota=150%\nNice=-5', {'CPUWeight': '50', 'CPUQuota': '150%', 'Nice': '-5'}),
])
def test_cpu_limits(body, service, expected):
    assert spec_of(body, service=service)['cpu'] == expected


@pytest.mark.parametrize('body, expected', [
    ('HealthCmd="hello world"', {'cmd': 'hello world'}),
    ('HealthCmd=/bin/check --fast\nHealthInterval=1m\nHealthRetries=9\nHealthStartPeriod=2m3s\nHealthTimeout=20s\nHealthOnFailure=stop',
     {'cmd': '/bin/check --fast', 'interval': '1m', 'retries': '9', 'start_period': '2m3s', 'timeout': '20s', 'on_failure': 'stop'}),
    ('HealthStartupCmd=\'["hello", world]\'\nHealthStartupInterval=5m\nHealthStartupRetries=10\nHealthStartupSuccess=2\nHealthStartupTimeout=2h',
     {'startup_cmd': '\'["hello", world]\'', 'startup_interval': '5m', 'startup_retries': '10', 'startup_success': '2', 'startup_timeout': '2h'}),
    ('HealthCmd=x\nHealthInterval=', {'cmd': 'x'}),
    ('Notify=healthy', {'notify_healthy': True}),
    ('Notify=Healthy', {'notify_healthy': True}),
    ('Notify=yes', {}),
])
def test_health(body, expected):
    assert spec_of(body)['health'] == expected


@pytest.mark.parametrize('body, expected', [('', None), ('User=1000', '1000'), ('User=app\nGroup=app', 'app:app'), ('User=0\nGroup=', '0')])
def test_user(body, expected):
    assert spec_of(body)['user'] == expected


@pytest.mark.parametrize('text, fragment', [
    ('[Container]\nGroup=100\nImage=x\n', 'Group=100 is set without User='),
    ('[Container]\nExec=true\n', 'no Image= or Rootfs='),
    ('[Container]\nImage=\n', 'no Image= or Rootfs='),
    ('[Service]\nRestart=always\n', 'no Image= or Rootfs='),
    ('[Container]\nImage=x\nRootfs=/srv/root\n', 'cannot both be set'),
    ('[Container]\nImage=x\nPublishPort=1:2:3:4\n', 'PublishPort=1:2:3:4'),
    ('[Container]\nImage=x\nSecret=a,b\n', 'not an option=value pair'),
])
def test_container_spec_refuses_units_quadlet_refuses(text, fragment):
    with pytest.raises(UnitFileError, match=fragment):
        uf.container_spec(uf.parse_unit(text, filename='app.container'))


def test_rootfs_instead_of_image():
    spec = uf.container_spec(uf.parse_unit('[Container]\nRootfs=/srv/root:O\n', filename='r.container'))
    assert (spec['image'], spec['rootfs']) == (None, '/srv/root:O')


@pytest.mark.parametrize('body, expected', [
    ('Exec=/some/binary --flag "arg 2"', ['/some/binary', '--flag', 'arg 2']),
    ('Exec="/some/binary file" --arg1 \\\n  "arg 2"', ['/some/binary file', '--arg1', 'arg 2']),
    ('Exec=first\nExec=second one', ['second', 'one']),
    ('Exec=first\nExec=', []),
    ("Exec='test\\.com'", []),
    ('Exec=sh -c "echo %h $HOME"', ['sh', '-c', 'echo %h $HOME']),
])
def test_command_is_the_last_exec_split_into_words(body, expected):
    assert spec_of(body)['command'] == expected


@pytest.mark.parametrize('body, key, expected', [
    ('Environment=A=1 A=2\nEnvironment=B', 'env', {'A': '2', 'B': None}),
    ('Environment=A=1\nEnvironment=\nEnvironment=C=3', 'env', {'C': '3'}),
    ('Environment="A=x \\"y\\" z" \'B=\'', 'env', {'A': 'x "y" z', 'B': ''}),
    ('Environment=URL=http://h/?a=b&c=d', 'env', {'URL': 'http://h/?a=b&c=d'}),
    ('Environment=HOME_DIR=%h/app', 'env', {'HOME_DIR': '%h/app'}),
    ('Label=org.foo.Arg1=arg1 "org.foo.Arg2=arg 2" \\\n  org.foo.Arg3=arg3\n\nLabel=org.foo.Arg0=arg0', 'labels',
     {'org.foo.Arg1': 'arg1', 'org.foo.Arg2': 'arg 2', 'org.foo.Arg3': 'arg3', 'org.foo.Arg0': 'arg0'}),
    ('Label=flag', 'labels', {'flag': None}),
    ('AutoUpdate=registry', 'labels', {}),
    ('AutoUpdate=registry', 'auto_update', 'registry'),
    ('AutoUpdate=', 'auto_update', None),
    ('Pull=always', 'pull', 'always'),
    ('Pod=media.pod', 'pod', 'media.pod'),
    ('Entrypoint=/bin/sh', 'entrypoint', '/bin/sh'),
    ('Network=a.network\nNetwork=\nNetwork=host', 'networks', ['host']),
    ('Network=proxy.network\nNetwork=backend:alias=db', 'networks', ['proxy.network', 'backend:alias=db']),
    ('PodmanArgs=--log-opt tag=web --init', 'podman_args', ['--log-opt', 'tag=web', '--init']),
])
def test_container_spec_fields(body, key, expected):
    assert spec_of(body)[key] == expected


# -- drop-ins, merged as Quadlet merges them (issue 17 part 7) -------------------------------------------------

def test_dropin_dirs_follow_quadlet_s_hierarchy():
    assert uf.dropin_dirs('foo-bar-baz.container') == [
        'container.d', 'foo-.container.d', 'foo-bar-.container.d', 'foo-bar-baz.container.d']
    assert uf.dropin_dirs('web@blue.container') == ['container.d', 'web@.container.d', 'web@blue.container.d']
    assert uf.dropin_dirs('data.volume') == ['volume.d', 'data.volume.d']


def test_dropins_are_merged_in_name_order_and_the_most_specific_wins(tmp_path):
    (tmp_path / 'web-app.container').write_text('[Container]\nImage=localhost/hl-web:1\nEnvironment=A=base B=base\n')
    for folder, name, text in (('container.d', '10-env.conf', '[Container]\nEnvironment=A=top\n'),
                               ('web-.container.d', '10-env.conf', '[Container]\nEnvironment=A=dash\n'),
                               ('web-app.container.d', '20-image.conf', '[Container]\nImage=localhost/hl-web:2\n'),
                               ('web-app.container.d', 'notes.txt', '[Container]\nImage=ignored\n'),
                               ('container.d', '05-label.conf', '[Container]\nLabel=team=ops\n')):
        (tmp_path / folder).mkdir(exist_ok=True)
        (tmp_path / folder / name).write_text(text)

    def read(path):
        with open(path) as handle:
            return handle.read()

    def read_or_unit(path):
        return '[Container]\nImage=x\n' if path.endswith('other.container') else read(path)
    unit, merged = uf.parse_with_dropins(str(tmp_path / 'web-app.container'), read)
    assert [p.rsplit('/', 2)[-2:] for p in merged] == [['container.d', '05-label.conf'], ['web-.container.d', '10-env.conf'],
                                                       ['web-app.container.d', '20-image.conf']]
    spec = uf.container_spec(unit)
    assert spec['image'] == 'localhost/hl-web:2'
    assert spec['env'] == {'A': 'dash', 'B': 'base'}, 'web-.container.d/10-env.conf replaced container.d/10-env.conf'
    assert spec['labels'] == {'team': 'ops'}
    other, merged = uf.parse_with_dropins(str(tmp_path / 'other.container'), read_or_unit)
    assert [p.rsplit('/', 1)[-1] for p in merged] == ['05-label.conf', '10-env.conf'], 'only the top-level ones'
    assert uf.container_spec(other)['env'] == {'A': 'top'}


def test_an_empty_entrypoint_clears_the_image_s_and_is_not_unset():
    assert spec_of('Entrypoint=')['entrypoint'] == ''
    assert spec_of('')['entrypoint'] is None
    assert spec_of('Entrypoint=/bin/sh\nEntrypoint=')['entrypoint'] == ''


def test_an_empty_volume_source_is_an_anonymous_volume():
    assert spec_of('Volume=:/data')['volumes'] == [{'source': None, 'target': '/data', 'options': [], 'mode': 'rw'}]


def test_mount_bind_and_volume_are_volumes_tmpfs_is_not():
    volumes = spec_of('Mount=type=bind,source=/srv/x,destination=/data,ro=true,relabel=private\n'
                      'Mount=type=volume,src=cache.volume,dst=/cache\nMount=type=tmpfs,destination=/tmp')['volumes']
    assert volumes == [{'source': '/srv/x', 'target': '/data', 'options': ['ro', 'Z'], 'mode': 'ro'},
                       {'source': 'cache.volume', 'target': '/cache', 'options': [], 'mode': 'rw'}]
    with pytest.raises(uf.UnitFileError, match='no destination'):
        spec_of('Mount=type=bind,source=/srv/x')


def test_a_pod_that_is_not_a_pod_unit_is_refused_like_quadlet_refuses_it():
    assert spec_of('Pod=web.pod')['pod'] == 'web.pod'
    with pytest.raises(uf.UnitFileError, match=r'Pod=web: Quadlet takes a \.pod unit only'):
        spec_of('Pod=web')

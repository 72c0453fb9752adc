# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bad-input table (issue 17): classes of hostile or broken input, fed to the loaders, renderers and checks the
way a user's file or -e override reaches them, and the outcome each must have.

outcome ``refused``: a clear error of the collection's own kind (never a KeyError/TypeError traceback), naming the
key and the reason, bounded in size, raised by the controller-side code that runs before anything on the host.
outcome ``safe``: accepted, and a property of the result shows it is harmless (written literally, not executed).

Every case is one row of CASES: (class, what is tried, outcome, expected fragment of the error or property).
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.deploy.plugins.filter import catalog as cf
from ansible_collections.homelab.deploy.plugins.filter import patterns as pf
from ansible_collections.homelab.deploy.plugins.filter import stacks as sf
from ansible_collections.homelab.deploy.plugins.module_utils import _traefik as traefik
from ansible_collections.homelab.deploy.plugins.module_utils._unitfile import UnitFileError
from ansible_collections.homelab.deploy.plugins.plugin_utils import _yaml

ALL = ['cpu', 'memory', 'io', 'pids']
MAX_MESSAGE = 5000
OWN_ERRORS = (AnsibleFilterError, UnitFileError, ValueError)


def stack(svc, **top):
    return dict({'schema_version': 1, 'name': 'bad', 'services': {'web': dict({'image': 'localhost/hl-web:latest'}, **svc)}},
                **top)


def plan_stack(svc, **top):
    return sf.stack_plan(sf.stack_load(stack(svc, **top)))


def web_text(svc):
    """The web service's unit text as the deploy would write it."""
    return [u for phase in plan_stack(svc)['phases'] for u in phase if u['name'] == 'bad-web.container'][0]['text']


def render_pattern(overrides, name='reverse-proxy-backend'):
    return pf.pattern_render(pf.pattern_load(name, overrides), 'bad', controllers=ALL)


def catalog_entry(tmp_path, text):
    (tmp_path / 'web.yml').write_text(text)
    return cf.catalog_load(str(tmp_path))


def route_policy(**spec):
    policy = traefik.check_policy(dict({'name': 'r', 'public': True, 'middlewares': [],
                                        'required_middlewares': ['security-headers@file']}, **spec))
    if not policy['ok']:
        raise ValueError(policy['auth_problem'] or 'missing %s' % policy['missing_middlewares'])
    return policy


def route_errors(**spec):
    errors = traefik.validate_spec(dict({'name': 'r', 'hostname': ['r.test'], 'entrypoints': ['web'],
                                         'urls': ['http://app:80']}, **spec))
    if errors:
        raise ValueError('; '.join(errors))
    return errors


CASES = [
    # class, tried, outcome, fragment
    ('control characters', lambda tmp: plan_stack({'environment': {'A': 'x\x00[Service]\nExecStartPre=/bin/sh'}}),
     'refused', 'newline'),
    ('control characters', lambda tmp: plan_stack({'environment': {'A': 'x\x00ExecStartPre=/bin/sh'}}),
     'refused', "control character '\\x00'"),
    ('control characters', lambda tmp: plan_stack({'description': 'web\x1bcolour'}), 'refused', 'control character'),
    ('control characters', lambda tmp: render_pattern({'services': {'app': {'environment': {'A': 'x\x00y'}}}}),
     'refused', 'control character'),
    ('newline in a name', lambda tmp: sf.stack_load(stack({}, name='bad\n')), 'refused', 'name'),
    ('templating in data', lambda tmp: web_text({'environment': {'A': "{{ lookup('pipe', 'id') }}"}}),
     'safe', "Environment=\"A={{ lookup('pipe', 'id') }}\""),
    ('systemd specifiers in data', lambda tmp: web_text({'environment': {'A': '%h/$HOME'}}), 'safe',
     'Environment=A=%%h/$$HOME'),
    ('host paths', lambda tmp: plan_stack({'volumes': [{'path': '/etc', 'target': '/etc'}]}), 'refused',
     '/etc is a system path'),
    ('host paths', lambda tmp: plan_stack({'volumes': [{'path': '/srv/homelab/../../etc', 'target': '/x'}]}),
     'refused', 'must be normalised'),
    ('host paths', lambda tmp: render_pattern({'variables': {'consume_path': '/etc/cron.d'}}, 'document-management'),
     'refused', '/etc/cron.d is a system path'),
    ('host paths', lambda tmp: render_pattern({'services': {'exporter': {'volumes': [
        {'storage': 'host-sys', 'target': '/host/sys', 'mode': 'rw'}]}}}, 'monitoring-exporter'),
     'refused', 'mounted read-only only'),
    ('privileges', lambda tmp: plan_stack({'privileged': True}), 'refused', 'services.web.privileged'),
    ('privileges', lambda tmp: sf.stack_load(stack({'add_capabilities': ['ALL']})), 'refused', 'add_capabilities'),
    ('privileges', lambda tmp: sf.stack_load(stack({'sysctls': {'kernel.panic': 1}})), 'refused', 'kernel.panic'),
    ('ownership labels', lambda tmp: sf.stack_load(stack({'labels': {'io.homelab.deploy.managed': 'false'}})),
     'refused', "the deploy's own"),
    ('network exposure', lambda tmp: sf.stack_load(stack({'network_mode': 'host', 'route': {'hostname': 'h.test', 'port': 80}})),
     'refused', 'Traefik cannot route to it'),
    ('network exposure', lambda tmp: route_policy(), 'refused', 'has no authentication middleware'),
    ('network exposure', lambda tmp: route_policy(middlewares=['security-headers@file'], required_middlewares=[],
                                                  auth='none'), 'refused', 'without auth_reason'),
    ('network exposure', lambda tmp: route_errors(urls=['http://127.0.0.1:8080']), 'refused', 'API'),
    ('network exposure', lambda tmp: route_errors(weighted=[{'name': 'a', 'weight': 1, 'service': 'api@internal'}],
                                                  urls=None), 'refused', 'api@internal'),
    ('route file names', lambda tmp: route_errors(name='../victim'), 'refused', 'must match'),
    ('schema types', lambda tmp: sf.stack_load(stack({'ulimits': {'nofile': {'soft': 10, 'hard': 5}}})), 'refused',
     'soft (10) is above hard (5)'),
    ('schema types', lambda tmp: sf.stack_load(stack({'environment': {'A-B': '1'}})), 'refused', 'A-B'),
    ('schema types', lambda tmp: sf.stack_load(stack({'stop_timeout': 10 ** 5000})), 'refused', 'stop_timeout'),
    ('duplicate keys', lambda tmp: catalog_entry(tmp, 'metadata:\n  name: web\n  owner: me\n  deployed: true\n'
                                                 '  deployed: false\ndeployment: {pattern: reverse-proxy-backend}\n'),
     'refused', 'deployed'),
    ('YAML bombs', lambda tmp: _yaml.load_yaml('a: &a ["x","x","x","x","x","x","x","x","x"]\n' + ''.join(
        '%s: &%s [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n' % ((chr(98 + i), chr(98 + i)) + (chr(97 + i),) * 9)
        for i in range(8))), 'refused', 'values'),
    ('config files', lambda tmp: plan_stack({'configs': [{'target': '/etc/a.conf', 'content': 'a'},
                                                         {'target': '/etc/a.conf', 'content': 'b'}]}),
     'refused', 'given more than once'),
    ('config files', lambda tmp: render_pattern({'services': {'app': {'configs': [
        {'target': '/etc/nginx.conf', 'content': 'root {instance};'}]}}}), 'safe', 'root {instance};'),
]


@pytest.mark.parametrize('cls, tried, outcome, fragment', CASES, ids=['%02d-%s' % (i, c[0]) for i, c in enumerate(CASES)])
def test_bad_input(cls, tried, outcome, fragment, tmp_path):
    if outcome == 'refused':
        with pytest.raises(OWN_ERRORS) as raised:
            tried(tmp_path)
        message = str(raised.value)
        assert fragment in message, message
        assert len(message) < MAX_MESSAGE, 'a bounded message (%d characters)' % len(message)
    else:
        result = tried(tmp_path)
        assert fragment in repr(result) or fragment in str(result), 'accepted and harmless: %s' % fragment


def test_the_table_covers_the_classes_issue_17_names():
    classes = set(c[0] for c in CASES)
    for wanted in ('control characters', 'templating in data', 'host paths', 'duplicate keys', 'YAML bombs',
                   'newline in a name', 'schema types', 'network exposure', 'route file names'):
        assert wanted in classes, wanted
    assert not [c for c in CASES if c[2] not in ('refused', 'safe')], 'no dangerous acceptances in the table'

# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The container surface (issue 13 part 1) is one set of keys: the same key renders the same unit lines in a
stack, a pattern and a catalog entry; combinations podman refuses, and privileged containers the deployment has
not allowed, are refused on the controller naming the key."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest
import yaml

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.deploy.plugins.filter import catalog as cf
from ansible_collections.homelab.deploy.plugins.filter import patterns as pf
from ansible_collections.homelab.deploy.plugins.filter import stacks as sf
from ansible_collections.homelab.deploy.plugins.module_utils import _unitfile as uf

SURFACE = {
    'stop_signal': 'SIGQUIT', 'working_dir': '/srv/app 100%', 'hostname': 'web.lan', 'init': True, 'shm_size': '256m',
    'ulimits': {'nofile': {'soft': 1024, 'hard': 4096}, 'nproc': 512},
    'sysctls': {'net.ipv4.ping_group_range': '0 2147483647', 'net.core.somaxconn': 1024},
    'labels': {'backup.enable': True, 'com.example.note': 'a b$x%y'}, 'annotations': {'run.oci.keep_original_groups': 1},
    'dns': ['192.0.2.53'], 'dns_search': ['lan'], 'dns_options': ['ndots:1'],
    'extra_hosts': {'printer.lan': '192.168.1.9', 'gw': 'host-gateway'},
    'timezone': 'Europe/Berlin', 'group_add': ['video', 44],
}
LINES = ['HostName=web.lan', 'DNS=192.0.2.53', 'DNSSearch=lan', 'DNSOption=ndots:1', 'AddHost=gw:host-gateway',
         'AddHost=printer.lan:192.168.1.9', 'WorkingDir=/srv/app 100%%', 'GroupAdd=video', 'GroupAdd=44',
         'ShmSize=256m', 'Ulimit=nofile=1024:4096', 'Ulimit=nproc=512:512', 'Sysctl=net.core.somaxconn=1024',
         'Sysctl="net.ipv4.ping_group_range=0 2147483647"', 'RunInit=true', 'Timezone=Europe/Berlin',
         'StopSignal=SIGQUIT', 'Label=backup.enable=true', 'Label="com.example.note=a b$$x%%y"',
         'Annotation=run.oci.keep_original_groups=1']


def stack(services):
    return {'schema_version': 1, 'name': 'cs', 'services': services}


def container_lines(text):
    return [line for line in text.splitlines() if '=' in line]


def stack_text(svc, **plan_args):
    plan = sf.stack_plan(sf.stack_load(stack({'web': dict({'image': 'localhost/hl-web:latest'}, **svc)})), **plan_args)
    return plan['phases'][1][0]['text']


def pattern_text(overrides, name='reverse-proxy-backend', service='app', **render_args):
    render_args.setdefault('controllers', ['cpu', 'memory', 'io', 'pids'])
    rendered = pf.pattern_render(pf.pattern_load(name, overrides), 'demo', **render_args)
    return dict((u['service'], u['text']) for u in rendered['units'] if u['type'] == 'container')[service]


def test_every_surface_key_renders_its_quadlet_line_in_a_stack():
    lines = container_lines(stack_text(SURFACE))
    for line in LINES:
        assert line in lines, line
    # the deploy's own labels come first and stay
    assert lines.index('Label=io.homelab.deploy.managed=true') < lines.index('Label=backup.enable=true')


def test_a_pattern_and_a_catalog_entry_render_the_same_lines_as_a_stack():
    from_stack = [line for line in container_lines(stack_text(SURFACE)) if line in LINES]
    from_pattern = [line for line in container_lines(pattern_text({'services': {'app': SURFACE}})) if line in LINES]
    assert from_pattern == from_stack
    entry = {'metadata': {'name': 'web', 'owner': 'me', 'deployed': True},
             'deployment': {'pattern': 'reverse-proxy-backend', 'image': 'localhost/hl-web:latest',
                            'overrides': {'services': {'app': SURFACE}}},
             'networking': {'hostname': 'web.test', 'internal_port': 8080}}
    svars, rendered = cf.render_entry(entry, {'controllers': []})
    text = [u for u in rendered['units'] if u['type'] == 'container'][0]['text']
    assert [line for line in container_lines(text) if line in LINES] == from_stack


def test_the_rendered_values_read_back_as_written():
    parsed = uf.parse_unit(stack_text(SURFACE))
    assert parsed.lookup_words('Container', 'Sysctl') == ['net.core.somaxconn=1024', 'net.ipv4.ping_group_range=0 2147483647']
    assert parsed.lookup_words('Container', 'Label')[-1] == 'com.example.note=a b$$x%%y'  # systemd turns $$ and %% back


@pytest.mark.parametrize('mode', ['host', 'none'])
def test_network_mode_replaces_the_networks_and_aliases(mode):
    lines = container_lines(stack_text({'network_mode': mode}))
    assert 'Network=%s' % mode in lines
    assert not [line for line in lines if line.startswith('NetworkAlias=') or line.startswith('Network=cs')]


def test_network_mode_in_a_pattern_replaces_its_networks():
    overrides = {'services': {'app': {'network_mode': 'host', 'networks': []}}, 'routing': None}
    lines = container_lines(pattern_text(overrides))
    assert [line for line in lines if line.startswith('Network=')] == ['Network=host']


def test_a_pattern_service_with_network_mode_and_networks_is_refused():
    with pytest.raises(AnsibleFilterError) as raised:
        pf.pattern_load('reverse-proxy-backend', {'services': {'app': {'network_mode': 'host'}}, 'routing': None})
    assert 'services.app.networks: network_mode host replaces the networks' in str(raised.value)


def test_a_routed_pattern_service_on_the_host_network_is_refused():
    with pytest.raises(AnsibleFilterError) as raised:
        pf.pattern_load('reverse-proxy-backend', {'services': {'app': {'network_mode': 'host', 'networks': []}}})
    assert 'services.app.network_mode: a service on the host network is not on the proxy network' in str(raised.value)


@pytest.mark.parametrize('svc, key, reason', [
    ({'network_mode': 'host', 'publish': ['8123:8123']}, 'services.web.publish', 'ports are not published'),
    ({'network_mode': 'host', 'dns': ['192.0.2.1']}, 'services.web.dns', 'DNS servers cannot be set'),
    ({'network_mode': 'none', 'dns_search': ['lan']}, 'services.web.dns_search', 'cannot be set on the none network'),
    ({'network_mode': 'host', 'route': {'hostname': 'h.test', 'port': 80}}, 'services.web.network_mode',
     'Traefik cannot route to it'),
    ({'network_mode': 'host', 'sysctls': {'net.core.somaxconn': 1}}, 'services.web.sysctls', "the host's own network"),
    ({'ulimits': {'nofile': {'soft': 10, 'hard': 5}}}, 'services.web.ulimits.nofile', 'soft (10) is above hard (5)'),
    ({'labels': {'io.homelab.deploy.managed': 'false'}}, 'services.web.labels.io.homelab.deploy.managed',
     "the deploy's own"),
    ({'sysctls': {'kernel.panic': 1}}, 'services.web.sysctls', 'kernel.panic'),
    ({'ulimits': {'openfiles': 5}}, 'services.web.ulimits', 'openfiles'),
    ({'stop_signal': 'TERM'}, 'services.web.stop_signal', 'TERM'),
    ({'network_mode': 'bridge'}, 'services.web.network_mode', 'bridge'),
    ({'extra_hosts': {'printer': 'not-an-ip'}}, 'services.web.extra_hosts.printer', 'not-an-ip'),
])
def test_bad_surface_keys_are_refused_naming_the_key(svc, key, reason):
    with pytest.raises(AnsibleFilterError) as raised:
        sf.stack_load(stack({'web': dict({'image': 'localhost/hl-web:latest'}, **svc)}))
    message = str(raised.value)
    assert key in message and reason in message, message


def test_privileged_is_refused_unless_the_deployment_allows_it():
    with pytest.raises(AnsibleFilterError) as raised:
        stack_text({'privileged': True})
    assert 'services.web.privileged: a privileged container' in str(raised.value)
    assert 'stack_allow_privileged' in str(raised.value)
    assert 'PodmanArgs=--privileged' in container_lines(stack_text({'privileged': True}, allow_privileged=True))
    with pytest.raises(AnsibleFilterError) as raised:
        pattern_text({'services': {'app': {'privileged': True}}})
    assert 'services.app.privileged' in str(raised.value)
    assert 'PodmanArgs=--privileged' in container_lines(pattern_text({'services': {'app': {'privileged': True}}},
                                                                     allow_privileged=True))


def test_a_service_without_the_keys_renders_none_of_them():
    lines = container_lines(stack_text({}))
    keys = set(line.split('=', 1)[0] for line in LINES) | {'PodmanArgs'}
    assert not [line for line in lines if line.split('=', 1)[0] in keys - {'Label'}]


# -- configuration files shipped with a pattern's service (as a stack's) ------------------------------------------

def test_a_pattern_ships_mosquitto_conf_and_its_plan_writes_it():
    rendered = pf.pattern_render(pf.pattern_load('home-automation-stack'), 'ha', controllers=['cpu', 'memory', 'io', 'pids'])
    path = '/etc/homelab-deploy/services/ha/mqtt/mosquitto/config/mosquitto.conf'
    mqtt = [u for u in rendered['units'] if u['name'] == 'ha-mqtt.container'][0]
    assert 'Volume=%s:/mosquitto/config/mosquitto.conf:ro,z' % path in mqtt['text'].splitlines()
    files = pf.pattern_plan(rendered)['files']
    assert [(f['path'], f['mode'], f['restarts']) for f in files] == [(path, '0644', ['ha-mqtt.container'])]
    assert 'allow_anonymous false' in files[0]['content'] and 'listener 1883' in files[0]['content']
    # the password file is made from the secret at start, the health check logs in with it: $ kept from systemd
    assert 'Secret=ha-mqtt-password,type=mount,target=/run/secrets/mqtt-password' in mqtt['text']
    assert '-P "$$(cat /run/secrets/mqtt-password)"' in mqtt['text']
    assert 'mqtt-password' in rendered['secrets']


def test_a_pattern_config_s_content_is_written_as_it_is():
    content = 'server { listen 80; root {not_a_placeholder}; }\n'
    overrides = {'services': {'app': {'configs': [{'target': '/etc/nginx/conf.d/site.conf', 'content': content}]}}}
    rendered = pf.pattern_render(pf.pattern_load('reverse-proxy-backend', overrides), 'web',
                                 controllers=['cpu', 'memory', 'io', 'pids'])
    assert rendered['files'][0]['content'] == content
    assert rendered['files'][0]['path'] == '/etc/homelab-deploy/services/web/app/etc/nginx/conf.d/site.conf'


def test_a_pattern_config_template_is_relative_to_the_pattern_file(tmp_path):
    source = open(pf.pattern_path('reverse-proxy-backend')).read()
    (tmp_path / 'reverse-proxy-backend.yml').write_text(source)
    overrides = {'services': {'app': {'configs': [{'target': '/etc/app.conf', 'template': 'app.conf.j2'}]}}}
    loaded = pf.pattern_load('reverse-proxy-backend', patterns_dir=str(tmp_path))
    loaded = pf.merge(loaded, overrides)
    pf.validate_pattern(loaded, 'test')
    rendered = pf.pattern_render(loaded, 'web', controllers=['cpu', 'memory', 'io', 'pids'])
    assert rendered['files'][0]['template'] == 'app.conf.j2', "an override's template stays for the deploy to find"
    data = yaml.safe_load(source)
    data['services']['app']['configs'] = [{'target': '/etc/app.conf', 'template': 'app.conf.j2'}]
    (tmp_path / 'reverse-proxy-backend.yml').write_text(yaml.safe_dump(data))
    rendered = pf.pattern_render(pf.pattern_load('reverse-proxy-backend', patterns_dir=str(tmp_path)), 'web',
                                 controllers=['cpu', 'memory', 'io', 'pids'])
    assert rendered['files'][0]['template'] == str(tmp_path / 'app.conf.j2')


def test_a_pattern_config_target_given_twice_is_refused():
    configs = [{'target': '/etc/a.conf', 'content': 'a'}, {'target': '/etc/a.conf', 'content': 'b'}]
    overrides = {'services': {'app': {'configs': configs}}}
    with pytest.raises(AnsibleFilterError) as raised:
        pf.pattern_render(pf.pattern_load('reverse-proxy-backend', overrides), 'web', controllers=['cpu', 'memory', 'io', 'pids'])
    assert 'services.app.configs[1].target: target /etc/a.conf is given more than once' in str(raised.value)


def test_a_catalog_entry_ships_a_config_file_through_its_overrides():
    entry = {'metadata': {'name': 'web', 'owner': 'me', 'deployed': True},
             'deployment': {'pattern': 'reverse-proxy-backend', 'image': 'localhost/hl-web:latest',
                            'overrides': {'services': {'app': {'configs': [{'target': '/etc/app.conf', 'content': 'x=1\n'}]}}}},
             'networking': {'hostname': 'web.test', 'internal_port': 8080}}
    svars, rendered = cf.render_entry(entry, {'controllers': []})
    assert rendered['files'][0]['path'] == '/etc/homelab-deploy/services/web/app/etc/app.conf'
    text = [u for u in rendered['units'] if u['type'] == 'container'][0]['text']
    assert 'Volume=/etc/homelab-deploy/services/web/app/etc/app.conf:/etc/app.conf:ro,z' in text

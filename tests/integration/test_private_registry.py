# -*- coding: utf-8 -*-
"""Images from a private registry: the node runs a second distribution registry at localhost:5001 that asks for a
login (tests/harness/hlnode, its user and password in the inventory). A stack service names the registry
credentials with auth_file, a containers-auth.json file on the host written by `podman login --authfile`:

* without credentials the pull is refused with the registry's own error, and nothing is written;
* with an auth_file that does not exist the deploy is refused before anything changes, naming the file;
* with the file, the deploy pulls the image and the unit names it (PodmanArgs=--authfile=), so a start that finds the image
  gone pulls it again, logged in; a re-run changes nothing.
"""
import json
import shlex

from test_stack_events import on_node, run_role

AUTH = '/etc/homelab-itest/registry-auth.json'


def login(inventory):
    with open(inventory) as f:
        nodes = json.load(f)['all']['children']['nodes']['vars']
    return (nodes['hlnode_private_registry'], nodes['hlnode_private_registry_user'],
            nodes['hlnode_private_registry_password'])


def stack(image, auth_file=None):
    web = {'image': image, 'pull': 'always', 'wait_for': {'timeout': 30},
           'healthcheck': {'cmd': '/bin/hl-web health', 'interval': '1s', 'retries': 3}}
    if auth_file:
        web['auth_file'] = auth_file
    return {'schema_version': 1, 'name': 'hlpriv', 'services': {'web': web}}


def unit_exists():
    return on_node('test', '-e', '/etc/containers/systemd/hlpriv-web.container').returncode == 0


def push_private_image(image, user, password):
    """An image only the private registry has: hl-web with a label of its own, pushed with the login, and no
    copy left on the node."""
    build = on_node('sh', '-c', 'printf "FROM localhost/hl-web:latest\\nLABEL io.homelab.itest.private=1\\n" | '
                    'podman build -q -t %s -f - /tmp' % image)
    assert build.returncode == 0, build.stderr
    push = on_node('podman', 'push', '-q', '--creds', '%s:%s' % (user, password), image)
    assert push.returncode == 0, push.stderr
    assert on_node('podman', 'rmi', image).returncode == 0


def test_a_private_registry_pulls_with_the_auth_file_the_service_names(inventory):
    registry, user, password = login(inventory)
    image = registry + '/hl/private-web:1'
    on_node('rm', '-f', AUTH, '/run/containers/0/auth.json')
    on_node('podman', 'rmi', '-f', image)
    try:
        push_private_image(image, user, password)
        rc, dummy, out = run_role(inventory, {'stack_definition': stack(image)})
        assert rc != 0 and 'cannot pull image %s' % image in out, out[-3000:]
        assert 'unauthorized' in out.lower() or 'authentication required' in out.lower(), out[-3000:]
        assert 'Nothing was changed' in out and not unit_exists()

        rc, dummy, out = run_role(inventory, {'stack_definition': stack(image, AUTH)})
        assert rc != 0 and 'registry credentials %s' % AUTH in out and 'do not exist' in out, out[-3000:]
        assert not unit_exists()

        done = on_node('sh', '-c', 'mkdir -p %s && printf %%s %s | podman login --authfile %s -u %s --password-stdin %s'
                       % (shlex.quote(AUTH.rsplit('/', 1)[0]), shlex.quote(password), AUTH, shlex.quote(user), registry))
        assert done.returncode == 0, done.stderr
        rc, events, out = run_role(inventory, {'stack_definition': stack(image, AUTH)})
        assert rc == 0 and events and events[0]['outcome'] == 'success', out[-3000:]
        unit = on_node('cat', '/etc/containers/systemd/hlpriv-web.container').stdout
        assert 'PodmanArgs=--authfile=%s' % AUTH in unit and 'Pull=missing' in unit, unit
        assert on_node('systemctl', 'is-active', 'hlpriv-web.service').stdout.strip() == 'active'

        rc, events, out = run_role(inventory, {'stack_definition': stack(image, AUTH)})
        assert rc == 0 and events == [], 'registry unchanged: nothing changed (%s)' % out[-2000:]

        # a start that finds the image gone pulls it with the unit's --authfile
        pinned = [line.split('=', 1)[1] for line in unit.splitlines() if line.startswith('Image=')][0]
        assert '@sha256:' in pinned, 'pinned by the digest the pull recorded'
        on_node('systemctl', 'stop', 'hlpriv-web.service')
        assert on_node('podman', 'rmi', '-f', image).returncode == 0
        assert on_node('podman', 'image', 'exists', pinned).returncode != 0, 'the start has to pull it'
        started = on_node('systemctl', 'start', 'hlpriv-web.service')
        assert started.returncode == 0, started.stderr
        assert on_node('podman', 'image', 'exists', pinned).returncode == 0
        assert on_node('systemctl', 'is-active', 'hlpriv-web.service').stdout.strip() == 'active'
    finally:
        run_role(inventory, {'stack_definition': stack(image, AUTH), 'stack_state': 'absent', 'stack_purge': True})
        on_node('podman', 'rmi', '-f', image)
        on_node('rm', '-rf', AUTH.rsplit('/', 1)[0])

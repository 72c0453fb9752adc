# -*- coding: utf-8 -*-
"""Images pulled from a real registry: Debian's docker-registry (the CNCF distribution registry) runs on the node
at localhost:5000 (tests/harness/hlnode). A stack service with `pull: always` is pulled before anything changes;
a re-run with the registry unchanged changes nothing; when the tag moves to a build that never gets healthy the
service is restarted onto it (also with an unchanged, unpinned unit file), fails, and the rollback puts the tag
back on the image it named and the service back on it. A tag the registry does not have refuses the run before
any unit is written. Before, stacks wrote Pull=never and had no pull step at all.
"""
from test_stack_events import on_node, run_role

REPO = 'localhost:5000/hl/itest'


def image_id(ref):
    return on_node('podman', 'image', 'inspect', '--format', '{{.Id}}', ref).stdout.strip()


def running_image(container):
    return on_node('podman', 'container', 'inspect', '--format', '{{.Image}}', container).stdout.strip()


def push(source, tag):
    done = on_node('podman', 'push', '-q', source, '%s:%s' % (REPO, tag))
    assert done.returncode == 0, done.stderr


def stack(name, tag='1'):
    return {'schema_version': 1, 'name': name, 'services': {'web': {
        'image': '%s:%s' % (REPO, tag), 'pull': 'always', 'wait_for': {'timeout': 30},
        'healthcheck': {'cmd': '/bin/hl-web health', 'interval': '1s', 'retries': 2}}}}


def test_pulled_from_the_registry_a_moved_tag_restarts_and_a_failed_update_puts_the_tag_back(inventory):
    good, broken = image_id('localhost/hl-web:latest'), image_id('localhost/hl-web:broken')
    assert good and broken and good != broken
    names = {False: 'hlpull', True: 'hlpullpin'}
    try:
        for pin, name in sorted(names.items()):
            push('localhost/hl-web:latest', '1')
            on_node('podman', 'rmi', '-f', REPO + ':1')
            assert not image_id(REPO + ':1'), 'the deploy has to pull it'
            extra = {'stack_definition': stack(name), 'stack_pin_digests': pin}
            rc, events, out = run_role(inventory, extra)
            assert rc == 0, out[-3000:]
            assert image_id(REPO + ':1') == good and running_image(name + '-web') == good
            unit = on_node('cat', '/etc/containers/systemd/%s-web.container' % name).stdout
            assert 'Pull=missing' in unit, 'a start at boot does not wait for the registry'
            assert ('Image=%s@sha256:' % REPO in unit) == pin, unit

            rc, events, out = run_role(inventory, extra)
            assert rc == 0 and events == [], 'registry unchanged: nothing changed (%s)' % out[-2000:]

            push('localhost/hl-web:broken', '1')  # the tag moves to a release that never gets healthy
            rc, events, out = run_role(inventory, extra)
            assert rc != 0 and events and events[0]['outcome'] == 'rolled_back', out[-3000:]
            assert events[0]['failure']['service'] == 'web'
            assert image_id(REPO + ':1') == good, 'the rollback put the tag back on the image it named'
            assert running_image(name + '-web') == good, 'and the service back on it'
            assert on_node('systemctl', 'is-active', name + '-web.service').stdout.strip() == 'active'

        rc, events, out = run_role(inventory, {'stack_definition': stack('hlpullbad', tag='nope')})
        assert rc != 0 and 'cannot pull image %s:nope' % REPO in out and 'Nothing was changed' in out, out[-3000:]
        assert on_node('test', '-e', '/etc/containers/systemd/hlpullbad-web.container').returncode != 0
        assert on_node('test', '-e', '/etc/containers/systemd/hlpullbad.network').returncode != 0
    finally:
        for name in list(names.values()) + ['hlpullbad']:
            run_role(inventory, {'stack_definition': stack(name), 'stack_state': 'absent', 'stack_purge': True})
        on_node('podman', 'rmi', '-f', REPO + ':1')

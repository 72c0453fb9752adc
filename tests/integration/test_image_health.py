# -*- coding: utf-8 -*-
"""A service that relies on its image's own health, from an image without a HEALTHCHECK (real Valkey from Debian's
valkey-server package, as upstream images such as redis, nginx or mosquitto ship): the transaction starts it without
Notify=healthy (under which systemd would wait for ever) and waits until it runs. Before, the stack never started.
"""
import time

from test_stack_events import on_node, run_role

STACK = {'schema_version': 1, 'name': 'hlnohc', 'services': {
    'cache': {'image': 'localhost/valkey-base:8', 'command': 'valkey-server --protected-mode no',
              'wait_for': {'timeout': 60}}}}


def test_an_image_without_healthcheck_starts_and_is_waited_on_until_it_runs(inventory):
    assert on_node('podman', 'image', 'inspect', '--format', '{{.Config.Healthcheck}}',
                   'localhost/valkey-base:8').stdout.strip() in ('<nil>', ''), 'the test image must have no HEALTHCHECK'
    try:
        started = time.monotonic()
        rc, events, out = run_role(inventory, {'stack_definition': STACK})
        assert rc == 0, out[-3000:]
        assert time.monotonic() - started < 90
        assert events[0]['outcome'] == 'success'
        unit = on_node('cat', '/etc/containers/systemd/hlnohc-cache.container').stdout
        assert 'Image=localhost/valkey-base' in unit and 'Notify=' not in unit
        assert on_node('systemctl', 'is-active', 'hlnohc-cache.service').stdout.strip() == 'active'
        assert on_node('podman', 'exec', 'hlnohc-cache', 'valkey-cli', 'ping').stdout.strip() == 'PONG'
        rc, events, out = run_role(inventory, {'stack_definition': STACK})
        assert rc == 0 and events == [], 'the same units on a re-run: nothing to publish'
    finally:
        run_role(inventory, {'stack_definition': STACK, 'stack_state': 'absent', 'stack_purge': True})

# -*- coding: utf-8 -*-
"""The container keys a stack service shares with a pattern's (schemas/container.schema.json), on the node: a
non-root user (hl-web writes /www, a tmpfs for it), an env file (compose env_file) whose `$` and `%` reach the
container as written, an entrypoint replaced by a shell line with `$(...)` in it, all capabilities dropped and a
stop timeout. Quadlet accepts the units, the container runs as the user and answers its healthcheck. Before, a
stack service could set none of them.
"""
from test_stack_events import on_node, run_role

STACK = {'schema_version': 1, 'name': 'hlkeys', 'services': {'web': {
    'image': 'localhost/hl-web:latest', 'user': '1000:1000', 'tmpfs': ['/run/hl:rw,mode=1777', '/www:rw,mode=1777'], 'drop_capabilities': ['ALL'],
    'stop_timeout': 5, 'entrypoint': ['/bin/sh', '-c'], 'env_files': ['/etc/hlkeys/web.env'],
    # the command is split like a shell line (Exec=): the script for sh -c is one single-quoted word
    'command': "'echo \"started as $(id -u)\" > /run/hl/who && exec /bin/hl-web serve'",
    'healthcheck': {'cmd': '/bin/hl-web health', 'interval': '1s', 'retries': 2}, 'wait_for': {'timeout': 40}}}}


def test_a_stack_service_runs_as_a_user_with_its_own_entrypoint(inventory):
    written = on_node('sh', '-c', "mkdir -p /etc/hlkeys && cat > /etc/hlkeys/web.env <<'EOF'\nFROM_FILE=50% of $HOME\nEOF\n")
    assert written.returncode == 0, written.stderr
    try:
        rc, events, out = run_role(inventory, {'stack_definition': STACK})
        assert rc == 0, out[-3000:]
        assert on_node('podman', 'exec', 'hlkeys-web', 'sh', '-c', 'echo "$FROM_FILE"').stdout.strip() == '50% of $HOME', \
            'the env file reached the container as written (EnvironmentFile=, compose env_file)'
        unit = on_node('cat', '/etc/containers/systemd/hlkeys-web.container').stdout
        assert 'User=1000:1000' in unit and 'DropCapability=ALL' in unit and 'StopTimeout=5' in unit
        assert on_node('podman', 'exec', 'hlkeys-web', 'cat', '/run/hl/who').stdout.strip() == 'started as 1000', \
            '$(id -u) reached the shell, not systemd'
        assert on_node('podman', 'exec', 'hlkeys-web', 'id', '-u').stdout.strip() == '1000'
        rc, events, out = run_role(inventory, {'stack_definition': STACK})
        assert rc == 0 and events == [], 'idempotent'
    finally:
        run_role(inventory, {'stack_definition': STACK, 'stack_state': 'absent', 'stack_purge': True})
        on_node('rm', '-rf', '/etc/hlkeys')

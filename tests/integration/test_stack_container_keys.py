# -*- coding: utf-8 -*-
"""The container keys a stack service shares with a pattern's (schemas/container.schema.json), on the node: a
non-root user (hl-web writes /www, a tmpfs for it), an env file (compose env_file) whose `$` and `%` reach the
container as written, an entrypoint replaced by a shell line with `$(...)` in it, all capabilities dropped and a
stop timeout. Quadlet accepts the units, the container runs as the user and answers its healthcheck. Before, a
stack service could set none of them.
"""
from test_miniflux import drift
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


SURFACE = {'schema_version': 1, 'name': 'hlsurf', 'services': {
    # the rest of the container surface (issue 13 part 1) on one service, each key checked in the running container
    'web': {'image': 'localhost/hl-web:latest', 'shm_size': '96m', 'ulimits': {'nofile': {'soft': 1024, 'hard': 4096}},
            'sysctls': {'net.ipv4.ping_group_range': '0 2147483647'}, 'working_dir': '/srv/100%', 'tmpfs': ['/srv/100%'],
            'hostname': 'web.lan', 'init': True, 'timezone': 'Europe/Berlin', 'stop_signal': 'SIGINT',
            'labels': {'backup.enable': 'true', 'com.example.note': 'a b$x%y'}, 'annotations': {'com.example.tier': 'web'},
            'dns': ['192.0.2.53'], 'dns_search': ['lan'], 'dns_options': ['ndots:1'],
            'extra_hosts': {'printer.lan': '192.0.2.9'}, 'group_add': [44], 'wait_for': {'timeout': 40},
            'drop_capabilities': ['ALL'], 'add_capabilities': ['CAP_CHOWN']},
    # the host's network: reachable on the node's loopback at its own port, nothing published
    'hostnet': {'image': 'localhost/hl-web:latest', 'network_mode': 'host', 'environment': {'HL_WEB_PORT': '18099'},
                'wait_for': {'timeout': 40}},
    # no network at all: a job that fails unless lo is its only interface
    'isolated': {'image': 'localhost/hl-web:latest', 'kind': 'job', 'network_mode': 'none',
                 'entrypoint': ['/bin/sh', '-c'], 'command': "'test \"$(ls /sys/class/net)\" = lo'"},
    'priv': {'image': 'localhost/hl-web:latest', 'privileged': True, 'wait_for': {'timeout': 40}}}}


def inspect(container, template):
    return on_node('podman', 'inspect', container, '--format', template).stdout.strip()


def in_container(container, script):
    return on_node('podman', 'exec', container, 'sh', '-c', script).stdout


def test_the_container_surface_reaches_the_running_containers(inventory):
    try:
        rc, events, out = run_role(inventory, {'stack_definition': SURFACE})
        assert rc != 0 and 'services.priv.privileged: a privileged container' in out, out[-3000:]
        assert on_node('test', '-e', '/etc/containers/systemd/hlsurf-web.container').returncode != 0, \
            'refused before anything on the host changed'
        rc, events, out = run_role(inventory, {'stack_definition': SURFACE, 'stack_allow_privileged': True})
        assert rc == 0, out[-3000:]
        assert inspect('hlsurf-web', '{{.HostConfig.ShmSize}}') == str(96 * 1024 * 1024)
        assert in_container('hlsurf-web', 'ulimit -n; ulimit -Hn').split() == ['1024', '4096']
        assert in_container('hlsurf-web', 'cat /proc/sys/net/ipv4/ping_group_range').split() == ['0', '2147483647']
        assert in_container('hlsurf-web', 'pwd').strip() == '/srv/100%', '% reached podman, not systemd'
        assert in_container('hlsurf-web', 'hostname').strip() == 'web.lan'
        assert in_container('hlsurf-web', 'cat /proc/1/cmdline').startswith('/run/podman-init\x00'), 'an init is PID 1'
        assert inspect('hlsurf-web', '{{.Config.Timezone}}') == 'Europe/Berlin'
        assert inspect('hlsurf-web', '{{.Config.StopSignal}}') in ('SIGINT', '2')
        labels = inspect('hlsurf-web', '{{json .Config.Labels}}')
        assert '"backup.enable":"true"' in labels and '"com.example.note":"a b$x%y"' in labels, labels
        assert '"com.example.tier":"web"' in inspect('hlsurf-web', '{{json .Config.Annotations}}')
        resolv = in_container('hlsurf-web', 'cat /etc/resolv.conf')
        assert 'search lan' in resolv and 'ndots:1' in resolv, resolv
        # on a podman network the container asks the network's resolver, which forwards to the given servers
        assert inspect('hlsurf-web', '{{.HostConfig.Dns}}') == '[192.0.2.53]'
        assert '192.0.2.9' in in_container('hlsurf-web', 'grep printer.lan /etc/hosts')
        assert '44' in in_container('hlsurf-web', 'id -G').split()
        assert inspect('hlsurf-hostnet', '{{.HostConfig.NetworkMode}}') == 'host'
        assert on_node('curl', '-fsS', '-o', '/dev/null', 'http://127.0.0.1:18099/health').returncode == 0, \
            'the host-network service answers on the node itself'
        assert on_node('systemctl', 'is-active', 'hlsurf-isolated.service').stdout.strip() == 'active', \
            'the job saw lo only'
        assert inspect('hlsurf-priv', '{{.HostConfig.Privileged}}') == 'true'
        assert inspect('hlsurf-web', '{{.HostConfig.Privileged}}') == 'false'
        assert inspect('hlsurf-web', '{{.EffectiveCaps}}') == '[CAP_CHOWN]', 'all dropped but the one added'
        rc, events, out = run_role(inventory, {'stack_definition': SURFACE, 'stack_allow_privileged': True})
        assert rc == 0 and events == [], 'idempotent'
        found = drift(inventory, ['hlsurf-web.container', 'hlsurf-hostnet.container', 'hlsurf-priv.container'])
        assert not found['drifted'], found['summary']  # drift reads the surface as podman runs it (%%, SIGINT...)
    finally:
        run_role(inventory, {'stack_definition': SURFACE, 'stack_state': 'absent', 'stack_purge': True,
                             'stack_allow_privileged': True})

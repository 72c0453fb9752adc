# -*- coding: utf-8 -*-
"""drift_check reads what Quadlet reads (issue 17 part 7): a drop-in beside a deployed unit (NAME.container.d/*.conf)
that sets an environment variable and a label is merged like Quadlet merges it, so the container that runs with
them is not drift; the same container with the drop-in removed on disk but still running with it is. A sidecar in
another unit's network namespace (Network=x.container) is not drift; the same sidecar on a network of its own is.
"""
from test_miniflux import drift
from test_stack_events import on_node, run_role

STACK = {'schema_version': 1, 'name': 'hldrop', 'services': {'web': {
    'image': 'localhost/hl-web:latest', 'wait_for': {'timeout': 40}, 'environment': {'HL_WEB_MESSAGE': 'from the unit'}}}}
DROPIN_DIR = '/etc/containers/systemd/hldrop-web.container.d'


def test_a_dropin_is_part_of_the_declared_unit(inventory):
    try:
        rc, events, out = run_role(inventory, {'stack_definition': STACK})
        assert rc == 0, out[-3000:]
        written = on_node('sh', '-c', "mkdir -p %s && printf '[Container]\\nEnvironment=HL_WEB_MESSAGE=from-the-drop-in\\n"
                          "Label=com.example.team=ops\\n' > %s/10-local.conf && systemctl daemon-reload && "
                          "systemctl restart hldrop-web.service" % (DROPIN_DIR, DROPIN_DIR))
        assert written.returncode == 0, written.stderr
        env = on_node('podman', 'exec', 'hldrop-web', 'sh', '-c', 'echo "$HL_WEB_MESSAGE"').stdout.strip()
        assert env == 'from-the-drop-in', 'Quadlet merged the drop-in'
        found = drift(inventory, ['hldrop-web.container'])
        assert not found['drifted'], found['summary']
        on_node('rm', '-rf', DROPIN_DIR)
        found = drift(inventory, ['hldrop-web.container'])
        fields = [f['field'] for s in found['services'] for f in s.get('fields', [])]
        assert 'env.HL_WEB_MESSAGE' in fields and 'labels.com.example.team' in fields, fields
    finally:
        on_node('rm', '-rf', DROPIN_DIR)
        run_role(inventory, {'stack_definition': STACK, 'stack_state': 'absent', 'stack_purge': True})


HAND = """[Unit]
Description=a unit written by hand

[Container]
Image=localhost/busybox:latest
ContainerName=hlhand
Entrypoint=
Exec=/bin/httpd -f -p 8098 -h /data
Mount=type=bind,source=/srv/hlhand,destination=/data,ro=true
Volume=:/cache
Network=none

[Service]
Restart=always
"""


def test_a_hand_written_unit_with_an_empty_entrypoint_a_mount_and_an_anonymous_volume_has_no_drift(inventory):
    """Before, an empty Entrypoint= read as unset (a false entrypoint drift), Mount= was not read (an undeclared
    volume) and Volume=:/data had the source '' (a false source drift)."""
    try:
        written = on_node('sh', '-c', "mkdir -p /srv/hlhand && cat > /etc/containers/systemd/hlhand.container <<'EOF'\n%sEOF\n"
                          "systemctl daemon-reload && systemctl start hlhand.service && sleep 2 && "
                          "systemctl is-active hlhand.service" % HAND)
        assert written.returncode == 0, (written.stdout, written.stderr)
        found = drift(inventory, ['hlhand.container'])
        assert not found['drifted'], found['services']
        # and a real difference still shows: the bind mounted read-write by hand
        on_node('sh', '-c', 'sed -i "s/,ro=true//" /etc/containers/systemd/hlhand.container')
        found = drift(inventory, ['hlhand.container'])
        fields = [f['field'] for s in found['services'] for f in s.get('fields', [])]
        assert 'volumes./data.mode' in fields, fields
    finally:
        # busybox httpd as PID 1 ignores SIGTERM: the stop ends in a kill, and a failed unit would lower the health
        # score the pre-flight of later tests reads
        on_node('sh', '-c', 'systemctl stop hlhand.service; rm -f /etc/containers/systemd/hlhand.container; '
                'systemctl daemon-reload; systemctl reset-failed hlhand.service; rm -rf /srv/hlhand')


SIDECAR_MAIN = """[Container]
Image=localhost/hl-web:latest
ContainerName=hlnsmain
"""
SIDECAR = """[Unit]
Requires=hlnsmain.service
After=hlnsmain.service

[Container]
Image=localhost/busybox:latest
ContainerName=hlnsside
Exec=sleep 600
Network=hlnsmain.container
"""


def test_a_sidecar_in_another_containers_network_namespace_has_no_network_drift(inventory):
    """Before, Network=x.container was compared as a network named "x.container" (false drift)."""
    units = '/etc/containers/systemd/'
    try:
        written = on_node('sh', '-c', "cat > %shlnsmain.container <<'EOF'\n%sEOF\ncat > %shlnsside.container <<'EOF'\n%sEOF\n"
                          "systemctl daemon-reload && systemctl start hlnsside.service && "
                          "podman inspect -f '{{.HostConfig.NetworkMode}}' hlnsside" % (units, SIDECAR_MAIN, units, SIDECAR))
        assert written.returncode == 0 and written.stdout.startswith('container:'), (written.stdout, written.stderr)
        found = drift(inventory, ['hlnsside.container'])
        assert not found['drifted'], found['services']
        # the declared namespace differs from what runs: the sidecar restarted on a network of its own, by hand
        on_node('sh', '-c', 'podman rm -f hlnsside >/dev/null; podman run -d --name hlnsside localhost/busybox:latest sleep 600')
        found = drift(inventory, ['hlnsside.container'])
        fields = [f['field'] for s in found['services'] for f in s.get('fields', [])]
        assert 'networks' in fields, found['services']
    finally:
        on_node('sh', '-c', 'systemctl stop hlnsside.service hlnsmain.service; podman rm -f hlnsside; '
                'rm -f %shlnsmain.container %shlnsside.container; systemctl daemon-reload; '
                'systemctl reset-failed hlnsside.service hlnsmain.service' % (units, units))

# -*- coding: utf-8 -*-
"""The node harness itself: cached rebuilds, clear refusals, and what the node runs."""
import json
import subprocess

from conftest import HLNODE


def hlnode(*args, env=None):
    return subprocess.run(HLNODE + list(args), capture_output=True, text=True, check=False, env=env)


def test_second_build_reuses_every_cached_piece():
    res = hlnode('build')
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert 'node root file system is up to date' in out
    for image in ('busybox', 'hl-web', 'traefik', 'postgres', 'valkey'):
        assert 'image localhost/%s' % image in out
    assert 'built image' not in out and 'imported image' not in out and 'debootstrap' not in out, out


def test_refuses_clearly_on_a_host_without_the_tools():
    res = hlnode('build', env={'PATH': '/nonexistent'})
    assert res.returncode == 2
    assert 'this host cannot run the managed node' in res.stderr
    assert 'debootstrap' in res.stderr and 'systemd-container' in res.stderr


def test_node_runs_systemd_257_and_podman_5():
    res = hlnode('status')
    info = json.loads(res.stdout)
    assert info['running'] is True
    assert info['system_state'] in ('running', 'degraded')
    assert info['systemd'].startswith('systemd 257')
    assert info['podman'].startswith('podman version 5.4')


def test_exec_runs_inside_the_node_not_on_the_host():
    res = hlnode('exec', '--', 'cat', '/etc/os-release')
    assert res.returncode == 0
    assert 'trixie' in res.stdout

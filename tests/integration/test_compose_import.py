# -*- coding: utf-8 -*-
"""Compose import on the node: a small compose file (a web app on localhost:5000/hl/web:1 and Valkey on
localhost:5000/hl/valkey:8, both in the node's registry) is imported with the import_compose playbook, the written
stack file is deployed with the deploy_stack playbook and its secrets file, both services are healthy, the app
answers, the compose secret reached Valkey as a file (it asks for the password) and never a unit file; then it is
removed. The import runs on the controller only.
"""
import os
import subprocess
import tempfile

from test_stack_events import ROOT, on_node

COMPOSE = """
name: hlcompose
services:
  web:
    image: localhost:5000/hl/web:${WEB_TAG:-1}
    pull_policy: always
    environment:
      HL_WEB_MESSAGE: "imported from ${SOURCE}"
    depends_on:
      cache:
        condition: service_healthy
    healthcheck:
      test: ["CMD", "/bin/hl-web", "health"]
      interval: 2s
      retries: 3
  cache:
    image: localhost:5000/hl/valkey:8
    environment:
      VALKEY_PASSWORD_FILE: /run/secrets/valkey_password
    secrets: [valkey_password]
    healthcheck:
      test: /usr/local/bin/hl-valkey health
      interval: 2s
secrets:
  valkey_password:
    file: ./valkey_password.txt
"""
PASSWORD = 'it-compose-valkey-0123456789'


def playbook(name, inventory, *extra):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, 'tests', 'output', 'collections'),
               ANSIBLE_HOST_KEY_CHECKING='False', ANSIBLE_NOCOLOR='1')
    argv = ['ansible-playbook', 'homelab.deploy.' + name] + (['-i', inventory] if inventory else []) + list(extra)
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=False)


def test_a_compose_file_imported_deployed_and_healthy(inventory):
    work = tempfile.mkdtemp(prefix='hl-compose-', dir=os.path.join(ROOT, 'tests', 'output'))
    compose, stack = os.path.join(work, 'compose.yml'), os.path.join(work, 'stack.yml')
    with open(compose, 'w') as handle:
        handle.write(COMPOSE)
    with open(os.path.join(work, '.env'), 'w') as handle:
        handle.write('SOURCE=the env file\n')
    with open(os.path.join(work, 'valkey_password.txt'), 'w') as handle:
        handle.write(PASSWORD)
    deploy = ['-e', 'stack_target=node', '-e', 'stack_name=' + stack, '-e', '@' + stack + '.secrets.yml']
    try:
        done = playbook('import_compose', None, '-e', 'compose_file=' + compose, '-e', 'stack_file=' + stack)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
        assert PASSWORD not in done.stdout, 'the import never prints a secret value'
        assert oct(os.stat(stack + '.secrets.yml').st_mode & 0o777) == '0o600'
        with open(stack) as handle:
            text = handle.read()
        assert text.startswith('# Stack hlcompose') and PASSWORD not in text

        done = playbook('deploy_stack', inventory, *deploy)
        assert done.returncode == 0, done.stdout[-4000:]
        for name in ('hlcompose-web', 'hlcompose-cache'):
            assert on_node('podman', 'healthcheck', 'run', name).returncode == 0, name
        page = on_node('podman', 'exec', 'hlcompose-web', 'wget', '-qO-', 'http://127.0.0.1:8080/').stdout
        assert 'imported from the env file' in page, page
        auth = on_node('podman', 'exec', 'hlcompose-cache', 'sh', '-c', 'valkey-cli -h 127.0.0.1 ping')
        assert 'NOAUTH' in auth.stdout + auth.stderr, 'the compose secret set the password'
        unit = on_node('cat', '/etc/containers/systemd/hlcompose-cache.container').stdout
        assert 'Secret=hlcompose-valkey-password' in unit and PASSWORD not in unit

        done = playbook('deploy_stack', inventory, *deploy)
        assert done.returncode == 0 and 'changed=0' in done.stdout.split('PLAY RECAP')[-1], 'a re-deploy changes nothing'
    finally:
        playbook('deploy_stack', inventory, *(deploy + ['-e', 'stack_state=absent', '-e', 'stack_purge=true']))
        on_node('podman', 'secret', 'rm', '--ignore', 'hlcompose-valkey-password')
        subprocess.run(['rm', '-rf', work], check=False)

# -*- coding: utf-8 -*-
"""Host bind mounts and shipped config files of a stack service, on the node: a bind to a system path is refused
naming the key before any unit is written; a missing bind directory under /srv is created with its owner and mode
and the non-root container writes to it; a config file (inline) and a template (rendered with a play variable,
`$` and `%` in it) are mounted read-only; a changed config restarts only its own service; a re-run changes
nothing; removing the stack keeps the bind directory and its data.
"""
import os
import tempfile

from test_stack_events import ROOT, on_node, run_role

CONFIG = 'listen = 8080\nratio = 50%\n'


def stack(template, config=CONFIG, extra_volume=None):
    web = {'image': 'localhost/hl-web:latest', 'user': '1000:1000', 'tmpfs': ['/www:rw,mode=1777'],
           'volumes': [{'path': '/srv/hlbind/data', 'target': '/data', 'owner': 1000, 'group': 1000, 'dir_mode': '0700'},
                       {'path': '/etc/localtime', 'target': '/etc/localtime', 'mode': 'ro'}],
           'configs': [{'target': '/etc/hl/app.conf', 'content': config},
                       {'target': '/etc/hl/from-template.conf', 'template': template}],
           'healthcheck': {'cmd': '/bin/hl-web health', 'interval': '1s', 'retries': 2}, 'wait_for': {'timeout': 40}}
    if extra_volume:
        web['volumes'].append(extra_volume)
    other = {'image': 'localhost/hl-web:latest', 'tmpfs': ['/www:rw,mode=1777'],
             'healthcheck': {'cmd': '/bin/hl-web health', 'interval': '1s', 'retries': 2}, 'wait_for': {'timeout': 40}}
    return {'schema_version': 1, 'name': 'hlbind', 'services': {'web': web, 'other': other}}


def invocation(service):
    return on_node('systemctl', 'show', '-p', 'InvocationID', '--value', service).stdout.strip()


def test_bind_directories_and_config_files_of_a_stack_service(inventory):
    work = tempfile.mkdtemp(prefix='hl-binds-', dir=os.path.join(ROOT, 'tests', 'output'))
    template = os.path.join(work, 'from-template.conf.j2')
    with open(template, 'w') as handle:
        handle.write('greeting = {{ hl_greeting }}\nliteral = $HOME and 100%\n')
    on_node('rm', '-rf', '/srv/hlbind')
    try:
        bad = stack(template, extra_volume={'path': '/etc/ssh', 'target': '/keys', 'mode': 'ro'})
        rc, events, out = run_role(inventory, {'stack_definition': bad, 'hl_greeting': 'hi'})
        assert rc != 0 and 'services.web.volumes[2].path' in out and 'a system path' in out, out[-3000:]
        assert on_node('test', '-e', '/etc/containers/systemd/hlbind-web.container').returncode != 0, 'nothing written'
        assert on_node('test', '-e', '/srv/hlbind').returncode != 0, 'no directory created'

        rc, events, out = run_role(inventory, {'stack_definition': stack(template), 'hl_greeting': 'hi'})
        assert rc == 0, out[-3000:]
        assert on_node('stat', '-c', '%u:%g %a', '/srv/hlbind/data').stdout.strip() == '1000:1000 700'
        wrote = on_node('podman', 'exec', 'hlbind-web', 'sh', '-c', 'echo kept > /data/note && cat /data/note')
        assert wrote.stdout.strip() == 'kept', wrote.stderr
        assert on_node('podman', 'exec', 'hlbind-web', 'cat', '/etc/hl/app.conf').stdout == CONFIG
        assert on_node('podman', 'exec', 'hlbind-web', 'cat', '/etc/hl/from-template.conf').stdout == \
            'greeting = hi\nliteral = $HOME and 100%\n'
        denied = on_node('podman', 'exec', 'hlbind-web', 'sh', '-c', 'echo x > /etc/hl/app.conf')
        assert denied.returncode != 0, 'config files are mounted read-only'

        web, other = invocation('hlbind-web.service'), invocation('hlbind-other.service')
        rc, events, out = run_role(inventory, {'stack_definition': stack(template, config='listen = 9090\n'),
                                               'hl_greeting': 'hi'})
        assert rc == 0, out[-3000:]
        assert on_node('podman', 'exec', 'hlbind-web', 'cat', '/etc/hl/app.conf').stdout == 'listen = 9090\n'
        assert invocation('hlbind-web.service') != web, 'the changed config restarted its service'
        assert invocation('hlbind-other.service') == other, 'and only its service'

        rc, events, out = run_role(inventory, {'stack_definition': stack(template, config='listen = 9090\n'),
                                               'hl_greeting': 'hi'})
        assert rc == 0 and events == [], 'a re-run changes nothing'
    finally:
        run_role(inventory, {'stack_definition': stack(template), 'hl_greeting': 'hi', 'stack_state': 'absent',
                             'stack_purge': True})
        kept = on_node('cat', '/srv/hlbind/data/note').stdout.strip()
        on_node('rm', '-rf', '/srv/hlbind', '/etc/homelab-deploy/stacks/hlbind')
        os.remove(template)
        os.rmdir(work)
    assert kept == 'kept', 'removing the stack keeps the bind directory and its data'

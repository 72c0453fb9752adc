# -*- coding: utf-8 -*-
"""The deploy executor's flow, with the host modules replaced by scripted results."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

from unittest import mock

import pytest

from ansible_collections.homelab.deploy.plugins.action import deploy as action

PLAN = {
    'name': 'demo', 'kind': 'stack', 'scope': 'system',
    'phases': [
        [{'name': 'demo.network', 'text': '[Network]\n', 'service': None, 'container': None, 'wait': False}],
        [{'name': 'demo-db.container', 'text': '[Container]\nImage=db\n', 'service': 'db', 'container': 'demo-db',
          'image': 'db', 'wait': True, 'timeout': 60}],
        [{'name': 'demo-web.container', 'text': '[Container]\nImage=web\n', 'service': 'web', 'container': 'demo-web',
          'image': 'web', 'wait': True, 'timeout': 60}],
    ],
    'routes': [{'name': 'demo-web', 'service': 'web', 'hostname': ['demo.localhost'], 'urls': ['http://demo-web:8080'],
                'middlewares': [], 'public': False}],
    'verify': [{'name': 'page', 'http': {'url': 'http://127.0.0.1/', 'host': 'demo.localhost', 'status': [200]}}],
}

APPLIED = {
    'changed': True, 'images': {'demo-db.container': 'db@sha256:1', 'demo-web.container': 'web@sha256:2'},
    'units': {'demo.network': {'action': 'write', 'service': 'none'},
              'demo-db.container': {'action': 'write', 'service': 'start', 'seconds_to_healthy': 3.2},
              'demo-web.container': {'action': 'unchanged', 'service': 'none'}},
    'phases': [{'phase': 0, 'units': ['demo.network'], 'seconds': 0.1},
               {'phase': 1, 'units': ['demo-db.container'], 'seconds': 3.4},
               {'phase': 2, 'units': ['demo-web.container'], 'seconds': 0.0}],
    'seconds': {'total': 4.0},
}


def make(args, results, check_mode=False):
    """An ActionModule whose host calls answer from results {module: [result, ...]}; returns (module, calls)."""
    task = mock.MagicMock()
    task.args = args
    task.check_mode = check_mode
    task.async_val = 0
    connection = mock.MagicMock()
    connection.transport = 'community.docker.docker_api'  # no live progress unless a test says so
    mod = action.ActionModule(task, connection, mock.MagicMock(), mock.MagicMock(), mock.MagicMock(), mock.MagicMock())
    calls = []

    def execute(module_name, module_args, task_vars):
        calls.append((module_name, module_args))
        return dict(results[module_name].pop(0))
    mod._execute_module = execute
    mod._remove_tmp_path = lambda path: None
    return mod, calls


def run(args, results, check_mode=False):
    mod, calls = make(args, results, check_mode)
    with mock.patch.object(action.display, 'display'):
        return mod.run(task_vars={'inventory_hostname': 'node'}), calls


ROUTED = dict(APPLIED, routes={'demo-web': {'action': 'write', 'path': '/etc/traefik/dynamic/demo-web.yml'}},
              verify=[{'name': 'page', 'ok': True}], seconds={'total': 4.0, 'verify': 0.5})


def test_one_transaction_with_units_routes_and_checks():
    result, calls = run({'plan': PLAN, 'secrets': {'demo-db-password': 's3cret'}, 'traefik': {'dynamic_dir': '/srv/dyn'}},
                        {action.APPLY: [ROUTED]})
    assert [c[0] for c in calls] == [action.APPLY]
    first = calls[0][1]
    assert [u['phase'] for u in first['units']] == [0, 1, 2]
    assert first['units'][1] == {'name': 'demo-db.container', 'phase': 1, 'state': 'present',
                                 'content': '[Container]\nImage=db\n', 'wait': True, 'timeout': 60}
    assert first['secrets'] == {'demo-db-password': 's3cret'} and first['verify'] == PLAN['verify']
    assert first['routes'] == [{'name': 'demo-web', 'hostname': ['demo.localhost'], 'urls': ['http://demo-web:8080'],
                                'middlewares': [], 'public': False, 'dynamic_dir': '/srv/dyn'}]  # no 'service': ours
    assert result['outcome'] == 'success' and not result['failed'] and result['routes_changed'] == ['demo-web']
    assert result['changed_services'] == ['db'] and result['service_seconds'] == {'db': 3.2}
    assert result['seconds']['phase 1'] == 3.4 and result['seconds']['verify'] == 0.5
    assert [p['call'] for p in result['profile']] == ['apply']
    event = result['ansible_stats']['data']['homelab_deploy_events'][0]
    assert event['kind'] == 'stack' and event['outcome'] == 'success' and event['host'] == 'node'
    assert event['images'] == {'demo-db': 'db@sha256:1', 'demo-web': 'web@sha256:2'}
    assert 's3cret' not in repr(result)


def test_the_event_records_the_digest_each_container_runs():
    applied = dict(ROUTED, images={'demo-db.container': 'db:1', 'demo-web.container': 'web:2'},
                   digests={'demo-db.container': 'db@sha256:1'})
    result, dummy = run({'plan': PLAN}, {action.APPLY: [applied]})
    assert result['digests'] == {'demo-db.container': 'db@sha256:1'}
    assert result['event']['images'] == {'demo-db': 'db@sha256:1', 'demo-web': 'web:2'}, 'the tag where no digest is known'


def test_failed_phase_is_reported_and_its_route_is_not_counted():
    failed = dict(ROUTED, failed=True, msg='db did not get healthy',
                  failure={'service': 'db', 'check': 'health', 'cause': 'unhealthy', 'evidence': 'exit 1'},
                  rollback={'ok': True, 'restored': ['demo-db.container'], 'removed': [], 'routes': ['demo-web removed'],
                            'errors': []})
    result, calls = run({'plan': PLAN}, {action.APPLY: [failed]})
    assert [c[0] for c in calls] == [action.APPLY]
    assert result['failed'] and result['outcome'] == 'rolled_back' and result['routes_changed'] == []
    assert result['ansible_stats']['data']['homelab_deploy_events'][0]['failure']['service'] == 'db'
    assert 'FAILED: db (health): unhealthy' in result['msg']
    assert result['result']['outcome'] == 'rolled_back' and result['result']['failure']['service'] == 'db'
    assert result['report'].startswith('stack demo on node FAILED: service db, check health')
    assert 'rollback: every touched service is back' in result['report']


def test_the_role_result_comes_with_the_run():
    result, dummy = run({'plan': PLAN}, {action.APPLY: [ROUTED]})
    assert result['result'] == action.events.deploy_result(result, PLAN), 'what the deploy_result filter gives'
    assert result['result']['images'] == {'demo-db': 'db@sha256:1', 'demo-web': 'web@sha256:2'}
    assert result['result']['changed'] == ['db'] and 'report' not in result


def test_a_route_traefik_rejects_is_a_route_failure():
    failed = dict(ROUTED, failed=True, msg='route demo-web: Traefik rejected ...',
                  failure={'service': 'demo-web', 'check': 'route', 'cause': 'Traefik rejected it', 'evidence': {}},
                  rollback={'ok': True, 'restored': [], 'removed': [], 'routes': ['demo-web removed'], 'errors': []})
    result, dummy = run({'plan': PLAN}, {action.APPLY: [failed]})
    assert result['failed'] and result['outcome'] == 'rolled_back'
    assert result['failure'] == failed['failure'], 'a route failure is reported as the host found it'


def test_check_mode_plans_in_one_call_and_publishes_nothing():
    result, calls = run({'plan': PLAN}, {action.APPLY: [ROUTED]}, check_mode=True)
    assert [c[0] for c in calls] == [action.APPLY]
    assert 'ansible_stats' not in result and 'event' not in result


def test_no_change_publishes_nothing():
    same = dict(APPLIED, changed=False, units=dict((k, {'action': 'unchanged', 'service': 'none'}) for k in APPLIED['units']),
                routes={'demo-web': {'action': 'unchanged'}})
    result, calls = run({'plan': PLAN}, {action.APPLY: [same]})
    assert [c[0] for c in calls] == [action.APPLY]
    assert not result['changed'] and result['changed_services'] == [] and result['routes_changed'] == []
    assert 'ansible_stats' not in result


def test_verify_false_passes_no_checks():
    dummy, calls = run({'plan': PLAN, 'verify': False, 'checks': [{'name': 'x', 'command': ['true'], 'container': 'c'}]},
                       {action.APPLY: [APPLIED]})
    assert calls[0][1]['verify'] == []


def test_absent_withdraws_routes_in_the_same_call_and_purges_only_on_request():
    result, calls = run({'plan': PLAN, 'state': 'absent'}, {action.APPLY: [{'changed': True}]})
    assert [c[0] for c in calls] == [action.APPLY]
    assert calls[0][1]['routes'] == [{'name': 'demo-web', 'state': 'absent'}]
    units = calls[0][1]['units']
    assert all(u['state'] == 'absent' for u in units)
    assert [u['purge'] for u in units] == [False, True, True]  # left-over containers always go


@pytest.mark.parametrize('publish', [True, False])
def test_publish_false_keeps_the_event_for_the_caller(publish):
    result, dummy = run({'plan': dict(PLAN, routes=[], verify=[]), 'publish': publish}, {action.APPLY: [APPLIED]})
    assert result['event']['name'] == 'demo'
    assert ('ansible_stats' in result) is publish


def test_health_timeout_overrides_every_unit():
    dummy, calls = run({'plan': dict(PLAN, routes=[], verify=[]), 'health_timeout': 300}, {action.APPLY: [APPLIED]})
    assert [u['timeout'] for u in calls[0][1]['units']] == [300, 300, 300]


def test_progress_reader_prints_each_complete_line_once():
    shown = []
    reader = action.ProgressReader(None, '/tmp/x', lambda e: 'line %s' % e['n'] if e['n'] != 2 else None, show=shown.append)
    reader.feed('{"n": 1}\n{"n": 2}\n{"n": 3')  # the third line is still being written
    reader.feed('{"n": 1}\n{"n": 2}\n{"n": 3}\nnot json\n{"n": 4}\n')
    assert shown == ['line 1', 'line 3', 'line 4'] and reader.shown == 3


def test_progress_is_read_on_a_copy_of_an_ssh_connection_while_the_module_runs():
    mod, calls = make({'plan': dict(PLAN, routes=[], verify=[])}, {action.APPLY: [APPLIED]})
    reads = []

    class Conn(object):
        transport = 'ssh'
        _shell = mock.MagicMock(tmpdir=None)

        def exec_command(self, cmd, sudoable=True):
            reads.append((cmd, sudoable))
            return 0, b'{"event": "healthy", "container": "demo-db", "t": 1.0, "seconds": 1.0}\n', b''
    mod._connection = Conn()
    with mock.patch.object(action, 'PROGRESS_INTERVAL', 0.01), mock.patch.object(action.display, 'display') as out:
        original = mod._execute_module

        def slow(**kwargs):
            import time
            time.sleep(0.1)
            return original(**kwargs)
        mod._execute_module = slow
        mod.run(task_vars={'inventory_hostname': 'node'})
    path = calls[0][1]['progress_file']
    assert path.startswith('/tmp/homelab-deploy-progress-') and reads and reads[0] == ('cat -- %s 2>/dev/null || true' % path, False)
    printed = [c[0][0] for c in out.call_args_list]
    assert printed.count('[  1.0 s] demo: db healthy after 1.0 s') == 1
    assert not [p for p in printed if p.startswith('demo phase 1 [')], 'phase lines were shown live, not again'


def test_no_live_progress_in_check_mode_or_on_other_connections():
    dummy, calls = run({'plan': PLAN}, {action.APPLY: [ROUTED]}, check_mode=True)
    assert 'progress_file' not in calls[0][1]


def test_route_settings_come_from_the_task_then_module_defaults_and_an_omitted_key_falls_through():
    mod, calls = make({'plan': PLAN, 'traefik': {'dynamic_dir': '/task/dyn', 'api_url': '__omit_place_holder__x'}},
                      {action.APPLY: [ROUTED]})
    defaults = {'dynamic_dir': '/md/dyn', 'api_url': 'http://md:9080', 'confirm_timeout': 5}
    with mock.patch('ansible.executor.module_common._apply_action_arg_defaults', return_value=defaults) as applied, \
            mock.patch.object(action.display, 'display'):
        mod.run(task_vars={'inventory_hostname': 'node', 'omit': '__omit_place_holder__x'})
    assert applied.call_args[0][0] == action.ROUTE
    route = calls[0][1]['routes'][0]
    assert route['dynamic_dir'] == '/task/dyn' and route['api_url'] == 'http://md:9080'
    assert 'confirm_timeout' not in route, 'only the Traefik layout comes from module_defaults'


def test_rootless_services_left_unrouted_are_warned_about():
    plan = dict(PLAN, scope='user', routes=[], unrouted=['web'])
    mod, dummy = make({'plan': plan, 'user': 'hl'}, {action.APPLY: [APPLIED]})
    with mock.patch.object(action.display, 'display'), mock.patch.object(action.display, 'warning') as warning:
        mod.run(task_vars={'inventory_hostname': 'node'})
    warning.assert_called_once_with('demo: rootless services web are not routed (the rootful Traefik cannot reach a '
                                    'rootless network)')


def test_plan_files_are_written_by_the_transaction_and_a_template_is_rendered_with_the_plays_variables(tmp_path):
    from ansible.parsing.dataloader import DataLoader
    from ansible.template import Templar
    template = tmp_path / 'app.conf.j2'
    template.write_text('listen = {{ app_port }}\n')
    plan = dict(PLAN, directories=[{'path': '/srv/demo/data', 'mode': '0750'}],
                files=[{'path': '/etc/homelab-deploy/stacks/demo/web/etc/app.conf', 'template': str(template),
                        'mode': '0644', 'restarts': ['demo-web.container']},
                       {'path': '/etc/homelab-deploy/stacks/demo/web/etc/b.conf', 'content': 'b\n', 'mode': '0644',
                        'restarts': ['demo-web.container']}])
    mod, calls = make({'plan': plan}, {action.APPLY: [ROUTED]})
    mod._templar = Templar(loader=DataLoader())
    with mock.patch.object(action.display, 'display'):
        result = mod.run(task_vars={'inventory_hostname': 'node', 'app_port': 8080})
    assert not result['failed'], result.get('msg')
    sent = calls[0][1]
    assert sent['directories'] == [{'path': '/srv/demo/data', 'mode': '0750'}]
    assert [(f['path'].rsplit('/', 1)[1], f['content']) for f in sent['files']] == [('app.conf', 'listen = 8080\n'),
                                                                                    ('b.conf', 'b\n')]
    assert 'template' not in sent['files'][0]


def test_a_missing_config_template_fails_naming_the_deployment_and_the_file(tmp_path):
    plan = dict(PLAN, files=[{'path': '/etc/x', 'template': str(tmp_path / 'gone.j2'), 'mode': '0644', 'restarts': []}])
    mod, calls = make({'plan': plan}, {action.APPLY: [ROUTED]})
    with mock.patch.object(action.display, 'display'):
        with pytest.raises(Exception) as err:
            mod.run(task_vars={'inventory_hostname': 'node'})
    assert 'demo: config template %s' % (tmp_path / 'gone.j2') in str(err.value) and not calls


def test_an_https_route_listens_on_the_traefik_tls_entry_points_unless_it_names_its_own():
    plan = dict(PLAN, routes=[dict(PLAN['routes'][0], tls={'cert_resolver': 'letsencrypt'}),
                              dict(PLAN['routes'][0], name='demo-own', tls={'entrypoints': ['https2']}),
                              dict(PLAN['routes'][0], name='demo-plain')])
    dummy, calls = run({'plan': plan, 'traefik': {'entrypoints': ['web'], 'tls_entrypoints': ['websecure', 'alt']}},
                       {action.APPLY: [ROUTED]})
    routes = dict((r['name'], r) for r in calls[0][1]['routes'])
    assert routes['demo-web']['tls'] == {'cert_resolver': 'letsencrypt', 'entrypoints': ['websecure', 'alt']}
    assert routes['demo-web']['entrypoints'] == ['web'], 'the plain-HTTP router (the redirect) stays on web'
    assert routes['demo-own']['tls'] == {'entrypoints': ['https2']}
    assert 'tls' not in routes['demo-plain']
    assert 'tls_entrypoints' not in routes['demo-web'], 'not a traefik_route option'


def test_an_unknown_traefik_setting_is_refused_before_the_host_is_called():
    with pytest.raises(action.AnsibleActionFail, match=r'traefik: unknown key\(s\) entrypoint \(known: '):
        run({'plan': PLAN, 'traefik': {'dynamic_dir': '/d', 'entrypoint': ['web']}}, {action.APPLY: [ROUTED]})
    mod, calls = make({'plan': PLAN, 'traefik': {'entrypoint': ['web']}}, {action.APPLY: [ROUTED]})
    with pytest.raises(action.AnsibleActionFail), mock.patch.object(action.display, 'display'):
        mod.run(task_vars={'inventory_hostname': 'node'})
    assert calls == [], 'nothing reached the host'


@pytest.mark.parametrize('traefik, fragment', [
    ({'tls_entrypoints': []}, 'Traefik has no HTTPS entry point (run the homelab.deploy.traefik role with '
                              'traefik_https: true)'),
    ({'tls_entrypoints': ['websecure'], 'cert_resolvers': ['pebble']},
     "certificate resolver 'letsencrypt' is not configured in Traefik (its resolvers: pebble"),
    ({'tls_entrypoints': ['websecure'], 'cert_resolvers': []},
     "certificate resolver 'letsencrypt' is not configured in Traefik (its resolvers: none"),
])
def test_an_https_route_traefik_cannot_serve_is_refused_before_the_host_is_called(traefik, fragment):
    plan = dict(PLAN, routes=[dict(PLAN['routes'][0], tls={'cert_resolver': 'letsencrypt'})])
    mod, calls = make({'plan': plan, 'traefik': traefik}, {action.APPLY: [ROUTED]})
    with pytest.raises(action.AnsibleActionFail) as err, mock.patch.object(action.display, 'display'):
        mod.run(task_vars={'inventory_hostname': 'node'})
    assert 'demo: route demo-web: tls: ' + fragment in str(err.value)
    assert calls == []


def test_removing_an_https_route_needs_no_https_entry_point():
    plan = dict(PLAN, routes=[dict(PLAN['routes'][0], tls={'cert_resolver': 'letsencrypt'})])
    dummy, calls = run({'plan': plan, 'state': 'absent', 'traefik': {'tls_entrypoints': [], 'cert_resolvers': []}},
                       {action.APPLY: [dict(APPLIED, routes={'demo-web': {'action': 'remove'}})]})
    assert calls[0][1]['routes'] == [{'name': 'demo-web', 'state': 'absent'}]


def test_the_forward_auth_traefik_defines_counts_as_authentication_on_the_routes():
    plan = dict(PLAN, routes=[dict(PLAN['routes'][0]), dict(PLAN['routes'][0], name='demo-own', auth_middlewares=['x@file'])])
    dummy, calls = run({'plan': plan, 'traefik': {'auth_middlewares': ['sso@file']}}, {action.APPLY: [ROUTED]})
    routes = dict((r['name'], r) for r in calls[0][1]['routes'])
    assert routes['demo-web']['auth_middlewares'] == ['authelia@file', 'authentik@file', 'sso@file']
    assert routes['demo-own']['auth_middlewares'] == ['sso@file', 'x@file']
    dummy, calls = run({'plan': plan}, {action.APPLY: [ROUTED]})
    assert 'auth_middlewares' not in dict((r['name'], r) for r in calls[0][1]['routes'])['demo-web']


def test_a_public_route_without_tls_gets_the_default_resolver_and_tls_false_stays_plain():
    plan = dict(PLAN, routes=[dict(PLAN['routes'][0], name='pub', public=True),
                              dict(PLAN['routes'][0], name='pub-plain', public=True, tls=False),
                              dict(PLAN['routes'][0], name='lan', public=False),
                              dict(PLAN['routes'][0], name='pub-own', public=True, tls={'cert_resolver': 'internal'})])
    traefik = {'tls_entrypoints': ['websecure'], 'cert_resolvers': ['letsencrypt', 'internal'],
               'default_cert_resolver': 'letsencrypt'}
    dummy, calls = run({'plan': plan, 'traefik': traefik}, {action.APPLY: [ROUTED]})
    routes = dict((r['name'], r) for r in calls[0][1]['routes'])
    assert routes['pub']['tls'] == {'cert_resolver': 'letsencrypt', 'entrypoints': ['websecure']}
    assert 'tls' not in routes['pub-plain'], 'tls: false is plain HTTP on purpose'
    assert 'tls' not in routes['lan'], 'a LAN-only route is not given a public certificate'
    assert routes['pub-own']['tls'] == {'cert_resolver': 'internal', 'entrypoints': ['websecure']}
    # without a default resolver nothing changes
    dummy, calls = run({'plan': plan, 'traefik': dict(traefik, default_cert_resolver='')}, {action.APPLY: [ROUTED]})
    assert 'tls' not in dict((r['name'], r) for r in calls[0][1]['routes'])['pub']


def test_the_drift_check_expects_the_tls_the_deploy_gave():
    from ansible_collections.homelab.deploy.plugins.filter import catalog
    routes = [{'name': 'pub', 'public': True, 'hostname': ['a.test'], 'required_middlewares': []},
              {'name': 'plain', 'public': True, 'tls': False}, {'name': 'lan', 'public': False}]
    args = dict((r['name'], r) for r in catalog.route_args(routes, default_cert_resolver='letsencrypt'))
    assert args['pub']['tls'] == {'cert_resolver': 'letsencrypt'} and 'required_middlewares' not in args['pub']
    assert 'tls' not in args['plain'] and 'tls' not in args['lan']
    assert 'tls' not in dict((r['name'], r) for r in catalog.route_args(routes))['pub']

# -*- coding: utf-8 -*-
"""Automation levels gate deploy_stack and reconcile as they gate deploy_service (issue 16 part 2), with the same
variables. Against the real node, through ansible-runner as AWX runs them, with a history of their own:

* deploy_stack at level 0 is refused before the host is touched, and the refusal is a history event; at level 1
  it needs deploy_approved, and the approved run's event records the level; check mode is always allowed;
* reconcile at level 0 is refused before it reads the host; its check mode (the plan) runs; an AWX schedule
  (awx_job_launch_type scheduled) needs level 4.
"""
import os

from test_stack_events import STACK, on_node, run_play

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEPLOY_STACK = '- import_playbook: homelab.deploy.deploy_stack\n'
RECONCILE = '- import_playbook: homelab.deploy.reconcile\n'
STACK_NAME = 'hlgate'


def stack_run(inventory, history, automation, cmdline=None, **extra):
    definition = dict(STACK, name=STACK_NAME)
    variables = dict({'stack_target': 'node', 'stack_definition': definition, 'deploy_history_db': history,
                      'deploy_automation': automation}, **extra)
    rc, stats, out = run_play(inventory, DEPLOY_STACK, variables, cmdline=cmdline)
    return rc, stats.get('artifact_data', {}).get('homelab_deploy_events', []), out


def unit_written():
    return on_node('test', '-e', '/etc/containers/systemd/%s-web.container' % STACK_NAME).returncode == 0


def test_deploy_stack_is_gated_by_the_automation_level(inventory, tmp_path):
    history = str(tmp_path / 'history.sqlite')
    try:
        rc, events, out = stack_run(inventory, history, {'max_level': 0})
        assert rc != 0 and 'refused: automation level 0' in out and 'Nothing was changed' in out, out[-3000:]
        assert [(e['kind'], e['name'], e['outcome'], e['automation_level']) for e in events] == \
            [('stack', STACK_NAME, 'refused', 0)], events
        assert events[0]['failure']['check'] == 'automation level'
        assert not unit_written(), 'refused before the host is touched'

        rc, events, out = stack_run(inventory, history, {'max_level': 0}, cmdline='--check')
        assert rc == 0 and 'check mode changes nothing' in out, out[-3000:]
        assert not unit_written()

        rc, events, out = stack_run(inventory, history, {'max_level': 1})
        assert rc != 0 and 'needs deploy_approved=true' in out and not unit_written(), out[-3000:]

        rc, events, out = stack_run(inventory, history, {'max_level': 1}, deploy_approved=True)
        assert rc == 0, out[-3000:]
        assert [(e['outcome'], e.get('automation_level')) for e in events] == [('success', 1)], events
        assert on_node('systemctl', 'is-active', STACK_NAME + '-web.service').stdout.strip() == 'active'

        rc, events, out = stack_run(inventory, history, {})  # no config: the gate is off, no level recorded
        assert rc == 0 and 'the level gate is off' in out, out[-3000:]
        assert all('automation_level' not in e for e in events), events
    finally:
        stack_run(inventory, history, {}, stack_state='absent', stack_purge=True)


def test_reconcile_is_gated_by_the_automation_level(inventory, tmp_path):
    history = str(tmp_path / 'history.sqlite')
    catalog = os.path.join(ROOT, 'services')
    common = {'reconcile_hosts': 'node', 'reconcile_catalog_dir': catalog, 'deploy_history_db': history,
              'reconcile_resource_limits': 'best_effort'}  # the node has no cgroup controllers

    rc, stats, out = run_play(inventory, RECONCILE, dict(common, deploy_automation={'max_level': 0}))
    events = stats.get('artifact_data', {}).get('homelab_deploy_events', [])
    assert rc != 0 and 'refused: automation level 0' in out, out[-3000:]
    assert 'Read the Quadlet units on the host' not in out, 'refused before the host is read'
    assert [(e['kind'], e['name'], e['outcome']) for e in events] == [('reconcile', 'catalog', 'refused')], events

    rc, stats, out = run_play(inventory, RECONCILE, dict(common, deploy_automation={'max_level': 0}), cmdline='--check')
    assert rc == 0 and 'Show the plan' in out, out[-3000:]

    rc, stats, out = run_play(inventory, RECONCILE, dict(common, deploy_automation={'max_level': 3}, deploy_approved=True,
                                                         awx_job_launch_type='scheduled'))
    assert rc != 0 and 'a scheduled run needs automation level 4' in out, out[-3000:]

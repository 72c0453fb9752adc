# -*- coding: utf-8 -*-
"""The run lock: the owner is the run's ansible-playbook process, judged on the controller; no time-based takeover."""
from __future__ import absolute_import, division, print_function
__metaclass__ = type

import json
import os
import subprocess
import sys
from unittest import mock

import pytest

from ansible_collections.homelab.deploy.plugins.action import run_lock as action
from ansible_collections.homelab.deploy.plugins.modules import run_lock as module


class Module(object):
    def __init__(self, params, check_mode=False):
        self.params = dict({'state': 'held', 'label': '', 'break_lock': False, 'lock_timeout': 2, 'take_over': None},
                           **params)
        self.check_mode = check_mode


def act(args, pid=None, check_mode=False):
    """The action with its module run for real against a lock file on this machine; (result, module calls)."""
    task = mock.MagicMock()
    task.args = args
    task.check_mode = check_mode
    task.async_val = 0
    mod = action.ActionModule(task, mock.MagicMock(), mock.MagicMock(), mock.MagicMock(), mock.MagicMock(), mock.MagicMock())
    calls = []

    def execute(module_name, module_args, task_vars):
        calls.append(dict(module_args))
        return module.run(Module(module_args, check_mode))
    mod._execute_module = execute
    mod._remove_tmp_path = lambda path: None
    with mock.patch.object(action.os, 'getppid', return_value=pid or os.getpid()):
        return mod.run(task_vars={}), calls


@pytest.fixture
def other_run():
    """A live process of this controller standing for another ansible-playbook run."""
    proc = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
    yield proc
    proc.kill()
    proc.wait()


def test_taken_kept_and_released_by_its_run(tmp_path):
    path = str(tmp_path / 'locks' / 'wiki.json')
    result, calls = act({'path': path, 'label': 'canary of wiki'})
    assert result['acquired'] and not result['changed'] and result['took_over'] is None
    with open(path) as handle:
        owner = json.load(handle)
    assert owner['pid'] == os.getpid() and owner['label'] == 'canary of wiki' and owner['since'] > 0
    assert calls[0]['owner']['id'] == owner['id'] and 'take_over' not in calls[0]
    assert act({'path': path})[0]['acquired'], 'the run that holds it keeps it'
    result, dummy = act({'path': path, 'state': 'released'})
    assert result['released'] and not os.path.exists(path)
    assert not act({'path': path, 'state': 'released'})[0]['released'], 'releasing twice does nothing'


def test_a_live_run_keeps_its_lock_even_with_break_lock(tmp_path, other_run):
    path = str(tmp_path / 'wiki.json')
    assert act({'path': path, 'label': 'canary of wiki'}, pid=other_run.pid)[0]['acquired']
    for args in ({'path': path}, {'path': path, 'break_lock': True}):
        result, calls = act(args)
        assert result['failed'] and not result['acquired'] and len(calls) == 1
        assert 'held by canary of wiki (pid %d' % other_run.pid in result['msg'] and 'still runs' in result['msg']
    assert act({'path': path, 'state': 'released'})[0]['released'] is False, 'only its owner releases it'
    assert os.path.exists(path)


def test_the_lock_of_a_killed_run_is_taken_over_at_once(tmp_path, other_run):
    path = str(tmp_path / 'wiki.json')
    assert act({'path': path}, pid=other_run.pid)[0]['acquired']
    other_run.kill()
    other_run.wait()
    result, calls = act({'path': path})
    assert result['acquired'] and result['took_over']['pid'] == other_run.pid
    assert len(calls) == 2 and calls[1]['take_over'] == result['took_over']['id']
    with open(path) as handle:
        assert json.load(handle)['pid'] == os.getpid()


def test_another_controllers_lock_is_refused_unless_broken(tmp_path):
    path = str(tmp_path / 'wiki.json')
    with open(path, 'w') as handle:
        json.dump({'id': 'elsewhere/boot:42:7', 'controller': 'elsewhere/boot', 'pid': 42, 'label': 'canary of wiki',
                   'since': 1796200000.0}, handle)
    result, dummy = act({'path': path})
    assert result['failed'] and 'on another controller' in result['msg'] and 'break_lock=true' in result['msg']
    result, dummy = act({'path': path, 'break_lock': True})
    assert result['acquired'] and result['took_over']['controller'] == 'elsewhere/boot'


def test_check_mode_writes_nothing(tmp_path):
    path = str(tmp_path / 'new' / 'wiki.json')
    result, dummy = act({'path': path}, check_mode=True)
    assert result['acquired'] and not os.path.exists(os.path.dirname(path))
    os.makedirs(os.path.dirname(path))
    assert act({'path': path}, check_mode=True)[0]['acquired'] and not os.path.exists(path)


def test_a_take_over_only_replaces_the_lock_it_was_asked_to():
    mine = {'id': 'me'}
    assert module.decide(None, mine, 'held', None) == 'take'
    assert module.decide({'id': 'me'}, mine, 'held', None) == 'keep'
    assert module.decide({'id': 'dead'}, mine, 'held', 'dead') == 'take'
    assert module.decide({'id': 'newer'}, mine, 'held', 'dead') == 'refuse', 'another run took it in between'
    assert module.decide({'id': 'other'}, mine, 'released', None) == 'none'


def test_the_owner_is_the_playbook_process_and_a_reused_pid_is_not_mistaken_for_it():
    owner = action.run_owner('x', pid=os.getpid())
    assert owner['pid'] == os.getpid() and action.owner_alive(owner) is True
    assert action.owner_alive(dict(owner, id=owner['id'] + '0')) is False, 'same pid, other start time'
    assert action.owner_alive(dict(owner, controller='elsewhere')) is None

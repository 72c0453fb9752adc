# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
name: deploy_history
type: aggregate
short_description: Record every deployment event of a run in the controller's deployment history (SQLite)
version_added: 0.1.0
author: homelab.deploy maintainers (@homelab)
description:
  - At the end of a playbook run, appends the C(homelab_deploy_events) that the run published with
    C(ansible.builtin.set_stats) (C(per_host=false), C(aggregate=true)) to an append-only SQLite history, one
    record per host and operation, with who or what triggered the run (AWX/Semaphore job variables, else the
    controller user).
  - A host that failed or was unreachable without publishing any event still gets a record (kind C(run),
    outcome C(failed), the failed task and its message as the cause), so a play that fails early is not
    missing from the history; not under C(--check), which deploys nothing.
  - The store uses WAL mode and a busy timeout, so many concurrent AWX jobs can write to one file.
  - An unwritable or broken store only produces a warning; the run's result is never changed.
  - Enable it with C(ANSIBLE_CALLBACKS_ENABLED=homelab.deploy.deploy_history) or C(callbacks_enabled) in the
    C([defaults]) section of C(ansible.cfg).
requirements:
  - Python's sqlite3 module on the controller.
options:
  db_path:
    description:
      - Path of the SQLite history on the controller. Created with its directories when missing.
      - The extra variable C(deploy_history_db), when a run sets it, takes precedence, so a job template can
        choose the store without touching the controller's configuration.
    type: path
    default: ~/.local/share/homelab-deploy/history.sqlite
    env:
      - name: HOMELAB_DEPLOY_HISTORY_DB
    ini:
      - section: callback_deploy_history
        key: db_path
'''

import getpass
import os
import time
import uuid

from ansible import context
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.callback import CallbackBase

from ansible_collections.homelab.deploy.plugins.plugin_utils._history import HistoryError, append_events, normalize_event

STAT_NAME = 'homelab_deploy_events'
# Job variables AWX passes to every run (Semaphore sets SEMAPHORE_* in the environment).
TRIGGER_VARS = {'awx_job_id': 'job_id', 'awx_job_template_name': 'template', 'awx_user_name': 'user',
                'awx_job_launch_type': 'launch_type', 'awx_schedule_name': 'schedule',
                'tower_job_id': 'job_id', 'tower_user_name': 'user', 'tower_job_launch_type': 'launch_type'}


def _plain(value):
    """Template results as plain JSON-able Python values."""
    if isinstance(value, dict):
        return dict((to_text(k), _plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, float)):
        return value
    return to_text(value)


def trigger_from(extra_vars, environ):
    """Who or what started the run: AWX job variables, Semaphore's environment, else the controller user."""
    out = {}
    for var, key in TRIGGER_VARS.items():
        if extra_vars.get(var) not in (None, '') and key not in out:
            out[key] = to_text(extra_vars[var])
    if out:
        out['source'] = 'awx'
    elif environ.get('SEMAPHORE_TASK_ID') or environ.get('SEMAPHORE_TASK_DETAILS'):
        out = {'source': 'semaphore', 'job_id': environ.get('SEMAPHORE_TASK_ID', '')}
    else:
        out = {'source': 'cli'}
    if not out.get('user'):
        try:
            out['user'] = getpass.getuser()
        except (KeyError, OSError):
            out['user'] = ''
    for var in ('deploy_triggered_by', 'deploy_approved_by'):
        if extra_vars.get(var):
            out[var.replace('deploy_', '')] = to_text(extra_vars[var])
    return out


def published_events(stats):
    """The events the run published, from the custom stats of an AggregateStats."""
    custom = getattr(stats, 'custom', None) or {}
    events = (custom.get('_run') or {}).get(STAT_NAME) or []
    if isinstance(events, dict):
        events = [events]
    return [_plain(e) for e in events]


def unpublished_failures(failures, events, playbook, started):
    """A failed 'run' event for every host that failed without publishing any event of its own."""
    published = set(to_text(e.get('host')) for e in events if isinstance(e, dict))
    out = []
    for host, failure in sorted(failures.items()):
        if host in published:
            continue
        out.append({'kind': 'run', 'host': host, 'name': playbook, 'pattern': '', 'images': {}, 'strategy': '',
                    'outcome': 'failed', 'started': started, 'duration': failure['at'] - started, 'phases': {},
                    'failure': {'service': '', 'check': failure['check'], 'cause': failure['cause'],
                                'evidence': failure['task']},
                    'details': {'unpublished': True}})
    return out


class CallbackModule(CallbackBase):
    """Append the run's deployment events to the SQLite history at the end of the playbook."""

    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'homelab.deploy.deploy_history'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super(CallbackModule, self).__init__(*args, **kwargs)
        self.run_id = str(uuid.uuid4())
        self.playbook = ''
        self.started = None
        self.extra_vars = {}
        self.failures = {}

    def v2_playbook_on_start(self, playbook):
        self.started = time.time()
        self.playbook = os.path.basename(to_text(getattr(playbook, '_file_name', '') or ''))

    def v2_playbook_on_play_start(self, play):
        manager = play.get_variable_manager() if hasattr(play, 'get_variable_manager') else None
        if manager is not None and not self.extra_vars:
            self.extra_vars = _plain(dict(manager.extra_vars))

    def _remember_failure(self, result, check):
        host = to_text(result._host.get_name())
        if host not in self.failures:
            res = result._result if isinstance(result._result, dict) else {}
            cause = to_text(res.get('msg') or res.get('reason') or res.get('stderr') or 'failed').strip()
            self.failures[host] = {'task': to_text(result._task.get_name()), 'check': check,
                                   'cause': cause.splitlines()[0][:500] if cause else 'failed', 'at': time.time()}

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if not ignore_errors:
            self._remember_failure(result, 'task')

    def v2_runner_on_unreachable(self, result):
        self._remember_failure(result, 'unreachable')

    def usable(self, event):
        try:
            normalize_event(event)
            return True
        except HistoryError as exc:
            self._display.warning('deploy_history: an event was left out of the history: %s' % to_text(exc))
            return False

    def db_path(self):
        return self.extra_vars.get('deploy_history_db') or self.get_option('db_path')

    def v2_playbook_on_stats(self, stats):
        try:
            events = published_events(stats)
            if not (context.CLIARGS or {}).get('check'):
                # a check-mode run deploys nothing; its failures are not deployments that failed
                events += unpublished_failures(self.failures, events, self.playbook, self.started or time.time())
            events = [e for e in events if self.usable(e)]
            if not events:
                return
            count = append_events(self.db_path(), events, self.run_id, trigger_from(self.extra_vars, os.environ))
            self._display.vvv('deploy_history: recorded %d event(s) in %s' % (count, self.db_path()))
        except HistoryError as exc:
            self._display.warning('deploy_history: the deployment history was NOT recorded: %s' % to_text(exc))
        except Exception as exc:  # pylint: disable=broad-except
            # Recording must never break a deploy; an unexpected error is still said out loud.
            self._display.warning('deploy_history: the deployment history was NOT recorded (%s: %s)'
                                  % (type(exc).__name__, to_text(exc)))

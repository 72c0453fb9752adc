#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: quadlet
short_description: Manage a Podman Quadlet unit and its systemd service as one safe transaction
version_added: 0.1.0
description:
  - Writes one Quadlet file (C(.container), C(.pod), C(.network), C(.volume), C(.image), C(.build) or C(.kube))
    to the unit directory of O(scope), reloads systemd, and starts the generated service, or restarts it when
    the unit's effective content changed.
  - "Before anything on the host changes, the new file is validated by the node's own quadlet generator in
    dry-run mode (C(quadlet -dryrun), with the new file staged ahead of the existing unit files so references to
    C(.network), C(.volume), C(.pod) units and drop-ins resolve as they will), and the generated service by
    C(systemd-analyze verify). Any error line the generator prints fails the task even when its exit code is 0.
    Unknown sections, which quadlet would silently pass to systemd, are refused too. Images that cannot be
    pulled (C(Pull=never), or C(localhost/) names) must already be in the scope's image storage."
  - Comment-only or whitespace-only edits are written but do not restart the service; the comparison is on
    the unit as quadlet reads it.
  - The previous file is kept as a last-known-good copy (RV(backup_path)). When the reload, the (re)start
    or the optional health wait fails, the previous file is put back (or the new one removed), systemd is
    reloaded and the previous service restarted (or the new one stopped), and the task fails with the
    evidence (generator output, C(systemctl status) with the journal tail, health log).
  - A lock file (C(/run/homelab-deploy.lock), or C(homelab-deploy.lock) in the user's runtime directory)
    serialises concurrent runs on one host.
author:
  - homelab.deploy maintainers (@homelab)
extends_documentation_fragment:
  - homelab.deploy.attributes
  - homelab.deploy.scope
attributes:
  check_mode:
    support: full
    details:
      - The new file is validated (generator dry run, image presence); nothing is written, started or removed.
  diff_mode:
    support: full
    details:
      - The diff is the unit file text before and after. Values of environment variables whose names look like
        credentials (C(*PASSWORD*), C(*SECRET*), C(*TOKEN*), C(*API_KEY*)) are masked.
  idempotent:
    support: full
    details:
      - An unchanged file on a running service is left alone, without reload or restart.
options:
  name:
    description:
      - Unit name, for example C(web) with O(type=container), or the file name C(web.container).
      - Letters, digits, C(.), C(_) and C(-). The generated service is C(web.service) for containers and kube
        units and C(web-volume.service), C(web-network.service), C(web-pod.service), C(web-image.service),
        C(web-build.service) for the others (or C(ServiceName=) from the file).
    type: str
    required: true
  type:
    description: Unit type. Not needed when O(name) ends in the type's suffix.
    type: str
    choices: [container, volume, network, pod, kube, image, build]
  state:
    description:
      - C(present) writes the file and makes sure the service runs (started if it is not, restarted when the
        effective content changed).
      - C(absent) stops the service and removes the file; the last-known-good copy stays. Named volumes,
        networks and data stay unless O(purge=true).
    type: str
    choices: [present, absent]
    default: present
  sections:
    description:
      - "The unit as C({Section: {Key: value}}); a list value repeats the key (C(Environment), C(PublishPort),
        C(Volume), ...). Booleans are written as C(true)/C(false), a null value leaves the key out."
      - Rendered in a stable order with a comment header saying the file is managed.
      - Keys and sections are those of podman-systemd.unit(5) for the podman version on the node.
    type: dict
  content:
    description: The unit file text, used as is.
    type: str
  enabled:
    description:
      - Whether the service starts at boot. Quadlet services are generated, so C(systemctl enable) does not
        work on them; the generator applies the file's C([Install]) section instead.
      - C(true) adds C([Install] WantedBy=multi-user.target) (C(default.target) for O(scope=user)) when the
        unit has no C(WantedBy)/C(RequiredBy); C(false) drops C([Install]) from O(sections) and refuses
        O(content) that has one. Unset leaves the unit as given.
    type: bool
  wait_healthy:
    description:
      - After a start or restart, wait until the service is active and its container healthy (its own
        healthcheck, and O(health_probe) when given), as M(homelab.deploy.podman_health) does. A unit that does
        not get healthy within O(health_timeout) is rolled back.
    type: bool
    default: false
  no_block:
    description:
      - Queue the start or restart (C(systemctl --no-block)) instead of waiting for it, so the caller can start
        several units and wait for them together (for example with M(homelab.deploy.podman_health)); a unit
        with C(Notify=healthy) otherwise blocks the task until it is healthy.
      - The caller owns the health verdict and any rollback after the start; this module only rolls back when
        writing, reloading or queueing fails. Mutually exclusive with O(wait_healthy=true).
    type: bool
    default: false
  health_timeout:
    description: Seconds to wait for health with O(wait_healthy=true).
    type: int
    default: 60
  health_probe:
    description: An HTTP probe from the managed host that must pass too (for images without a healthcheck).
    type: dict
    suboptions:
      url:
        description: URL to GET, for example C(http://127.0.0.1:8080/health).
        type: str
        required: true
      status_codes:
        description: Acceptable status codes.
        type: list
        elements: int
        default: [200]
      body_regex:
        description: Regular expression the body must match.
        type: str
      max_latency_ms:
        description: Slowest acceptable answer, in milliseconds.
        type: int
      timeout:
        description: Seconds before the request counts as failed.
        type: int
        default: 5
  secrets:
    description:
      - Podman secrets the unit uses, as a mapping of secret name to value. They are created, or replaced when the value differs,
        in the secret store of O(scope) before the service is (re)started; a changed value restarts a running
        service. A rollback puts the previous values back.
      - Reference them in the unit with C(Secret=name,type=env,target=VAR) (an environment variable) or
        C(Secret=name) (a file in C(/run/secrets)). Values are never logged or returned, only the names of the
        changed ones (RV(secrets_changed)). O(state=absent) leaves secrets alone.
    type: dict
  purge:
    description:
      - With O(state=absent), also remove the podman object the unit created (the volume of a C(.volume), the
        network of a C(.network), the pod of a C(.pod), a left-over container of a C(.container)). The name is
        read from the file, or from the last-known-good copy when the file is already gone.
      - Data in a purged volume is lost. A volume or network still used by a container cannot be purged.
    type: bool
    default: false
  lock_timeout:
    description: Seconds to wait for another run on the same host to release the lock.
    type: int
    default: 120
notes:
  - Put credentials in O(secrets) (podman secrets) and reference them with C(Secret=name,type=env,target=VAR)
    rather than C(Environment=VAR=value). Unit files are readable, their text shows up in diffs, and task
    arguments are logged unless the task has C(no_log). Environment values that look like credentials are
    masked in the returned diff and generator output, and a warning is given.
  - A changed C(.network) or C(.volume) file does not change an existing network or volume (quadlet creates
    them with C(--ignore)); purge and recreate it, and restart the containers that use it.
  - The generator dry run runs as the module's own user, with O(scope=user) in C(-user) mode.
  - Units are rolled back only when this run changed something; a health failure of an unchanged unit just fails.
seealso:
  - module: homelab.deploy.podman_health
  - name: podman-systemd.unit(5)
    description: Quadlet file format.
    link: https://docs.podman.io/en/latest/markdown/podman-systemd.unit.5.html
'''

EXAMPLES = r'''
- name: A web container, started at boot, rolled back unless healthy within 60 seconds
  homelab.deploy.quadlet:
    name: web
    type: container
    enabled: true
    wait_healthy: true
    sections:
      Unit:
        Description: demo web page
      Container:
        Image: docker.io/library/nginx:1.27
        ContainerName: web
        PublishPort: ["127.0.0.1:8080:80"]
        Volume: ["web-data.volume:/usr/share/nginx/html:ro"]
        Network: frontend.network
        Secret: ["web-token,type=env,target=TOKEN"]
      Service:
        Restart: always
    secrets:
      web-token: "{{ vault_web_token }}"

- name: Its volume and network
  homelab.deploy.quadlet:
    name: "{{ item }}"
    content: |
      [{{ item.split('.')[1] | capitalize }}]
  loop: [web-data.volume, frontend.network]

- name: A rootless service of user hl (systemctl --user, lingering enabled)
  homelab.deploy.quadlet:
    name: cache.container
    scope: user
    user: hl
    enabled: true
    sections:
      Container:
        Image: docker.io/valkey/valkey:8
        PublishPort: ["127.0.0.1:6379:6379"]

- name: Remove the web container; keep its volume
  homelab.deploy.quadlet:
    name: web.container
    state: absent

- name: Remove the volume and the data in it
  homelab.deploy.quadlet:
    name: web-data.volume
    state: absent
    purge: true
'''

RETURN = r'''
unit_name:
  description: File name of the unit.
  returned: always
  type: str
  sample: web.container
unit_path:
  description: Path of the unit file.
  returned: always
  type: str
  sample: /etc/containers/systemd/web.container
service_name:
  description: The systemd service generated from the unit.
  returned: always
  type: str
  sample: web.service
restarted:
  description: Whether the service was (or, in check mode, would be) restarted because its effective content changed.
  returned: always
  type: bool
started:
  description: Whether the service was (or would be) started because it was not running.
  returned: always
  type: bool
enabled:
  description: Whether the unit has an C([Install]) section that starts it at boot.
  returned: when O(state=present)
  type: bool
backup_path:
  description: The last-known-good copy of the previous version of the file, if there is one.
  returned: always
  type: str
  sample: /var/lib/homelab-deploy/backups/system/web.container.lkg
validation:
  description: What the generator dry run found.
  returned: when O(state=present)
  type: dict
  contains:
    rc:
      description: Exit code of the generator.
      type: int
    errors:
      description: Error lines about this unit (the task fails when there are any).
      type: list
      elements: str
    warnings:
      description: Warning lines about this unit.
      type: list
      elements: str
    other_errors:
      description: Error lines about other unit files in the search path, which were already there.
      type: list
      elements: str
    service:
      description: Name of the generated service.
      type: str
    generated:
      description: The generated service unit (credentials masked).
      type: str
  sample:
    rc: 0
    errors: []
    warnings: []
    other_errors: []
    service: web.service
    generated: "[Unit]\nSourcePath=/etc/containers/systemd/web.container\n..."
health:
  description: Health results, one per target, as M(homelab.deploy.podman_health) returns them.
  returned: when the service was waited on
  type: list
  elements: dict
rollback:
  description: What was undone after a failure.
  returned: failure after the file was written
  type: dict
  sample: {file: restored, service: restarted, ok: true, errors: []}
status:
  description: C(systemctl status) output, with the journal tail, of the failed service.
  returned: failure after the file was written
  type: str
secrets_changed:
  description: Names of the O(secrets) that were (or would be) created or replaced.
  returned: when O(state=present)
  type: list
  elements: str
  sample: [db-password]
purged:
  description: The podman object removed by O(purge=true), as C(kind/name).
  returned: when O(purge=true) removed something
  type: str
  sample: volume/systemd-web-data
'''

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.homelab.deploy.plugins.module_utils import _podman as podman
from ansible_collections.homelab.deploy.plugins.module_utils import _quadlet as quadlet
from ansible_collections.homelab.deploy.plugins.module_utils._unitfile import (
    UnitFileError, canonical_text, parse_unit, render_unit)


# How long a freshly started service is watched for an immediate crash (without wait_healthy).
START_SETTLE_SECONDS = 1


class TransactionFailed(Exception):
    """A step after the file was written failed (health); the transaction is rolled back."""

    def details(self):
        return {}


class QuadletManager(object):
    """Reads the unit and its service once, decides what to do, and applies it as one transaction."""

    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.scope = podman.Scope(self.params['scope'], self.params['user'])
        self.runner = podman.Runner(module, self.scope)
        self.base, self.type, self.filename = quadlet.split_name(self.params['name'], self.params['type'])
        quadlet.check_secret_names(self.params['secrets'] or {})
        self.store = quadlet.UnitStore(module, self.scope, self.filename)
        self.service = quadlet.service_name(self.base, self.type)
        self.result = {'changed': False, 'unit_name': self.filename, 'unit_path': self.store.path,
                       'service_name': self.service, 'restarted': False, 'started': False,
                       'backup_path': self.store.existing_backup()}

    def fail(self, msg, **extra):
        self.result.update(extra)
        self.module.fail_json(msg=msg, **self.result)

    # -- desired state -----------------------------------------------------------

    def desired_text(self):
        if self.params['content'] is not None:
            try:
                quadlet.check_content(self.params['name'], self.params['content'])
            except quadlet.QuadletError as exc:
                self.fail(to_native(exc))
            text = quadlet.ensure_newline(self.params['content'])
            return self.apply_enabled_to_content(text)
        try:
            sections = quadlet.copy_sections(self.params['sections'])
        except quadlet.QuadletError as exc:
            self.fail(to_native(exc))
        section = quadlet.UNIT_TYPES[self.type][0]
        sections.setdefault(section, {})
        if self.params['enabled'] is False:
            sections.pop('Install', None)
        elif self.params['enabled'] and not any(k in sections.get('Install', {}) for k in ('WantedBy', 'RequiredBy')):
            sections.setdefault('Install', {})['WantedBy'] = quadlet.default_target(self.scope.name)
        try:
            return quadlet.MANAGED_HEADER + render_unit(sections)
        except UnitFileError as exc:
            self.fail('invalid sections for %s: %s' % (self.filename, to_native(exc)))

    def apply_enabled_to_content(self, text):
        targets = quadlet.install_targets(self.parse(text))
        if self.params['enabled'] and not targets:
            return text + '\n[Install]\nWantedBy=%s\n' % quadlet.default_target(self.scope.name)
        if self.params['enabled'] is False and targets:
            self.fail('enabled=false but content has an [Install] section (%s); remove it from content'
                      % ', '.join(targets))
        return text

    def parse(self, text):
        try:
            return parse_unit(text, self.filename)
        except UnitFileError as exc:
            # the generator's own words are the clearest; ours only when it has none
            validation = self.validator().validate(self.filename, text)
            errors = validation['errors'] or [to_native(exc)]
            self.fail('invalid unit %s: %s. Nothing was changed.' % (self.filename, '; '.join(errors)),
                      validation=validation)

    def validator(self):
        return quadlet.Validator(self.runner, self.scope, self.module.tmpdir)

    def effective_change(self, old, new):
        if old is None:
            return True
        try:
            return canonical_text(old, self.filename) != canonical_text(new, self.filename)
        except UnitFileError:
            return True

    # -- reading the host ------------------------------------------------------

    def active_state(self):
        state = self.runner.unit_states([self.service]).get(self.service) or {}
        return state.get('ActiveState', 'inactive')

    # -- checks before anything changes ----------------------------------------

    def preflight(self, text, unit):
        shadow = self.store.shadowed_by()
        if shadow:
            self.fail('%s is shadowed by %s, which quadlet reads first; remove that file' % (self.store.path, shadow))
        errors = quadlet.check_sections(unit, self.type)
        if errors:
            self.fail('invalid unit %s: %s. Nothing was changed.' % (self.filename, '; '.join(errors)), errors=errors)
        validation = self.validator().validate(self.filename, text)
        self.result['validation'] = validation
        if validation['errors']:
            self.fail('quadlet rejected %s: %s. Nothing was changed.' % (self.filename, '; '.join(validation['errors'])))
        secrets = quadlet.secret_like_environment(unit, self.type)
        if secrets:
            self.module.warn('%s passes %s in Environment=; keep credentials in podman secrets instead (the secrets '
                             'option, and Secret=NAME,type=env,target=VAR in the unit)' % (self.filename, ', '.join(secrets)))
        return validation['service']

    def check_secrets(self, unit):
        """Secret= names must exist already or come with the secrets option, or podman run fails."""
        given = self.params['secrets'] or {}
        missing = [name for name in quadlet.secret_names(unit, self.type)
                   if name not in given and not self.runner.secret_exists(name)]
        if missing:
            self.fail('the unit uses podman secret(s) %s, which do not exist in the %s scope; create them or pass them '
                      'in the secrets option. Nothing was changed.' % (', '.join(missing), self.scope.name),
                      missing_secrets=missing)

    def check_images(self, unit):
        missing = [(image, why) for image, why in quadlet.images_to_check(unit, self.type)
                   if not self.runner.image_exists(image)]
        if missing:
            where = 'the image storage of user %s' % self.scope.user if self.scope.is_user else 'root\'s image storage'
            self.fail('image %s is not present in %s and will not be pulled (%s); load or build it first. '
                      'Nothing was changed.' % (missing[0][0], where, missing[0][1]), missing_images=[m[0] for m in missing])

    # -- state present -----------------------------------------------------------

    def present(self):
        text = self.desired_text()
        unit = self.parse(text)
        old = self.store.read()
        self.service = self.result['service_name'] = self.preflight(text, unit)
        self.result['enabled'] = bool(quadlet.install_targets(unit))
        write = old != text
        was = self.active_state()
        was_active = was in ('active', 'activating', 'reloading')
        action = None
        if not was_active:
            action = 'start'
        elif self.effective_change(old, text):
            action = 'restart'
        secrets = self.changed_secrets()
        if secrets and action is None:
            action = 'restart'  # a container reads its secrets when it starts
        if action:
            self.check_images(unit)
            self.check_secrets(unit)
        self.result.update(changed=bool(write or action or self.result['changed']), restarted=action == 'restart',
                           started=action == 'start', secrets_changed=sorted(secrets))
        self.set_diff(old, text)
        if not self.module.check_mode:
            self.apply(old, text, write, action, was_active, unit, secrets)

    def changed_secrets(self):
        """{name: previous value or None} of the secrets whose value differs from the wanted one."""
        wanted = self.params['secrets'] or {}
        current = dict((name, self.runner.secret_value(name)) for name in wanted)
        return dict((name, current[name]) for name, value in wanted.items() if current[name] != '%s' % value)

    def apply(self, old, text, write, action, was_active, unit, secrets):
        if write:
            if old is not None:
                self.result['backup_path'] = self.store.backup(old)
            self.store.write(text)
        try:
            for name in secrets:
                self.runner.set_secret(name, '%s' % self.params['secrets'][name])
            if write:
                self.runner.systemctl('daemon-reload')
            if action and self.params['no_block']:
                self.runner.systemctl(action, '--no-block', '--', self.service)
            elif action:
                self.runner.systemctl(action, '--', self.service)
                self.check_running()
            if action and self.params['wait_healthy']:
                self.wait_healthy(unit)
        except (podman.CommandError, TransactionFailed) as exc:
            self.roll_back(exc, old, was_active, secrets)

    def check_running(self):
        """systemctl start returns once the container runs; one that dies at once shows up within a second."""
        seen = {}

        def dead():
            seen.update(self.runner.unit_states([self.service]).get(self.service) or {})
            return seen.get('ActiveState') not in ('active', 'activating', 'reloading') or seen.get('SubState') == 'auto-restart'
        if podman.wait_for(dead, START_SETTLE_SECONDS, interval=0.25):
            raise TransactionFailed('%s is %s/%s right after it was started'
                                    % (self.service, seen.get('ActiveState'), seen.get('SubState')))

    def wait_healthy(self, unit):
        target = self.health_target(unit)
        results = podman.HealthWatcher(self.runner, [target], timeout=self.params['health_timeout']).wait()
        self.result['health'] = results
        if not results[0]['healthy']:
            raise TransactionFailed('%s did not become healthy: %s' % (self.service, podman.summarize(results)))

    def health_target(self, unit):
        probe = podman.probe_args(self.params['health_probe'])
        if self.type == 'container':
            container = quadlet.container_target(unit)
            if container:
                return podman.Target(container, container=container, unit=self.service, probe=probe)
        return podman.Target.from_name(self.service, probe=probe)

    def roll_back(self, exc, old, was_active, secrets):
        """Put the previous file, secrets and service back, then fail with what went wrong and what was undone."""
        status = self.runner.unit_status(self.service)
        rollback = {'file': 'removed' if old is None else 'restored',
                    'service': 'restarted' if was_active else 'stopped', 'errors': []}
        steps = [('stop', '--', self.service)] if not was_active else []
        steps += [('file',), ('secrets', secrets), ('daemon-reload',)]
        steps += [('restart', '--', self.service)] if was_active else [('reset-failed', '--', self.service)]
        for step in steps:
            try:
                self.run_rollback_step(step, old)
            except (podman.CommandError, OSError) as err:
                rollback['errors'].append(to_native(err))
        rollback['ok'] = not rollback['errors']
        details = exc.details()
        self.fail('%s; rolled back: %s %s, service %s%s.' % (
            to_native(exc), self.filename, rollback['file'], rollback['service'],
            '' if rollback['ok'] else ' WITH ERRORS: ' + '; '.join(rollback['errors'])),
            rollback=rollback, status=status, changed=True, **details)

    def run_rollback_step(self, step, old):
        if step[0] == 'secrets':
            for name, value in step[1].items():
                self.runner.set_secret(name, value)
        elif step[0] != 'file':
            self.runner.systemctl(*step, ok_rcs=(0,) if step[0] != 'reset-failed' else None)
        elif old is None:
            self.store.remove()
        else:
            self.store.write(old)

    # -- state absent ------------------------------------------------------------

    def absent(self):
        old = self.store.read()
        source = old if old is not None else self.store.read_backup()
        unit = self.parse(source) if source is not None else None
        self.service = self.result['service_name'] = quadlet.service_name(self.base, self.type, unit)
        purge = self.purge_target(unit)
        self.result['changed'] = old is not None or self.exists(purge)
        self.set_diff(old, None)
        if self.module.check_mode:
            return
        if old is not None:
            self.result['backup_path'] = self.store.backup(old)
            self.runner.systemctl('stop', '--', self.service, ok_rcs=None)
            self.store.remove()
            self.runner.systemctl('daemon-reload')
            self.runner.systemctl('reset-failed', '--', self.service, ok_rcs=None)
        # checked again: stopping a quadlet container or pod already removes it
        if self.exists(purge):
            self.runner.podman(purge[0], 'rm', '--', purge[1])
            self.result['purged'] = '%s/%s' % purge

    def purge_target(self, unit):
        """(kind, name) of the podman object purge=true removes, or None."""
        if not self.params['purge'] or self.type not in quadlet.OBJECT_KEYS:
            return None
        kind = quadlet.OBJECT_KEYS[self.type][1]
        name = quadlet.object_name(self.base, self.type, unit)
        if kind == 'container' and unit is not None:
            name = quadlet.container_target(unit) or name
        return kind, name

    def exists(self, obj):
        if obj is None:
            return False
        rc, dummy, dummy = self.runner.podman(obj[0], 'exists', obj[1], ok_rcs=(0, 1))
        return rc == 0

    # -- output --------------------------------------------------------------------

    def set_diff(self, before, after):
        if self.module._diff:
            self.result['diff'] = {'before': podman.mask_secrets(before or ''), 'after': podman.mask_secrets(after or ''),
                                   'before_header': self.store.path, 'after_header': self.store.path}

    def run(self):
        problem = self.scope.problem()
        if problem:
            self.fail(problem)
        try:
            if self.params['state'] == 'present':
                # rootless units need the user's manager running, also after reboots
                self.result['changed'] = self.runner.ensure_linger(self.module.check_mode)
            if self.module.check_mode:
                self.dispatch()
            else:
                with podman.host_lock(self.scope.lock_path(), self.params['lock_timeout'], self.scope):
                    self.dispatch()
        except podman.CommandError as exc:
            self.fail(to_native(exc), **exc.details())
        return self.result

    def dispatch(self):
        if self.params['state'] == 'present':
            self.present()
        else:
            self.absent()


def argument_spec():
    return dict(
        name=dict(type='str', required=True),
        type=dict(type='str', choices=sorted(quadlet.UNIT_TYPES)),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        sections=dict(type='dict'),
        content=dict(type='str'),
        enabled=dict(type='bool'),
        secrets=dict(type='dict', no_log=True),
        wait_healthy=dict(type='bool', default=False),
        no_block=dict(type='bool', default=False),
        health_timeout=dict(type='int', default=60),
        health_probe=dict(type='dict', options=podman.PROBE_OPTIONS),
        purge=dict(type='bool', default=False),
        lock_timeout=dict(type='int', default=120),
        scope=dict(type='str', default='system', choices=['system', 'user']),
        user=dict(type='str'),
    )


def main():
    module = AnsibleModule(
        argument_spec=argument_spec(),
        mutually_exclusive=[('sections', 'content'), ('wait_healthy', 'no_block')],
        required_if=[('state', 'present', ('sections', 'content'), True), ('scope', 'user', ('user',))],
        supports_check_mode=True,
    )
    try:
        manager = QuadletManager(module)
    except (quadlet.QuadletError, ValueError) as exc:
        module.fail_json(msg=to_native(exc))
    module.exit_json(**manager.run())


if __name__ == '__main__':
    main()

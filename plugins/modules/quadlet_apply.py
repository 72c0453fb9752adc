#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: quadlet_apply
short_description: Apply a set of Podman Quadlet units as one transaction, in phases, with rollback
version_added: 0.1.0
description:
  - Writes a whole set of Quadlet files (the units of one stack or service, for example a C(.network) and
    two C(.container) units that reference it and each other) and podman secrets, reloads systemd once, then
    starts or restarts the units that need it phase by phase, waiting for each phase's containers together.
  - "Before anything on the host changes, every present unit of the set is validated in one run of the
    node's own quadlet generator in dry-run mode (C(quadlet -dryrun)), all staged together ahead of the
    installed units so references between them resolve, and the generated services by C(systemd-analyze
    verify). An error in any file fails the task naming the file. Unknown sections are refused, and images
    that cannot be pulled (C(Pull=never), or C(localhost/) names) must already be in the scope's image storage."
  - A journal (C(<state dir>/txn/<name>.json), mode 0600) is written before the first change and updated as
    the transaction goes (C(prepared), C(written), C(reloaded), C(phase-N), C(verified), C(committed)). When
    a phase does not get healthy, a O(verify) check fails or a command fails, the whole set is put back,
    previous files and secrets, one daemon-reload, the previously running units restarted (and waited for),
    new units stopped and removed. The task then fails with RV(failure) and RV(rollback).
  - A run that was killed leaves its journal behind. The next run of any transaction in the same scope rolls
    it back first (RV(recovered)), without waiting for a timeout, since the host lock it holds proves the
    killed run is gone.
  - After a commit, the previous state of the units it changed is kept as the rollback point
    C(<state dir>/txn/<name>.last.json) (mode 0600), which O(revert=true) restores from a later task.
  - Traefik routes of the set (O(routes)) are part of the transaction. They are planned and checked with the
    units, written with the unit files, confirmed through Traefik's API after the last phase, rolled back with
    the units, and kept in the journal and the rollback point.
  - "C(Notify=healthy) only where a healthcheck runs: a C(.container) unit with C(Notify=healthy) and no
    C(HealthCmd=) relies on its image's own HEALTHCHECK. When the image has none (or C(HEALTHCHECK NONE)), the unit
    is written without C(Notify=healthy) (systemd would wait for ever) and waited on until its container runs;
    RV(units) says so in its C(health) note. An image the host does not have yet is pulled first, before anything
    changes (not in check mode); a failed pull fails the task naming the image and the registry's error."
  - Only one run per host at a time, under the same lock as M(homelab.deploy.quadlet) (an C(flock) on
    C(/run/homelab-deploy.lock), or C(homelab-deploy.lock) in the user's runtime directory), held by the module's
    own process for the whole call, so the kernel releases it when that process dies.
author:
  - homelab.deploy maintainers (@homelab)
extends_documentation_fragment:
  - homelab.deploy.attributes
  - homelab.deploy.scope
attributes:
  check_mode:
    support: full
    details:
      - The set is planned and validated (generator dry run, image presence, secret references); nothing is
        written, started, removed or recovered. A leftover journal is reported in RV(recovered) as
        C(would roll back).
  diff_mode:
    support: full
    details:
      - The diff is the text of the changed files one after the other under C(# file NAME) headers, before
        and after. Secrets show as C(# secret NAME) lines with masked values; values of environment variables
        whose names look like credentials are masked.
  idempotent:
    support: full
    details:
      - A set whose files, secrets and services are as wanted is left alone, without a daemon-reload or a restart.
      - Units with O(units[].restart=true) are restarted on every run.
options:
  name:
    description:
      - Name of the transaction, for example the stack name or service instance; names the journal and the
        rollback point.
      - Lower-case letters, digits and C(-), starting with a letter.
    type: str
    required: true
  units:
    description:
      - The units of the set. Units not listed are left alone.
      - Leave empty with O(verify) to only run the checks (see O(verify)).
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description:
          - File name of the unit, for example C(demo-db.container); the suffix gives the type (C(container),
            C(volume), C(network), C(pod), C(kube), C(image), C(build)).
        type: str
        required: true
      content:
        description:
          - The full unit file text, written as is. Required with O(units[].state=present), unless
            O(units[].restart=true).
          - Left out with O(units[].restart=true), the file on disk is kept as it is (not rewritten, not pinned by
            O(pin_images)); the unit is refused when it has no file.
          - With O(units[].state=absent) it is only read, to know the podman object O(units[].purge=true) removes
            when the file is already gone.
        type: str
      state:
        description:
          - C(present) writes the file and makes sure its service runs; C(absent) stops the service and
            removes the file.
        type: str
        choices: [present, absent]
        default: present
      phase:
        description:
          - Phases run in ascending order; the units of one phase are started together and waited for together
            before the next phase starts.
        type: int
        default: 0
      wait:
        description:
          - Wait until the unit is active and, when its container has a healthcheck, healthy. C(false) only
            queues its start.
          - Defaults to C(true) for C(.container) units and C(false) for the others. C(.network) and C(.volume)
            units are started by the containers that need them, or queued when nothing does.
        type: bool
      timeout:
        description: Seconds to wait for the unit to get healthy.
        type: int
        default: 120
      restart:
        description:
          - Restart the unit's service even when its file, its secrets and what systemd loaded are unchanged, for
            example to re-create a container that drifted from its unit. A unit that does not run is started.
          - With O(units[].content) left out, applies the file on disk as it is (with a daemon-reload when systemd
            has not loaded it yet), still validated with the rest of the set first.
          - For a C(.network) or C(.volume) unit this restarts the containers that require it too.
          - Only with O(units[].state=present). Such a unit is restarted on every run, so the task always changes.
        type: bool
        default: false
      pull:
        description:
          - How the C(Image=) of a C(.container) unit is pulled, before anything of the set changes (all the set's
            pulls run concurrently; a failed pull refuses the run with the registry's error, nothing changed).
          - C(missing) pulls when the host does not have the image; C(always) pulls on every run; C(newer) pulls
            when the registry has a newer image than the host's; C(never) pulls nothing (the image must be there).
          - Unset, the unit's C(Pull=) decides (podman's default is C(missing)). C(localhost/) images are never
            pulled.
          - When a pull moves a tag to another image, a running container on that tag is restarted even though
            its unit file is unchanged (RV(units) says so), and a rollback puts the tag back on the previous
            image. With O(pin_images=true) the new digest changes the unit file instead.
          - In check mode nothing is pulled; RV(pulls) says what would be.
          - A private registry's credentials are the C(--authfile) the unit gives podman in C(PodmanArgs=) (what the
            C(auth_file) key of a stack or pattern service renders); the pull uses the same file, and a file that
            does not exist refuses the run before anything changes.
        type: str
        choices: [missing, always, newer, never]
      purge:
        description:
          - With O(units[].state=absent), also remove the podman object of the unit (volume, network, pod,
            container), once the whole transaction has committed. Data in a purged volume is lost.
        type: bool
        default: false
  secrets:
    description:
      - Podman secrets as a mapping of name to value, created or replaced before any unit starts. A unit whose
        C(Secret=) names a changed secret is restarted. A rollback puts the previous values back.
      - Values are never logged or returned, only the names of the changed ones (RV(secrets_changed)); previous
        values are kept only in the 0600 journal and rollback point files.
    type: dict
    default: {}
  pin_images:
    description:
      - Rewrite C(Image=REF) of every C(.container) unit to C(repo@sha256:DIGEST), the digest REF resolves to
        in the scope's image storage now, so the set runs exactly that image until the next apply.
      - References with a digest, and C(.image)/C(.build) references, are left alone. A missing image that
        would not be pulled (C(Pull=never), C(localhost/)) fails before anything changes; another missing
        image is left unpinned with a warning.
    type: bool
    default: false
  routes:
    description:
      - Traefik file-provider routes that belong to the set. Each item takes the options of
        M(homelab.deploy.traefik_route) (C(name), C(hostname), C(urls), C(middlewares), C(public), C(state),
        C(dynamic_dir), C(api_url), C(confirm), C(confirm_timeout)...), with the same defaults and the same checks;
        an item it would refuse is refused here, naming its index.
      - Before anything changes, each route is rendered and checked like M(homelab.deploy.traefik_route) does
        (names, rule, URLs, the middleware policy of public routes, and with C(confirm=true) the names it refers
        to through Traefik's API).
      - The file of a route with C(state=absent) is removed first, before any unit stops. Present route files are
        written right after the unit files, so Traefik loads them while the phases start. After the last phase
        the module polls Traefik's API (up to the route's C(confirm_timeout)) until each changed route is served
        as written, or no longer served. A route Traefik rejects or does not load fails the transaction like an
        unhealthy phase does (RV(failure) with C(check=route)), and the whole set is rolled back, route files included.
      - Route files are not owned by the transaction's units; unchanged route files are left alone.
    type: list
    elements: dict
    default: []
  files:
    description:
      - Other files that belong to the set, such as a service's configuration (Traefik's static configuration, the
        guide of a pattern service). Each is written with the unit files, before the daemon-reload and the phases,
        atomically (a temporary file beside it, renamed), and put back as it was (or removed when it was new) when the
        transaction rolls back or a killed run is recovered.
      - A file whose text and mode are already as given is left alone. Missing parent directories are created
        (mode 0755).
      - In the user scope the files and the directories created for them belong to O(user).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute path of the file.
        type: str
        required: true
      content:
        description: The file's text. It is shown in the diff (credential-like values and O(secrets) masked).
        type: str
        required: true
      mode:
        description: Permission bits, octal (C("0644"), C("0600")).
        type: raw
        default: "0644"
      restarts:
        description:
          - Unit files of this set (present ones) to restart when this file changes, for services that read the file
            only when they start (the unit is started when it does not run, as always).
        type: list
        elements: str
        default: []
  directories:
    description:
      - Host directories the set's containers mount (bind mounts of a stack), created when they are missing, before
        the unit files are written, with their O(directories[].mode), O(directories[].owner) and
        O(directories[].group). A directory that exists is left as it is (its data, owner and mode are the user's).
        Created directories stay when the transaction rolls back, since they may hold data by then.
      - Refused before anything changes when an existing part of the path is a symbolic link, or the path is a file.
      - In the user scope a created directory belongs to O(user); O(directories[].owner) and
        O(directories[].group) are then ids inside the user namespace (set with C(podman unshare chown)).
      - A C(.container) unit with a C(Volume=) bind of an absolute host path that does not exist and is not in
        this list is refused before anything changes (podman would fail the start in the middle of the set).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Absolute, normalised path.
        type: str
        required: true
      owner:
        description: User name or uid of a created directory (default the scope's user, root in the system scope).
        type: raw
      group:
        description: Group name or gid of a created directory.
        type: raw
      mode:
        description: Permission bits of a created directory, octal.
        type: raw
        default: "0750"
  progress_file:
    description:
      - Path of a new file (it must not exist) to which the module appends one JSON line per event while it runs
        (C(locked), C(phase) with the services it starts and restarts, C(healthy) with each container's seconds to
        healthy, C(phase_done), C(routes), C(verify), C(rollback)), each with C(t), the seconds since the start.
        M(homelab.deploy.deploy) reads it to show progress as the run goes.
      - It holds names and times, never secret values; it is created mode 0644 and removed when the module ends.
    type: path
  verify:
    description:
      - Checks run after the last phase; a failed check fails the transaction, which is rolled back.
      - With no O(units) (and O(revert=false)), only the checks run; when one fails, the last committed
        transaction is reverted as with O(revert=true) (unless O(rollback=false)) and the task fails.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: Name of the check, used in results and messages.
        type: str
        required: true
      container:
        description: Container to run O(verify[].command) in.
        type: str
      command:
        description: Command run as C(podman exec CONTAINER argv...); it passes with exit code 0.
        type: list
        elements: str
      stdout_regex:
        description: Regular expression the command's output must match.
        type: str
      http:
        description: An HTTP GET from the managed host.
        type: dict
        suboptions:
          url:
            description: URL to fetch.
            type: str
            required: true
          host:
            description: Host header to send (for example the name a reverse proxy routes on).
            type: str
          headers:
            description: Other request headers, for example C(Authorization) for a route behind authentication. Not logged.
            type: dict
          status:
            description: Acceptable status codes.
            type: list
            elements: int
            default: [200]
          body_regex:
            description: Regular expression the body must match.
            type: str
          timeout:
            description: Seconds before a request counts as failed.
            type: int
            default: 5
      retries:
        description: Attempts before the check fails.
        type: int
        default: 5
      delay:
        description: Seconds between attempts.
        type: float
        default: 2
  revert:
    description:
      - Instead of applying O(units), restore the rollback point of the last committed transaction named
        O(name) (files, secrets, restart the units that ran before, stop and remove the ones it added) and
        delete it. For a step after the commit that failed, such as publishing routes.
      - Nothing to revert is not an error; RV(reverted) says whether anything was restored.
    type: bool
    default: false
  rollback:
    description:
      - Put the whole set back when a phase or check fails.
      - C(false) leaves the failed set in place for inspection, and keeps what it replaced as the rollback
        point, so a later O(revert=true) still puts the previous set back.
    type: bool
    default: true
  lock_timeout:
    description: Seconds to wait for another run on the same host to release the lock.
    type: int
    default: 120
  health_interval:
    description: Seconds between health observations while waiting for a phase.
    type: float
    default: 1
  verify_health:
    description:
      - After the O(verify) checks, judge every present C(.container) unit of the set that is waited on once more
        (its healthcheck run now, the unit active and not restarting), waiting up to 30 seconds for one still
        starting. Also on a run that changes nothing, so a re-run reports the health it found.
      - A container that is not healthy fails the run; a run that changed something is rolled back.
      - Not in check mode.
    type: bool
    default: false
notes:
  - Changed C(.network) and C(.volume) files are written and reloaded, but their services are not restarted
    (quadlet creates the network or volume once, with C(--ignore), and restarting them would restart every
    container that requires them). Purge and recreate them to change the object.
  - Units whose file is current but that systemd has not loaded (a run killed between writing and reloading)
    are reloaded and restarted.
  - Podman objects (networks, volumes) that a rolled back new unit created stay; only O(units[].purge=true)
    removes objects.
  - O(revert=true) itself is not journaled; a revert that was interrupted keeps the rollback point, and the
    next revert finishes it.
  - For tests only the environment variable C(HOMELAB_DEPLOY_PAUSE_AT=STATE[:SECONDS]) naming a journal
    state (C(prepared), C(written), C(reloaded), C(phase-N), C(verified), C(committed)) makes the module
    sleep SECONDS (default 120) right after reaching that state, so a test can kill it there; at C(phase-N),
    once the phase's starts are queued. The journal holds the module's process ID (C(pid)).
seealso:
  - module: homelab.deploy.quadlet
  - module: homelab.deploy.podman_health
  - name: podman-systemd.unit(5)
    description: Quadlet file format.
    link: https://docs.podman.io/en/latest/markdown/podman-systemd.unit.5.html
'''

EXAMPLES = r'''
- name: A web app with its database, network and secret, the database first
  homelab.deploy.quadlet_apply:
    name: demo
    pin_images: true
    units:
      - name: demo.network
        content: |
          [Network]
      - name: demo-db.container
        phase: 1
        content: |
          [Container]
          Image=localhost/postgres:17
          ContainerName=demo-db
          Network=demo.network
          Secret=demo-db-password,type=env,target=POSTGRES_PASSWORD
      - name: demo-web.container
        phase: 2
        timeout: 60
        content: |
          [Unit]
          Requires=demo-db.service
          After=demo-db.service
          [Container]
          Image=localhost/hl-web:latest
          ContainerName=demo-web
          Network=demo.network
          PublishPort=127.0.0.1:8080:8080
          [Install]
          WantedBy=multi-user.target
    secrets:
      demo-db-password: "{{ vault_demo_db_password }}"
    verify:
      - name: page
        http:
          url: http://127.0.0.1:8080/
          body_regex: hl-web
  register: demo_txn

- name: Routes for the new release failed; put the previous release back
  homelab.deploy.quadlet_apply:
    name: demo
    revert: true
  when: demo_routes is failed

- name: Only check that the running release answers; revert the last apply when it does not
  homelab.deploy.quadlet_apply:
    name: demo
    verify:
      - name: database
        container: demo-db
        command: [pg_isready]

- name: Re-create drifted containers from their unit files as they are on disk, waited on together
  homelab.deploy.quadlet_apply:
    name: drift-fix
    units:
      - name: demo-web.container
        restart: true
      - name: demo-db.container
        restart: true
        timeout: 60

- name: Remove the web container of the set, and purge an old volume
  homelab.deploy.quadlet_apply:
    name: demo
    units:
      - name: demo-web.container
        state: absent
      - name: demo-old.volume
        state: absent
        purge: true
'''

RETURN = r'''
txn_id:
  description: ID of the transaction that ran (or, with O(revert=true), that was reverted); none without changes.
  returned: always
  type: str
  sample: 3f9c2a61b0d4
recovered:
  description: Leftover journals of killed runs that this run rolled back (or finished, when they had committed).
  returned: always
  type: list
  elements: dict
  contains:
    txn:
      description: ID of the leftover transaction.
      type: str
    name:
      description: Its name.
      type: str
    state:
      description: The journal state it was killed in.
      type: str
    actions:
      description: What was done, one line each.
      type: list
      elements: str
  sample: [{txn: 3f9c2a61b0d4, name: demo, state: written, actions: [restored demo-web.container, daemon-reload]}]
routes:
  description:
    - Per route of O(routes), by name. C(action) is C(write), C(remove) or C(unchanged); C(path) the file;
      C(rule) the router rule; C(policy) the middleware policy verdict; C(served) what Traefik's API reported
      once a written route was confirmed.
  returned: always
  type: dict
  sample: {demo: {action: write, path: /etc/traefik/dynamic/demo.yml, rule: "Host(`demo.lan`)"}}
units:
  description: Per unit file, what was (or in check mode would be) done.
  returned: always
  type: dict
  contains:
    action:
      description: C(write), C(unchanged) or C(remove).
      type: str
    service:
      description: C(start), C(restart), C(stop) or C(none).
      type: str
    service_name:
      description: The generated systemd service.
      type: str
    container:
      description: Container name, for C(.container) units whose name is known before they run.
      type: str
    seconds_to_healthy:
      description: Seconds from the start of its phase until it was healthy, when it was waited for.
      type: float
    health:
      description: Why C(Notify=healthy) was left out of the unit (its image has no HEALTHCHECK), when it was.
      type: str
      returned: when the unit relies on an image without a HEALTHCHECK
  sample:
    demo-web.container: {action: write, service: restart, service_name: demo-web.service, container: demo-web,
                         seconds_to_healthy: 3.2}
phases:
  description: Per phase, in the order they ran.
  returned: always
  type: list
  elements: dict
  contains:
    phase:
      description: Phase number.
      type: int
    units:
      description: Unit files of the phase.
      type: list
      elements: str
    started:
      description: Services started.
      type: list
      elements: str
    restarted:
      description: Services restarted.
      type: list
      elements: str
    seconds:
      description: Seconds the phase took (null when it did not run).
      type: float
    healthy:
      description: Seconds until each waited-for container (or service) was healthy.
      type: dict
  sample: [{phase: 1, units: [demo-db.container], started: [demo-db.service], restarted: [], seconds: 4.1,
            healthy: {demo-db: 4.0}}]
secrets_changed:
  description: Names of the O(secrets) that were (or would be) created or replaced.
  returned: always
  type: list
  elements: str
  sample: [demo-db-password]
pulls:
  description: What each pull did, per image (C(pulled (always)), C(up to date (newer)), C(would pull (missing))).
  returned: always
  type: dict
  sample: {"localhost:5000/hl/web:1": pulled (missing)}
health:
  description: With O(verify_health=true), the health of each container judged after the checks (C(healthy),
    C(unhealthy), C(timeout)...).
  returned: with O(verify_health=true), not in check mode
  type: dict
  sample: {demo-web: healthy}
verify:
  description: Results of the O(verify) checks, up to the first that failed.
  returned: always
  type: list
  elements: dict
  sample: [{name: page, ok: true, attempts: 1}]
images:
  description: The C(Image=) of every present C(.container) unit as written (pinned with O(pin_images=true)).
  returned: always
  type: dict
  sample: {demo-web.container: "localhost/hl-web@sha256:76ee20ec1d1aba1e4a0af7c12c4921b0cd2ecd247361a05b9f6b8f320d3b1b50"}
files:
  description: What happened to each file of O(files) (C(action) write or unchanged, and the units it C(restarts)).
  returned: always
  type: dict
  sample: {/etc/traefik/traefik.yml: {action: write, restarts: [traefik.container]}}
directories:
  description: Each directory of O(directories) and whether the run C(create)s it or it C(exists).
  returned: always
  type: dict
  sample: {/srv/photos/library: create}
digests:
  description:
    - The image of every present C(.container) unit pinned by the digest it has on the host (C(repo@sha256:...)),
      read after the transaction in one C(podman image inspect); images not on the host are left out.
    - Empty in check mode.
  returned: always
  type: dict
  sample: {demo-web.container: "localhost/hl-web@sha256:76ee20ec1d1aba1e4a0af7c12c4921b0cd2ecd247361a05b9f6b8f320d3b1b50"}
validation:
  description:
    - What the generator dry run over the set found, per file.
    - The dry run is skipped (and this is not returned) when every present unit's text is byte-identical to its
      installed file and systemd has loaded that file (the set was validated when it was written).
  returned: when O(units) has present units that are new, changed, or not loaded by systemd
  type: dict
  sample: {rc: 0, errors: [], other_errors: [], files: {demo-web.container: {errors: [], warnings: [],
           service: demo-web.service}}}
seconds:
  description: Seconds spent in C(validate), C(write), C(reload), each C(phase-N), C(routes) (confirming changed routes), C(verify), and C(total).
  returned: always
  type: dict
  sample: {validate: 0.4, write: 0.01, reload: 0.3, phase-0: 0.1, phase-1: 4.1, total: 5.2}
failure:
  description: What failed (the unit and service, or none for a check), which check, why, and the evidence
    (health log, C(systemctl status) with the journal tail, container log tail), credentials masked.
  returned: failure after the transaction started, and failed verify checks
  type: dict
  sample: {unit: demo-web.container, service: demo-web.service, check: health,
           cause: "demo-web.service did not become healthy: unhealthy (healthcheck reports unhealthy)",
           evidence: {status: "...", logs: "...", health_log: [], reason: "..."}}
refused:
  description: The set was refused before anything on the host changed (a bad unit, a policy, a missing image...).
  returned: when refused
  type: bool
  sample: true
rollback:
  description: What putting the set back did (also after O(revert=true)).
  returned: failure after the transaction started, and O(revert=true)
  type: dict
  contains:
    restored:
      description: Files put back to their previous text.
      type: list
      elements: str
    removed:
      description: Files of new units removed.
      type: list
      elements: str
    stopped:
      description: Services stopped (new units, and units that did not run before).
      type: list
      elements: str
    restarted:
      description: Services that ran before, restarted and waited for.
      type: list
      elements: str
    secrets:
      description: Names of the secrets put back.
      type: list
      elements: str
    reloaded:
      description: Whether systemd was reloaded.
      type: bool
    errors:
      description: Steps that failed.
      type: list
      elements: str
    ok:
      description: Whether every step worked.
      type: bool
  sample: {restored: [demo-web.container], removed: [], stopped: [], restarted: [demo-web.service],
           secrets: [], reloaded: true, errors: [], ok: true}
reverted:
  description: Whether O(revert=true) found a rollback point and restored it.
  returned: when O(revert=true)
  type: bool
purged:
  description: Podman objects removed by O(units[].purge=true), as C(kind/name).
  returned: when the transaction committed
  type: list
  elements: str
  sample: [volume/systemd-demo-old]
'''

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

from ansible_collections.homelab.deploy.plugins.module_utils import _quadlet as quadlet
from ansible_collections.homelab.deploy.plugins.module_utils import _txn as txn


def unit_options():
    return dict(
        name=dict(type='str', required=True),
        content=dict(type='str'),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        phase=dict(type='int', default=0),
        wait=dict(type='bool'),
        timeout=dict(type='int', default=120),
        purge=dict(type='bool', default=False),
        restart=dict(type='bool', default=False),
        pull=dict(type='str', choices=['missing', 'always', 'newer', 'never']),
    )


def verify_options():
    http = dict(
        url=dict(type='str', required=True),
        host=dict(type='str'),
        headers=dict(type='dict', no_log=True),
        status=dict(type='list', elements='int', default=[200]),
        body_regex=dict(type='str'),
        timeout=dict(type='int', default=5),
    )
    return dict(
        name=dict(type='str', required=True),
        container=dict(type='str'),
        command=dict(type='list', elements='str'),
        stdout_regex=dict(type='str'),
        http=dict(type='dict', options=http),
        retries=dict(type='int', default=5),
        delay=dict(type='float', default=2),
    )


def argument_spec():
    return dict(
        name=dict(type='str', required=True),
        units=dict(type='list', elements='dict', default=[], options=unit_options()),
        routes=dict(type='list', elements='dict', default=[]),
        files=dict(type='list', elements='dict', default=[], options=dict(
            path=dict(type='str', required=True),
            content=dict(type='str', required=True),
            mode=dict(type='raw', default='0644'),
            restarts=dict(type='list', elements='str', default=[]),
        )),
        directories=dict(type='list', elements='dict', default=[], options=dict(
            path=dict(type='str', required=True),
            owner=dict(type='raw'),
            group=dict(type='raw'),
            mode=dict(type='raw', default='0750'),
        )),
        progress_file=dict(type='path'),
        secrets=dict(type='dict', default={}, no_log=True),
        pin_images=dict(type='bool', default=False),
        verify=dict(type='list', elements='dict', default=[], options=verify_options()),
        revert=dict(type='bool', default=False),
        rollback=dict(type='bool', default=True),
        lock_timeout=dict(type='int', default=120),
        health_interval=dict(type='float', default=1),
        verify_health=dict(type='bool', default=False),
        scope=dict(type='str', default='system', choices=['system', 'user']),
        user=dict(type='str'),
    )


def main():
    module = AnsibleModule(argument_spec=argument_spec(), required_if=[('scope', 'user', ('user',))],
                           supports_check_mode=True)
    try:
        manager = txn.Transaction(module)
    except (quadlet.QuadletError, ValueError) as exc:
        module.fail_json(msg=to_native(exc))
    module.exit_json(**manager.run())


if __name__ == '__main__':
    main()

# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host paths a service may mount, and where its shipped configuration files live (controller side; private).

One policy for every host path a deployment mounts or creates, checked before the host is touched:

* a path is absolute and normalised (no ``..``, no ``//``, no trailing ``/``): what is checked is what is mounted;
* it lies under one of the deployment's bind roots (``/srv``, ``/mnt``, ``/media``, ``/data`` by default), where
  a missing directory may be created;
* or it is one of the deployment's read-only host paths (``/etc/localtime``, ``/etc/timezone`` by default, or a
  path under one), mounted ``ro`` and never created;
* ``/``, ``/etc``, ``/usr``, ``/boot``, ``/proc`` and ``/sys`` (and what lies under them) are refused otherwise.

The host transaction (quadlet_apply's ``directories``) refuses a directory to create whose existing part goes
through a symbolic link, so a link under a root cannot lead a created (and chowned) directory elsewhere.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import posixpath

DEFAULT_ROOTS = ('/srv', '/mnt', '/media', '/data')
DEFAULT_READONLY = ('/etc/localtime', '/etc/timezone')
SYSTEM_PATHS = ('/etc', '/usr', '/boot', '/proc', '/sys')
# shipped configuration files of stacks (stack_config_dir) and of pattern services, for both scopes
SYSTEM_BASE = '/etc/homelab-deploy'
USER_BASE = '.local/share/homelab-deploy'  # below the user's home
CONFIG_DIR = SYSTEM_BASE + '/stacks'
SERVICE_CONFIG_DIR = SYSTEM_BASE + '/services'


def deploy_dirs(scope='system', home=None):
    """The directories a deployment's own files go to by default, in one place: base, stacks and services (shipped
    configuration files), guides and monitoring (file_sd targets). /etc/homelab-deploy for the system scope; in
    the user scope <home>/.local/share/homelab-deploy (a rootless user cannot write /etc, and the files are the
    user's). None for the user scope without a home."""
    if scope != 'user':
        base = SYSTEM_BASE
    elif not home:
        return None
    else:
        base = '%s/%s' % (home.rstrip('/'), USER_BASE)
    dirs = dict((kind, '%s/%s' % (base, kind)) for kind in ('stacks', 'services', 'guides', 'monitoring'))
    dirs['base'] = base
    return dirs


def config_dir_for(kind, scope='system', home=None):
    """Where shipped configuration files of stacks or services (kind) go by default (see deploy_dirs)."""
    dirs = deploy_dirs(scope, home)
    return dirs[kind] if dirs else None


def under(path, root):
    """path is root or lies below it (both normalised)."""
    return path == root or path.startswith(root.rstrip('/') + '/')


def path_problem(path):
    """Why path is not an absolute, normalised path, or None."""
    if not isinstance(path, str) or not path.startswith('/'):
        return 'must be an absolute path, got %r' % (path,)
    if posixpath.normpath(path) != path or path.startswith('//'):
        return 'must be normalised (no "..", ".", "//" or trailing "/"): %r is %r' % (path, posixpath.normpath(path))
    return None


def is_system(path):
    return path == '/' or any(under(path, top) for top in SYSTEM_PATHS)


def check_roots(roots, key, system_ok=False):
    """The configured roots (or read-only paths: system_ok), checked: each absolute, normalised, not / and, for
    roots, not a system path."""
    problems = []
    for index, root in enumerate(roots):
        problem = path_problem(root)
        if problem is None and root == '/':
            problem = '/ cannot be allowed as a whole'
        elif problem is None and is_system(root) and not system_ok:
            problem = '%r is a system path: it cannot be a bind root (list it as read-only instead)' % root
        if problem:
            problems.append(('%s[%d]' % (key, index), problem))
    return problems


def bind_problem(path, mode, roots=DEFAULT_ROOTS, readonly=DEFAULT_READONLY):
    """Why the host path may not be mounted with mode (rw|ro), or None. A path under a root may be anything;
    a read-only path only ro; a system path only when it is a read-only path."""
    problem = path_problem(path)
    if problem:
        return problem
    allowed_ro = any(under(path, ro) for ro in readonly)
    if allowed_ro and mode == 'ro':
        return None
    if not is_system(path) and any(under(path, root) for root in roots):
        return None
    if allowed_ro:
        return '%s is allowed read-only only: mount it with mode: ro' % path
    where = 'a system path' if is_system(path) else 'outside the bind roots'
    return ('%s is %s: allowed are paths under %s, and read-only %s (a deployment sets them: bind roots and '
            'read-only host paths)' % (path, where, ', '.join(roots) or 'no root', ', '.join(readonly) or 'none'))


def may_create(path, roots=DEFAULT_ROOTS):
    """Only a directory under a bind root is created when it is missing."""
    return not is_system(path) and any(under(path, root) for root in roots)


def config_path(config_dir, stack, service, target):
    """The host file of a shipped configuration file: <config_dir>/<stack>/<service><target in the container>."""
    return '%s/%s/%s%s' % (config_dir.rstrip('/'), stack, service, target)


def config_mount(config_dir, prefix, service, config):
    """The read-only mount of a shipped configuration file. z: a file of the deployment's own, relabelled so that the
    container may read it where SELinux enforces."""
    return {'source': config_path(config_dir, prefix, service, config['target']), 'target': config['target'],
            'options': ['ro', 'z']}


def config_files(config_dir, prefix, configs_by_service):
    """The files to write for the services' configs ({service: [config]}) of a deployment named prefix (a stack, a
    pattern instance), and the problems: [(key path, reason)]. A file's change restarts only its own service."""
    files, problems = [], []
    for name, configs in sorted(configs_by_service.items()):
        targets = [c['target'] for c in configs]
        for index, config in enumerate(configs):
            key = 'services.%s.configs[%d].target' % (name, index)
            problem = path_problem(config['target'])
            if problem is None and targets.count(config['target']) > 1:
                problem = 'target %s is given more than once' % config['target']
            if problem:
                problems.append((key, problem))
                continue
            item = {'path': config_path(config_dir, prefix, name, config['target']),
                    'mode': config.get('mode', '0644'), 'restarts': ['%s-%s.container' % (prefix, name)]}
            item.update((k, config[k]) for k in ('content', 'template') if k in config)
            files.append(item)
    return files, problems

# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read-only snapshot of a stack's previous state on the managed host, in one round trip.

Usage: stack_snapshot.py JSON
JSON: {"files": [paths], "containers": [names], "images": [references], "as": [argv prefix for podman]}
Prints {"files": {path: text or null}, "containers": {name: {image_name, image_id, digest} or null},
"images": {reference: digest or null}}: the unit and route files to restore, the images that ran (pinned by
digest), and the digests the wanted images resolve to now.
"""
import json
import subprocess
import sys


def read(path):
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def podman_json(prefix, argv):
    proc = subprocess.run(prefix + ['podman'] + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, check=False)
    try:
        return json.loads(proc.stdout or '[]')
    except ValueError:
        return []


def containers(prefix, names):
    found = dict((c.get('Name'), c) for c in podman_json(prefix, ['container', 'inspect'] + names) if names)
    out = {}
    for name in names:
        info = found.get(name)
        out[name] = None if info is None else {'image_name': info.get('ImageName'), 'image_id': info.get('Image'),
                                               'digest': info.get('ImageDigest'),
                                               'state': (info.get('State') or {}).get('Status')}
    return out


def images(prefix, refs):
    out = {}
    for ref in refs:  # one by one: inspect fails for all when one is missing
        info = podman_json(prefix, ['image', 'inspect', ref])
        out[ref] = info[0].get('Digest') if info else None
    return out


def main():
    spec = json.loads(sys.argv[1])
    prefix = spec.get('as') or []
    print(json.dumps({
        'files': dict((path, read(path)) for path in spec.get('files', [])),
        'containers': containers(prefix, spec.get('containers', [])),
        'images': images(prefix, spec.get('images', [])),
    }))


if __name__ == '__main__':
    main()

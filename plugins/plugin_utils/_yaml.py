# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the collection reads YAML it is given (patterns, stacks, catalog entries, compose files): safe, a key given
twice refused, the size after alias expansion bounded; and error text bounded, since messages quote values."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from ansible.module_utils.common.text.converters import to_native

try:
    import yaml
except ImportError:  # pragma: no cover - ansible-core depends on PyYAML
    yaml = None


class UniqueKeyLoader(yaml.SafeLoader if yaml else object):
    """A YAML loader that refuses a key given twice in one mapping (PyYAML would keep the last one silently: in a
    catalog entry, deployed: true then deployed: false would remove the service)."""

    def construct_mapping(self, node, deep=False):
        seen = {}
        for key_node, dummy in node.value:
            if key_node.tag == 'tag:yaml.org,2002:merge':
                continue  # <<: *anchor; keys merged in may be overridden by the mapping's own (compose files do)
            key = self.construct_object(key_node, deep=deep)
            try:
                hash(key)
            except TypeError:  # an unhashable key: SafeLoader refuses it below with its own error
                continue
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    'while constructing a mapping', node.start_mark,
                    'duplicate key %r (first at line %d)' % (key, seen[key] + 1), key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super(UniqueKeyLoader, self).construct_mapping(node, deep=deep)


# A document that expands (through YAML aliases) to more values than this is refused before anything reads it
MAX_VALUES = 100000


def check_size(data, limit=MAX_VALUES):
    """Refuse data that expands to more than limit values (a YAML alias bomb: a few KB, billions of values once
    walked); the walk stops at the limit, so it is cheap either way."""
    count, stack = 0, [data]
    while stack:
        node = stack.pop()
        count += 1
        if count > limit:
            raise ValueError('the document expands to more than %d values (YAML aliases nested in aliases?)' % limit)
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return data


def load_yaml(handle):
    """YAML as the collection reads its data files: safe, a key given twice refused, the size bounded."""
    return check_size(yaml.load(handle, Loader=UniqueKeyLoader))  # nosec - a SafeLoader subclass


# jsonschema's messages quote the offending value: a large one (a YAML alias bomb expands to megabytes) is cut
REASON_MAX = 300


def bounded(text, limit=REASON_MAX):
    text = to_native(text)
    return text if len(text) <= limit else '%s... (%d characters cut)' % (text[:limit], len(text) - limit)

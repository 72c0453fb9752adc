# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the collection reads YAML it is given: duplicate keys, merge keys, alias bombs, huge integers, bounded text."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import pytest
import yaml

from ansible_collections.homelab.deploy.plugins.plugin_utils import _compose
from ansible_collections.homelab.deploy.plugins.plugin_utils import _yaml


def bomb(levels=8):
    text = 'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    previous = 'a'
    for level in 'bcdefghijk'[:levels]:
        text += '%s: &%s [%s]\n' % (level, level, ','.join(['*' + previous] * 9))
        previous = level
    return text


def test_a_key_given_twice_is_refused_with_both_lines():
    with pytest.raises(yaml.YAMLError, match=r"duplicate key 'image' \(first at line 2\)"):
        _yaml.load_yaml('web:\n  image: a\n  ports: []\n  image: b\n')


def test_merge_keys_still_work_and_a_merged_key_may_be_overridden():
    data = _yaml.load_yaml('x: &base {image: a, restart: always}\nweb:\n  <<: *base\n  image: b\n')
    assert data['web'] == {'image': 'b', 'restart': 'always'}


def test_an_alias_bomb_is_refused_without_walking_it():
    with pytest.raises(ValueError, match='expands to more than 100000 values'):
        _yaml.load_yaml(bomb())
    assert _yaml.load_yaml(bomb(levels=2))['c'], 'a small expansion is fine'


def test_bounded_text():
    assert _yaml.bounded('short') == 'short'
    cut = _yaml.bounded('x' * 1000)
    assert len(cut) < 400 and cut.endswith('(700 characters cut)')


@pytest.mark.parametrize('text, fragment', [
    (bomb(), 'expands to more than 100000 values'),
    ('services:\n  web:\n    image: a\n    image: b\n', "duplicate key 'image'"),
    ('services:\n  web:\n    image: a\n    stop_grace_period: %s\n' % ('9' * 5000), 'not valid YAML'),
])
def test_the_compose_importer_reads_yaml_the_same_way(text, fragment):
    with pytest.raises(_compose.ComposeError) as err:
        _compose.load_document(text, 'compose.yml')
    assert fragment in str(err.value) and len(str(err.value)) < 1000

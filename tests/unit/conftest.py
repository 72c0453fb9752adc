# -*- coding: utf-8 -*-
"""Make this checkout importable as ansible_collections.homelab.deploy for plain pytest runs.

ansible-test lays the collection out under ansible_collections/ itself; a plain
``pytest tests/unit`` from the repo root does not, so link the checkout into
tests/output/collections (ignored by git and by the collection build).
"""
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _ensure_collection_path():
    if ROOT.replace(os.sep, '/').endswith('ansible_collections/homelab/deploy'):
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(ROOT))))
        return
    base = os.path.join(ROOT, 'tests', 'output', 'collections')
    link = os.path.join(base, 'ansible_collections', 'homelab', 'deploy')
    if not os.path.islink(link):
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(ROOT, link)
    if base not in sys.path:
        sys.path.insert(0, base)


_ensure_collection_path()

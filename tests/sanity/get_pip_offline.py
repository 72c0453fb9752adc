# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Offline stand-in for ansible-test's pip bootstrap script (get-pip-X.Y.py).

ansible-test downloads that script from a host this machine cannot reach. This one runs
pip from a wheel placed beside it (pip runs from a wheel on sys.path) and installs what
ansible-test asks for from the package index, which is reachable.
"""
import glob
import os
import sys

# tests/sanity/run replaces the placeholder below: ansible-test runs this with a clean environment
WHEEL_DIR = '@WHEEL_DIR@'
WHEELS = glob.glob(os.path.join(WHEEL_DIR, 'pip-*.whl'))
sys.path.insert(0, WHEELS[0])
from pip._internal.cli.main import main  # noqa: E402

ARGS = [a for a in sys.argv[1:] if a not in ('--no-setuptools', '--no-wheel', '--no-pip')]
sys.exit(main(['install', '--upgrade', '--force-reinstall'] + ARGS))

# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the analytics renderers: Markdown, the SVG chart, Prometheus textfile metrics."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

import xml.etree.ElementTree as ET

import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.homelab.deploy.plugins.filter import analytics as an
from ansible_collections.homelab.deploy.plugins.filter import analytics_report as ar

T0 = 1764547200.0


def rec(started, outcome='success', pattern='web', kind='deploy', name='svc', details=None, host='node'):
    return {'kind': kind, 'host': host, 'name': name, 'pattern': pattern, 'outcome': outcome, 'started': started,
            'duration': 10.0, 'phases': {'deploy': 9.0}, 'failure': None, 'details': details or {}, 'images': {}}


RECORDS = [rec(T0), rec(T0 + 86400, 'failed'), rec(T0 + 86400 * 2, 'rolled_back', pattern='db'),
           rec(T0 + 86400 * 2 + 5, pattern='we"ird')]


def test_svg_carries_every_series_value():
    report = an.deployment_analytics(RECORDS, T0, T0 + 3 * 86400)
    root = ET.fromstring(ar.analytics_svg(report))
    found = {}
    for element in root.iter():
        if element.get('data-series'):
            found.setdefault(element.get('data-series'), {})[element.get('data-bucket')] = element.get('data-value')
    assert found['success'] == {'2025-12-01': '1', '2025-12-02': '0', '2025-12-03': '1'}
    assert found['failed'] == {'2025-12-01': '0', '2025-12-02': '1', '2025-12-03': '0'}
    assert found['rolled_back']['2025-12-03'] == '1'
    assert found['mean_duration'] == {'2025-12-01': '10.0', '2025-12-02': '10.0', '2025-12-03': '10.0'}


def test_markdown_has_the_numbers_and_the_level():
    report = an.deployment_analytics(RECORDS, T0, T0 + 3 * 86400, manual_minutes=15)
    level = an.automation_level(RECORDS, {'max_level': 2})
    text = ar.analytics_markdown(report, level, 'trend.svg')
    assert '| success rate | 50.0% |' in text and '| rolled back | 1 |' in text
    assert '![trend](trend.svg)' in text and '| web | 2 | 50.0% |' in text
    assert 'Current level: **1**' in text and '| 2 | successful_deployments | 5 | 2 | NO |' in text
    assert 'Readiness for level 2: 25.0%' in text
    assert 'not configured' in ar.analytics_markdown(report)


def test_prometheus_counts_and_escapes():
    drift = [rec(T0, kind='drift_fix', name='a', outcome='failed'),
             rec(T0, kind='drift_fix', name='b'), rec(T0 + 1, kind='reconcile', name='b', details={'drift_remaining': ['x']}),
             rec(T0, kind='drift_fix', name='c', outcome='failed'), rec(T0 + 1, kind='drift_fix', name='c')]
    text = ar.history_prometheus(RECORDS + drift + [rec(T0 + 9e5, 'refused')], {'level': 1})
    assert 'homelab_deployments_total{kind="deploy",outcome="success",pattern="web"} 1' in text
    assert 'homelab_deployments_total{kind="deploy",outcome="success",pattern="we\\"ird"} 1' in text
    assert 'homelab_deployments_total{kind="deploy",outcome="refused",pattern="web"} 1' in text
    assert 'homelab_last_deploy_timestamp_seconds{host="node",name="svc"} %.3f' % (T0 + 86400 * 2 + 5) in text
    assert 'homelab_drifted_services 2' in text
    assert 'homelab_service_drifted{host="node",name="a"} 1' in text and 'homelab_service_drifted{host="node",name="c"}' not in text
    assert 'homelab_automation_level 1' in text
    for line in text.splitlines():
        assert line.startswith('#') or line.split(' ')[-1].replace('.', '').isdigit(), line


@pytest.mark.parametrize('func, arg', [(ar.analytics_svg, {}), (ar.analytics_markdown, []), (ar.history_prometheus, {})])
def test_bad_input(func, arg):
    with pytest.raises(AnsibleFilterError):
        func(arg)

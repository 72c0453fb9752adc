# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render deployment analytics: Markdown for people, an SVG trend chart, Prometheus textfile metrics."""

from __future__ import absolute_import, division, print_function
__metaclass__ = type

from xml.sax.saxutils import escape

from ansible.errors import AnsibleFilterError

COLORS = {'success': '#2e9d4f', 'failed': '#d64541', 'rolled_back': '#f0a030', 'duration': '#3572b0'}
DRIFT_KINDS = ('drift_fix', 'reconcile', 'drift')


def _pct(value):
    return 'n/a' if value is None else '%.1f%%' % (100.0 * value)


def _secs(value):
    return 'n/a' if value is None else '%.1f s' % value


def _value(value):
    if isinstance(value, list):
        return ', '.join(str(v) for v in value) or 'none'
    return str(value)


def _need(report, keys, what):
    if not isinstance(report, dict) or any(k not in report for k in keys):
        raise AnsibleFilterError('%s: expected the report deployment_analytics returns' % what)


def _level_lines(level):
    if not level:
        return ['Automation levels are not configured (no automation config).']
    lines = ['Current level: **%s** (%s); config allows up to %s; the history earns %s.'
             % (level['level'], level['description'], level['max_level'], level['earned_level']), '',
             '| level | requirement | required | actual | met |', '|---|---|---|---|---|']
    for req in level['requirements']:
        cells = (req['level'], req['name'], _value(req['required']), _value(req['actual']), 'yes' if req['met'] else 'NO')
        lines.append('| %s | %s | %s | %s | %s |' % cells)
    if level['next_level'] is not None:
        lines += ['', 'Readiness for level %s: %s%% of its requirements met%s.' % (
            level['next_level'], level['readiness'],
            '' if level['next_level'] <= level['max_level'] else ' (the config does not allow it: raise max_level)')]
    return lines


def analytics_markdown(report, level=None, chart=''):
    """The analytics report (and the automation level, when given) as Markdown."""
    _need(report, ('period', 'totals', 'duration', 'patterns'), 'analytics_markdown')
    tot, dur, saved = report['totals'], report['duration'], report['time_saved']
    lines = ['# Deployment analytics', '',
             'Period: %s to %s' % (report['period']['since_iso'], report['period']['until_iso']), '',
             '## Summary', '',
             '| | |', '|---|---|',
             '| deployments | %s (%s records incl. %s refused) |' % (tot['deployments'], tot['records'], tot['refused']),
             '| success | %s |' % tot['success'], '| failed | %s |' % tot['failed'],
             '| rolled back | %s |' % tot['rolled_back'], '| success rate | %s |' % _pct(report['success_rate']),
             '| rollbacks | %s |' % report['rollbacks'],
             '| mean / median time | %s / %s |' % (_secs(dur['mean']), _secs(dur['median'])),
             '| time saved | %s h (%s successful deploys x %s min manual - %s s automated) |' % (
                 saved['saved_hours'], saved['successes'], saved['manual_minutes'], saved['automated_seconds']), '']
    if chart:
        lines += ['![trend](%s)' % chart, '']
    lines += ['## Deploys per week', '', '| week | deployments |', '|---|---|']
    lines += ['| %s | %s |' % (w['week'], w['deployments']) for w in report['per_week']]
    lines += ['', '## Patterns', '', '| pattern | deployments | success rate |', '|---|---|---|']
    lines += ['| %s | %s | %s |' % (p['pattern'], p['deployments'], _pct(p['success_rate'])) for p in report['patterns']]
    lines += ['', '## Top failure causes', '']
    lines += ['%d. %s (%s)' % (i + 1, c['cause'], c['count']) for i, c in enumerate(report['failure_causes'])] or ['none']
    lines += ['', '## Slowest patterns', '']
    lines += ['- **%s**: mean %s over %s deploys; slowest phase %s (%s%%). Suggestion: %s.' % (
        s['pattern'], _secs(s['mean_duration']), s['deployments'], s['slowest_phase'] or 'n/a',
        s['slowest_phase_share'] if s['slowest_phase_share'] is not None else 'n/a', s['suggestion'])
        for s in report['slowest_patterns']] or ['none']
    lines += ['', '## Automation level', ''] + _level_lines(level)
    return '\n'.join(lines) + '\n'


def _bars(trend, x0, y0, width, height):
    top = max([r['success'] + r['failed'] + r['rolled_back'] for r in trend] + [1])
    step = width / float(len(trend))
    out = []
    for i, row in enumerate(trend):
        base = y0 + height
        for series in ('success', 'failed', 'rolled_back'):
            size = height * row[series] / float(top)
            base -= size
            out.append('<rect class="%s" data-series="%s" data-bucket="%s" data-value="%d" x="%.1f" y="%.1f" '
                       'width="%.1f" height="%.1f" fill="%s"><title>%s %s: %d</title></rect>' % (
                           series, series, row['bucket'], row[series], x0 + i * step + step * 0.15, base,
                           step * 0.7, size, COLORS[series], row['bucket'], series, row[series]))
    out.append('<text x="%d" y="%d" font-size="11">%d</text>' % (x0 - 24, y0 + 10, top))
    return out


def _line(trend, x0, y0, width, height):
    values = [r['mean_duration'] for r in trend]
    top = max([v for v in values if v is not None] + [1])
    step = width / float(len(trend))
    points = []
    out = []
    for i, row in enumerate(trend):
        if row['mean_duration'] is None:
            continue
        x, y = x0 + i * step + step / 2, y0 + height - height * row['mean_duration'] / top
        points.append('%.1f,%.1f' % (x, y))
        out.append('<circle class="duration" data-series="mean_duration" data-bucket="%s" data-value="%s" cx="%.1f" '
                   'cy="%.1f" r="3" fill="%s"><title>%s mean %s s</title></circle>' % (
                       row['bucket'], row['mean_duration'], x, y, COLORS['duration'], row['bucket'], row['mean_duration']))
    line = ['<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (COLORS['duration'], ' '.join(points))]
    return line + out + ['<text x="%d" y="%d" font-size="11">%ss</text>' % (x0 - 30, y0 + 10, top)]


def analytics_svg(report):
    """An SVG chart of the trend: deploys per bucket stacked by outcome, and the mean deploy time."""
    _need(report, ('trend', 'trend_granularity', 'period'), 'analytics_svg')
    trend = report['trend'] or [{'bucket': 'none', 'success': 0, 'failed': 0, 'rolled_back': 0, 'mean_duration': None}]
    width, x0, plot = 760, 50, 690
    parts = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="420" viewBox="0 0 %d 420" '
             'font-family="sans-serif">' % (width, width),
             '<rect width="100%" height="100%" fill="white"/>',
             '<text x="%d" y="22" font-size="15" font-weight="bold">Deployments per %s, %s to %s</text>' % (
                 x0, report['trend_granularity'], escape(report['period']['since_iso'][:10]),
                 escape(report['period']['until_iso'][:10])),
             '<g id="outcomes">']
    parts += _bars(trend, x0, 40, plot, 170)
    parts += ['</g>', '<line x1="%d" y1="210" x2="%d" y2="210" stroke="#888"/>' % (x0, x0 + plot),
              '<text x="%d" y="250" font-size="15" font-weight="bold">Mean deploy time (seconds)</text>' % x0,
              '<g id="duration">']
    parts += _line(trend, x0, 262, plot, 120)
    parts += ['</g>', '<line x1="%d" y1="382" x2="%d" y2="382" stroke="#888"/>' % (x0, x0 + plot)]
    labels_every = max(1, len(trend) // 10)
    for i, row in enumerate(trend):
        if i % labels_every == 0:
            parts.append('<text x="%.1f" y="400" font-size="10">%s</text>' % (x0 + i * plot / float(len(trend)),
                                                                              escape(row['bucket'])))
    legend = [('success', 'success'), ('failed', 'failed'), ('rolled_back', 'rolled back'), ('duration', 'mean time')]
    for i, (key, text) in enumerate(legend):
        parts.append('<rect x="%d" y="406" width="10" height="10" fill="%s"/><text x="%d" y="415" font-size="11">%s</text>'
                     % (x0 + 300 + i * 100, COLORS[key], x0 + 314 + i * 100, text))
    parts.append('</svg>')
    return '\n'.join(parts) + '\n'


def _label(value):
    return str(value).replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n')


def _drifted(records):
    """(host, name) of services whose latest drift-related record says drift remains."""
    latest = {}
    for rec in records:
        if rec['kind'] in DRIFT_KINDS:
            latest[(rec['host'], rec['name'])] = rec
    out = []
    for key, rec in sorted(latest.items()):
        details = rec.get('details') or {}
        remaining = details.get('drift_remaining', details.get('drifted') if rec['outcome'] != 'success' else False)
        if rec['outcome'] != 'success' or remaining:
            out.append(key)
    return out


def history_prometheus(records, level=None):
    """Prometheus textfile-collector metrics of the whole history (counters must not depend on a period)."""
    if not isinstance(records, list):
        raise AnsibleFilterError('history_prometheus: expected the list history_records returns')
    counts, last = {}, {}
    for rec in records:
        key = (rec['kind'], rec['outcome'], rec.get('pattern') or '')
        counts[key] = counts.get(key, 0) + 1
        if rec['outcome'] != 'refused':
            last[(rec['host'], rec['name'])] = max(last.get((rec['host'], rec['name']), 0), rec['started'])
    drifted = _drifted(records)
    out = ['# HELP homelab_deployments_total Deployment records in the history, by kind, outcome and pattern.',
           '# TYPE homelab_deployments_total counter']
    out += ['homelab_deployments_total{kind="%s",outcome="%s",pattern="%s"} %d' % (_label(k), _label(o), _label(p), n)
            for (k, o, p), n in sorted(counts.items())]
    out += ['# HELP homelab_last_deploy_timestamp_seconds Start of the latest deployment of each service.',
            '# TYPE homelab_last_deploy_timestamp_seconds gauge']
    out += ['homelab_last_deploy_timestamp_seconds{host="%s",name="%s"} %.3f' % (_label(h), _label(n), t)
            for (h, n), t in sorted(last.items())]
    out += ['# HELP homelab_drifted_services Services whose latest drift check or fix left drift behind.',
            '# TYPE homelab_drifted_services gauge', 'homelab_drifted_services %d' % len(drifted),
            '# HELP homelab_service_drifted 1 for each service whose latest drift check or fix left drift behind.',
            '# TYPE homelab_service_drifted gauge']
    out += ['homelab_service_drifted{host="%s",name="%s"} 1' % (_label(h), _label(n)) for h, n in drifted]
    if level:
        out += ['# HELP homelab_automation_level Automation level the history earns within the configured maximum.',
                '# TYPE homelab_automation_level gauge', 'homelab_automation_level %d' % level['level']]
    return '\n'.join(out) + '\n'


class FilterModule(object):
    """Render deployment analytics."""

    def filters(self):
        return {
            'analytics_markdown': analytics_markdown,
            'analytics_svg': analytics_svg,
            'history_prometheus': history_prometheus,
        }

# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark of the deployment history on a busy AWX/Semaphore controller (issue #6); prints ratios measured in ONE run.

1. recording cost as the history grows: the time the deploy_history callback needs to append one run's events
   to a history of N records vs to an empty one. Target: about 1 (appending does not slow down with size).
2. concurrent jobs: W writer processes appending at once (each a separate run, as parallel AWX jobs) vs the same
   appends made one after the other; every record must be there (no lost writes, no "database is locked").
3. analytics of a year of history (N records): the time of deployment_analytics + automation_level + the SVG and
   the metrics, per 1,000 records.

No node needed. From the repo root after `source tests/env.sh && hl_env`:
    python benchmarks/history_bench.py [--records 50000] [--writers 4]
"""

from __future__ import absolute_import, division, print_function

import argparse
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'output', 'collections'))

from ansible_collections.homelab.deploy.plugins.filter import analytics as an  # noqa: E402
from ansible_collections.homelab.deploy.plugins.filter import analytics_report as ar  # noqa: E402
from ansible_collections.homelab.deploy.plugins.plugin_utils import _history as h  # noqa: E402

YEAR = 365 * 86400.0
FAILURE = {'check': 'health', 'cause': 'app did not become healthy', 'evidence': 'x' * 400}
START = 1735689600.0  # 2025-01-01


def event(rng, started):
    outcome = rng.choice(['success'] * 17 + ['failed', 'rolled_back', 'refused'])
    return {'kind': rng.choice(['deploy', 'deploy', 'stack', 'canary', 'drift_fix']), 'host': 'host%d' % rng.randint(1, 5),
            'name': 'svc%d' % rng.randint(1, 40), 'pattern': rng.choice(['web-app', 'postgres', 'media', 'cache']),
            'images': {'app': 'localhost/hl-web@sha256:%064x' % rng.getrandbits(256)}, 'strategy': 'direct',
            'outcome': outcome, 'started': started, 'duration': rng.uniform(5, 300),
            'phases': {'preflight': rng.uniform(1, 10), 'deploy': rng.uniform(5, 200), 'verify': rng.uniform(1, 20)},
            'failure': None if outcome == 'success' else FAILURE,
            'details': {}}


def fill(db, count, rng):
    batch = 1000
    for first in range(0, count, batch):
        events = [event(rng, START + (first + i) * YEAR / count) for i in range(min(batch, count - first))]
        h.append_events(db, events, 'fill-%d' % first)


def time_append(db, rng, runs=30):
    times = []
    for i in range(runs):
        events = [event(rng, START + YEAR + i + n / 10.0) for n in range(3)]
        began = time.perf_counter()
        h.append_events(db, events, 'bench-%d' % i)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def writer(args):
    db, index, runs = args
    rng = random.Random(index)
    for i in range(runs):
        h.append_events(db, [event(rng, START + i)], 'w%d-%d' % (index, i))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--records', type=int, default=50000)
    parser.add_argument('--writers', type=int, default=4)
    parser.add_argument('--runs', type=int, default=50, help='runs per concurrent writer')
    opts = parser.parse_args()
    rng = random.Random(6)
    work = tempfile.mkdtemp(prefix='hl-history-bench-')

    empty = os.path.join(work, 'empty.sqlite')
    small = time_append(empty, rng)
    big_db = os.path.join(work, 'big.sqlite')
    fill(big_db, opts.records, rng)
    big = time_append(big_db, rng)
    print('1. append one run (3 events): %.2f ms into an empty history, %.2f ms into %d records: ratio %.2f (target ~1)'
          % (small * 1000, big * 1000, opts.records, big / small))

    serial_db, parallel_db = os.path.join(work, 'serial.sqlite'), os.path.join(work, 'parallel.sqlite')
    began = time.perf_counter()
    for index in range(opts.writers):
        writer((serial_db, index, opts.runs))
    serial = time.perf_counter() - began
    began = time.perf_counter()
    with multiprocessing.Pool(opts.writers) as pool:
        pool.map(writer, [(parallel_db, index, opts.runs) for index in range(opts.writers)])
    parallel = time.perf_counter() - began
    stored = len(h.read_events(parallel_db))
    print('2. %d concurrent writers x %d runs: %.2f s vs %.2f s one after the other: ratio %.2f; %d of %d records stored'
          % (opts.writers, opts.runs, parallel, serial, parallel / serial, stored, opts.writers * opts.runs))

    began = time.perf_counter()
    records = an.history_records(big_db)
    read = time.perf_counter() - began
    began = time.perf_counter()
    report = an.deployment_analytics(records, START, START + YEAR)
    level = an.automation_level(records, {'max_level': 4})
    ar.analytics_svg(report)
    ar.analytics_markdown(report, level)
    ar.history_prometheus(records, level)
    compute = time.perf_counter() - began
    per_k = (read + compute) / (len(records) / 1000.0)
    print('3. analytics of %d records: read %.2f s, compute %.2f s: %.1f ms per 1,000 records'
          % (len(records), read, compute, per_k * 1000))
    if stored != opts.writers * opts.runs:
        sys.exit('lost writes under concurrency')


if __name__ == '__main__':
    main()

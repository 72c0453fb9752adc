# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark of the canary analysis (issue #9): how closely Traefik's metrics, as homelab.deploy.canary_analyze reads
them, match what the clients saw, and what one analysis costs - measured in ONE run on the test node.

Set-up (canary_bench.yml): stable hl-web v1 and canary v2 with HL_WEB_DELAY_MS and HL_WEB_FAIL_PERCENT behind one
weighted Traefik route, 50/50. Then, on the node (no Ansible transport in the figures): a scrape of Traefik's
/metrics, REQUESTS sequential requests through Traefik timed by the client (which version answered is in the
X-HL-Web-Version header; failed answers carry none, so they are counted for the canary, the only failing side), a
second scrape. Printed: canary request count, success rate and p95 from the client and from canary_analyze, their
ratios (1.0 = Traefik's view equals the client's; p95 differs by the bucket width, as Prometheus' own
histogram_quantile would), and the median time of one canary_analyze call against the interval it judges.

Needs a running node with Traefik (tests/integration/setup_traefik.yml). From the repo root after
`source tests/env.sh && hl_env`:
    python benchmarks/canary_bench.py [--requests 400] [--delay-ms 60] [--fail-percent 20]
"""

from __future__ import absolute_import, division, print_function

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'output', 'collections'))
from ansible_collections.homelab.deploy.plugins.filter import canary as cf  # noqa: E402 pylint: disable=wrong-import-position

HLNODE = [sys.executable, os.path.join(ROOT, 'tests', 'harness', 'hlnode')]
SVC = 'cnbench'
CLIENT = r'''
import json, sys, time, urllib.request, urllib.error
out = []
for n in range(int(sys.argv[1])):
    req = urllib.request.Request("http://127.0.0.1/", headers={"Host": "%s.localhost"})
    start = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=10) as answer:
            answer.read()
            code, version = answer.status, answer.headers.get("X-HL-Web-Version")
    except urllib.error.HTTPError as exc:
        code, version = exc.code, None
    out.append((code, version, (time.monotonic() - start) * 1000.0))
print(json.dumps(out))
''' % SVC


def node(*argv, **kwargs):
    return subprocess.run(HLNODE + ['exec', '--'] + list(argv), capture_output=True, text=True, check=True, **kwargs).stdout


def playbook(state, args):
    inventory = os.environ.get('HLNODE_INVENTORY') or subprocess.run(
        HLNODE + ['inventory'], capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run(['ansible-playbook', '-i', inventory, os.path.join(ROOT, 'benchmarks', 'canary_bench.yml'),
                    '-e', json.dumps({'bench_state': state, 'bench_delay_ms': args.delay_ms,
                                      'bench_fail_percent': args.fail_percent})],
                   check=True, stdout=subprocess.DEVNULL)


def percentile(values, quantile):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(quantile * len(ordered) + 0.5)) - 1)] if ordered else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--requests', type=int, default=400)
    parser.add_argument('--delay-ms', type=int, default=60)
    parser.add_argument('--fail-percent', type=int, default=20)
    args = parser.parse_args()
    playbook('present', args)
    try:
        time.sleep(3)  # Traefik's first answers after a reload
        before = node('curl', '-s', 'http://127.0.0.1:8080/metrics')
        started = time.monotonic()
        answers = json.loads(node('python3', '-c', CLIENT, str(args.requests)))
        interval = time.monotonic() - started
        after = node('curl', '-s', 'http://127.0.0.1:8080/metrics')
    finally:
        playbook('absent', args)
    canary = [a for a in answers if a[1] != '1']
    client = {'requests': len(canary), 'success_rate': sum(1 for a in canary if a[0] < 500) / float(len(canary)),
              'p95_ms': percentile([a[2] for a in canary], 0.95)}
    result = cf.canary_analyze(after, before, SVC + '-canary@file', SVC + '-stable@file', {}, interval)
    timings = []
    for dummy in range(50):
        start = time.perf_counter()
        cf.canary_analyze(after, before, SVC + '-canary@file', SVC + '-stable@file', {}, interval)
        timings.append(time.perf_counter() - start)
    analyze_ms = sorted(timings)[len(timings) // 2] * 1000.0
    traefik = result['canary']
    rows = (('canary answers: ', 'client %d, Traefik %d', client['requests'], traefik['requests']),
            ('success rate:   ', 'client %.3f, Traefik %.3f', client['success_rate'], traefik['success_rate']),
            ('p95 (ms):       ', 'client %.1f, Traefik buckets %.1f', client['p95_ms'], traefik['p95_ms']))
    for label, fmt, seen_by_client, seen_by_traefik in rows:
        print(label + fmt % (seen_by_client, seen_by_traefik) + ', ratio %.3f' % (seen_by_traefik / float(seen_by_client)))
    print('canary_analyze: %.2f ms per call for a %d-line scrape; %.5f of the %.1f s interval it judged'
          % (analyze_ms, len(after.splitlines()), analyze_ms / 1000.0 / interval, interval))
    print(result['line'])
    router_scrapes = []
    for text in (after, before):
        samples = [(n.replace('router', 'service'), labels, v) for n, labels, v in cf.parse_metrics(text)
                   if n == 'traefik_router_requests_total']
        router_scrapes.append(dict(cf.service_counters(samples, SVC + '@file'), buckets={}))
    router = cf.counters_delta(*router_scrapes)
    print('client codes %s; Traefik canary codes %s, stable codes %s, router codes %s' % (
        json.dumps(dict((str(c), sum(1 for a in answers if a[0] == c)) for c in set(a[0] for a in answers))),
        traefik['codes'], result['stable']['codes'], dict((k, int(v)) for k, v in router['codes'].items())))


if __name__ == '__main__':
    main()

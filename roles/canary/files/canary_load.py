# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Synthetic load for a canary interval: GET URL with a Host header at RPS for SECONDS, then print the status
counts as JSON. Bounded in count and time; standard library only (runs on the managed host)."""

import json
import sys
import time
import urllib.error
import urllib.request


def request(url, host):
    req = urllib.request.Request(url, headers={'Host': host, 'User-Agent': 'homelab.deploy-canary-load'})
    try:
        with urllib.request.urlopen(req, timeout=5) as answer:
            answer.read()
            return str(answer.status)
    except urllib.error.HTTPError as exc:
        return str(exc.code)
    except (urllib.error.URLError, OSError):
        return 'error'


def main(url, host, rps, seconds):
    codes = {}
    start = time.monotonic()
    for number in range(int(rps * seconds)):
        delay = start + number / float(rps) - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        if time.monotonic() - start >= seconds:
            break
        code = request(url, host)
        codes[code] = codes.get(code, 0) + 1
    rest = start + seconds - time.monotonic()
    if rest > 0:
        time.sleep(rest)
    print(json.dumps({'requests': sum(codes.values()), 'codes': codes}))


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))

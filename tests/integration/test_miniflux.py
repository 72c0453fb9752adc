# -*- coding: utf-8 -*-
"""A real app as upstream ships it: Miniflux 2.2 (Debian trixie's miniflux package, built into an image by the
harness) with PostgreSQL 17, deployed from the shipped stacks/miniflux.yml. The migrations run as a one-shot job
after the database is healthy and before the app; the app runs as the miniflux user on a read-only root file
system, creates its admin from a podman secret and answers /healthcheck through Traefik. A feed created through
Miniflux's API (Miniflux fetches it from an RSS file served on Traefik's network, and stores its entry) is a row in
PostgreSQL, as is a category; both survive a restart of the database (which restarts the job and the app through
their Requires=) and a re-deploy, which changes nothing. drift_check finds no drift after the
deploy (before: the finished job was "a service without its container" and every env secret a difference).
"""
import json
import os
import subprocess
import time

from test_stack_events import ROOT, on_node, run_role

SECRETS = {'db-password': 'it-miniflux-db-0123456789', 'admin-password': 'it-miniflux-admin-42'}
EXTRA = {'stack_name': 'miniflux', 'stack_secrets': SECRETS}


def api(method, path, body=None):
    argv = ['curl', '-sS', '-o', '/dev/stdout', '-w', '\\n%{http_code}', '-u', 'admin:' + SECRETS['admin-password'],
            '-H', 'Host: miniflux.localhost', '-X', method, 'http://127.0.0.1' + path]
    if body is not None:
        argv += ['-H', 'Content-Type: application/json', '-d', json.dumps(body)]
    out = on_node(*argv).stdout.rsplit('\n', 1)
    return int(out[-1] or 0), out[0]


FEED_SERVER = 'hlfeed'
FEED = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>homelab news</title><link>http://hlfeed:8080/</link>
<description>a feed for the Miniflux test</description>
<item><title>First post</title><link>http://hlfeed:8080/first</link><guid>hl-first-post</guid>
<pubDate>Thu, 03 Dec 2026 10:00:00 GMT</pubDate><description>hello from the feed</description></item>
</channel></rss>
"""


def serve_feed():
    """An RSS file served by hl-web on Traefik's network (hl), where the routed Miniflux app can fetch it."""
    started = on_node('podman', 'run', '-d', '--replace', '--name', FEED_SERVER, '--network', 'hl',
                      'localhost/hl-web:latest')
    assert started.returncode == 0, started.stderr
    written = on_node('sh', '-c', "podman exec -i %s sh -c 'cat > /www/feed.xml' <<'EOF'\n%sEOF" % (FEED_SERVER, FEED))
    assert written.returncode == 0, written.stderr


def sql(query):
    return on_node('podman', 'exec', 'miniflux-db', 'psql', '-U', 'miniflux', '-d', 'miniflux', '-tAc', query).stdout


def categories():
    return on_node('podman', 'exec', 'miniflux-db', 'psql', '-U', 'miniflux', '-d', 'miniflux', '-tAc',
                   'select title from categories order by title').stdout.split()


def drift(inventory, names):
    """homelab.deploy.drift_check over the given units, as an ad-hoc run; its result."""
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=os.path.join(ROOT, 'tests', 'output', 'collections'),
               ANSIBLE_HOST_KEY_CHECKING='False', ANSIBLE_NOCOLOR='1')
    done = subprocess.run(['ansible', 'node', '-i', inventory, '-m', 'homelab.deploy.drift_check', '-a',
                           json.dumps({'names': names})], env=env, capture_output=True, text=True, check=False)
    return json.loads(done.stdout.split('=>', 1)[1])


def wait_healthy(container, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if on_node('podman', 'healthcheck', 'run', container).returncode == 0:
            return True
        time.sleep(1)
    return False


def test_miniflux_with_postgresql_from_its_stack(inventory):
    try:
        rc, events, out = run_role(inventory, EXTRA)
        assert rc == 0, out[-3000:]
        assert events[0]['outcome'] == 'success' and events[0]['details']['touched'] == ['db', 'migrate', 'app']
        assert 'migrate done after' in out, 'the job is reported as done, not as a healthy container'
        health = on_node('curl', '-sS', '-H', 'Host: miniflux.localhost', 'http://127.0.0.1/healthcheck').stdout
        assert health.strip() == 'OK', health
        assert on_node('podman', 'exec', 'miniflux-app', 'id', '-un').stdout.strip() == 'miniflux'
        unit = on_node('cat', '/etc/containers/systemd/miniflux-app.container').stdout
        assert SECRETS['db-password'] not in unit and SECRETS['admin-password'] not in unit

        found = drift(inventory, ['miniflux-db.container', 'miniflux-migrate.container', 'miniflux-app.container'])
        assert not found['drifted'], found['summary']  # a job that ran, env secrets as podman 5 lists them: no drift

        status, body = api('POST', '/v1/categories', {'title': 'homelab'})
        assert status == 201, body
        assert 'homelab' in categories(), 'the API wrote a row into PostgreSQL'
        serve_feed()
        status, body = api('POST', '/v1/feeds', {'feed_url': 'http://%s:8080/feed.xml' % FEED_SERVER,
                                                 'category_id': json.loads(body)['id']})
        assert status == 201, 'Miniflux fetched and stored the feed: %s' % body
        assert sql('select title from feeds').strip() == 'homelab news', 'the feed is a row in PostgreSQL'
        assert sql('select title from entries').strip() == 'First post', 'and so is its entry'

        assert on_node('systemctl', 'restart', 'miniflux-db.service').returncode == 0
        assert wait_healthy('miniflux-app'), 'the app came back after the database restart'
        status, body = api('GET', '/v1/categories')
        assert status == 200 and 'homelab' in body, body
        status, body = api('GET', '/v1/feeds')
        assert status == 200 and 'homelab news' in body, 'the feed survived the restart: %s' % body

        rc, events, out = run_role(inventory, EXTRA)
        assert rc == 0 and events == [], 're-deploy changes nothing (%s)' % out[-2000:]
        assert 'homelab' in categories()
        assert sql('select count(*) from entries where title = \'First post\'').strip() == '1', 'kept, not duplicated'
    finally:
        on_node('podman', 'rm', '-f', FEED_SERVER)
        run_role(inventory, dict(EXTRA, stack_state='absent', stack_purge=True))
        on_node('podman', 'secret', 'rm', '--ignore', 'miniflux-db-password', 'miniflux-admin-password')

# -*- coding: utf-8 -*-
"""Mosquitto as the home-automation pattern ships it (issue 13 part 7), on the node: the real broker (Debian trixie's
mosquitto package, built by the harness into an image laid out like upstream's eclipse-mosquitto, no HEALTHCHECK,
an entrypoint script, a broker that drops root) with the pattern's shipped mosquitto.conf (listener 1883, no
anonymous clients) and a password file made at start from a podman secret. An authenticated publish reaches a
subscriber; an anonymous one and a wrong password are refused. The health check logs in with the secret (a `$(...)`
in HealthCmd= that systemd must not expand). PostgreSQL is the real one; Home Assistant is the hl-web stand-in (no
Debian package). A re-deploy changes nothing; a changed config restarts the broker only.
"""
import os

from test_stack_events import ROOT, on_node, role_play, run_play

PASSWORD = 'it-mqtt-pa$$word%42'
INSTANCE = 'hlmqtt'
PLAYBOOK = role_play('pattern_service')
OVERRIDES = {
    'variables': {'mqtt_bind': '127.0.0.1'},
    'monitoring': {'health': {'path': '/health'}},
    'services': {
        'db': {'image': 'localhost/postgres:17', 'healthcheck': {'interval': '2s', 'start_period': '20s'}},
        'mqtt': {'image': 'localhost/mosquitto:2', 'healthcheck': {'interval': '2s'}},
        'homeassistant': {'image': 'localhost/hl-web:latest', 'environment': {'HL_WEB_PORT': '8123'},
                          'healthcheck': {'cmd': '/bin/hl-web health', 'interval': '2s', 'start_period': '5s'}},
    },
}


def run_pattern(inventory, **extra):
    variables = {
        'pattern_service_pattern': 'home-automation-stack', 'pattern_service_name': INSTANCE,
        'pattern_service_overrides': OVERRIDES, 'pattern_service_resource_limits': 'best_effort',
        'pattern_service_pull': 'never', 'pattern_service_secrets': {'mqtt-password': PASSWORD},
        'pattern_service_credentials_dir': os.path.join(ROOT, 'tests', 'output', 'mqtt-credentials'),
        'preflight_report_dir': os.path.join(ROOT, 'tests', 'output', 'mqtt-preflight'),
    }
    variables.update(extra)
    rc, stats, out = run_play(inventory, PLAYBOOK, variables)
    return rc, sum((stats.get('changed') or {}).values()), out


def mqtt(*argv):
    return on_node('podman', 'exec', INSTANCE + '-mqtt', *argv)


def publish(*login):
    return mqtt('mosquitto_pub', '-h', '127.0.0.1', '-t', 'hl/test', '-m', 'hello from %s' % (login[1] if login else 'anon'),
                *login)


def started():
    return on_node('systemctl', 'show', '-P', 'ActiveEnterTimestampMonotonic', INSTANCE + '-mqtt.service').stdout.strip()


def test_mosquitto_with_its_shipped_config_and_a_password_from_a_secret(inventory, traefik_on_node):
    try:
        rc, changed, out = run_pattern(inventory)
        assert rc == 0, out[-4000:]
        conf = on_node('cat', '/etc/homelab-deploy/services/%s/mqtt/mosquitto/config/mosquitto.conf' % INSTANCE).stdout
        assert 'allow_anonymous false' in conf and 'listener 1883' in conf
        unit = on_node('cat', '/etc/containers/systemd/%s-mqtt.container' % INSTANCE).stdout
        assert PASSWORD not in unit and PASSWORD.replace('$', '$$') not in unit, 'the secret is not in the unit'
        login = ('-u', 'homeassistant', '-P', PASSWORD)

        # a subscriber waiting for one message; an authenticated publish reaches it
        got = on_node('sh', '-c', "podman exec %s-mqtt mosquitto_sub -h 127.0.0.1 -u homeassistant -P '%s' -t hl/test "
                      "-C 1 -W 15 > /tmp/hlmqtt.sub & sleep 2; podman exec %s-mqtt mosquitto_pub -h 127.0.0.1 "
                      "-u homeassistant -P '%s' -t hl/test -m 'hello from homeassistant'; wait; cat /tmp/hlmqtt.sub"
                      % (INSTANCE, PASSWORD, INSTANCE, PASSWORD))
        assert got.stdout.strip().endswith('hello from homeassistant'), (got.stdout, got.stderr)
        assert publish(*login).returncode == 0

        anonymous = publish()
        assert anonymous.returncode != 0 and 'not authori' in (anonymous.stderr + anonymous.stdout).lower(), anonymous
        wrong = publish('-u', 'homeassistant', '-P', 'wrong')
        assert wrong.returncode != 0 and 'not authori' in (wrong.stderr + wrong.stdout).lower(), wrong
        assert on_node('podman', 'healthcheck', 'run', INSTANCE + '-mqtt').returncode == 0, \
            'the health check logs in with the secret'

        before = started()
        rc, changed, out = run_pattern(inventory)
        assert rc == 0 and changed == 0, 're-deploy changes nothing (%s)' % out[-3000:]
        assert started() == before

        # a changed config file restarts the broker, not the database or Home Assistant
        db_before = on_node('systemctl', 'show', '-P', 'ActiveEnterTimestampMonotonic', INSTANCE + '-db.service').stdout
        quiet = dict(OVERRIDES, services=dict(OVERRIDES['services'], mqtt=dict(OVERRIDES['services']['mqtt'], configs=[
            {'target': '/mosquitto/config/mosquitto.conf',
             'content': 'listener 1883\nallow_anonymous false\npassword_file /mosquitto/data/passwd\n'
                        'persistence true\npersistence_location /mosquitto/data/\nlog_dest stdout\nlog_type error\n'}])))
        rc, changed, out = run_pattern(inventory, pattern_service_overrides=quiet)
        assert rc == 0, out[-3000:]
        assert started() != before, 'the broker was restarted for its config'
        assert on_node('systemctl', 'show', '-P', 'ActiveEnterTimestampMonotonic',
                       INSTANCE + '-db.service').stdout == db_before, 'the database was not'
        assert 'log_type error' in on_node('cat', '/etc/homelab-deploy/services/%s/mqtt/mosquitto/config/mosquitto.conf'
                                           % INSTANCE).stdout
        assert publish(*login).returncode == 0 and publish().returncode != 0
    finally:
        run_pattern(inventory, pattern_service_state='absent', pattern_service_purge=True)
        on_node('rm', '-rf', '/etc/homelab-deploy/services/' + INSTANCE, '/tmp/hlmqtt.sub')

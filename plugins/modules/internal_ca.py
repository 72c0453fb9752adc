#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function
__metaclass__ = type

DOCUMENTATION = r'''
module: internal_ca
short_description: An internal CA on the host and a server certificate it signs, for LAN-only names
version_added: 0.1.0
description:
  - Makes a certificate authority on the host once (C(ca.key), C(ca.crt) in O(path); the key never leaves the host)
    and, signed by it, a server certificate for O(names) in O(path)C(/served) (EC P-256, with the names as
    subjectAltName). Clients that trust C(ca.crt) once trust every certificate it signs.
  - The M(homelab.deploy.traefik) role uses it for O(names) in C(traefik_internal_ca_names) and serves the
    certificate as Traefik's default certificate, so a LAN-only route with TLS and no ACME resolver (a stack
    route's C(tls=true), the catalog's C(security.tls=internal)) is served with it.
  - The certificate is issued again when the names change, when it or the CA expires within O(renew_days), or when
    the CA was made again; every issue has a new file name (RV(cert)), so a configuration that names it changes
    too (Traefik reloads its file provider then). Older served certificates are removed.
  - Uses the host's C(openssl) command (OpenSSL 3).
author:
  - homelab.deploy maintainers (@homelab)
extends_documentation_fragment:
  - homelab.deploy.attributes
attributes:
  check_mode:
    support: full
    details:
      - The files are read and judged; nothing is made or removed.
  diff_mode:
    support: full
    details:
      - The names and expiry of the served certificate before and after.
  idempotent:
    support: full
    details:
      - A served certificate for the same names, signed by the CA and valid beyond O(renew_days), is kept.
options:
  path:
    description: Directory of the CA (made 0700, owned by the connecting user) with the served certificates below it.
    type: path
    default: /etc/traefik/internal-ca
  names:
    description:
      - DNS names and IP addresses the served certificate is for. A wildcard needs two labels after it
        (C(*.home.arpa), not C(*.lan)), as clients do not accept it otherwise.
    type: list
    elements: str
    required: true
  ca_name:
    description: Common name of the CA, as clients show it.
    type: str
    default: homelab.deploy internal CA
  ca_days:
    description: Days the CA is valid.
    type: int
    default: 3650
  cert_days:
    description: Days a served certificate is valid (397 at most is what browsers accept).
    type: int
    default: 397
  renew_days:
    description: Issue again when the served certificate or the CA expires within this many days.
    type: int
    default: 30
seealso:
  - module: homelab.deploy.traefik_route
'''

EXAMPLES = r'''
- name: A certificate for the LAN's names, signed by the host's own CA
  homelab.deploy.internal_ca:
    names: ["*.home.arpa", home.arpa]
  register: internal

- name: Give the CA to the clients that should trust it
  ansible.builtin.fetch:
    src: "{{ internal.ca_cert }}"
    dest: "{{ playbook_dir }}/homelab-ca.crt"
    flat: true
'''

RETURN = r'''
ca_cert:
  description: Host path of the CA certificate, the file clients trust.
  returned: always
  type: str
  sample: /etc/traefik/internal-ca/ca.crt
cert:
  description: Host path of the served certificate (a new name at every issue; none in check mode before the first).
  returned: always
  type: str
  sample: /etc/traefik/internal-ca/served/default-20261203190512.crt
key:
  description: Host path of the served certificate's key (0600).
  returned: always
  type: str
  sample: /etc/traefik/internal-ca/served/default-20261203190512.key
names:
  description: The names of the served certificate.
  returned: always
  type: list
  elements: str
not_after:
  description: When the served certificate expires (openssl's notAfter text).
  returned: always
  type: str
issued:
  description: Why the certificate was issued in this run (empty when it was kept).
  returned: always
  type: str
  sample: the names changed
'''

import ipaddress
import os
import re
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_native

NAME_RE = re.compile(r'^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\Z')
SERVED_RE = re.compile(r'^default-(\d{14})\.crt\Z')
EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes']


def san_entries(names):
    """subjectAltName entries for the names (IP: for addresses, DNS: otherwise); ValueError naming a bad one."""
    out = []
    for name in names:
        try:
            out.append('IP:%s' % ipaddress.ip_address(name))
            continue
        except ValueError:
            pass
        if not isinstance(name, str) or len(name) > 253 or not NAME_RE.match(name):
            raise ValueError('names: %r is neither a DNS name (a leading *. allowed) nor an IP address' % (name,))
        if name.startswith('*.') and name.count('.') < 2:
            raise ValueError('names: %r: a wildcard needs two labels after it (*.home.arpa, not *.lan), or clients '
                             'do not accept it' % (name,))
        out.append('DNS:%s' % name.lower())
    if not out:
        raise ValueError('names: at least one name is needed')
    return sorted(set(out))


def parse_sans(text):
    """The subjectAltName entries openssl x509 -ext subjectAltName prints, as san_entries writes them."""
    body = ' '.join(line.strip() for line in text.splitlines()[1:])
    out = []
    for item in body.split(','):
        item = item.strip()
        if item.startswith('DNS:'):
            out.append('DNS:' + item[4:].lower())
        elif item.startswith('IP Address:'):
            out.append('IP:%s' % ipaddress.ip_address(item[len('IP Address:'):]))
    return sorted(set(out))


class Ca(object):
    def __init__(self, module):
        self.module = module
        params = module.params
        self.path = params['path']
        self.served = os.path.join(self.path, 'served')
        self.ca_key, self.ca_cert = os.path.join(self.path, 'ca.key'), os.path.join(self.path, 'ca.crt')
        self.renew_seconds = str(params['renew_days'] * 86400)

    def openssl(self, *args, **kwargs):
        rc, out, err = self.module.run_command(['openssl'] + list(args))
        if rc != 0 and not kwargs.get('check_only'):
            self.module.fail_json(msg='openssl %s failed: %s' % (args[0], (err or out).strip()))
        return rc, out

    def valid(self, cert):
        """The certificate exists and does not expire within renew_days."""
        return os.path.exists(cert) and self.openssl('x509', '-noout', '-checkend', self.renew_seconds, '-in', cert,
                                                     check_only=True)[0] == 0

    def current(self):
        """Path of the newest served certificate, or None."""
        found = sorted(name for name in os.listdir(self.served) if SERVED_RE.match(name)) if os.path.isdir(self.served) else []
        return os.path.join(self.served, found[-1]) if found else None

    def sans(self, cert):
        """The subjectAltName entries of a certificate ([] for none)."""
        return parse_sans(self.openssl('x509', '-noout', '-ext', 'subjectAltName', '-in', cert)[1]) if cert else []

    def why_issue(self, cert, current_sans, sans, ca_new):
        if ca_new:
            return 'the CA was made'
        if cert is None:
            return 'there was none'
        if not os.path.exists(cert[:-4] + '.key'):
            return 'its key is missing'
        if current_sans != sans:
            return 'the names changed'
        if not self.valid(cert):
            return 'it expires within %d days' % self.module.params['renew_days']
        if self.openssl('verify', '-CAfile', self.ca_cert, cert, check_only=True)[0] != 0:
            return 'the CA does not sign it'
        return ''

    def make_ca(self):
        os.makedirs(self.path, mode=0o700, exist_ok=True)
        os.chmod(self.path, 0o700)
        tmp_key, tmp_cert = self.ca_key + '.new', self.ca_cert + '.new'
        argv = ['req', '-x509'] + EC + [
            '-days', str(self.module.params['ca_days']), '-keyout', tmp_key, '-out', tmp_cert,
            '-subj', '/CN=%s' % self.module.params['ca_name'],
            '-addext', 'basicConstraints=critical,CA:TRUE,pathlen:0', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']
        self.openssl(*argv)
        os.chmod(tmp_key, 0o600)
        os.rename(tmp_key, self.ca_key)
        os.rename(tmp_cert, self.ca_cert)

    def issue(self, sans, names):
        os.makedirs(self.served, mode=0o700, exist_ok=True)
        stamp = time.strftime('%Y%m%d%H%M%S', time.gmtime())
        base = os.path.join(self.served, 'default-%s' % stamp)
        while os.path.exists(base + '.crt'):  # two issues in one second
            time.sleep(1)
            base = os.path.join(self.served, 'default-%s' % time.strftime('%Y%m%d%H%M%S', time.gmtime()))
        argv = ['req', '-x509'] + EC + [
            '-days', str(self.module.params['cert_days']), '-CA', self.ca_cert, '-CAkey', self.ca_key,
            '-keyout', base + '.key.new', '-out', base + '.crt.new', '-subj', '/CN=%s' % names[0],
            '-addext', 'subjectAltName=' + ','.join(sans), '-addext', 'basicConstraints=critical,CA:FALSE',
            '-addext', 'keyUsage=critical,digitalSignature', '-addext', 'extendedKeyUsage=serverAuth']
        self.openssl(*argv)
        os.chmod(base + '.key.new', 0o600)
        os.rename(base + '.key.new', base + '.key')
        os.rename(base + '.crt.new', base + '.crt')
        for name in os.listdir(self.served):  # the ones served before
            if not name.startswith(os.path.basename(base) + '.'):
                os.unlink(os.path.join(self.served, name))
        return base + '.crt'

    def not_after(self, cert):
        if not cert or not os.path.exists(cert):
            return ''
        return self.openssl('x509', '-noout', '-enddate', '-in', cert)[1].strip().split('=', 1)[-1]


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type='path', default='/etc/traefik/internal-ca'),
            names=dict(type='list', elements='str', required=True),
            ca_name=dict(type='str', default='homelab.deploy internal CA'),
            ca_days=dict(type='int', default=3650),
            cert_days=dict(type='int', default=397),
            renew_days=dict(type='int', default=30),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        sans = san_entries(params['names'])
    except ValueError as exc:
        module.fail_json(msg=to_native(exc))
    if params['renew_days'] < 0 or params['cert_days'] <= params['renew_days'] or params['ca_days'] <= params['renew_days']:
        module.fail_json(msg='cert_days and ca_days must be longer than renew_days (%d)' % params['renew_days'])
    if module.get_bin_path('openssl') is None:
        module.fail_json(msg='internal_ca needs the openssl command on the host (Debian: apt install openssl)')
    ca = Ca(module)
    ca_new = not (os.path.exists(ca.ca_key) and ca.valid(ca.ca_cert))
    cert = ca.current()
    before = {'names': ca.sans(cert), 'not_after': ca.not_after(cert)}
    why = ca.why_issue(cert, before['names'], sans, ca_new)
    if why and not module.check_mode:
        if ca_new:
            ca.make_ca()
        cert = ca.issue(sans, params['names'])
    after = {'names': sans, 'not_after': ca.not_after(cert) if not (why and module.check_mode) else '(issued at apply)'}
    result = {'changed': bool(why), 'ca_cert': ca.ca_cert, 'cert': cert, 'key': cert[:-4] + '.key' if cert else None,
              'names': sans, 'not_after': after['not_after'], 'issued': why}
    if module._diff:
        result['diff'] = {'before': before, 'after': after}
    module.exit_json(**result)


if __name__ == '__main__':
    main()

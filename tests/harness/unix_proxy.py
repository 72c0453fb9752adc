# -*- coding: utf-8 -*-
# Copyright: homelab.deploy contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ssh ProxyCommand: join stdin/stdout to the node's sshd unix socket (the host may lack nc/socat)."""
import os
import socket
import sys
import threading


def main(path):
    sock = socket.socket(socket.AF_UNIX)
    sock.connect(path)

    def upstream():
        while True:
            data = os.read(0, 65536)
            if not data:
                break
            sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)

    threading.Thread(target=upstream, daemon=True).start()
    while True:
        data = sock.recv(65536)
        if not data:
            break
        os.write(1, data)


if __name__ == '__main__':
    main(sys.argv[1])

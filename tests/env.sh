# shellcheck shell=bash
# Sourced by the Makefile's recipes and tests/run: one place that sets up the toolchain.
#  - a virtualenv with the pinned toolchain (requirements-dev.txt), reinstalled when the pins change
#  - the host packages the node harness needs (debootstrap, systemd-nspawn)
#  - the collection importable as homelab.deploy from this checkout
HL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HL_VENV=${HL_VENV:-$HL_ROOT/.venv}
HL_PYTHON=${HL_PYTHON:-python3}

hl_venv() {
    if [ ! -x "$HL_VENV/bin/python" ] || ! cmp -s "$HL_ROOT/requirements-dev.txt" "$HL_VENV/.requirements-dev.txt"; then
        echo "[env] installing the pinned toolchain into $HL_VENV"
        "$HL_PYTHON" -m venv "$HL_VENV"
        "$HL_VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$HL_ROOT/requirements-dev.txt"
        cp "$HL_ROOT/requirements-dev.txt" "$HL_VENV/.requirements-dev.txt"
    fi
}

hl_host_deps() {
    if ! command -v debootstrap >/dev/null || ! command -v systemd-nspawn >/dev/null; then
        echo "[env] installing host packages: debootstrap systemd-container"
        apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            debootstrap systemd-container >/dev/null
    fi
}

hl_collection_link() {
    local dir=$HL_ROOT/tests/output/collections/ansible_collections/homelab
    mkdir -p "$dir"
    [ -L "$dir/deploy" ] || ln -sfn "$HL_ROOT" "$dir/deploy"
}

hl_env() {
    hl_venv
    hl_host_deps
    hl_collection_link
    export PATH=$HL_VENV/bin:$PATH
    export ANSIBLE_COLLECTIONS_PATH=$HL_ROOT/tests/output/collections
    export ANSIBLE_HOST_KEY_CHECKING=False
    export ANSIBLE_NOCOLOR=${ANSIBLE_NOCOLOR:-1}
    export HLNODE="$HL_VENV/bin/python $HL_ROOT/tests/harness/hlnode"
}

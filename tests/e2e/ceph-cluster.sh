#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# ceph-cluster.sh: a throw-away one-OSD Ceph cluster on loopback, for the
# rbd tests.  No cephadm, containers or systemd: one ceph-mon and one
# ceph-osd (bluestore on a sparse file), both run from here, everything
# (conf, keys, data, pid files, logs, admin sockets) under DIR.
#
#   ceph-cluster.sh start DIR [IMAGE_SIZE_MB]
#       start the cluster, create pool "hc" and image "hc/disk" (default
#       64 MiB) and print, one per line, CEPH_CONF=..., CEPH_POOL=...,
#       CEPH_IMAGE=...  (eval-able).  A cluster left in DIR by an earlier
#       run (a crash) is stopped and removed first.
#   ceph-cluster.sh stop DIR
#       kill every daemon started in DIR, by the PIDs it recorded, and
#       remove DIR.  Fine to run twice, or on a DIR that never existed.
#   ceph-cluster.sh osd-stop DIR / osd-start DIR
#       stop (SIGTERM, wait) and restart the OSD, for fault tests.
#
# The monitor listens on 127.0.0.1 at a port picked free at start.
set -euo pipefail

CEPH_WAIT=${CEPH_WAIT:-120}     # seconds any one condition may take

die() { echo "ceph-cluster.sh: $*" >&2; exit 1; }
log() { echo "ceph-cluster.sh: $*" >&2; }

cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
    die "usage: $0 start|stop|osd-stop|osd-start DIR"
fi

# Pid files: ceph daemons write their own (pid_file in the conf); ours
# are written at spawn so that a daemon dying before it writes one is
# still found.
kill_pidfile() { # FILE: SIGTERM, then SIGKILL after 10 s
    local f=$1 pid _
    [ -f "$f" ] || return 0
    pid=$(cat "$f" 2>/dev/null || true)
    rm -f "$f"
    case "$pid" in '' | *[!0-9]*) return 0 ;; esac
    # Only a ceph daemon of this DIR: the pid may have been reused.
    grep -qF "$dir" "/proc/$pid/cmdline" 2>/dev/null || return 0
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    log "pid $pid did not die"
}

stop() {
    [ -d "$dir" ] || return 0
    dir=$(cd "$dir" && pwd)
    [ -f "$dir/ceph.conf" ] || [ -d "$dir/run" ] ||
        die "$dir does not look like a cluster made by this script; not removing it"
    kill_pidfile "$dir/run/osd.0.spawn.pid"
    kill_pidfile "$dir/run/mon.a.spawn.pid"
    rm -rf "$dir"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for WHAT CMD...: until CMD succeeds, at most CEPH_WAIT seconds.
wait_for() {
    local what=$1 t0=$SECONDS
    shift
    until "$@" > /dev/null 2>&1; do
        [ $((SECONDS - t0)) -lt "$CEPH_WAIT" ] ||
            die "$what did not happen within ${CEPH_WAIT}s (logs in $dir/log)"
        sleep 0.5
    done
}

ceph_() { ceph --conf "$dir/ceph.conf" --connect-timeout 10 "$@"; }

osd_up() { ceph_ osd dump | grep -q '^osd.0 up '; }

spawn() { # NAME CMD...: start a daemon in the foreground mode, in the background
    local name=$1
    shift
    "$@" -f > "$dir/log/$name.stdout" 2>&1 &
    echo $! > "$dir/run/$name.spawn.pid"
}

start_osd() {
    spawn osd.0 ceph-osd --conf "$dir/ceph.conf" --id 0
    wait_for "osd.0 up" osd_up
}

start() {
    local size=${1:-64} port fsid osd_uuid
    local p
    for p in ceph-mon ceph-osd ceph-authtool monmaptool ceph rbd; do
        command -v "$p" > /dev/null ||
            die "$p is missing; ./configure-qemu.sh build installs it (ceph-mon ceph-osd ceph-common)"
    done
    stop
    mkdir -p "$dir"/{mon,osd,run,log}
    dir=$(cd "$dir" && pwd)
    port=$(free_port)
    fsid=$(cat /proc/sys/kernel/random/uuid)
    cat > "$dir/ceph.conf" <<CONF
[global]
fsid = $fsid
mon_host = v1:127.0.0.1:$port
public_network = 127.0.0.1/32
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
run_dir = $dir/run
pid_file = $dir/run/\$name.pid
admin_socket = $dir/run/\$name.asok
log_file = $dir/log/\$name.log
ms_bind_ipv4 = true
ms_bind_ipv6 = false
osd_pool_default_size = 1
osd_pool_default_min_size = 1
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
mon_allow_pool_size_one = true
mon_allow_pool_delete = true
osd_crush_chooseleaf_type = 0
mon_warn_on_pool_no_redundancy = false
mon_data_avail_warn = 2
mon_data_avail_crit = 1
[mon]
mon_data = $dir/mon/\$cluster-\$id
[osd]
osd_data = $dir/osd/\$cluster-\$id
osd_objectstore = bluestore
bluestore_block_path = $dir/osd-block
bluestore_block_size = 2147483648
bluestore_block_create = true
osd_memory_target = 939524096
bluestore_cache_autotune = false
bluestore_cache_size = 134217728
osd_heartbeat_grace = 20
[client]
keyring = $dir/keyring
# Layering only: with exclusive-lock, a client killed by a crash test
# holds the lock until its watch times out (30 s), and the next opener
# waits that long.
rbd_default_features = 1
CONF
    # Keys: the monitor's own, and client.admin with every capability.
    ceph-authtool --create-keyring "$dir/mon.keyring" --gen-key -n mon. \
        --cap mon 'allow *' > /dev/null
    ceph-authtool --create-keyring "$dir/keyring" --gen-key -n client.admin \
        --cap mon 'allow *' --cap osd 'allow *' --cap mgr 'allow *' \
        --cap mds 'allow *' > /dev/null
    ceph-authtool "$dir/mon.keyring" --import-keyring "$dir/keyring" > /dev/null
    monmaptool --create --fsid "$fsid" --addv a "[v1:127.0.0.1:$port]" \
        "$dir/monmap" > /dev/null
    mkdir -p "$dir/mon/ceph-a"
    ceph-mon --conf "$dir/ceph.conf" --mkfs -i a --monmap "$dir/monmap" \
        --keyring "$dir/mon.keyring" > "$dir/log/mon.mkfs.log" 2>&1 ||
        die "ceph-mon --mkfs failed: $(tail -n 5 "$dir/log/mon.mkfs.log")"
    spawn mon.a ceph-mon --conf "$dir/ceph.conf" -i a
    wait_for "monitor quorum" ceph_ mon stat

    # The OSD: registered, then its store made; its key is imported.
    osd_uuid=$(cat /proc/sys/kernel/random/uuid)
    mkdir -p "$dir/osd/ceph-0"
    [ "$(ceph_ osd new "$osd_uuid")" = 0 ] || die "ceph osd new did not return id 0"
    ceph-osd --conf "$dir/ceph.conf" --id 0 --mkfs --mkkey --no-mon-config \
        --osd-uuid "$osd_uuid" > "$dir/log/osd.mkfs.log" 2>&1 ||
        die "ceph-osd --mkfs failed: $(tail -n 5 "$dir/log/osd.mkfs.log")"
    ceph_ auth add osd.0 osd 'allow *' mon 'allow profile osd' \
        -i "$dir/osd/ceph-0/keyring" > /dev/null 2>&1 ||
        die "ceph auth add osd.0 failed"
    start_osd

    ceph_ osd pool create hc 8 8 > /dev/null 2>&1 || die "pool create failed"
    ceph_ osd pool set hc size 1 --yes-i-really-mean-it > /dev/null 2>&1 || true
    rbd --conf "$dir/ceph.conf" pool init hc || die "rbd pool init failed"
    rbd --conf "$dir/ceph.conf" create --size "$size" hc/disk ||
        die "rbd create failed"
    echo "CEPH_CONF=$dir/ceph.conf"
    echo "CEPH_POOL=hc"
    echo "CEPH_IMAGE=disk"
}

case "$cmd" in
start) shift 2; start "$@" ;;
stop) stop ;;
osd-stop) dir=$(cd "$dir" && pwd); kill_pidfile "$dir/run/osd.0.spawn.pid" ;;
osd-start) dir=$(cd "$dir" && pwd); start_osd ;;
*) die "unknown command $cmd (start, stop, osd-stop, osd-start)" ;;
esac

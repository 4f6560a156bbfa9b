# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# private-libvirtd.sh: a private libvirtd for tests (sourced, not run).
#
# A root libvirtd keeps its state in fixed places (/etc/libvirt,
# /run/libvirt, /var/lib/libvirt, /var/cache/libvirt, /var/log/libvirt),
# and Debian's QEMU driver refuses to start unless the user libvirt-qemu
# exists, even when qemu.conf says user="root".  Inside a private mount
# namespace (unshare --mount --propagation private) these functions
# bind-mount the caller's folders over those paths and copies of
# /etc/passwd and /etc/group that name libvirt-qemu, so the daemon, its
# socket, its domains and its logs belong to the test alone; nothing of
# the host's changes, and a libvirtd the host already runs is not touched.
#
#   lv_private_dirs STATE  bind-mount STATE/{etc,run,lib,cache,log} and the
#                          user files (call inside the namespace)
#   lv_start STATE         write the configs and start libvirtd; wait for
#                          its socket and QEMU driver (LV_START_TIMEOUT,
#                          60 s each)
#   lv_stop                stop libvirtd and any QEMU it left behind
#   lv_virsh ARGS...       virsh on the private daemon, 60 s limit
#
# No systemd, D-Bus, virtlogd, polkit, dnsmasq or cgroup controllers are
# needed: see libvirtd.conf and qemu.conf next to this file.

LV_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LV_PAIRS=(etc:/etc/libvirt run:/run/libvirt lib:/var/lib/libvirt
    cache:/var/cache/libvirt log:/var/log/libvirt)
LV_URI=qemu:///system
LV_PID=

# The mount points themselves must exist on the host (mkdir is not
# namespaced); prints the ones it had to create, for lv_remove_mountpoints.
lv_make_mountpoints() {
    local p
    for p in "${LV_PAIRS[@]}"; do
        if [ ! -d "${p#*:}" ]; then
            mkdir -p "${p#*:}"
            echo "${p#*:}"
        fi
    done
}

lv_remove_mountpoints() { # the list lv_make_mountpoints printed
    local d
    for d in "$@"; do rmdir "$d" 2>/dev/null || true; done
}

lv_private_dirs() {
    local state=$1 p
    for p in "${LV_PAIRS[@]}"; do
        mkdir -p "$state/${p%%:*}"
        mount --bind "$state/${p%%:*}" "${p#*:}"
    done
    cp /etc/passwd "$state/passwd"
    cp /etc/group "$state/group"
    getent passwd libvirt-qemu > /dev/null ||
        echo 'libvirt-qemu:x:64055:64055:Libvirt Qemu:/nonexistent:/usr/sbin/nologin' >> "$state/passwd"
    getent group libvirt-qemu > /dev/null || echo 'libvirt-qemu:x:64055:' >> "$state/group"
    getent group kvm > /dev/null || echo 'kvm:x:64056:' >> "$state/group"
    mount --bind "$state/passwd" /etc/passwd
    mount --bind "$state/group" /etc/group
}

lv_virsh() { timeout -k 5 60 virsh -q -c "$LV_URI" "$@"; }

lv_start() {
    local state=$1
    cp "$LV_DIR/libvirtd.conf" "$LV_DIR/qemu.conf" /etc/libvirt/
    libvirtd -f /etc/libvirt/libvirtd.conf -p /run/libvirt/libvirtd.pid \
        > "$state/libvirtd.out" 2>&1 &
    LV_PID=$!
    # Generous limits: on a loaded machine libvirtd takes its time.
    local t0=$SECONDS limit=${LV_START_TIMEOUT:-60}
    while ! [ -S /run/libvirt/libvirt-sock ] && kill -0 "$LV_PID" 2>/dev/null &&
        [ $((SECONDS - t0)) -lt "$limit" ]; do
        sleep 0.1
    done
    if ! kill -0 "$LV_PID" 2>/dev/null || ! [ -S /run/libvirt/libvirt-sock ]; then
        echo "libvirtd did not start (or made no socket within ${limit}s); its output and log:" >&2
        cat "$state/libvirtd.out" /var/log/libvirt/libvirtd.log >&2 2>/dev/null || true
        return 1
    fi
    # The socket appears before the drivers are up; wait for the QEMU driver.
    t0=$SECONDS
    while [ $((SECONDS - t0)) -lt "$limit" ]; do
        lv_virsh uri > /dev/null 2>&1 && return 0
        sleep 0.2
    done
    echo "libvirtd's QEMU driver did not come up within ${limit}s:" >&2
    cat /var/log/libvirt/libvirtd.log >&2 2>/dev/null || true
    return 1
}

lv_stop() {
    local f pid
    if [ -n "$LV_PID" ] && kill -0 "$LV_PID" 2>/dev/null; then
        kill "$LV_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$LV_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$LV_PID" 2>/dev/null || true
        wait "$LV_PID" 2>/dev/null || true
    fi
    LV_PID=
    # A QEMU whose domain was not destroyed outlives libvirtd: end it by the
    # pid libvirt recorded.
    for f in /run/libvirt/qemu/*.pid; do
        [ -f "$f" ] || continue
        pid=$(cat "$f" 2>/dev/null || true)
        case "$pid" in '' | *[!0-9]*) continue ;; esac
        kill "$pid" 2>/dev/null || true
    done
}

#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck source-path=SCRIPTDIR
#
# test-libvirt.sh: libvirt runs the domain of docs/libvirt-domain.xml with
# our qemu-system-x86_64 and a hypercache disk, and virsh manages the cache.
#
#   tests/e2e/test-libvirt.sh        (as root)
#
# 1. Installs Debian's libvirt daemon, QEMU driver and clients if missing
#    (apt-get install --no-install-recommends; not libvirt-daemon-system,
#    which pulls in systemd, nor Debian's qemu-system-x86).
# 2. virt-xml-validate: docs/libvirt-domain.xml as written, and the copy
#    this test starts: its <emulator> and image replaced by ours, the e2e
#    Linux guest (build-guest.sh) as <kernel>/<initrd> instead of <boot>,
#    the serial console into a file, and max-dirty-age=0 so dirty data
#    waits for the flush under test.
# 3. In a private mount namespace, starts its own libvirtd (no systemd
#    needed; see libvirt/private-libvirtd.sh), defines and starts the
#    domain under TCG.  The guest writes two 64 KiB patterns to /dev/vda
#    with O_DIRECT and no flush, then idles.
# 4. Through virsh qemu-monitor-command: x-hypercache-query (configuration;
#    the guest's I/O in the statistics; its writes dirty in WB and not on
#    the image yet), x-hypercache-reset-stats, query-blockstats's
#    hypercache statistics, HMP info hypercache, x-hypercache-flush (dirty
#    bytes go to 0, the data is on the image), reads back through the
#    guest's device with HMP qemu-io, and an unknown node's error.
# 5. Destroys and undefines the domain.
# 6. docs/libvirt-vdi.xml, a VM whose disk is a vhost-user-blk export of
#    qemu-storage-daemon: validated as written and as started (emulator,
#    socket, kernel/initrd and serial log substituted); a daemon with a
#    hypercache-pool, a base behind hcbase and an overlay behind hc1 (the
#    VDI shape of docs/system/hypercache.rst) serves it.  The guest md5s
#    the base's first 4 MiB (the host knows the md5) and writes a 64 KiB
#    pattern; the daemon's x-hypercache-query shows the reads in hcbase
#    and the write in hc1; after destroy and the daemon's quit the pattern
#    is in the overlay.  Then libvirtd is stopped.
# Prints PASS or FAIL; exit 0 on pass, 1 on failure (including "libvirt
# cannot run here", with the reason), 77 when QEMU has no hypercache driver.
# HC_KEEP=1 keeps the run folder (libvirt and QEMU logs, serial log).
set -euo pipefail

HC_LOG_TAG=libvirt
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=libvirt/private-libvirtd.sh
. "$HC_E2E_DIR/libvirt/private-libvirtd.sh"

DOM=hypercache-demo
DOC_XML=$HC_TOP/docs/libvirt-domain.xml
# The paths and options docs/libvirt-domain.xml is written with.
DOC_EMULATOR=/root/.cache/hypercache/qemu-10.0.13/build/qemu-system-x86_64
DOC_IMAGE=/var/lib/libvirt/images/hypercache-demo.raw
DOC_HC_OPTS=driver=hypercache,node-name=hc0,file=disk0,size=256M
VDI_DOM=hypercache-vdi-vm1
VDI_XML=$HC_TOP/docs/libvirt-vdi.xml
DOC_VDI_SOCK=/run/vdi/vm1.sock
PKGS=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients libxml2-utils)
IMG_MIB=64
GUEST_TIMEOUT=${HC_BOOT_TIMEOUT:-300}
fail_now() { echo "FAIL: $*"; exit 1; }

# ---- inside the private mount namespace ------------------------------------

qmp() { lv_virsh qemu-monitor-command "$DOM" "$1"; }
hmp() { lv_virsh qemu-monitor-command --hmp "$DOM" "$1"; }

# jget JSON EXPR: evaluate a Python expression over the reply `r`.
jget() {
    python3 -c 'import json, sys; r = json.loads(sys.argv[1]); print(eval(sys.argv[2]))' "$1" "$2"
}

query() { qmp '{"execute":"x-hypercache-query","arguments":{"node-name":"hc0"}}'; }
st() { jget "$1" "r['return'][0]['stats']['$2']"; } # REPLY NAME

# img_is OFFSET LENGTH BYTE: the image holds BYTE over the range.
img_is() {
    python3 - "$IMG" "$1" "$2" "$3" << 'EOF'
import sys
path, off, length, byte = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4], 0)
with open(path, 'rb') as f:
    f.seek(off)
    data = f.read(length)
sys.exit(0 if data == bytes([byte]) * length else 1)
EOF
}

serial_has() { tr -d '\r' < "$1" 2>/dev/null | grep -q "$2"; }

inside_cleanup() {
    local d
    if [ -n "$LV_PID" ]; then
        for d in "$DOM" "$VDI_DOM"; do
            lv_virsh destroy "$d" > /dev/null 2>&1 || true
            lv_virsh undefine "$d" > /dev/null 2>&1 || true
        done
    fi
    lv_stop
    if [ -n "$HC_QSD_PID" ]; then
        kill "$HC_QSD_PID" 2>/dev/null || true
        wait "$HC_QSD_PID" 2>/dev/null || true
    fi
}

# hstat REPLY NODE STAT: a statistic of NODE in an x-hypercache-query reply.
hstat() { jget "$1" "[n['stats']['$3'] for n in r if n['node-name'] == '$2'][0]"; }

# docs/libvirt-vdi.xml: the domain's disk is a vhost-user-blk export of a
# qemu-storage-daemon started here, in the VDI shape (a pool, the base
# behind hcbase, the overlay's file behind hc1).
inside_vdi() {
    local run=$1 t0 r reads0 base_md5 got
    local qsd_qmp=$run/qsd.qmp
    local serial=$run/vdi-serial.log qlog=/var/log/libvirt/qemu/$VDI_DOM.log
    local off=$((1 << 20)) wlen=$((64 << 10))
    # hc_qsd_start keeps its files in HC_RUN_DIR.
    HC_RUN_DIR=$run
    hc_qsd_start qsd --object hypercache-pool,id=p0,size=32M \
        --blockdev "driver=file,node-name=base-file,filename=$run/base.raw,read-only=on,cache.direct=on" \
        --blockdev driver=hypercache,node-name=hcbase,file=base-file,pool=p0,read-only=on \
        --blockdev "driver=file,node-name=ov1-file,filename=$run/ov1.qcow2,cache.direct=on" \
        --blockdev driver=hypercache,node-name=hc1,file=ov1-file,pool=p0,max-dirty-age=0 \
        --blockdev driver=qcow2,node-name=ov1,file=hc1,backing=hcbase \
        --export "type=vhost-user-blk,id=vu1,node-name=ov1,addr.type=unix,addr.path=$run/vm1.sock,writable=on" ||
        fail_now "qemu-storage-daemon did not start (above)"
    hc_log "qemu-storage-daemon serves $run/vm1.sock (pool p0: hcbase, hc1)"
    r=$(hc_qmp "$qsd_qmp" x-hypercache-query)
    reads0=$(hstat "$r" hcbase read-requests)

    if ! lv_virsh define "$run/vdi.xml" > /dev/null; then
        tail -n 20 /var/log/libvirt/libvirtd.log >&2 2>/dev/null || true
        fail_now "virsh define of the VDI domain failed (libvirtd log above)"
    fi
    t0=$SECONDS
    if ! lv_virsh start "$VDI_DOM" > /dev/null; then
        tail -n 30 /var/log/libvirt/libvirtd.log "$qlog" 2>/dev/null || true
        fail_now "virsh start $VDI_DOM failed: QEMU could not use the vhost-user socket or the memfd memory (logs above)"
    fi
    hc_log "$VDI_DOM started in $((SECONDS - t0))s: $(lv_virsh domstate "$VDI_DOM")"
    # What libvirt made of the XML: its own vhost-user disk, no passthrough.
    grep -q 'vhost-user-blk-pci' "$qlog" || fail "no vhost-user-blk-pci in QEMU's command line ($qlog)"
    grep -q 'memory-backend-memfd' "$qlog" || fail "no memory-backend-memfd in QEMU's command line ($qlog)"
    if grep -q 'custom-argv' "$qlog"; then fail "the VDI domain is tainted custom-argv: it should need no passthrough"; fi

    until serial_has "$serial" '^HC-WROTE'; do
        if [ $((SECONDS - t0)) -ge "$GUEST_TIMEOUT" ] || serial_has "$serial" '^===HC-RESULT-END'; then
            tr -d '\r' < "$serial" 2>/dev/null | tail -n 20 >&2 || true
            fail_now "the VDI guest did not write within ${GUEST_TIMEOUT}s (serial log above)"
        fi
        sleep 0.5
    done
    base_md5=$(head -c $((4 << 20)) "$run/base.raw" | md5sum | cut -d' ' -f1)
    got=$(tr -d '\r' < "$serial" | sed -n 's/^HC-BASE-MD5 //p' | tail -n 1)
    hc_log "VDI guest read the base (md5 $got) and wrote 64 KiB $((SECONDS - t0))s after start"
    [ "$got" = "$base_md5" ] || fail "the VDI guest read md5 '$got' from the base's first 4 MiB; the host has $base_md5"

    # The guest's I/O went through the daemon's hypercache nodes.
    r=$(hc_qmp "$qsd_qmp" x-hypercache-query)
    got=$(hstat "$r" hcbase read-requests)
    hc_log "daemon: hcbase read requests $reads0 -> $got; hc1 $(hstat "$r" hc1 write-requests) writes, $(hstat "$r" hc1 dirty-bytes) bytes dirty"
    [ "$got" -gt "$reads0" ] || fail "hcbase's read requests did not increase ($reads0 -> $got): the guest's reads did not reach the daemon's base cache"
    [ "$(hstat "$r" hc1 write-requests)" -ge 1 ] ||
        fail "hc1 saw no write: the guest's write did not reach the daemon's overlay cache"
    [ "$(hstat "$r" hc1 dirty-bytes)" -ge "$wlen" ] ||
        fail "hc1 holds less than the guest's $wlen bytes dirty: $r"
    r=$(hc_qmp "$qsd_qmp" query-block-exports)
    [ "$(jget "$r" "[e['type'] for e in r if e['id'] == 'vu1']")" = "['vhost-user-blk']" ] ||
        fail "query-block-exports does not list vu1 as vhost-user-blk: $r"

    lv_virsh destroy "$VDI_DOM" > /dev/null || fail "virsh destroy $VDI_DOM failed"
    lv_virsh undefine "$VDI_DOM" > /dev/null || fail "virsh undefine $VDI_DOM failed"
    # The daemon outlives its VMs; its quit writes hc1's dirty data back.
    hc_qmp "$qsd_qmp" quit > /dev/null || fail "quit: the daemon did not answer"
    t0=$SECONDS
    while kill -0 "$HC_QSD_PID" 2>/dev/null && [ $((SECONDS - t0)) -lt 60 ]; do sleep 0.2; done
    if kill -0 "$HC_QSD_PID" 2>/dev/null; then
        fail "qemu-storage-daemon did not exit within 60 s of quit"
    else
        wait "$HC_QSD_PID" || fail "qemu-storage-daemon exited $?: $(tail -n 5 "$run/qsd.log")"
        HC_QSD_PID=
    fi
    if ! "$QEMU_IO" -r -f qcow2 -c "read -P 0x5a $off $wlen" "$run/ov1.qcow2" > "$run/vdi-check.log" 2>&1 ||
        grep -q 'Pattern verification failed' "$run/vdi-check.log"; then
        fail "the overlay lacks the VDI guest's 64 KiB of 0x5a at $off: $(cat "$run/vdi-check.log")"
    fi
    "$QEMU_IMG" check -q "$run/ov1.qcow2" > "$run/vdi-check.log" 2>&1 ||
        fail "qemu-img check of the overlay: $(cat "$run/vdi-check.log")"
    hc_log "after the daemon's quit: the guest's write is in the overlay, qemu-img check clean"
}

inside() {
    local run=$1 t0 r dev=/machine/peripheral/vda/virtio-backend
    local w1=$((1 << 20)) w2=$(((1 << 20) + (64 << 10))) wlen=$((64 << 10))
    local qlog=/var/log/libvirt/qemu/$DOM.log serial=$run/serial.log
    IMG=$run/disk.raw
    trap inside_cleanup EXIT

    lv_private_dirs "$run/libvirt"
    t0=$SECONDS
    lv_start "$run/libvirt" || fail_now "libvirtd could not start (log above)"
    hc_log "libvirtd $(libvirtd --version | awk '{print $NF}') up in $((SECONDS - t0))s (private namespace)"

    if ! lv_virsh define "$run/domain.xml" > /dev/null; then
        tail -n 20 /var/log/libvirt/libvirtd.log >&2 2>/dev/null || true
        fail_now "virsh define failed: libvirt rejected the XML or could not probe $QEMU_SYSTEM (its -qmp capability probe; libvirtd log above)"
    fi
    t0=$SECONDS
    if ! lv_virsh start "$DOM" > /dev/null; then
        tail -n 30 /var/log/libvirt/libvirtd.log "$qlog" 2>/dev/null || true
        fail_now "virsh start failed: libvirt did not accept or could not run $QEMU_SYSTEM (logs above)"
    fi
    hc_log "domain started in $((SECONDS - t0))s: $(lv_virsh domstate "$DOM")"
    grep -q -- "-blockdev driver=hypercache" "$qlog" ||
        fail "QEMU's command line in $qlog has no hypercache -blockdev"

    # The guest writes, then idles.
    until serial_has "$serial" '^HC-WROTE'; do
        if [ $((SECONDS - t0)) -ge "$GUEST_TIMEOUT" ] || serial_has "$serial" '^===HC-RESULT-END'; then
            tr -d '\r' < "$serial" 2>/dev/null | tail -n 20 >&2 || true
            fail_now "the guest did not write within ${GUEST_TIMEOUT}s (serial log above)"
        fi
        sleep 0.5
    done
    hc_log "guest wrote its patterns $((SECONDS - t0))s after start"

    # Configuration and statistics, from all hypercache nodes (no argument).
    r=$(qmp '{"execute":"x-hypercache-query"}')
    [ "$(jget "$r" "len(r['return'])")" = 1 ] || fail "x-hypercache-query: want one node: $r"
    [ "$(jget "$r" "r['return'][0]['node-name']")" = hc0 ] || fail "x-hypercache-query: node is not hc0: $r"
    [ "$(jget "$r" "r['return'][0]['config']['size']")" = $((256 << 20)) ] ||
        fail "x-hypercache-query: config.size is not 256 MiB: $r"
    [ "$(jget "$r" "r['return'][0]['config']['mode']")" = writeback ] ||
        fail "x-hypercache-query: config.mode is not writeback: $r"
    [ "$(jget "$r" "r['return'][0]['config']['max-dirty-age']")" = 0 ] ||
        fail "x-hypercache-query: config.max-dirty-age is not 0: $r"
    [ "$(jget "$r" "r['return'][0]['config']['active']")" = True ] ||
        fail "x-hypercache-query: node not active: $r"
    [ "$(st "$r" capacity-bytes)" = $((256 << 20)) ] || fail "capacity-bytes is not 256 MiB: $r"
    hc_log "guest I/O through hc0: $(st "$r" read-requests) reads, $(st "$r" write-requests) writes, $(st "$r" dirty-bytes) bytes dirty"
    [ "$(st "$r" read-requests)" -ge 1 ] || fail "no guest read (partition scan) reached hc0: $r"
    [ "$(st "$r" write-requests)" -ge 2 ] || fail "the guest's writes did not reach hc0: $r"
    # The guest wrote without a flush: the data is in WB, not on the image.
    [ "$(st "$r" dirty-bytes)" = $((2 * wlen)) ] || fail "want $((2 * wlen)) dirty bytes before the flush: $r"
    img_is "$w1" $((2 * wlen)) 0 || fail "the image changed before the flush (writes not absorbed in WB)"

    r=$(qmp '{"execute":"x-hypercache-reset-stats","arguments":{"node-name":"hc0"}}')
    [ "$(jget "$r" "r.get('return')")" = "{}" ] || fail "x-hypercache-reset-stats: $r"
    r=$(query)
    [ "$(st "$r" write-requests)" = 0 ] || fail "write-requests not 0 after x-hypercache-reset-stats: $r"
    [ "$(st "$r" dirty-bytes)" = $((2 * wlen)) ] ||
        fail "x-hypercache-reset-stats changed dirty-bytes (state, not a counter): $r"

    # The same statistics through query-blockstats (BlockStatsSpecific).
    r=$(qmp '{"execute":"query-blockstats","arguments":{"query-nodes":true}}')
    if [ "$(jget "$r" "[s.get('driver-specific', {}).get('driver') for s in r['return'] if s.get('node-name') == 'hc0']")" != "['hypercache']" ]; then
        fail "query-blockstats has no hypercache driver-specific entry for hc0: $r"
    elif [ "$(jget "$r" "[s['driver-specific']['dirty-bytes'] for s in r['return'] if s.get('node-name') == 'hc0'][0]")" != $((2 * wlen)) ]; then
        fail "query-blockstats: hc0 dirty-bytes is not $((2 * wlen)): $r"
    fi

    r=$(hmp 'info hypercache')
    printf '%s\n' "$r" | sed 's/^/    /' >&2
    printf '%s\n' "$r" | grep -q '^hc0: writeback' || fail "info hypercache does not list hc0 in writeback mode"
    printf '%s\n' "$r" | grep -q "WB $((2 * wlen)) bytes dirty" || fail "info hypercache does not show $((2 * wlen)) dirty bytes"

    # Flush: dirty data on the image, nothing dirty left.
    t0=$SECONDS
    r=$(qmp '{"execute":"x-hypercache-flush","arguments":{"node-name":"hc0"}}')
    [ "$(jget "$r" "r.get('return')")" = "{}" ] || fail "x-hypercache-flush: $r"
    r=$(query)
    hc_log "after x-hypercache-flush ($((SECONDS - t0))s): dirty-bytes $(st "$r" dirty-bytes), write-back $(st "$r" writeback-requests) requests / $(st "$r" writeback-bytes) bytes, merge ratio $(st "$r" merge-ratio)"
    [ "$(st "$r" dirty-bytes)" = 0 ] || fail "dirty-bytes not 0 after the flush: $r"
    [ "$(st "$r" wb-bytes)" = 0 ] || fail "wb-bytes not 0 after the flush: $r"
    [ "$(st "$r" writeback-bytes)" = $((2 * wlen)) ] || fail "writeback-bytes is not $((2 * wlen)) after the flush: $r"
    [ "$(st "$r" writeback-errors)" = 0 ] || fail "write-back errors: $r"
    img_is "$w1" "$wlen" 0x5a || fail "the image lacks the guest's write 1 (0x5a at $w1) after the flush"
    img_is "$w2" "$wlen" 0xa5 || fail "the image lacks the guest's write 2 (0xa5 at $w2) after the flush"
    img_is $((w2 + wlen)) 4096 0 || fail "the image changed past the writes"

    # Read back through the guest's device (qemu-io prints into QEMU's
    # log); the blocks stayed cached, so these are hits.
    hmp "qemu-io -d $dev \"read -P 0x5a $w1 $wlen\"" > /dev/null || fail "HMP qemu-io read 1 failed"
    hmp "qemu-io -d $dev \"read -P 0xa5 $w2 $wlen\"" > /dev/null || fail "HMP qemu-io read 2 failed"
    r=$(query)
    [ "$(st "$r" full-hits)" -ge 2 ] || fail "the read-back did not hit the cache: $r"

    # Bad input through virsh: virsh passes QEMU's error through.
    r=$(qmp '{"execute":"x-hypercache-flush","arguments":{"node-name":"nosuch"}}' 2>&1 || true)
    if ! printf '%s' "$r" | grep -q '"error"' || ! printf '%s' "$r" | grep -q nosuch; then
        fail "flush of an unknown node did not give an error naming it: $r"
    fi
    hc_log "unknown node: $r"

    lv_virsh destroy "$DOM" > /dev/null || fail "virsh destroy failed"
    lv_virsh undefine "$DOM" > /dev/null || fail "virsh undefine failed"
    [ -z "$(lv_virsh list --all --name | tr -d '[:space:]')" ] || fail "domains left after undefine"
    inside_vdi "$run"
    [ -z "$(lv_virsh list --all --name | tr -d '[:space:]')" ] || fail "VDI domain left after undefine"
    # QEMU's stdout (qemu-io's output) is complete in its log once it exited.
    [ "$(grep -c '^read 65536/65536 bytes' "$qlog" || true)" = 2 ] ||
        fail "qemu-io read-back through the device failed: $(grep -E 'read|Pattern|error' "$qlog" | tail -n 5)"
    if grep -q 'Pattern verification failed' "$qlog"; then fail "read-back pattern mismatch"; fi

    if [ ${#FAILS[@]} -gt 0 ]; then
        hc_log "QEMU log:"
        sed 's/^/    /' "$qlog" >&2 || true
        hc_log "serial log (tail):"
        tr -d '\r' < "$serial" | tail -n 20 | sed 's/^/    /' >&2 || true
        exit 1
    fi
    exit 0
}

# ---- on the host ------------------------------------------------------------

have_libvirt() {
    command -v libvirtd > /dev/null && command -v virsh > /dev/null &&
        command -v virt-xml-validate > /dev/null && command -v xmllint > /dev/null &&
        dpkg -s libvirt-daemon-driver-qemu > /dev/null 2>&1
}

install_libvirt() {
    have_libvirt && return 0
    command -v apt-get > /dev/null ||
        fail_now "libvirt is not installed and there is no apt-get to install ${PKGS[*]}"
    hc_log "installing ${PKGS[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q --no-install-recommends "${PKGS[@]}" > "$HC_RUN_DIR/apt.log" 2>&1; then
        apt-get update -q >> "$HC_RUN_DIR/apt.log" 2>&1 || true
        apt-get install -y -q --no-install-recommends "${PKGS[@]}" >> "$HC_RUN_DIR/apt.log" 2>&1 || {
            tail -n 20 "$HC_RUN_DIR/apt.log"
            fail_now "apt-get install ${PKGS[*]} failed (above)"
        }
    fi
    have_libvirt ||
        fail_now "libvirtd, virsh, virt-xml-validate or the QEMU driver still missing after installing ${PKGS[*]}"
}

# Copy XML file SRC to OUT with each OLD replaced by NEW; each OLD must
# occur exactly once, so that a changed document fails loudly.
substitute_once() { # SRC OUT [OLD NEW]...
    python3 - "$@" << 'EOF'
import sys
src, dst = sys.argv[1], sys.argv[2]
text = open(src).read()
for old, new in zip(sys.argv[3::2], sys.argv[4::2]):
    if text.count(old) != 1:
        sys.exit(f"{src}: expected {old!r} exactly once, found {text.count(old)}")
    text = text.replace(old, new)
open(dst, 'w').write(text)
EOF
}

# Write the domain XML this test starts: the documented one with these
# substitutions.
make_domain_xml() { # OUT IMAGE INITRD SERIAL
    substitute_once "$DOC_XML" "$1" \
        "$DOC_EMULATOR" "$QEMU_SYSTEM" \
        "$DOC_IMAGE" "$2" \
        "$DOC_HC_OPTS" "$DOC_HC_OPTS,max-dirty-age=0" \
        "<boot dev='hd'/>" "<kernel>$(hc_kernel)</kernel><initrd>$3</initrd><cmdline>console=ttyS0 quiet panic=-1</cmdline>" \
        "<serial type='pty'/>" "<serial type='file'><source path='$4'/></serial>"
}

# The VDI domain as started: docs/libvirt-vdi.xml with our emulator and
# socket, the e2e guest, and a serial log.
make_vdi_xml() { # OUT SOCKET INITRD SERIAL
    substitute_once "$VDI_XML" "$1" \
        "$DOC_EMULATOR" "$QEMU_SYSTEM" \
        "$DOC_VDI_SOCK" "$2" \
        "<boot dev='hd'/>" "<kernel>$(hc_kernel)</kernel><initrd>$3</initrd><cmdline>console=ttyS0 quiet panic=-1</cmdline>" \
        "<serial type='pty'/>" "<serial type='file'><source path='$4'/></serial>"
}

# The VDI guest: md5 of the base's first 4 MiB as read through the
# vhost-user disk, then 64 KiB of 0x5a at 1 MiB with O_DIRECT, no flush.
make_vdi_initrd() { # OUT
    local stage=$HC_RUN_DIR/stage
    mkdir -p "$stage/hc"
    head -c $((64 << 10)) /dev/zero | tr '\000' '\132' > "$stage/hc/p5a.bin"
    cat > "$stage/hc/run.sh" << 'EOF'
echo "HC-BASE-MD5 $(dd if=/dev/vda bs=1M count=4 iflag=direct 2>/dev/null | md5sum | cut -d' ' -f1)"
dd if=/hc/p5a.bin of=/dev/vda bs=65536 seek=16 count=1 oflag=direct 2>&1
echo "HC-WROTE"
while :; do sleep 3600; done
EOF
    (cd "$stage" && find hc | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
        gzip -1 | cat "$HC_GUEST_DIR/initrd.gz" - > "$1"
    rm -rf "$stage"
}

# The guest's script rides in a cpio appended to the e2e initrd (as in
# lib.sh's hc_boot): two 64 KiB patterns written with O_DIRECT and no
# flush, then the guest idles until the domain is destroyed.
make_guest_initrd() { # OUT
    local stage=$HC_RUN_DIR/stage
    mkdir -p "$stage/hc"
    head -c $((64 << 10)) /dev/zero | tr '\000' '\132' > "$stage/hc/p5a.bin"
    head -c $((64 << 10)) /dev/zero | tr '\000' '\245' > "$stage/hc/pa5.bin"
    cat > "$stage/hc/run.sh" << 'EOF'
dd if=/hc/p5a.bin of=/dev/vda bs=65536 seek=16 count=1 oflag=direct 2>&1
dd if=/hc/pa5.bin of=/dev/vda bs=65536 seek=17 count=1 oflag=direct 2>&1
echo "HC-WROTE"
while :; do sleep 3600; done
EOF
    (cd "$stage" && find hc | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
        gzip -1 | cat "$HC_GUEST_DIR/initrd.gz" - > "$1"
    rm -rf "$stage"
}

MOUNTPOINTS=()
outer_cleanup() {
    lv_remove_mountpoints "${MOUNTPOINTS[@]}"
    hc_cleanup
}

main() {
    local t_all=$SECONDS t0 rc mp
    [ "$(id -u)" = 0 ] ||
        fail_now "must run as root: the test runs its own system-mode libvirtd (QEMU as root, no security driver) in a private mount namespace"
    command -v unshare > /dev/null || fail_now "no unshare (util-linux) for the private mount namespace"

    hc_init
    trap outer_cleanup EXIT
    hc_require QEMU_IMG QEMU_IO QSD
    if ! hc_check_driver; then
        echo "SKIP: no hypercache block driver in $QEMU_SYSTEM"
        exit 77
    fi

    t0=$SECONDS
    install_libvirt
    hc_log "libvirt packages ready ($((SECONDS - t0))s): $(dpkg-query -W -f '${Version}' libvirt-daemon-driver-qemu)"

    virt-xml-validate "$DOC_XML" domain > "$HC_RUN_DIR/validate.log" 2>&1 ||
        fail_now "virt-xml-validate rejects $DOC_XML: $(cat "$HC_RUN_DIR/validate.log")"
    t0=$SECONDS
    hc_build_guest > "$HC_RUN_DIR/build-guest.log" 2>&1 || {
        tail -n 20 "$HC_RUN_DIR/build-guest.log"
        fail_now "could not build the e2e guest (build-guest.sh, above)"
    }
    make_guest_initrd "$HC_RUN_DIR/guest.initrd"
    hc_log "guest ready ($((SECONDS - t0))s)"
    make_domain_xml "$HC_RUN_DIR/domain.xml" "$HC_RUN_DIR/disk.raw" \
        "$HC_RUN_DIR/guest.initrd" "$HC_RUN_DIR/serial.log" ||
        fail_now "could not derive the domain XML from $DOC_XML"
    virt-xml-validate "$HC_RUN_DIR/domain.xml" domain > "$HC_RUN_DIR/validate.log" 2>&1 ||
        fail_now "virt-xml-validate rejects the derived XML: $(cat "$HC_RUN_DIR/validate.log")"
    hc_log "virt-xml-validate: $DOC_XML and the derived XML validate"
    "$QEMU_IMG" create -q -f raw "$HC_RUN_DIR/disk.raw" "${IMG_MIB}M"

    # The VDI domain and the daemon's images (the daemon starts inside).
    virt-xml-validate "$VDI_XML" domain > "$HC_RUN_DIR/validate.log" 2>&1 ||
        fail_now "virt-xml-validate rejects $VDI_XML: $(cat "$HC_RUN_DIR/validate.log")"
    make_vdi_initrd "$HC_RUN_DIR/vdi.initrd"
    make_vdi_xml "$HC_RUN_DIR/vdi.xml" "$HC_RUN_DIR/vm1.sock" "$HC_RUN_DIR/vdi.initrd" \
        "$HC_RUN_DIR/vdi-serial.log" || fail_now "could not derive the VDI domain XML from $VDI_XML"
    virt-xml-validate "$HC_RUN_DIR/vdi.xml" domain > "$HC_RUN_DIR/validate.log" 2>&1 ||
        fail_now "virt-xml-validate rejects the derived VDI XML: $(cat "$HC_RUN_DIR/validate.log")"
    hc_log "virt-xml-validate: $VDI_XML and the derived XML validate"
    head -c $((16 << 20)) /dev/urandom > "$HC_RUN_DIR/base.raw"
    "$QEMU_IMG" create -q -f qcow2 -b "$HC_RUN_DIR/base.raw" -F raw "$HC_RUN_DIR/ov1.qcow2"

    # mkdir is not namespaced: create missing mount points, remove them after.
    while IFS= read -r mp; do MOUNTPOINTS+=("$mp"); done < <(lv_make_mountpoints)
    unshare --mount --propagation private true 2> "$HC_RUN_DIR/unshare.log" ||
        fail_now "cannot make a private mount namespace (unshare --mount: $(cat "$HC_RUN_DIR/unshare.log")); the test's libvirtd would have to share /etc/libvirt and /run/libvirt with the host's"

    t0=$SECONDS
    rc=0
    timeout -k 10 $((GUEST_TIMEOUT + 120)) unshare --mount --propagation private -- \
        bash "${BASH_SOURCE[0]}" --inside "$HC_RUN_DIR" || rc=$?
    hc_log "libvirt part took $((SECONDS - t0))s, whole test $((SECONDS - t_all))s"
    [ "$rc" = 124 ] && fail_now "the libvirt part timed out after $((GUEST_TIMEOUT + 120))s"
    [ "$rc" = 0 ] || fail_now "libvirt checks failed (above)"
    echo "PASS: libvirt $(dpkg-query -W -f '${Version}' libvirt-daemon-driver-qemu) ran $DOM from docs/libvirt-domain.xml with $QEMU_SYSTEM; a Linux guest wrote through hc0; virsh queried, reset and flushed it; $VDI_DOM from docs/libvirt-vdi.xml ran on a qemu-storage-daemon vhost-user-blk export through hcbase and hc1"
}

if [ "${1:-}" = --inside ]; then
    inside "$2"
fi
main "$@"

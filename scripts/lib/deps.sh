# SPDX-License-Identifier: GPL-2.0-or-later
# Build and test dependencies, installed from Debian's archive.
# Sourced by configure-qemu.sh.

# Debian 12 packages; meson comes from bookworm-backports (QEMU 10 needs >= 1.5).
HC_DEB_PACKAGES=(
    build-essential pkg-config ninja-build python3 python3-venv
    dpkg-dev devscripts quilt xz-utils zstd cpio gzip
    libglib2.0-dev libpixman-1-dev liburing-dev libaio-dev libfdt-dev
    libslirp-dev zlib1g-dev libzstd-dev
    liblzma-dev
    libgtest-dev libgmock-dev libbenchmark-dev
    clang clang-14 llvm-14 libclang-rt-14-dev clang-format
    fio seabios qemu-system-data busybox-static
    e2fsprogs iproute2 python3-matplotlib valgrind
    librbd-dev ceph-mon ceph-osd ceph-common
)

# The URIs/Signed-By of the machine's own Debian main-archive entry; new entries
# are derived from it so no mirror name is ever written by this project.
hc_debian_source_fields() {
    local f
    for f in /etc/apt/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        awk -v RS= '/Suites:[^\n]*bookworm( |$|\n)/ && /Types:[^\n]*deb/ { print; exit }' "$f"
    done | head -n 20
}

hc_first_field() { # $1 = field name, stdin = deb822 stanza
    sed -n "s/^$1:[[:space:]]*//p" | head -n 1
}

hc_debian_uri() {
    local uri
    uri=$(hc_debian_source_fields | hc_first_field URIs | awk '{print $1}')
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
        uri=$(awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list)
    fi
    [ -n "$uri" ] || die "no Debian bookworm entry found in /etc/apt/sources.list{,.d}; add one, then rerun"
    echo "$uri"
}

hc_apt_sources() {
    local file=/etc/apt/sources.list.d/hypercache.sources uri keyring
    if [ -f "$file" ]; then
        return 0
    fi
    uri=$(hc_debian_uri)
    keyring=$(hc_debian_source_fields | hc_first_field Signed-By)
    keyring=${keyring:-/usr/share/keyrings/debian-archive-keyring.gpg}
    echo "adding bookworm-backports and trixie deb-src entries for $uri"
    cat > "$file" <<SRC
# Written by hypercache's configure-qemu.sh, derived from this machine's
# Debian entry: meson >= 1.5 from backports, QEMU 10.0's source from trixie.
Types: deb
URIs: $uri
Suites: bookworm-backports
Components: main
Signed-By: $keyring

Types: deb-src
URIs: $uri
Suites: trixie
Components: main
Signed-By: $keyring
SRC
    HC_APT_UPDATED=
}

hc_apt_update() {
    if [ -z "${HC_APT_UPDATED:-}" ]; then
        apt-get update -q || die "apt-get update failed; check /etc/apt/sources.list.d"
        HC_APT_UPDATED=1
    fi
}

hc_meson_ok() {
    command -v meson >/dev/null 2>&1 &&
        dpkg --compare-versions "$(meson --version)" ge 1.5
}

hc_install_deps() {
    step "dependencies (apt-get)"
    local sudo=
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    if [ -n "$sudo" ] && ! command -v sudo >/dev/null; then
        die "not root and no sudo: install ${HC_DEB_PACKAGES[*]} by hand"
    fi
    hc_apt_sources
    local missing=() p
    for p in "${HC_DEB_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
            missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "installing: ${missing[*]}"
        hc_apt_update
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q \
            --no-install-recommends "${missing[@]}" ||
            die "apt-get install failed for: ${missing[*]}"
    fi
    if ! hc_meson_ok; then
        echo "installing meson from bookworm-backports"
        hc_apt_update
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q \
            -t bookworm-backports meson ||
            die "could not install meson >= 1.5 from bookworm-backports"
    fi
    hc_meson_ok || die "meson $(meson --version 2>/dev/null) is too old; QEMU 10 needs >= 1.5"
    echo "dependencies present (meson $(meson --version))"
}

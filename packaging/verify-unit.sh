#!/usr/bin/env bash
# Runs `systemd-analyze verify` on shaperd.service as the package installs it: ROOT is an unpacked package
# (`dpkg-deb -x shaper_*.deb ROOT`) or a `make install DESTDIR=ROOT` tree. verify checks the unit against
# the whole system (sysinit.target, /bin/kill, the man pages, that ExecStart's binaries exist), so ROOT's
# files are laid over /usr read-only, in a private mount namespace that ends with this script: the host's
# filesystem is never changed. Needs root (for the mount namespace). Usage: packaging/verify-unit.sh ROOT
set -euo pipefail
root=$(realpath "$1")
unit=$root/lib/systemd/system/shaperd.service
[ -f "$unit" ] || { echo "verify-unit: $unit is missing" >&2; exit 1; }
command -v systemd-analyze >/dev/null || { echo "verify-unit: systemd-analyze is missing (Debian package systemd)" >&2; exit 2; }

# One read-only overlay per host directory the package writes into; with merged /usr (/lib -> usr/lib) the
# package's /lib goes into the /usr/lib overlay.
mounts=()
overlay() { # overlay HOST_DIR PACKAGE_DIR...
    local target=$1 lower="" dir
    shift
    for dir in "$@"; do [ -d "$dir" ] && lower+="$dir:"; done
    [ -n "$lower" ] && mounts+=("mount -t overlay shaper-verify -o lowerdir=$lower$target $target")
    return 0
}
overlay /usr/bin "$root/usr/bin"
overlay /usr/share/man "$root/usr/share/man"
if [ "$(readlink -f /lib)" = /usr/lib ]; then
    overlay /usr/lib "$root/usr/lib" "$root/lib"
else
    overlay /usr/lib "$root/usr/lib"
    overlay /lib "$root/lib"
fi

# Without man-db, verify cannot look the Documentation= pages up; say so rather than fail on it.
man=yes
if ! command -v man >/dev/null; then
    echo "verify-unit: man is missing (Debian package man-db): not checking the Documentation= man pages" >&2
    man=no
fi

script=$(printf '%s && ' "${mounts[@]}")
exec unshare --mount --propagation private sh -c "$script systemd-analyze verify --man=$man /lib/systemd/system/shaperd.service"

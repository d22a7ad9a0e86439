#!/usr/bin/env bash
# Builds artifacts/deb/shaper_VERSION_ARCH.deb: self-contained shaperd and shaperctl under /usr/lib/shaper,
# the systemd unit, /etc/shaper/shaper.toml as a conffile, man pages, bash completion, and maintainer
# scripts that create the `shaper` group. Usage: packaging/build-deb.sh [STAGING_DIR [OUTPUT_DIR]]
# (defaults artifacts/deb/stage and artifacts/deb; the package tests build into a temporary directory).
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' Directory.Build.props)
arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
case "$arch" in amd64) rid=linux-x64 ;; arm64) rid=linux-arm64 ;; *) echo "build-deb: unsupported architecture $arch" >&2; exit 1 ;; esac
stage=${1:-artifacts/deb/stage}
rm -rf "$stage"
mkdir -p "$stage/DEBIAN" "$stage/usr/bin" "$stage/usr/lib/shaper" "$stage/etc/shaper" \
         "$stage/lib/systemd/system" "$stage/usr/share/man/man1" "$stage/usr/share/man/man8" \
         "$stage/usr/share/bash-completion/completions" "$stage/usr/share/doc/shaper"

packaging/install-tree.sh "$stage" "$rid"

size=$(du -sk "$stage" | cut -f1)
cat > "$stage/DEBIAN/control" <<CONTROL
Package: shaper
Version: $version
Architecture: $arch
Maintainer: Shaper developers <shaper@localhost>
Installed-Size: $size
Depends: libc6, libpcap0.8, nftables | iptables, libstdc++6, zlib1g, libssl3 | libssl1.1, libicu72 | libicu-dev
Recommends: nftables
Suggests: tcpreplay
Section: net
Priority: optional
Description: host traffic shaper: per-IP rate limits in nftables, live observation
 shaperd installs per-IP rate limits into the kernel (nftables meters, iptables
 hashlimit as a fallback), watches live traffic with libpcap and blocks offenders
 in kernel sets with a time to live. shaperctl validates and applies TOML rules,
 shows counters and blocks, and replays a capture offline.
CONTROL
echo "/etc/shaper/shaper.toml" > "$stage/DEBIAN/conffiles"
install -m 0755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$stage/DEBIAN/"

outdir=${2:-artifacts/deb}
mkdir -p "$outdir"
out="$outdir/shaper_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$stage" "$out" >/dev/null
echo "built $out"

#!/usr/bin/env bash
# Installs what building and testing Shaper needs on a Debian machine, skipping what is there.
# Run as root; without root it only reports what is missing.
set -euo pipefail

# Debian packages the tests use: the kernel front ends, libpcap for capture, NFQUEUE, tcpreplay for
# traffic (gcc and libnetfilter-queue-dev build the queue benchmark's C baseline consumer), tcpdump to record what a lab sender sent (and the daemon benchmark's baseline), iproute2 for namespaces; jq for `make demo`, systemd for `systemd-analyze verify` on the unit.
# redis-server and redis-tools: the fleet tests start their own Redis (and a 3-master Redis Cluster) on loopback.
# netsniff-ng for trafgen, the daemon benchmark's sender (faster than tcpreplay on the same cores).
packages=(nftables iptables libpcap0.8 libnetfilter-queue1 libnetfilter-queue-dev gcc tcpreplay tcpdump iproute2 procps ca-certificates curl jq systemd redis-server redis-tools netsniff-ng)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install-deps: missing Debian packages (run as root to install): ${missing[*]}" >&2
    else
        echo "install-deps: installing ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
fi

# The .NET 10 SDK: Debian's own archive does not carry it, so use Microsoft's installer script,
# pinned by global.json's major version, into /usr/local/share/dotnet.
if ! command -v dotnet >/dev/null 2>&1 || ! dotnet --list-sdks 2>/dev/null | grep -q '^10\.'; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "install-deps: the .NET 10 SDK is missing (run as root to install it)" >&2
        exit 1
    fi
    echo "install-deps: installing the .NET 10 SDK"
    curl -fsSL https://dot.net/v1/dotnet-install.sh -o /tmp/dotnet-install.sh
    bash /tmp/dotnet-install.sh --channel 10.0 --install-dir /usr/local/share/dotnet
    ln -sf /usr/local/share/dotnet/dotnet /usr/local/bin/dotnet
fi

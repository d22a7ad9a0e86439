#!/usr/bin/env bash
# Publishes shaperd and shaperctl self-contained and lays out the installed files under ROOT.
# Used by build-deb.sh and by `make install` (ROOT = $(DESTDIR), default /). Usage: install-tree.sh ROOT RID
set -euo pipefail
cd "$(dirname "$0")/.."
root=$1
rid=$2
lib="$root/usr/lib/shaper"
mkdir -p "$lib" "$root/usr/bin" "$root/etc/shaper" "$root/lib/systemd/system" \
         "$root/usr/share/man/man1" "$root/usr/share/man/man8" "$root/usr/share/bash-completion/completions"

# Self-contained: Debian's archive has no .NET runtime, so the package carries its own (see README).
# ReadyToRun: the programs' code and their libraries precompiled, so that a start does not wait for the JIT.
for project in src/Daemon/Daemon.csproj src/Ctl/Ctl.csproj; do
    dotnet publish "$project" -c Release -r "$rid" --self-contained true -p:PublishSingleFile=false -p:PublishReadyToRun=true \
        -p:DebugType=none -p:GenerateDocumentationFile=false -o "$lib" --nologo -v quiet
done
# The runtime's files arrive with the NuGet cache's modes (0744); installed, only the programs are executable.
find "$lib" -type f -exec chmod 0644 {} +
chmod 0755 "$lib/shaperd" "$lib/shaperctl"
[ ! -f "$lib/createdump" ] || chmod 0755 "$lib/createdump"
ln -sf ../lib/shaper/shaperd "$root/usr/bin/shaperd"
ln -sf ../lib/shaper/shaperctl "$root/usr/bin/shaperctl"

if [ ! -e "$root/etc/shaper/shaper.toml" ]; then
    install -m 0644 packaging/shaper.toml "$root/etc/shaper/shaper.toml"
fi
install -m 0644 systemd/shaperd.service "$root/lib/systemd/system/shaperd.service"
install -m 0644 packaging/shaperctl.bash-completion "$root/usr/share/bash-completion/completions/shaperctl"
packaging/man.sh "$lib" "$root/usr/share/man"

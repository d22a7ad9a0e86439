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
# Composite ReadyToRun (packaging/composite): both programs, their libraries and the runtime's precompiled as one
# image, so that a start does not wait for the JIT. The same properties as the copy the tests run
# (tests/Directory.Build.targets), so a package built after the tests reuses that compile; what only a developer
# needs (symbols, XML docs) is removed below, and so is the composite project's own program, which nothing runs.
dotnet publish packaging/composite/Composite.csproj -c Release -r "$rid" -p:SelfContained=true -o "$lib" --nologo -v quiet
rm -f "$lib"/*.pdb "$lib"/Shaper.xml "$lib/shaper-composite" "$lib/shaper-composite.deps.json" "$lib/shaper-composite.runtimeconfig.json"
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

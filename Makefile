# Shaper: `make test` (everything, from a fresh Debian machine as root), `make demo` (DURATION=20: unattended),
# `make bench` (QUICK=1 for < 60 s).
SHELL := /bin/bash
DOTNET ?= dotnet
CONFIG ?= Release
export DOTNET_CLI_TELEMETRY_OPTOUT := 1
export DOTNET_NOLOGO := 1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE := 1

.PHONY: all deps build test demo bench deb install uninstall readme clean

all: build

deps:
	@packaging/install-deps.sh

build: deps
	$(DOTNET) build Shaper.sln -c $(CONFIG) --nologo -v quiet

test: build
	$(DOTNET) test tests/Shaper.Tests/Shaper.Tests.csproj -c $(CONFIG) --no-build --nologo

# shaperd in a two-namespace lab with polite and abusive sources; see packaging/demo/demo.sh and the README.
DURATION ?=
demo: build
	DURATION=$(DURATION) CONFIG=$(CONFIG) packaging/demo/demo.sh

bench: build
	$(DOTNET) tests/Shaper.Benchmarks/bin/$(CONFIG)/net10.0/Shaper.Benchmarks.dll $(if $(QUICK),--quick) $(SUITES)

deb: deps
	packaging/build-deb.sh

# For hosts without dpkg: the same files as the package, under $(DESTDIR) (default /).
DESTDIR ?=
RID ?= linux-x64
install: deps
	packaging/install-tree.sh "$(DESTDIR)/" $(RID)
	@if [ -z "$(DESTDIR)" ]; then \
	    getent group shaper >/dev/null || groupadd --system shaper; \
	    if [ -d /run/systemd/system ]; then systemctl daemon-reload; fi; \
	    echo "installed; start with: systemctl enable --now shaperd"; \
	fi

uninstall:
	-@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then systemctl disable --now shaperd 2>/dev/null; fi
	rm -rf "$(DESTDIR)/usr/lib/shaper" "$(DESTDIR)/usr/bin/shaperd" "$(DESTDIR)/usr/bin/shaperctl" \
	       "$(DESTDIR)/lib/systemd/system/shaperd.service" "$(DESTDIR)/usr/share/man/man8/shaperd.8.gz" \
	       "$(DESTDIR)/usr/share/man/man1/shaperctl.1.gz" "$(DESTDIR)/usr/share/bash-completion/completions/shaperctl"
	@echo "kept /etc/shaper and /var/lib/shaper; remove them by hand to purge"

readme: build
	packaging/cli-reference.sh tests/Shaper.Tests/bin/$(CONFIG)/net10.0 --write

# dotnet clean does not know the shaperd the test projects publish and copy beside them (tests/Directory.Build.targets).
clean:
	$(DOTNET) clean Shaper.sln -c $(CONFIG) --nologo -v quiet
	rm -rf packaging/composite/bin/$(CONFIG)/*/*/shipped tests/*/bin/$(CONFIG)/*/daemon
	rm -rf artifacts

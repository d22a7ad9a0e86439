# Shaper: `make test` (everything, from a fresh Debian machine as root), `make bench` (QUICK=1 for < 60 s).
SHELL := /bin/bash
DOTNET ?= dotnet
CONFIG ?= Release
export DOTNET_CLI_TELEMETRY_OPTOUT := 1
export DOTNET_NOLOGO := 1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE := 1

.PHONY: all deps build test bench clean

all: build

deps:
	@packaging/install-deps.sh

build: deps
	$(DOTNET) build Shaper.sln -c $(CONFIG) --nologo -v quiet

test: build
	$(DOTNET) test tests/Shaper.Tests/Shaper.Tests.csproj -c $(CONFIG) --no-build --nologo

bench: build
	$(DOTNET) tests/Shaper.Benchmarks/bin/$(CONFIG)/net10.0/Shaper.Benchmarks.dll $(if $(QUICK),--quick) $(SUITES)

clean:
	$(DOTNET) clean Shaper.sln -c $(CONFIG) --nologo -v quiet
	rm -rf artifacts

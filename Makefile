# nucbox: `make run` boots the appliance in QEMU, `make test` runs every test.
# Both install what they need first (make deps). Run as root on Debian 12.

SHELL := /bin/bash
.DEFAULT_GOAL := help

GO      ?= go
BUILD   ?= build
BIN     := $(BUILD)/nucbox
CONFIG  ?= examples/basic.yaml
IMAGE   := $(BUILD)/image
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
MEMORY  ?= 2048
SMP     ?= 2

# Everything the build, the appliance image and the tests need from Debian.
DEB_PACKAGES := \
	linux-image-amd64 kmod busybox-static \
	qemu-system-x86 qemu-utils ipxe-qemu ovmf systemd-boot-efi \
	e2fsprogs ca-certificates openssl osslsigncode \
	libseccomp-dev gcc libc6-dev make git \
	iproute2 dnsmasq-base runc chromium
# npm fetches the web page's viewers (make web-assets). A Node.js that
# brings its own npm (NodeSource's, which conflicts with Debian's npm
# package) is kept as it is.
NPM_PACKAGES := $(if $(shell command -v npm 2>/dev/null),,nodejs npm)

# The web page's viewers, from the npm registry, pinned by version and by
# the registry's sha512 integrity, fetched at build time (never
# committed): noVNC shows a VM's screen, xterm.js a serial console.
# build/web goes into the image at /usr/share/nucbox/web, where the API
# serves it under /static/vendor/. `npm view PKG@VERSION dist.integrity`
# gives the value to pin after a version change.
WEB              := $(BUILD)/web
NOVNC_VERSION    := 1.7.0
NOVNC_INTEGRITY  := sha512-ucEJOx4T2avIRCleodk7YobZj5O2Ga2AeLfQ69A/yjG9HHba2+PDgwSkN3FttrmG+70ZGx21sElNFouK13RzyA==
XTERM_VERSION    := 6.0.0
XTERM_INTEGRITY  := sha512-TQwDdQGtwwDt+2cgKDLn0IRaSxYu1tSUjgKarSDkUM0ZNiSRXFpjxEsvc/Zgc5kq5omJ+V0a8/kIM2WD3sMOYg==
WEB_PINS         := @novnc/novnc@$(NOVNC_VERSION) $(NOVNC_INTEGRITY) @xterm/xterm@$(XTERM_VERSION) $(XTERM_INTEGRITY)

# The appliance's binary is static with cgo: libcontainer's nsenter is C, and
# the initramfs has no libc. The tags keep net and os/user pure Go and turn
# on the containers' seccomp filter; tests use the same tags so that what is
# tested is what ships.
TAGS   := netgo,osusergo,seccomp
STATIC := CGO_ENABLED=1 $(GO) build -trimpath -tags $(TAGS) \
	-ldflags '-s -w -extldflags -static -X main.version=$(VERSION)'

# CI mode: with CI set to anything but empty, false or 0 (the rule of
# test/ci), a test whose prerequisite is missing fails instead of
# skipping. The test tiers then run with CI=true; without it they run as
# the environment has them, and such tests skip with a message.
CI_MODE := $(shell case "$$(echo '$(subst ','',$(CI))' | tr A-Z a-z | tr -d ' ')" in (''|false|0) ;; (*) echo on ;; esac)
TEST_ENV := $(if $(CI_MODE),CI=true)

FUZZTIME ?= 2m

# The pinned platform (image/platform/platform.lock) in the tests' cache,
# where the image tests and the QEMU tier find it: fetched once per
# machine, about 122 MiB, then only checked.
TEST_CACHE     = $(or $(NUCBOX_TEST_CACHE),$(BUILD)/test)
PLATFORM_CACHE = $(TEST_CACHE)/platform

.PHONY: help deps web-assets platform build image run test test-unit test-host test-e2e vet bench soak fuzz clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

deps: ## install every Debian package the build and tests need (idempotent)
	@missing=$$(for p in $(DEB_PACKAGES) $(NPM_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing" $$missing; \
		if [ "$$(id -u)" != 0 ]; then echo "deps: run as root (apt-get needs it)" >&2; exit 1; fi; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@command -v $(GO) >/dev/null || { echo "deps: Go 1.26 or newer is needed on PATH" >&2; exit 1; }

# Each package is packed from the registry, its tarball's sha512 compared
# with the pin (whatever npm itself checked), and only what the page loads
# is unpacked: noVNC's ES modules with its vendored pako, xterm.js's ES
# module and stylesheet, and their licenses. Nothing is fetched when
# build/web already holds the pinned versions.
web-assets: ## fetch the web page's viewers (noVNC, xterm.js) into build/web
	@if [ "$$(cat $(WEB)/PINS 2>/dev/null)" = "$(WEB_PINS)" ]; then exit 0; fi; \
	command -v npm >/dev/null || { echo "web-assets: npm is needed (make deps installs it)" >&2; exit 1; }; \
	set -euo pipefail; \
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	fetch() { \
		npm pack --silent --pack-destination "$$tmp" "$$1" >/dev/null; \
		tgz="$$tmp/$$(echo "$${1%@*}" | sed 's/^@//; s|/|-|')-$${1##*@}.tgz"; \
		got="sha512-$$(openssl dgst -sha512 -binary "$$tgz" | base64 -w0)"; \
		if [ "$$got" != "$$2" ]; then echo "web-assets: $$1 is $$got, not the pinned $$2" >&2; exit 1; fi; \
		mkdir -p "$$tmp/$$3"; tar -xzf "$$tgz" -C "$$tmp/$$3" --strip-components=1 "$${@:4}"; \
		echo "web-assets: $$1 $$2"; \
	}; \
	fetch @novnc/novnc@$(NOVNC_VERSION) $(NOVNC_INTEGRITY) novnc package/core package/vendor package/LICENSE.txt package/AUTHORS; \
	fetch @xterm/xterm@$(XTERM_VERSION) $(XTERM_INTEGRITY) xterm package/lib/xterm.mjs package/css/xterm.css package/LICENSE; \
	echo "$(WEB_PINS)" > "$$tmp/PINS"; \
	rm -rf $(WEB).new; mkdir -p $(BUILD); mkdir $(WEB).new; \
	mv "$$tmp/novnc" "$$tmp/xterm" "$$tmp/PINS" $(WEB).new/; \
	rm -rf $(WEB); mv $(WEB).new $(WEB)

platform: ## fetch and unpack the pinned platform into the test cache (once per machine)
	$(GO) run -tags $(TAGS) ./cmd/nucbox image fetch --cache $(PLATFORM_CACHE)

build: web-assets ## build the static nucbox binary into build/ (and the page's viewers into build/web)
	@mkdir -p $(BUILD)
	$(STATIC) -o $(BIN) ./cmd/nucbox

image: build ## build kernel + initramfs for CONFIG (default examples/basic.yaml) from the pinned platform
	$(BIN) image build --config $(CONFIG) --web-assets $(WEB) -o $(IMAGE)

run: deps image ## boot the appliance in QEMU with CONFIG, console on this terminal
	@echo "Booting nucbox with $(CONFIG) under QEMU (TCG, $(MEMORY) MiB)."
	@echo "Quit: Ctrl-A then X.  Clean poweroff: press Enter and type poweroff (or Ctrl-A C, then system_powerdown)."
	qemu-system-x86_64 -accel tcg -cpu max -machine q35 -m $(MEMORY) -smp $(SMP) \
		-nographic -no-reboot \
		-kernel $(IMAGE)/vmlinuz -initrd $(IMAGE)/initramfs.cpio.zst \
		-append 'console=ttyS0 panic=-1' \
		-netdev user,id=uplink \
		-device virtio-net-pci,netdev=uplink

test: deps vet ## install deps, then run every test tier (root and QEMU tiers need root)
	@if [ -n "$(CI_MODE)" ]; then echo "test: CI mode (CI=$$CI): a missing prerequisite fails instead of skipping"; \
	else echo "test: CI is not set: tests whose prerequisites are missing skip with a message"; fi
	$(MAKE) --no-print-directory test-unit test-e2e

vet: ## gofmt and go vet
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt would change: $$unformatted" >&2; exit 1; fi
	$(GO) vet -tags $(TAGS) ./...

# Pure Go and host-namespace tests; the host tier runs when root. Then
# the tests built with panicinject: a panic injected into each background
# component is recovered and the component runs again (internal/inject).
test-unit: web-assets platform
	$(TEST_ENV) $(GO) test -tags $(TAGS) -count=1 -timeout 15m $$($(GO) list ./... | grep -v /test/e2e)
	$(TEST_ENV) $(GO) test -tags $(TAGS),panicinject -count=1 -timeout 5m -run 'Panic|^TestPoint$$' ./internal/inject \
		$$(grep -rl --include='*_test.go' '^//go:build panicinject' . | xargs -n1 dirname | sort -u)

# QEMU boots of the real image, one package so boots never compete for the
# two cores with other tests. About 32 minutes with the 3-minute soak;
# the timeout is the suite's budget.
# The log is kept in build/test-e2e.log and a failed run ends with the
# list of failed tests, since the verbose log of 30 minutes of boots is
# too long to scroll for them.
test-e2e: web-assets platform
	@mkdir -p $(BUILD); set -o pipefail; \
	$(TEST_ENV) $(GO) test -tags $(TAGS) -count=1 -timeout 40m -v ./test/e2e 2>&1 | tee $(BUILD)/test-e2e.log; \
	rc=$$?; if [ $$rc -ne 0 ]; then echo "test-e2e: failed (exit $$rc); the failed tests:"; \
	awk '/^=== RUN/ { n = 0 } !/machine\.go:[0-9]+: [^ ]+ [0-9.]+s\|/ { buf[n++ % 12] = $$0 } \
	/^--- FAIL|^panic:/ { failed = 1; print "  " $$0; for (i = n > 12 ? n - 12 : 0; i < n - 1; i++) print "    | " buf[i % 12] } \
	END { if (!failed) print "  none reported: a build error, a timeout or a crash" }' $(BUILD)/test-e2e.log; \
	echo "  (the whole log with the consoles: $(BUILD)/test-e2e.log)"; fi; \
	exit $$rc

# `make bench`: one table of every figure with its baseline from the same
# run (build/bench/report.md and report.json, printed at the end). Each
# benchmark saves its figures under build/bench/figures; one that fails
# leaves its group marked missed in the table and fails the target after
# the table is printed. The runc baseline is built from the runc module at
# the version go.mod pins (the libcontainer nucbox embeds), in a module of
# its own so that runc's CLI dependencies stay out of nucbox's go.mod.
BENCH        := $(BUILD)/bench
BENCH_GROUPS := p1-network,p2-containers,p3-vm,p4-sizes,p5-boot,p6-scale,p7-throughput,p8-dhcp,p9-rack
BENCH_TEST    = $(GO) test -tags $(TAGS) -count=1 -run '^$$' -benchtime 1x
# Prefixes for the host-tier and the QEMU steps, for machines where
# benchmarks take turns through a lock, e.g. BENCH_QEMU_WRAP='flock /x/qemu.lock'.
BENCH_HOST_WRAP ?=
BENCH_QEMU_WRAP ?=
RUNC_VERSION  = $(shell $(GO) list -m -f '{{.Version}}' github.com/opencontainers/runc)

bench: deps $(BENCH)/runc ## one table of every figure with its baseline (build/bench/report.md, .json)
	@rm -rf $(BENCH)/figures; mkdir -p $(BENCH)/figures; failed=; start=$$(date +%s); \
	export NUCBOX_BENCH_DIR=$(abspath $(BENCH)); \
	run() { echo "bench: $$*"; "$$@" || failed="$$failed $${@: -1}"; }; \
	run $(BENCH_HOST_WRAP) $(BENCH_TEST) -timeout 5m -bench '^BenchmarkContainerStart$$' ./containers; \
	run $(BENCH_HOST_WRAP) $(BENCH_TEST) -timeout 5m -bench '^BenchmarkVMStart$$' ./vmm; \
	run $(BENCH_HOST_WRAP) $(BENCH_TEST) -timeout 5m -bench '^BenchmarkThroughput$$' ./vswitch; \
	run $(BENCH_HOST_WRAP) $(BENCH_TEST) -timeout 5m -bench '^BenchmarkLeases$$' ./netcfg/dhcpd; \
	run $(BENCH_QEMU_WRAP) $(BENCH_TEST) -timeout 22m -bench '^Benchmark(Sizes|Boot|NetworkReady|Scale|Rack)$$' ./test/e2e; \
	$(GO) run ./test/benchreport/cmd/report -expect $(BENCH_GROUPS) || failed="$$failed report"; \
	echo "bench: $$(( $$(date +%s) - start )) s"; \
	if [ -n "$$failed" ]; then echo "bench: failed:$$failed" >&2; exit 1; fi

$(BENCH)/runc: go.mod
	@mkdir -p $(@D)
	@echo "bench: building runc $(RUNC_VERSION) from its module"
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && cd $$tmp && \
	$(GO) mod init nucbox.bench/runc >/dev/null 2>&1 && \
	{ $(GO) get github.com/opencontainers/runc@$(RUNC_VERSION) 2>get.log || { cat get.log >&2; exit 1; }; } && \
	CGO_ENABLED=1 $(GO) build -trimpath -tags seccomp -ldflags '-X main.version=$(patsubst v%,%,$(RUNC_VERSION))' \
		-o $(abspath $@) github.com/opencontainers/runc

# `make soak`: the QEMU tier's TestSoak (3 minutes in make test) for SOAK
# instead: a box with two containers and a VM under status polling, a
# restarting container, logs -f and an apply every 15 s, PID 1's RSS,
# goroutines and descriptors printed as a table, one row a minute. Not
# part of make test. SOAK is whole minutes (NUCBOX_SOAK for the test);
# raise SOAK_TIMEOUT with it. SOAK_WRAP prefixes the run, like
# BENCH_QEMU_WRAP.
SOAK         ?= 1h
SOAK_TIMEOUT ?= 90m
SOAK_WRAP    ?=

soak: deps web-assets ## drive a box for SOAK (1h) and print PID 1's RSS, goroutines and descriptors each minute
	NUCBOX_SOAK=$(SOAK) $(TEST_ENV) $(SOAK_WRAP) $(GO) test -tags $(TAGS) -count=1 -timeout $(SOAK_TIMEOUT) -v -run '^TestSoak$$' ./test/e2e

# Every fuzz target of every package, one after the other (go test fuzzes
# one target at a time), built with the product's tags.
fuzz: ## run every fuzz target for FUZZTIME each (default 2m)
	@set -e; n=0; \
	for dir in $$($(GO) list -tags $(TAGS) -f '{{.Dir}}' ./...); do \
		grep -qs '^func Fuzz' $$dir/*_test.go || continue; \
		for f in $$(cd $$dir && $(GO) test -tags $(TAGS) -list '^Fuzz' . | grep '^Fuzz'); do \
			echo "fuzz: $${dir#$(CURDIR)/} $$f for $(FUZZTIME)"; \
			(cd $$dir && $(GO) test -tags $(TAGS) -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) .); \
			n=$$((n+1)); \
		done; \
	done; \
	if [ $$n -eq 0 ]; then echo "fuzz: no fuzz targets found" >&2; exit 1; fi; \
	echo "fuzz: $$n target(s) fuzzed"

clean: ## remove build outputs
	rm -rf $(BUILD)

# xpv: the only entry points are ./configure (optional) and this Makefile.
#   make deps    install build and test dependencies (Debian 12, root)
#   make all     build QEMU and libvirt (patched, cached), the guest driver, libxpv, xpvd
#   make check   deps + all + every test suite; ends with "N passed, N failed"
#   make demo    deps + all + the live demonstration
#   make bench   the benchmarks in bench/ (not part of check)
#   make install-libvirt-hook  the libvirt qemu hook into /etc/libvirt/hooks/qemu.d
#   make install [PREFIX=/usr/local] [DESTDIR=]   everything an operator installs
#                (after make all; docs/deploy.md); make uninstall removes it again
#   make install-nova / uninstall-nova  the Nova plugin (nova.virt.xpv) beside
#                python3-nova (openstack/install.sh; DESTDIR for packaging)
-include config.mk

TOP := $(CURDIR)
XPV_CACHE ?= /var/cache/xpv
# The guest kernel: Debian 12's 6.1 kernel (linux-image-amd64).
KVER ?= $(shell ls /lib/modules 2>/dev/null | grep -E '^6\.1\.[0-9]+-[0-9]+-amd64$$' | sort -V | tail -1)
KDIR ?= /lib/modules/$(KVER)/build
BUILD := $(TOP)/build
export XPV_CACHE KVER KDIR BUILD TOP

# Components build only once their directory has a Makefile.
SUBDIRS := $(patsubst %/Makefile,%,$(wildcard srl/Makefile kvm/Makefile guest-driver/Makefile))

.PHONY: all deps qemu libvirt $(SUBDIRS) check check-only demo bench clean format-check \
	install-libvirt-hook install uninstall install-nova uninstall-nova

all: qemu libvirt $(SUBDIRS)

deps:
	@if [ "$$(id -u)" = 0 ]; then scripts/install-deps.sh; else sudo scripts/install-deps.sh; fi

qemu:
	qemu/build.sh

# the patched libvirt (the <numainfo> device), cached like QEMU
libvirt:
	libvirt-hooks/build.sh

$(SUBDIRS):
	$(MAKE) -C $@

# guest-driver and kvm may use libxpv's header and library
kvm guest-driver: $(filter srl,$(SUBDIRS))

check: deps
	$(MAKE) all
	$(MAKE) check-only

check-only:
	tests/run.sh

demo: deps
	$(MAKE) all
	scripts/demo.sh

bench: all
	bench/run-all.sh

# The libvirt qemu hook (libvirt-hooks/README.md); libvirtd (or virtqemud)
# finds a new hook script only when it starts: restart it after the first
# install.  The settings file is installed only if absent.  libvirt looks
# for hooks in /etc/libvirt/hooks whatever the prefix; the settings name
# the installed xpvctl.
sysconfdir ?= /etc
install-libvirt-hook:
	install -D -m 0755 libvirt-hooks/qemu.d/xpv $(DESTDIR)$(sysconfdir)/libvirt/hooks/qemu.d/xpv
	[ -e $(DESTDIR)$(sysconfdir)/xpv/libvirt-hook.conf ] || { \
		install -d $(DESTDIR)$(sysconfdir)/xpv && \
		sed 's|^xpvctl=/usr/local/bin/xpvctl$$|xpvctl=$(bindir)/xpvctl|' libvirt-hooks/libvirt-hook.conf \
			>$(DESTDIR)$(sysconfdir)/xpv/libvirt-hook.conf; }

# make install: every component's own install rule into a staging tree
# (build/install-stage), then scripts/install-manifest.sh copies it into
# DESTDIR and records what it created in $(datadir)/xpv/install-manifest,
# which make uninstall reads (same PREFIX/datadir and DESTDIR).  Builds what
# it installs except the patched QEMU and libnuma, which it takes from their
# caches (make all first); INSTALL_QEMU=no leaves QEMU out.
PREFIX ?= /usr/local
bindir ?= $(PREFIX)/bin
sbindir ?= $(PREFIX)/sbin
libdir ?= $(PREFIX)/lib
includedir ?= $(PREFIX)/include
datadir ?= $(PREFIX)/share
mandir ?= $(datadir)/man
docdir ?= $(datadir)/doc/xpv
systemdunitdir ?= $(PREFIX)/lib/systemd/system
# xpv's private directory: the patched QEMU (its own prefix, for libvirt's
# <emulator>) and the patched libnuma (opted into with xpv-numa-run)
xpvlibdir ?= $(PREFIX)/lib/xpv
qemudir ?= $(xpvlibdir)/qemu
numadir ?= $(xpvlibdir)/numa
# DKMS takes module sources from /usr/src whatever the prefix
dkmssrcdir ?= /usr/src
dkms_version = $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' $(1))
GUEST_VERSION := $(call dkms_version,guest-driver/dkms.conf)
RXPOOL_VERSION := $(call dkms_version,guest-driver/rxpool/dkms.conf)
INSTALL_QEMU ?= yes
STAGE := $(BUILD)/install-stage
MANIFEST := $(datadir)/xpv/install-manifest

install:
	rm -rf $(STAGE)
	mkdir -p $(STAGE)
	$(MAKE) -C srl install DESTDIR=$(STAGE) PREFIX=$(PREFIX) LIBDIR=$(libdir) \
		INCLUDEDIR=$(includedir) BINDIR=$(bindir) MANDIR=$(mandir)
	$(MAKE) -C kvm install DESTDIR=$(STAGE) PREFIX=$(PREFIX) BINDIR=$(bindir) \
		SBINDIR=$(sbindir) MANDIR=$(mandir) SYSCONFDIR=$(sysconfdir) UNITDIR=$(systemdunitdir)
	install -D -m 0644 kvm/xpvd.example.json $(STAGE)$(docdir)/examples/xpvd.json
	$(MAKE) install-libvirt-hook DESTDIR=$(STAGE)
	@# the patched libnuma: srl/numactl/build.sh --install puts it in /usr only
	srl/numactl/build.sh
	install -d $(STAGE)$(numadir) $(STAGE)$(bindir)
	install -m 0644 $$(cat $(BUILD)/numactl-path)/libnuma.so.1.* $(STAGE)$(numadir)/
	ln -s $$(basename $$(cat $(BUILD)/numactl-path)/libnuma.so.1.*) $(STAGE)$(numadir)/libnuma.so.1
	sed 's|@LIBDIR@|$(numadir)|' srl/numactl/xpv-numa-run.in >$(STAGE)$(bindir)/xpv-numa-run
	chmod 0755 $(STAGE)$(bindir)/xpv-numa-run
	install -D -m 0644 srl/man/xpv-numa-run.1 $(STAGE)$(mandir)/man1/xpv-numa-run.1
	@# the guest modules' DKMS source trees, one DKMS package each (DKMS builds
	@# a package's modules all or none): virtio_numa for every kernel from 6.1,
	@# virtio_net_xpvpool for Debian 12's 6.1 only
	$(MAKE) -C guest-driver dkms-tree DEST=$(STAGE)$(dkmssrcdir)/xpv-guest-$(GUEST_VERSION)
	$(MAKE) -C guest-driver rxpool-dkms-tree DEST=$(STAGE)$(dkmssrcdir)/xpv-rxpool-$(RXPOOL_VERSION)
ifeq ($(INSTALL_QEMU),yes)
	@# the patched QEMU from its cache (never rebuilt here); its firmware path
	@# is Debian's (qemu-system-data, seabios, ipxe-qemu), see qemu/build.sh
	@test -f $(BUILD)/qemu-path || { echo "make install: no patched QEMU: make all (or qemu) first, or INSTALL_QEMU=no" >&2; exit 1; }
	install -D -m 0755 $$(cat $(BUILD)/qemu-path)/qemu-system-x86_64 $(STAGE)$(qemudir)/bin/qemu-system-x86_64
endif
	scripts/install-manifest.sh install $(STAGE) "$(DESTDIR)" $(MANIFEST) \
		--config $(sysconfdir)/xpvd.json --config $(sysconfdir)/xpv/libvirt-hook.conf

uninstall:
	scripts/install-manifest.sh uninstall "$(DESTDIR)" $(MANIFEST)

# The Nova plugin: nova/virt/xpv/ in python3-nova's tree plus an
# xpv_nova-VERSION.dist-info for its extra-spec validators' entry point
# (docs/integration.md, section 3).
install-nova:
	DESTDIR=$(DESTDIR) openstack/install.sh install

uninstall-nova:
	DESTDIR=$(DESTDIR) openstack/install.sh uninstall

format-check:
	@files=$$(git ls-files '*.c' '*.h' | grep -v '^qemu/'); \
	clang-format --dry-run --Werror $$files && echo "format-check: $$(echo $$files | wc -w) files clean"

clean:
	for d in $(SUBDIRS); do $(MAKE) -C $$d clean; done
	rm -rf $(BUILD)

# xpv: the only entry points are ./configure (optional) and this Makefile.
#   make deps    install build and test dependencies (Debian 12, root)
#   make all     build QEMU and libvirt (patched, cached), the guest driver, libxpv, xpvd
#   make check   deps + all + every test suite; ends with "N passed, N failed"
#   make demo    deps + all + the live demonstration
#   make bench   the benchmarks in bench/ (not part of check)
#   make install-libvirt-hook  the libvirt qemu hook into /etc/libvirt/hooks/qemu.d
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
	install-libvirt-hook install-nova uninstall-nova

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
# install.  The settings file is installed only if absent.
install-libvirt-hook:
	install -D -m 0755 libvirt-hooks/qemu.d/xpv $(DESTDIR)/etc/libvirt/hooks/qemu.d/xpv
	[ -e $(DESTDIR)/etc/xpv/libvirt-hook.conf ] || \
		install -D -m 0644 libvirt-hooks/libvirt-hook.conf $(DESTDIR)/etc/xpv/libvirt-hook.conf

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

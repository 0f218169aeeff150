# srl/alloc: allocator add-ons (included by srl/Makefile; paths relative to srl/).
#   build/libxpv-jemalloc.so.1      jemalloc add-on (LD_PRELOAD or -lxpv-jemalloc)
#   build/include/xpv/xpv-jemalloc.h
#   build/alloc/tests/test_xpv_jemalloc, build/asan/alloc/tests/test_xpv_jemalloc
# Built when Debian's libjemalloc-dev and libnuma-dev are installed.
HAVE_JEMALLOC := $(shell test -e /usr/include/jemalloc/jemalloc.h && test -e /usr/include/numaif.h && echo 1)

XJE_SONAME := libxpv-jemalloc.so.1
XJE_SRC := alloc/xpv-jemalloc.c
XJE_HDR := alloc/xpv-jemalloc.h
XJE_TEST := alloc/tests/test_xpv_jemalloc.c tests/fakepage.c

ifeq ($(HAVE_JEMALLOC),1)
ALLOC_TARGETS := $(B)/$(XJE_SONAME) $(B)/libxpv-jemalloc.so $(B)/include/xpv/xpv-jemalloc.h
ifeq ($(HAVE_CMOCKA),1)
ALLOC_TARGETS += $(B)/alloc/tests/test_xpv_jemalloc $(B)/asan/alloc/tests/test_xpv_jemalloc
endif
endif

# libxpv.a (PIC, hidden) is linked in, so the add-on needs no libxpv.so;
# alloc/xpv-jemalloc.map exports only malloc, calloc and xpv_jemalloc_*.
$(B)/$(XJE_SONAME): $(XJE_SRC) $(XJE_HDR) alloc/xpv-jemalloc.map $(B)/libxpv.a $(PUB_HDRS)
	$(CC) $(UCFLAGS) $(CFLAGS) -fPIC -fvisibility=hidden -pthread -shared \
		-Wl,-soname,$(XJE_SONAME) -Wl,--version-script=alloc/xpv-jemalloc.map \
		-Wl,--no-undefined $(LDFLAGS) -o $@ $(XJE_SRC) $(B)/libxpv.a -ljemalloc -lnuma

$(B)/libxpv-jemalloc.so: $(B)/$(XJE_SONAME)
	ln -sf $(XJE_SONAME) $@

$(B)/include/xpv/xpv-jemalloc.h: $(XJE_HDR)
	@mkdir -p $(@D)
	cp $< $@

$(B)/alloc/tests/test_xpv_jemalloc: $(XJE_TEST) tests/fakepage.h $(B)/$(XJE_SONAME)
	@mkdir -p $(@D)
	$(CC) $(UCFLAGS) $(CFLAGS) -pthread -o $@ $(XJE_TEST) \
		-L$(B) -l:$(XJE_SONAME) -Wl,-rpath,'$$ORIGIN/../..' -ljemalloc -lnuma -lcmocka

# ASan owns malloc here: the add-on's source is compiled in without its interposer.
$(B)/asan/alloc/tests/test_xpv_jemalloc: $(XJE_TEST) $(XJE_SRC) $(XJE_HDR) tests/fakepage.h \
		$(B)/asan/libxpv.a $(PUB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(UCFLAGS) -O1 -g $(SAN) -DXPV_JEMALLOC_NO_INTERPOSE -pthread -o $@ \
		$(XJE_TEST) $(XJE_SRC) $(B)/asan/libxpv.a -ljemalloc -lnuma -lcmocka

# make install also installs the add-on (when built): the library, its
# unversioned-symbol .so link and the header.
.PHONY: install-alloc
install: install-alloc
install-alloc: $(ALLOC_TARGETS)
ifeq ($(HAVE_JEMALLOC),1)
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR)/xpv
	install -m 755 $(B)/$(XJE_SONAME) $(DESTDIR)$(LIBDIR)/
	ln -sf $(XJE_SONAME) $(DESTDIR)$(LIBDIR)/libxpv-jemalloc.so
	install -m 644 $(B)/include/xpv/xpv-jemalloc.h $(DESTDIR)$(INCLUDEDIR)/xpv/
endif

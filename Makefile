# rag: one internal library (build/librag.a: base net llm embed store ingest
# rag) and the two programs built on it: build/rag (the command line, cli/)
# and build/ragd (the query daemon, ragd/). cli/ and ragd/ objects link only
# into their own program.
#
#   make deps    install packages (apt-get) and build the FAISS C API
#   make         build build/rag
#   make test    unit, golden and integration tests (runs `make deps` first)
#   make asan    the same tests under AddressSanitizer + UBSan (build-asan/)
#   make demo    deps, build, ingest the sample corpus, ask as two roles
#   make bench   benchmarks (never part of make test)
#   make install / make uninstall   the programs, example configs and systemd
#                units (PREFIX, DESTDIR, SYSCONFDIR, SYSTEMD_UNIT_DIR: below)
#
# WERROR=1 turns warnings into errors (CI sets it). BUILD=dir picks the build tree.

BUILD   ?= build
CC      ?= cc
SAN     ?=
OPT     ?= -O2
WERROR  ?=

MODULES := base net llm embed store ingest cluster rag
WARN    := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
           -Wno-format-nonliteral
ifeq ($(WERROR),1)
WARN    += -Werror
endif

# PDF extraction uses poppler (GPL); the build works without it and PDFs are
# then reported as unsupported. RAG_NO_PDF=1 leaves it out on purpose.
PKGS    := sqlite3 libpq libxml-2.0 libzip libarchive libcmark-gfm libutf8proc libcjson libcrypto \
           libpcre2-8 libmicrohttpd libcurl icu-uc icu-i18n gmime-3.0
ifneq ($(RAG_NO_PDF),1)
ifeq ($(shell pkg-config --exists poppler-glib && echo yes),yes)
PKGS    += poppler-glib
PDF_DEF := -DRAG_HAVE_POPPLER=1
endif
endif
# OCR of images and of scanned PDF pages uses tesseract and leptonica
# (Apache-2.0, BSD-2); the build works without them: images are then skipped
# ("OCR not built in") and PDFs without a text layer fail as unsupported.
# RAG_NO_OCR=1 leaves it out on purpose. Scanned PDF pages are rendered with
# cairo (poppler-glib's own dependency).
ifneq ($(RAG_NO_OCR),1)
ifeq ($(shell pkg-config --exists tesseract lept && echo yes),yes)
PKGS    += tesseract lept
PDF_DEF += -DRAG_HAVE_TESSERACT=1
endif
endif
ifeq ($(shell pkg-config --exists cairo && echo yes),yes)
PKGS    += cairo
PDF_DEF += -DRAG_HAVE_CAIRO=1
endif

# OpenBLAS is called single-threaded from the compute pool's workers (see
# llm/matmul.c): one pool does all parallel work.
BLAS_LIBS := -lopenblas

# Read when make starts: a target that installs packages (deps) and then
# builds must build in a new make, started after the install (see demo and
# test below), or these would be empty. A build without the packages stops
# at once naming them, rather than at the first missing header.
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
PKG_MISSING := $(shell for p in $(PKGS); do pkg-config --exists $$p 2>/dev/null || echo $$p; done)

# The FAISS C API built by `make deps` (scripts/deps.sh) lives in build/faiss
# whatever BUILD is, so that sanitizer builds reuse it. Only
# store/vindex_faiss.c includes its headers; every program linking librag.a
# links FAISS (static, C++ and OpenMP inside, hence -lstdc++ -lgomp). Debian's
# libfaiss.a is not built with the sanitizers: its own memory is not checked,
# ours is.
FAISS_DIR  := build/faiss
FAISS_LIBS := -L$(FAISS_DIR)/lib -lfaiss_c -lfaiss $(BLAS_LIBS) -lgomp -lstdc++ -lm

CFLAGS  := -std=c11 -D_GNU_SOURCE -g $(OPT) $(WARN) $(SAN) -I. $(PKG_CFLAGS) $(PDF_DEF) $(EXTRA_CFLAGS)
LDFLAGS := $(SAN) $(EXTRA_LDFLAGS)
LIBS    := $(FAISS_LIBS) $(PKG_LIBS) $(BLAS_LIBS) -lm -lpthread

LIB_SRCS  := $(foreach m,$(MODULES),$(wildcard $(m)/*.c))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
CLI_OBJS  := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard cli/*.c))
RAGD_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard ragd/*.c))
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
GOLDEN_SRCS := $(wildcard tests/golden/test_*.c)
GOLDEN_BINS := $(GOLDEN_SRCS:tests/golden/test_%.c=$(BUILD)/golden/test_%)
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tools/%)
FAISS_TEST := $(BUILD)/tests/test_faiss_capi
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)

# V=1 shows the full commands.
ifneq ($(V),1)
Q := @
endif

.PHONY: all deps test-deps test run-tests asan demo bench fuzz clean distclean format format-check pkg-check \
        install uninstall
.SECONDARY:
all: $(BUILD)/rag $(BUILD)/ragd

$(BUILD)/obj/%.o: %.c | pkg-check
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

# The SIMD kernels alone are compiled for their instruction sets; the rest
# stays generic x86-64 and llm/quant.c picks them at run time from what the
# CPU reports. Their dequantization must repeat the reference's roundings, so
# the compiler may not fuse multiplies and adds there behind our back; the
# vector math (llm/vecmath_*.c) places its fused operations itself, by
# intrinsic, for the same reason.
ifeq ($(shell uname -m),x86_64)
AVX2_FLAGS   := -mavx2 -mfma -mf16c -ffp-contract=off
AVX512_FLAGS := -mavx512f -mavx512bw -mavx512vl -mavx512dq $(AVX2_FLAGS)
$(BUILD)/obj/llm/quant_avx2.o $(BUILD)/obj/llm/vecmath_avx2.o $(BUILD)/obj/llm/qgemm_avx2.o: CFLAGS += $(AVX2_FLAGS)
$(BUILD)/obj/llm/quant_avx512.o $(BUILD)/obj/llm/vecmath_avx512.o $(BUILD)/obj/llm/qgemm_avx512.o: CFLAGS += $(AVX512_FLAGS)
# the packing of the integer prefill path is left to the vectorizer
$(BUILD)/obj/llm/qgemm_avx2.o $(BUILD)/obj/llm/qgemm_avx512.o: CFLAGS += -O3
endif

# The FAISS headers are system headers to us (-isystem): they declare
# functions without prototypes, which our warnings would refuse.
$(BUILD)/obj/store/vindex_faiss.o: CFLAGS += -isystem $(FAISS_DIR)/include
$(BUILD)/obj/store/vindex_faiss.o: $(FAISS_DIR)/lib/libfaiss_c.a

# The chat page is built into ragd/web.c by the assembler (.incbin).
$(BUILD)/obj/ragd/web.o: ragd/web/chat.html
$(BUILD)/obj/cli/pull.o: etc/models.conf

$(BUILD)/librag.a: $(LIB_OBJS)
	@rm -f $@
	@$(if $(Q),echo "  AR      $@")
	$(Q)ar rcs $@ $^

$(BUILD)/rag: $(CLI_OBJS) $(BUILD)/librag.a
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/ragd: $(RAGD_OBJS) $(BUILD)/librag.a
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/librag.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/obj/tests/faiss/%.o: tests/faiss/%.c $(FAISS_DIR)/lib/libfaiss_c.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS) -I$(FAISS_DIR)/include -c $< -o $@

$(FAISS_TEST): $(BUILD)/obj/tests/faiss/test_faiss_capi.o
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(FAISS_LIBS)

$(FAISS_DIR)/lib/libfaiss_c.a:
	@echo "$(FAISS_DIR)/lib/libfaiss_c.a is missing (the FAISS C API): run make deps first." >&2; exit 1

$(BUILD)/golden/%: $(BUILD)/obj/tests/golden/%.o $(BUILD)/librag.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tools/%: $(BUILD)/obj/tests/tools/%.o $(BUILD)/librag.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(BUILD)/librag.a
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

deps:
	./scripts/deps.sh

pkg-check:
	@$(if $(PKG_MISSING),echo "pkg-config finds no $(PKG_MISSING): run 'make deps' first (it installs them)" >&2; exit 1,:)

# What only the tests need: curl, Chromium, Node.js and tests/js's npm packages.
test-deps:
	./scripts/test-deps.sh

# Unit tests (one process each), golden tests against $RAG_TESTDATA, then
# integration tests driving the built programs. The last line reads
# "N passed, N failed". `make test` first makes sure the packages and the
# FAISS C API are there (scripts/deps.sh does nothing when they are).
test: deps test-deps
	$(MAKE) run-tests

run-tests: all $(UNIT_BINS) $(GOLDEN_BINS) $(TOOL_BINS) $(FAISS_TEST)
	BUILD=$(BUILD) ./tests/run.sh

# tests/lsan.supp names the leaks of other libraries LeakSanitizer must not count.
asan: deps test-deps
	LSAN_OPTIONS="$${LSAN_OPTIONS:+$$LSAN_OPTIONS:}suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0" \
	$(MAKE) BUILD=build-asan OPT=-O1 \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" run-tests

# deps installs, then a new make builds with what pkg-config finds now.
demo: deps
	$(MAKE) all
	./demo/run.sh

# libFuzzer (clang, ASan + UBSan), FUZZ_SECONDS each, over: the GGUF reader
# (seeds from fuzz/make_seeds.c), the tokenizers (the test data's
# vocabularies), and one target per document format (seeds from the tree or
# written by the recipe); findings land in build-fuzz/.
# The library is built with clang and the sanitizers into build-fuzz/.
FUZZ_SECONDS ?= 60
RAG_TESTDATA ?= ../shared/testdata
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
fuzz:
	$(MAKE) BUILD=build-fuzz CC=clang OPT=-O1 SAN="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" \
	  build-fuzz/librag.a
	@mkdir -p build-fuzz/corpus
	clang $(CFLAGS) $(FUZZ_SAN) -o build-fuzz/make_seeds fuzz/make_seeds.c build-fuzz/librag.a $(LIBS)
	./build-fuzz/make_seeds build-fuzz/corpus
	clang $(CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o build-fuzz/fuzz_gguf fuzz/fuzz_gguf.c \
	  build-fuzz/librag.a $(LIBS)
	cd build-fuzz && ./fuzz_gguf -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	  -print_final_stats=1 corpus
	clang $(CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o build-fuzz/fuzz_tokenizer \
	  fuzz/fuzz_tokenizer.c build-fuzz/librag.a $(LIBS)
	@mkdir -p build-fuzz/corpus-tok
	cd build-fuzz && RAG_TESTDATA=$(abspath $(RAG_TESTDATA)) ./fuzz_tokenizer \
	  -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 corpus-tok
	clang $(CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o build-fuzz/fuzz_archive \
	  fuzz/fuzz_archive.c build-fuzz/librag.a $(LIBS)
	./fuzz/archive_seeds.sh build-fuzz/corpus-arc
	cd build-fuzz && ./fuzz_archive -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	  -rss_limit_mb=4096 -print_final_stats=1 corpus-arc
	clang $(CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o build-fuzz/fuzz_markdown \
	  fuzz/fuzz_markdown.c build-fuzz/librag.a $(LIBS)
	@mkdir -p build-fuzz/corpus-md
	cp README.md demo/corpus/*/*.md build-fuzz/corpus-md/
	cd build-fuzz && ./fuzz_markdown -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	  -timeout=10 -print_final_stats=1 corpus-md
	clang $(CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o build-fuzz/fuzz_fts_tokenizer \
	  fuzz/fuzz_fts_tokenizer.c build-fuzz/librag.a $(LIBS)
	@mkdir -p build-fuzz/corpus-fts
	printf 'Dr. Smith paid 3.14 euros, e.g. for tea. Then he left! R\xc3\xa9sum\xc3\xa9 caf\xc3\xa9.' \
	  > build-fuzz/corpus-fts/en
	printf '\xe0\xb8\xa0\xe0\xb8\xb2\xe0\xb8\xa9\xe0\xb8\xb2\xe0\xb9\x84\xe0\xb8\x97\xe0\xb8\xa2 \xe0\xb8\x81\xe0\xb8\xb4\xe0\xb8\x99' \
	  > build-fuzz/corpus-fts/th
	printf '\xe6\x9d\xb1\xe4\xba\xac\xe3\x81\xaf\xe5\xa4\xa7\xe3\x81\x8d\xe3\x81\x84\xe3\x80\x82\xe7\xa5\x9e' \
	  > build-fuzz/corpus-fts/ja
	printf '\xe0\xa4\xaf\xe0\xa4\xb9 \xe0\xa4\xb9\xe0\xa5\x88\xe0\xa5\xa4 \xe1\x80\x99\xe1\x80\xbc\xe1\x80\x94\xe1\x80\xba\xe1\x81\x8b \xe1\x9e\x97\xe1\x9e\xb6\xe1\x9f\x94' \
	  > build-fuzz/corpus-fts/mixed
	cd build-fuzz && ./fuzz_fts_tokenizer -max_total_time=$(FUZZ_SECONDS) -max_len=4096 \
	  -print_final_stats=1 corpus-fts
	clang $(CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o build-fuzz/fuzz_email fuzz/fuzz_email.c \
	  build-fuzz/librag.a $(LIBS)
	@mkdir -p build-fuzz/corpus-email
	@printf 'From: A <a@x.org>\nTo: b@y.org\nSubject: =?UTF-8?Q?caf=C3=A9?=\nMessage-ID: <1@x>\nReferences: <0@x>\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: multipart/alternative; boundary=c\n\n--c\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\ncaf=E9\n> quoted\n-- \nsig\n--c\nContent-Type: text/html\n\n<p>hi</p>\n--c--\n--b\nContent-Type: text/plain; name=a.txt\nContent-Disposition: attachment; filename*=UTF-8'"''"'a%%2Fb.txt\nContent-Transfer-Encoding: base64\n\naGVsbG8K\n--b\nContent-Type: message/rfc822\n\nFrom: c@z\nSubject: inner\n\nbody\n--b--\n' > build-fuzz/corpus-email/seed1
	@printf 'From a@x Fri Mar  1 10:30:00 2024\nFrom: a@x\nMessage-ID: <1@x>\n\none\n>From here\n\nFrom b@x Fri Mar  1 11:00:00 2024\nFrom: b@x\nIn-Reply-To: <1@x>\n\ntwo\n' > build-fuzz/corpus-email/seed2
	cd build-fuzz && ./fuzz_email -max_total_time=$(FUZZ_SECONDS) -max_len=16384 \
	  -print_final_stats=1 corpus-email
	clang $(CFLAGS) $(FUZZ_SAN) -o build-fuzz/mkoffice tests/tools/mkoffice.c $(LIBS)
	clang $(CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o build-fuzz/fuzz_ooxml fuzz/fuzz_ooxml.c \
	  build-fuzz/librag.a $(LIBS)
	@mkdir -p build-fuzz/corpus-ooxml
	./build-fuzz/mkoffice build-fuzz/corpus-ooxml --seeds
	cd build-fuzz && ./fuzz_ooxml -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	  -print_final_stats=1 corpus-ooxml
	clang $(CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o build-fuzz/fuzz_rtf fuzz/fuzz_rtf.c \
	  build-fuzz/librag.a $(LIBS)
	@mkdir -p build-fuzz/corpus-rtf
	printf '{\\rtf1\\ansi\\ansicpg1252{\\fonttbl{\\f0 Arial;}}{\\stylesheet{\\s1 heading 1;}}{\\info{\\title T\\'"'"'e9}}\\pard\\s1 Head\\par\\pard Caf\\'"'"'e9 \\u8364? {\\b x}{\\pict 0a0b}{\\footnote n}\\cell a\\row\\par}' \
	  > build-fuzz/corpus-rtf/seed1.rtf
	printf '{\\rtf1\\ansicpg1251\\uc2 \\'"'"'cf\\'"'"'f0 \\u-10179\\u-9206 ab{\\*\\bkmkstart x}{\\bin2 {}}\\outlinelevel1 h\\line z\\par}' \
	  > build-fuzz/corpus-rtf/seed2.rtf
	cd build-fuzz && ./fuzz_rtf -max_total_time=$(FUZZ_SECONDS) -max_len=8192 \
	  -print_final_stats=1 corpus-rtf
	clang $(CFLAGS) $(FUZZ_SAN) -o build-fuzz/mkodf tests/tools/mkodf.c $(LIBS)
	clang $(CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o build-fuzz/fuzz_odf fuzz/fuzz_odf.c \
	  build-fuzz/librag.a $(LIBS)
	@mkdir -p build-fuzz/corpus-odf build-fuzz/odf-files
	./build-fuzz/mkodf build-fuzz/odf-files
	cp build-fuzz/odf-files/report.odt build-fuzz/odf-files/sheet.ods \
	  build-fuzz/odf-files/deck.odp build-fuzz/odf-files/book.epub build-fuzz/corpus-odf/
	for f in report.odt sheet.ods deck.odp; do { printf 0; unzip -p build-fuzz/odf-files/$$f \
	  content.xml; } > build-fuzz/corpus-odf/content-$$f.seed; done
	{ printf 1; unzip -p build-fuzz/odf-files/book.epub OEBPS/content.opf; } \
	  > build-fuzz/corpus-odf/opf.seed
	{ printf 2; unzip -p build-fuzz/odf-files/book.epub OEBPS/text/ch2.xhtml; } \
	  > build-fuzz/corpus-odf/chapter.seed
	cd build-fuzz && ./fuzz_odf -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	  -print_final_stats=1 corpus-odf
	clang $(CFLAGS) $(FUZZ_SAN) -o build-fuzz/mkscan tests/tools/mkscan.c $(LIBS)
	clang $(CFLAGS) $(FUZZ_SAN) -fsanitize=fuzzer -o build-fuzz/fuzz_image fuzz/fuzz_image.c \
	  build-fuzz/librag.a $(LIBS)
	@mkdir -p build-fuzz/corpus-img
	echo 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==' \
	  | base64 -d > build-fuzz/corpus-img/dot.png
	for k in png jpeg tiff; do LSAN_OPTIONS=detect_leaks=0 ./build-fuzz/mkscan $$k \
	  build-fuzz/corpus-img/scan.$$k --size 8 'Hi' || true; done
	cd build-fuzz && ./fuzz_image -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
	  -timeout=30 -print_final_stats=1 corpus-img

bench: all $(BENCH_BINS) $(BUILD)/tools/mkmodel
	./bench/run.sh

# ---- make install / make uninstall -------------------------------------------
# The same on every machine of a cluster, or into a staging tree (DESTDIR, for
# packages): $(PREFIX)/bin/rag and ragd as built; the example configs in
# $(SYSCONFDIR)/rag (/etc/rag whatever PREFIX is); the systemd units
# ragd.service and rag-worker.service, from the templates etc/*.service.in
# with @PREFIX@ and @SYSCONFDIR@ filled in, in SYSTEMD_UNIT_DIR; and the
# sysusers.d file that creates the user rag, in SYSUSERS_DIR. Units and
# sysusers go under $(PREFIX)/lib for PREFIX=/usr (a package's place), else
# under /etc, where systemd finds them whatever the prefix. The chat page is
# built into ragd: nothing else to install.
#
# A config already there is never overwritten: when it differs from the
# example, the example goes beside it as NAME.conf.dist. `make uninstall`
# (same variables, same tree) removes what install wrote: the programs, the
# units, the sysusers file, the .dist files, and each config still identical
# to its example; an edited config stays (it says so), as do the state in
# /var/lib/rag, the user rag and the administrator's rag.env / ragd.env.
PREFIX     ?= /usr/local
DESTDIR    ?=
SYSCONFDIR ?= /etc
ifeq ($(PREFIX),/usr)
SYSTEMD_UNIT_DIR ?= $(PREFIX)/lib/systemd/system
SYSUSERS_DIR     ?= $(PREFIX)/lib/sysusers.d
else
SYSTEMD_UNIT_DIR ?= $(SYSCONFDIR)/systemd/system
SYSUSERS_DIR     ?= $(SYSCONFDIR)/sysusers.d
endif
INSTALL    ?= install
INST_CONFS := rag.conf ragd.conf
INST_UNITS := ragd.service rag-worker.service
INST_BIN   = $(DESTDIR)$(PREFIX)/bin
INST_CONF  = $(DESTDIR)$(SYSCONFDIR)/rag
INST_UNIT  = $(DESTDIR)$(SYSTEMD_UNIT_DIR)
INST_USERS = $(DESTDIR)$(SYSUSERS_DIR)

install: all
	$(INSTALL) -d "$(INST_BIN)" "$(INST_CONF)" "$(INST_UNIT)" "$(INST_USERS)"
	$(INSTALL) -m 755 $(BUILD)/rag $(BUILD)/ragd "$(INST_BIN)/"
	@for f in $(INST_CONFS); do d="$(INST_CONF)/$$f"; \
	  if [ ! -e "$$d" ]; then $(INSTALL) -m 644 etc/$$f "$$d" && echo "  INSTALL $$d"; \
	  elif cmp -s etc/$$f "$$d"; then echo "  SAME    $$d"; \
	  else $(INSTALL) -m 644 etc/$$f "$$d.dist" && \
	    echo "  KEEP    $$d: it differs from the example, which is $$d.dist"; \
	  fi || exit 1; \
	done
	@for u in $(INST_UNITS); do d="$(INST_UNIT)/$$u"; \
	  sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' etc/$$u.in > "$$d.tmp" && \
	  chmod 644 "$$d.tmp" && mv -f "$$d.tmp" "$$d" && echo "  INSTALL $$d" || exit 1; \
	done
	$(INSTALL) -m 644 etc/sysusers-rag.conf "$(INST_USERS)/rag.conf"
	@$(if $(DESTDIR),:,echo "next (as root): systemd-sysusers && systemctl daemon-reload && systemctl enable --now ragd")

uninstall:
	rm -f "$(INST_BIN)/rag" "$(INST_BIN)/ragd" "$(INST_USERS)/rag.conf"
	rm -f $(foreach u,$(INST_UNITS),"$(INST_UNIT)/$(u)")
	@for f in $(INST_CONFS); do d="$(INST_CONF)/$$f"; rm -f "$$d.dist"; \
	  if [ ! -e "$$d" ]; then :; \
	  elif cmp -s etc/$$f "$$d"; then rm -f "$$d" && echo "  RM      $$d"; \
	  else echo "  KEEP    $$d: edited (it differs from etc/$$f)"; fi; \
	done
	@rmdir "$(INST_CONF)" 2>/dev/null || true

# Every C file of the tree follows .clang-format; CI runs format-check.
FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null || find base net llm embed store ingest rag cli ragd tests bench fuzz -name '*.[ch]')
format:
	clang-format -i $(FORMAT_FILES)

format-check:
	@clang-format --dry-run --Werror $(FORMAT_FILES) || { echo "format-check: run 'make format'" >&2; exit 1; }
	@echo "format-check: $(words $(FORMAT_FILES)) files follow .clang-format"

# Keeps build/faiss (made by `make deps`, slow to redo); `make distclean` removes all.
clean:
	@if [ -d build ]; then find build -mindepth 1 -maxdepth 1 ! -name faiss -exec rm -rf {} +; fi
	rm -rf build-asan build-fuzz

distclean:
	rm -rf build build-asan build-fuzz

-include $(wildcard $(BUILD)/obj/*/*.d $(BUILD)/obj/*/*/*.d)

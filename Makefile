# cordbank — build, run and test.
#
#   make            build every service, the Discord simulator, the load tools and cordbank-keygen
#                   (CURVE keys) into build/bin
#   make asan       the same with ASan+UBSan into build-asan/bin
#   make run        PostgreSQL + Redis + one instance of each service + the simulator
#   make test       every test suite on the normal build; unit, e2e and commands also on the
#                   ASan+UBSan build (tests/run.sh; under 15 min)
#   make test-asan  every test suite once on the ASan+UBSan build, LeakSanitizer on (tests/run.sh asan)
#   make valgrind   the five services under valgrind memcheck through a short load; exit 1 on a
#                   definite leak or a memcheck error (tests/valgrind/; load/reports/latest/valgrind.json)
#   make deps       install missing Debian packages (a no-op when all are present)
#   make bench      the standard benchmark set, cordbank beside the peer bot, redis-benchmark and
#                   pgbench in the same run: load/reports/<date>/ and load/reports/latest/ (load/bench.sh)
#   make soak       the soak scenario (DURATION=10m by default; DURATION=24h works)
#   make chaos      the chaos suite on a local cluster under load (about 4 min); writes
#                   load/reports/latest/chaos.json and chaos.md (a short run is in make test)
#   make bench-artillery  an Artillery run of signed interactions (load/artillery, npm ci there)
#   make bench-ledger  cordbank-ledger-load against one balance vs pgbench, same PostgreSQL
#   make bench-gateway events/s per core through the gateway's shards (100 simulated shards)
#   make lighthouse    Lighthouse scores of the metrics dashboard (services/metrics/lighthouse/run.sh)
#   make backup        a backup of the make run ledger into both pgBackRest repositories (TYPE=full|diff|incr)
#   make backup-verify check, verify, restore the newest backup into a scratch dir, check schema and invariants
#   make dr-drill      the primary destroyed under load and restored: RPO and RTO in load/reports/latest/dr.json
#   make images        the five service images with buildah (localhost/cordbank-<svc>:VERSION), smoke-checked,
#                      as OCI archives in build/images/ (deploy/image/; not part of make test)
#   make fuzz          every libFuzzer target (tests/fuzz/) for FUZZ_TIME s each (default 60), built
#                      with clang into build-fuzz/; load/reports/latest/fuzz.json (tests/fuzz/fuzz.mk)
#
# Sources generated from proto/*.proto live in $(BUILD)/gen and are never committed.

BUILD    ?= build
SANITIZE ?=
CC       ?= cc

SERVICES := gateway command balance cache metrics
PROTOS   := $(wildcard proto/*.proto)

# Debian packages the build, the local runner and the tests need.
DEB_PACKAGES := build-essential pkg-config libzmq3-dev libczmq-dev protobuf-c-compiler \
    libprotobuf-c-dev libpq-dev postgresql-15 postgresql-client-15 libhiredis-dev \
    redis-server redis-tools libwebsockets-dev libsodium-dev libjansson-dev zlib1g-dev \
    libcriterion-dev libcurl4-openssl-dev curl jq iproute2 procps util-linux chromium \
    prometheus gnuplot-nox valgrind pgbackrest

# The release, in cordbank_build_info, the REST User-Agent and the image tags.
VERSION := $(shell cat VERSION 2>/dev/null || echo dev)

CFLAGS_BASE := -DCB_VERSION='"$(VERSION)"' -std=c11 -D_GNU_SOURCE -Wall -Wextra -Wstrict-prototypes -Wwrite-strings \
    -Werror -g -I. -I$(BUILD)/gen
ifeq ($(SANITIZE),1)
CFLAGS_OPT  := -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS_OPT := -fsanitize=address,undefined
else
CFLAGS_OPT  := -O2
LDFLAGS_OPT :=
endif
CFLAGS  += $(CFLAGS_BASE) $(CFLAGS_OPT)
LDFLAGS += $(LDFLAGS_OPT)

COMMON_LIBS := -lczmq -lzmq -lprotobuf-c -lwebsockets -ljansson -lsodium -lpthread -lm
LIBS_gateway := -lhiredis -lcurl -lz
LIBS_command :=
LIBS_balance := -lpq
LIBS_cache   := -lhiredis
LIBS_metrics :=
LIBS_sim     := -lcurl -lz
LIBS_unit    := -lcriterion -lcurl -lpq -lz

GEN_C      := $(patsubst proto/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTOS))
GEN_H      := $(GEN_C:.c=.h)
GEN_OBJ    := $(patsubst $(BUILD)/gen/%.c,$(BUILD)/obj/gen/%.o,$(GEN_C))
COMMON_SRC := $(wildcard common/*.c)
COMMON_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(COMMON_SRC))
LIBCOMMON  := $(BUILD)/lib/libcordbank.a

BINS     := $(addprefix $(BUILD)/bin/cordbank-,$(SERVICES)) $(BUILD)/bin/cordbank-discord-sim \
    $(BUILD)/bin/cordbank-ledger-load $(BUILD)/bin/cordbank-load $(BUILD)/bin/cordbank-keygen
UNIT_SRC := $(wildcard tests/unit/*.c)
UNIT_BIN := $(BUILD)/bin/unit-tests

# Generated sources are never intermediate: make must not delete them.
.SECONDARY: $(GEN_C) $(GEN_H)

.PHONY: all asan deps run test test-asan valgrind test-unit test-integration bench soak chaos bench-artillery bench-ledger bench-cache bench-gateway lighthouse images backup backup-verify dr-drill clean format check-format fuzz
.DEFAULT_GOAL := all

all: $(BINS) $(UNIT_BIN)

asan:
	@$(MAKE) --no-print-directory BUILD=build-asan SANITIZE=1 all

deps:
	@deploy/deps.sh $(DEB_PACKAGES) nodejs
	@command -v npm >/dev/null || deploy/deps.sh npm
	@# discord.js for tests/integration/discordjs.sh: npm ci only when the lockfile is newer.
	@cd load/discordjs && { [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error; }
	@# pg and ioredis for the peer bot (load/peer), the same way.
	@cd load/peer && { [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error; }
	@# kubectl kustomize and the schema packages for tests/k8s/check.sh (any kubectl will do:
	@# Debian's kubernetes-client when there is none).
	@command -v kubectl >/dev/null || deploy/deps.sh kubernetes-client
	@cd tests/k8s && { [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error; }

$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: proto/%.proto
	@mkdir -p $(BUILD)/gen
	protoc-c --proto_path=proto --c_out=$(BUILD)/gen $<

# Generated code is not ours to warn about.
$(BUILD)/obj/gen/%.pb-c.o: $(BUILD)/gen/%.pb-c.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -g $(CFLAGS_OPT) -I$(BUILD)/gen -c $< -o $@

$(BUILD)/obj/%.o: %.c $(GEN_H)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIBCOMMON): $(COMMON_OBJ) $(GEN_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

# Each service: every .c under services/<name>/, plus common/.
define service_rule
$(1)_SRC := $$(wildcard services/$(1)/*.c)
$(1)_OBJ := $$(patsubst %.c,$(BUILD)/obj/%.o,$$($(1)_SRC))
$(BUILD)/bin/cordbank-$(1): $$($(1)_OBJ) $(LIBCOMMON)
	@mkdir -p $$(dir $$@)
	$(CC) $(LDFLAGS) -o $$@ $$($(1)_OBJ) $(LIBCOMMON) $$(LIBS_$(1)) $(COMMON_LIBS)
endef
$(foreach s,$(SERVICES),$(eval $(call service_rule,$(s))))

# balance carries its schema migrations inside the binary.
MIGRATIONS := $(sort $(wildcard services/balance/migrations/*.sql))
$(BUILD)/gen/balance_migrations.c: $(MIGRATIONS) deploy/embed-sql.sh
	@mkdir -p $(dir $@)
	deploy/embed-sql.sh $@ $(MIGRATIONS)
$(BUILD)/obj/gen/balance_migrations.o: $(BUILD)/gen/balance_migrations.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
balance_OBJ += $(BUILD)/obj/gen/balance_migrations.o
$(BUILD)/bin/cordbank-balance: $(BUILD)/obj/gen/balance_migrations.o

# metrics carries its dashboard (services/metrics/web) inside the binary.
DASHBOARD_ASSETS := $(sort $(wildcard $(addprefix services/metrics/web/*.,html js css svg)))
$(BUILD)/gen/metrics_assets.c: $(DASHBOARD_ASSETS) services/metrics/web/embed.sh
	@mkdir -p $(dir $@)
	services/metrics/web/embed.sh $@ $(DASHBOARD_ASSETS)
$(BUILD)/obj/gen/metrics_assets.o: $(BUILD)/gen/metrics_assets.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
metrics_OBJ += $(BUILD)/obj/gen/metrics_assets.o
$(BUILD)/bin/cordbank-metrics: $(BUILD)/obj/gen/metrics_assets.o

# The load engine draws Zipf members with the ledger load tool's zipf.c.
SIM_SRC := $(wildcard load/discord-sim/*.c) load/ledger-load/zipf.c
SIM_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(SIM_SRC))
$(BUILD)/bin/cordbank-discord-sim: $(SIM_OBJ) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(SIM_OBJ) $(LIBCOMMON) $(LIBS_sim) $(COMMON_LIBS)

# The benchmarks' load generator is the simulator's load engine with its own main.
LOAD_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard load/cordbank-load/*.c)) \
    $(filter-out $(BUILD)/obj/load/discord-sim/main.o,$(SIM_OBJ))
$(BUILD)/bin/cordbank-load: $(LOAD_OBJ) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(LOAD_OBJ) $(LIBCOMMON) $(LIBS_sim) $(COMMON_LIBS)

# The ledger load tool reuses the simulator's latency histogram.
LEDGER_LOAD_SRC := $(wildcard load/ledger-load/*.c)
LEDGER_LOAD_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(LEDGER_LOAD_SRC)) $(BUILD)/obj/load/discord-sim/histogram.o
$(BUILD)/bin/cordbank-ledger-load: $(LEDGER_LOAD_OBJ) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(LEDGER_LOAD_OBJ) $(LIBCOMMON) $(COMMON_LIBS)

# CURVE certificates for --curve (deploy/keygen; docs/operations.md).
KEYGEN_OBJ := $(BUILD)/obj/deploy/keygen/main.o
$(BUILD)/bin/cordbank-keygen: $(KEYGEN_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(KEYGEN_OBJ) -lczmq -lzmq

# One runner for every module's tests (run one: unit-tests --filter 'config/*').
# Pure service code that has unit tests is linked in by name.
UNIT_EXTRA := $(addprefix $(BUILD)/obj/services/command/,render.o options.o validate.o) $(addprefix $(BUILD)/obj/services/gateway/,discord_json.o signature.o zstream.o gateway_proto.o ratelimit.o commands.o interaction_check.o) \
    $(BUILD)/obj/services/balance/ledger_sql.o \
    $(addprefix $(BUILD)/obj/services/metrics/,labels.o red.o history.o aggregate.o alerts.o alert_rules.o summary.o)
UNIT_OBJ := $(patsubst %.c,$(BUILD)/obj/%.o,$(UNIT_SRC))
$(UNIT_BIN): $(UNIT_OBJ) $(UNIT_EXTRA) $(LIBCOMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(UNIT_OBJ) $(UNIT_EXTRA) $(LIBCOMMON) $(LIBS_unit) $(COMMON_LIBS)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# The two commands build on every core (JOBS=1 for a serial build).
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

run: deps
	@$(MAKE) --no-print-directory -s -j$(JOBS) all
	@deploy/local/run.sh

test: deps
	@$(MAKE) --no-print-directory -j$(JOBS) all
	@$(MAKE) --no-print-directory -j$(JOBS) asan
	@tests/run.sh

test-unit: all
	$(UNIT_BIN)

test-integration: all
	tests/integration/e2e.sh

bench: deps all
	load/bench.sh

soak: deps all
	SCENARIOS=soak load/bench.sh

chaos: deps all
	CHAOS=full tests/chaos/chaos.sh build/bin

# Artillery (npm, its own lockfile) only for this target, not for make test.
bench-artillery: deps all
	@cd load/artillery && { [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error; }
	load/artillery/run.sh

bench-ledger: all
	load/bench-ledger.sh

bench-cache: all
	load/bench-cache.sh

bench-gateway: all
	load/bench-gateway.sh

# Lighthouse (185 MB of npm packages) only for this target, not for make test.
lighthouse: deps all
	@cd services/metrics/lighthouse && { [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error; }
	services/metrics/lighthouse/run.sh

# Container images (buildah, debootstrap; no Docker engine, no registry): deploy/image/build.sh.
images:
	@deploy/deps.sh buildah debootstrap jq
	deploy/image/build.sh

# Backups of the make run ledger (deploy/backup/; docs/dr-runbook.md).
backup:
	deploy/backup/backup.sh $(TYPE)

backup-verify: all
	BALANCE_BIN=build/bin/cordbank-balance deploy/backup/verify.sh

dr-drill: deps all
	deploy/backup/dr-drill.sh build/bin

# Every suite on build-asan/bin (tests/run.sh asan; longer than make test).
test-asan: deps
	@$(MAKE) --no-print-directory -j$(JOBS) asan
	@tests/run.sh asan

# memcheck on the normal build (-O2 -g): services under valgrind, a short load, SIGTERM.
valgrind: deps
	@$(MAKE) --no-print-directory -j$(JOBS) all
	tests/valgrind/run.sh build/bin

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

check-format:
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-asan

# libFuzzer targets: make fuzz, fuzz-build, fuzz-seeds (build-fuzz/).
-include tests/fuzz/fuzz.mk

# tests/fuzz/fuzz.mk — libFuzzer targets, included by the Makefile.
#
#   make fuzz         every target for FUZZ_TIME seconds (default 60), one after the other,
#                     on a scratch copy of its corpus; load/reports/latest/fuzz.json;
#                     exit 1 when a target crashed (inputs kept in build-fuzz/artifacts/)
#   make fuzz-build   the targets only: build-fuzz/bin/fuzz-<target>
#   make fuzz-seeds   rewrites tests/fuzz/corpus/ from the seed generator (tests/fuzz/seeds.c)
#
# Everything builds with clang into build-fuzz/, apart from build/ and build-asan/: the
# project's sources with -fsanitize=fuzzer-no-link,address,undefined (so libFuzzer sees
# their coverage), each target (tests/fuzz/fuzz_<target>.c) linked with
# -fsanitize=fuzzer,address,undefined, and protoc-c's sources generated into build-fuzz/gen.

FUZZ_BUILD   := build-fuzz
FUZZ_CC      ?= clang
FUZZ_TIME    ?= 60
FUZZ_TARGETS := $(sort $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_BINS    := $(addprefix $(FUZZ_BUILD)/bin/fuzz-,$(FUZZ_TARGETS))

FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS  := -DCB_VERSION='"$(VERSION)"' -std=c11 -D_GNU_SOURCE -Wall -Wextra \
    -Wstrict-prototypes -Wwrite-strings -Werror -g -O1 -I. -I$(FUZZ_BUILD)/gen $(FUZZ_SAN)
FUZZ_LIBS    := -lczmq -lzmq -lprotobuf-c -lwebsockets -ljansson -lsodium -lz -lpthread -lm

FUZZ_GEN_C   := $(patsubst proto/%.proto,$(FUZZ_BUILD)/gen/%.pb-c.c,$(PROTOS))
FUZZ_GEN_H   := $(FUZZ_GEN_C:.c=.h)
# The pure service code the targets reach (no sockets, no threads, no I/O).
FUZZ_SVC_SRC := $(addprefix services/gateway/,discord_json.c gateway_proto.c zstream.c \
    signature.c interaction_check.c) $(addprefix services/command/,options.c validate.c \
    render.c) $(addprefix services/metrics/,aggregate.c red.c labels.c)
FUZZ_OBJ     := $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(COMMON_SRC) $(FUZZ_SVC_SRC)) \
    $(patsubst $(FUZZ_BUILD)/gen/%.c,$(FUZZ_BUILD)/obj/gen/%.o,$(FUZZ_GEN_C))
FUZZ_LIB     := $(FUZZ_BUILD)/lib/libcordbank-fuzz.a

.SECONDARY: $(FUZZ_GEN_C) $(FUZZ_GEN_H)
.PHONY: fuzz-build fuzz-seeds fuzz-clean

fuzz: fuzz-build
	@FUZZ_TIME=$(FUZZ_TIME) tests/fuzz/campaign.sh $(FUZZ_TARGETS)

fuzz-build: $(FUZZ_BINS)

$(FUZZ_BUILD)/gen/%.pb-c.c $(FUZZ_BUILD)/gen/%.pb-c.h: proto/%.proto
	@mkdir -p $(FUZZ_BUILD)/gen
	protoc-c --proto_path=proto --c_out=$(FUZZ_BUILD)/gen $<

$(FUZZ_BUILD)/obj/gen/%.pb-c.o: $(FUZZ_BUILD)/gen/%.pb-c.c $(FUZZ_GEN_H)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=c11 -g -O1 $(FUZZ_SAN) -fsanitize=fuzzer-no-link -I$(FUZZ_BUILD)/gen -c $< -o $@

$(FUZZ_BUILD)/obj/%.o: %.c $(FUZZ_GEN_H)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -MMD -MP -c $< -o $@

$(FUZZ_LIB): $(FUZZ_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/bin/fuzz-%: tests/fuzz/fuzz_%.c $(FUZZ_LIB)
	@mkdir -p $(dir $@) $(FUZZ_BUILD)/obj/tests/fuzz
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -MMD -MP -MF $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_$*.d \
	    -MT $@ -o $@ $< $(FUZZ_LIB) $(FUZZ_LIBS)

# The seed generator: a plain (unfuzzed) program on the same objects' sources,
# plus the Discord simulator's payload builders, run once by hand.
FUZZ_SEED_SRC := tests/fuzz/seeds.c load/discord-sim/interaction.c load/discord-sim/zstream.c
$(FUZZ_BUILD)/bin/fuzz-seeds: $(FUZZ_SEED_SRC) $(FUZZ_LIB)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -o $@ $(FUZZ_SEED_SRC) $(FUZZ_LIB) $(FUZZ_LIBS)

fuzz-seeds: $(FUZZ_BUILD)/bin/fuzz-seeds
	$(FUZZ_BUILD)/bin/fuzz-seeds tests/fuzz/corpus

fuzz-clean:
	rm -rf $(FUZZ_BUILD)

clean: fuzz-clean

-include $(shell find $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)

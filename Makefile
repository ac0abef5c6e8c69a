# The two commands a newcomer needs: `make run` and `make test`.
# Everything else (build, bench, clean) is here for developers.

MAKEFLAGS += --no-print-directory
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
TEST_BUILD ?= build-test
PORT ?= 8001
HOST ?= 127.0.0.1

FUZZ_SECONDS ?= 60

.PHONY: all run test build bench bench-graph deps clean format fuzz lint

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) --target sales-agent

run: build
	@mkdir -p var
	PORT=$(PORT) HOST=$(HOST) $(BUILD)/sales-agent serve --seed data/sample_leads.json

# The release build is compiled too (it is what `make run` serves, with the benchmarks so
# they cannot stop building unnoticed), then the sanitized build runs every test; ctest's
# summary is the last thing printed.
test: deps
	@scripts/deps.sh openapi
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DSA_BENCH=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	@cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSA_SANITIZE=ON -DSA_TESTS=ON >/dev/null
	@cmake --build $(TEST_BUILD) -j $(JOBS)
	@cd $(TEST_BUILD) && ctest --output-on-failure -j $(JOBS)

bench: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DSA_BENCH=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	@bench/run.sh $(BUILD)

# libFuzzer on each driver (request bodies, checkpoint records) for FUZZ_SECONDS each
# (needs clang; installs it if missing).
fuzz: deps
	@scripts/deps.sh clang
	@CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DSA_SANITIZE=ON -DSA_TESTS=ON -DSA_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target fuzz_invoke_body_lf fuzz_checkpoint_lf fuzz_csv_lf fuzz_reply_lf fuzz_template_lf fuzz_sending_lf fuzz_apollo_lf fuzz_mime_lf fuzz_mail_out_lf fuzz_imap_lf
	@for f in invoke_body checkpoint csv reply template sending apollo mime mail_out imap; do \
	  mkdir -p build-fuzz/corpus-$$f; \
	  build-fuzz/tests/fuzz_$${f}_lf -max_total_time=$(FUZZ_SECONDS) build-fuzz/corpus-$$f tests/fuzz/corpus/$$f || exit 1; \
	done

# Our graph engine against LangGraph.js (npm, bench/graph/package-lock.json), one run.
bench-graph: deps
	@command -v node >/dev/null || { echo "bench-graph needs Node.js (apt-get install nodejs npm)"; exit 1; }
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DSA_BENCH=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) --target bench_graph
	@bench/graph/run.sh $(BUILD)

# clang-tidy (the checks in .clang-tidy) on every src/**/*.c, with the compile database of
# the release build; any finding is an error, so this fails until there are none. Takes a
# few minutes: the static analyzer is most of it.
lint: deps
	@scripts/deps.sh lint
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@bash -o pipefail -c "find src -name '*.c' | sort | xargs -P $(JOBS) -n 1 clang-tidy -p $(BUILD) --quiet 2>&1 \
	  | { grep -v ' generated\.\$$' || true; }" || { echo "lint: clang-tidy findings above"; exit 1; }

clean:
	rm -rf $(BUILD) $(TEST_BUILD) build-fuzz

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

# The two commands a newcomer needs: `make run` and `make test`.
# Everything else (build, bench, clean) is here for developers.

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD ?= build
TEST_BUILD ?= build-test
PORT ?= 8001
HOST ?= 127.0.0.1

.PHONY: all run test build bench bench-score bench-http deps clean format

all: build

deps:
	@scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) --target sales-agent

run: build
	@mkdir -p var
	PORT=$(PORT) HOST=$(HOST) $(BUILD)/sales-agent serve --seed data/sample_leads.json

test: deps
	@cmake -S . -B $(TEST_BUILD) -DCMAKE_BUILD_TYPE=Debug -DSA_SANITIZE=ON -DSA_TESTS=ON >/dev/null
	@cmake --build $(TEST_BUILD) -j $(JOBS)
	@cd $(TEST_BUILD) && ctest --output-on-failure -j $(JOBS)

bench: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DSA_BENCH=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	@bench/run.sh $(BUILD)

clean:
	rm -rf $(BUILD) $(TEST_BUILD)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

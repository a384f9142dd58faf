# lifeboat — the commands the README names. Each is a script under scripts/.
#   make test [ARGS='-run TestX ./internal/blob/']   the whole suite, as CI runs it
#   make env                                        test services + a shell with LIFEBOAT_TEST_* set
#   make demo / make demo-stop                      lifeboat with a demo target under .lifeboat/
#   make bench                                      ~1 GB pipeline benchmark against local S3
#   make bench-api [ARGS='--duration 20s']          API pages over 100 000 runs and 5 000 000 log lines
#   make build                                      bin/lifeboat

ARGS ?=

.PHONY: test env demo demo-stop bench bench-api build

test:
	bash scripts/test.sh $(ARGS)

env:
	bash scripts/test.sh --shell

demo:
	bash scripts/demo.sh

demo-stop:
	bash scripts/demo.sh stop

bench:
	bash scripts/bench.sh $(ARGS)

bench-api:
	bash scripts/bench-api.sh $(ARGS)

build:
	go build -o bin/lifeboat ./cmd/server

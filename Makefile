# Two commands do everything on a fresh machine:
#   make run    set up, then start the tool with SQLite, local storage and the demo LMS
#   make test   set up, then run the whole test suite on SQLite and on PostgreSQL
.PHONY: run test setup bench

run:
	@bash .ci/setup
	@bash .ci/serve

test:
	@bash .ci/setup
	@bash .ci/test

setup:
	@bash .ci/setup

bench:
	@bash .ci/setup
	@bash bench/run_upload_bench.sh

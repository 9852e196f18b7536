# `make run` and `make test` do all set-up on a fresh machine (see scripts/setup.sh).
.PHONY: run test lint bench setup

run:
	@scripts/setup.sh app
	.venv/bin/python app.py

test:
	@scripts/setup.sh test
	.venv/bin/python -m pytest

lint:
	.venv/bin/ruff check medgemma admin tests benchmarks scripts app.py
	.venv/bin/ruff format --check medgemma admin tests benchmarks scripts app.py

bench:
	.venv/bin/python benchmarks/generation.py

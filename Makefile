# `make run` and `make test` do all set-up on a fresh machine (see scripts/setup.sh).
.PHONY: run test lint bench setup reference-adapter

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

# The shipped cited-answer adapter (medgemma/models/reference/): train, export its GGUF LoRA, ship the small
# files (about 1.5 h on 2 idle cores); then benchmarks/answers.py gives the model card's figures.
reference-adapter:
	@scripts/setup.sh test
	.venv/bin/python scripts/reference_adapter.py

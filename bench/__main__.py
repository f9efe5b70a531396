"""python -m bench: `make bench` (see bench/run.py)."""
from bench.run import main
from scripts.common import run_cli

run_cli(main)

"""``python -m per_cli`` runs the same program as ``per``."""

from per_cli.cli import main

if __name__ == "__main__":
    main(prog_name="per")

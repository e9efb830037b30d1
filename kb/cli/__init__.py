"""The `kb` command line (typer)."""

"""kb: search and compare Japanese municipal policy plans."""

__version__ = "0.1.0"

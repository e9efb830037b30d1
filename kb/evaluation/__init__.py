"""Recall evaluation over span-overlap judgements (ranx) and the `kb eval` report."""

"""Training kb's learned parts from question files (``kb model train-ranker``); never run by a search."""

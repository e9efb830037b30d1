"""Comparing two cities' plans: retrieval per city, measure alignment, rendering, threshold tuning."""

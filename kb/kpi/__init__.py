"""Structured KPI records (数値目標, KPI, 施策指標, 目標人口) read from the parsed plans."""

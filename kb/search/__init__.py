"""Ranking: query expansion, lexical + dense retrieval, fusion, diversification."""

"""Text analysis for lexical search (fugashi + unidic-lite lemmas)."""

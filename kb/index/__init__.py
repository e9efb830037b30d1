"""The on-disk index: build, storage format and loading, the lexical (bm25s) and dense (FAISS) parts."""

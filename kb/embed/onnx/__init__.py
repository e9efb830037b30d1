"""Torch-free query embeddings: the index's model exported once to ONNX, run by onnxruntime.

Why: importing torch + sentence-transformers takes several seconds and a forward pass
of one short query through PyTorch ~20-40 ms on two cores, which alone would break
``kb search``'s 2 s cold start and the 30 ms warm budget. Queries are short, so the
model is split in two at export time (by :func:`export_query_encoder`, run from
``kb build`` / ``kb model prepare`` while torch is loaded anyway):

* ``word_embeddings.npy``: the token-embedding table, memory-mapped at query time
  (250k × 384 floats for e5; only the ~20 rows a query uses are ever read);
* ``encoder.onnx`` (fp32) and ``encoder.int8.onnx`` (dynamic int8, per channel): the
  rest of the network from ``inputs_embeds`` to the pooled, L2-normalised vector,
  i.e. exactly what sentence-transformers computes (same pooling, same prompt);
* ``tokenizer-lite.json`` + ``pieces.npy``/``scores.npy``: the model's own normalizer and
  pre-tokenizer, plus its Unigram vocabulary, segmented by :class:`UnigramTokenizer`
  (the ``tokenizers`` Viterbi, re-done in Python), because building the
  ``tokenizers`` Unigram trie for a 250k vocabulary costs ~1 s per process.

Every export is checked against sentence-transformers before it is installed:
identical token ids on probe texts and cosine >= :data:`MIN_COSINE` per variant.
The folder is written to a temporary sibling and renamed, like the index.

Modules: :mod:`.layout` (where exports live, validity), :mod:`.tokenizer`,
:mod:`.export` (needs torch), :mod:`.runtime` (no torch).
"""

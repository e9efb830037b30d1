"""Embedding models: the Embedder protocol, sentence-transformers, the e5-q4 converter, the ONNX query encoder."""

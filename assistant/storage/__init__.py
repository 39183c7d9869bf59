"""The library: the document store (SQLite), the keyword index (BM25), the vectors (Chroma, local or
a server) and the embedder, behind ``library.Index``, which also runs the ingest steps and keeps the
question log. Imports core and ingest."""

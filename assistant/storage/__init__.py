"""The library: the document store (SQLite, or PostgreSQL), the keyword index (BM25), the vectors
(dense.py: a local Chroma or a server's) and the embedder, behind ``library.Index``, which runs the
ingest steps of ingest/steps.py, embeds and commits, and keeps the question log. Imports core and ingest."""

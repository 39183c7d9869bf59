"""From a file to chunks: reading (encodings, one module per format), cleaning and metadata,
sentence-aware chunking. Imports only core."""

"""From a question to a cited answer: the pipeline (pipeline.Reply), the jobs and routing, hybrid
retrieval, answerability and the reader, extractive answering, talking points, precedents, the LLM's
generation and judging, citing. Imports core, ingest and storage."""

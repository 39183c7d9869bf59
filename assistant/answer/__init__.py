"""From a question to a cited answer: the pipeline (pipeline.Reply), the jobs and routing, hybrid
retrieval, answerability and the reader, extractive answering, talking points, precedents, the LLM's
generation and judging, citing. Imports core, ingest and storage.

A threshold's ``# bench/thresholds.py (job): v → n`` line says what was measured: set to v alone, n of
the 124 answers of the dev, near-miss, own and holdout sets changed ("none": these sets do not
exercise it), and how many refusals went right or wrong."""

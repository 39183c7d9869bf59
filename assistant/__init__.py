"""党建知识助手: retrieval-augmented answers over Chinese organisational reports, with exact citations."""

__version__ = "0.1.0"

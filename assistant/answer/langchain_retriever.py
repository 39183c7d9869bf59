"""Hybrid retrieval (retrieval.retrieve) as a LangChain ``BaseRetriever``, for LangChain chains and
agents. Its own module: langchain_core's retriever stack takes most of a second to import, and
nothing on the way of a question needs it."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document as LCDocument
from langchain_core.retrievers import BaseRetriever

from .retrieval import Filters, retrieve


class HybridRetriever(BaseRetriever):
    """LangChain face of ``retrieve``: ``HybridRetriever(index=Index.open(settings)).invoke("…")``."""

    index: Any
    k: int = 5
    filters: Filters = Filters()

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[LCDocument]:
        hits = retrieve(self.index, query, k=self.k, filters=self.filters)
        return [
            LCDocument(
                id=h.chunk.chunk_id,
                page_content=h.chunk.text,
                metadata={
                    "doc_id": h.chunk.doc_id,
                    "title": h.meta.title,
                    "org": h.meta.org,
                    "date": h.meta.date,
                    "start": h.chunk.start,
                    "end": h.chunk.end,
                    "headings": list(h.chunk.headings),
                    "score": h.score,
                },
            )
            for h in hits
        ]

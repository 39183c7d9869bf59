"""Retrieval and answer metrics against a QA set with gold documents and verbatim evidence.

Evidence strings are compared after removing whitespace and folding traditional → simplified.
They are quoted from the raw files, so the "cleaned" form also strips the pinyin artefacts the
cleaner strips ("推進(jìn)" → "推進"); the strict form does not."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..core.chinese import squash
from ..ingest.cleaning import remove_pinyin


def load_items(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def evidence_form(s: str, strip_pinyin: bool = True) -> str:
    return squash(remove_pinyin(s) if strip_pinyin else s)


@dataclass
class Scores:
    answerable: int = 0
    recall: float = 0.0
    hit: int = 0
    hit_strict: int = 0
    evidence_total: int = 0
    evidence_found: int = 0
    refusal_ok: int = 0
    refusal_total: int = 0
    answered_ok: int = 0
    citations: int = 0
    citations_verbatim: int = 0
    misses: list[str] = field(default_factory=list)

    def add_retrieval(self, item: dict, docs: list[str], texts: list[str]) -> None:
        if not item["gold_docs"]:
            return
        self.answerable += 1
        self.recall += len(set(docs) & set(item["gold_docs"])) / len(item["gold_docs"])
        folded = [evidence_form(t) for t in texts]
        found = [any(evidence_form(e) in t for t in folded) for e in item["evidence"]]
        strict = [any(evidence_form(e, False) in t for t in folded) for e in item["evidence"]]
        self.hit += any(found)
        self.hit_strict += any(strict)
        self.evidence_total += len(found)
        self.evidence_found += sum(found)
        if not all(found) or set(item["gold_docs"]) - set(docs):
            self.misses.append(item["id"])

    def add(self, item: dict, ans, text_of) -> None:
        """One answer of the product: its top five retrieved chunks, its refusal, and whether each
        citation's quote is its report's text at its offsets (``text_of(doc_id)`` gives that text)."""
        top = ans.hits[:5]  # byline chunks added for questions about a report come after rank 5
        self.add_retrieval(item, [h.chunk.doc_id for h in top], [h.chunk.text for h in top])
        self.add_answer(item, ans.refused)
        for c in ans.citations:
            self.citations += 1
            self.citations_verbatim += text_of(c.doc_id)[c.start : c.end] == c.quote

    def add_answer(self, item: dict, refused: bool) -> None:
        if item["kind"] == "unanswerable" or not item["gold_docs"]:
            self.refusal_total += 1
            self.refusal_ok += refused
        else:
            self.answered_ok += not refused

    def summary(self) -> dict:
        n = max(1, self.answerable)
        return {
            "doc_recall@5": round(self.recall / n, 4),
            "evidence_hit@5": round(self.hit / n, 4),
            "evidence_hit@5_strict": round(self.hit_strict / n, 4),
            "evidence_coverage@5": round(self.evidence_found / max(1, self.evidence_total), 4),
            "unanswerable_refused": f"{self.refusal_ok}/{self.refusal_total}",
            "answerable_answered": f"{self.answered_ok}/{self.answerable}",
            "citations_verbatim": f"{self.citations_verbatim}/{self.citations}",
        }

"""The three jobs by name: qa (cited answer), points (发言要点), precedents (先例做法)."""

from __future__ import annotations

MODES = ("qa", "points", "precedents")


def run_mode(mode: str):
    """The function that answers a question in ``mode``: f(index, question, k=…, filters=…) -> Answer."""
    if mode == "points":
        from .drafting import draft_points

        return draft_points
    if mode == "precedents":
        from .precedents import find_precedents

        return find_precedents
    from .answering import answer

    return answer

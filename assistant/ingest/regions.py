"""Where each line OCR read stands in the cleaned text, so that a quote from a scanned page can be shown
on the scan, its lines boxed.

Cleaning changes what OCR read (running heads and boilerplate lines go, wrapped lines are joined, a
pinyin artefact is taken out), so a line is not looked up as a string: a page's lines, one after
another, are aligned with the page's cleaned text (difflib), and a line's place is where its aligned
characters fall. A line most of whose characters found no place was cleaned away and has none.
"""

from __future__ import annotations

from difflib import SequenceMatcher

from ..core.schema import Document, ScanPage

# A line is placed when at least this share of its characters align with the cleaned text. The lines of the scanned
# seeds (tests/test_ocr.py) align at 0.9 and more; a running head or a 备案 line that cleaning removed, at 0.
PLACED_SHARE = 0.5


def locate(doc: Document, ocr_lines: tuple, pictures: tuple[tuple[int, bytes], ...]) -> tuple[ScanPage, ...]:
    """The scanned pages of ``doc`` (``pictures``: (page, PNG)) with the place of each of their lines
    (``ocr_lines``: (page, ocr.OcrLine) in reading order) in ``doc.text``."""
    by_page: dict[int, list] = {}
    for page, line in ocr_lines:
        by_page.setdefault(page, []).append(line)
    starts = [0, *doc.meta.pages]
    out = []
    for page, picture in pictures:
        lo = starts[page - 1] if page - 1 < len(starts) else len(doc.text)
        hi = starts[page] if page < len(starts) else len(doc.text)
        out.append(ScanPage(page, picture, tuple(_place(by_page.get(page, []), doc.text, lo, hi))))
    return tuple(out)


def _place(lines: list, text: str, lo: int, hi: int) -> list[tuple[int, int, float, float, float, float]]:
    read = "".join(ln.text for ln in lines)
    where = [-1] * len(read)  # each read character's offset in text[lo:hi], -1 where it has none
    for a, b, size in SequenceMatcher(None, read, text[lo:hi], autojunk=False).get_matching_blocks():
        where[a : a + size] = range(lo + b, lo + b + size)
    placed, pos = [], 0
    for ln in lines:
        found = [w for w in where[pos : pos + len(ln.text)] if w >= 0]
        pos += len(ln.text)
        if found and len(found) >= PLACED_SHARE * len(ln.text.replace(" ", "")):
            placed.append((found[0], found[-1] + 1, *ln.box))
    return placed

"""Reading scanned pages and photos: rapidocr-onnxruntime (PP-OCRv4 Chinese text detection and
recognition, and a 0°/180° line classifier, all in its wheel, run by onnxruntime on the CPU).

A page image becomes lines of text in reading order:
- a page turned by 90° (its text lines stand upright in the image) or upside down is turned back
  first;
- the lines of a skewed page are ordered in the page's own frame (its text's median slant taken out);
- two columns are read one after the other (a line across both, a title, ends a band of them);
- the boxes of one row that stand far apart are the cells of a table row: ``cell | cell``;
- lines that a paragraph wrapped are joined back, as a PDF's are.

Each line keeps its box (as shares of the page's width and height, so any rendering of the page can
draw it) and the recogniser's confidence; a page whose characters were read with low confidence is
reported as such.
"""

from __future__ import annotations

import io
import logging
import math
import threading
from dataclasses import dataclass, replace
from functools import lru_cache
from statistics import median

import numpy as np
from PIL import Image

from ..core.errors import Unreadable
from .lines import join_wrapped

log = logging.getLogger(__name__)

# The longest side a page is read at, in pixels: rapidocr's own limit (max_side_len), where an A4 page stands at
# about 170 dpi. Larger images are scaled down before anything else, so a page never holds more than ~12 MB.
MAX_SIDE = 2000
# An image of more pixels is refused before it is decoded: an A3 page scanned at 600 dpi (7,016 × 9,921, 70 M)
# passes; a 20,000 × 20,000 "decompression bomb" (400 M, 1.2 GB once decoded) does not.
MAX_PIXELS = 80_000_000
# Lines the recogniser reads with less confidence than this are dropped (rapidocr's own text_score).
MIN_LINE_CONFIDENCE = 0.5
# A page whose characters were read with a mean confidence below this is flagged. Seed pages set at 150 dpi: clean,
# blurred by 1.5 px or with 8 % noise read at 0.97–0.99 (1 − CER 0.93–0.94); blurred by 2.5–3.5 px they read at
# 0.62–0.76 and almost nothing was right (1 − CER ≤ 0.02).
LOW_CONFIDENCE = 0.85
# Orientation: a page is turned by 90° when more than this share of its text boxes stand upright (taller than
# wide by UPRIGHT_RATIO), upside down when more than this share of its lines are read as turned by 180°.
TURNED_SHARE = 0.5
UPRIGHT_RATIO = 1.5
# Layout, in units of the page's median line height: boxes of one row further apart than CELL_GAP are a table's
# cells; a gap between columns is at least GUTTER wide, and a line wider than SPANNING of the page crosses them.
ROW_TOLERANCE = 0.5
CELL_GAP = 2.0
GUTTER = 1.5
SPANNING = 0.55
COLUMN_MIN_LINES = 3  # lines each side of a gutter for it to part two columns …
# … whose lines fill most of their column (median width at least this share of it): a table's cells, short in wide
# columns, are a table's, not columns of text.
COLUMN_FILL = 0.6
# The picture of a page kept for showing a quote's lines on the scan: its longer side PICTURE_SIDE pixels (an A4 page
# at 120 dpi, where the 12-point lines of a 150-dpi scan still read easily) in PICTURE_LEVELS greys, as a PNG. A seed
# page set at 150 or 300 dpi, with noise, keeps 69–75 KB so, made in 0.2 s (as a grey JPEG of quality 70: 270 KB;
# 1 bit: 44 KB, but a stamp or a shadow turns black): a 300-page scan keeps about 22 MB.
PICTURE_SIDE = 1400
PICTURE_LEVELS = 4

_ENGINE_LOCK = threading.Lock()  # one page at a time through the engine (its sessions use every core)


@dataclass(frozen=True)
class OcrLine:
    text: str
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 as shares of the page's width and height
    confidence: float


@dataclass(frozen=True)
class OcrPage:
    lines: tuple[OcrLine, ...]  # in reading order; a table row is one line of cells
    text: str  # the page's text: its lines, wrapped ones joined back into paragraphs
    turned: int = 0  # degrees the image was turned back (90, 180, 270) before reading
    confidence: float = 0.0  # mean over the page's characters
    picture: bytes = b""  # the page as read (turned back), a grey PNG: its lines' boxes are shares of it

    @property
    def low_confidence(self) -> bool:
        return bool(self.lines) and self.confidence < LOW_CONFIDENCE


@lru_cache(maxsize=1)
def _engine():
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as exc:  # a broken install: say what to do
        raise Unreadable("converter", f"needs OCR, and rapidocr-onnxruntime cannot be loaded ({exc}); "
                                      "reinstall the assistant (`pip install .`)") from None
    return RapidOCR(text_score=MIN_LINE_CONFIDENCE, max_side_len=MAX_SIDE)


def fit(image):
    """The image in RGB, scaled down so that its longer side is at most MAX_SIDE."""
    image = image.convert("RGB")
    scale = MAX_SIDE / max(image.size)
    if scale < 1:
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
    return image


def _detect(engine, bgr):
    boxes, _ = engine.text_det(bgr)
    return [] if boxes is None or len(boxes) == 0 else list(boxes)


def _upright_share(boxes) -> float:
    if not boxes:
        return 0.0
    upright = 0
    for b in boxes:
        w = math.dist(b[0], b[1])
        h = math.dist(b[0], b[3])
        upright += h > UPRIGHT_RATIO * w
    return upright / len(boxes)


def read_image(image) -> OcrPage:
    """OCR one page image (a PIL image of any size and mode)."""
    engine = _engine()
    page = fit(image)
    bgr = np.ascontiguousarray(np.asarray(page)[:, :, ::-1])
    turned = 0
    with _ENGINE_LOCK:
        boxes = _detect(engine, bgr)
        if _upright_share(boxes) > TURNED_SHARE:
            bgr, turned = np.ascontiguousarray(np.rot90(bgr, 1)), 90  # text that ran downwards now runs left to right
            boxes = _detect(engine, bgr)
        if not boxes:
            return OcrPage((), "", turned)
        boxes = engine.sorted_boxes(np.array(boxes))
        crops = engine.get_crop_img_list(bgr, boxes)
        crops, cls_res, _ = engine.text_cls(crops)
        if sum(label == "180" for label, _ in cls_res) > TURNED_SHARE * len(cls_res):
            bgr, turned = np.ascontiguousarray(np.rot90(bgr, 2)), (turned + 180) % 360
            boxes = _detect(engine, bgr)
            boxes = engine.sorted_boxes(np.array(boxes)) if boxes else []
            crops = engine.get_crop_img_list(bgr, boxes) if len(boxes) else []
            crops, cls_res, _ = engine.text_cls(crops) if crops else ([], [], 0)
        rec, _ = engine.text_rec(crops, False) if crops else ([], 0)
    h, w = bgr.shape[:2]
    items = [(text, float(score), [tuple(map(float, p)) for p in box])
             for box, (text, score) in zip(boxes, rec) if text.strip() and score >= MIN_LINE_CONFIDENCE]
    read = layout(items, w, h, turned)
    return replace(read, picture=picture(bgr)) if read.lines else read


def picture(bgr) -> bytes:
    """A page image (BGR pixels) as the PNG kept to show quotes on: longer side at most PICTURE_SIDE, in
    PICTURE_LEVELS greys."""
    grey = Image.fromarray(np.ascontiguousarray(bgr[:, :, ::-1])).convert("L")
    grey.thumbnail((PICTURE_SIDE, PICTURE_SIDE), Image.Resampling.LANCZOS)
    step = 255 / (PICTURE_LEVELS - 1)
    levels = grey.point(lambda v: round(round(v / step) * step)).quantize(colors=PICTURE_LEVELS)
    out = io.BytesIO()
    levels.save(out, "PNG", optimize=True, bits=max(1, (PICTURE_LEVELS - 1).bit_length()))
    return out.getvalue()


def layout(items: list[tuple[str, float, list[tuple[float, float]]]], width: int, height: int,
           turned: int = 0) -> OcrPage:
    """Recognised boxes (text, confidence, four corners in pixels) → the page's lines in reading order."""
    if not items:
        return OcrPage((), "", turned)
    # The text's slant: the median angle of the top edges of boxes clearly wider than tall.
    slants = [math.atan2(q[1][1] - q[0][1], q[1][0] - q[0][0]) for _, _, q in items
              if math.dist(q[0], q[1]) > 3 * math.dist(q[0], q[3])]
    angle = median(slants) if slants else 0.0
    cos, sin = math.cos(-angle), math.sin(-angle)
    boxes = []
    for text, conf, q in items:
        xs = [p[0] * cos - p[1] * sin for p in q]  # corners in the page's own (deskewed) frame
        ys = [p[0] * sin + p[1] * cos for p in q]
        boxes.append({"text": text, "conf": conf, "x0": min(xs), "x1": max(xs), "y0": min(ys), "y1": max(ys),
                      "box": (min(p[0] for p in q) / width, min(p[1] for p in q) / height,
                              max(p[0] for p in q) / width, max(p[1] for p in q) / height)})
    line_h = median(b["y1"] - b["y0"] for b in boxes) or 1.0
    left = min(b["x0"] for b in boxes)
    right = max(b["x1"] for b in boxes)
    span = max(right - left, 1.0)
    ordered: list[list[dict]] = []  # rows, in reading order
    band: list[dict] = []
    for b in sorted(boxes, key=lambda b: (b["y0"] + b["y1"]) / 2):
        if b["x1"] - b["x0"] > SPANNING * span:  # a line across the page ends a band of columns
            ordered += _band_rows(band, line_h, left, span)
            ordered += _rows([b], line_h)
            band = []
        else:
            band.append(b)
    ordered += _band_rows(band, line_h, left, span)

    lines: list[OcrLine] = []
    texts: list[str] = []
    run: list[str] = []  # consecutive prose lines, joined where a paragraph wrapped
    for row in ordered:
        cells = _cells(row, line_h)
        text = " | ".join(cells)
        box = (min(b["box"][0] for b in row), min(b["box"][1] for b in row),
               max(b["box"][2] for b in row), max(b["box"][3] for b in row))
        chars = sum(len(b["text"]) for b in row)
        conf = sum(b["conf"] * len(b["text"]) for b in row) / max(chars, 1)
        lines.append(OcrLine(text, box, round(conf, 4)))
        if len(cells) > 1:  # a table row stands alone
            texts += join_wrapped(run) + [text]
            run = []
        else:
            run.append(text)
    texts += join_wrapped(run)
    total = sum(len(ln.text) for ln in lines)
    mean = sum(ln.confidence * len(ln.text) for ln in lines) / max(total, 1)
    return OcrPage(tuple(lines), "\n".join(texts), turned, round(mean, 4))


def _band_rows(band: list[dict], line_h: float, left: float, span: float) -> list[list[dict]]:
    """The rows of a band of the page between lines across it: its left column's, then its right
    column's when a gutter parts them."""
    if not band:
        return []
    gutter = _gutter(band, line_h, left, span)
    if gutter is None:
        return _rows(band, line_h)
    return _rows([b for b in band if b["x1"] <= gutter], line_h) + _rows([b for b in band if b["x1"] > gutter], line_h)


def _gutter(band: list[dict], line_h: float, left: float, span: float) -> float | None:
    """An x between the middle quarters of the page that no box of the band crosses, with a gap of at
    least GUTTER line heights around it and COLUMN_MIN_LINES boxes on each side; None when there is none."""
    edges = sorted((b["x0"], b["x1"]) for b in band)
    best, reach = None, edges[0][1]
    for x0, x1 in edges[1:]:
        if x0 - reach >= GUTTER * line_h:
            mid = (x0 + reach) / 2
            if left + span / 4 <= mid <= left + 3 * span / 4:
                lefts = [b["x1"] - b["x0"] for b in band if b["x1"] <= mid]
                rights = [b["x1"] - b["x0"] for b in band if b["x1"] > mid]
                if (len(lefts) >= COLUMN_MIN_LINES and len(rights) >= COLUMN_MIN_LINES
                        and median(lefts) >= COLUMN_FILL * (mid - left)
                        and median(rights) >= COLUMN_FILL * (left + span - mid)):
                    best = mid
        reach = max(reach, x1)
    return best


def _rows(boxes: list[dict], line_h: float) -> list[list[dict]]:
    """Boxes grouped into rows (centres within ROW_TOLERANCE line heights), top to bottom, each left to right."""
    rows: list[list[dict]] = []
    for b in sorted(boxes, key=lambda b: (b["y0"] + b["y1"]) / 2):
        cy = (b["y0"] + b["y1"]) / 2
        if rows and abs(cy - rows[-1][0]["cy"]) <= ROW_TOLERANCE * line_h:
            rows[-1].append(b)
        else:
            rows.append([b])
        b["cy"] = rows[-1][0].get("cy", cy)
    return [sorted(r, key=lambda b: b["x0"]) for r in rows]


def _cells(row: list[dict], line_h: float) -> list[str]:
    """A row's text: boxes close together are one piece of text, those CELL_GAP apart are cells."""
    cells = [row[0]["text"]]
    for a, b in zip(row, row[1:]):
        if b["x0"] - a["x1"] > CELL_GAP * line_h:
            cells.append(b["text"])
        else:
            sep = " " if cells[-1][-1:].isascii() and cells[-1][-1:].isalnum() and b["text"][:1].isascii() else ""
            cells[-1] += sep + b["text"]
    return [c.strip() for c in cells]

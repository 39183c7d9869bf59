"""Scans made at test time: text set in a CJK font (WenQuanYi, installed by `make converters`) on A4
pages at a given resolution, optionally with noise, a slight skew or a page turned by 90°, saved as
images, multi-page TIFFs or image-only PDFs. Each page keeps the text it shows, for measuring OCR."""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONTS = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
         "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
A4 = (8.27, 11.69)  # inches


def font_path() -> str:
    for f in FONTS:
        if Path(f).exists():
            return f
    raise FileNotFoundError("no CJK font: run `make converters` (fonts-wqy-microhei)")


@dataclass
class Page:
    image: Image.Image
    text: str  # the lines shown, one per line, as set


def set_pages(text: str, dpi: int = 150, size_pt: float = 12, columns: int = 1, max_pages: int = 0) -> list[Page]:
    """``text`` (paragraphs one a line) set on A4 pages at ``dpi``: 1-inch margins, ``size_pt`` type."""
    w, h = round(A4[0] * dpi), round(A4[1] * dpi)
    px = round(size_pt / 72 * dpi)
    font = ImageFont.truetype(font_path(), px)
    margin, lead = dpi, round(px * 1.6)
    gap = round(dpi * 0.3)
    col_w = (w - 2 * margin - (columns - 1) * gap) // columns
    probe = ImageDraw.Draw(Image.new("L", (10, 10)))
    lines: list[str] = []
    for para in text.split("\n"):
        para = para.strip()
        if not para:
            continue
        line = ""
        for ch in para:
            if probe.textlength(line + ch, font=font) > col_w:
                lines.append(line)
                line = ch
            else:
                line += ch
        lines.append(line)
    per_col = (h - 2 * margin) // lead
    pages, i = [], 0
    while i < len(lines) and (not max_pages or len(pages) < max_pages):
        img = Image.new("L", (w, h), 255)
        d = ImageDraw.Draw(img)
        shown = []
        for c in range(columns):
            for r in range(per_col):
                if i >= len(lines):
                    break
                d.text((margin + c * (col_w + gap), margin + r * lead), lines[i], font=font, fill=0)
                shown.append(lines[i])
                i += 1
        pages.append(Page(img, "\n".join(shown)))
    return pages


def degrade(img: Image.Image, seed: int = 0, skew: float = 0.0, noise: float = 0.0, turn: int = 0,
            blur: float = 0.0) -> Image.Image:
    """A scanner's faults: ``skew`` degrees of slant, salt-and-pepper ``noise`` (share of pixels),
    a slight blur, and the page turned by ``turn`` degrees (90: its top to the left)."""
    if skew:
        img = img.rotate(skew, resample=Image.BICUBIC, expand=False, fillcolor=255)
    if blur:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    if noise:
        rng = random.Random(seed)
        px = img.load()
        w, h = img.size
        for _ in range(int(noise * w * h)):
            px[rng.randrange(w), rng.randrange(h)] = rng.choice((0, 255))
    if turn:
        img = img.rotate(turn, expand=True)
    return img


def save_pdf(images: list[Image.Image], path: Path, dpi: int) -> Path:
    """An image-only PDF (no text layer): what a scanner makes."""
    images = [im.convert("RGB") for im in images]
    images[0].save(path, save_all=True, append_images=images[1:], resolution=dpi)
    return path


def save_tiff(images: list[Image.Image], path: Path, dpi: int) -> Path:
    images[0].save(path, save_all=True, append_images=images[1:], dpi=(dpi, dpi), compression="tiff_deflate")
    return path


def same_form(text: str) -> str:
    """Text without white space and with full-width and half-width forms made one (NFKC): the seeds write
    ASCII commas where OCR reads the full-width ones a Chinese page shows, which is no error of reading."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def cer(reference: str, read: str) -> float:
    """Character error rate: edit distance over the reference's characters (same_form of both)."""
    ref = same_form(reference)
    hyp = same_form(read)
    prev = list(range(len(hyp) + 1))
    for i, a in enumerate(ref, 1):
        cur = [i] + [0] * len(hyp)
        for j, b in enumerate(hyp, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a != b))
        prev = cur
    return prev[-1] / max(len(ref), 1)

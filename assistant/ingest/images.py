"""Scans and photos as documents: .jpg/.jpeg/.png/.bmp/.webp images and .tif/.tiff files of one or
many pages, read by OCR (ocr.py) one page at a time, so a 300-page scan needs no more memory than one
page. A photo is turned as its camera recorded (EXIF). What cannot be read is refused with a reason:
an image too large to decode safely, a damaged file, or one in which OCR finds no text."""

from __future__ import annotations

import io
import logging
import warnings
from typing import Callable, Iterator

from PIL import Image, ImageOps, UnidentifiedImageError

from ..core.errors import Unreadable
from .converted import Converted, reason
from .ocr import MAX_PIXELS, OcrPage, read_image

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
KINDS = {".jpeg": "jpg", ".tiff": "tif"}  # a document's kind for each spelling of a suffix (schema.PAGED_KINDS)
MAX_FRAMES = 2000  # pages of one TIFF, as for a PDF (pdf.MAX_PDF_PAGES)


def _open(data: bytes, suffix: str):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            image.size  # noqa: B018 - the header is read; nothing is decoded yet
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise Unreadable("size", f"is an image of more than {MAX_PIXELS // 1_000_000} million pixels; scan or save it "
                                 "at a lower resolution (300 dpi is plenty) and ingest that", format=suffix)
    except Exception as exc:  # noqa: BLE001 - PIL raises UnidentifiedImageError, OSError, SyntaxError …
        why = "no image format it knows" if isinstance(exc, UnidentifiedImageError) else reason(exc)
        raise Unreadable("corrupt", f"is not an image that can be read ({why}); open it in an image viewer, save "
                                    "it again (as .png or .jpg) and ingest that", format=suffix)
    return image


def frames(data: bytes, suffix: str) -> tuple[int, Iterator]:
    """How many pages the image holds, and the pages one at a time (each checked for size and decoded
    only when its turn comes)."""
    image = _open(data, suffix)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # PIL warns of corrupt EXIF data before it fails
            count = getattr(image, "n_frames", 1)  # a TIFF reads every page's header to count them
    except Exception as exc:  # noqa: BLE001 - a page whose header is cut off or damaged
        raise Unreadable("corrupt", f"is a damaged image (its pages cannot be counted: {reason(exc)}); scan or save "
                                    "it again and ingest that", format=suffix)
    if count > MAX_FRAMES:
        raise Unreadable("size", f"has {count} pages, over the {MAX_FRAMES}-page limit; split it and ingest the "
                                 "parts", pages=count, limit=MAX_FRAMES)

    def pages():
        for n in range(count):
            try:
                image.seek(n)
                w, h = image.size
                if w * h > MAX_PIXELS:
                    raise Unreadable("size", f"has a page of {w} × {h} pixels, over the {MAX_PIXELS // 1_000_000} "
                                             "million-pixel limit; scan it at a lower resolution (300 dpi is "
                                             "plenty) and ingest that", format=suffix, width=w, height=h)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                    page = ImageOps.exif_transpose(image) if n == 0 else image.copy()
                    page.load()
            except Unreadable:
                raise
            except Exception as exc:  # noqa: BLE001 - a truncated or damaged frame
                raise Unreadable("corrupt", f"is a damaged image (page {n + 1} of {count} cannot be decoded: "
                                            f"{reason(exc)}); scan or save it again and ingest that",
                                 format=suffix, page=n + 1)
            yield page

    return count, pages()


def ocr_text(pages: list[OcrPage]) -> tuple[str, tuple[int, ...]]:
    """The pages' text, one form feed between pages, and the (1-based) pages read with low confidence."""
    return "\f".join(p.text for p in pages), tuple(n for n, p in enumerate(pages, 1) if p.low_confidence)


def read_picture(data: bytes, suffix: str, progress: Callable[[int, int], None] | None = None) -> Converted:
    """An image file read by OCR, page by page."""
    count, pages = frames(data, suffix)
    read: list[OcrPage] = []
    for n, page in enumerate(pages, 1):
        read.append(read_image(page))
        del page
        if progress:
            progress(n, count)
    text, low = ocr_text(read)
    if not text.replace("\f", "").strip():
        raise Unreadable("no_text", "is an image in which OCR finds no text (a photo, a drawing, or a scan too faint "
                                    "or blurred to read); scan the page again, sharper, at 300 dpi", format=suffix)
    return Converted(text=text, kind=KINDS.get(suffix, suffix.lstrip(".")), pages=count,
                     ocr_pages=tuple(range(1, count + 1)), low_confidence=low,
                     ocr_lines=tuple((n, ln) for n, p in enumerate(read, 1) for ln in p.lines),
                     pictures=tuple((n, p.picture) for n, p in enumerate(read, 1) if p.picture))

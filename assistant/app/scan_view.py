"""A quote from a scanned page shown on the scan: the band of the page picture that holds the quoted
lines, each of them boxed, as an image to put under the quote (a data: URL, so the page needs no
route of its own and the login that guards the page guards it)."""

from __future__ import annotations

import base64
import io

from PIL import Image, ImageDraw

from ..core.schema import Citation

# The band shown: the quoted lines and this share of the page above and below them (about two lines of a 12-point
# A4 page) and beside the page's text, at most BAND_SHARE of the page high (a longer quote is shown from its start).
MARGIN_SHARE = 0.03
BAND_SHARE = 0.45
BOX_PAD = 0.004  # the box stands this share of the page's width and height outside the line's own box
BOX_COLOUR = (217, 119, 6)  # the page's flash colour (#d97706), which stands out from a grey scan
BOX_WIDTH = 3  # pixels
COLOURS = 16  # the band is stored with this many colours (grey levels and the box's): a few KB a band


def band(picture: bytes, boxes: list[tuple[float, float, float, float]], left: float = 0.0,
         right: float = 1.0) -> bytes:
    """The band of ``picture`` (a page's PNG) around ``boxes`` (shares of the page), each boxed, from
    ``left`` to ``right`` (shares: the page's text, not its margins), as a PNG."""
    page = Image.open(io.BytesIO(picture)).convert("RGB")
    w, h = page.size
    draw = ImageDraw.Draw(page)
    for x0, y0, x1, y1 in boxes:
        draw.rectangle(((x0 - BOX_PAD) * w, (y0 - BOX_PAD) * h, (x1 + BOX_PAD) * w, (y1 + BOX_PAD) * h),
                       outline=BOX_COLOUR, width=BOX_WIDTH)
    top = max(0.0, min(b[1] for b in boxes) - MARGIN_SHARE)
    bottom = min(1.0, max(b[3] for b in boxes) + MARGIN_SHARE, top + BAND_SHARE)
    left = max(0.0, min(left, *(b[0] for b in boxes)) - MARGIN_SHARE)
    right = min(1.0, max(right, *(b[2] for b in boxes)) + MARGIN_SHARE)
    crop = page.crop((round(left * w), round(top * h), round(right * w), round(bottom * h)))
    out = io.BytesIO()
    crop.convert("P", palette=Image.Palette.ADAPTIVE, colors=COLOURS).save(out, "PNG", optimize=True)
    return out.getvalue()


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def scan_regions(store, c: Citation) -> list[tuple[int, str]]:
    """(page, data: URL of its band) for each scanned page a citation's quote stands on; [] when its
    document was not read by OCR (or is gone)."""
    meta = store.metas().get(c.doc_id)
    if meta is None or not meta.ocr_pages:
        return []
    out = []
    for page in range(meta.page_of(c.start), meta.page_of(max(c.start, c.end - 1)) + 1):
        if page not in meta.ocr_pages:
            continue
        scan = store.scan_page(c.doc_id, page)
        boxes = scan.lines_in(c.start, c.end) if scan is not None else []
        if boxes:  # the band as wide as the page's text (its lines'), not its margins
            left, right = min(ln[2] for ln in scan.lines), max(ln[4] for ln in scan.lines)
            out.append((page, data_url(band(scan.picture, boxes, left, right))))
    return out

"""Read .txt/.md files from disk: encoding detection (UTF-8 ± BOM, GB18030/GBK, Big5) and sanity checks."""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

from .errors import AssistantError

SUFFIXES = (".txt", ".md")


class Unreadable(AssistantError):
    """Why a file cannot be ingested: ``kind`` names the failed check (type, empty, size, binary,
    encoding, no_text) and ``detail`` its figures, so each front end can say it in its own words."""

    def __init__(self, kind: str, message: str, **detail):
        super().__init__(message)
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True)
class RawFile:
    path: Path
    text: str
    encoding: str
    data: bytes


@dataclass(frozen=True)
class Skipped:
    path: Path
    reason: str


def decode(data: bytes) -> tuple[str, str]:
    """Return (text, encoding). Raises Unreadable when the bytes are not text we can read."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="strict"), "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    if b"\x00" in data[:8192]:
        raise Unreadable("binary", "looks like a binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8", errors="strict"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data, cp_isolation=["gb18030", "big5"]).best()
    if best is None:
        raise Unreadable("encoding", "is not UTF-8, GB18030/GBK or Big5 text")
    encoding = "big5" if best.encoding.startswith("big5") else "gb18030"
    return data.decode(encoding, errors="strict"), encoding


def read_file(path: Path, max_bytes: int) -> RawFile:
    """Read one file; Unreadable carries the reason it cannot be ingested."""
    if path.suffix.lower() not in SUFFIXES:
        raise Unreadable("type", f"unsupported file type {path.suffix or '(none)'}; only .txt and .md are read",
                         suffix=path.suffix)
    size = path.stat().st_size
    if size == 0:
        raise Unreadable("empty", "is empty")
    if size > max_bytes:
        raise Unreadable("size", f"is {size // 1024} KiB, over the {max_bytes // 1024} KiB limit", size=size,
                         limit=max_bytes)
    data = path.read_bytes()
    try:
        text, encoding = decode(data)
    except UnicodeDecodeError:
        raise Unreadable("encoding", "cannot be decoded as UTF-8, GB18030/GBK or Big5 text")
    controls = sum(1 for ch in text[:4096] if ord(ch) < 32 and ch not in "\n\r\t\f")
    if controls > 8:
        raise Unreadable("binary", "looks like a binary file (control characters)")
    if not text.strip():
        raise Unreadable("no_text", "has no text")
    return RawFile(path=path, text=text, encoding=encoding, data=data)


def discover(paths: list[Path]) -> tuple[list[Path], list[Skipped]]:
    """Expand directories into their .txt/.md files (sorted); report what does not exist."""
    files: list[Path] = []
    skipped: list[Skipped] = []
    for p in paths:
        if not p.exists():
            raise AssistantError(f"path does not exist: {p} — check the spelling or pass an existing file or folder")
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and not f.name.startswith("."):
                    if f.suffix.lower() in SUFFIXES:
                        files.append(f)
                    else:
                        skipped.append(Skipped(f, f"unsupported file type {f.suffix or '(none)'}"))
        else:
            files.append(p)
    return files, skipped

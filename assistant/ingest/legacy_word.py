"""Word 97-2003 .doc and WPS files, through the first external converter installed (antiword, catdoc,
LibreOffice), each bounded in time and killed with its process group."""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from ..core.errors import Unreadable
from .converted import OLE, Converted, plain, reason

log = logging.getLogger(__name__)

_CONVERTER_HELP = {
    ".doc": "reading .doc needs antiword, catdoc or LibreOffice: `apt-get install antiword` "
            "(or catdoc / libreoffice-writer-nogui), or save the file as .docx in Word/WPS",
    ".wps": "reading .wps needs catdoc or LibreOffice: `apt-get install catdoc` (or libreoffice-writer-nogui), "
            "or save the file as .docx in WPS",
}
_ANTIWORD_TABLE_ROW = re.compile(r"^\|.*\|$")


def _converters(suffix: str, rtf: bool) -> list[tuple[str, str]]:
    """(name, program path) of the installed converters for ``suffix``, in the order they are tried."""
    found = []
    if not rtf:
        names = ("antiword", "catdoc") if suffix == ".doc" else ("catdoc",)
        found = [(name, prog) for name in names if (prog := shutil.which(name))]
    office = shutil.which("soffice") or shutil.which("libreoffice")
    if office:
        found.append(("soffice", office))
    return found


def read_legacy(data: bytes, suffix: str, deadline: float, timeout: float) -> Converted:
    """A Word 97-2003 (.doc) or WPS (.wps) file through the first external converter that reads it."""
    rtf = data[:5] == b"{\\rtf"
    if not (data.startswith(OLE) or rtf):
        raise Unreadable("corrupt", "is not a Word/WPS document (no OLE or RTF header); open it in Word/WPS, "
                                    "save it as .docx and ingest again", format=suffix)
    programs = _converters(suffix, rtf)
    if not programs:
        raise Unreadable("converter", _CONVERTER_HELP[suffix], suffix=suffix)
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="assistant-convert-") as tmp:
        work = Path(tmp)
        source = work / ("document" + (".rtf" if rtf else ".doc"))  # safe name; WPS files are Word-compatible
        source.write_bytes(data)
        for name, program in programs:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                text = _run_converter(name, program, source, work, remaining)
            except subprocess.TimeoutExpired:
                raise Unreadable("timeout", f"took longer than {timeout:g} s to convert with {name}; convert it to "
                                            ".docx in Word/WPS and ingest that", seconds=timeout, program=name)
            except _ConverterFailed as exc:
                log.info("%s cannot read the %s file: %s", name, suffix, exc)
                errors.append(f"{name}: {exc}")
                continue
            return Converted(text=text, kind=suffix.lstrip("."))
    if time.monotonic() > deadline:
        raise Unreadable("timeout", f"took longer than {timeout:g} s to convert; convert it to .docx in Word/WPS "
                                    "and ingest that", seconds=timeout)
    last = errors[-1] if errors else "no converter ran"
    if any(re.search(r"encrypt|password", e, re.IGNORECASE) for e in errors):
        raise Unreadable("encrypted", f"is password-protected ({last}); remove the password in Word/WPS, save, "
                                      "and ingest again", format=suffix)
    raise Unreadable("corrupt", f"cannot be converted ({last}); open it in Word/WPS, save it as .docx and "
                                "ingest again", format=suffix)


class _ConverterFailed(Exception):
    pass


def _run_converter(name: str, program: str, source: Path, work: Path, timeout: float) -> str:
    env = {**os.environ, "HOME": str(work), "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    out_file = None
    if name == "antiword":
        argv = [program, "-m", "UTF-8.txt", "-w", "0", str(source)]
    elif name == "catdoc":
        argv = [program, "-d", "utf-8", "-w", str(source)]
    else:
        out_dir = work / "out"
        argv = [program, f"-env:UserInstallation={(work / 'profile').as_uri()}", "--headless", "--norestore",
                "--convert-to", "txt:Text (encoded):UTF8", "--outdir", str(out_dir), str(source)]
        out_file = out_dir / (source.stem + ".txt")
    code, stdout, stderr = _run(argv, timeout, env)
    if out_file is not None:
        stdout = out_file.read_bytes() if out_file.is_file() else b""
    err = [ln for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    if code != 0:
        raise _ConverterFailed(err[-1].strip() if err else f"exit status {code}")
    text = _decode_output(stdout)
    if name == "antiword":
        text = "\n".join(_antiword_line(ln) for ln in text.split("\n"))
    text = plain(text)
    if not text.strip():
        raise _ConverterFailed(err[-1].strip() if err else "no text in the output")
    return text


def _run(argv: list[str], timeout: float, env: dict) -> tuple[int, bytes, bytes]:
    """Run a converter in its own process group, so a timeout kills it and everything it started
    (LibreOffice's soffice.bin, a shell script's children) instead of waiting for their pipes."""
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env, cwd=env["HOME"], start_new_session=True)
    except OSError as exc:
        raise _ConverterFailed(reason(exc))
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.communicate()
        raise
    finally:
        if proc.poll() is None:
            _kill_group(proc)
            proc.wait()
    return proc.returncode, stdout, stderr


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()


def _decode_output(raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    for encoding in ("utf-8", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise _ConverterFailed("output is neither UTF-8 nor GB18030 text")


def _antiword_line(line: str) -> str:
    """antiword draws table rows as |cell   |cell   |: cells joined by " | "; its [pic] marks go."""
    if _ANTIWORD_TABLE_ROW.match(line.strip()):
        return " | ".join(c.strip() for c in line.strip()[1:-1].split("|") if c.strip())
    return line.replace("[pic]", "")

"""Command line: ``assistant ingest | ask | chat | docs | remove | serve``.

Heavy libraries (torch, chromadb, sentence-transformers, gradio) load on first use, never at import.
Every ``AssistantError`` becomes one line on stderr and exit 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from ..answer.conversation import Conversation
from ..answer.jobs import MODES, get
from ..answer.pipeline import Request, ask
from ..answer.retrieval import Filters, parse_date_bound
from ..core.errors import AssistantError, Unreadable
from ..core.settings import Settings
from ..ingest.loading import FORMATS, decode, display
from ..storage.library import Index
from .console import progress_bar, report_dict
from .export import export
from .render import ocr_note
from .server import parse_auth, serve

SAMPLE_QUESTION = "哈焊所各支部一共申报了多少个争创“党员创新示范岗”小组？"


def _settings(args):
    s = Settings.from_env()
    if getattr(args, "index", None):
        s = s.with_(index_dir=Path(args.index))
    return s


def _open(args, create=False):
    return Index.open(_settings(args), create=create)


def cmd_ingest(args) -> int:
    paths = [Path(p) for p in (args.paths or ["seeds"])]
    index = _open(args, create=True)
    if args.progress_json:
        listening = [True]

        def update(stage: str, done: int, total: int) -> None:
            # The program reading this may have gone (a web server stopped): finish the ingest anyway.
            if listening[0]:
                try:
                    print(json.dumps({"stage": stage, "done": done, "total": total}), flush=True)
                except (BrokenPipeError, OSError):
                    listening[0] = False

        def close():
            pass
    else:
        update, close = progress_bar()
    try:
        report = index.ingest(paths, progress=update)
    finally:
        close()
    if args.progress_json and listening[0]:
        try:
            print(json.dumps({"report": report_dict(report)}, ensure_ascii=False), flush=True)
        except (BrokenPipeError, OSError):
            pass
    for s in report.skipped:
        print(f"skipped {display(s.path)}: {s.reason}", file=sys.stderr)
    for p, doc_id in report.duplicates:
        print(f"not indexed twice: {display(p)} has the same content as document {doc_id}", file=sys.stderr)
    for p, doc_id, taken in report.renamed:
        print(f"note: the name {taken} is taken by another document; {display(p)} is indexed as {doc_id}",
              file=sys.stderr)
    for doc_id, p in report.moved:
        print(f"note: document {doc_id} moved to {display(p)}", file=sys.stderr)
    if index.vectors_set_aside:
        print(f"note: the vector index was damaged (an ingest killed while Chroma wrote it, say); it is kept as "
              f"{index.vectors_set_aside} and every document was embedded again", file=sys.stderr)
    if report.finished:
        print(f"finished {len(report.finished)} documents an interrupted ingest had left incomplete", file=sys.stderr)
    if not report.dense:
        print(f"warning: dense retrieval is off ({index.dense_error}); keyword retrieval only", file=sys.stderr)
    if not args.progress_json:
        print(
            f"documents: {len(report.added)} added, {len(report.updated)} updated, "
            f"{len(report.unchanged)} unchanged, {len(report.removed)} removed, "
            f"{len(report.duplicates)} duplicates, {len(report.skipped)} skipped"
        )
        print(
            f"chunks: {report.chunks_added} added, {report.chunks_removed} removed; "
            f"index now holds {report.total_docs} documents, {report.total_chunks} chunks "
            f"({'dense + keyword' if report.dense else 'keyword only'}) in {index.dir}/"
        )
    if report.ingested == 0 and not report.removed:
        what = "none of the files could be ingested" if report.skipped else "no files to ingest were found"
        print(f"error: {what} (supported: {FORMATS})", file=sys.stderr)
        return 1
    return 0


def _filters(args):
    return Filters(
        orgs=tuple(args.org or ()),
        since=parse_date_bound(args.since or "", "--since"),
        until=parse_date_bound(args.until or "", "--until"),
        doc_ids=tuple(args.doc or ()),
        doc_numbers=tuple(args.doc_number or ()),
    )


def _print_answer(ans, out=None, body: bool = True) -> None:
    out = out or sys.stdout
    if ans.asked_mode:
        print(f"（按「{get(ans.mode).label}」作答：问题是在请求这项工作）", file=out)
    if body:
        print(ans.answer, file=out)
    for sentence in ans.unsupported:
        print(f"  ⚠ 未核实：{sentence}", file=out)
    if ans.citations:
        print("\n相关原文（不足以回答）：" if ans.only_related else "\n来源：", file=out)
        for c in ans.citations:
            number = f" · {c.doc_number}" if c.doc_number else ""
            print(f"[{c.n}] 《{c.title}》{number} · {c.org or '未知单位'} · {c.date or '日期不详'}", file=out)
            print(f"    “{c.quote}”  ({c.doc_id} {c.start}–{c.end})", file=out)
    elif ans.refused and ans.hits:
        print("\n最接近的段落：", file=out)
        for h in ans.hits[:3]:
            snippet = h.chunk.text.replace("\n", " ")
            print(f"- 《{h.meta.title}》：{snippet[:80]}…", file=out)


def _read_questions(qfile: Path) -> str:
    """A questions file in UTF-8 (± BOM), UTF-16, GB18030/GBK or Big5."""
    if qfile.is_dir():
        raise AssistantError(f"{qfile} is a folder; pass a .jsonl file with one {{\"question\": …}} per line")
    try:
        data = qfile.read_bytes()
    except OSError as exc:
        raise AssistantError(f"cannot read {qfile} ({exc.strerror or exc})")
    if not data.strip():
        raise AssistantError(f"{qfile} is empty; write one {{\"question\": …}} per line")
    try:
        return decode(data)[0].lstrip("\ufeff")
    except (Unreadable, UnicodeDecodeError):
        raise AssistantError(f"{qfile} is not text in UTF-8, UTF-16, GB18030/GBK or Big5; save it as UTF-8")


def _warn_incomplete(index) -> None:
    missing = index.incomplete() if index.dense else []
    if missing:
        print(f"warning: {len(missing)} documents have no vectors yet (an ingest was interrupted or ran without "
              "the model); they are found by keyword only — run `assistant ingest` to finish them", file=sys.stderr)
    lost = index.vectors_missing() if index.dense else 0
    if lost:
        print(f"warning: the vector store lacks {lost} chunks' vectors (was the Chroma server reset?); they are "
              "found by keyword only — run `assistant ingest` to embed them again", file=sys.stderr)


def cmd_ask(args) -> int:
    settings = _settings(args)
    if args.questions:
        qfile = Path(args.questions)
        if not qfile.exists():
            raise AssistantError(f"path does not exist: {qfile} — pass a .jsonl file with one {{\"question\": …}} per line")
        questions = []
        for n, line in enumerate(_read_questions(qfile).splitlines(), 1):
            if not line.strip():
                continue
            try:
                question = json.loads(line)["question"]
            except (ValueError, KeyError, TypeError, IndexError):
                raise AssistantError(f"{qfile}:{n} is not a JSON object with a \"question\" field; write one "
                                     "{\"question\": \"…\"} per line")
            if not isinstance(question, str):  # null, 123, ["a"] would become the questions "None", "123" …
                raise AssistantError(f"{qfile}:{n}: \"question\" is {json.dumps(question, ensure_ascii=False)[:40]}, "
                                     "not text; write it in quotes: {\"question\": \"…\"}")
            questions.append(question)
        if not questions:
            raise AssistantError(f"{qfile} holds no questions; write one {{\"question\": …}} per line")
    else:
        if args.question is None:
            raise AssistantError("Give a question, e.g. assistant ask \"质检中心有多少名党员？\", or --questions FILE.jsonl")
        questions = [args.question]  # checked once, by the Reply (an empty one is refused there)
    filters = _filters(args)

    llm = settings.llm
    index = _open(args)
    warned = False
    for q in questions:
        live = args.stream and llm is not None and not (args.json or args.questions)
        try:
            reply = ask(index, Request(question=q, mode=args.mode, filters=filters, k=args.k,
                                       auto_route=not args.no_route), llm=llm)
            ans = _consume(reply, live)
        except AssistantError as exc:
            if not args.questions:
                raise
            print(json.dumps({"question": q, "error": str(exc)}, ensure_ascii=False))
            continue
        streamed = _stream_kept(ans, reply.streamed and live)
        if ans.notice:
            print(f"notice: {ans.notice}", file=sys.stderr)
        if not warned:
            if not index.dense:
                print(f"warning: dense retrieval is off ({index.dense_error}); keyword retrieval only", file=sys.stderr)
            _warn_incomplete(index)
            warned = True
        if args.json or args.questions:
            print(json.dumps(ans.to_json(), ensure_ascii=False), flush=True)
        elif streamed:
            print("\n\n（已核对引用）" if not ans.unsupported else "\n\n（以下句子未找到资料支持，已去掉其引用标记）")
            _print_answer(ans, body=False)
        else:
            _print_answer(ans)
        if args.docx or args.md:
            for path in export(ans, docx=args.docx, md=args.md):
                print(f"saved {path}", file=sys.stderr)
    return 0


def _consume(reply, live: bool):
    """Run ``reply`` to its end, printing the LLM reply's pieces as they arrive when ``live``."""
    for piece in reply:
        if live:
            print(piece, end="", flush=True)
    return reply.answer()


def _stream_kept(ans, streamed: bool) -> bool:
    """Is the reply printed as it streamed the answer? When the extractive answer replaced it, the answer
    below starts on a line of its own."""
    if streamed and ans.generator == "extractive":
        print("\n")
    return streamed and ans.generator != "extractive"


def cmd_chat(args) -> int:
    index = _open(args)
    conv = Conversation(index=index, llm=index.settings.llm)
    interactive = sys.stdin.isatty()
    if interactive:
        print("党建知识助手 · 多轮问答（/clear 清空对话，/exit 退出）")
    while True:
        try:
            line = input("问> " if interactive else "")
        except EOFError:
            break
        text = line.strip()
        if not text:
            continue
        if text in ("/exit", "/quit", "退出"):
            break
        if text in ("/clear", "清空"):
            conv.clear()
            print("（对话已清空）")
            continue
        reply = None
        try:
            reply = ask(index, Request(question=text, mode=args.mode, auto_route=not args.no_route),
                        conversation=conv, llm=conv.llm)
            ans = _consume(reply, live=True)
        except AssistantError as exc:
            if reply is not None and reply.streamed:
                print()
            print(f"error: {exc}", file=sys.stderr)
            continue
        streamed = reply.streamed
        if reply.standalone != reply.question:
            print(f"（理解为：{reply.standalone}）")
        if ans.notice:
            print(f"notice: {ans.notice}", file=sys.stderr)
        streamed = _stream_kept(ans, streamed)
        if streamed:
            print()
        _print_answer(ans, body=not streamed)
        print()
    return 0


def cmd_docs(args) -> int:
    index = _open(args)
    docs = index.documents()
    incomplete = set(index.incomplete())
    behind = index.keyword_behind()
    if args.json:
        print(json.dumps([dict(m.__dict__, chunks=n, complete=m.doc_id not in incomplete) for m, n in docs],
                         ensure_ascii=False, indent=1))
        return 0
    if not docs:
        print("The index is empty: run `assistant ingest PATH`.")
        return 0
    for m, n in docs:
        date = m.date + ("（推断）" if m.date_inferred else "")
        state = "\tINCOMPLETE (no vectors)" if m.doc_id in incomplete else ""
        print(f"{m.doc_id}\t{n} chunks\t{m.kind}\t{date or '日期不详'}\t{m.org or '未知单位'}\t{m.title}"
              + (f"\t作者：{m.author}" if m.author else "") + (f"\t{ocr_note(m)}" if m.ocr_pages else "") + state)
    print(f"{len(docs)} documents, {sum(n for _, n in docs)} chunks")
    if incomplete:
        print(f"{len(incomplete)} documents are incomplete (an ingest was interrupted or ran without the embedding "
              "model): run `assistant ingest` to finish them")
    if behind:
        print("the keyword index is behind the documents (an ingest was interrupted): run `assistant ingest`")
    lost = index.vectors_missing() if index.dense else 0
    if lost:
        print(f"the vector store lacks {lost} chunks' vectors (was the Chroma server reset?): run `assistant ingest`")
    elif index.server_error:
        print(f"dense retrieval is off: {index.server_error}")
    return 0


def cmd_remove(args) -> int:
    index = _open(args)
    n = index.remove(args.doc_id)
    print(f"removed {args.doc_id} ({n} chunks) from the keyword and dense indexes")
    return 0


def cmd_serve(args) -> int:
    if not 1 <= args.port <= 65535:
        raise AssistantError(f"--port {args.port} is not a port number; use 1–65535")
    settings = _settings(args)
    serve(settings, host=args.host, port=args.port, share=args.share, seeds=Path(args.seeds),
          llm=settings.llm, auth=parse_auth(settings.auth.get_secret_value()))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="assistant",
        description="党建知识助手: answers questions over Chinese organisational reports, citing the exact sentence.",
    )
    p.add_argument("--index", metavar="DIR", help="index directory (default: $ASSISTANT_INDEX_DIR or ./index)")
    p.add_argument("-v", "--verbose", action="store_true", help="log what the pipeline does")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    sp = sub.add_parser("ingest", help="add or update documents (default: seeds/)",
                        description="Ingest Word (.docx, .doc, .wps), PDF (scanned pages read by OCR), scans and photos (.jpg, .png, .tif), web pages "
                                    "(.html/.htm) and text (.txt/.md in UTF-8, GB18030/GBK or Big5). Re-ingesting "
                                    "a file updates its document; unchanged files are skipped; a file whose name "
                                    "is taken becomes a document of its own; the same content under another name "
                                    "is not indexed twice; files gone from an ingested folder are removed. Exits "
                                    "with 1 when none of the files could be ingested.")
    sp.add_argument("paths", nargs="*", metavar="PATH", help="files or folders (default: seeds/)")
    sp.add_argument("--progress-json", action="store_true",
                    help="print progress and the final report as JSON lines (for programs driving an ingest)")
    sp.set_defaults(func=cmd_ingest)

    sp = sub.add_parser("ask", help="answer a question with cited sentences",
                        description="Answer from the indexed documents only: every sentence is quoted verbatim "
                                    "and cited; 「文档中没有找到相关信息」 when the documents do not say.")
    sp.add_argument("question", nargs="?", help="the question, in simplified or traditional Chinese")
    sp.add_argument("--questions", metavar="FILE.jsonl", help="answer every line's \"question\" (one JSON per line out)")
    sp.add_argument("--k", type=int, metavar="N", help="chunks to retrieve (default 5; points 12, precedents 40)")
    sp.add_argument("--org", action="append", metavar="ORG", help="only documents of this organisation (repeatable)")
    sp.add_argument("--since", metavar="DATE", help="only documents dated on or after DATE (YYYY-MM-DD or YYYY)")
    sp.add_argument("--until", metavar="DATE", help="only documents dated on or before DATE")
    sp.add_argument("--doc", action="append", metavar="DOC_ID", help="only this document (repeatable)")
    sp.add_argument("--doc-number", action="append", metavar="文号",
                    help="only the official document of this 发文字号, e.g. 国办发〔2016〕12号 (repeatable)")
    sp.add_argument("--mode", choices=MODES, default="qa",
                    help="qa: a cited answer (default); points: 3–7 talking points (起草发言要点); "
                         "precedents: every unit's matching practice (查找先例做法)")
    sp.add_argument("--no-route", action="store_true",
                    help="answer in --mode even when the question asks for another job (by default a drafting "
                         "request goes to points and a search across units to precedents)")
    sp.add_argument("--docx", metavar="FILE", help="also save the answer as a Word file (sources as endnotes)")
    sp.add_argument("--md", metavar="FILE", help="also save the answer as Markdown")
    sp.add_argument("--stream", action="store_true",
                    help="print the LLM's answer as it arrives (when ASSISTANT_LLM_* is configured)")
    sp.add_argument("--json", action="store_true", help="print the answer as JSON")
    sp.set_defaults(func=cmd_ask)

    sp = sub.add_parser("chat", help="a conversation: follow-up questions use what was asked before",
                        description="Read questions from standard input, one per line, and answer each; a "
                                    "follow-up such as 「那兰州化物所呢？」 is turned into a standalone question "
                                    "(by the LLM when ASSISTANT_LLM_* is set). /clear forgets the conversation, "
                                    "/exit ends it.")
    sp.add_argument("--mode", choices=MODES, default="qa", help="qa (default), points or precedents")
    sp.add_argument("--no-route", action="store_true", help="answer in --mode whatever the request asks for")
    sp.set_defaults(func=cmd_chat)

    sp = sub.add_parser("docs", help="list the indexed documents", description="List indexed documents with "
                        "their metadata (title, organisation, date, author) and chunk counts.")
    sp.add_argument("--json", action="store_true", help="print as JSON")
    sp.set_defaults(func=cmd_docs)

    sp = sub.add_parser("remove", help="delete a document from the index",
                        description="Delete a document (by its doc_id, see `assistant docs`) from both the keyword "
                                    "and the dense index; it is never retrieved again.")
    sp.add_argument("doc_id", help="the document id (its file name)")
    sp.set_defaults(func=cmd_remove)

    sp = sub.add_parser("serve", help="start the web page (chat, talking points, precedents, document library)",
                        description="Start the Gradio web page on http://127.0.0.1:PORT/. On first start with an "
                                    "empty index the reports in --seeds are ingested before the page opens. "
                                    "Set ASSISTANT_AUTH=user:password to require a login.")
    sp.add_argument("--host", default="127.0.0.1",
                    help="address to listen on (default 127.0.0.1, this machine only; 0.0.0.0 opens it to the network)")
    sp.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    sp.add_argument("--seeds", default="seeds", metavar="DIR",
                    help="reports to ingest when the index is empty (default: seeds/)")
    sp.add_argument("--share", action="store_true",
                    help="also publish a public gradio.live link (off by default; exposes every indexed document)")
    sp.set_defaults(func=cmd_serve)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s: %(message)s")
    if args.command is None:
        parser.print_help()
        return 0
    if getattr(args, "k", None) is not None and not 1 <= args.k <= 50:
        print("error: --k must be between 1 and 50", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except AssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; the index keeps everything that was already written", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

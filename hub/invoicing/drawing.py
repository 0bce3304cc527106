"""Drawing HTML as PDF with WeasyPrint, in a process of its own.

WeasyPrint lays a page out in Python: an invoice takes about a tenth of a
second of CPU, all of it holding the interpreter's lock, so in the hub's
process it would stall the web server and every worker thread while it draws.
:func:`draw` hands the HTML to a drawing process instead (``processes``, from
``HUB_PDF_PROCESSES``, default 1) and waits for the bytes; the hub's threads
run meanwhile, on another core when there is one. ``processes=0`` draws in the
calling thread.

- The processes are started with ``spawn`` (never ``fork`` from a threaded
  process) on the first PDF, and each is replaced after
  :data:`PDFS_PER_PROCESS` PDFs, so WeasyPrint's caches and the allocator's
  high-water mark cannot grow without bound.
- A drawing process that dies (killed, out of memory) costs one attempt: the
  PDF is drawn again in a fresh process, and if that one dies too, in the
  caller's thread. If no drawing process ever gave a PDF back (``spawn`` runs
  the program's main module again, and a program read from stdin has none),
  every later PDF is drawn in the caller's thread, said once in the log. A
  drawing that hangs past :data:`TIMEOUT_SECONDS` raises the retryable
  :class:`PdfDrawingFailed` and its process is replaced.
- What the drawing needs from the hub crosses as plain values (the HTML, its
  base URL, the folders it may read), and what it refused to fetch comes back
  to be logged here, where the hub's logging is.
- A drawing process ends with the process that started it, even one killed
  with ``kill -9`` (it watches its parent), so none is left behind.
"""

from __future__ import annotations

import logging
import mimetypes
import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from hub.core.exceptions import ConfigError, HubError

log = logging.getLogger(__name__)

#: A drawing process is replaced by a fresh one after this many PDFs.
PDFS_PER_PROCESS = 250
#: A PDF not drawn in this long is given up (the process is replaced).
TIMEOUT_SECONDS = 120.0


class PdfUnavailable(ConfigError):
    """WeasyPrint cannot run here (its system libraries, Pango, are missing)."""


class PdfDrawingFailed(HubError):
    """The drawing process died or hung; drawing the same PDF later may succeed."""

    code = "pdf_drawing_failed"
    retryable = True


def draw(html: str, *, base_url: str, roots: list[Path], processes: int = 1) -> bytes:
    """``html`` drawn as PDF bytes, fetching only ``data:`` URLs and files under ``roots``.

    :param processes: drawing processes to hand the work to (0: draw in this thread).
    :raises PdfUnavailable: WeasyPrint's system libraries are missing.
    :raises PdfDrawingFailed: the drawing process died twice, or took over
        :data:`TIMEOUT_SECONDS` (retryable).
    """
    folders = [str(root) for root in roots]
    if processes <= 0:
        result = _draw(html, base_url, folders)
    else:
        result = _POOL.run(processes, html, base_url, folders)
    if "unavailable" in result:
        raise PdfUnavailable(result["unavailable"])
    for url in result["refused"]:
        log.warning("invoice PDF: refused to fetch %s (only data: and template files)", url)
    pdf = result["pdf"]
    assert isinstance(pdf, bytes)
    return pdf


def _draw(html: str, base_url: str, roots: list[str]) -> dict[str, Any]:
    """Draw ``html`` (here: in the caller's thread or in a drawing process)."""
    try:
        from weasyprint import HTML
    except OSError as exc:  # Pango not installed: say so instead of a bare dlopen message
        return {
            "unavailable": f"invoice PDFs need Pango (Debian: apt-get install libpango-1.0-0 "
            f"libpangoft2-1.0-0): {exc}"
        }
    refused: list[str] = []
    fetcher = _local_fetcher([Path(root) for root in roots], refused)
    document = HTML(string=html, base_url=base_url, url_fetcher=fetcher)
    pdf = document.write_pdf(font_config=_font_config())
    return {"pdf": pdf, "refused": refused}


_FONTS = threading.local()


def _font_config() -> Any:
    """This thread's WeasyPrint font configuration, made once and kept.

    WeasyPrint makes a new one per PDF unless given one, and each keeps a Pango
    font map that is never freed: 300 invoices grew a process from 93 to 184 MB,
    against 109 MB with one kept (and 10 % less CPU a PDF). One per thread: a
    configuration is not known to be safe to share between threads.
    """
    config = getattr(_FONTS, "config", None)
    if config is None:
        from weasyprint.text.fonts import FontConfiguration

        config = _FONTS.config = FontConfiguration()
    return config


def _local_fetcher(roots: list[Path], refused: list[str]) -> Any:
    """A WeasyPrint URL fetcher for ``data:`` URLs and files under ``roots``, nothing else;
    each URL it turns away is added to ``refused``."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class LocalOnly(URLFetcher):
        def fetch(self, url: str, headers: Any = None) -> Any:
            scheme = url.partition(":")[0].lower()
            if scheme == "data":
                return super().fetch(url, headers)
            if scheme == "file":
                path = Path(url2pathname(urlsplit(url).path)).resolve()
                if path.is_file() and any(path.is_relative_to(root) for root in roots):
                    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
                    return URLFetcherResponse(
                        url, path.read_bytes(), headers={"Content-Type": kind}
                    )
            refused.append(url)
            raise ValueError(
                f"invoice templates may load only data: URLs and their own files: {url}"
            )

    return LocalOnly(allowed_protocols=("data", "file"))


def _follow_parent() -> None:
    """In a drawing process: end when the hub's process ends, even by ``kill -9``."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="follow-parent", daemon=True).start()


class _Pool:
    """The drawing processes of this process, started on first use."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.executor: ProcessPoolExecutor | None = None
        self.size = 0
        #: PDFs the drawing processes gave back, and whether they never can in this program.
        self.drawn = 0
        self.unusable = False

    def run(self, processes: int, html: str, base_url: str, roots: list[str]) -> dict[str, Any]:
        for attempt in (1, 2):
            if self.unusable:
                break
            executor = self._executor(processes)
            try:
                future = executor.submit(_draw, html, base_url, roots)
                result = future.result(timeout=TIMEOUT_SECONDS)
            except BrokenProcessPool:
                self._discard(executor)
                log.warning("invoice PDF: the drawing process died (try %s of 2)", attempt)
                continue
            except FutureTimeout:
                self._discard(executor, kill=True)
                raise PdfDrawingFailed(
                    f"drawing a PDF took over {TIMEOUT_SECONDS:.0f} s; the drawing process was replaced"
                ) from None
            self.drawn += 1
            return result
        if not self.drawn and not self.unusable:
            # Not one PDF came back: the processes cannot start here (spawn runs the
            # program's main module again, and a program read from stdin has none).
            self.unusable = True
            log.error(
                "invoice PDF: drawing processes cannot start in this program; "
                "PDFs are drawn in the job's thread from now on"
            )
        elif not self.unusable:
            log.warning("invoice PDF: drawing this PDF in the job's thread instead")
        return _draw(html, base_url, roots)

    def _executor(self, processes: int) -> ProcessPoolExecutor:
        with self.lock:
            if self.executor is None or self.size != processes:
                if self.executor is not None:
                    self.executor.shutdown(wait=False)
                self.executor = ProcessPoolExecutor(
                    max_workers=processes,
                    mp_context=multiprocessing.get_context("spawn"),
                    max_tasks_per_child=PDFS_PER_PROCESS,
                    initializer=_follow_parent,
                )
                self.size = processes
            return self.executor

    def _discard(self, executor: ProcessPoolExecutor, *, kill: bool = False) -> None:
        with self.lock:
            if self.executor is executor:
                self.executor = None
        if kill:  # a hung drawing never returns: end its process
            for process in list(getattr(executor, "_processes", {}).values()):
                process.kill()
        executor.shutdown(wait=False, cancel_futures=True)

    def shutdown(self) -> None:
        """End the drawing processes (they start again on the next PDF)."""
        with self.lock:
            executor, self.executor = self.executor, None
        if executor is not None:
            executor.shutdown(wait=True)


_POOL = _Pool()
shutdown = _POOL.shutdown

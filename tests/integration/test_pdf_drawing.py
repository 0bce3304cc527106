"""PDFs drawn in a process of their own (hub.invoicing.drawing): the same PDF as drawn
in the job's thread, a drawing process that dies is replaced, a program where drawing
processes cannot start still gets its PDFs, and none outlives the hub's process."""

from __future__ import annotations

import io
import logging
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from invoice_samples import INVOICE
from pypdf import PdfReader

from hub.invoicing import drawing
from hub.invoicing.pdf import render_pdf

ROOT = Path(__file__).resolve().parents[2]


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)


def drawing_processes() -> set[int]:
    return {child.pid for child in multiprocessing.active_children() if child.pid}


def gone(pid: int) -> bool:
    """The process ended (a zombie waiting for init to reap it has ended too)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return any(line.startswith("State:") and "Z" in line.split()[1] for line in f)
    except FileNotFoundError:
        return True


def test_a_pdf_drawn_in_its_own_process_reads_the_same_as_one_drawn_in_the_thread():
    here = render_pdf(INVOICE, processes=0)
    elsewhere = render_pdf(INVOICE, processes=1)

    assert elsewhere.startswith(b"%PDF")
    assert text_of(elsewhere) == text_of(here)
    assert "INV-2026-000001" in text_of(elsewhere)
    assert drawing_processes(), "no drawing process: the PDF was drawn in this thread"


def test_a_killed_drawing_process_is_replaced_and_the_pdf_still_comes():
    render_pdf(INVOICE, processes=1)
    before = drawing_processes()
    assert before
    for pid in before:
        os.kill(pid, signal.SIGKILL)

    pdf = render_pdf(INVOICE, processes=1)

    assert "INV-2026-000001" in text_of(pdf)
    after = drawing_processes()
    assert after and not after & before, "the dead drawing process was not replaced"


def test_what_a_template_may_not_fetch_is_logged_by_the_hub_not_lost_in_the_drawing_process(
    tmp_path, caplog
):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "invoice.html").write_text(
        "<html><body><img src='http://127.0.0.1:9/logo.png'>"
        "<p>{{ document.number }}</p></body></html>",
        encoding="utf-8",
    )
    with caplog.at_level(logging.WARNING, logger="hub.invoicing.drawing"):
        pdf = render_pdf(INVOICE, override_dir=templates, processes=1)

    assert "INV-2026-000001" in text_of(pdf)
    assert "refused to fetch http://127.0.0.1:9/logo.png" in caplog.text


GROWTH = """
from invoice_samples import INVOICE
from hub.invoicing.pdf import render_pdf


def rss_mb():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) / 1024 for line in f if line.startswith("VmRSS:"))


for _ in range(20):  # fonts, caches and the allocator settle
    render_pdf(INVOICE, processes=0)
before = rss_mb()
for _ in range(40):
    render_pdf(INVOICE, processes=0)
print(round(rss_mb() - before, 1))
"""


def test_drawing_pdf_after_pdf_does_not_grow_the_process():
    # WeasyPrint's default makes a font configuration per PDF, each keeping a Pango font
    # map that is never freed: about 0.3 MB a PDF, 12 MB over these 40. Measured in a
    # process of its own: this one's other threads allocate meanwhile.
    done = subprocess.run(
        [sys.executable, "-c", GROWTH],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{Path(__file__).parent}"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    grown = float(done.stdout.split()[-1])

    assert grown < 6, f"{grown} MB more after 40 PDFs"


def _python(*args: str) -> subprocess.Popen:
    """Python on ``args`` (``-``: the program comes on stdin), with the hub importable."""
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


DRAW = """
from hub.invoicing.drawing import draw
for n in (1, 2):
    pdf = draw(f"<p>page {n}</p>", base_url="file:///tmp/", roots=[], processes=1)
    print(pdf[:4].decode(), len(pdf) > 500, flush=True)
"""


def test_a_program_read_from_stdin_where_drawing_processes_cannot_start_still_gets_its_pdfs():
    # spawn starts a drawing process by running the program's main module again; a program
    # read from stdin has none, so the processes die at start and the PDFs are drawn here.
    proc = _python("-")
    out, err = proc.communicate(DRAW, timeout=120)

    assert proc.returncode == 0, err
    assert out.split("\n")[:2] == ["%PDF True", "%PDF True"]
    assert err.count("drawing processes cannot start in this program") == 1


def test_no_drawing_process_outlives_a_hub_process_killed_with_kill_9(tmp_path):
    program = tmp_path / "draws.py"
    program.write_text(
        textwrap.dedent(
            """
            import multiprocessing, time
            from hub.invoicing.drawing import draw

            if __name__ == "__main__":
                draw("<p>hello</p>", base_url="file:///tmp/", roots=[], processes=1)
                print(*[c.pid for c in multiprocessing.active_children()], flush=True)
                time.sleep(120)
            """
        ),
        encoding="utf-8",
    )
    proc = _python(str(program))
    try:
        children = [int(pid) for pid in proc.stdout.readline().split()]
        assert children, proc.stderr.read() if proc.poll() is not None else "no drawing process"
        assert not any(gone(pid) for pid in children)
    finally:
        proc.kill()
        proc.communicate(timeout=30)

    deadline = time.monotonic() + 15
    while not all(gone(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = [pid for pid in children if not gone(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"drawing processes {left} outlived their hub"


@pytest.fixture(autouse=True)
def _fresh_pool():
    """Each test starts with no drawing process and leaves none running."""
    drawing.shutdown()
    yield
    drawing.shutdown()

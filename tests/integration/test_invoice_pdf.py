"""Invoice PDFs as a reader sees them: the text in the PDF, page 1 as a PNG in artifacts/,
the merchant's own template, and a renderer that never reaches the network."""

from __future__ import annotations

import copy
import io
import os
import shutil
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from invoice_samples import INVOICE, credit_note, tax_inclusive
from PIL import Image
from pypdf import PdfReader

from hub.invoicing.pdf import InvoiceTemplateError, filename, render_pdf

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
#: A4 in PDF points (1/72 in): 210 × 297 mm.
A4 = (595, 842)


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)


def page_one_png(pdf: bytes, name: str, tmp_path: Path) -> Path:
    """Page 1 drawn by poppler at 80 dpi, kept in artifacts/ for a person to look at."""
    if not shutil.which("pdftoppm"):
        if os.environ.get("CI"):
            pytest.fail("pdftoppm is missing (poppler-utils; .ci/run installs it)")
        pytest.skip("the PDF's picture needs pdftoppm (Debian: poppler-utils)")
    source = tmp_path / "doc.pdf"
    source.write_bytes(pdf)
    ARTIFACTS.mkdir(exist_ok=True)
    target = ARTIFACTS / name
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "80",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            str(source),
            str(target.with_suffix("")),
        ],
        check=True,
        timeout=60,
    )
    return target


def test_invoice_pdf_carries_the_invoice_a_reader_needs(tmp_path):
    pdf = render_pdf(INVOICE)

    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == A4
    text = text_of(pdf)
    for expected in (
        "Invoice",
        "INV-2026-000001",
        "Fjord Outfitters GmbH",
        "DE123456789",
        "Rua Augusta 100",  # billing address
        "Avenida da Liberdade 200",  # shipping address
        "#1001",
        "2026-12-04",  # issued
        "2027-01-03",  # due
        "Organic cotton T-shirt, M",
        "Net 30 (due 2027-01-03)",
        "Total EUR 81.49",
        "Amount due EUR 81.49",
    ):
        assert expected in text, expected
    # Tax per rate: each rate with its net amount and its tax.
    assert "19% 40.00 7.60" in text
    assert "7% 27.00 1.89" in text
    assert "Credit note" not in text

    png = page_one_png(pdf, "invoice-pdf.png", tmp_path)
    assert png.stat().st_size > 10_000
    assert filename(INVOICE) == "INV-2026-000001.pdf"


def test_a_tax_inclusive_invoice_says_its_prices_include_the_tax():
    text = text_of(render_pdf(tax_inclusive()))

    assert "Prices include tax." in text
    assert "Tax (included) 9.49" in text
    assert "19% 40.00 7.60" in text  # the net amount per rate, as in a tax-exclusive shop
    assert "Total EUR 81.49" in text


def test_an_address_written_with_other_keys_reads_the_same():
    doc = copy.deepcopy(INVOICE)
    doc["buyer"]["billing_address"] = {
        "name": "Ana Lima",
        "line1": "Rua Augusta 100",
        "postal_code": "1100-053",
        "city": "Lisboa",
        "region": "Lisboa",
        "country": "Portugal",
    }

    text = text_of(render_pdf(doc))

    assert "Rua Augusta 100" in text and "1100-053 Lisboa" in text


def test_credit_note_pdf_is_titled_so_and_names_the_invoice_it_credits(tmp_path):
    pdf = render_pdf(credit_note())

    text = text_of(pdf)
    assert "Credit note" in text
    assert "CN-2026-000001" in text
    assert "credits invoice INV-2026-000001 of 2026-12-04" in text
    assert "Total credited EUR 47.60" in text
    assert "Amount due" not in text
    assert "Returned: 2 × Organic cotton T-shirt, M" in text
    page_one_png(pdf, "credit-note-pdf.png", tmp_path)


def test_a_merchant_template_replaces_the_bundled_one_with_a_logo_beside_it(tmp_path):
    Image.new("RGB", (60, 20), (30, 90, 160)).save(tmp_path / "logo.png")
    (tmp_path / "invoice.html").write_text(
        "<html><body><img src='logo.png' style='width:20mm'>"
        "<h1>Rechnung {{ document.number }}</h1>"
        "<p>Gesamt {{ document.total }} {{ document.currency }}</p>"
        "<p>{{ document.buyer.name }}</p></body></html>",
        encoding="utf-8",
    )

    pdf = render_pdf(INVOICE, override_dir=tmp_path)

    text = text_of(pdf)
    assert "Rechnung INV-2026-000001" in text
    assert "Gesamt 81.49 EUR" in text
    assert "BILL TO" not in text.upper()  # not the bundled template
    assert len(PdfReader(io.BytesIO(pdf)).pages[0].images) == 1  # the logo beside it


def test_without_a_merchant_template_the_bundled_one_is_used(tmp_path):
    (tmp_path / "other.html").write_text("not the invoice", encoding="utf-8")

    assert "BILL TO" in text_of(render_pdf(INVOICE, override_dir=tmp_path)).upper()


@pytest.mark.parametrize(
    ("template", "says"),
    [
        ("<p>{{ document.number </p>", "line 1"),  # a syntax error, with its line
        ("<p>\n{{ document.totl }}</p>", "totl"),  # a misspelt field is an error, not a blank
        ("{{ document.__class__.__mro__ }}", "unsafe"),  # the sandbox holds
        ("{% include 'header.html' %}", "header.html"),
    ],
)
def test_a_broken_merchant_template_is_refused_naming_the_file(tmp_path, template, says):
    (tmp_path / "invoice.html").write_text(template, encoding="utf-8")

    with pytest.raises(InvoiceTemplateError) as caught:
        render_pdf(INVOICE, override_dir=tmp_path)

    message = str(caught.value)
    assert str(tmp_path / "invoice.html") in message
    assert says in message


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's name
        _Recorder.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.end_headers()
        self.wfile.write(b"body { color: red }")

    def log_message(self, *args):
        pass


def test_rendering_never_fetches_urls_or_files_outside_the_templates(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    outside = tmp_path / "outside.png"  # a file the template may not read: not beside it
    Image.new("RGB", (40, 40), (200, 0, 0)).save(outside)
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "invoice.html").write_text(
        f"<html><head><link rel='stylesheet' href='{base}/style.css'>"
        f"<style>@import url('{base}/import.css');</style></head>"
        f"<body><img src='{base}/logo.png'><img src='../outside.png'>"
        f"<img src='{outside.as_uri()}'>"
        "<p>{{ document.number }}</p></body></html>",
        encoding="utf-8",
    )
    try:
        pdf = render_pdf(copy.deepcopy(INVOICE), override_dir=templates)
    finally:
        server.shutdown()
        server.server_close()

    assert _Recorder.hits == []
    assert len(PdfReader(io.BytesIO(pdf)).pages[0].images) == 0
    assert "INV-2026-000001" in text_of(pdf)

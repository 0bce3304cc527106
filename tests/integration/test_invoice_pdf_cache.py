"""Invoice templates are compiled once, and a merchant's template still wins the moment it is there."""

import os
import time

import pytest
from invoice_samples import INVOICE

from hub.invoicing import pdf


def test_the_bundled_template_is_compiled_once_for_every_pdf(tmp_path):
    pdf.render_html(INVOICE, override_dir=tmp_path)
    env = pdf._environment(tmp_path, pdf.template_path(tmp_path))
    compiled = env.get_template(pdf.TEMPLATE)

    assert "Bill to" in pdf.render_html(INVOICE, override_dir=tmp_path)
    assert pdf._environment(tmp_path, pdf.template_path(tmp_path)) is env
    assert env.get_template(pdf.TEMPLATE) is compiled  # not compiled again


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    # A later modification time than any earlier version, however fast the test runs.
    stamp = time.time() + len(text)
    os.utime(path, (stamp, stamp))


def test_a_merchant_template_put_in_changed_or_removed_after_a_render_is_used_next(tmp_path):
    assert "Bill to" in pdf.render_html(INVOICE, override_dir=tmp_path)  # the bundled one

    merchant = tmp_path / "invoice.html"
    _write(merchant, "<p>Rechnung {{ document.number }}</p>")
    assert pdf.render_html(INVOICE, override_dir=tmp_path) == "<p>Rechnung INV-2026-000001</p>"

    _write(merchant, "<p>Rechnung Nr. {{ document.number }} über {{ document.total }}</p>")
    assert (
        pdf.render_html(INVOICE, override_dir=tmp_path)
        == "<p>Rechnung Nr. INV-2026-000001 über 81.49</p>"
    )

    merchant.unlink()
    assert "Bill to" in pdf.render_html(INVOICE, override_dir=tmp_path)


def test_a_merchant_template_broken_after_a_good_render_is_refused(tmp_path):
    merchant = tmp_path / "invoice.html"
    _write(merchant, "<p>{{ document.number }}</p>")
    assert pdf.render_html(INVOICE, override_dir=tmp_path) == "<p>INV-2026-000001</p>"

    _write(merchant, "<p>{{ document.number </p>")
    with pytest.raises(pdf.InvoiceTemplateError) as caught:
        pdf.render_html(INVOICE, override_dir=tmp_path)
    assert str(merchant) in str(caught.value) and "line 1" in str(caught.value)

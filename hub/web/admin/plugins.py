"""The installed plugins: what each brings (the same listing as ``hub plugins``)."""

from __future__ import annotations

from flask import render_template

from hub.runtime.plugins import list_plugins
from hub.web import get_hub
from hub.web.admin import bp


@bp.get("/plugins")
def plugins():
    return render_template("admin/plugins.html", plugins=list_plugins(get_hub().pm))

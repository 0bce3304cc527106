"""Plugin settings: a form per settings schema a plugin registers (``hub_register_settings``).

The form is made from the plugin's own marshmallow schema, as a channel's config
form is (:mod:`hub.web.forms`); saving goes through
:class:`hub.runtime.plugin_settings.PluginSettingsStore`, where the schema
validates it and secret fields are encrypted. No page shows a secret's value.
"""

from __future__ import annotations

import logging

from flask import abort, flash, g, redirect, render_template, request, url_for

from hub.core.exceptions import ValidationError
from hub.web import forms, get_hub
from hub.web.admin import bp

log = logging.getLogger(__name__)


@bp.get("/plugins/settings")
def plugin_settings():
    hub = get_hub()
    store = hub.plugin_settings
    with hub.db.read() as db:
        rows = [
            (name, store.schemas[name], store.stored(db, name)) for name in sorted(store.schemas)
        ]
    return render_template("admin/plugin_settings.html", rows=rows)


@bp.route("/plugins/settings/<name>", methods=["GET", "POST"])
def plugin_settings_edit(name: str):
    hub = get_hub()
    store = hub.plugin_settings
    schema = store.schemas.get(name)
    if schema is None:
        abort(404)
    errors: dict = {}
    submitted = None
    if request.method == "POST":
        submitted = forms.parse(schema, request.form)
        try:
            with hub.db.transaction() as db:
                store.save(db, name, submitted, actor=g.user.actor)
        except ValidationError as exc:
            errors = exc.details
        else:
            log.info("settings of %s saved by %s", name, g.user.email)
            flash(f"Settings of {name} saved.", "success")
            return redirect(url_for("admin.plugin_settings_edit", name=name))
    with hub.db.read() as db:
        stored = store.stored(db, name)
    if submitted is None:
        # Nothing saved yet: the form shows the schema's defaults.
        fields = forms.build(
            schema, stored=stored.values or None, stored_secrets=stored.stored_secrets
        )
    else:
        fields = forms.build(
            schema, submitted=submitted, errors=errors, stored_secrets=stored.stored_secrets
        )
    html = render_template(
        "admin/plugin_settings_form.html",
        name=name,
        schema=schema,
        fields=fields,
        stored=stored,
        errors=errors,
        general=forms.schema_level_errors(errors, schema),
    )
    return html, (422 if errors else 200)

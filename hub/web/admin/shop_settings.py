"""Shop settings: the merchant's time zone, which every page shows times in.

The form is made from :class:`hub.runtime.shop_settings.ShopSettingsSchema` as a
plugin's settings form is (:mod:`hub.web.forms`); a zone the system does not know
is refused with the field marked, and nothing is saved.
"""

from __future__ import annotations

import dataclasses
import logging

from flask import flash, g, redirect, render_template, request, url_for

from hub.core.exceptions import ValidationError
from hub.core.timezones import zone_names
from hub.runtime import shop_settings
from hub.web import forms, get_hub
from hub.web.admin import bp

log = logging.getLogger(__name__)

#: The id of the <datalist> of zone names the time zone field suggests from.
ZONE_LIST = "time-zones"


@bp.route("/settings", methods=["GET", "POST"])
def shop_settings_edit():
    hub = get_hub()
    schema = shop_settings.ShopSettingsSchema
    errors: dict = {}
    submitted = None
    if request.method == "POST":
        submitted = forms.parse(schema, request.form)
        try:
            with hub.db.transaction() as db:
                saved = shop_settings.save(db, submitted, actor=g.user.actor)
        except ValidationError as exc:
            errors = exc.details
        else:
            log.info("shop time zone set to %s by %s", saved.time_zone, g.user.email)
            flash(f"Saved: times are now shown in {saved.time_zone}.", "success")
            return redirect(url_for("admin.shop_settings_edit"))
    with hub.db.read() as db:
        current = shop_settings.read(db, hub.settings)
    if submitted is None:
        fields = forms.build(schema, stored={"time_zone": current.time_zone})
    else:
        fields = forms.build(schema, submitted=submitted, errors=errors)
    fields = [
        dataclasses.replace(f, attrs={**f.attrs, "list": ZONE_LIST, "autocomplete": "off"})
        if f.name == "time_zone"
        else f
        for f in fields
    ]
    html = render_template(
        "admin/shop_settings.html",
        fields=fields,
        current=current,
        default_zone=hub.settings.time_zone,
        zones=zone_names(),
        zone_list=ZONE_LIST,
        errors=errors,
    )
    return html, (422 if errors else 200)

"""The dashboard: server-rendered pages (Jinja2 + htmx) under ``/dashboard``, signed in with an API key.

It calls the engine's use-cases, never the database directly, and never imports :mod:`opencaller.api` (the two are
independent siblings). Every page shows its data without JavaScript; htmx (vendored in ``static/``) only
refreshes parts of pages and adds niceties.

Layout::

    dashboard/
      __init__.py      mount(app, context): serves static files, includes every page router
      context.py       DashboardContext (settings, db, cipher, simulator callees) and the ``Ctx`` dependency
      auth.py          sign-in/out, ``SignedIn`` (the viewer) and ``CsrfChecked`` dependencies
      session.py       the sealed session cookie (key id + CSRF token)
      routing.py       page_router(): HTML error pages, sign-in redirects, security headers
      rendering.py     render(request, "x.html", **values) and the template filters
      nav.py           the menu (one NavItem per area)
      pages/           one module per area, each with a ``router``; pages/__init__.py lists them in ROUTERS
      templates/       base.html (layout + nav) and one folder of templates per area
      static/          dashboard.css, htmx.min.js

Adding a page (say, the phone numbers):

1. ``pages/phone_numbers.py``::

       from fastapi import Request
       from fastapi.responses import RedirectResponse, Response

       from opencaller.dashboard.auth import CsrfChecked, SignedIn
       from opencaller.dashboard.context import Ctx
       from opencaller.dashboard.nav import PREFIX
       from opencaller.dashboard.rendering import render
       from opencaller.dashboard.routing import page_router
       from opencaller.engine import phone_numbers

       router = page_router(prefix=f"{PREFIX}/phone-numbers")

       @router.get("")
       async def list_numbers(request: Request, context: Ctx, viewer: SignedIn) -> Response:
           async with context.db.read() as db:
               page = await phone_numbers.list_phone_numbers(db, viewer.team_id, None, None)
           return render(request, "phone_numbers/list.html", area="phone-numbers", numbers=page.items)

       @router.post("")
       async def add_number(request: Request, context: Ctx, viewer: SignedIn, _csrf: CsrfChecked) -> Response:
           form = await request.form()
           async with context.db.transaction() as db:
               ...  # engine use-case; a ValidationFailed can be shown next to the fields (see pages/templates.py)
           return RedirectResponse(f"{PREFIX}/phone-numbers", status_code=303)  # post/redirect/get

2. ``templates/phone_numbers/list.html`` extends ``base.html`` and fills ``{% block title %}`` and
   ``{% block main %}``; every ``<form method="post">`` contains ``{{ csrf_field() }}``.
3. Add ``phone_numbers.router`` to ``ROUTERS`` in ``pages/__init__.py`` (the menu entry is already in nav.py).

Rules the helpers enforce: ``SignedIn`` on every page (signed-out visitors are redirected to the sign-in page and
back); ``CsrfChecked`` on every POST (403 page otherwise; htmx requests send the token in ``X-CSRF-Token``, set
on ``<body hx-headers>``); engine errors raised in a page (``NotFound`` for another team's id, ``ValidationFailed``
...) become HTML error pages with the engine's message. Pass ``area=`` to ``render`` to highlight the menu entry.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from opencaller.dashboard.context import DashboardContext, SimulatedCallee
from opencaller.dashboard.nav import PREFIX

__all__ = ["DashboardContext", "SimulatedCallee", "mount"]


def mount(app: FastAPI, context: DashboardContext) -> None:
    """Serve the dashboard on ``app`` under ``/dashboard`` with ``context`` as its services."""
    from opencaller.dashboard import auth
    from opencaller.dashboard.pages import ROUTERS, fallback

    app.state.dashboard = context
    app.mount(f"{PREFIX}/static", StaticFiles(packages=[("opencaller.dashboard", "static")]), name="dashboard-static")
    app.include_router(auth.router)
    for router in ROUTERS:
        app.include_router(router)
    app.include_router(fallback.router)  # last: an unknown dashboard path gets an HTML 404 page

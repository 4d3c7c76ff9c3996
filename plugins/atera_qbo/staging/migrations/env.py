"""Alembic environment of the staging database (run by ``atera_qbo.staging.migrate``, not by a bare
``alembic`` command: there is no alembic.ini). Online mode uses the connection ``migrate`` passes in
``config.attributes["connection"]``; offline mode (``--sql``) renders the DDL for the URL's dialect."""
from __future__ import annotations

from alembic import context

from atera_qbo.staging.migrate import configure_context

configure_context(context)

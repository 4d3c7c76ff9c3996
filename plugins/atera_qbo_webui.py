"""Airflow plugin: the finance wizard ("Atera ↔ QBO" in the navigation) and the Accounting page (Connect, manage,
Disconnect), a FastAPI app mounted by the API server behind Airflow's login. The app and its pages live in
``atera_qbo.webui``."""
from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from atera_qbo.config import PLUGIN_PATH as URL_PREFIX
from atera_qbo.webui.app import create_app


class AteraQboPlugin(AirflowPlugin):
    name = "atera_qbo"
    # AirflowPlugin declares these as plain attributes (a ClassVar would clash with it); Airflow reads the class's
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Atera ↔ QBO"}]  # noqa: RUF012 - see above
    external_views = [  # noqa: RUF012 - see above
        {"name": "Atera ↔ QBO", "href": f"{URL_PREFIX}/", "destination": "nav", "url_route": "atera-qbo"},
        {"name": "Accounting", "href": f"{URL_PREFIX}/accounting", "destination": "nav",
         "url_route": "atera-qbo-accounting"}]

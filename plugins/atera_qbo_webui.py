"""Airflow plugin: the finance wizard ("Atera ↔ QBO" in the navigation), a FastAPI app mounted by the API server
behind Airflow's login. The app and its pages live in ``atera_qbo.webui``."""
from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from atera_qbo.webui.app import create_app

URL_PREFIX = "/atera-qbo"


class AteraQboPlugin(AirflowPlugin):
    name = "atera_qbo"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Atera ↔ QBO"}]
    external_views = [{"name": "Atera ↔ QBO", "href": f"{URL_PREFIX}/", "destination": "nav",
                       "url_route": "atera-qbo"}]

"""The finance wizard served by the Airflow plugin in plugins/atera_qbo_webui.py."""

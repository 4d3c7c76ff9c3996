"""Notifications: tell people when something needs them, by e-mail and Slack, through Airflow's own notifiers
(the SMTP provider's ``SmtpNotifier``, the Slack provider's ``SlackWebhookNotifier``).

What is told, and by whom (README "Notifications"):

- ``reconciliation.py`` — the reconciliation task, after its report: new critical findings and new warnings (counts by
  type, the first few, a link to the report), with what stays open; a reminder of what stays open once a week;
- ``export.py`` — the export task, before it fails on them: the invoices it blocked or QBO refused, why, and the fix;
- ``failures.py`` — any task that fails after its last retry (``callbacks.on_task_failure``, set in every DAG's
  ``default_args``): the DAG, the task and the error's first line; one message per DAG per hour;
- ``expiry.py`` — the reconciliation task, daily: a QBO refresh token (rolling or hard expiry) or the Atera token
  within 30 days of its end, and a disconnected QBO company.

Beside them: ``settings.py`` reads the configuration (connections ``atera_qbo_smtp`` and ``atera_qbo_slack``,
Variable ``atera_qbo_notify_to``, Airflow's ``[api] base_url`` for links) and says once per process when
notifications are off; ``message.py`` is the message and its text safety (no secret leaves in a message or a log
line); ``deliver.py`` hands a message to the notifiers and never lets a failure to notify escape; ``memory.py``
remembers what was told (tables ``notify_items``, ``notify_messages``) so nothing open is told twice.

Nothing is imported here: a DAG file imports ``callbacks`` at parse time, and that must stay light.
"""

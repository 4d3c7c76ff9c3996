# The Airflow image of this project: the pinned official image plus exactly the tested dependency set
# (requirements.txt under constraints.txt), the domain package, the DAGs and the API twins (for the demo profile).
# Built by docker-compose.yaml (`docker-compose build`); the same image runs every Airflow service and both twins.
FROM apache/airflow:3.3.2-python3.11

COPY --chown=airflow:root requirements.txt constraints.txt /opt/airflow/project/
RUN pip install --no-cache-dir -r /opt/airflow/project/requirements.txt -c /opt/airflow/project/constraints.txt

COPY --chown=airflow:root dags/ /opt/airflow/dags/
COPY --chown=airflow:root plugins/ /opt/airflow/plugins/
COPY --chown=airflow:root include/ /opt/airflow/project/include/
COPY --chown=airflow:root sandbox/ /opt/airflow/project/sandbox/
COPY --chown=airflow:root scripts/ /opt/airflow/project/scripts/

# Directories that named volumes are mounted on: created here, owned by airflow, so the volumes start writable.
USER root
RUN mkdir -p /opt/airflow/review /opt/airflow/twins /opt/airflow/secrets /opt/airflow/companies \
    && chown -R airflow:root /opt/airflow/review /opt/airflow/twins /opt/airflow/secrets /opt/airflow/companies
USER airflow

ENV PYTHONPATH=/opt/airflow/project:/opt/airflow/plugins

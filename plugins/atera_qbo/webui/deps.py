"""What the pages depend on, handed out by FastAPI's dependency injection (``Annotated[..., Depends(...)]``, as
Airflow's own API routes do). The app's lifespan builds the long-lived part once (``Services``: the staging hook,
whose engine is the process's one for its URL, and the review cache); tests replace any of these with
``app.dependency_overrides``."""
from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Request

from ..config import review_dir, variable
from ..hooks import QuickBooksHook, StagingHook
from . import review as rv
from .runs import AirflowRuns, DagRuns


@dataclass
class Services:
    """Built once per app (its lifespan): the staging hook and the parsed review, reused by every request."""

    staging: StagingHook = field(default_factory=StagingHook)
    reviews: rv.ReviewCache = field(default_factory=rv.ReviewCache)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Airflow's API server enters each mounted plugin app's lifespan. Nothing is connected here: the engine is
    made on the first request that needs it, so a staging database that is down never stops the API server."""
    app.state.services = Services()
    yield


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def staging_engine(svc: Annotated[Services, Depends(services)]) -> sa.Engine:
    return svc.staging.engine


def current_review_dir() -> Path:
    return review_dir(variable)


def current_review(svc: Annotated[Services, Depends(services)],
                   where: Annotated[Path, Depends(current_review_dir)]) -> rv.Review:
    return svc.reviews.of(where / "match_review.csv")


def today() -> date:
    return date.today()


def qbo_app_url() -> str | None:
    """The QBO web app of the connection's environment (links); None → production QBO, as the report's."""
    try:
        return QuickBooksHook().settings.app_url
    except Exception:  # noqa: BLE001 - no QBO connection yet: the pages still work, linking to production QBO
        return None


def dag_runs() -> DagRuns:
    return AirflowRuns()


Engine = Annotated[sa.Engine, Depends(staging_engine)]
ReviewDir = Annotated[Path, Depends(current_review_dir)]
CurrentReview = Annotated[rv.Review, Depends(current_review)]
Today = Annotated[date, Depends(today)]
QboAppUrl = Annotated[str | None, Depends(qbo_app_url)]
Runs = Annotated[DagRuns, Depends(dag_runs)]

"""What the pages depend on, handed out by FastAPI's dependency injection (``Annotated[..., Depends(...)]``, as
Airflow's own API routes do). Everything here is the CURRENT COMPANY's (``security.current_scope``: ``?company=``,
else the user's first): its staging engine, review dir, review, QBO app URL and DAG runs. The app's lifespan builds
the long-lived part once (``Services``: one staging hook per company, whose engine is the process's one for its
URL, and the review cache); tests replace any of these with ``app.dependency_overrides``."""
from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
from fastapi import Depends, FastAPI, HTTPException, Request

from ..companies import Company
from ..config import review_dir, variable
from ..errors import ConfigError
from ..hooks import QuickBooksHook, StagingHook
from . import review as rv
from .runs import AirflowRuns, CompanyRuns, DagRuns
from .security import CompanyDep


@dataclass
class Services:
    """Built once per app (its lifespan): each company's staging hook and the parsed reviews, reused by every
    request (a company changed in the companies file is a new key: a new hook)."""

    stagings: dict[Company, StagingHook] = field(default_factory=dict)
    reviews: rv.ReviewCache = field(default_factory=rv.ReviewCache)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def staging(self, company: Company) -> StagingHook:
        with self._lock:
            hook = self.stagings.get(company)
            if hook is None:
                hook = self.stagings[company] = StagingHook(company=company)
            return hook

    def engine(self, company: Company) -> sa.Engine:
        """The company's engine; a database that is another company's (or cannot be reached) is a 503 saying so."""
        try:
            return self.staging(company).engine
        except ConfigError as exc:
            raise HTTPException(503, f"company {company.id}: {exc}") from None


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Airflow's API server enters each mounted plugin app's lifespan. Nothing is connected here: an engine is
    made on the first request that needs it, so a staging database that is down never stops the API server."""
    app.state.services = Services()
    yield


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


Svc = Annotated[Services, Depends(services)]


def staging_engine(svc: Svc, company: CompanyDep) -> sa.Engine:
    return svc.engine(company)


def company_review_dir(company: Company) -> Path:
    """The company's review dir: the deployment's for ``default``, ``<it>/companies/<id>`` for another."""
    return company.review_dir(review_dir(variable))


def current_review_dir(company: CompanyDep) -> Path:
    return company_review_dir(company)


def current_review(svc: Svc, where: Annotated[Path, Depends(current_review_dir)]) -> rv.Review:
    return svc.reviews.of(where / "match_review.csv")


def today() -> date:
    return date.today()


def qbo_app_url(company: CompanyDep) -> str | None:
    """The QBO web app of the company's connection's environment (links); None → production QBO, as the report's."""
    try:
        return QuickBooksHook(company=company).settings.app_url
    except Exception:  # noqa: BLE001 - no QBO connection yet: the pages still work, linking to production QBO
        return None


def dag_runs() -> DagRuns:
    return AirflowRuns()


def company_runs(found: Annotated[DagRuns, Depends(dag_runs)], company: CompanyDep) -> CompanyRuns:
    return CompanyRuns(found, company)


Engine = Annotated[sa.Engine, Depends(staging_engine)]
ReviewDir = Annotated[Path, Depends(current_review_dir)]
CurrentReview = Annotated[rv.Review, Depends(current_review)]
Today = Annotated[date, Depends(today)]
QboAppUrl = Annotated[str | None, Depends(qbo_app_url)]
Runs = Annotated[CompanyRuns, Depends(company_runs)]

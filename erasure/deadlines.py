"""Legal deadlines per regulation (product.md "Request lifecycle")."""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta

from django.conf import settings


def add_calendar_month(moment: datetime) -> datetime:
    """One calendar month later; the 31st becomes the last day of a shorter month."""
    year = moment.year + (1 if moment.month == 12 else 0)
    month = 1 if moment.month == 12 else moment.month + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def due_at(*, regulation: str, received_at: datetime) -> datetime:
    # GDPR Art. 12(3): "within one month of receipt of the request".
    if regulation == "gdpr":
        return add_calendar_month(received_at)
    return received_at + timedelta(days=settings.ERASURE_DEADLINE_DAYS[regulation])

"""`AgeBounds.birth_dates`: the acknowledgement's one statement tests a child's age in SQL with
it, so it must say exactly what `fits` says, leap days included."""

from datetime import date, timedelta

import pytest

from marelle_enrolment.domain.rules import AgeBounds


@pytest.mark.parametrize("period_start", [
    date(2027, 7, 6), date(2028, 2, 29), date(2028, 3, 1), date(2027, 2, 28), date(2027, 1, 1),
    date(2026, 12, 31)])
@pytest.mark.parametrize("ages", [(0, 0), (0, 3), (3, 5), (6, 11), (11, 17), (25, 25)])
def test_birth_dates_say_what_fits_says(period_start: date, ages: tuple[int, int]) -> None:
    bounds = AgeBounds(*ages)
    after, until = bounds.birth_dates(period_start)
    day, last = period_start - timedelta(days=366 * 27), period_start + timedelta(days=3)
    disagreements = []
    while day <= last:
        if bounds.fits(day, period_start) != (after < day <= until):
            disagreements.append(day)
        day += timedelta(days=1)
    assert disagreements == []
    assert bounds.fits(until, period_start) and not bounds.fits(after, period_start)

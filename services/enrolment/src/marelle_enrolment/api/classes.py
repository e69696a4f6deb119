"""Staff endpoints: the school classes (from the schools' system) and their children's
registrations, with the age-group checks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from marelle_enrolment.api import schemas as s
from marelle_enrolment.api.deps import Staff, UoW
from marelle_enrolment.usecases import schools

router = APIRouter(prefix="/staff/classes", tags=["enrolment (staff)"])

Year = Annotated[str, Query(max_length=9, description="2026-2027")]


@router.get("", response_model=s.SchoolClasses)
async def classes(_: Staff, uow: UoW, school_year: Year) -> dict[str, Any]:
    return await schools.classes(uow, school_year)


@router.get("/children", response_model=s.ClassChildren)
async def class_children(_: Staff, uow: UoW, school_year: Year,
                         school_id: Annotated[str, Query(min_length=1, max_length=20)],
                         class_name: Annotated[str, Query(min_length=1, max_length=60)]
                         ) -> dict[str, Any]:
    return await schools.class_children(uow, school_year, school_id, class_name)

"""Enrolment's HTTP adapter: thin endpoints calling the use cases (see API.md)."""

from marelle_enrolment.api import family, staff

routers = [family.router, staff.router]

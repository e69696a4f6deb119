"""Enrolment's HTTP adapter: thin endpoints calling the use cases (see API.md)."""

from marelle_enrolment.api import classes, family, staff, tickets

routers = [family.router, staff.router, classes.router, tickets.router]

"""Enrolment's HTTP adapter: thin endpoints calling the use cases (see API.md)."""

from marelle_enrolment.api import classes, family, staff, tickets

# The opening queue first: routes are matched in order, one by one, and at an opening nearly
# every request is a ticket (no path of the others overlaps these).
routers = [tickets.router, family.router, staff.router, classes.router]

# The ticket submission also in the fast lane (chassis/fastlane.py): most of an opening's load.
lanes = tickets.lanes

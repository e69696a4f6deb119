"""Booking's HTTP adapter: thin endpoints calling the use cases (see API.md).

`family` (parents: the month grid, reservations, typical week, groups, waiting days, dashboard),
`staff` (calendars and their options, day waiting lists, staff cancel/promote), `operations`
(shuttles, roll calls, occupancy, day lists, calendar feeds).
"""

from marelle_booking.api import family, operations, staff

routers = [family.router, staff.router, operations.router]

# The ticket submission also in the fast lane (chassis/fastlane.py): an opening's load.
lanes = family.lanes

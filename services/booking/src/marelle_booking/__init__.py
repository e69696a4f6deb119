"""Booking: booking calendars, reservations, day capacities and waiting lists, typical weeks, shuttles, attendance."""

"""Identity's HTTP adapter: thin endpoints calling the use cases (see API.md)."""

from marelle_identity.api import auth, family, privacy, staff, totp

routers = [auth.router, totp.router, family.router, privacy.family_router, staff.router,
           privacy.staff_router]

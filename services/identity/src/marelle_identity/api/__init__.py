"""Identity's HTTP adapter: thin endpoints calling the use cases (see API.md)."""

from marelle_identity.api import auth, family, staff

routers = [auth.router, family.router, staff.router]

"""Identity's HTTP adapter: thin endpoints calling the use cases (see API.md)."""

from marelle_identity.api import auth, family, provisional, staff

routers = [auth.router, family.router, staff.router, provisional.router]

import argparse
import asyncio
import sys

from marelle_chassis import migrations
from marelle_chassis.cli import run_cli
from marelle_chassis.domain_errors import DomainError
from marelle_identity.config import IdentitySettings
from marelle_identity.main import MIGRATIONS, create_admin, explain, production_problems, seed_demo


def _create_admin(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m marelle_identity create-admin",
                                     description="Crée un administrateur avec un mot de passe à "
                                                 "usage unique, affiché une fois, à changer à la "
                                                 "première connexion.")
    parser.add_argument("--email", required=True)
    parser.add_argument("--name", default="Administrateur")
    args = parser.parse_args(argv)
    settings = IdentitySettings()
    migrations.upgrade(MIGRATIONS, settings.database_url)
    try:
        password = asyncio.run(create_admin(settings, args.email, args.name))
    except DomainError as exc:
        print(f"create-admin : {exc.detail}", file=sys.stderr)
        return 2
    if password is None:
        print(f"create-admin : un compte du personnel existe déjà pour {args.email}.",
              file=sys.stderr)
        return 1
    print(f"Administrateur créé : {args.email}\n"
          f"Mot de passe à usage unique (affiché cette seule fois, à changer à la première "
          f"connexion) : {password}")
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["create-admin"]:
        return _create_admin(argv[1:])
    if argv[:1] == ["serve"]:
        problems = production_problems(IdentitySettings())
        if problems:  # said plainly, before anything starts
            print(explain(problems), file=sys.stderr)
            return 2
    return run_cli(settings_factory=IdentitySettings, app_path="marelle_identity.main:create_app",
                   migrations_dir=MIGRATIONS, commands={"seed-demo": seed_demo}, argv=argv)


sys.exit(main(sys.argv[1:]))

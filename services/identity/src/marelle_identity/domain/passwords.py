"""The password rule, one place for every form that sets a password."""

from marelle_chassis.domain_errors import InvalidInput

MIN_LENGTH = 10


def check_password(password: str, email: str | None, field_name: str = "password") -> None:
    problem = None
    if len(password) < MIN_LENGTH:
        problem = f"Le mot de passe doit compter au moins {MIN_LENGTH} caractères."
    elif password.isdigit():
        problem = "Le mot de passe ne doit pas être composé uniquement de chiffres."
    elif email and password.strip().casefold() == email.strip().casefold():
        problem = "Le mot de passe ne doit pas être votre adresse e-mail."
    elif len(password) > 200:
        problem = "Le mot de passe ne doit pas dépasser 200 caractères."
    if problem:
        raise InvalidInput(problem, erreurs=[{"champ": field_name, "message": problem}])

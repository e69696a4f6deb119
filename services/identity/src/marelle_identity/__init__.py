"""Identity: accounts, staff, households (families), persons and signing keys."""

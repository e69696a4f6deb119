"""Identity's tables (its own database; no other service reads it)."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    Uuid,
)

from marelle_chassis.db import UtcDateTime, new_metadata

metadata = new_metadata()

family = Table(
    "family", metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("email", String(254), nullable=True, unique=True),
    Column("needs_review", Boolean, nullable=False, server_default="0"),
    Column("created_at", UtcDateTime, nullable=False),
    # Contact details (« Mes coordonnées »); phones in E.164.
    Column("home_phone", String(20), nullable=True),
    Column("beneficiary_name", String(100), nullable=True),
    Column("beneficiary_scheme", String(10), nullable=True),
    Column("beneficiary_number", String(20), nullable=True),
    # Lower-case, accent-free "name email children…": staff search works the same on both databases.
    Column("search_key", Text, nullable=True),
    # The household's version: every event about it (all identity events are keyed by family id)
    # carries the version it was bumped to, in the same transaction; copies ignore older ones.
    Column("version", Integer, nullable=False, server_default="1"),
    # Set when a deletion request was accepted (GDPR): names and contact details are erased.
    Column("anonymised_at", UtcDateTime, nullable=True),
)

person = Table(
    "person", metadata,
    Column("id", Uuid, primary_key=True),
    Column("family_id", Uuid, ForeignKey("family.id"), nullable=False, index=True),
    Column("role", String(20), nullable=False),  # child | guardian
    Column("first_name", String(100), nullable=False),
    Column("last_name", String(100), nullable=False),
    Column("birth_date", Date, nullable=True),
    Column("sex", String(1), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("rank", Integer, nullable=True),  # guardians: 1 or 2 (« Parent 1 », « Parent 2 »)
    Column("mobile_phone", String(20), nullable=True),
    Column("work_phone", String(20), nullable=True),
)

account = Table(
    "account", metadata,
    Column("id", Uuid, primary_key=True),
    Column("family_id", Uuid, ForeignKey("family.id"), nullable=False, unique=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("password_hash", String(200), nullable=True),  # null until the invitation is accepted
    # invited | pending (a sign-up whose address is not yet confirmed) | active
    Column("status", String(10), nullable=False),
    Column("activated_at", UtcDateTime, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    # Bumped by each revocation of its sessions: the `aggregate_version` of `sessions_revoked`
    # (keyed by account), and the UPDATE that bumps it locks the account's row meanwhile.
    Column("session_version", Integer, nullable=False, server_default="0"),
)

refresh_token = Table(
    "refresh_token", metadata,
    Column("token_hash", String(64), primary_key=True),  # sha256: the token itself is never stored
    Column("account_id", Uuid, ForeignKey("account.id"), nullable=False, index=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=True),
    # Set when revoked by rotation (not by logout): a grace period lets two tabs refresh at once.
    Column("rotated_at", UtcDateTime, nullable=True),
    # The session (one per login, kept across rotations): the access tokens' `sid`. Null only on
    # tokens issued before sessions existed.
    Column("session_id", Uuid, nullable=True, index=True),
)

# Ended sessions, for identity's own token check (the other services learn them from the
# `identity.sessions_revoked` event): a token is refused when its `sub` has a row with its `sid`,
# or a row without session whose `revoked_before` is at or after the token's `iat`.
session_revocation = Table(
    "session_revocation", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("account_id", Uuid, nullable=False, index=True),
    Column("session_id", Uuid, nullable=True),
    Column("revoked_before", UtcDateTime, nullable=False),
    Column("reason", String(30), nullable=False),
)

one_time_token = Table(
    "one_time_token", metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("purpose", String(20), nullable=False),  # invitation | reset | signup
    Column("account_id", Uuid, ForeignKey("account.id"), nullable=False, index=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("used_at", UtcDateTime, nullable=True),
)

# Attempt counters (`domain.throttle`): one row per key ("login:<email>@<address>",
# "address:<ip>", ...), counted in its current window by one atomic upsert per attempt.
login_throttle = Table(
    "login_throttle", metadata,
    Column("key", String(400), primary_key=True),
    Column("failures", Integer, nullable=False),
    Column("window_started_at", UtcDateTime, nullable=False),
)

contact_change_request = Table(
    "contact_change_request", metadata,
    Column("id", Uuid, primary_key=True),
    Column("family_id", Uuid, ForeignKey("family.id"), nullable=False, index=True),
    Column("changes", Text, nullable=False),  # JSON {field: {before, after}}
    Column("status", String(12), nullable=False),  # en_attente | acceptee | refusee
    Column("reason", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("decided_at", UtcDateTime, nullable=True),
    Column("decided_by", Uuid, nullable=True),
)
Index("ix_contact_change_request_status", contact_change_request.c.status,
      contact_change_request.c.created_at)

staff_account = Table(
    "staff_account", metadata,
    Column("id", Uuid, primary_key=True),
    Column("email", String(254), nullable=False, unique=True),
    Column("display_name", String(100), nullable=False),
    Column("password_hash", String(200), nullable=False),
    Column("roles", String(200), nullable=False),  # space-separated: administrator manager
    Column("created_at", UtcDateTime, nullable=False),
    Column("session_version", Integer, nullable=False, server_default="0"),  # as on `account`
    Column("disabled_at", UtcDateTime, nullable=True),  # disabled: no login, sessions revoked
    # A generated one-time password (`create-admin`): no session until it is changed.
    Column("must_change_password", Boolean, nullable=False, server_default="0"),
    # TOTP second factor (RFC 6238, base32 secret): active once confirmed with a first code;
    # `totp_pending_secret` is an enrolment not confirmed yet. `totp_last_step` is the time step
    # of the last code accepted: a code is never accepted twice (a watched code is worthless).
    # Both encrypted at rest (Fernet, key `IDENTITY_TOTP_KEY`: see `secretbox`): a copy of the
    # database alone does not give the codes.
    Column("totp_secret", String(255), nullable=True),
    Column("totp_pending_secret", String(255), nullable=True),
    Column("totp_last_step", BigInteger, nullable=True),
)

staff_audit = Table(
    "staff_audit", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    # Who: the staff member; null for an authentication event of a parent or of an unknown
    # address (then `staff_email` is the address given).
    Column("staff_id", Uuid, nullable=True),
    Column("staff_email", String(254), nullable=False),
    Column("action", String(60), nullable=False),
    Column("target", String(200), nullable=False),
    Column("details", Text, nullable=False),  # JSON
)

email_message = Table(
    "email_message", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("to_address", String(254), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("text_body", Text, nullable=False),
    Column("html_body", Text, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("sent_at", UtcDateTime, nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("last_error", Text, nullable=True),
    # A sender's lease on the row (see `mailer`): two processes never send one email twice.
    Column("claimed_by", String(64), nullable=True),
    Column("claimed_until", UtcDateTime, nullable=True),
)

signing_key = Table(
    "signing_key", metadata,
    Column("kid", String(64), primary_key=True),
    Column("private_pem", Text, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

# A family's request to erase its data (GDPR): at most one pending per household (also enforced
# by the database); staff accept it (the household is anonymised) or refuse it with a reason.
deletion_request = Table(
    "deletion_request", metadata,
    Column("id", Uuid, primary_key=True),
    Column("family_id", Uuid, ForeignKey("family.id"), nullable=False, index=True),
    Column("status", String(12), nullable=False),  # en_attente | acceptee | refusee
    Column("reason", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("decided_at", UtcDateTime, nullable=True),
    Column("decided_by", Uuid, nullable=True),
    Column("decision_reason", Text, nullable=True),
)
Index("uq_deletion_request_pending", deletion_request.c.family_id, unique=True,
      postgresql_where=deletion_request.c.status == "en_attente",
      sqlite_where=deletion_request.c.status == "en_attente")

# Every staff read of a household's file (GDPR): who, when, what.
household_read = Table(
    "household_read", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("family_id", Uuid, nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("staff_id", Uuid, nullable=True),
    Column("staff_email", String(254), nullable=False),
    Column("what", String(60), nullable=False),
)
Index("ix_household_read_family_at", household_read.c.family_id, household_read.c.at)

"""The two kinds of HTTP body."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A request body: an unknown field is refused (422), never silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Answer(BaseModel):
    """A response body: readers ignore the fields they do not know (added in a later version)."""

    model_config = ConfigDict(extra="ignore")


class Created(Answer):
    """`201` of a creation: the new resource's id."""

    id: uuid.UUID

"""Form errors shown the accessible way: a summary linking to each field, the message by it."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from marelle_backoffice.clients import UpstreamProblem


class FormErrors:
    """Messages by field id (the HTML `id` of the input), plus messages about the whole form."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self.general: list[str] = []
        self._summaries: dict[str, str] = {}

    def __bool__(self) -> bool:
        return bool(self.fields or self.general)

    def __len__(self) -> int:
        return len(self.fields) + len(self.general)

    def add(self, field_id: str, message: str, summary: str | None = None) -> None:
        """`summary`: the wording in the summary at the top when the field's own is too short."""
        if field_id not in self.fields:  # the first problem of a field is enough
            self.fields[field_id] = message
            if summary:
                self._summaries[field_id] = summary

    def summary(self, field_id: str) -> str:
        return self._summaries.get(field_id) or self.fields[field_id]

    def get(self, field_id: str) -> str | None:
        return self.fields.get(field_id)

    def add_problem(self, problem: UpstreamProblem,
                    field_of: Mapping[str, str] | Callable[[str], str | None],
                    fallback: str) -> None:
        """An identity 4xx: its 422 fields on our inputs, the rest (409…) at the top."""
        lookup = field_of.get if isinstance(field_of, Mapping) else field_of
        for error in problem.errors:
            field_id = lookup(error["champ"])
            if field_id:
                self.add(field_id, error["message"])
            else:
                self.general.append(error["message"])
        if not problem.errors:
            self.general.append(problem.detail or fallback)


def text(form: Mapping[str, object], name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""

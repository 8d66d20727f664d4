"""Error bodies of the local org, worded and shaped as Salesforce answers them.

REST errors are a JSON array of ``{message, errorCode[, fields]}``; inside SaveResults the code key
is ``statusCode`` and ``fields`` is always present; OAuth errors are ``{error, error_description}``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SaveError:
    """One error about one record (a SaveResult entry or a single-record REST error)."""

    status_code: str
    message: str
    fields: tuple[str, ...] | None = None  # None: the REST body has no "fields" key

    def rest(self) -> dict:
        body: dict = {"message": self.message, "errorCode": self.status_code}
        if self.fields is not None:
            body["fields"] = list(self.fields)
        return body

    def save_result(self) -> dict:
        return {"statusCode": self.status_code, "message": self.message, "fields": list(self.fields or ())}


class ApiError(Exception):
    """A whole request fails: HTTP ``status`` with a JSON ``body``."""

    def __init__(self, status: int, body):
        self.status = status
        self.body = body
        super().__init__(f"HTTP {status}")

    @classmethod
    def of(cls, status: int, code: str, message: str, fields: list[str] | None = None) -> "ApiError":
        return cls(status, [SaveError(code, message, tuple(fields) if fields is not None else None).rest()])

    @classmethod
    def from_save_errors(cls, errors: list[SaveError], status: int = 400) -> "ApiError":
        return cls(status, [e.rest() for e in errors])


class RecordErrors(Exception):
    """A record failed validation (or its write failed) with these errors."""

    def __init__(self, errors: list[SaveError]):
        self.errors = errors
        super().__init__(", ".join(e.status_code for e in errors))


ECHO_LIMIT = 1000  # characters of a client's value an error message repeats


def echo(value: str, limit: int = ECHO_LIMIT) -> str:
    """``value`` as an error message repeats it: a huge value is cut (the client sent it; it needs a hint only)."""
    return value if len(value) <= limit else value[:limit] + "..."


def not_found() -> ApiError:
    return ApiError.of(404, "NOT_FOUND", "The requested resource does not exist")


def invalid_session() -> ApiError:
    return ApiError.of(401, "INVALID_SESSION_ID", "Session expired or invalid")


def invalid_field(field_name: str, sobject: str) -> SaveError:
    return SaveError("INVALID_FIELD", f"No such column '{echo(field_name)}' on sobject of type {sobject}")


def json_parser_error(message: str) -> ApiError:
    return ApiError.of(400, "JSON_PARSER_ERROR", message)


def oauth_error(error: str, description: str) -> ApiError:
    return ApiError(400, {"error": error, "error_description": description})


ROLLED_BACK = SaveError(
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone header",
    (),
)

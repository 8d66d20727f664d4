"""The project's own exceptions.

The CLI is the only place that turns these into messages and exit codes. Two families, as
CumulusCI splits them: ``UsageError`` means the user asked for something that cannot be done as
asked (fix the command or the config), ``SfsyncFailure`` means the request was fine but the work
failed. Messages never contain secrets: build them from names, never from credential values.
"""

from __future__ import annotations


class SfsyncError(Exception):
    """Base of every error sfsync raises on purpose."""

    exit_code = 1


class UsageError(SfsyncError):
    """Bad input: unknown org, malformed option value, missing file."""

    exit_code = 2


class ConfigError(UsageError):
    """sfsync.toml or the environment does not describe a usable org."""


class SfsyncFailure(SfsyncError):
    """The request was well formed but the work could not be done."""


class MetadataInvalid(SfsyncFailure):
    """The metadata tree has problems; ``problems`` holds one line each (path:line: message)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(f"{len(problems)} problem(s) in metadata")


class OrgUnreachable(SfsyncFailure):
    """No HTTP answer from the org (connection refused, DNS, TLS)."""


class AuthenticationFailed(SfsyncFailure):
    """The org refused the login. Never retried: a loop would lock the user out."""


class SalesforceApiError(SfsyncFailure):
    """An error answer from a Salesforce API, with its HTTP status and Salesforce error code."""

    def __init__(self, message: str, *, status: int | None = None, error_code: str | None = None):
        self.status = status
        self.error_code = error_code
        self.detail = message
        prefix = f"{error_code}: " if error_code else ""
        super().__init__(f"{prefix}{message}")


class SessionExpired(SalesforceApiError):
    """401 INVALID_SESSION_ID after the one allowed refresh."""


class ApiLimitExceeded(SalesforceApiError):
    """403 REQUEST_LIMIT_EXCEEDED: the org's daily API allowance is spent."""

    exit_code = 3


class DeployFailed(SfsyncFailure):
    """A Metadata API deploy ended in a state other than Succeeded."""


class LocalOrgError(SfsyncFailure):
    """The local org's state folder is missing, corrupt or foreign, or its server cannot start."""


class Terminated(BaseException):
    """SIGTERM arrived during a command that does not handle it itself (see ``cli.main``).

    A BaseException, like KeyboardInterrupt, so that no ``except Exception`` on the way up
    swallows it while the ``with`` blocks and ``finally`` clauses still clean up.
    """

    exit_code = 143  # 128 + SIGTERM, what a shell reports for a process killed by it

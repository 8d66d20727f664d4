"""F6: tell the responsible staff about every unprocessed (未処理) test-drive reservation, once.

One run, in API calls (N notices out of S reservations read, B = ceil(N/200)):

1. probe: the lowest-Id candidate (``LIMIT 1``); no candidate, nothing else is sent;
2. the CustomNotificationType's Id;
3. take the worker lease (one PATCH, see below);
4. page through the candidates ``ORDER BY Id`` (ceil(S/2000) calls), and per batch of 200
   notices: one customNotificationAction call, then one PATCH stamping the reservations whose
   notice went out (``Overdue_Notified_At__c`` for the first notice, ``Escalated_At__c`` for the
   escalation to the store manager). Batches are filled across pages. The lease's own record
   (the probe's) is held back to the last batch, so the last stamp PATCH releases the lease in
   the same record; only when that record cannot be sent does the release cost one more call.

Order per batch is notify, then stamp: a run killed between the two sends that batch again on
the next run (the documented duplicate window, at most one batch); a run killed anywhere else
loses nothing, since an unstamped reservation is a candidate again.

The lease: the one reservation whose ``Notice_Claim__c`` (a unique field) holds
``OVERDUE_WORKER_LEASE`` carries it, with its holder (``worker id/run id``) and expiry. A worker
writes the key on the probe record; a second worker writing it on another record gets
DUPLICATE_VALUE from the org. Two workers writing the same record do not collide in the org, so
each waits ``lease_settle_seconds`` after its write and reads the holder back (in its first
page): the later write wins, the other gives up. That is safe when each worker's read-to-write
time is below the settle time, which the worker measures and enforces (it gives up otherwise).
An expired lease, or one left by the same worker id (a killed run), is taken over in place.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Literal

from pydantic import AwareDatetime, BaseModel, Field

from sfsync import notices
from sfsync.client import COLLECTION_CHUNK, OrgClient, QueryPage, SaveResult
from sfsync.domain import (
    CLOSED_STATUSES,
    DEFAULT_ESCALATE_AFTER_DAYS,
    DEFAULT_OVERDUE_DAYS,
    NoRecipient,
    NoticeRecipient,
    StaffUser,
    api_datetime,
    escalation_cutoff,
    escalation_recipient,
    first_notice_recipient,
    is_due_for_escalation,
    is_overdue,
    overdue_cutoff,
    parse_api_datetime,
    soql_datetime,
    soql_string,
)
from sfsync.errors import ApiLimitExceeded, SalesforceApiError, SfsyncFailure

logger = logging.getLogger(__name__)
# One JSON line per batch and one summary (worker_runtime.JsonLinesFormatter renders them).
events = logging.getLogger("sfsync.worker.events")

RESERVATION = "Test_Drive_Reservation__c"
NOTIFICATION_TYPE = "Test_Drive_Overdue"
NOTIFICATION_ACTION = "customNotificationAction"
TITLE_MAX = notices.TITLE_MAX
BODY_MAX = notices.BODY_MAX
BATCH_SIZE = 200

NOTIFIED_AT = "Overdue_Notified_At__c"
ESCALATED_AT = "Escalated_At__c"
CLAIM = "Notice_Claim__c"
CLAIMED_BY = "Notice_Claimed_By__c"
CLAIMED_UNTIL = "Notice_Claimed_Until__c"
LEASE_KEY = "OVERDUE_WORKER_LEASE"

NOTICE = "notice"
ESCALATION = "escalation"

EXIT_OK = 0
EXIT_COULD_NOT_RUN = 1
EXIT_ITEMS_FAILED = 2
EXIT_API_LIMIT = 3

MAX_QUERY_RESTARTS = 5

Outcome = Literal["done", "stopped", "api_limit", "aborted"]


def default_worker_id() -> str:
    """$SFSYNC_WORKER_ID, else the host name: runs of one worker id never overlap (scheduler's promise)."""
    return (os.environ.get("SFSYNC_WORKER_ID") or socket.gethostname() or "worker")[:80]


class WorkerOptions(BaseModel):
    now: AwareDatetime
    days: int = Field(DEFAULT_OVERDUE_DAYS, ge=1)
    escalate_after: int = Field(DEFAULT_ESCALATE_AFTER_DAYS, ge=1)
    dry_run: bool = False
    digest: bool = False
    time_zone: str = "Asia/Tokyo"
    batch_size: int = Field(BATCH_SIZE, ge=1, le=BATCH_SIZE)
    # Refuse to start, and stop between batches, when fewer daily API requests are left.
    min_api_remaining: int = Field(0, ge=0)
    lease: bool = True
    lease_seconds: float = Field(1800.0, gt=0)
    lease_settle_seconds: float = Field(3.0, ge=0)
    worker_id: str = Field(default_factory=default_worker_id, min_length=1, max_length=80)
    list_view: str = notices.DEFAULT_LIST_VIEW
    lock_attempts: int = Field(3, ge=1, le=10)
    # The result lists at most this many reservation ids (counts stay exact): memory stays flat.
    max_listed_ids: int = Field(10_000, ge=0)


class ItemFailure(BaseModel):
    id: str
    error_code: str
    message: str


class NotifiedRecipient(BaseModel):
    user_id: str
    user_name: str | None
    reservation_ids: list[str]
    escalated_ids: list[str] = []


class WorkerResult(BaseModel):
    checked: int = 0  # reservations read from the org (S)
    overdue: int = 0  # of those, overdue and never notified (due a first notice) by the domain rules
    escalations_due: int = 0  # of those, notified escalate_after days ago and not escalated yet
    notified: int = 0  # first notices sent and stamped
    escalated: int = 0  # escalations sent and stamped
    failed: int = 0
    api_calls: int = 0  # client.api_calls after the run (login included)
    notified_ids: list[str] = []
    escalated_ids: list[str] = []
    failures: list[ItemFailure] = []
    # Who received a notice (also when the stamp afterwards failed).
    recipients: list[NotifiedRecipient] = []
    outcome: Outcome = "done"
    error: str | None = None
    duration_seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        """0 all done, 1 could not run, 2 some items failed, 3 API limit reached."""
        if self.outcome == "api_limit":
            return EXIT_API_LIMIT
        if self.outcome == "aborted":
            return EXIT_COULD_NOT_RUN
        return EXIT_ITEMS_FAILED if self.failed else EXIT_OK


class NotificationTypeMissing(SfsyncFailure):
    """The CustomNotificationType the worker sends is not in the org."""


class ReservationObjectMissing(SfsyncFailure):
    """The org has no Test_Drive_Reservation__c: metadata/ was never deployed there."""


class LeaseBusy(SfsyncFailure):
    """Another worker holds the worker lease (or took it while this one tried): nothing was sent."""


class ApiAllowanceTooLow(ApiLimitExceeded):
    """Fewer daily API requests are left than the configured reserve (--min-api-remaining)."""


# ------------------------------------------------------------------------------------ SOQL
SELECT_FIELDS = (
    "Id, Name, Status__c, Scheduled_Start__c, Overdue_Notified_At__c, Escalated_At__c, Notice_Claimed_By__c, "
    "Opportunity__r.Name, Opportunity__r.OwnerId, Opportunity__r.Owner.Name, Opportunity__r.Owner.IsActive, "
    "Opportunity__r.Owner.LanguageLocaleKey, Vehicle__c, Vehicle__r.Store__c, Vehicle__r.Store__r.Manager__c, "
    "Vehicle__r.Store__r.Manager__r.Name, Vehicle__r.Store__r.Manager__r.IsActive, "
    "Vehicle__r.Store__r.Manager__r.LanguageLocaleKey"
)


def _candidate_filter(cutoff: datetime, esc_cutoff: datetime) -> str:
    closed = ", ".join(soql_string(s) for s in CLOSED_STATUSES)
    return (
        f"Status__c NOT IN ({closed}) AND Scheduled_Start__c < {soql_datetime(cutoff)} "
        f"AND (Overdue_Notified_At__c = null OR (Overdue_Notified_At__c < {soql_datetime(esc_cutoff)} "
        "AND Escalated_At__c = null))"
    )


def overdue_soql(cutoff: datetime, esc_cutoff: datetime, after_id: str | None = None) -> str:
    """Reservations due a first notice or an escalation, ``ORDER BY Id`` (keyset after ``after_id``)."""
    keyset = f" AND Id > {soql_string(after_id)}" if after_id else ""
    return f"SELECT {SELECT_FIELDS} FROM {RESERVATION} WHERE {_candidate_filter(cutoff, esc_cutoff)}{keyset} ORDER BY Id"


def probe_soql(cutoff: datetime, esc_cutoff: datetime) -> str:
    """The lowest-Id candidate not carrying a lease: where this run writes its lease."""
    return (
        f"SELECT Id FROM {RESERVATION} WHERE {_candidate_filter(cutoff, esc_cutoff)} AND {CLAIM} = null "
        "ORDER BY Id LIMIT 1"
    )


LEASE_SOQL = f"SELECT Id, {CLAIMED_BY}, {CLAIMED_UNTIL} FROM {RESERVATION} WHERE {CLAIM} = {soql_string(LEASE_KEY)}"


def notification_type_id(client: OrgClient, developer_name: str = NOTIFICATION_TYPE) -> str:
    soql = f"SELECT Id FROM CustomNotificationType WHERE DeveloperName = {soql_string(developer_name)}"
    for page in client.query_pages(soql):
        for record in page:
            return record["Id"]
    raise NotificationTypeMissing(
        f"custom notification type '{developer_name}' is not deployed in the org; deploy metadata/ first"
    )


# ------------------------------------------------------------------------------------ lease
class _Lease:
    def __init__(self, client: OrgClient, options: WorkerOptions, clock: Callable[[], datetime],
                 monotonic: Callable[[], float], sleep: Callable[[float], None]):
        self.client = client
        self.worker_id = options.worker_id
        self.holder = f"{options.worker_id}/{uuid.uuid4().hex[:12]}"
        self.ttl = timedelta(seconds=options.lease_seconds)
        self.settle = options.lease_settle_seconds
        self.clock, self.monotonic, self.sleep = clock, monotonic, sleep
        self.carrier: str | None = None
        self.until: datetime | None = None
        self.written_at = 0.0
        self.verify_in_first_page = False
        self.held = False

    def _fields(self) -> dict:
        self.until = (self.clock() + self.ttl).astimezone(timezone.utc).replace(microsecond=0)
        return {CLAIM: LEASE_KEY, CLAIMED_BY: self.holder, CLAIMED_UNTIL: api_datetime(self.until)}

    def _write(self, record_id: str) -> SaveResult:
        return self.client.update_records([{"Id": record_id, **self._fields()}], sobject=RESERVATION)[0]

    def _check_gap(self, read_started: float) -> None:
        # The safety argument needs every write based on a read to land within the settle time.
        if self.settle and self.monotonic() - read_started >= self.settle:
            raise LeaseBusy(
                f"taking the worker lease took {self.monotonic() - read_started:.1f} s, longer than the settle time "
                f"({self.settle:g} s); gave up to stay safe (a later run of worker '{self.worker_id}' takes it over)"
            )

    def acquire(self, probe_id: str, read_started: float) -> None:
        save = self._write(probe_id)
        if save.success:
            self._check_gap(read_started)
            self._took(probe_id, verify_in_first_page=True)
            return
        code = save.errors[0].status_code if save.errors else "UNKNOWN"
        if code != "DUPLICATE_VALUE":
            message = save.errors[0].message if save.errors else "not saved"
            raise SalesforceApiError(f"cannot write the worker lease: {message}", error_code=code)
        read_started = self.monotonic()
        current = self.current()
        if current is None:
            raise LeaseBusy("the worker lease changed hands while this worker tried to take it; nothing was sent")
        carrier, by, until = current
        same_worker = bool(by) and by.split("/", 1)[0] == self.worker_id
        expired = until is None or until <= self.clock()
        if not (same_worker or expired):
            raise LeaseBusy(f"another worker ({by}) holds the worker lease until {api_datetime(until)}; nothing was sent")
        logger.info("taking over the worker lease of %s (%s)", by, "same worker id" if same_worker else "expired")
        save = self._write(carrier)
        if not save.success:
            raise LeaseBusy(f"could not take over the worker lease of {by}; nothing was sent")
        self._check_gap(read_started)
        self._took(carrier, verify_in_first_page=False)
        self.wait_settled()
        current = self.current()
        if current is None or current[1] != self.holder:
            self.held = False
            raise LeaseBusy(f"another worker ({current[1] if current else 'none'}) took the worker lease; nothing was sent")

    def _took(self, carrier: str, *, verify_in_first_page: bool) -> None:
        self.carrier = carrier
        self.written_at = self.monotonic()
        self.verify_in_first_page = verify_in_first_page
        self.held = True

    def current(self) -> tuple[str, str | None, datetime | None] | None:
        for page in self.client.query_pages(LEASE_SOQL):
            for record in page:
                return record["Id"], record.get(CLAIMED_BY), parse_api_datetime(record.get(CLAIMED_UNTIL))
        return None

    def wait_settled(self) -> None:
        remaining = self.settle - (self.monotonic() - self.written_at)
        if remaining > 0:
            self.sleep(remaining)

    def verify_first_page(self, records: list[dict]) -> None:
        """The carrier is the lowest-Id candidate, so it is on the first page with our holder on it."""
        if not self.verify_in_first_page:
            return
        self.verify_in_first_page = False
        for record in records:
            if record["Id"] == self.carrier:
                if record.get(CLAIMED_BY) == self.holder:
                    return
                self.held = False
                raise LeaseBusy(f"another worker ({record.get(CLAIMED_BY)}) took the worker lease; nothing was sent")
        self.held = False
        raise LeaseBusy("the worker lease's record left the candidates before the first page; nothing was sent")

    def renew_if_due(self) -> None:
        if self.until is None or self.clock() < self.until - self.ttl / 2:
            return
        save = self._write(self.carrier)
        if not save.success:
            self.held = False
            code = save.errors[0].status_code if save.errors else "UNKNOWN"
            raise LeaseLost(f"could not renew the worker lease ({code}); stopped before the next batch")

    def release_record(self) -> dict:
        return {"Id": self.carrier, CLAIM: None, CLAIMED_BY: None, CLAIMED_UNTIL: None}

    def release(self) -> None:
        if not self.held:
            return
        save = self.client.update_records([self.release_record()], sobject=RESERVATION)[0]
        self.held = not save.success
        if self.held:
            logger.warning("could not release the worker lease on %s; it expires at %s", self.carrier,
                           api_datetime(self.until) if self.until else "?")


class LeaseLost(SfsyncFailure):
    """The worker lease could not be renewed during the run."""


# ------------------------------------------------------------------------------------ run
@dataclass
class _Notice:
    record_id: str
    kind: str  # NOTICE or ESCALATION
    recipient: NoticeRecipient
    text: notices.NoticeText


@dataclass
class _Group:
    """--digest: one notice per (recipient, kind)."""

    recipient: NoticeRecipient
    kind: str
    ids: list[str] = field(default_factory=list)


def _staff(user_id: str | None, rel: dict | None) -> StaffUser | None:
    if not user_id:
        return None
    rel = rel or {}
    active = rel.get("IsActive")
    return StaffUser(user_id, rel.get("Name"), True if active is None else bool(active), rel.get("LanguageLocaleKey"))


class _Stop(Exception):
    """SIGTERM (or the caller's stop flag): the current batch is done, stop here."""


class _Run:
    def __init__(self, client: OrgClient, options: WorkerOptions, *, should_stop: Callable[[], bool],
                 clock: Callable[[], datetime], monotonic: Callable[[], float], sleep: Callable[[float], None]):
        self.client = client
        self.options = options
        self.should_stop = should_stop
        self.clock, self.monotonic, self.sleep = clock, monotonic, sleep
        self.cutoff = overdue_cutoff(options.now, options.days, options.time_zone)
        self.esc_cutoff = escalation_cutoff(options.now, options.escalate_after, options.time_zone)
        self.stamp = api_datetime(options.now)
        self.result = WorkerResult()
        self.recipients: dict[str, NotifiedRecipient] = {}
        self.groups: dict[tuple[str, str], _Group] = {}
        self.type_id: str | None = None
        self.lease: _Lease | None = None
        self.batch_no = 0
        self.listed = 0

    # -- the run ----------------------------------------------------------------------------
    def execute(self) -> WorkerResult:
        started = self.monotonic()
        opts = self.options
        logger.info("overdue worker: cutoff %s, escalation cutoff %s", soql_datetime(self.cutoff),
                    soql_datetime(self.esc_cutoff))
        try:
            if opts.dry_run:
                for page in self._pages():
                    self._read_page(page)
            else:
                self._notify()
        except SalesforceApiError as exc:
            # The first query names the reservation object; INVALID_TYPE for it means an org
            # without our metadata, which a raw SOQL error with its caret does not tell.
            if exc.error_code != "INVALID_TYPE" or f"'{RESERVATION}'" not in str(exc):
                raise
            org = getattr(getattr(self.client, "_creds", None), "name", None) or "NAME"
            raise ReservationObjectMissing(f"the org has no {RESERVATION}; deploy metadata/ first "
                                           f"(sfsync deploy --target-org {org})") from None
        finally:
            self.result.duration_seconds = round(self.monotonic() - started, 3)
            self._finish()
        return self.result

    def _notify(self) -> None:
        opts = self.options
        probe_started = self.monotonic()
        probe = None
        for page in self.client.query_pages(probe_soql(self.cutoff, self.esc_cutoff)):
            probe = page[0]["Id"] if page else None
        self._check_allowance(starting=True)
        if probe is None:
            return
        self.type_id = notification_type_id(self.client)
        if opts.lease:
            self.lease = _Lease(self.client, opts, self.clock, self.monotonic, self.sleep)
            self.lease.acquire(probe, probe_started)
            events.info("lease", extra={"event": {"event": "lease", "carrier": self.lease.carrier,
                                                   "holder": self.lease.holder}})
        try:
            if self.lease:
                self.lease.wait_settled()
            pending: list[_Notice] = []
            held: _Notice | None = None
            for page in self._pages():
                if self.lease:
                    self.lease.verify_first_page(page.records)
                items = self._read_page(page)
                if opts.digest:
                    self._collect(items)
                    if self.should_stop():
                        raise _Stop()
                    continue
                for notice in items:
                    if self.lease and notice.record_id == self.lease.carrier:
                        held = notice  # sent in the last batch, whose stamp then carries the release
                    else:
                        pending.append(notice)
                # Batches are filled across pages, so N notices take ceil(N/200) batches.
                while len(pending) >= opts.batch_size:
                    if self.should_stop():
                        raise _Stop()
                    self._send_batch(pending[: opts.batch_size], last=False)
                    del pending[: opts.batch_size]
            if opts.digest:
                self._send_digests()
            else:
                final = pending + ([held] if held else [])
                for start in range(0, len(final), opts.batch_size):
                    if self.should_stop():
                        raise _Stop()
                    self._send_batch(final[start : start + opts.batch_size],
                                     last=start + opts.batch_size >= len(final))
        except _Stop:
            self.result.outcome = "stopped"
            logger.info("stop requested: the current batch is done, stopping")
        except LeaseBusy:
            # Lost the lease before sending anything: never clear a lease that is not ours.
            raise
        except ApiAllowanceTooLow as exc:
            self.result.outcome = "api_limit"
            self.result.error = str(exc)
        except ApiLimitExceeded as exc:
            # Every further call would fail too: stop at once; the lease expires on its own.
            self.result.outcome = "api_limit"
            self.result.error = str(exc)
            return
        except SfsyncFailure as exc:
            self.result.outcome = "aborted"
            self.result.error = str(exc)
        if self.lease and self.lease.held:
            try:
                self.lease.release()
            except ApiLimitExceeded as exc:
                self.result.outcome = "api_limit"
                self.result.error = str(exc)
            except SfsyncFailure as exc:
                logger.warning("could not release the worker lease: %s", exc)

    # -- reading ------------------------------------------------------------------------------
    def _pages(self) -> Iterator[QueryPage]:
        """Candidate pages; an expired query locator restarts with ``Id >`` the last row seen."""
        last_id: str | None = None
        restarts = 0
        while True:
            soql = overdue_soql(self.cutoff, self.esc_cutoff, last_id)
            try:
                for page in self.client.query_result_pages(soql):
                    yield page
                    if page.records:
                        last_id = page.records[-1]["Id"]
                return
            except SalesforceApiError as exc:
                if exc.error_code != "INVALID_QUERY_LOCATOR" or restarts >= MAX_QUERY_RESTARTS:
                    raise
                restarts += 1
                events.warning("query_restart", extra={"event": {"event": "query_restart", "after_id": last_id,
                                                                  "restart": restarts}})

    def _read_page(self, page: QueryPage) -> list[_Notice]:
        opts = self.options
        items: list[_Notice] = []
        for record in page.records:
            self.result.checked += 1
            kind = self._kind(record)
            if kind is None:
                logger.warning("reservation %s came back from the query but is not due; skipped", record.get("Id"))
                continue
            if kind == NOTICE:
                self.result.overdue += 1
            else:
                self.result.escalations_due += 1
            choice = self._recipient(record, kind)
            if isinstance(choice, NoRecipient):
                self._fail(record["Id"], choice.code, choice.message)
                continue
            if opts.dry_run or opts.digest:
                items.append(_Notice(record["Id"], kind, choice, notices.NoticeText("", "")))
            else:
                items.append(_Notice(record["Id"], kind, choice, self._text(record, kind, choice)))
        return items

    def _kind(self, record: dict) -> str | None:
        opts = self.options
        start = parse_api_datetime(record.get("Scheduled_Start__c"))
        if not is_overdue(record.get("Status__c"), start, now=opts.now, days=opts.days, tz=opts.time_zone):
            return None
        notified_at = parse_api_datetime(record.get(NOTIFIED_AT))
        if notified_at is None:
            return NOTICE
        if is_due_for_escalation(notified_at, parse_api_datetime(record.get(ESCALATED_AT)), now=opts.now,
                                 escalate_after=opts.escalate_after, tz=opts.time_zone):
            return ESCALATION
        return None

    @staticmethod
    def _recipient(record: dict, kind: str) -> NoticeRecipient | NoRecipient:
        opportunity = record.get("Opportunity__r") or {}
        vehicle = record.get("Vehicle__r") or {}
        store = vehicle.get("Store__r") or {}
        manager = _staff(store.get("Manager__c"), store.get("Manager__r"))
        has_vehicle = bool(record.get("Vehicle__c"))
        has_store = bool(vehicle.get("Store__c"))
        if kind == ESCALATION:
            return escalation_recipient(has_vehicle=has_vehicle, has_store=has_store, manager=manager)
        owner = _staff(opportunity.get("OwnerId"), opportunity.get("Owner"))
        return first_notice_recipient(owner, has_vehicle=has_vehicle, has_store=has_store, manager=manager)

    def _text(self, record: dict, kind: str, recipient: NoticeRecipient) -> notices.NoticeText:
        opts = self.options
        opportunity = record.get("Opportunity__r") or {}
        owner_name = (opportunity.get("Owner") or {}).get("Name")
        name = record.get("Name") or record["Id"]
        start = parse_api_datetime(record.get("Scheduled_Start__c"))
        if kind == ESCALATION:
            return notices.escalation_notice(
                reservation_name=name, opportunity_name=opportunity.get("Name"), scheduled_start=start,
                first_notified_at=parse_api_datetime(record.get(NOTIFIED_AT)), escalate_after=opts.escalate_after,
                tz=opts.time_zone, language=recipient.language, owner_name=owner_name,
            )
        return notices.first_notice(
            reservation_name=name, opportunity_name=opportunity.get("Name"), scheduled_start=start, days=opts.days,
            tz=opts.time_zone, language=recipient.language, owner_name=owner_name,
            to_manager=recipient.role == "manager",
        )

    # -- sending ------------------------------------------------------------------------------
    def _check_allowance(self, *, starting: bool = False) -> None:
        reserve = self.options.min_api_remaining
        remaining = self.client.api_remaining
        if reserve and remaining is not None and remaining < reserve:
            verb = "refusing to start" if starting else "stopping"
            raise ApiAllowanceTooLow(
                f"{verb}: {remaining} daily API request(s) left, below the reserve of {reserve} (--min-api-remaining)",
                status=None, error_code="API_ALLOWANCE_RESERVE",
            )

    def _before_batch(self) -> None:
        self._check_allowance()
        if self.lease:
            self.lease.renew_if_due()

    def _send_batch(self, batch: list[_Notice], *, last: bool) -> None:
        if not batch:
            return
        self._before_batch()
        inputs = [
            {"customNotifTypeId": self.type_id, "recipientIds": [n.recipient.user_id], "title": n.text.title,
             "body": n.text.body, "targetId": n.record_id}
            for n in batch
        ]
        outcomes = self.client.invoke_standard_action(NOTIFICATION_ACTION, inputs)
        sent: list[_Notice] = []
        failed: list[tuple[str, str]] = []
        for notice, outcome in zip(batch, outcomes, strict=True):
            if outcome.is_success:
                sent.append(notice)
                self._note_recipient(notice.recipient, notice.kind, [notice.record_id])
            else:
                code, message = _first_error(outcome.errors, "notification not sent")
                self._fail(notice.record_id, code, message)
                failed.append((notice.record_id, code))
        stamped = self._stamp([(n.record_id, n.kind) for n in sent], last=last, failed=failed)
        self._batch_event("notices", len(batch), stamped, failed)

    def _stamp(self, items: list[tuple[str, str]], *, last: bool, failed: list[tuple[str, str]]) -> dict[str, list[str]]:
        """Stamp sent reservations (lock errors retried item by item); release the lease in the same call if it fits."""
        records = [{"Id": rid, NOTIFIED_AT if kind == NOTICE else ESCALATED_AT: self.stamp} for rid, kind in items]
        release_at: int | None = None
        if last and self.lease and self.lease.held:
            release = self.lease.release_record()
            for i, record in enumerate(records):
                if record["Id"] == release["Id"]:
                    record.update(release)
                    # Last in the list, so in the client's last chunk of 200 whatever the size.
                    records.append(records.pop(i))
                    items = items[:i] + items[i + 1 :] + [items[i]]
                    release_at = len(records) - 1
                    break
            else:
                if records and len(records) % COLLECTION_CHUNK:
                    records.append(release)
                    release_at = len(records) - 1
        stamped: dict[str, list[str]] = {NOTICE: [], ESCALATION: []}
        if not records:
            return stamped
        saves = self.client.update_records_retrying(records, sobject=RESERVATION, attempts=self.options.lock_attempts,
                                                    sleep=self.sleep)
        if release_at is not None:
            self.lease.held = not saves[release_at].success
        for (rid, kind), save in zip(items, saves, strict=False):
            if save.success:
                stamped[kind].append(rid)
                if kind == NOTICE:
                    self.result.notified += 1
                    self._list(self.result.notified_ids, rid)
                else:
                    self.result.escalated += 1
                    self._list(self.result.escalated_ids, rid)
            else:
                code, message = _first_error(save.errors, "stamp not saved")
                logger.warning("reservation %s was notified but not stamped (%s); the next run notifies again", rid, code)
                self._fail(rid, code, message)
                failed.append((rid, code))
        return stamped

    def _collect(self, items: list[_Notice]) -> None:
        for notice in items:
            key = (notice.recipient.user_id, notice.kind)
            group = self.groups.get(key)
            if group is None:
                group = self.groups[key] = _Group(notice.recipient, notice.kind)
            group.ids.append(notice.record_id)

    def _send_digests(self) -> None:
        opts = self.options
        groups = list(self.groups.values())
        self.groups = {}
        if self.lease:
            # The group holding the lease's record goes last, so the last stamp carries the release.
            groups.sort(key=lambda g: self.lease.carrier in g.ids)
        for start in range(0, len(groups), opts.batch_size):
            if self.should_stop():
                raise _Stop()
            chunk = groups[start : start + opts.batch_size]
            self._before_batch()
            page_ref = notices.list_view_page_ref(opts.list_view)
            inputs = []
            for group in chunk:
                text = notices.digest_notice(count=len(group.ids), kind=group.kind, days=opts.days,
                                             escalate_after=opts.escalate_after, language=group.recipient.language)
                # targetId: the oldest reservation of the group, for clients that only read targetId.
                inputs.append({"customNotifTypeId": self.type_id, "recipientIds": [group.recipient.user_id],
                               "title": text.title, "body": text.body, "targetId": min(group.ids),
                               "targetPageRef": page_ref})
            outcomes = self.client.invoke_standard_action(NOTIFICATION_ACTION, inputs)
            sent: list[tuple[str, str]] = []
            failed: list[tuple[str, str]] = []
            for group, outcome in zip(chunk, outcomes, strict=True):
                if outcome.is_success:
                    sent.extend((rid, group.kind) for rid in group.ids)
                    self._note_recipient(group.recipient, group.kind, group.ids)
                else:
                    code, message = _first_error(outcome.errors, "notification not sent")
                    for rid in group.ids:
                        self._fail(rid, code, message)
                        failed.append((rid, code))
            last = start + opts.batch_size >= len(groups)
            stamped = self._stamp(sent, last=last, failed=failed)
            self._batch_event("digest", len(chunk), stamped, failed)

    # -- bookkeeping --------------------------------------------------------------------------
    def _list(self, target: list[str], rid: str) -> None:
        if self.listed < self.options.max_listed_ids:
            target.append(rid)
            self.listed += 1

    def _fail(self, rid: str, code: str, message: str) -> None:
        self.result.failed += 1
        if len(self.result.failures) < self.options.max_listed_ids:
            self.result.failures.append(ItemFailure(id=rid, error_code=code, message=message))

    def _note_recipient(self, recipient: NoticeRecipient, kind: str, ids: list[str]) -> None:
        entry = self.recipients.get(recipient.user_id)
        if entry is None:
            entry = self.recipients[recipient.user_id] = NotifiedRecipient(
                user_id=recipient.user_id, user_name=recipient.name, reservation_ids=[])
        for rid in ids:
            self._list(entry.reservation_ids if kind == NOTICE else entry.escalated_ids, rid)

    def _batch_event(self, kind: str, size: int, stamped: dict[str, list[str]], failed: list[tuple[str, str]]) -> None:
        self.batch_no += 1
        events.info("batch", extra={"event": {
            "event": "batch", "batch": self.batch_no, "kind": kind, "size": size,
            "notified_ids": stamped[NOTICE], "escalated_ids": stamped[ESCALATION],
            "failed": [{"id": rid, "error_code": code} for rid, code in failed],
            "api_calls": self.client.api_calls,
        }})

    def _finish(self) -> None:
        result = self.result
        result.recipients = list(self.recipients.values())
        result.api_calls = self.client.api_calls


def _first_error(errors, fallback: str) -> tuple[str, str]:
    if errors:
        return errors[0].status_code, errors[0].message
    return "UNKNOWN", fallback


def notify_overdue(
    client: OrgClient,
    options: WorkerOptions,
    *,
    should_stop: Callable[[], bool] = lambda: False,
    clock: Callable[[], datetime] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> WorkerResult:
    """One run of the overdue worker (see the module docstring).

    Raises before anything is sent: NotificationTypeMissing, LeaseBusy (another worker runs),
    ApiLimitExceeded/ApiAllowanceTooLow (exit 3) and the client's errors. Once the lease is
    held, problems end the run with ``result.outcome`` set instead, so the summary is complete.
    ``should_stop`` is polled between batches (SIGTERM). ``clock`` is the wall clock the lease
    is measured with (not ``options.now``, which may be a pretend date).
    """
    run = _Run(client, options, should_stop=should_stop, clock=clock or (lambda: datetime.now(timezone.utc)),
               monotonic=monotonic, sleep=sleep)
    return run.execute()


def summary_event(result: WorkerResult, *, org: str, dry_run: bool = False) -> dict:
    """The JSON summary line (ids counted, not listed: the batch lines list them)."""
    return {
        "event": "summary", "org": org, "dry_run": dry_run, "outcome": result.outcome, "exit_code": result.exit_code,
        "checked": result.checked, "overdue": result.overdue, "escalations_due": result.escalations_due,
        "notified": result.notified,
        "escalated": result.escalated, "failed": result.failed, "api_calls": result.api_calls,
        "duration_seconds": result.duration_seconds, "error": result.error,
    }

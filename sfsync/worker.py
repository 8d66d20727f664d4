"""F6: notify the Opportunity owner of every unprocessed (未処理) test-drive reservation.

One run: read the overdue reservations that were never notified, send one custom notification
per reservation to its Opportunity's owner, and stamp ``Overdue_Notified_At__c`` on the ones
whose notification went out, so the next run does not send it again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, Field

from sfsync.client import ActionResult, OrgClient, SaveResult
from sfsync.domain import (
    CLOSED_STATUSES,
    DEFAULT_OVERDUE_DAYS,
    api_datetime,
    is_overdue,
    overdue_cutoff,
    parse_api_datetime,
    soql_datetime,
    soql_string,
    zone,
)
from sfsync.errors import SfsyncFailure

logger = logging.getLogger(__name__)

RESERVATION = "Test_Drive_Reservation__c"
NOTIFICATION_TYPE = "Test_Drive_Overdue"
NOTIFICATION_ACTION = "customNotificationAction"
# customNotificationAction limits (Actions guide, "Custom Notification Actions").
TITLE_MAX = 250
BODY_MAX = 750
BATCH_SIZE = 200


class WorkerOptions(BaseModel):
    now: AwareDatetime
    days: int = Field(DEFAULT_OVERDUE_DAYS, ge=1)
    dry_run: bool = False
    time_zone: str = "Asia/Tokyo"
    batch_size: int = Field(BATCH_SIZE, ge=1, le=BATCH_SIZE)


class ItemFailure(BaseModel):
    id: str
    error_code: str
    message: str


class NotifiedRecipient(BaseModel):
    user_id: str
    user_name: str | None
    reservation_ids: list[str]


class WorkerResult(BaseModel):
    checked: int = 0  # reservations read from the org
    overdue: int = 0  # of those, overdue by domain.is_overdue
    notified: int = 0  # notified and stamped
    failed: int = 0
    api_calls: int = 0  # client.api_calls after the run (login included)
    notified_ids: list[str] = []
    failures: list[ItemFailure] = []
    # Who received a notification (also when the stamp afterwards failed).
    recipients: list[NotifiedRecipient] = []


class NotificationTypeMissing(SfsyncFailure):
    """The CustomNotificationType the worker sends is not in the org."""


def overdue_soql(cutoff: datetime) -> str:
    closed = ", ".join(soql_string(s) for s in CLOSED_STATUSES)
    return (
        "SELECT Id, Name, Status__c, Scheduled_Start__c, Opportunity__c, Opportunity__r.Name, "
        "Opportunity__r.OwnerId, Opportunity__r.Owner.Name "
        f"FROM {RESERVATION} "
        f"WHERE Status__c NOT IN ({closed}) AND Scheduled_Start__c < {soql_datetime(cutoff)} "
        "AND Overdue_Notified_At__c = null "
        "ORDER BY Id"
    )


def notification_type_id(client: OrgClient, developer_name: str = NOTIFICATION_TYPE) -> str:
    soql = f"SELECT Id FROM CustomNotificationType WHERE DeveloperName = {soql_string(developer_name)}"
    for page in client.query_pages(soql):
        for record in page:
            return record["Id"]
    raise NotificationTypeMissing(
        f"custom notification type '{developer_name}' is not deployed in the org; deploy metadata/ first"
    )


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def notification_text(record: dict, days: int, tz: str) -> tuple[str, str]:
    """(title, body) in Japanese for one overdue reservation, within Salesforce's limits."""
    name = record.get("Name") or record["Id"]
    opportunity = (record.get("Opportunity__r") or {}).get("Name") or "(商談名なし)"
    start = parse_api_datetime(record.get("Scheduled_Start__c"))
    when = start.astimezone(zone(tz)).strftime("%Y/%m/%d %H:%M %Z") if start else "(日時未設定)"
    title = _fit(f"未処理の試乗予約: {name}", TITLE_MAX)
    body = _fit(
        f"商談「{opportunity}」の試乗予約「{name}」(試乗開始予定 {when})から{days}日以上経過しましたが、"
        "完了・変更・キャンセルのいずれも登録されていません。予約を確認し、処理してください。",
        BODY_MAX,
    )
    return title, body


def _first_error(errors: Sequence, fallback: str) -> tuple[str, str]:
    if errors:
        return errors[0].status_code, errors[0].message
    return "UNKNOWN", fallback


def notify_overdue(client: OrgClient, options: WorkerOptions) -> WorkerResult:
    cutoff = overdue_cutoff(options.now, options.days, options.time_zone)
    soql = overdue_soql(cutoff)
    result = WorkerResult()
    recipients: dict[str, NotifiedRecipient] = {}
    stamp = api_datetime(options.now)
    type_id = None if options.dry_run else notification_type_id(client)
    logger.info(
        "overdue worker: cutoff %s (%d day(s), %s)%s",
        soql_datetime(cutoff),
        options.days,
        options.time_zone,
        " [dry run]" if options.dry_run else "",
    )

    # Stamping Overdue_Notified_At__c while paging through a query that filters on it is safe:
    # for standard and custom objects Salesforce gathers the matching Ids when the query runs
    # and pages through that fixed set with the server-side cursor (SOAP API guide, queryMore()),
    # so updates made between pages neither drop nor repeat rows.
    batch_no = 0
    for page in client.query_pages(soql):
        result.checked += len(page)
        overdue = []
        for record in page:
            start = parse_api_datetime(record.get("Scheduled_Start__c"))
            if is_overdue(record.get("Status__c"), start, now=options.now, days=options.days, tz=options.time_zone):
                overdue.append(record)
            else:
                logger.warning("reservation %s came back from the query but is not overdue; skipped", record.get("Id"))
        result.overdue += len(overdue)
        if options.dry_run:
            continue
        for start_at in range(0, len(overdue), options.batch_size):
            batch_no += 1
            batch = overdue[start_at : start_at + options.batch_size]
            _process_batch(client, batch, type_id, stamp, options, result, recipients)
            logger.info(
                "batch %d: %d overdue, %d notified so far, %d failed so far",
                batch_no,
                len(batch),
                len(result.notified_ids),
                len(result.failures),
            )

    result.notified = len(result.notified_ids)
    result.failed = len(result.failures)
    result.recipients = list(recipients.values())
    result.api_calls = client.api_calls
    logger.info(
        "overdue worker done: checked %d, overdue %d, notified %d, failed %d, API calls %d",
        result.checked,
        result.overdue,
        result.notified,
        result.failed,
        result.api_calls,
    )
    return result


def _process_batch(
    client: OrgClient,
    batch: list[dict],
    type_id: str | None,
    stamp: str,
    options: WorkerOptions,
    result: WorkerResult,
    recipients: dict[str, NotifiedRecipient],
) -> None:
    sendable: list[dict] = []
    inputs: list[dict] = []
    for record in batch:
        owner_id = (record.get("Opportunity__r") or {}).get("OwnerId")
        if not owner_id:
            result.failures.append(
                ItemFailure(id=record["Id"], error_code="NO_RECIPIENT", message="the reservation's Opportunity has no owner")
            )
            continue
        title, body = notification_text(record, options.days, options.time_zone)
        sendable.append(record)
        inputs.append(
            {
                "customNotifTypeId": type_id,
                "recipientIds": [owner_id],
                "title": title,
                "body": body,
                "targetId": record["Id"],
            }
        )
    if not inputs:
        return

    sent: list[dict] = []
    outcomes: list[ActionResult] = client.invoke_standard_action(NOTIFICATION_ACTION, inputs)
    for record, outcome in zip(sendable, outcomes, strict=True):
        if outcome.is_success:
            sent.append(record)
            owner = record["Opportunity__r"]
            entry = recipients.setdefault(
                owner["OwnerId"],
                NotifiedRecipient(
                    user_id=owner["OwnerId"], user_name=(owner.get("Owner") or {}).get("Name"), reservation_ids=[]
                ),
            )
            entry.reservation_ids.append(record["Id"])
        else:
            code, message = _first_error(outcome.errors, "notification not sent")
            result.failures.append(ItemFailure(id=record["Id"], error_code=code, message=message))
    if not sent:
        return

    # Only reservations whose notification went out are stamped: the others stay eligible and
    # are retried by the next run.
    updates = [{"Id": record["Id"], "Overdue_Notified_At__c": stamp} for record in sent]
    saves: list[SaveResult] = client.update_records(updates, sobject=RESERVATION)
    for record, save in zip(sent, saves, strict=True):
        if save.success:
            result.notified_ids.append(record["Id"])
        else:
            code, message = _first_error(save.errors, "stamp not saved")
            logger.warning("reservation %s was notified but not stamped (%s); the next run notifies again", record["Id"], code)
            result.failures.append(ItemFailure(id=record["Id"], error_code=code, message=message))

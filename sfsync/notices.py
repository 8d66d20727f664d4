"""Titles and bodies of the overdue worker's custom notifications, in Japanese and English.

Pure functions: the worker picks the language from the recipient's LanguageLocaleKey
(domain.notice_language) and sends what these return. Salesforce refuses a
customNotificationAction input whose title is longer than 250 characters or whose body is
longer than 750 (Actions Developer Guide, "Custom Notification Actions"), so every text is cut
to fit with a trailing ellipsis instead of failing the item.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

from sfsync.domain import LANGUAGE_JA, zone

logger = logging.getLogger(__name__)

TITLE_MAX = 250
BODY_MAX = 750
ELLIPSIS = "…"

RESERVATION = "Test_Drive_Reservation__c"
# List view the digest notice opens (needs a listView of that name on the object, showing the
# running user's unprocessed reservations).
DEFAULT_LIST_VIEW = "Overdue_Unprocessed"


@dataclass(frozen=True)
class NoticeText:
    title: str
    body: str


def fit(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters (an ellipsis marks the cut)."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def _when(start: datetime | None, tz: str, language: str) -> str:
    if start is None:
        return "(日時未設定)" if language == LANGUAGE_JA else "(no date set)"
    local = start.astimezone(zone(tz))
    return local.strftime("%Y/%m/%d %H:%M %Z") if language == LANGUAGE_JA else local.strftime("%Y-%m-%d %H:%M %Z")


def _text(title: str, body: str) -> NoticeText:
    return NoticeText(fit(title, TITLE_MAX), fit(body, BODY_MAX))


def first_notice(
    *,
    reservation_name: str,
    opportunity_name: str | None,
    scheduled_start: datetime | None,
    days: int,
    tz: str,
    language: str,
    owner_name: str | None = None,
    to_manager: bool = False,
) -> NoticeText:
    """The notice about one unprocessed reservation (to its owner, or to the manager when the owner is inactive)."""
    when = _when(scheduled_start, tz, language)
    if language == LANGUAGE_JA:
        opp = opportunity_name or "(商談名なし)"
        lead = f"担当者({owner_name or '不明'})が無効なユーザーのため、店長にお知らせします。" if to_manager else ""
        return _text(
            f"未処理の試乗予約: {reservation_name}",
            f"{lead}商談「{opp}」の試乗予約「{reservation_name}」(試乗開始予定 {when})から{days}日以上経過しましたが、"
            "完了・変更・キャンセルのいずれも登録されていません。予約を確認し、処理してください。",
        )
    opp = opportunity_name or "(no opportunity name)"
    lead = (
        f"The salesperson in charge ({owner_name or 'unknown'}) is an inactive user, so you are notified as store manager. "
        if to_manager
        else ""
    )
    return _text(
        f"Unprocessed test drive: {reservation_name}",
        f"{lead}The test drive \"{reservation_name}\" for opportunity \"{opp}\" (scheduled {when}) is {days} or more "
        "days past and has not been completed, changed or cancelled. Please review the reservation and process it.",
    )


def escalation_notice(
    *,
    reservation_name: str,
    opportunity_name: str | None,
    scheduled_start: datetime | None,
    first_notified_at: datetime | None,
    escalate_after: int,
    tz: str,
    language: str,
    owner_name: str | None,
) -> NoticeText:
    """The one notice to the store manager about a reservation still unprocessed after the first notice."""
    when = _when(scheduled_start, tz, language)
    notified = _when(first_notified_at, tz, language)
    if language == LANGUAGE_JA:
        return _text(
            f"【エスカレーション】未処理の試乗予約: {reservation_name}",
            f"商談「{opportunity_name or '(商談名なし)'}」の試乗予約「{reservation_name}」(試乗開始予定 {when}、"
            f"担当 {owner_name or '不明'})は、{notified}に担当者へ通知してから{escalate_after}日以上経過しましたが、"
            "まだ処理されていません。担当者に確認してください。",
        )
    return _text(
        f"Escalation: unprocessed test drive: {reservation_name}",
        f"The test drive \"{reservation_name}\" for opportunity \"{opportunity_name or '(no opportunity name)'}\" "
        f"(scheduled {when}, salesperson {owner_name or 'unknown'}) is still unprocessed {escalate_after} or more days "
        f"after the salesperson was notified on {notified}. Please follow up with the salesperson.",
    )


def digest_notice(*, count: int, kind: str, days: int, escalate_after: int, language: str) -> NoticeText:
    """One notice per recipient (``--digest``): how many, and the list view opens on tap."""
    if kind == "escalation":
        if language == LANGUAGE_JA:
            return _text(
                f"【エスカレーション】未処理の試乗予約が{count}件あります",
                f"担当者への通知から{escalate_after}日以上経過しても処理されていない試乗予約が{count}件あります。"
                "この通知から一覧を開き、担当者に確認してください。",
            )
        return _text(
            f"Escalation: {count} unprocessed test drive(s)",
            f"{count} test drive reservation(s) are still unprocessed {escalate_after} or more days after the "
            "salesperson was notified. Open this notice to see the list and follow up.",
        )
    if language == LANGUAGE_JA:
        return _text(
            f"未処理の試乗予約が{count}件あります",
            f"試乗開始予定から{days}日以上経過し、完了・変更・キャンセルのいずれも登録されていない試乗予約が{count}件あります。"
            "この通知から一覧を開き、処理してください。",
        )
    return _text(
        f"{count} unprocessed test drive(s)",
        f"{count} test drive reservation(s) are {days} or more days past their scheduled start with no completion, "
        "change or cancellation recorded. Open this notice to see the list and process them.",
    )


def list_view_page_ref(list_view: str = DEFAULT_LIST_VIEW) -> str:
    """targetPageRef (a PageReference as JSON text) opening the reservations' list view ``list_view``."""
    return json.dumps(
        {
            "type": "standard__objectPage",
            "attributes": {"objectApiName": RESERVATION, "actionName": "list"},
            "state": {"filterName": list_view},
        },
        separators=(",", ":"),
    )

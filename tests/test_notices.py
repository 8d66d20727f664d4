"""sfsync.notices: exact titles and bodies in Japanese and English, cut to Salesforce's limits."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from sfsync.notices import (
    BODY_MAX,
    TITLE_MAX,
    NoticeText,
    digest_notice,
    escalation_notice,
    first_notice,
    fit,
    list_view_page_ref,
)

START = datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc)
NOTIFIED = datetime(2026, 11, 26, 0, 0, tzinfo=timezone.utc)


def test_limits_are_the_actions_guide_ones():
    assert (TITLE_MAX, BODY_MAX) == (250, 750)


def test_fit_cuts_with_an_ellipsis_only_when_needed():
    assert fit("abc", 3) == "abc"
    assert fit("abcd", 3) == "ab…"


def test_first_notice_japanese_to_the_manager():
    text = first_notice(reservation_name="山田様試乗", opportunity_name=None, scheduled_start=START, days=10,
                        tz="Asia/Tokyo", language="ja", owner_name="佐藤 花子", to_manager=True)
    assert text == NoticeText(
        "未処理の試乗予約: 山田様試乗",
        "担当者(佐藤 花子)が無効なユーザーのため、店長にお知らせします。商談「(商談名なし)」の試乗予約「山田様試乗」"
        "(試乗開始予定 2026/11/20 10:00 JST)から10日以上経過しましたが、完了・変更・キャンセルのいずれも登録されていません。"
        "予約を確認し、処理してください。")


def test_first_notice_english_without_a_start():
    text = first_notice(reservation_name="Mori test drive", opportunity_name="Mori deal", scheduled_start=None,
                        days=10, tz="Asia/Tokyo", language="en")
    assert text.body == ("The test drive \"Mori test drive\" for opportunity \"Mori deal\" (scheduled (no date set)) is "
                         "10 or more days past and has not been completed, changed or cancelled. Please review the "
                         "reservation and process it.")


def test_escalation_notice_english():
    text = escalation_notice(reservation_name="R-1", opportunity_name="Deal", scheduled_start=START,
                             first_notified_at=NOTIFIED, escalate_after=7, tz="Asia/Tokyo", language="en",
                             owner_name="Sato")
    assert text == NoticeText(
        "Escalation: unprocessed test drive: R-1",
        "The test drive \"R-1\" for opportunity \"Deal\" (scheduled 2026-11-20 10:00 JST, salesperson Sato) is still "
        "unprocessed 7 or more days after the salesperson was notified on 2026-11-26 09:00 JST. Please follow up "
        "with the salesperson.")


def test_digest_texts():
    assert digest_notice(count=12, kind="notice", days=10, escalate_after=7, language="en").title == (
        "12 unprocessed test drive(s)")
    assert digest_notice(count=3, kind="escalation", days=10, escalate_after=7, language="ja") == NoticeText(
        "【エスカレーション】未処理の試乗予約が3件あります",
        "担当者への通知から7日以上経過しても処理されていない試乗予約が3件あります。この通知から一覧を開き、担当者に確認してください。")


def test_every_text_fits_whatever_the_names():
    huge = "名" * 1000
    for text in (
        first_notice(reservation_name=huge, opportunity_name=huge, scheduled_start=START, days=10, tz="UTC",
                     language="en", owner_name=huge, to_manager=True),
        escalation_notice(reservation_name=huge, opportunity_name=huge, scheduled_start=START,
                          first_notified_at=NOTIFIED, escalate_after=7, tz="UTC", language="ja", owner_name=huge),
    ):
        assert (len(text.title), len(text.body)) == (250, 750)


def test_list_view_page_ref_is_a_standard_object_list_page():
    assert json.loads(list_view_page_ref("Mine")) == {
        "type": "standard__objectPage",
        "attributes": {"objectApiName": "Test_Drive_Reservation__c", "actionName": "list"},
        "state": {"filterName": "Mine"},
    }

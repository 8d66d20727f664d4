"""sfsync.domain: the overdue rule in a time zone's calendar, and SOQL literals."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from sfsync.domain import (
    CLOSED_STATUSES,
    NaiveDatetimeError,
    api_datetime,
    is_overdue,
    overdue_cutoff,
    parse_api_datetime,
    soql_datetime,
    soql_string,
)
from sfsync.errors import UsageError

JST = ZoneInfo("Asia/Tokyo")
NY = ZoneInfo("America/New_York")
UTC = timezone.utc


def test_cutoff_tokyo_is_local_midnight_nine_days_ago_in_utc():
    now = datetime(2026, 12, 3, 23, 59, tzinfo=JST)
    assert overdue_cutoff(now, 10, "Asia/Tokyo") == datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # 11-24 00:00 JST


def test_cutoff_is_the_same_all_day_long():
    early = overdue_cutoff(datetime(2026, 12, 3, 0, 0, tzinfo=JST), 10, "Asia/Tokyo")
    late = overdue_cutoff(datetime(2026, 12, 3, 23, 59, 59, tzinfo=JST), 10, "Asia/Tokyo")
    assert early == late == datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def test_cutoff_uses_the_zone_date_not_the_utc_date():
    # 2026-12-02 20:00 UTC is already 12-03 in Tokyo.
    now = datetime(2026, 12, 2, 20, 0, tzinfo=UTC)
    assert overdue_cutoff(now, 10, "Asia/Tokyo") == datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    assert overdue_cutoff(now, 10, "UTC") == datetime(2026, 11, 23, 0, 0, tzinfo=UTC)


def test_exactly_ten_days_ago_at_2359_jst_is_overdue():
    now = datetime(2026, 12, 3, 23, 59, tzinfo=JST)
    start = datetime(2026, 11, 23, 23, 59, tzinfo=JST)
    assert now - start == timedelta(days=10)
    assert is_overdue("Scheduled", start, now=now, days=10, tz="Asia/Tokyo") is True


def test_nine_days_23h59_ago_on_the_next_calendar_day_is_not_overdue():
    now = datetime(2026, 12, 3, 23, 59, tzinfo=JST)
    start = now - timedelta(days=9, hours=23, minutes=59)
    assert start == datetime(2026, 11, 24, 0, 0, tzinfo=JST)
    assert is_overdue("Scheduled", start, now=now, days=10, tz="Asia/Tokyo") is False


def test_one_second_before_the_boundary_is_overdue():
    now = datetime(2026, 12, 3, 9, 0, tzinfo=JST)
    start = datetime(2026, 11, 23, 23, 59, 59, tzinfo=JST)
    assert is_overdue("Scheduled", start, now=now, days=10, tz="Asia/Tokyo") is True


@pytest.mark.parametrize("status", CLOSED_STATUSES)
def test_completed_or_cancelled_is_never_overdue(status):
    now = datetime(2026, 12, 3, 9, 0, tzinfo=JST)
    assert is_overdue(status, datetime(2025, 1, 1, tzinfo=UTC), now=now, days=10, tz="Asia/Tokyo") is False


def test_missing_start_is_not_overdue():
    now = datetime(2026, 12, 3, 9, 0, tzinfo=JST)
    assert is_overdue("Scheduled", None, now=now, days=10, tz="Asia/Tokyo") is False


def test_new_york_cutoff_across_the_march_change_over():
    # DST starts 2026-03-08 02:00 in New York: EST (-5) before, EDT (-4) after.
    now = datetime(2026, 3, 12, 10, 0, tzinfo=NY)  # EDT
    cutoff = overdue_cutoff(now, 10, "America/New_York")
    # 2026-03-03 00:00 is still EST, so the cutoff is 05:00 UTC (a fixed -4 h would say 04:00).
    assert cutoff == datetime(2026, 3, 3, 5, 0, tzinfo=UTC)
    assert is_overdue("Scheduled", datetime(2026, 3, 2, 23, 59, tzinfo=NY), now=now, days=10,
                      tz="America/New_York") is True
    assert is_overdue("Scheduled", datetime(2026, 3, 3, 0, 0, tzinfo=NY), now=now, days=10,
                      tz="America/New_York") is False


def test_new_york_cutoff_across_the_november_change_over():
    # DST ends 2026-11-01 02:00: the cutoff day is EDT, today is EST.
    now = datetime(2026, 11, 5, 0, 30, tzinfo=NY)
    assert overdue_cutoff(now, 10, "America/New_York") == datetime(2026, 10, 27, 4, 0, tzinfo=UTC)


def test_cutoff_counts_calendar_days_when_a_day_has_23_hours():
    # Today 2026-03-09 (EDT); days=1 means anything before today's local midnight.
    now = datetime(2026, 3, 9, 0, 0, tzinfo=NY)
    assert overdue_cutoff(now, 1, "America/New_York") == datetime(2026, 3, 9, 4, 0, tzinfo=UTC)
    assert overdue_cutoff(now, 2, "America/New_York") == datetime(2026, 3, 8, 5, 0, tzinfo=UTC)


def test_naive_now_is_rejected():
    with pytest.raises(NaiveDatetimeError, match="now must be timezone-aware"):
        overdue_cutoff(datetime(2026, 12, 3, 9, 0), 10, "Asia/Tokyo")


def test_naive_start_is_rejected():
    with pytest.raises(NaiveDatetimeError):
        is_overdue("Scheduled", datetime(2026, 11, 1), now=datetime(2026, 12, 3, tzinfo=UTC), days=10, tz="UTC")


def test_naive_error_is_a_usage_error_and_a_value_error():
    with pytest.raises(UsageError):
        soql_datetime(datetime(2026, 12, 3))
    with pytest.raises(ValueError):
        soql_datetime(datetime(2026, 12, 3))


def test_unknown_zone_and_bad_days_are_usage_errors():
    now = datetime(2026, 12, 3, tzinfo=UTC)
    with pytest.raises(UsageError, match="unknown time zone 'Asia/Nowhere'"):
        overdue_cutoff(now, 10, "Asia/Nowhere")
    with pytest.raises(UsageError, match="at least 1"):
        overdue_cutoff(now, 0, "Asia/Tokyo")


def test_soql_datetime_is_utc_with_z():
    assert soql_datetime(datetime(2026, 11, 24, 0, 0, tzinfo=JST)) == "2026-11-23T15:00:00Z"
    assert soql_datetime(datetime(2026, 11, 23, 15, 0, tzinfo=UTC)) == "2026-11-23T15:00:00Z"


def test_soql_datetime_refuses_fractions_of_a_second():
    with pytest.raises(ValueError, match="whole seconds"):
        soql_datetime(datetime(2026, 11, 23, 15, 0, 0, 500, tzinfo=UTC))


def test_api_datetime_has_millis_and_z():
    assert api_datetime(datetime(2026, 12, 3, 9, 0, 1, 234567, tzinfo=JST)) == "2026-12-03T00:00:01.234Z"


def test_parse_api_datetime_reads_the_rest_format():
    assert parse_api_datetime("2026-11-23T15:00:00.000+0000") == datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    assert parse_api_datetime("2026-11-23T15:00:00Z") == datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
    assert parse_api_datetime(None) is None
    with pytest.raises(ValueError, match="not a Salesforce dateTime"):
        parse_api_datetime("yesterday")


def test_soql_string_escapes_quote():
    assert soql_string("O'Brien") == "'O\\'Brien'"


def test_soql_string_escapes_backslash_before_quote():
    # A trailing backslash must not escape the closing quote.
    assert soql_string("C:\\temp\\") == "'C:\\\\temp\\\\'"
    assert soql_string("a\\'b") == "'a\\\\\\'b'"


def test_soql_string_keeps_japanese_text():
    assert soql_string("山田様プリウス試乗") == "'山田様プリウス試乗'"
    assert soql_string("オブライエン様's") == "'オブライエン様\\'s'"


def test_soql_string_escapes_double_quote_and_line_breaks():
    assert soql_string('say "hi"\nnow\t') == "'say \\\"hi\\\"\\nnow\\t'"


def test_soql_string_leaves_like_wildcards_alone():
    assert soql_string("100%_done") == "'100%_done'"


def test_soql_string_refuses_other_control_characters():
    with pytest.raises(ValueError, match="U\\+0000"):
        soql_string("a\x00b")


# ---------------------------------------------------------------------------- overdue worker rules
from sfsync.domain import (  # noqa: E402 - grouped with the worker rules they test
    MANAGER_INACTIVE,
    NO_MANAGER,
    NO_OWNER,
    NO_STORE,
    NO_VEHICLE,
    NoRecipient,
    NoticeRecipient,
    StaffUser,
    escalation_cutoff,
    escalation_recipient,
    first_notice_recipient,
    is_due_for_escalation,
    notice_language,
)

OWNER = StaffUser("005000000000001AAA", "佐藤 花子", True, "ja")
MANAGER = StaffUser("005000000000009AAJ", "Ken Store", True, "en_US")


def test_escalation_cutoff_counts_calendar_days_in_the_zone():
    now = datetime(2026, 12, 3, 9, 0, tzinfo=JST)
    assert escalation_cutoff(now, 7, "Asia/Tokyo") == datetime(2026, 11, 26, 15, 0, tzinfo=UTC)  # 11-27 00:00 JST


def test_escalation_is_due_seven_calendar_days_after_the_first_notice_and_only_once():
    now = datetime(2026, 12, 3, 0, 1, tzinfo=JST)
    late_on_day_minus_7 = datetime(2026, 11, 26, 23, 59, tzinfo=JST)
    day_minus_6 = datetime(2026, 11, 27, 0, 0, tzinfo=JST)
    assert is_due_for_escalation(late_on_day_minus_7, None, now=now) is True
    assert is_due_for_escalation(day_minus_6, None, now=now) is False
    assert is_due_for_escalation(late_on_day_minus_7, now, now=now) is False
    assert is_due_for_escalation(None, None, now=now) is False
    with pytest.raises(NaiveDatetimeError):
        is_due_for_escalation(datetime(2026, 11, 1), None, now=now)


@pytest.mark.parametrize("key, language", [("ja", "ja"), ("ja_JP", "ja"), ("JA-jp", "ja"), ("en_US", "en"),
                                           ("fr", "en"), (None, "en"), ("", "en")])
def test_notice_language_from_language_locale_key(key, language):
    assert notice_language(key) == language


def test_active_owner_is_told_in_their_language():
    assert first_notice_recipient(OWNER, has_vehicle=False, has_store=False, manager=None) == NoticeRecipient(
        "005000000000001AAA", "佐藤 花子", "ja", "owner")


def test_inactive_owner_hands_over_to_the_store_manager():
    inactive = StaffUser("005000000000001AAA", "佐藤 花子", False, "ja")
    assert first_notice_recipient(inactive, has_vehicle=True, has_store=True, manager=MANAGER) == NoticeRecipient(
        "005000000000009AAJ", "Ken Store", "en", "manager")


@pytest.mark.parametrize("has_vehicle, has_store, manager, code", [
    (False, False, MANAGER, NO_VEHICLE),
    (True, False, MANAGER, NO_STORE),
    (True, True, None, NO_MANAGER),
    (True, True, StaffUser("005000000000009AAJ", "Ken Store", False, "en_US"), MANAGER_INACTIVE),
])
def test_unreachable_recipients_are_reported_with_a_code(has_vehicle, has_store, manager, code):
    inactive = StaffUser("005000000000001AAA", "佐藤 花子", False, "ja")
    choice = first_notice_recipient(inactive, has_vehicle=has_vehicle, has_store=has_store, manager=manager)
    assert isinstance(choice, NoRecipient) and choice.code == code
    assert escalation_recipient(has_vehicle=has_vehicle, has_store=has_store, manager=manager).code == code


def test_no_owner_and_escalation_messages_are_exact():
    assert first_notice_recipient(None, has_vehicle=True, has_store=True, manager=MANAGER) == NoRecipient(
        NO_OWNER, "the reservation's Opportunity has no owner")
    assert escalation_recipient(has_vehicle=True, has_store=True, manager=None) == NoRecipient(
        NO_MANAGER, "escalation goes to the store manager, and the store has no manager "
        "(Dealer_Store__c.Manager__c is empty)")
    assert escalation_recipient(has_vehicle=True, has_store=True, manager=MANAGER).role == "manager"

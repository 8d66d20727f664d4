"""SOQL compiler of the local org, checked end to end: compile, run the SQL on real SQLite tables
stored with the contract's encodings, compare the exact JSON records and Salesforce's error texts."""

from __future__ import annotations

import datetime as dt
import sqlite3
from zoneinfo import ZoneInfo

import pytest

from sfsync.local_org.catalog import Catalog, FieldDef, ObjectDef
from sfsync.local_org.soql import SoqlError, compile_query
from sfsync.local_org.standard_objects import standard_objects

JST = ZoneInfo("Asia/Tokyo")
UTC = ZoneInfo("UTC")
# 2026-11-23 15:30 UTC is 2026-11-24 00:30 in Tokyo: the JST day has just turned, the UTC day not.
NOW = dt.datetime(2026, 11, 23, 15, 30, tzinfo=dt.timezone.utc)

U1, U2 = "005000000000001AAA", "005000000000002AAA"
O1, O2, O3 = "006000000000001AAA", "006000000000002AAA", "006000000000003AAA"
R1, R2, R3, R4, R5, R6 = (f"a01000000000{n:03d}AAA" for n in range(1, 7))
RES_URL = "/services/data/v66.0/sobjects/Test_Drive_Reservation__c/"
OPP_URL = "/services/data/v66.0/sobjects/Opportunity/"
USER_URL = "/services/data/v66.0/sobjects/User/"


def _f(api_name: str, type_: str, **kw) -> FieldDef:
    return FieldDef(api_name=api_name, type=type_, column=api_name, label=api_name, **kw)


def _custom_objects() -> list[ObjectDef]:
    reservation = [
        _f("Id", "id"),
        _f("Name", "string", length=80),
        _f("Opportunity__c", "reference", reference_to=("Opportunity",),
           relationship_name="Opportunity__r"),
        _f("Vehicle__c", "reference", reference_to=("Test_Drive_Vehicle__c",), relationship_name="Vehicle__r"),
        _f("Status__c", "picklist", picklist_values=("Scheduled", "Completed", "Cancelled")),
        _f("Scheduled_Start__c", "datetime"),
        _f("Overdue_Notified_At__c", "datetime"),
    ]
    vehicle = [_f("Id", "id"), _f("Name", "string"), _f("Active__c", "boolean")]
    return [
        ObjectDef("Test_Drive_Reservation__c", "Test Drive Reservation", "Test_Drive_Reservation__c", "a01", True,
                  {f.api_name.lower(): f for f in reservation}),
        ObjectDef("Test_Drive_Vehicle__c", "Demo Car", "Test_Drive_Vehicle__c", "a00", True,
                  {f.api_name.lower(): f for f in vehicle}),
    ]


CATALOG = Catalog(standard_objects() + _custom_objects())


def _ddl(obj: ObjectDef) -> str:
    """The contract's storage encodings: datetime INTEGER ms, boolean INTEGER, date/text TEXT, ids BINARY."""
    cols = []
    for f in obj.fields.values():
        if f.type in ("datetime", "boolean", "int"):
            decl = "INTEGER"
        elif f.type in ("double", "currency", "percent"):
            decl = "REAL"
        elif f.type in ("id", "reference"):
            decl = "TEXT COLLATE BINARY"
        elif f.type == "date":
            decl = "TEXT"
        else:
            decl = "TEXT COLLATE NOCASE"
        if f.type == "id":
            decl += " PRIMARY KEY"
        cols.append(f'"{f.column}" {decl}')
    return f'CREATE TABLE "{obj.table}" ({", ".join(cols)})'


def ms(text: str) -> int:
    return int(dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


@pytest.fixture(scope="module")
def db():
    conn = sqlite3.connect(":memory:")
    for obj in CATALOG:
        conn.execute(_ddl(obj))
    conn.executemany('INSERT INTO "User" ("Id", "Name", "IsActive") VALUES (?, ?, ?)',
                     [(U1, "Taro Yamada", 1), (U2, "Hanako Sato", 0)])
    conn.executemany(
        'INSERT INTO "Opportunity" ("Id", "Name", "OwnerId", "Amount", "CloseDate") VALUES (?, ?, ?, ?, ?)',
        [(O1, "Civic商談", U1, 1500000.0, "2026-11-24"), (O2, "Fit商談", U2, None, "2026-11-17"),
         (O3, "N-BOX商談", U1, 250000.5, "2026-11-25")],
    )
    conn.executemany(
        'INSERT INTO "Test_Drive_Reservation__c" ("Id", "Name", "Opportunity__c", "Status__c", '
        '"Scheduled_Start__c", "Overdue_Notified_At__c") VALUES (?, ?, ?, ?, ?, ?)',
        [
            (R1, "山田様Civic試乗", O1, "Scheduled", ms("2026-11-13T01:00:00Z"), None),
            (R2, "佐藤様Fit試乗", O2, "Completed", ms("2026-11-23T14:59:59.999Z"), None),
            (R3, "Test 100% sure_a", None, "Cancelled", ms("2026-11-23T15:00:00Z"), None),
            (R4, "It's a 'quote'", O1, None, ms("2026-11-24T14:59:59.999Z"), ms("2026-11-20T00:00:00Z")),
            (R5, "Test 100x surexa", O2, "Scheduled", ms("2026-11-24T15:00:00Z"), None),
            (R6, "back\\slash", O3, "scheduled", None, None),
        ],
    )
    yield conn
    conn.close()


def run(db, soql: str, tz: ZoneInfo = JST, now: dt.datetime = NOW) -> tuple[int, list[dict]]:
    q = compile_query(soql, CATALOG, tz, now)
    total = db.execute(q.count_sql, q.count_params).fetchone()[0]
    if q.count_only:
        return total, []
    return total, [q.shape(row) for row in db.execute(q.sql, q.params)]


def ids(db, soql: str, **kw) -> list[str]:
    total, records = run(db, soql, **kw)
    assert total == len(records)
    return [r["Id"] for r in records]


def where(db, condition: str, **kw) -> list[str]:
    return ids(db, f"SELECT Id FROM Test_Drive_Reservation__c WHERE {condition} ORDER BY Id", **kw)


def error(soql: str) -> tuple[str, str]:
    with pytest.raises(SoqlError) as exc:
        compile_query(soql, CATALOG, JST, NOW)
    return exc.value.error_code, exc.value.message


# --- SELECT and output shape -----------------------------------------------------------------


def test_worker_query_exact_records(db):
    soql = (
        "SELECT Id, Name, Scheduled_Start__c, Opportunity__c, Opportunity__r.OwnerId, Opportunity__r.Owner.Name, "
        "Opportunity__r.Owner.IsActive FROM Test_Drive_Reservation__c WHERE Status__c NOT IN ('Completed','Cancelled') "
        "AND Scheduled_Start__c < 2026-11-23T15:00:00Z AND Overdue_Notified_At__c = null ORDER BY Id"
    )
    total, records = run(db, soql)
    assert total == 1
    assert records == [
        {
            "attributes": {"type": "Test_Drive_Reservation__c", "url": RES_URL + R1},
            "Id": R1,
            "Name": "山田様Civic試乗",
            "Scheduled_Start__c": "2026-11-13T01:00:00.000+0000",
            "Opportunity__c": O1,
            "Opportunity__r": {
                "attributes": {"type": "Opportunity", "url": OPP_URL + O1},
                "OwnerId": U1,
                "Owner": {"attributes": {"type": "User", "url": USER_URL + U1},
                          "Name": "Taro Yamada", "IsActive": True},
            },
        }
    ]
    assert list(records[0]) == ["attributes", "Id", "Name", "Scheduled_Start__c", "Opportunity__c", "Opportunity__r"]


def test_worker_query_sql_is_parameterised_and_joins_on_ids():
    q = compile_query(
        "SELECT Id, Opportunity__r.Owner.Name FROM Test_Drive_Reservation__c WHERE Status__c NOT IN "
        "('Completed','Cancelled') AND Scheduled_Start__c < 2026-11-23T15:00:00Z AND Overdue_Notified_At__c = null "
        "ORDER BY Id LIMIT 2000",
        CATALOG, JST, NOW,
    )
    assert q.sql == (
        'SELECT "t0"."Id", "t2"."Name", "t0"."Id", "t1"."Id", "t2"."Id" FROM "Test_Drive_Reservation__c" AS "t0" '
        'LEFT JOIN "Opportunity" AS "t1" ON "t1"."Id" = "t0"."Opportunity__c" '
        'LEFT JOIN "User" AS "t2" ON "t2"."Id" = "t1"."OwnerId" '
        'WHERE ((NOT COALESCE(("t0"."Status__c" IN (?, ?)), 0)) AND "t0"."Scheduled_Start__c" < ? '
        'AND "t0"."Overdue_Notified_At__c" IS NULL) ORDER BY "t0"."Id" ASC LIMIT ?'
    )
    assert q.params == ["Completed", "Cancelled", 1795446000000, 2000]
    # The count needs no join the WHERE does not use.
    assert q.count_sql == (
        'SELECT COUNT(*) FROM (SELECT 1 FROM "Test_Drive_Reservation__c" AS "t0" WHERE ((NOT COALESCE(('
        '"t0"."Status__c" IN (?, ?)), 0)) AND "t0"."Scheduled_Start__c" < ? AND "t0"."Overdue_Notified_At__c" '
        'IS NULL) LIMIT ?)'
    )
    assert q.count_params == ["Completed", "Cancelled", 1795446000000, 2000]
    assert q.sobject.api_name == "Test_Drive_Reservation__c" and q.count_only is False


def test_worker_query_plan_walks_indexes():
    conn = sqlite3.connect(":memory:")
    for obj in CATALOG:
        conn.execute(_ddl(obj))
    conn.execute('CREATE INDEX ix_res_opp ON "Test_Drive_Reservation__c" ("Opportunity__c")')
    q = compile_query(
        "SELECT Id, Opportunity__r.Owner.Name FROM Test_Drive_Reservation__c WHERE Overdue_Notified_At__c = null "
        "ORDER BY Id LIMIT 2000", CATALOG, JST, NOW)
    plan = " | ".join(row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + q.sql, q.params))
    assert "USE TEMP B-TREE" not in plan  # ORDER BY Id walks the primary key, no sort of 100k rows
    assert 'SEARCH t1 USING INDEX sqlite_autoindex_Opportunity_1 (Id=?)' in plan
    assert 'SEARCH t2 USING INDEX sqlite_autoindex_User_1 (Id=?)' in plan


def test_null_parent_gives_null_relationship_object(db):
    _, records = run(db, f"SELECT Name, Opportunity__r.Name, Opportunity__r.Owner.Name FROM Test_Drive_Reservation__c "
                         f"WHERE Id IN ('{R3}', '{R2}') ORDER BY Name")
    assert records == [
        {"attributes": {"type": "Test_Drive_Reservation__c", "url": RES_URL + R3}, "Name": "Test 100% sure_a",
         "Opportunity__r": None},
        {"attributes": {"type": "Test_Drive_Reservation__c", "url": RES_URL + R2}, "Name": "佐藤様Fit試乗",
         "Opportunity__r": {"attributes": {"type": "Opportunity", "url": OPP_URL + O2}, "Name": "Fit商談",
                            "Owner": {"attributes": {"type": "User", "url": USER_URL + U2}, "Name": "Hanako Sato"}}},
    ]


def test_types_in_json_and_api_casing(db):
    q = compile_query("select name, amount, closedate, owner.isactive, ID from OPPORTUNITY "
                      "where id = '006000000000002'",
                      CATALOG, JST, NOW, api_version="60.0")
    assert [q.shape(r) for r in db.execute(q.sql, q.params)] == [
        {"attributes": {"type": "Opportunity", "url": "/services/data/v60.0/sobjects/Opportunity/" + O2},
         "Name": "Fit商談", "Amount": None, "CloseDate": "2026-11-17",
         "Owner": {"attributes": {"type": "User", "url": "/services/data/v60.0/sobjects/User/" + U2},
                   "IsActive": False},
         "Id": O2}
    ]
    _, records = run(db, f"SELECT Amount FROM Opportunity WHERE Id = '{O3}'")
    assert records[0]["Amount"] == 250000.5
    _, records = run(db, f"SELECT Opportunity.Name FROM Opportunity WHERE Id = '{O1}'")  # object-name prefix
    assert records[0] == {"attributes": {"type": "Opportunity", "url": OPP_URL + O1}, "Name": "Civic商談"}


def test_five_level_parent_path(db):
    # Users are their own creators here: CreatedBy of U1 is U2, of U2 is U1.
    db.execute('UPDATE "User" SET "CreatedById" = ? WHERE "Id" = ?', (U2, U1))
    db.execute('UPDATE "User" SET "CreatedById" = ? WHERE "Id" = ?', (U1, U2))
    try:
        _, records = run(db, f"SELECT Opportunity__r.Owner.CreatedBy.CreatedBy.CreatedBy.Name "
                             f"FROM Test_Drive_Reservation__c WHERE Id = '{R1}'")
    finally:
        db.execute('UPDATE "User" SET "CreatedById" = NULL')

    def user(uid, inner):
        return {"attributes": {"type": "User", "url": USER_URL + uid}, **inner}

    assert records == [{
        "attributes": {"type": "Test_Drive_Reservation__c", "url": RES_URL + R1},
        "Opportunity__r": {
            "attributes": {"type": "Opportunity", "url": OPP_URL + O1},
            "Owner": user(U1, {"CreatedBy": user(U2, {"CreatedBy": user(U1, {"CreatedBy": user(
                U2, {"Name": "Hanako Sato"})})})}),
        },
    }]


def test_count_returns_total_only(db):
    assert run(db, "SELECT COUNT() FROM Test_Drive_Reservation__c") == (6, [])
    soql = "SELECT COUNT() FROM Test_Drive_Reservation__c WHERE Opportunity__r.Owner.IsActive = true"
    assert run(db, soql) == (3, [])
    assert run(db, "SELECT COUNT() FROM Test_Drive_Reservation__c LIMIT 4") == (4, [])
    q = compile_query("select count() from Test_Drive_Reservation__c", CATALOG, JST, NOW)
    assert q.count_only and q.sql == q.count_sql == 'SELECT COUNT(*) FROM "Test_Drive_Reservation__c" AS "t0"'


# --- WHERE operators and literals -----------------------------------------------------------


@pytest.mark.parametrize(
    "condition, expected",
    [
        ("Status__c = 'scheduled'", [R1, R5, R6]),  # case-insensitive
        ("Status__c != 'Scheduled'", [R2, R3, R4]),  # != matches null
        ("Status__c <> 'Scheduled'", [R2, R3, R4]),
        ("Status__c = null", [R4]),
        ("Status__c != null", [R1, R2, R3, R5, R6]),
        ("Status__c IN ('Completed', 'CANCELLED')", [R2, R3]),
        ("Status__c NOT IN ('Completed', 'Cancelled')", [R1, R4, R5, R6]),  # NOT IN matches null
        ("Status__c IN ('Completed', null)", [R2, R4]),
        ("Status__c NOT IN ('Completed', null)", [R1, R3, R5, R6]),
        ("Name LIKE 'test%'", [R3, R5]),
        ("Name LIKE '%100\\%%'", [R3]),  # \% is a literal percent sign
        ("Name LIKE '%sure\\_a'", [R3]),  # \_ is a literal underscore
        ("Name LIKE '%sure_a'", [R3, R5]),  # _ is any one character
        ("Name LIKE '%CIVIC%'", [R1]),
        ("Name = 'It\\'s a \\'quote\\''", [R4]),
        ("Name = 'back\\\\slash'", [R6]),
        ("Name LIKE 'back\\\\%'", [R6]),
        ("Opportunity__r.Owner.IsActive = true", [R1, R4, R6]),
        ("Opportunity__r.Owner.IsActive = false", [R2, R3, R5]),  # null parent: a null checkbox is false
        ("Opportunity__r.Owner.IsActive != true", [R2, R3, R5]),
        ("Opportunity__r.Owner.IsActive = null", [R2, R3, R5]),  # docs: "= null" on a boolean is "= false"
        ("Opportunity__r.Owner.IsActive != null", [R1, R4, R6]),
        ("Opportunity__r.Name = null", [R3]),  # a parent field of a missing parent is null
        ("Opportunity__r.Name != 'Civic商談'", [R2, R3, R5, R6]),
        ("Opportunity__r.Amount > 250000.5", [R1, R4]),
        ("Opportunity__r.Amount >= 250000.5", [R1, R4, R6]),
        ("Opportunity__r.Amount < 1500000", [R6]),
        ("Opportunity__r.Amount <= 1500000", [R1, R4, R6]),
        ("Opportunity__r.Amount = 1500000.0", [R1, R4]),
        ("Opportunity__r.Amount != 1500000", [R2, R3, R5, R6]),
        ("Opportunity__c = null", [R3]),
        (f"Opportunity__c = '{O1[:15]}'", [R1, R4]),  # a 15-char Id matches its 18-char form
        (f"Id > '{R4}'", [R5, R6]),  # keyset paging
        ("Status__c = 'Scheduled' AND Opportunity__r.Owner.IsActive = true", [R1, R6]),
        ("Status__c = 'Completed' OR Status__c = 'Cancelled' OR Status__c = null", [R2, R3, R4]),
        ("(Status__c = 'Completed' OR Status__c = null) AND Opportunity__r.Name = 'Civic商談'", [R4]),
        ("Status__c = 'Completed' OR (Status__c = null AND Name LIKE 'It%')", [R2, R4]),
        ("NOT Status__c = 'Scheduled'", [R2, R3, R4]),
        ("NOT (Status__c = 'Scheduled' OR Opportunity__c = null)", [R2, R4]),
        ("Name != 'x' AND (NOT Opportunity__r.Owner.IsActive = true)", [R2, R3, R5]),
        ("NOT Status__c IN ('Scheduled')", [R2, R3, R4]),
    ],
)
def test_where_operators(db, condition, expected):
    assert where(db, condition) == expected


@pytest.mark.parametrize(
    "condition, expected",
    [
        ("Scheduled_Start__c = 2026-11-23T15:00:00Z", [R3]),
        ("Scheduled_Start__c = 2026-11-23T15:00:00.000Z", [R3]),
        ("Scheduled_Start__c = 2026-11-24T00:00:00+09:00", [R3]),
        ("Scheduled_Start__c = 2026-11-24T00:00:00.000+09:00", [R3]),
        ("Scheduled_Start__c = 2026-11-23T10:00:00-05:00", [R3]),
        ("Scheduled_Start__c < 2026-11-23T15:00:00Z", [R1, R2]),
        ("Scheduled_Start__c >= 2026-11-23T14:59:59.999Z", [R2, R3, R4, R5]),
        ("Scheduled_Start__c = null", [R6]),
    ],
)
def test_datetime_literals(db, condition, expected):
    assert where(db, condition) == expected


# R2 is 23:59:59.999 on 11-23 JST, R3 00:00 and R4 23:59:59.999 on 11-24 (today, JST), R5 00:00 on 11-25,
# R1 10:00 on 11-13; R6 has no start.
@pytest.mark.parametrize(
    "literal_condition, expected",
    [
        ("= TODAY", [R3, R4]),
        ("= today", [R3, R4]),
        ("= YESTERDAY", [R2]),
        ("= TOMORROW", [R5]),
        ("> TODAY", [R5]),
        ("< TODAY", [R1, R2]),
        ("<= TODAY", [R1, R2, R3, R4]),
        (">= TODAY", [R3, R4, R5]),
        ("!= TODAY", [R1, R2, R5, R6]),
        ("= LAST_N_DAYS:1", [R2, R3, R4]),  # today and yesterday
        ("= LAST_N_DAYS:10", [R2, R3, R4]),
        ("= LAST_N_DAYS:11", [R1, R2, R3, R4]),
        ("> LAST_N_DAYS:11", [R5]),
        ("= NEXT_N_DAYS:1", [R5]),
        ("= NEXT_N_DAYS:0", []),
        ("= N_DAYS_AGO:11", [R1]),
        ("= N_DAYS_AGO:1", [R2]),
        ("IN (YESTERDAY, TOMORROW)", [R2, R5]),
    ],
)
def test_relative_date_literals_on_datetime_in_org_time_zone(db, literal_condition, expected):
    assert where(db, f"Scheduled_Start__c {literal_condition}") == expected


def test_relative_date_literals_follow_the_tz_argument(db):
    # In UTC "now" is still 11-23: today is [11-23T00:00Z, 11-24T00:00Z).
    assert where(db, "Scheduled_Start__c = TODAY", tz=UTC) == [R2, R3]
    assert where(db, "Scheduled_Start__c = YESTERDAY", tz=UTC) == []


@pytest.mark.parametrize(
    "condition, expected",
    [
        ("CloseDate = TODAY", [O1]),
        ("CloseDate = 2026-11-17", [O2]),
        ("CloseDate > 2026-11-17", [O1, O3]),
        ("CloseDate = LAST_N_DAYS:7", [O1, O2]),
        ("CloseDate = LAST_N_DAYS:6", [O1]),
        ("CloseDate = N_DAYS_AGO:7", [O2]),
        ("CloseDate = NEXT_N_DAYS:1", [O3]),
        ("CloseDate < TODAY", [O2]),
        ("CloseDate > TODAY", [O3]),
    ],
)
def test_date_field_literals(db, condition, expected):
    assert ids(db, f"SELECT Id FROM Opportunity WHERE {condition} ORDER BY Id") == expected


# --- ORDER BY, LIMIT, OFFSET, clauses ---------------------------------------------------------


def test_order_by_nulls(db):
    def order(clause):
        return ids(db, f"SELECT Id FROM Test_Drive_Reservation__c ORDER BY {clause}")

    assert order("Status__c, Id") == [R4, R3, R2, R1, R5, R6]  # nulls first; case-insensitive ties by Id
    assert order("Status__c DESC, Id") == [R4, R1, R5, R6, R2, R3]  # still nulls first by default
    assert order("Status__c DESC NULLS LAST, Id DESC") == [R6, R5, R1, R2, R3, R4]
    assert order("Status__c ASC NULLS LAST, Id") == [R3, R2, R1, R5, R6, R4]
    assert order("Opportunity__r.Owner.Name DESC, Scheduled_Start__c DESC NULLS LAST") == [R3, R4, R1, R6, R5, R2]


def test_limit_offset_and_total_size(db):
    base = "SELECT Id FROM Test_Drive_Reservation__c ORDER BY Id"
    assert run(db, base + " LIMIT 2")[0] == 2
    assert ids(db, base + " LIMIT 2") == [R1, R2]
    assert ids(db, base + " LIMIT 2 OFFSET 3") == [R4, R5]
    assert ids(db, base + " OFFSET 4") == [R5, R6]
    assert ids(db, base + " LIMIT 0") == []
    assert ids(db, "SELECT Id FROM Test_Drive_Reservation__c WHERE Status__c = 'Scheduled' "
                   "WITH SECURITY_ENFORCED ORDER BY Id LIMIT 10 OFFSET 1") == [R5, R6]
    assert ids(db, "select Id from Test_Drive_Reservation__c where Status__c = 'Completed' limit 1 for update") == [R2]
    assert run(db, "SELECT Id FROM Test_Drive_Reservation__c")[0] == 6


# --- errors -------------------------------------------------------------------------------------


def test_duplicate_field_matches_reference(reference_payload):
    ref = reference_payload("error-invalid-field-duplicate.json")[0]
    assert error("SELECT Id, Name, id FROM Test_Drive_Reservation__c") == (ref["errorCode"], ref["message"])
    assert error("SELECT Opportunity__r.Name, opportunity__R.name FROM Test_Drive_Reservation__c") == (
        "INVALID_FIELD", "duplicate field selected: Opportunity__r.Name")


def test_no_such_column_matches_reference_layout(reference_payload):
    ref = reference_payload("error-invalid-field.json")[0]
    catalog = Catalog([ObjectDef("Audit_Answer__c", "Audit Answer", "Audit_Answer__c", "a09", True,
                                 {"id": _f("Id", "id"), "answer__c": _f("Answer__c", "string")})])
    soql = "SELECT Id, Dispenser__c, Answer__c, Audit_Question__c FROM Audit_Answer__c WHERE Answer__c != null"
    with pytest.raises(SoqlError) as exc:
        compile_query(soql, catalog, JST, NOW)
    assert (exc.value.error_code, exc.value.message) == (ref["errorCode"], ref["message"])


def test_malformed_query_matches_reference_layout(reference_payload):
    ref = reference_payload("error-malformed-query-with-position.json")[0]
    # From at index 78; the excerpt starts with the first word at or after 40 characters before the caret.
    soql = "SELECT Id,Name, CreatedDate, CreatedById, LastModifiedById, LastModifiedDate, From Account "
    assert soql.index("From") == 78
    assert error(soql) == (ref["errorCode"], ref["message"])


@pytest.mark.parametrize(
    "soql, code, message",
    [
        ("SELECT Id, Bogus__c FROM Test_Drive_Reservation__c", "INVALID_FIELD",
         "\nSELECT Id, Bogus__c FROM Test_Drive_Reservation__c\n           ^\nERROR at Row:1:Column:12\n"
         "No such column 'Bogus__c' on entity 'Test_Drive_Reservation__c'. If you are attempting to use a custom "
         "field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the "
         "describe call for the appropriate names."),
        ("SELECT Opportunity__r.Owner.Nam FROM Test_Drive_Reservation__c", "INVALID_FIELD",
         "\nSELECT Opportunity__r.Owner.Nam FROM Test_Drive_Reservation__c\n       ^\nERROR at Row:1:Column:8\n"
         "No such column 'Nam' on entity 'User'. If you are attempting to use a custom field, be sure to append "
         "the '__c' after the custom field name. Please reference your WSDL or the describe call for the "
         "appropriate names."),
        ("SELECT COUNT() FROM Test_Drive_Reservation__c WHERE Opportunity.Name = 'x'", "INVALID_FIELD",
         "\nFROM Test_Drive_Reservation__c WHERE Opportunity.Name = 'x'\n"
         + " " * 37 + "^\nERROR at Row:1:Column:53\n"
         "Didn't understand relationship 'Opportunity' in field path. If you are attempting to use a custom "
         "relationship, be sure to append the '__r' after the custom relationship name. Please reference your "
         "WSDL or the describe call for the appropriate names."),
        ("SELECT Id FROM Test_Drive_Reservation__c ORDER BY Name.Length", "INVALID_FIELD",
         "\nFROM Test_Drive_Reservation__c ORDER BY Name.Length\n" + " " * 40 + "^\nERROR at Row:1:Column:51\n"
         "Didn't understand relationship 'Name' in field path. If you are attempting to use a custom "
         "relationship, be sure to append the '__r' after the custom relationship name. Please reference your "
         "WSDL or the describe call for the appropriate names."),
        ("SELECT Id FROM Test_Drive__c LIMIT 2", "INVALID_TYPE",
         "\nSELECT Id FROM Test_Drive__c LIMIT 2\n               ^\nERROR at Row:1:Column:16\n"
         "sObject type 'Test_Drive__c' is not supported. If you are attempting to use a custom object, be sure to "
         "append the '__c' after the entity name. Please reference your WSDL or the describe call for the "
         "appropriate names."),
        ("SELECT Id FROM Opportunity WHERE Name = 'a' AND StageName = 'b' OR Amount > 5", "MALFORMED_QUERY",
         "\nWHERE Name = 'a' AND StageName = 'b' OR Amount > 5\n"
         + " " * 36 + "^\nERROR at Row:1:Column:64\nunexpected token: 'OR'"),
        ("SELECT Id FROM Opportunity WHERE Name = 'a' AND NOT Amount > 5", "MALFORMED_QUERY",
         "\nId FROM Opportunity WHERE Name = 'a' AND NOT Amount > 5\n"
         + " " * 40 + "^\nERROR at Row:1:Column:48\nunexpected token: 'NOT'"),
        ("SELECT Id FROM", "MALFORMED_QUERY",
         "\nSELECT Id FROM\n             ^\nERROR at Row:1:Column:14\nunexpected token: '<EOF>'"),
        ("SELECT Id\nFROM Opportunity\nWHERE Name = 'a' Amount", "MALFORMED_QUERY",
         "\nId\nFROM Opportunity\nWHERE Name = 'a' Amount\n" + " " * 36
         + "^\nERROR at Row:3:Column:17\nunexpected token: 'Amount'"),
        ("select Id from Account where id = $sfid", "MALFORMED_QUERY",
         "\nselect Id from Account where id = $sfid\n                                 ^\nERROR at Row:1:Column:34\n"
         "line 1:34 no viable alternative at character '$'"),
        ("SELECT Id FROM Opportunity WHERE Name = 'abc", "MALFORMED_QUERY",
         "\nId FROM Opportunity WHERE Name = 'abc\n" + " " * 36
         + "^\nERROR at Row:1:Column:44\nline 1:44 mismatched character '<EOF>' expecting " + "'''"),
        ("SELECT Id FROM Opportunity LIMIT 1.5", "MALFORMED_QUERY",
         "\nSELECT Id FROM Opportunity LIMIT 1.5\n" + " " * 32 + "^\nERROR at Row:1:Column:33\n"
         "unexpected token: '1.5'"),
        ("SELECT Id FROM Opportunity WHERE CloseDate = THIS_DECADE", "MALFORMED_QUERY",
         "\nId FROM Opportunity WHERE CloseDate = THIS_DECADE\n" + " " * 37
         + "^\nERROR at Row:1:Column:45\nunexpected token: 'THIS_DECADE'"),
        ("SELECT Id FROM Opportunity WHERE Name = 'a\\x'", "MALFORMED_QUERY",
         "\nSELECT Id FROM Opportunity WHERE Name = 'a\\x'\n" + " " * 40
         + "^\nERROR at Row:1:Column:41\n"
         "Invalid string literal 'a\\x'. Illegal character sequence '\\x' in string literal."),
        ("SELECT Id FROM Opportunity OFFSET 2001", "NUMBER_OUTSIDE_VALID_RANGE", "Maximum SOQL offset allowed is 2000"),
        ("   ", "MALFORMED_QUERY", "SOQL statements cannot be empty or null"),
    ],
)
def test_errors(soql, code, message):
    assert error(soql) == (code, message)


@pytest.mark.parametrize(
    "condition, column, text",
    [
        ("Scheduled_Start__c > '2026-11-23T15:00:00Z'", 69,
         "value of filter criterion for field 'Scheduled_Start__c' must be of type dateTime and should not be "
         "enclosed in quotes"),
        ("Scheduled_Start__c > 2026-11-23", 69,
         "value of filter criterion for field 'Scheduled_Start__c' must be of type dateTime and should not be "
         "enclosed in quotes"),
        ("Opportunity__r.CloseDate = 2026-11-23T15:00:00Z", 75,
         "value of filter criterion for field 'CloseDate' must be of type date and should not be enclosed in quotes"),
        ("Opportunity__r.Owner.IsActive = 'true'", 80,
         "value of filter criterion for field 'IsActive' must be of type boolean and should not be enclosed in quotes"),
        ("Opportunity__r.Amount > '5'", 72,
         "value of filter criterion for field 'Amount' must be of type double and should not be enclosed in quotes"),
        ("Name = 5", 55,
         "value of filter criterion for field 'Name' must be of type string and should be enclosed in quotes"),
        ("Name = TODAY", 55,
         "value of filter criterion for field 'Name' must be of type string and should be enclosed in quotes"),
    ],
)
def test_filter_value_type_errors(condition, column, text):
    soql = f"SELECT Id FROM Test_Drive_Reservation__c WHERE {condition}"
    code, message = error(soql)
    assert code == "INVALID_FIELD"
    assert message.endswith(f"\nERROR at Row:1:Column:{column}\n{text}")
    excerpt, caret = message.split("\n")[1:3]
    assert soql.index(excerpt) + caret.index("^") == column - 1  # the caret sits under the value


def test_like_needs_a_string():
    assert error("SELECT Id FROM Opportunity WHERE CloseDate LIKE TODAY") == (
        "INVALID_FIELD",
        "\nFROM Opportunity WHERE CloseDate LIKE TODAY\n" + " " * 38 + "^\nERROR at Row:1:Column:49\n"
        "value of filter criterion for field 'CloseDate' must be of type date and should not be enclosed in quotes",
    )


def test_invalid_id_filter():
    assert error("SELECT Id FROM Opportunity WHERE OwnerId = 'abc'") == (
        "INVALID_QUERY_FILTER_OPERATOR",
        "\nId FROM Opportunity WHERE OwnerId = 'abc'\n" + " " * 36
        + "^\nERROR at Row:1:Column:44\ninvalid ID field: abc",
    )


def test_day_ranges_follow_dst_in_the_org_time_zone():
    from sfsync.local_org import soql_dates

    la = ZoneInfo("America/Los_Angeles")
    now = dt.datetime(2026, 11, 1, 20, 0, tzinfo=dt.timezone.utc)  # 13:00 PST on the 25-hour day DST ends
    today = soql_dates.relative_range("today", None, la, now)
    assert (today.start, today.end) == (dt.date(2026, 11, 1), dt.date(2026, 11, 2))
    assert today.as_ms(la) == (ms("2026-11-01T07:00:00Z"), ms("2026-11-02T08:00:00Z"))
    assert soql_dates.relative_range("last_n_days", 2, la, now).as_dates() == ("2026-10-30", "2026-11-02")
    assert soql_dates.relative_range("NEXT_N_DAYS", 3, la, now).as_dates() == ("2026-11-02", "2026-11-05")
    assert soql_dates.relative_range("N_DAYS_AGO", 3, la, now).as_dates() == ("2026-10-29", "2026-10-30")


def test_datetime_literal_and_output_forms():
    from sfsync.local_org import soql_dates

    assert soql_dates.parse_datetime_literal("2026-11-23T15:00:00Z") == 1795446000000
    assert soql_dates.parse_datetime_literal("2026-11-24T00:00:00.000+09:00") == 1795446000000
    assert soql_dates.parse_datetime_literal("2026-11-23T10:00:00.5-05:00") == 1795446000500
    assert soql_dates.format_datetime_ms(1795446000500) == "2026-11-23T15:00:00.500+0000"
    assert soql_dates.format_datetime_ms(-1) == "1969-12-31T23:59:59.999+0000"
    with pytest.raises(ValueError):
        soql_dates.parse_date_literal("2026-02-30")


# --- numbers beyond what SQLite (or Salesforce) takes: an API error, never an OverflowError -------


def test_huge_limit_and_offset_are_number_outside_valid_range(db):
    assert error("SELECT Id FROM Opportunity LIMIT 99999999999999999999999") == (
        "NUMBER_OUTSIDE_VALID_RANGE", "99999999999999999999999 is outside the valid range (0 to 2147483647)")
    assert error("SELECT Id FROM Opportunity LIMIT 2147483648")[0] == "NUMBER_OUTSIDE_VALID_RANGE"
    assert error("SELECT Id FROM Opportunity OFFSET 99999999999999999999999") == (
        "NUMBER_OUTSIDE_VALID_RANGE", "Maximum SOQL offset allowed is 2000")
    assert ids(db, "SELECT Id FROM Opportunity ORDER BY Id LIMIT 2147483647") == [O1, O2, O3]


def test_huge_relative_date_is_malformed_query():
    code, message = error("SELECT Id FROM Opportunity WHERE CloseDate = LAST_N_DAYS:99999999999")
    assert code == "MALFORMED_QUERY"
    assert message.endswith("\nERROR at Row:1:Column:45\nunexpected token: 'LAST_N_DAYS:99999999999'")


def test_integer_literal_beyond_64_bits_compares_as_a_number():
    obj = ObjectDef("Counter__c", "Counter", "Counter__c", "a09", True,
                    {"id": _f("Id", "id"), "n__c": _f("N__c", "int")})
    conn = sqlite3.connect(":memory:")
    conn.execute(_ddl(obj))
    conn.executemany('INSERT INTO "Counter__c" VALUES (?, ?)', [("a09000000000001AAA", 5), ("a09000000000002AAA", -5)])
    q = compile_query("SELECT Id FROM Counter__c WHERE N__c < 99999999999999999999999 AND N__c > -99999999999999999999999",
                      Catalog([obj]), JST, NOW)
    assert [row[0] for row in conn.execute(q.ids_sql, q.ids_params)] == ["a09000000000001AAA", "a09000000000002AAA"]

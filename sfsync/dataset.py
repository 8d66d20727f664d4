"""A realistic dealer dataset for the local org, and loading any dataset through the REST API.

The dataset is generated from a seed relative to a given ``now`` so that the demo always has a
past (completed, cancelled and forgotten reservations) and a future (bookings). Records refer to
each other by local keys (``Ref``) that the loader turns into the IDs the org hands back, so the
same loader serves the demo and the tests' small hand-written datasets.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from sfsync.errors import SfsyncFailure

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ref:
    """A reference to another record of the dataset by its local key."""

    key: str


@dataclass
class SeedRecord:
    key: str
    sobject: str
    fields: dict


@dataclass
class Dataset:
    """Records in load order: a record may only refer to records before it."""

    records: list[SeedRecord] = field(default_factory=list)

    def add(self, key: str, sobject: str, **fields) -> str:
        self.records.append(SeedRecord(key, sobject, fields))
        return key

    def count(self, sobject: str) -> int:
        return sum(1 for r in self.records if r.sobject == sobject)


class LoadResult(BaseModel):
    ids: dict[str, str]
    counts: dict[str, int]
    api_calls: int


def _resolve(value, ids: dict[str, str]):
    if isinstance(value, Ref):
        return ids[value.key]
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("dataset datetimes must be timezone-aware")
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _load_groups(records: list[SeedRecord]) -> list[list[SeedRecord]]:
    """Batches of at most 200 records, in layers: a record's layer is one more than the deepest
    record it refers to, so every reference points to an earlier batch and batches stay full."""
    depth: dict[str, int] = {}
    layers: dict[int, list[SeedRecord]] = {}
    for rec in records:
        refs = [v.key for v in rec.fields.values() if isinstance(v, Ref)]
        missing = [k for k in refs if k not in depth]
        if missing:
            raise ValueError(f"record '{rec.key}' refers to '{missing[0]}', which is not defined before it")
        depth[rec.key] = 1 + max((depth[k] for k in refs), default=-1)
        layers.setdefault(depth[rec.key], []).append(rec)
    return [layer[i:i + 200] for _, layer in sorted(layers.items()) for i in range(0, len(layer), 200)]


def load_dataset(client, dataset: Dataset) -> LoadResult:
    """Create every record through composite/sobjects; stops at the first batch with a failure."""
    ids: dict[str, str] = {}
    calls_before = client.api_calls
    for group in _load_groups(dataset.records):
        payload = [
            {"attributes": {"type": rec.sobject}, **{k: _resolve(v, ids) for k, v in rec.fields.items()}}
            for rec in group
        ]
        results = client.create_records(payload)
        for rec, result in zip(group, results):
            if not result.success:
                first = result.errors[0] if result.errors else None
                detail = f"{first.status_code}: {first.message}" if first else "unknown error"
                raise SfsyncFailure(f"loading {rec.sobject} record '{rec.key}' failed: {detail}")
            ids[rec.key] = result.id
    counts = Counter(rec.sobject for rec in dataset.records)
    logger.info("loaded %d records", len(dataset.records))
    return LoadResult(ids=ids, counts=dict(counts), api_calls=client.api_calls - calls_before)


# --- the demo dealer group -------------------------------------------------------------------

STORES = [
    ("TKY01", "東京本店"),
    ("YOK01", "横浜店"),
    ("OSA01", "大阪梅田店"),
]

# (brand, model, grade, powertrain): four demo cars per store.
DEMO_CARS = [
    [("ASUKA", "Breeze", "G", "Hybrid"), ("ASUKA", "Terra", "Z", "Gasoline"),
     ("KAEDE", "Luna", "S", "Electric"), ("KAEDE", "Stratos", "GT", "Plug_in_Hybrid")],
    [("ASUKA", "Breeze", "Z", "Hybrid"), ("ASUKA", "Horizon", "X", "Diesel"),
     ("KAEDE", "Luna", "S", "Electric"), ("ASUKA", "Terra", "G", "Hybrid")],
    [("KAEDE", "Stratos", "S", "Gasoline"), ("ASUKA", "Breeze", "G", "Hybrid"),
     ("KAEDE", "Luna", "X", "Electric"), ("ASUKA", "Horizon", "Z", "Diesel")],
]

# (kanji, romaji) pairs; customers and staff are drawn from these.
SURNAMES = [
    ("佐藤", "sato"), ("鈴木", "suzuki"), ("高橋", "takahashi"), ("田中", "tanaka"), ("伊藤", "ito"),
    ("渡辺", "watanabe"), ("山本", "yamamoto"), ("中村", "nakamura"), ("小林", "kobayashi"),
    ("加藤", "kato"), ("吉田", "yoshida"), ("山田", "yamada"), ("佐々木", "sasaki"), ("山口", "yamaguchi"),
    ("松本", "matsumoto"), ("井上", "inoue"), ("木村", "kimura"), ("林", "hayashi"), ("斎藤", "saito"),
    ("清水", "shimizu"), ("森", "mori"), ("池田", "ikeda"), ("橋本", "hashimoto"), ("石川", "ishikawa"),
]
GIVEN_NAMES = [
    ("一郎", "ichiro"), ("健太", "kenta"), ("翔太", "shota"), ("大輔", "daisuke"), ("拓也", "takuya"),
    ("花子", "hanako"), ("美咲", "misaki"), ("陽菜", "hina"), ("結衣", "yui"), ("さくら", "sakura"),
    ("直樹", "naoki"), ("亮", "ryo"), ("恵", "megumi"), ("由美", "yumi"), ("隆", "takashi"),
    ("智子", "tomoko"), ("誠", "makoto"), ("愛", "ai"), ("健", "ken"), ("真由美", "mayumi"),
]
STAGES = ["Prospecting", "Qualification", "Needs Analysis", "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost"]
LOCATIONS = ["Showroom", "Showroom", "Showroom", "Customer_Home", "Other"]
STAFF_PER_STORE = 8
OPPORTUNITIES_PER_STORE = 175
PAST_DAYS = 120
# Powertrains with a Booking_Buffer__mdt record in metadata/ (customMetadata/Booking_Buffer.Electric).
BUFFERED_POWERTRAINS = ("Electric",)
FUTURE_DAYS = 30


class DemoShape(BaseModel):
    stores: int
    vehicles: int
    users: int
    opportunities: int
    reservations: int


def _status_for(start: datetime, now: datetime, rng: random.Random) -> tuple[str, bool]:
    """(status, already_notified) for a booking starting at ``start``: the past is mostly done,
    some of it forgotten (what the worker is for); the future is mostly booked."""
    age = now - start
    if age < timedelta(0):
        return ("Cancelled" if rng.random() < 0.08 else "Scheduled"), False
    if age < timedelta(days=10):
        roll = rng.random()
        return ("Completed" if roll < 0.6 else "Cancelled" if roll < 0.7 else "Scheduled"), False
    roll = rng.random()
    if roll < 0.85:
        return "Completed", False
    if roll < 0.93:
        return "Cancelled", False
    # A forgotten booking; a quarter of them were already reported by an earlier run.
    return "Scheduled", rng.random() < 0.25


def build_demo_dataset(now: datetime, *, seed: int = 7, time_zone: str = "Asia/Tokyo") -> Dataset:
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    rng = random.Random(seed)
    tz = ZoneInfo(time_zone)
    today = now.astimezone(tz).date()
    ds = Dataset()

    store_staff: list[list[str]] = []
    for s_index, (code, _) in enumerate(STORES):
        staff = []
        for n in range(STAFF_PER_STORE):
            (sur, sur_r), (given, given_r) = SURNAMES[(s_index * 7 + n * 3) % len(SURNAMES)], GIVEN_NAMES[(s_index * 5 + n) % len(GIVEN_NAMES)]
            alias = f"{given_r[0]}{sur_r}"[:8]
            # One salesperson per store has left: their opportunities' notices need a manager (escalation work).
            active = not (n == STAFF_PER_STORE - 1)
            staff.append(ds.add(
                f"user:{code}:{n}", "User",
                Username=f"{given_r}.{sur_r}.{code.lower()}@dealer.example",
                LastName=sur, FirstName=given, Email=f"{given_r}.{sur_r}@dealer.example",
                Alias=alias, TimeZoneSidKey=time_zone, LocaleSidKey="ja_JP", EmailEncodingKey="UTF-8",
                LanguageLocaleKey="ja" if n % 4 else "en_US", IsActive=active,
            ))
        store_staff.append(staff)

    stores, vehicles = [], []
    for s_index, (code, name) in enumerate(STORES):
        stores.append(ds.add(f"store:{code}", "Dealer_Store__c", Name=name, Store_Code__c=code,
                             Manager__c=Ref(store_staff[s_index][0]), Time_Zone__c=time_zone))
        for v_index, (brand, model, grade, powertrain) in enumerate(DEMO_CARS[s_index]):
            vehicles.append((s_index, ds.add(
                f"vehicle:{code}:{v_index}", "Test_Drive_Vehicle__c",
                Name=f"{brand} {model} {grade} ({code}-{v_index + 1})", Brand__c=brand, Model__c=model,
                Grade__c=grade, Powertrain__c=powertrain, Store__c=Ref(f"store:{code}"), Active__c=True,
            ), (brand, model, grade, powertrain)))

    # Per store, the opportunities by the model the customer is interested in: a test drive of a
    # car goes to a customer of that model.
    store_opps: list[dict[str, list[tuple[str, str]]]] = [{} for _ in STORES]
    for s_index, (code, _) in enumerate(STORES):
        for n in range(OPPORTUNITIES_PER_STORE):
            (sur, sur_r), (given, given_r) = rng.choice(SURNAMES), rng.choice(GIVEN_NAMES)
            key = f"{code}:{n}"
            ds.add(f"account:{key}", "Account", Name=f"{sur} {given}")
            email = None if rng.random() < 0.1 else f"{given_r}.{sur_r}{n}@customer.example"
            ds.add(f"contact:{key}", "Contact", LastName=sur, FirstName=given, Email=email,
                   AccountId=Ref(f"account:{key}"))
            model = rng.choice(DEMO_CARS[s_index])[1]
            stage = rng.choice(STAGES)
            close = today + timedelta(days=rng.randint(-60, 90))
            ds.add(f"opportunity:{key}", "Opportunity", Name=f"{sur} {given}様 {model} 商談",
                   AccountId=Ref(f"account:{key}"), ContactId=Ref(f"contact:{key}"),
                   OwnerId=Ref(rng.choice(store_staff[s_index])), StageName=stage, CloseDate=close)
            store_opps[s_index].setdefault(model, []).append((f"opportunity:{key}", sur))

    count = 0
    for s_index, vehicle_key, (brand, model, grade, powertrain) in vehicles:
        for day_offset in range(-PAST_DAYS, FUTURE_DAYS + 1):
            day = today + timedelta(days=day_offset)
            # Distinct one-hour slots between 10:00 and 18:00: one car is never booked twice.
            hours = sorted(rng.sample(range(10, 18), rng.choice([1, 1, 2, 2, 2, 3])))
            if powertrain in BUFFERED_POWERTRAINS:
                # The org keeps a charging buffer after each EV drive: no back-to-back slots.
                kept: list[int] = []
                for h in hours:
                    if not kept or kept[-1] != h - 1:
                        kept.append(h)
                hours = kept
            for hour in hours:
                start = datetime.combine(day, time(hour, 0), tz)
                status, notified = _status_for(start, now, rng)
                if status == "Completed" and start + timedelta(minutes=60) > now:
                    status = "Scheduled"  # a drive is completed after it ended (actual end not in the future)
                candidates = store_opps[s_index].get(model) or [o for os_ in store_opps[s_index].values() for o in os_]
                opp_key, surname = rng.choice(candidates)
                fields = dict(
                    Name=f"{surname}様{model}モデル試乗", Opportunity__c=Ref(opp_key), Vehicle__c=Ref(vehicle_key),
                    Model__c=model, Variation__c=grade, Powertrain__c=powertrain,
                    Scheduled_Start__c=start, Scheduled_End__c=start + timedelta(minutes=60),
                    Location__c=rng.choice(LOCATIONS), Status__c=status,
                )
                if status == "Completed":  # the org's validation rules want the actual times
                    fields["Actual_Start__c"] = start + timedelta(minutes=5)
                    fields["Actual_End__c"] = start + timedelta(minutes=55)
                if notified:
                    fields["Overdue_Notified_At__c"] = start + timedelta(days=11)
                ds.add(f"reservation:{count}", "Test_Drive_Reservation__c", **fields)
                count += 1
    return ds


def dataset_shape(ds: Dataset) -> DemoShape:
    return DemoShape(
        stores=ds.count("Dealer_Store__c"), vehicles=ds.count("Test_Drive_Vehicle__c"), users=ds.count("User"),
        opportunities=ds.count("Opportunity"), reservations=ds.count("Test_Drive_Reservation__c"),
    )

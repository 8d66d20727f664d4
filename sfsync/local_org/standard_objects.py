"""The standard objects the local org starts with (the subset of describe() sfsync needs)."""

from __future__ import annotations

from sfsync.local_org.catalog import FieldDef, ObjectDef

ORG_KEY_PREFIX = "00D"
USER_KEY_PREFIX = "005"
NOTIFICATION_TYPE_KEY_PREFIX = "0ML"
DEPLOY_KEY_PREFIX = "0Af"

# Fields whose value the server computes; clients can read them but never write them.
SYSTEM_FIELDS = ("Id", "CreatedDate", "LastModifiedDate", "SystemModstamp", "CreatedById", "LastModifiedById")


def _f(api_name: str, type_: str, label: str, **kw) -> FieldDef:
    return FieldDef(api_name=api_name, type=type_, column=api_name, label=label, **kw)


def _ref(api_name: str, label: str, to: str, relationship: str, **kw) -> FieldDef:
    return _f(api_name, "reference", label, reference_to=(to,), relationship_name=relationship, **kw)


def common_fields(owner: bool) -> list[FieldDef]:
    ro = dict(createable=False, updateable=False)
    fields = [
        _f("Id", "id", "Record ID", length=18, nillable=False, **ro),
        _f("CreatedDate", "datetime", "Created Date", nillable=False, **ro),
        _ref("CreatedById", "Created By ID", "User", "CreatedBy", nillable=False, **ro),
        _f("LastModifiedDate", "datetime", "Last Modified Date", nillable=False, **ro),
        _ref("LastModifiedById", "Last Modified By ID", "User", "LastModifiedBy", nillable=False, **ro),
        _f("SystemModstamp", "datetime", "System Modstamp", nillable=False, **ro),
    ]
    if owner:
        # Defaulted on create to the running user, so not required from the client.
        fields.append(_ref("OwnerId", "Owner ID", "User", "Owner", nillable=False))
    return fields


def _obj(api_name: str, label: str, plural: str, prefix: str, fields: list[FieldDef], owner: bool) -> ObjectDef:
    all_fields = common_fields(owner) + fields
    return ObjectDef(
        api_name=api_name,
        label=label,
        label_plural=plural,
        table=api_name,
        key_prefix=prefix,
        custom=False,
        fields={f.api_name.lower(): f for f in all_fields},
    )


def _picklist(api_name: str, label: str, values: tuple[str, ...], **kw) -> FieldDef:
    return _f(api_name, "picklist", label, picklist_values=values, length=255, **kw)


LOCALES = ("ja_JP", "en_US")
LANGUAGES = ("ja", "en_US")
TIME_ZONES = ("Asia/Tokyo", "America/Los_Angeles", "Europe/London", "UTC", "GMT")
STAGES = (
    "Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers",
    "Perception Analysis", "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost",
)
_NAME_RO = dict(createable=False, updateable=False, nillable=False)


def standard_objects() -> list[ObjectDef]:
    user = _obj(
        "User", "User", "Users", USER_KEY_PREFIX,
        [
            _f("Username", "string", "Username", length=80, nillable=False, required_on_create=True, unique=True),
            _f("Name", "string", "Full Name", length=121, **_NAME_RO),
            _f("FirstName", "string", "First Name", length=40),
            _f("LastName", "string", "Last Name", length=80, nillable=False, required_on_create=True),
            _f("Email", "email", "Email", length=128, nillable=False, required_on_create=True),
            _f("Alias", "string", "Alias", length=8, nillable=False, required_on_create=True),
            _f("IsActive", "boolean", "Active", nillable=False, default=True),
            _picklist("LanguageLocaleKey", "Language", LANGUAGES, nillable=False, restricted=True, default="ja"),
            _picklist("TimeZoneSidKey", "Time Zone", TIME_ZONES, nillable=False, restricted=True, default="Asia/Tokyo"),
            _picklist("LocaleSidKey", "Locale", LOCALES, nillable=False, restricted=True, default="ja_JP"),
            _picklist("EmailEncodingKey", "Email Encoding", ("UTF-8", "ISO-2022-JP"), nillable=False,
                      restricted=True, default="UTF-8"),
            _f("Title", "string", "Title", length=80),
            _f("Department", "string", "Department", length=80),
        ],
        owner=False,
    )
    account = _obj(
        "Account", "Account", "Accounts", "001",
        [
            _f("Name", "string", "Account Name", length=255, nillable=False, required_on_create=True),
            _f("Phone", "phone", "Account Phone", length=40),
            _f("Website", "url", "Website", length=255),
            _f("BillingCity", "string", "Billing City", length=40),
            _f("Description", "textarea", "Account Description", length=32000),
        ],
        owner=True,
    )
    contact = _obj(
        "Contact", "Contact", "Contacts", "003",
        [
            _f("Name", "string", "Full Name", length=121, **_NAME_RO),
            _f("FirstName", "string", "First Name", length=40),
            _f("LastName", "string", "Last Name", length=80, nillable=False, required_on_create=True),
            _f("Email", "email", "Email", length=80),
            _f("Phone", "phone", "Business Phone", length=40),
            _ref("AccountId", "Account ID", "Account", "Account", child_relationship_name="Contacts"),
        ],
        owner=True,
    )
    opportunity = _obj(
        "Opportunity", "Opportunity", "Opportunities", "006",
        [
            _f("Name", "string", "Name", length=120, nillable=False, required_on_create=True),
            _ref("AccountId", "Account ID", "Account", "Account", child_relationship_name="Opportunities"),
            _ref("ContactId", "Contact ID", "Contact", "Contact"),
            _picklist("StageName", "Stage", STAGES, nillable=False, required_on_create=True, restricted=True),
            _f("CloseDate", "date", "Close Date", nillable=False, required_on_create=True),
            _f("Amount", "currency", "Amount", precision=18, scale=2),
            _f("Description", "textarea", "Description", length=32000),
        ],
        owner=True,
    )
    ro = dict(createable=False, updateable=False)
    notif = _obj(
        "CustomNotificationType", "Custom Notification Type", "Custom Notification Types",
        NOTIFICATION_TYPE_KEY_PREFIX,
        [
            _f("DeveloperName", "string", "Custom Notification Name", length=80, nillable=False, **ro),
            _f("MasterLabel", "string", "Notification Name", length=80, nillable=False, **ro),
            _f("Description", "textarea", "Description", length=255, **ro),
            _f("Desktop", "boolean", "Desktop", nillable=False, **ro),
            _f("Mobile", "boolean", "Mobile", nillable=False, **ro),
        ],
        owner=False,
    )
    org = _obj(
        "Organization", "Organization", "Organizations", ORG_KEY_PREFIX,
        [
            _f("Name", "string", "Name", length=80, nillable=False, **ro),
            _f("IsSandbox", "boolean", "Is Sandbox", nillable=False, **ro),
            _f("OrganizationType", "string", "Edition", length=40, nillable=False, **ro),
            _f("TimeZoneSidKey", "picklist", "Default Time Zone", picklist_values=TIME_ZONES, nillable=False, **ro),
            _f("LanguageLocaleKey", "picklist", "Default Language", picklist_values=LANGUAGES, nillable=False, **ro),
            _f("DefaultLocaleSidKey", "picklist", "Default Locale", picklist_values=LOCALES, nillable=False, **ro),
        ],
        owner=False,
    )
    return [org, user, account, contact, opportunity, notif]


READ_ONLY_OBJECTS = frozenset({"organization", "customnotificationtype"})


def is_read_only(api_name: str) -> bool:
    """Objects the data API cannot write (their rows come from the org or from deploys)."""
    return api_name.lower() in READ_ONLY_OBJECTS or api_name.lower().endswith("__mdt")


def custom_metadata_fields() -> list[FieldDef]:
    """The standard fields of every custom metadata type (__mdt)."""
    ro = dict(createable=False, updateable=False)
    return [
        _f("Id", "id", "Custom Metadata Record ID", length=18, nillable=False, **ro),
        _f("DeveloperName", "string", "Custom Metadata Record Name", length=40, nillable=False, **ro),
        _f("MasterLabel", "string", "Label", length=40, nillable=False, **ro),
        _f("Label", "string", "Label", length=40, nillable=False, **ro),
        _f("QualifiedApiName", "string", "Qualified API Name", length=70, nillable=False, **ro),
        _f("NamespacePrefix", "string", "Namespace Prefix", length=15, **ro),
        _f("Language", "picklist", "Master Language", picklist_values=LANGUAGES, **ro),
    ]
# Objects whose Name is First + Last (computed on every write).
PERSON_NAME_OBJECTS = frozenset({"user", "contact"})

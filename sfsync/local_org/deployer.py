"""Metadata API deploys: read the zip, check every component, then apply all of it or nothing.

Objects (``objects/*.object``) become tables and catalog entries, notification types
(``notificationtypes/*.notiftype``) become CustomNotificationType rows; every other component
listed is accepted and stored as deployed (Apex is not executed).
"""

from __future__ import annotations

import io
import logging
import posixpath
import zipfile
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from lxml import etree

from sfsync.local_org.catalog import Catalog, FieldDef, ObjectDef
from sfsync.local_org.standard_objects import common_fields, custom_metadata_fields
from sfsync.local_org.values import BadValue, now_ms, to_storage

logger = logging.getLogger(__name__)

MD_NS = "http://soap.sforce.com/2006/04/metadata"
_Q = "{%s}" % MD_NS
_PREFIX_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

MODELLED_SUFFIXES = ("__c", "__mdt")  # object kinds that get a table

FOLDER_TYPES = {
    "objects": "CustomObject", "notificationtypes": "CustomNotificationType", "classes": "ApexClass",
    "triggers": "ApexTrigger", "permissionsets": "PermissionSet", "layouts": "Layout", "flows": "Flow",
    "tabs": "CustomTab", "applications": "CustomApplication", "lwc": "LightningComponentBundle",
    "aura": "AuraDefinitionBundle", "objectTranslations": "CustomObjectTranslation",
    "translations": "Translations", "quickActions": "QuickAction", "flexipages": "FlexiPage",
    "profiles": "Profile", "labels": "CustomLabels", "pages": "ApexPage", "staticresources": "StaticResource",
    "globalValueSets": "GlobalValueSet", "customMetadata": "CustomMetadata", "reports": "Report",
    "dashboards": "Dashboard", "email": "EmailTemplate", "workflows": "Workflow",
}

# Files of these kinds are XML and must be well-formed.
XML_EXTENSIONS = frozenset({
    ".notiftype", ".permissionset", ".layout", ".flow", ".tab", ".app", ".quickAction", ".flexipage",
    ".profile", ".labels", ".globalValueSet", ".md", ".workflow", ".objectTranslation", ".translation",
})

# Metadata field type -> (describe type, default length)
FIELD_TYPES: dict[str, tuple[str, int | None]] = {
    "Text": ("string", None), "TextArea": ("textarea", 255), "LongTextArea": ("textarea", None),
    "Email": ("email", 80), "Phone": ("phone", 40), "Url": ("url", 255), "Picklist": ("picklist", 255),
    "Checkbox": ("boolean", None), "Number": ("double", None), "Currency": ("currency", None),
    "Percent": ("percent", None), "Date": ("date", None), "DateTime": ("datetime", None),
    "Lookup": ("reference", 18), "MasterDetail": ("reference", 18),
}


# Field types whose <length> Salesforce requires, and the lengths it accepts.
LENGTH_RANGES: dict[str, tuple[int, int]] = {"Text": (1, 255), "LongTextArea": (256, 131072)}

# The FieldType enumeration of the v66.0 WSDL (what Salesforce itself accepts).
WSDL_FIELD_TYPES = frozenset({
    "AutoNumber", "Lookup", "MasterDetail", "Checkbox", "Currency", "Date", "DateTime", "Email", "Number",
    "Percent", "Phone", "Picklist", "MultiselectPicklist", "Text", "TextArea", "LongTextArea", "Html", "Url",
    "EncryptedText", "Summary", "Hierarchy", "File", "MetadataRelationship", "Location", "ExternalLookup",
    "IndirectLookup", "CustomDataType", "Time", "Address", "Array", "Integer", "Long",
})


@dataclass
class Message:
    """One DeployMessage."""

    component_type: str
    file_name: str
    full_name: str
    success: bool
    created: bool = False
    changed: bool = False
    deleted: bool = False
    problem: str | None = None
    problem_type: str | None = None
    line: int | None = None
    column: int | None = None


@dataclass
class Plan:
    """What a deploy would do, and what it found wrong."""

    messages: list[Message] = field(default_factory=list)
    objects: list[tuple[ObjectDef | None, ObjectDef]] = field(default_factory=list)  # (old, new)
    notification_types: list[dict[str, Any]] = field(default_factory=list)
    # Custom metadata records: (type api name, DeveloperName, label, {column: stored value})
    metadata_records: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)
    components: list[tuple[str, str, str, bytes]] = field(default_factory=list)  # type, name, file, content
    error_message: str | None = None

    @property
    def failures(self) -> list[Message]:
        return [m for m in self.messages if not m.success]

    @property
    def component_messages(self) -> list[Message]:
        return [m for m in self.messages if m.full_name != "package.xml"]


class ComponentError(Exception):
    def __init__(self, problem: str, line: int | None = None, column: int | None = None, full_name: str | None = None, component_type: str | None = None):
        self.problem, self.line, self.column = problem, line, column
        self.full_name, self.component_type = full_name, component_type
        super().__init__(problem)


def _parse_xml(data: bytes) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)
    try:
        return etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (None, None)
        raise ComponentError(f"Error parsing file: {exc.msg}", line, column) from None


def _text(el: etree._Element, name: str, default: str | None = None) -> str | None:
    child = el.find(_Q + name)
    return child.text.strip() if child is not None and child.text is not None else default


def _bool(el: etree._Element, name: str, default: bool = False) -> bool:
    value = _text(el, name)
    return default if value is None else value.lower() == "true"


def _int_value(fel: etree._Element, name: str, fail: Callable[..., "ComponentError"]) -> int | None:
    el = fel.find(_Q + name)
    if el is None or not (el.text or "").strip():
        return None
    text = el.text.strip()
    try:
        return int(text)
    except ValueError:
        raise fail(f"'{text}' is not a valid value for the type xsd:int", el) from None


def _length(md_type: str, fel: etree._Element, fail: Callable[..., "ComponentError"]) -> int | None:
    """<length> of a text field: Salesforce refuses a Text or LongTextArea field without one, or out of range."""
    length = _int_value(fel, "length", fail)
    if md_type not in LENGTH_RANGES or fel.find(_Q + "formula") is not None:  # a formula's text is computed
        return length
    if length is None:
        raise fail(f"Must specify 'length' for a CustomField of type {md_type}")
    low, high = LENGTH_RANGES[md_type]
    if not low <= length <= high:
        raise fail(f"Length must be between {low:,} and {high:,}", fel.find(_Q + "length"))
    return length


def _literal_default(raw: str | None, describe_type: str) -> Any:
    """The value of a simple defaultValue formula (a literal); None for real formulas."""
    if raw is None:
        return None
    raw = raw.strip()
    if describe_type == "boolean":
        return raw.lower() == "true"
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1]
    try:
        return float(raw) if describe_type in ("double", "currency", "percent") else None
    except ValueError:
        return None


class Deployer:
    def __init__(self, catalog: Catalog):
        self.catalog = catalog

    def plan(self, zip_bytes: bytes) -> Plan:
        plan = Plan()
        try:
            archive = zipfile.ZipFile(io.BytesIO(zip_bytes))
            names = [n for n in archive.namelist() if not n.endswith("/")]
        except zipfile.BadZipFile:
            plan.error_message = "The zip file is not valid"
            return plan
        package_paths = [n for n in names if posixpath.basename(n) == "package.xml"]
        if not package_paths:
            plan.messages.append(Message("", "package.xml", "package.xml", False, problem="No package.xml found",
                                         problem_type="Error"))
            return plan
        root = posixpath.dirname(min(package_paths, key=len))
        files = {posixpath.relpath(n, root) if root else n: archive.read(n) for n in names
                 if not root or n.startswith(root + "/")}
        try:
            package = _parse_xml(files["package.xml"])
            members = {
                (_text(t, "name") or ""): [m.text for m in t.findall(_Q + "members")] for t in package.findall(_Q + "types")
            }
            plan.messages.append(Message("", "package.xml", "package.xml", True, changed=True))
        except ComponentError as exc:
            plan.messages.append(Message("", "package.xml", "package.xml", False, problem=exc.problem,
                                         problem_type="Error", line=exc.line, column=exc.column))
            return plan
        del members  # the files decide what is deployed; package.xml only has to be valid

        new_catalog = self.catalog
        counts = {
            "a0": sum(1 for o in self.catalog if o.custom and o.key_prefix.startswith("a0")),
            "m0": sum(1 for o in self.catalog if o.custom and o.key_prefix.startswith("m0")),
        }
        groups = self._group(files)
        # Objects first (in file order), so lookups between objects of one deploy resolve.
        object_files = [(n, p) for n, p in groups if p[0].startswith("objects/")]
        pending: dict[str, etree._Element] = {}
        for full_name, paths in object_files:
            try:
                pending[full_name] = _parse_xml(files[paths[0]])
            except ComponentError as exc:
                plan.messages.append(Message("CustomObject", paths[0], full_name, False, problem=exc.problem,
                                             problem_type="Error", line=exc.line, column=exc.column))
        known = {o.api_name.lower() for o in self.catalog} | {n.lower() for n in pending}
        for full_name, el in pending.items():
            path = f"objects/{full_name}.object"
            old = new_catalog.get(full_name)
            if old is None and "__" in full_name and not full_name.endswith(MODELLED_SUFFIXES):
                # Platform events, big objects, ...: accepted and stored, not modelled.
                plan.messages.append(Message("CustomObject", path, full_name, True, created=True))
                plan.components.append(("CustomObject", full_name, path, files[path]))
                continue
            series = "m0" if full_name.endswith("__mdt") else "a0"
            try:
                new, field_msgs = self._object(full_name, path, el, old, known, series + _PREFIX_DIGITS[counts[series]])
            except ComponentError as exc:
                plan.messages.append(Message(exc.component_type or "CustomObject", path, exc.full_name or full_name,
                                             False, problem=exc.problem, problem_type="Error",
                                             line=exc.line, column=exc.column))
                continue
            if old is None:
                counts[series] += 1
            new_catalog = new_catalog.with_objects([new])
            changed = old is not None and old.to_json() != new.to_json()
            plan.messages.append(Message("CustomObject", path, new.api_name, True, created=old is None, changed=changed))
            plan.messages.extend(field_msgs)
            plan.objects.append((old, new))
            plan.components.append(("CustomObject", new.api_name, path, files[path]))
        for full_name, paths in groups:
            if paths[0].startswith("objects/"):
                continue
            ctype = FOLDER_TYPES.get(paths[0].split("/")[0], paths[0].split("/")[0])
            try:
                for p in paths:
                    if p.endswith(".xml") or posixpath.splitext(p)[1] in XML_EXTENSIONS:
                        el = _parse_xml(files[p])
                        if ctype == "CustomNotificationType" and p.endswith(".notiftype"):
                            plan.notification_types.append(self._notification_type(full_name, el))
                        elif ctype == "CustomMetadata":
                            plan.metadata_records.append(self._metadata_record(new_catalog, full_name, el))
            except ComponentError as exc:
                plan.messages.append(Message(ctype, p, full_name, False, problem=exc.problem,
                                             problem_type="Error", line=exc.line, column=exc.column))
                continue
            plan.messages.append(Message(ctype, paths[0], full_name, True, created=True))
            plan.components.append((ctype, full_name, paths[0], b"".join(files[p] for p in paths)))
        return plan

    @staticmethod
    def _group(files: dict[str, bytes]) -> list[tuple[str, list[str]]]:
        """Files per component: ``classes/A.cls`` + ``classes/A.cls-meta.xml``; a bundle folder is one component."""
        groups: dict[tuple[str, str], list[str]] = {}
        for path in files:
            if path == "package.xml" or "/" not in path:
                continue
            folder, rest = path.split("/", 1)
            if folder in ("lwc", "aura") or "/" in rest and folder not in ("email", "reports", "dashboards"):
                name = rest.split("/", 1)[0]
            else:
                name = rest[: -len("-meta.xml")] if rest.endswith("-meta.xml") else rest
                name = name.rsplit(".", 1)[0] if "." in name else name
            groups.setdefault((folder, name), []).append(path)
        return [(name, sorted(paths, key=lambda p: p.endswith("-meta.xml"))) for (folder, name), paths in groups.items()]

    def _object(self, api_name: str, path: str, el: etree._Element, old: ObjectDef | None, known: set[str], new_prefix: str) -> tuple[ObjectDef, list[Message]]:
        if el.tag != _Q + "CustomObject":
            raise ComponentError(f"Unexpected root element {etree.QName(el).localname}; expected CustomObject", el.sourceline)
        custom = api_name.endswith(MODELLED_SUFFIXES)
        if not custom and old is None:
            raise ComponentError(f"Cannot create a new standard object: {api_name}", el.sourceline)
        field_defs: list[FieldDef] = []
        messages: list[Message] = []
        has_master = False
        for fel in el.findall(_Q + "fields"):
            fdef = self._field(api_name, fel, known)
            has_master = has_master or fdef.cascade_delete
            field_defs.append(fdef)
            before = old.field(fdef.api_name) if old else None
            messages.append(Message("CustomField", path, f"{api_name}.{fdef.api_name}", True,
                                    created=before is None, changed=before is not None and before != fdef))
        if api_name.endswith("__mdt"):
            label = _text(el, "label") or api_name
            obj = ObjectDef(
                api_name=api_name, label=label, label_plural=_text(el, "pluralLabel") or label, table=api_name,
                key_prefix=old.key_prefix if old else new_prefix, custom=True,
                fields={f.api_name.lower(): f for f in custom_metadata_fields()},
            )
            if old is not None:
                obj = obj.with_fields(f for f in old.fields.values() if f.api_name.endswith("__c"))
            # Records come from customMetadata/ files, never from the data API.
            field_defs = [replace(f, createable=False, updateable=False) for f in field_defs]
        elif custom:
            label = _text(el, "label") or api_name
            name_el = el.find(_Q + "nameField")
            auto = name_el is not None and _text(name_el, "type") == "AutoNumber"
            name_field = FieldDef(
                api_name="Name", type="string", column="Name",
                label=(_text(name_el, "label") if name_el is not None else None) or f"{label} Name",
                length=80, nillable=auto, createable=not auto, updateable=not auto,
                required_on_create=not auto,
            )
            base = common_fields(owner=not has_master) + [name_field]
            obj = ObjectDef(
                api_name=api_name, label=label, label_plural=_text(el, "pluralLabel") or label,
                table=api_name,
                key_prefix=old.key_prefix if old else new_prefix,
                custom=True, fields={f.api_name.lower(): f for f in base},
            )
            if old is not None:  # fields deployed earlier stay (a deploy never drops columns)
                obj = obj.with_fields(f for f in old.fields.values() if f.api_name.endswith("__c"))
        else:
            obj = old
        return obj.with_fields(field_defs), messages

    def _field(self, object_name: str, fel: etree._Element, known: set[str]) -> FieldDef:
        name = _text(fel, "fullName") or ""
        full = f"{object_name}.{name}"

        def fail(problem: str, el: etree._Element = fel) -> ComponentError:
            return ComponentError(problem, el.sourceline, None, full, "CustomField")

        if not name.endswith("__c"):
            raise fail(f"Invalid field name {name!r}: custom field names end in __c")
        md_type = _text(fel, "type")
        type_el = fel.find(_Q + "type")
        if md_type not in WSDL_FIELD_TYPES:
            raise fail(f"'{md_type}' is not a valid value for the enum 'FieldType'", type_el if type_el is not None else fel)
        if md_type not in FIELD_TYPES:
            raise fail(f"Field type {md_type} is not supported by the local org", type_el if type_el is not None else fel)
        describe_type, default_length = FIELD_TYPES[md_type]
        label = _text(fel, "label") or name
        length = _length(md_type, fel, fail)
        required = _bool(fel, "required") or md_type == "MasterDetail"
        kw: dict[str, Any] = {}
        if describe_type == "reference":
            target = _text(fel, "referenceTo")
            if not target or target.lower() not in known:
                ref_el = fel.find(_Q + "referenceTo")
                raise fail(f"referenceTo value of '{target}' does not resolve to a valid sObject type",
                           ref_el if ref_el is not None else fel)
            std = self.catalog.get(target)
            target = std.api_name if std else target
            child = _text(fel, "relationshipName")
            kw.update(reference_to=(target,), relationship_name=name[:-3] + "__r",
                      child_relationship_name=f"{child}__r" if child else None,
                      cascade_delete=md_type == "MasterDetail")
            if md_type == "MasterDetail":
                kw["updateable"] = _bool(fel, "reparentableMasterDetail")
        if describe_type == "picklist":
            vs = fel.find(_Q + "valueSet")
            values: list[str] = []
            labels: list[str] = []
            default = None
            restricted = False
            if vs is not None:
                vsd = vs.find(_Q + "valueSetDefinition")
                # A global value set (valueSetName) is not modelled: its values are not checked.
                restricted = _bool(vs, "restricted") and vsd is not None
                for v in (vsd.findall(_Q + "value") if vsd is not None else []):
                    values.append(_text(v, "fullName") or "")
                    labels.append(_text(v, "label") or values[-1])
                    if _bool(v, "default"):
                        default = values[-1]
            kw.update(picklist_values=tuple(values), picklist_labels=tuple(labels), restricted=restricted, default=default)
        elif describe_type == "boolean":
            kw["default"] = bool(_literal_default(_text(fel, "defaultValue"), "boolean"))
            required = False
        else:
            kw["default"] = _literal_default(_text(fel, "defaultValue"), describe_type)
        if describe_type in ("double", "currency", "percent"):
            kw.update(precision=_int_value(fel, "precision", fail), scale=_int_value(fel, "scale", fail))
        if fel.find(_Q + "formula") is not None:
            # A formula field is computed by Salesforce; here it is read-only and stays null.
            kw.update(createable=False, updateable=False, default=None)
            required = False
        return FieldDef(
            api_name=name, type=describe_type, column=name, label=label,
            length=length if length is not None else default_length,
            nillable=not required and describe_type != "boolean",
            required_on_create=required and kw.get("default") is None,
            unique=_bool(fel, "unique"), external_id=_bool(fel, "externalId"),
            **kw,
        )

    @staticmethod
    def _metadata_record(catalog: Catalog, full_name: str, el: etree._Element) -> tuple[str, str, str, dict[str, Any]]:
        """customMetadata/<Type>.<Record>.md -> a row of <Type>__mdt."""
        if el.tag != _Q + "CustomMetadata":
            raise ComponentError("Unexpected root element; expected CustomMetadata", el.sourceline)
        type_name, _, developer_name = full_name.partition(".")
        obj = catalog.get(type_name + "__mdt")
        if obj is None or not developer_name:
            raise ComponentError(f"Invalid custom metadata type: {type_name}__mdt", el.sourceline)
        values: dict[str, Any] = {}
        for v in el.findall(_Q + "values"):
            name = _text(v, "field") or ""
            fdef = obj.field(name)
            if fdef is None or not fdef.api_name.endswith("__c"):
                raise ComponentError(f"Invalid field {name} for custom metadata type {obj.api_name}", v.sourceline)
            value_el = v.find(_Q + "value")
            nil = value_el is None or value_el.get("{http://www.w3.org/2001/XMLSchema-instance}nil") == "true"
            try:
                values[fdef.column] = None if nil else to_storage(fdef, (value_el.text or "").strip())
            except BadValue:
                raise ComponentError(f"Invalid value for field {fdef.api_name}: {value_el.text}", v.sourceline) from None
        return obj.api_name, developer_name, _text(el, "label") or developer_name, values

    @staticmethod
    def _notification_type(full_name: str, el: etree._Element) -> dict[str, Any]:
        if el.tag != _Q + "CustomNotificationType":
            raise ComponentError("Unexpected root element; expected CustomNotificationType", el.sourceline)
        label = _text(el, "masterLabel") or _text(el, "customNotifTypeName") or full_name
        return {
            "DeveloperName": full_name, "MasterLabel": label, "Description": _text(el, "description"),
            "Desktop": 1 if _bool(el, "desktop") else 0, "Mobile": 1 if _bool(el, "mobile") else 0,
        }


def apply_plan(org, plan: Plan) -> Catalog:
    """Write a checked plan in one transaction; returns the catalog to publish."""
    store = org.store
    catalog = org.catalog
    ts = now_ms()
    user_id = org.credentials.user_id
    with store.transaction() as tx:
        for old, new in plan.objects:
            if old is None:
                store.create_object(tx, new)
            else:
                store.alter_object(tx, old, new)
            catalog = catalog.with_objects([new])
        nt = catalog.get("CustomNotificationType")
        for row in plan.notification_types:
            existing = tx.execute(
                'SELECT Id FROM "CustomNotificationType" WHERE DeveloperName = ?', (row["DeveloperName"],)
            ).fetchone()
            stamps = {"LastModifiedDate": ts, "SystemModstamp": ts, "LastModifiedById": user_id}
            if existing:
                store.update(tx, nt, existing[0], {**row, **stamps})
            else:
                store.insert(tx, nt, {**row, **stamps, "Id": store.next_id(tx, nt.key_prefix),
                                      "CreatedDate": ts, "CreatedById": user_id})
        for type_name, developer_name, label, values in plan.metadata_records:
            mdt = catalog.get(type_name)
            row = {"DeveloperName": developer_name, "MasterLabel": label, "Label": label,
                   "QualifiedApiName": developer_name, "Language": "ja", **values}
            existing = tx.execute(
                f'SELECT Id FROM "{mdt.table}" WHERE DeveloperName = ?', (developer_name,)
            ).fetchone()
            if existing:
                store.update(tx, mdt, existing[0], row)
            else:
                store.insert(tx, mdt, {**row, "Id": store.next_id(tx, mdt.key_prefix)})
        for ctype, name, path, content in plan.components:
            store.save_component(tx, ctype, name, path, content, ts)
    return catalog


__all__ = ["Deployer", "Plan", "Message", "apply_plan"]

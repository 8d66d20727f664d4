"""The local org's deployed metadata files: retrieve, listMetadata and destructive changes.

A deploy keeps every file of its zip (one row per zip path) so that a retrieve answers with the
files as deployed. An object file keeps the children (fields, validation rules, ...) the org
already had and the new file leaves out, because a deploy never drops a field: only a
destructive change does.

Answers follow the v66 WSDL (RetrieveResult, FileProperties, RetrieveMessage) and the messages
Salesforce gives ("Entity of type 'ApexClass' named 'X' cannot be found").
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import posixpath
import zipfile
from dataclasses import dataclass, replace

from lxml import etree

from sfsync.local_org.deployer import FOLDER_TYPES, MD_NS, Message

logger = logging.getLogger(__name__)

_Q = "{%s}" % MD_NS
TABLE = "_sfsync_metadata_files"
MANIFESTS = ("package.xml", "destructiveChanges.xml", "destructiveChangesPre.xml", "destructiveChangesPost.xml")
# CustomObject child elements and their metadata types.
CHILD_TYPES = {
    "fields": "CustomField", "validationRules": "ValidationRule", "listViews": "ListView", "recordTypes": "RecordType",
    "webLinks": "WebLink", "compactLayouts": "CompactLayout", "fieldSets": "FieldSet", "businessProcesses":
    "BusinessProcess", "sharingReasons": "SharingReason", "indexes": "Index",
}
CHILD_ELEMENT = {t: e for e, t in CHILD_TYPES.items()}
# Folders the deployer stores without modelling that its FOLDER_TYPES does not name.
MORE_FOLDER_TYPES = {
    "customPermissions": "CustomPermission", "permissionsetgroups": "PermissionSetGroup",
    "messageChannels": "LightningMessageChannel", "cspTrustedSites": "CspTrustedSite",
    "remoteSiteSettings": "RemoteSiteSetting", "namedCredentials": "NamedCredential",
    "standardValueSets": "StandardValueSet", "reportTypes": "ReportType", "flowDefinitions": "FlowDefinition",
}


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)


def component_of(path: str) -> tuple[str, str] | None:
    """(type, fullName) of a path of a Metadata API zip, None for manifests and unknown folders."""
    if path in MANIFESTS or "/" not in path:
        return None
    folder, rest = path.split("/", 1)
    type_name = FOLDER_TYPES.get(folder) or MORE_FOLDER_TYPES.get(folder)
    if type_name is None:
        return None
    if folder in ("lwc", "aura"):
        return type_name, rest.split("/", 1)[0]
    if folder == "email":
        if "/" not in rest:  # a folder's own -meta.xml
            return type_name, rest.removesuffix("-meta.xml")
        name = rest.removesuffix("-meta.xml")
        return type_name, name.rsplit(".", 1)[0]
    name = rest.removesuffix("-meta.xml")
    return type_name, name.rsplit(".", 1)[0] if "." in name else name


def zip_files(zip_bytes: bytes) -> dict[str, bytes]:
    """The zip's files relative to the folder holding package.xml (as the deployer reads them)."""
    archive = zipfile.ZipFile(io.BytesIO(zip_bytes))
    names = [n for n in archive.namelist() if not n.endswith("/")]
    packages = [n for n in names if posixpath.basename(n) == "package.xml"]
    root = posixpath.dirname(min(packages, key=len)) if packages else ""
    return {(posixpath.relpath(n, root) if root else n): archive.read(n) for n in names
            if not root or n.startswith(root + "/")}


def empty_package(version: str) -> bytes:
    root = etree.Element(_Q + "Package", nsmap={None: MD_NS})
    etree.SubElement(root, _Q + "version").text = version
    return _serialize(root)


def _ensure_table(tx) -> None:
    tx.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (path TEXT PRIMARY KEY, type TEXT NOT NULL, "
               "full_name TEXT NOT NULL, content BLOB NOT NULL, modified INTEGER NOT NULL)")


def _serialize(root: etree._Element) -> bytes:
    etree.indent(root, space="    ")
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + etree.tostring(root, encoding="UTF-8") + b"\n"


def _child_name(el: etree._Element) -> str:
    return (el.findtext(_Q + "fullName") or "").strip()


def _merge_object(old: bytes | None, new: bytes) -> bytes:
    """The new object file plus the children only the old one had (a deploy does not drop them)."""
    if old is None:
        return new
    try:
        old_root, new_root = etree.fromstring(old, _parser()), etree.fromstring(new, _parser())
    except etree.XMLSyntaxError:
        return new
    present = {(etree.QName(c).localname, _child_name(c)) for c in new_root if isinstance(c.tag, str)}
    kept = [c for c in old_root if isinstance(c.tag, str) and etree.QName(c).localname in CHILD_TYPES
            and (etree.QName(c).localname, _child_name(c)) not in present]
    if not kept:
        return new
    for child in kept:
        new_root.append(child)
    # keep the schema's order: children grouped by element name, by fullName within a group
    children = [c for c in new_root if isinstance(c.tag, str)]
    order = {name: i for i, name in enumerate(dict.fromkeys(etree.QName(c).localname for c in children))}
    children.sort(key=lambda c: (order[etree.QName(c).localname],
                                 _child_name(c) if etree.QName(c).localname in CHILD_TYPES else ""))
    for c in list(new_root):
        new_root.remove(c)
    for c in children:
        new_root.append(c)
    return _serialize(new_root)


def save_files(store, files: dict[str, bytes], now_ms: int) -> None:
    """Keep the deployed files (after a successful, not check-only deploy)."""
    with store.transaction() as tx:
        _ensure_table(tx)
        for path, content in files.items():
            key = component_of(path)
            if key is None:
                continue
            if path.startswith("objects/") and path.endswith(".object"):
                row = tx.execute(f"SELECT content FROM {TABLE} WHERE path = ?", (path,)).fetchone()
                content = _merge_object(row[0] if row else None, content)
            tx.execute(f"INSERT OR REPLACE INTO {TABLE} VALUES (?, ?, ?, ?, ?)", (path, key[0], key[1], content, now_ms))


@dataclass
class StoredFile:
    path: str
    type: str
    full_name: str
    content: bytes
    modified: int


def stored_files(store) -> list[StoredFile]:
    with store.transaction() as tx:
        _ensure_table(tx)
        rows = tx.execute(f"SELECT path, type, full_name, content, modified FROM {TABLE} ORDER BY path").fetchall()
    return [StoredFile(r[0], r[1], r[2], bytes(r[3]), r[4]) for r in rows]


# --------------------------------------------------------------------------- destructive changes


def destructive_members(files: dict[str, bytes], name: str) -> list[tuple[str, str]]:
    data = files.get(name)
    if data is None:
        return []
    root = etree.fromstring(data, _parser())
    out = []
    for types in root.findall(_Q + "types"):
        type_name = (types.findtext(_Q + "name") or "").strip()
        out.extend((type_name, (m.text or "").strip()) for m in types.findall(_Q + "members"))
    return out


def delete_components(org, members: list[tuple[str, str]], file_name: str, now_ms: int) -> list[Message]:
    """Delete ``members``: a custom field leaves the catalog (its column stays, unreadable) and
    the stored object file; other components lose their files. Missing ones are a warning, as
    Salesforce goes on with the other deletions."""
    messages: list[Message] = []
    catalog = org.catalog
    changed_objects = []
    with org.store.transaction() as tx:
        _ensure_table(tx)
        for type_name, member in members:
            found = False
            if type_name in CHILD_ELEMENT and "." in member:
                obj_name, child = member.split(".", 1)
                path = f"objects/{obj_name}.object"
                row = tx.execute(f"SELECT content FROM {TABLE} WHERE path = ?", (path,)).fetchone()
                if row is not None:
                    root = etree.fromstring(bytes(row[0]), _parser())
                    for el in root.findall(_Q + CHILD_ELEMENT[type_name]):
                        if _child_name(el).lower() == child.lower():
                            root.remove(el)
                            found = True
                    if found:
                        tx.execute(f"UPDATE {TABLE} SET content = ?, modified = ? WHERE path = ?",
                                   (_serialize(root), now_ms, path))
                obj = catalog.get(obj_name)
                if type_name == "CustomField" and obj is not None and obj.field(child) is not None:
                    fields = {k: v for k, v in obj.fields.items() if k != child.lower()}
                    new = replace(obj, fields=fields)
                    org.store.alter_object(tx, obj, new)
                    catalog = catalog.with_objects([new])
                    changed_objects.append(new)
                    found = True
            else:
                cursor = tx.execute(f"DELETE FROM {TABLE} WHERE type = ? AND full_name = ?", (type_name, member))
                found = cursor.rowcount > 0
                tx.execute("DELETE FROM _sfsync_components WHERE type = ? AND full_name = ?", (type_name, member))
            if found:
                messages.append(Message(type_name, file_name, member, True, deleted=True))
            else:
                messages.append(Message(type_name, file_name, member, True, problem=f"No {type_name} named: {member} found",
                                        problem_type="Warning"))
    if changed_objects:
        org.publish_catalog(catalog)
    return messages


# --------------------------------------------------------------------------- retrieve / list


def _iso(ms: int) -> str:
    ts = dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


@dataclass
class FileProps:
    type: str
    full_name: str
    file_name: str
    modified: int


def retrieve_zip(store, requested: list[tuple[str, str]], package_xml: bytes, prefix: str
                 ) -> tuple[bytes, list[FileProps], list[tuple[str, str]]]:
    """The zip of a retrieve of ``requested`` (type, member); returns (zip, file properties,
    messages as (fileName, problem))."""
    files = stored_files(store)
    by_component: dict[tuple[str, str], list[StoredFile]] = {}
    for f in files:
        by_component.setdefault((f.type, f.full_name.lower()), []).append(f)
    out: dict[str, bytes] = {}
    props: list[FileProps] = []
    messages: list[tuple[str, str]] = []
    objects_whole = {m.lower() for t, m in requested if t == "CustomObject"}
    children: dict[str, list[tuple[str, str]]] = {}
    for type_name, member in requested:
        if type_name in CHILD_ELEMENT and "." in member:
            obj, child = member.split(".", 1)
            children.setdefault(obj, []).append((type_name, child))
            continue
        found = by_component.get((type_name, member.lower()), [])
        if not found:
            messages.append(("package.xml", f"Entity of type '{type_name}' named '{member}' cannot be found"))
            continue
        for f in found:
            out[f.path] = f.content
            props.append(FileProps(f.type, f.full_name, f.path, f.modified))
    for obj, wanted in children.items():
        stored = by_component.get(("CustomObject", obj.lower()), [])
        root = etree.fromstring(stored[0].content, _parser()) if stored else None
        have = {(CHILD_TYPES[etree.QName(c).localname], _child_name(c).lower())
                for c in (root if root is not None else []) if isinstance(c.tag, str)
                and etree.QName(c).localname in CHILD_TYPES}
        for type_name, child in wanted:
            if (type_name, child.lower()) not in have:
                messages.append(("package.xml", f"Entity of type '{type_name}' named '{obj}.{child}' cannot be found"))
            else:
                props.append(FileProps(type_name, f"{obj}.{child}", stored[0].path, stored[0].modified))
        if root is None or obj.lower() in objects_whole:
            continue
        # Only children were asked for: the object file holds just those.
        keep = {(CHILD_ELEMENT[t], c.lower()) for t, c in wanted}
        for c in list(root):
            if not isinstance(c.tag, str) or (etree.QName(c).localname, _child_name(c).lower()) not in keep:
                root.remove(c)
        out[stored[0].path] = _serialize(root)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(out):
            zf.writestr(posixpath.join(prefix, path) if prefix else path, out[path])
        zf.writestr(posixpath.join(prefix, "package.xml") if prefix else "package.xml", package_xml)
    return buf.getvalue(), props, messages


def list_components(org, types: list[str]) -> list[FileProps]:
    files = stored_files(org.store)
    out: list[FileProps] = []
    for f in files:
        if f.type in types:
            out.append(FileProps(f.type, f.full_name, f.path, f.modified))
        if f.type == "CustomObject" and any(t in CHILD_ELEMENT for t in types):
            try:
                root = etree.fromstring(f.content, _parser())
            except etree.XMLSyntaxError:
                continue
            for c in root:
                if isinstance(c.tag, str) and CHILD_TYPES.get(etree.QName(c).localname) in types:
                    out.append(FileProps(CHILD_TYPES[etree.QName(c).localname], f"{f.full_name}.{_child_name(c)}",
                                         f.path, f.modified))
    seen = set()
    unique = []
    for p in out:
        if (p.type, p.full_name) not in seen:
            seen.add((p.type, p.full_name))
            unique.append(p)
    return sorted(unique, key=lambda p: (p.type, p.full_name))


def file_properties_xml(parent: etree._Element, tag: str, p: FileProps, user_id: str, user_name: str) -> None:
    """One FileProperties element, in the WSDL's sequence."""
    el = etree.SubElement(parent, _Q + tag)
    values = [("createdById", user_id[:15]), ("createdByName", user_name), ("createdDate", _iso(p.modified)),
              ("fileName", p.file_name), ("fullName", p.full_name), ("id", ""),
              ("lastModifiedById", user_id[:15]), ("lastModifiedByName", user_name),
              ("lastModifiedDate", _iso(p.modified)), ("manageableState", "unmanaged"), ("type", p.type)]
    for name, text in values:
        etree.SubElement(el, _Q + name).text = text


# --------------------------------------------------------------------------- deploy jobs
# Finished deploy jobs outlive the server process, so that `deploy report`, `deploy quick` and
# `deploy resume` work against a local org each command starts anew.
JOBS_TABLE = "_sfsync_deploy_jobs"


@dataclass
class StoredJob:
    id: str
    check_only: bool
    status: str
    completed_ms: int
    zip_bytes: bytes | None
    quick_deployed: bool
    result_xml: bytes  # the checkDeployStatus <result> element, with details


def _ensure_jobs(tx) -> None:
    tx.execute(f"CREATE TABLE IF NOT EXISTS {JOBS_TABLE} (id TEXT PRIMARY KEY, check_only INTEGER NOT NULL, "
               "status TEXT NOT NULL, completed INTEGER NOT NULL, zip BLOB, quick_deployed INTEGER NOT NULL, "
               "result BLOB NOT NULL)")


def save_job(store, job: StoredJob) -> None:
    with store.transaction() as tx:
        _ensure_jobs(tx)
        tx.execute(f"INSERT OR REPLACE INTO {JOBS_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?)",
                   (job.id, int(job.check_only), job.status, job.completed_ms, job.zip_bytes,
                    int(job.quick_deployed), job.result_xml))


def load_job(store, job_id: str) -> StoredJob | None:
    with store.transaction() as tx:
        _ensure_jobs(tx)
        row = tx.execute(f"SELECT id, check_only, status, completed, zip, quick_deployed, result FROM {JOBS_TABLE} "
                         "WHERE id = ? OR (length(?) = 15 AND substr(id, 1, 15) = ?)", (job_id, job_id, job_id)).fetchone()
    if row is None:
        return None
    return StoredJob(row[0], bool(row[1]), row[2], row[3], bytes(row[4]) if row[4] is not None else None,
                     bool(row[5]), bytes(row[6]))


def mark_quick_deployed(store, job_id: str) -> None:
    with store.transaction() as tx:
        _ensure_jobs(tx)
        tx.execute(f"UPDATE {JOBS_TABLE} SET quick_deployed = 1 WHERE id = ?", (job_id,))

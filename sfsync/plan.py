"""What a deploy would change: retrieve the org's copies of the package's components and compare.

Each component of the package is listed as ``new`` (the org does not have it), ``changed`` or
``unchanged``; children of the package's objects (fields, validation rules, list views, ...) that
the org has and the tree no longer does are listed as ``removed`` — only those, because the org
holds other apps' classes, pages and objects too, and sfsync must never offer to delete them.

Objects are compared child by child (one field at a time), so a changed field label shows as
that one field, not as the whole object. XML is compared after canonicalisation (whitespace
between elements and attribute order do not count); other files byte for byte, line endings
normalised.

Metadata API calls used: ``retrieve`` + ``checkRetrieveStatus`` (unpackaged package.xml) and
``listMetadata``.
"""

from __future__ import annotations

import base64
import difflib
import io
import logging
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from lxml import etree
from pydantic import BaseModel

from sfsync import API_VERSION
from sfsync.errors import SalesforceApiError, SfsyncFailure
from sfsync.packaging import (
    BUNDLE_DIRS,
    CONTENT_TYPES,
    META,
    OBJECT_CHILD_TYPES,
    SINGLE_FILE_TYPES,
    build_package,
)

logger = logging.getLogger(__name__)

MD_NS = "http://soap.sforce.com/2006/04/metadata"
_NS = {"m": MD_NS}
_Q = f"{{{MD_NS}}}"

State = Literal["new", "changed", "unchanged", "removed"]
# Child element of a CustomObject -> its metadata type (fields -> CustomField, ...).
CHILD_ELEMENTS = {element: type_name for type_name, element in OBJECT_CHILD_TYPES.values()}
MANIFESTS = {"package.xml", "destructiveChanges.xml", "destructiveChangesPre.xml", "destructiveChangesPost.xml"}


class ComponentChange(BaseModel):
    type: str
    full_name: str
    state: State
    diff: str | None = None  # unified diff org -> tree, for changed components when asked


class PlanResult(BaseModel):
    changes: list[ComponentChange]
    messages: list[str] = []  # the retrieve's own messages (e.g. components the org does not have)

    def count(self, state: State) -> int:
        return sum(1 for c in self.changes if c.state == state)

    @property
    def removed(self) -> list[tuple[str, str]]:
        return [(c.type, c.full_name) for c in self.changes if c.state == "removed"]


class RetrieveStatus(BaseModel):
    id: str
    done: bool
    status: str
    success: bool
    error_message: str | None = None
    zip_bytes: bytes | None = None
    messages: list[str] = []


class FileProperties(BaseModel):
    type: str
    full_name: str
    file_name: str
    id: str | None = None
    last_modified_date: str | None = None
    last_modified_by_name: str | None = None
    manageable_state: str | None = None


# --------------------------------------------------------------------------- SOAP bodies


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, _Q + name)
    if text is not None:
        el.text = text
    return el


def _text(el: etree._Element, path: str) -> str | None:
    found = el.find(path, _NS)
    return found.text if found is not None and found.text is not None else None


def retrieve_request_xml(components: list[tuple[str, str]], version: str = API_VERSION) -> bytes:
    """``retrieve`` with an unpackaged Package listing ``components``; elements in RetrieveRequest's
    and Package's xsd:sequence order (apiVersion, singlePackage, unpackaged{types*, version})."""
    op = etree.Element(_Q + "retrieve", nsmap={None: MD_NS})
    request = _sub(op, "retrieveRequest")
    _sub(request, "apiVersion", version)
    _sub(request, "singlePackage", "true")
    package = _sub(request, "unpackaged")
    by_type: dict[str, set[str]] = {}
    for type_name, member in components:
        by_type.setdefault(type_name, set()).add(member)
    for type_name in sorted(by_type):
        types = _sub(package, "types")
        for member in sorted(by_type[type_name]):
            _sub(types, "members", member)
        _sub(types, "name", type_name)
    _sub(package, "version", version)
    return etree.tostring(op, encoding="UTF-8")


def check_retrieve_request_xml(job_id: str) -> bytes:
    op = etree.Element(_Q + "checkRetrieveStatus", nsmap={None: MD_NS})
    _sub(op, "asyncProcessId", job_id)
    _sub(op, "includeZip", "true")
    return etree.tostring(op, encoding="UTF-8")


def list_metadata_request_xml(types: list[str], version: str = API_VERSION) -> bytes:
    op = etree.Element(_Q + "listMetadata", nsmap={None: MD_NS})
    for type_name in types:
        query = _sub(op, "queries")
        _sub(query, "type", type_name)
    _sub(op, "asOfVersion", version)
    return etree.tostring(op, encoding="UTF-8")


# --------------------------------------------------------------------------- calls

RETRIEVE_STATES = {"Pending", "InProgress", "Succeeded", "Failed"}


def parse_retrieve_result(result: etree._Element) -> RetrieveStatus:
    job_id, status = _text(result, "m:id"), _text(result, "m:status")
    if not job_id or not status:
        raise SalesforceApiError("checkRetrieveStatus answer has no id or status")
    if status not in RETRIEVE_STATES:
        raise SalesforceApiError(f"retrieve {job_id} reports an unknown status '{status}'")
    zip_text = _text(result, "m:zipFile")
    messages = [f"{_text(m, 'm:fileName') or ''}: {_text(m, 'm:problem') or ''}"
                for m in result.findall("m:messages", _NS)]
    return RetrieveStatus(
        id=job_id, done=_text(result, "m:done") == "true", status=status, success=_text(result, "m:success") == "true",
        error_message=_text(result, "m:errorMessage"), messages=messages,
        zip_bytes=base64.b64decode(zip_text) if zip_text else None,
    )


def start_retrieve(client, components: list[tuple[str, str]], version: str = API_VERSION) -> str:
    body = client.soap_metadata(retrieve_request_xml(components, version), "retrieve")
    job_id = _text(body, "m:result/m:id")
    if not job_id:
        raise SalesforceApiError("retrieve answer has no job id")
    return job_id


def check_retrieve(client, job_id: str) -> RetrieveStatus:
    from sfsync.deploy import poll_once

    def once() -> RetrieveStatus:
        body = client.soap_metadata(check_retrieve_request_xml(job_id), "checkRetrieveStatus")
        result = body.find("m:result", _NS)
        if result is None:
            raise SalesforceApiError("checkRetrieveStatus answer has no result")
        return parse_retrieve_result(result)

    return poll_once(once, f"retrieve {job_id}")


def retrieve(client, components: list[tuple[str, str]], *, wait_seconds: float = 600, poll_seconds: float = 1.0,
             version: str = API_VERSION, clock: Callable[[], float] = time.monotonic,
             sleep: Callable[[float], None] = time.sleep) -> RetrieveStatus:
    """Start a retrieve and poll it to its end; a retrieve still running at the limit is an error
    (unlike a deploy, it changes nothing, so there is nothing to resume)."""
    job_id = start_retrieve(client, components, version)
    deadline = clock() + wait_seconds
    while True:
        status = check_retrieve(client, job_id)
        if status.done:
            if status.status == "Failed" or not status.success:
                raise SfsyncFailure(f"retrieve {job_id} failed: {status.error_message or status.status}")
            return status
        if clock() >= deadline:
            raise SfsyncFailure(f"retrieve {job_id} still {status.status} after {wait_seconds:g} s")
        sleep(min(poll_seconds, max(0.0, deadline - clock())))


def list_metadata(client, types: list[str], version: str = API_VERSION) -> list[FileProperties]:
    """The org's components of ``types`` (the API takes at most 3 queries per call)."""
    out: list[FileProperties] = []
    for start in range(0, len(types), 3):
        body = client.soap_metadata(list_metadata_request_xml(types[start:start + 3], version), "listMetadata")
        for r in body.findall("m:result", _NS):
            out.append(FileProperties(
                type=_text(r, "m:type") or "", full_name=_text(r, "m:fullName") or "",
                file_name=_text(r, "m:fileName") or "", id=_text(r, "m:id"),
                last_modified_date=_text(r, "m:lastModifiedDate"),
                last_modified_by_name=_text(r, "m:lastModifiedByName"),
                manageable_state=_text(r, "m:manageableState"),
            ))
    return sorted(out, key=lambda f: (f.type, f.full_name))


# --------------------------------------------------------------------------- comparison

Key = tuple[str, str]


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True, remove_comments=True)


def _pretty(el: etree._Element) -> str:
    """A stable text form: no whitespace-only text, text stripped, children indented."""
    el = etree.fromstring(etree.tostring(el), _parser())
    for node in el.iter():
        if isinstance(node.tag, str):
            if node.text is not None and len(node):
                node.text = None
            elif node.text is not None:
                node.text = node.text.strip()
            node.tail = None
    etree.indent(el, space="    ")
    text = etree.tostring(el, encoding="unicode")
    # Namespace declarations are noise in a diff; the canonical form above already compares them.
    return text.replace(f' xmlns="{MD_NS}"', "") + "\n"


def _file_text(name: str, data: bytes) -> str:
    if name.endswith(".xml") or "." in name and name.rsplit(".", 1)[1] in _XML_SUFFIXES:
        try:
            return _pretty(etree.fromstring(data, _parser()))
        except etree.XMLSyntaxError:
            pass
    return data.decode("utf-8", errors="replace").replace("\r\n", "\n")


_XML_SUFFIXES = {suffix for suffix in SINGLE_FILE_TYPES} | {"object", "objectTranslation", "email"}


def _component_of(path: str) -> Key | None:
    """(type, fullName) of a file of a Metadata API zip."""
    parts = path.split("/")
    folder, name = parts[0], parts[-1]
    if folder in BUNDLE_DIRS and len(parts) >= 3:
        return BUNDLE_DIRS[folder], parts[1]
    if folder == "staticresources":
        return "StaticResource", name.removesuffix(META).rsplit(".", 1)[0]
    if folder == "email":
        if len(parts) == 2:
            return "EmailTemplate", name.removesuffix(META)
        return "EmailTemplate", f"{parts[1]}/{name.removesuffix(META).rsplit('.', 1)[0]}"
    if folder == "objectTranslations":
        return "CustomObjectTranslation", name.rsplit(".", 1)[0]
    for type_name, zip_dir in CONTENT_TYPES.values():
        if folder == zip_dir:
            return type_name, name.removesuffix(META).rsplit(".", 1)[0]
    for suffix, (type_name, zip_dir) in SINGLE_FILE_TYPES.items():
        if folder == zip_dir and name.endswith("." + suffix):
            return type_name, name[: -len(suffix) - 1]
    return None


def components_of_zip(zip_bytes: bytes) -> dict[Key, str]:
    """Every component of a zip as text to compare: objects split into the object itself and one
    entry per child (field, validation rule, ...); other components as their files' text."""
    archive = zipfile.ZipFile(io.BytesIO(zip_bytes))
    files: dict[Key, list[tuple[str, str]]] = {}
    out: dict[Key, str] = {}
    for info in archive.infolist():
        if info.is_dir():
            continue
        path = info.filename.removeprefix("unpackaged/")
        if path in MANIFESTS:
            continue
        data = archive.read(info.filename)
        if path.startswith("objects/") and path.endswith(".object"):
            out.update(_split_object(path[len("objects/"):-len(".object")], data))
            continue
        key = _component_of(path)
        if key is None:
            logger.debug("retrieve: ignoring %s (unknown type)", path)
            continue
        files.setdefault(key, []).append((path, _file_text(path, data)))
    for key, entries in files.items():
        out[key] = "".join(f"--- {p}\n{t}" if len(entries) > 1 else t for p, t in sorted(entries))
    return out


def _split_object(name: str, data: bytes) -> dict[Key, str]:
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError:
        return {("CustomObject", name): data.decode("utf-8", errors="replace")}
    out: dict[Key, str] = {}
    for child in list(root):
        if not isinstance(child.tag, str):
            continue
        local = etree.QName(child).localname
        if local in CHILD_ELEMENTS:
            full = (child.findtext(_Q + "fullName") or "").strip()
            out[(CHILD_ELEMENTS[local], f"{name}.{full}")] = _pretty(child)
            root.remove(child)
    out[("CustomObject", name)] = _pretty(root)
    return out


def _removable(key: Key, local_objects: set[str]) -> bool:
    """Org-only components worth offering to delete: children of the package's own objects
    (a custom field must end in __c; standard fields are never removable)."""
    type_name, full_name = key
    obj, _, child = full_name.partition(".")
    if type_name not in CHILD_ELEMENTS.values() or obj not in local_objects:
        return False
    return child.endswith("__c") if type_name == "CustomField" else True


def compare(local: dict[Key, str], org: dict[Key, str], *, with_diff: bool = False) -> list[ComponentChange]:
    """Removed components first (they are the ones an admin must look at), then the rest by type and name."""
    local_objects = {name for type_name, name in local if type_name == "CustomObject"}
    changes: list[ComponentChange] = []
    for key in sorted(set(org) - set(local)):
        if _removable(key, local_objects):
            changes.append(ComponentChange(type=key[0], full_name=key[1], state="removed"))
    for key in sorted(local):
        if key not in org:
            changes.append(ComponentChange(type=key[0], full_name=key[1], state="new"))
        elif org[key] == local[key]:
            changes.append(ComponentChange(type=key[0], full_name=key[1], state="unchanged"))
        else:
            diff = None
            if with_diff:
                label = f"{key[0]} {key[1]}"
                diff = "".join(difflib.unified_diff(org[key].splitlines(keepends=True),
                                                    local[key].splitlines(keepends=True),
                                                    fromfile=f"org: {label}", tofile=f"tree: {label}"))
            changes.append(ComponentChange(type=key[0], full_name=key[1], state="changed", diff=diff))
    return changes


def make_plan(client, project_root: Path, *, with_diff: bool = False, wait_seconds: float = 600,
              version: str = API_VERSION) -> PlanResult:
    """Retrieve the package's components from the org and compare them with the tree."""
    package = build_package(Path(project_root))
    local = components_of_zip(package.zip_bytes)
    status = retrieve(client, list(package.components), wait_seconds=wait_seconds, version=version)
    org = components_of_zip(status.zip_bytes) if status.zip_bytes else {}
    changes = compare(local, org, with_diff=with_diff)
    logger.info("plan: %d new, %d changed, %d unchanged, %d removed", *(
        sum(1 for c in changes if c.state == s) for s in ("new", "changed", "unchanged", "removed")))
    return PlanResult(changes=changes, messages=status.messages)

"""Convert the SFDX source tree (metadata/) into a Metadata API deploy zip.

Source format splits components into many files (one per field, one per field translation,
``-meta.xml`` suffixes); the Metadata API zip format that deploy() takes has ``package.xml`` at
the root, one ``objects/X.object`` per object with its fields embedded, and single-file types
without the ``-meta.xml`` suffix. The mapping rules follow Salesforce's source-deploy-retrieve
registry (directory names and suffixes); the child element order inside merged files comes from
the shipped Metadata API schema.

The output is deterministic (sorted entries, fixed timestamps and permissions) so the same tree
gives the same bytes, and file bytes of single-file types are copied untouched.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from lxml import etree
from pydantic import BaseModel, ConfigDict

from sfsync import API_VERSION
from sfsync.errors import MetadataInvalid, UsageError
from sfsync.metadata_schema import MD_NS, load_schema

logger = logging.getLogger(__name__)

META = "-meta.xml"
XML_HEADER = b'<?xml version="1.0" encoding="UTF-8"?>\n'
# 1980-01-01 is the earliest date a zip entry can carry; any fixed value makes the bytes stable.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)

# Single-file types: source "<dir>/<Name>.<suffix>-meta.xml" -> zip "<dir>/<Name>.<suffix>".
SINGLE_FILE_TYPES: dict[str, tuple[str, str]] = {
    # suffix: (metadata type, zip directory)
    "app": ("CustomApplication", "applications"),
    "customPermission": ("CustomPermission", "customPermissions"),
    "cspTrustedSite": ("CspTrustedSite", "cspTrustedSites"),
    "flexipage": ("FlexiPage", "flexipages"),
    "flow": ("Flow", "flows"),
    "flowDefinition": ("FlowDefinition", "flowDefinitions"),
    "globalValueSet": ("GlobalValueSet", "globalValueSets"),
    "labels": ("CustomLabels", "labels"),
    "layout": ("Layout", "layouts"),
    "md": ("CustomMetadata", "customMetadata"),
    "messageChannel": ("LightningMessageChannel", "messageChannels"),
    "namedCredential": ("NamedCredential", "namedCredentials"),
    "notiftype": ("CustomNotificationType", "notificationtypes"),
    "permissionset": ("PermissionSet", "permissionsets"),
    "permissionsetgroup": ("PermissionSetGroup", "permissionsetgroups"),
    "profile": ("Profile", "profiles"),
    "quickAction": ("QuickAction", "quickActions"),
    "remoteSite": ("RemoteSiteSetting", "remoteSiteSettings"),
    "reportType": ("ReportType", "reportTypes"),
    "standardValueSet": ("StandardValueSet", "standardValueSets"),
    "tab": ("CustomTab", "tabs"),
    "translation": ("Translations", "translations"),
}

# Types whose component is a content file plus its -meta.xml, both kept as is in the zip.
CONTENT_TYPES: dict[str, tuple[str, str]] = {
    "cls": ("ApexClass", "classes"),
    "trigger": ("ApexTrigger", "triggers"),
    "page": ("ApexPage", "pages"),
    "component": ("ApexComponent", "components"),
}

# Children of CustomObject: source "objects/<Obj>/<childDir>/<Name>.<suffix>-meta.xml".
OBJECT_CHILD_TYPES: dict[str, tuple[str, str]] = {
    # suffix: (metadata type, source directory == element name inside CustomObject)
    "businessProcess": ("BusinessProcess", "businessProcesses"),
    "compactLayout": ("CompactLayout", "compactLayouts"),
    "field": ("CustomField", "fields"),
    "fieldSet": ("FieldSet", "fieldSets"),
    "index": ("Index", "indexes"),
    "listView": ("ListView", "listViews"),
    "recordType": ("RecordType", "recordTypes"),
    "sharingReason": ("SharingReason", "sharingReasons"),
    "validationRule": ("ValidationRule", "validationRules"),
    "webLink": ("WebLink", "webLinks"),
}

BUNDLE_DIRS = {"lwc": "LightningComponentBundle", "aura": "AuraDefinitionBundle"}

# Never deployed: test and tooling files that live beside the components.
IGNORED_DIRS = {"__tests__", "__mocks__", "jest-mocks", ".sfdx", ".sf", ".localdevserver"}
IGNORED_FILES = {".eslintrc", ".eslintrc.json", ".eslintrc.js", ".eslintrc.cjs", "jsconfig.json",
                 ".DS_Store", ".gitkeep", ".prettierrc", ".prettierignore"}


@dataclass(frozen=True)
class SourceFile:
    """What one file in the source tree is."""

    path: Path  # absolute
    rel: str  # relative to the project root, POSIX separators
    kind: str  # single | content | content-meta | bundle | object | object-child |
    #            object-translation | field-translation | email | email-folder |
    #            static-resource-meta | static-resource-content
    type_name: str  # metadata type of the component the file belongs to
    member: str  # component fullName for package.xml
    root_type: str | None  # expected XML root element for -meta.xml files, else None
    file_stem: str  # component's own name as in the file name (fullName check)


class PackageResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    zip_bytes: bytes
    components: list[tuple[str, str]]  # (metadata type, fullName), sorted
    file_count: int  # zip entries, package.xml included


# --------------------------------------------------------------------------- source tree scan


def package_directories(project_root: Path) -> list[Path]:
    """The packageDirectories of ``project_root/sfdx-project.json``, as absolute paths."""
    project_file = project_root / "sfdx-project.json"
    try:
        project = json.loads(project_file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UsageError(f"no sfdx-project.json in {project_root}") from exc
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {project_file}: {exc}") from exc
    dirs = [project_root / d["path"] for d in project.get("packageDirectories", []) if d.get("path")]
    if not dirs:
        raise UsageError(f"{project_file} lists no packageDirectories")
    for d in dirs:
        if not d.is_dir():
            raise UsageError(f"package directory {d.relative_to(project_root)} does not exist")
    return dirs


def is_ignored(rel_parts: tuple[str, ...]) -> bool:
    return any(p in IGNORED_DIRS for p in rel_parts[:-1]) or rel_parts[-1] in IGNORED_FILES


def split_meta(name: str) -> tuple[str, str] | None:
    """'Foo__c.field-meta.xml' -> ('Foo__c', 'field'); None when not a -meta.xml file."""
    if not name.endswith(META):
        return None
    base = name[: -len(META)]
    stem, dot, suffix = base.rpartition(".")
    if not dot or not stem:
        return None
    return stem, suffix


def classify(path: Path, project_root: Path, package_dir: Path) -> SourceFile | None:
    """Classify one file; None when its type is unknown (callers report or raise)."""
    rel = path.relative_to(project_root).as_posix()
    parts = path.relative_to(package_dir).parts
    name = parts[-1]

    def make(kind, type_name, member, root_type, stem):
        return SourceFile(path, rel, kind, type_name, member, root_type, stem)

    # Bundles are recognised by their folder: aura's .app-meta.xml must not read as CustomApplication.
    for i, part in enumerate(parts[:-1]):
        if part in BUNDLE_DIRS and i + 2 < len(parts):
            bundle = parts[i + 1]
            type_name = BUNDLE_DIRS[part]
            meta = split_meta(name)
            root = None
            if meta and meta[0] == bundle and len(parts) == i + 3:
                root = type_name
            return make("bundle", type_name, bundle, root, bundle if root else name)
        if part == "staticresources":
            if len(parts) == i + 2:
                meta = split_meta(name)
                if meta and meta[1] == "resource":
                    return make("static-resource-meta", "StaticResource", meta[0], "StaticResource", meta[0])
                return make("static-resource-content", "StaticResource", name.split(".")[0], None, name)
            # an exploded archive folder: staticresources/<Name>/...
            return make("static-resource-content", "StaticResource", parts[i + 1], None, name)
        if part == "email":
            meta = split_meta(name)
            if len(parts) == i + 2 and meta and meta[1] == "emailFolder":
                return make("email-folder", "EmailTemplate", meta[0], "EmailFolder", meta[0])
            if len(parts) == i + 3:
                folder = parts[i + 1]
                if meta and meta[1] == "email":
                    return make("email", "EmailTemplate", f"{folder}/{meta[0]}", "EmailTemplate", meta[0])
                if name.endswith(".email"):
                    return make("email", "EmailTemplate", f"{folder}/{name[:-6]}", None, name[:-6])
            return None

    meta = split_meta(name)
    if meta is None:
        stem, dot, suffix = name.rpartition(".")
        if dot and suffix in CONTENT_TYPES:
            type_name, _ = CONTENT_TYPES[suffix]
            return make("content", type_name, stem, None, stem)
        return None
    stem, suffix = meta
    if suffix in CONTENT_TYPES:
        type_name, _ = CONTENT_TYPES[suffix]
        return make("content-meta", type_name, stem, type_name, stem)
    if suffix == "object" and len(parts) >= 3 and parts[-2] == stem and parts[-3] == "objects":
        return make("object", "CustomObject", stem, "CustomObject", stem)
    if suffix in OBJECT_CHILD_TYPES and len(parts) >= 4 and parts[-4] == "objects":
        type_name, child_dir = OBJECT_CHILD_TYPES[suffix]
        if parts[-2] == child_dir:
            return make("object-child", type_name, f"{parts[-3]}.{stem}", type_name, stem)
        return None
    if suffix == "objectTranslation" and len(parts) >= 3 and parts[-2] == stem:
        return make("object-translation", "CustomObjectTranslation", stem, "CustomObjectTranslation", stem)
    if suffix == "fieldTranslation" and len(parts) >= 3 and parts[-3] == "objectTranslations":
        return make("field-translation", "CustomObjectTranslation", parts[-2], "CustomFieldTranslation", stem)
    if suffix in SINGLE_FILE_TYPES:
        type_name, _ = SINGLE_FILE_TYPES[suffix]
        return make("single", type_name, stem, type_name, stem)
    return None


def _points_outside(path: Path, root_resolved: Path) -> bool:
    try:
        path.resolve().relative_to(root_resolved)
    except (ValueError, OSError, RuntimeError):  # outside, or a link loop
        return True
    return False


def outside_links(project_root: Path) -> list[str]:
    """Relative paths of symbolic links in the package directories that lead outside the project.

    Packaging would copy whatever they point at (``classes/X.cls -> /etc/passwd``) into the zip,
    so they are refused and never read."""
    project_root = Path(project_root)
    root_resolved = project_root.resolve()
    found = []
    for package_dir in package_directories(project_root):
        for path in package_dir.rglob("*"):
            if path.is_symlink() and _points_outside(path, root_resolved):
                found.append(path.relative_to(project_root).as_posix())
    return sorted(found)


OUTSIDE_LINK_MESSAGE = ("symbolic link to a file outside the project: sfsync never packages what it points at; "
                        "replace it with the file itself")


def scan_tree(project_root: Path) -> tuple[list[SourceFile], list[str]]:
    """Every deployable file of the project, and the relative paths of files of unknown type.

    Symbolic links leading outside the project are left out (``outside_links`` lists them)."""
    known: list[SourceFile] = []
    unknown: list[str] = []
    root_resolved = Path(project_root).resolve()
    for package_dir in package_directories(project_root):
        for path in sorted(p for p in package_dir.rglob("*") if p.is_file()):
            if _points_outside(path, root_resolved):
                continue
            parts = path.relative_to(package_dir).parts
            if is_ignored(parts):
                continue
            item = classify(path, project_root, package_dir)
            if item is None:
                unknown.append(path.relative_to(project_root).as_posix())
            else:
                known.append(item)
    return known, unknown


DOCTYPE_MESSAGE = "DOCTYPE and entity declarations are not allowed in metadata files"
DOCTYPE_RE = re.compile(rb"<!\s*(?:DOCTYPE|ENTITY)", re.IGNORECASE)

UNKNOWN_TYPE_MESSAGE = (
    "unknown metadata file type: sfsync does not know which Metadata API type this file belongs"
    " to (check its folder and suffix, for example objects/<Object>/fields/<Field>.field-meta.xml)"
)


# --------------------------------------------------------------------------- conversion


def _parse(item: SourceFile) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)
    try:
        return etree.parse(str(item.path), parser).getroot()
    except etree.XMLSyntaxError as exc:
        line = exc.lineno or 1
        raise MetadataInvalid([f"{item.rel}:{line}: not well-formed XML: {exc.msg}"]) from exc
    except OSError as exc:  # lxml reports undecodable bytes as an OSError
        raise MetadataInvalid([f"{item.rel}:1: cannot read the file: {exc}"]) from exc


def _q(tag: str) -> str:
    return f"{{{MD_NS}}}{tag}"


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


def _serialize(root: etree._Element) -> bytes:
    etree.indent(root, space="    ")
    return XML_HEADER + etree.tostring(root, encoding="UTF-8") + b"\n"


def _as_child(item: SourceFile, element_name: str, key: str) -> etree._Element:
    """The child file's root content wrapped as ``<element_name>`` for embedding in its parent."""
    src = _parse(item)
    wrapper = etree.Element(_q(element_name))
    children = [c for c in src if isinstance(c.tag, str)]
    if not any(_local(c) == key for c in children):
        # fullName/name may be left out in source; the file name carries it.
        k = etree.SubElement(wrapper, _q(key))
        k.text = item.file_stem
    for c in children:
        wrapper.append(c)
    return wrapper


def _merge(parent: etree._Element | None, root_type: str, children: list[etree._Element]) -> etree._Element:
    """Parent root with ``children`` inserted, all children in the type's schema sequence order."""
    if parent is None:
        parent = etree.Element(_q(root_type), nsmap={None: MD_NS})
    order = {name: i for i, name in enumerate(load_schema().child_order(root_type))}
    existing = [c for c in parent if isinstance(c.tag, str)]
    for c in list(parent):
        parent.remove(c)
    combined = existing + children
    # sorted() is stable: within one element name, parent's own entries come first, then children
    # in file-name order (a retrieve lists fields alphabetically, too).
    combined.sort(key=lambda c: order.get(_local(c), len(order)))
    parent.text = None
    for c in combined:
        parent.append(c)
    return parent


def _zip_static_folder(folder: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(x for x in folder.rglob("*") if x.is_file()):
            _write_entry(zf, p.relative_to(folder).as_posix(), p.read_bytes())
    return buf.getvalue()


def _write_entry(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # unix, so external_attr means the same everywhere
    info.external_attr = 0o100644 << 16
    # zipfile sets the UTF-8 flag (0x800) by itself when the name is not ASCII.
    zf.writestr(info, data)


def package_xml(components: list[tuple[str, str]], version: str = API_VERSION) -> bytes:
    """package.xml listing ``components``: types sorted by name, members sorted."""
    by_type: dict[str, set[str]] = {}
    for type_name, member in components:
        by_type.setdefault(type_name, set()).add(member)
    root = etree.Element(_q("Package"), nsmap={None: MD_NS})
    for type_name in sorted(by_type):
        types = etree.SubElement(root, _q("types"))
        for member in sorted(by_type[type_name]):
            etree.SubElement(types, _q("members")).text = member
        etree.SubElement(types, _q("name")).text = type_name
    etree.SubElement(root, _q("version")).text = version
    return _serialize(root)


def build_package(project_root: Path) -> PackageResult:
    """Convert the project's source tree into a Metadata API zip (in memory)."""
    project_root = Path(project_root)
    links = outside_links(project_root)
    if links:
        raise MetadataInvalid([f"{rel}:1: {OUTSIDE_LINK_MESSAGE}" for rel in links])
    items, unknown = scan_tree(project_root)
    if unknown:
        raise MetadataInvalid([f"{rel}:1: {UNKNOWN_TYPE_MESSAGE}" for rel in unknown])

    entries: dict[str, bytes] = {}
    components: set[tuple[str, str]] = set()
    objects: dict[str, dict] = {}  # name -> {"parent": SourceFile|None, "children": [SourceFile]}
    translations: dict[str, dict] = {}
    static_meta: dict[str, SourceFile] = {}
    static_content: dict[str, list[SourceFile]] = {}

    def put(name: str, data: bytes, rel: str) -> None:
        if name in entries:
            raise MetadataInvalid([f"{rel}:1: another file already maps to {name} in the package"])
        entries[name] = data

    # XXE: no DOCTYPE goes into the zip, whether or not validate ran first.
    doctypes = []
    for item in items:
        if item.root_type:
            data = item.path.read_bytes()
            m = DOCTYPE_RE.search(data)
            if m:
                line = data.count(b"\n", 0, m.start()) + 1
                doctypes.append(f"{item.rel}:{line}: {DOCTYPE_MESSAGE}")
    if doctypes:
        raise MetadataInvalid(doctypes)

    for item in items:
        rel_parts = PurePosixPath(item.rel).parts
        if item.kind == "single":
            suffix = split_meta(item.path.name)[1]
            _, zip_dir = SINGLE_FILE_TYPES[suffix]
            _parse(item)  # a broken file must fail here, not in the org
            put(f"{zip_dir}/{item.file_stem}.{suffix}", item.path.read_bytes(), item.rel)
            components.add((item.type_name, item.member))
        elif item.kind in ("content", "content-meta"):
            zip_dir = next(d for t, d in CONTENT_TYPES.values() if t == item.type_name)
            put(f"{zip_dir}/{item.path.name}", item.path.read_bytes(), item.rel)
            components.add((item.type_name, item.member))
        elif item.kind == "bundle":
            idx = max(i for i, p in enumerate(rel_parts) if p in BUNDLE_DIRS)
            zip_name = "/".join(rel_parts[idx:])
            put(zip_name, item.path.read_bytes(), item.rel)
            components.add((item.type_name, item.member))
        elif item.kind in ("email", "email-folder"):
            idx = max(i for i, p in enumerate(rel_parts) if p == "email")
            tail = list(rel_parts[idx:])
            if item.kind == "email-folder":
                tail[-1] = f"{item.file_stem}{META}"  # zip form of a folder: email/<Folder>-meta.xml
            put("/".join(tail), item.path.read_bytes(), item.rel)
            components.add((item.type_name, item.member))
        elif item.kind == "object":
            objects.setdefault(item.member, {"parent": None, "children": []})["parent"] = item
            components.add(("CustomObject", item.member))
        elif item.kind == "object-child":
            obj = item.member.split(".", 1)[0]
            objects.setdefault(obj, {"parent": None, "children": []})["children"].append(item)
            components.add((item.type_name, item.member))
        elif item.kind == "object-translation":
            translations.setdefault(item.member, {"parent": None, "children": []})["parent"] = item
            components.add(("CustomObjectTranslation", item.member))
        elif item.kind == "field-translation":
            translations.setdefault(item.member, {"parent": None, "children": []})["children"].append(item)
            components.add(("CustomObjectTranslation", item.member))
        elif item.kind == "static-resource-meta":
            static_meta[item.member] = item
            components.add(("StaticResource", item.member))
        elif item.kind == "static-resource-content":
            static_content.setdefault(item.member, []).append(item)
        else:  # pragma: no cover - classify() only returns the kinds above
            raise AssertionError(item.kind)

    for name, group in sorted(objects.items()):
        children = []
        for child in sorted(group["children"], key=lambda c: (c.type_name, c.file_stem)):
            suffix = split_meta(child.path.name)[1]
            children.append(_as_child(child, OBJECT_CHILD_TYPES[suffix][1], "fullName"))
        parent = _parse(group["parent"]) if group["parent"] else None
        put(f"objects/{name}.object", _serialize(_merge(parent, "CustomObject", children)),
            (group["parent"] or group["children"][0]).rel)

    for name, group in sorted(translations.items()):
        children = [_as_child(c, "fields", "name") for c in sorted(group["children"], key=lambda c: c.file_stem)]
        parent = _parse(group["parent"]) if group["parent"] else None
        put(f"objectTranslations/{name}.objectTranslation",
            _serialize(_merge(parent, "CustomObjectTranslation", children)),
            (group["parent"] or group["children"][0]).rel)

    for name in sorted(set(static_meta) | set(static_content)):
        meta = static_meta.get(name)
        content = static_content.get(name, [])
        rel = (meta or content[0]).rel
        if meta is None:
            raise MetadataInvalid([f"{rel}:1: static resource {name} has no {name}.resource-meta.xml"])
        if not content:
            raise MetadataInvalid([f"{meta.rel}:1: static resource {name} has no content file or folder"])
        folder = meta.path.parent / name
        if folder.is_dir():
            data = _zip_static_folder(folder)
        elif len(content) == 1:
            data = content[0].path.read_bytes()
        else:
            raise MetadataInvalid([f"{meta.rel}:1: static resource {name} has several content files"])
        put(f"staticresources/{name}.resource", data, rel)
        put(f"staticresources/{name}.resource{META}", meta.path.read_bytes(), meta.rel)

    comps = sorted(components)
    entries["package.xml"] = package_xml(comps)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(entries):
            _write_entry(zf, name, entries[name])
    logger.info("packaged %d components in %d files", len(comps), len(entries))
    return PackageResult(zip_bytes=buf.getvalue(), components=comps, file_count=len(entries))


def check_output_file(out: Path, *, what: str = "output file", keep: str | None = None) -> None:
    """Refuse an output path that cannot be written or must not be replaced, before any work.

    ``keep`` names the only kind of file ``out`` may already be: "zip" lets only a zip archive
    be overwritten, so that a mistyped ``--out sfdx-project.json`` never replaces a source file."""
    out = Path(out)
    if out.is_dir():
        raise UsageError(f"{what} {out} is a directory")
    if out.exists():
        if not out.is_file():
            raise UsageError(f"{what} {out} is not a regular file")
        if keep == "zip" and not zipfile.is_zipfile(out):
            raise UsageError(f"refusing to overwrite {out}: it is not a zip archive")
        if not os.access(out, os.W_OK):
            raise UsageError(f"cannot write {what} {out}: permission denied")
    parent = out.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"cannot write {what} {out}: {parent} is not a folder")
    try:  # the only reliable test (root passes os.access; /proc and read-only mounts do not)
        fd, tmp = tempfile.mkstemp(prefix=".sfsync-check.", dir=parent)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise UsageError(f"cannot write {what} {out}: {exc.strerror or exc}") from None


def write_file_atomically(out: Path, data: bytes, *, what: str = "output file") -> None:
    """Write ``data`` to ``out`` through a temporary file in the same folder and a rename, so
    a failure never leaves half a file (or a destroyed old one) behind."""
    out = Path(out)
    tmp: str | None = None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
        tmp = None
    except OSError as exc:
        raise UsageError(f"cannot write {what} {out}: {exc.strerror or exc}") from None
    finally:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def check_package_out(project_root: Path, out: Path) -> None:
    """``out`` may replace only a zip archive and must not be inside a package directory (the
    next package would read it back as an unknown file)."""
    for d in package_directories(Path(project_root)):
        if _inside(Path(out), d):
            raise UsageError(f"--out {out} is inside the package directory {d.name}/; write the zip elsewhere "
                             "(e.g. build/)")
    check_output_file(out, what="zip file", keep="zip")


def write_package(project_root: Path, out: Path) -> PackageResult:
    """``build_package`` and write the zip to ``out`` (parent folders created); ``out`` is checked
    first (``check_package_out``)."""
    check_package_out(project_root, out)
    result = build_package(project_root)
    write_file_atomically(Path(out), result.zip_bytes, what="zip file")
    return result

"""Offline checks of the SFDX source tree, before anything is sent to an org.

Every ``*-meta.xml`` file of the package directories is checked for: well-formed XML, the
Metadata API namespace on its root, a root element that matches the file's suffix, validity
against the Metadata API v66 schema (the root element names the type), and what the schema
cannot express (a Text field's ``length``, ``fullName`` agreeing with the file name). Files whose
type sfsync does not know are reported too, since packaging would refuse them.
"""

from __future__ import annotations

import copy
import difflib
import io
import logging
import re
from pathlib import Path

from lxml import etree
from pydantic import BaseModel

from sfsync.metadata_schema import MD_NS, load_schema
from sfsync.packaging import (
    DOCTYPE_MESSAGE,
    DOCTYPE_RE,
    META,
    OUTSIDE_LINK_MESSAGE,
    UNKNOWN_TYPE_MESSAGE,
    SourceFile,
    outside_links,
    scan_tree,
    split_meta,
)

logger = logging.getLogger(__name__)

# CustomField types that the platform rejects without <length> (and, for long text, <visibleLines>).
# (TextArea has a fixed length, so it takes none.)
LENGTH_REQUIRED = {"Text": 255, "EncryptedText": 175}  # type -> maximum length
LONG_TEXT = {"LongTextArea", "Html"}

_NS_PREFIX = f"{{{MD_NS}}}"


class Problem(BaseModel):
    path: str  # relative to the project root, POSIX separators
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class ValidationReport(BaseModel):
    files_checked: int
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


def validate_tree(root: Path, *, schema_path: Path | None = None) -> ValidationReport:
    """Check every metadata file of the project at ``root`` (the folder holding sfdx-project.json)."""
    root = Path(root)
    items, unknown = scan_tree(root)
    # Any file of unknown type (also a stray README or .txt) would make packaging fail.
    problems = [Problem(path=rel, line=1, message=UNKNOWN_TYPE_MESSAGE) for rel in unknown]
    problems += [Problem(path=rel, line=1, message=OUTSIDE_LINK_MESSAGE) for rel in outside_links(root)]
    checked = len(unknown)
    schema = load_schema(schema_path)
    unsafe: set[str] = set()
    for item in items:
        if item.root_type is None:
            problems.extend(_check_text(item))
            continue
        checked += 1
        try:
            found = _check_file(item, schema)
        except (etree.LxmlError, ValueError, OSError) as exc:
            # one odd file must not hide the report on every other file
            logger.debug("checking %s failed", item.rel, exc_info=True)
            found = [Problem(path=item.rel, line=1, message=f"cannot check the file: {type(exc).__name__}: {exc}")]
        if any(p.message == DOCTYPE_MESSAGE for p in found):
            unsafe.add(item.rel)
        problems.extend(found)
    problems.extend(_check_companions(items))
    # Files with a DOCTYPE are not read again for the cross-file checks.
    problems.extend(check_references(root, [i for i in items if i.rel not in unsafe]))
    problems.sort(key=lambda p: (p.path, p.line, p.message))
    logger.info("validated %d files: %d problem(s)", checked, len(problems))
    return ValidationReport(files_checked=checked, problems=problems)


def _check_file(item: SourceFile, schema) -> list[Problem]:
    def problem(line: int | None, message: str) -> Problem:
        return Problem(path=item.rel, line=line or 1, message=message)

    try:
        data = item.path.read_bytes()
    except OSError as exc:
        return [problem(1, f"cannot read the file: {exc.strerror or exc}")]
    bad = _not_utf8(data)
    if bad:
        return [problem(*bad)]
    # XXE: a DOCTYPE can declare entities that read local files or expand without bound. The
    # Metadata API never needs one, so such a file is refused before any XML parser sees it.
    m = DOCTYPE_RE.search(data)
    if m:
        return [problem(data.count(b"\n", 0, m.start()) + 1, DOCTYPE_MESSAGE)]
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        doc = etree.parse(io.BytesIO(data), parser)
    except etree.XMLSyntaxError as exc:
        return [problem(exc.lineno, f"not well-formed XML: {exc.msg}")]
    root = doc.getroot()
    qname = etree.QName(root)
    if qname.namespace != MD_NS:
        found = f'xmlns="{qname.namespace}"' if qname.namespace else "no namespace"
        return [problem(root.sourceline, f'root element <{qname.localname}> must declare '
                                         f'xmlns="{MD_NS}" (found {found})')]
    if qname.localname != item.root_type:
        suffix = _suffix_label(item)
        return [problem(root.sourceline, f"a {suffix} file must have the root element "
                                         f"<{item.root_type}>, found <{qname.localname}>")]

    problems: list[Problem] = []
    to_validate = doc
    if item.root_type == "LightningComponentBundle":
        # targetConfigs is typed base64Binary in the WSDL, so real <targetConfig> children can
        # never pass; validate the rest of the file without it.
        to_validate = copy.deepcopy(doc)
        for el in to_validate.getroot().findall(f"{_NS_PREFIX}targetConfigs"):
            el.getparent().remove(el)
    if item.root_type == "LightningComponentBundle":
        problems.extend(_check_target_configs(root, problem))
    if not schema.xmlschema.validate(to_validate):
        for err in schema.xmlschema.error_log:
            message = _misplaced_message(to_validate, err, item.root_type, schema)
            problems.append(problem(err.line, message or _schema_message(err.message)))

    full_name = root.find(f"{_NS_PREFIX}fullName")
    if full_name is not None and (full_name.text or "").strip() != item.file_stem:
        problems.append(problem(
            full_name.sourceline,
            f"fullName '{(full_name.text or '').strip()}' does not match the file name "
            f"(expected '{item.file_stem}')",
        ))
    if item.root_type == "CustomField":
        problems.extend(_check_field(item, root, problem))
    return problems


NOT_UTF8_MESSAGE = "the file is not UTF-8 text (byte 0x{byte:02x} cannot be decoded): save it as UTF-8"
# Content files that are text, sent as is; static resources may be binary.
_TEXT_KINDS = {"content", "bundle", "email"}


def _not_utf8(data: bytes) -> tuple[int, str] | None:
    """(line, message) when ``data`` is not UTF-8."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return data.count(b"\n", 0, exc.start) + 1, NOT_UTF8_MESSAGE.format(byte=data[exc.start])
    return None


def _check_text(item: SourceFile) -> list[Problem]:
    if item.kind not in _TEXT_KINDS:
        return []
    try:
        bad = _not_utf8(item.path.read_bytes())
    except OSError as exc:
        return [Problem(path=item.rel, line=1, message=f"cannot read the file: {exc.strerror or exc}")]
    return [Problem(path=item.rel, line=bad[0], message=bad[1])] if bad else []


def _check_companions(items: list[SourceFile]) -> list[Problem]:
    """Files that deploy only together with another file: a class/trigger/page/component and its
    -meta.xml, a static resource's content and its .resource-meta.xml, an LWC bundle and its
    .js-meta.xml."""
    out: list[Problem] = []
    rels = {i.rel for i in items}
    for item in items:
        if item.kind == "content":
            meta = f"{item.rel}{META}"
            if meta not in rels:
                out.append(Problem(path=item.rel, line=1, message=(
                    f"{item.path.name} has no {item.path.name}{META} beside it: a {item.type_name} deploys only "
                    "with its metadata file")))
        elif item.kind == "content-meta":
            content = item.rel[: -len(META)]
            if content not in rels:
                out.append(Problem(path=item.rel, line=1, message=(
                    f"{item.path.name} has no {item.path.name[: -len(META)]} beside it")))
    static_meta = {i.member: i for i in items if i.kind == "static-resource-meta"}
    static_content: dict[str, SourceFile] = {}
    for item in items:
        if item.kind == "static-resource-content":
            static_content.setdefault(item.member, item)
    for name, item in sorted(static_content.items()):
        if name not in static_meta:
            out.append(Problem(path=item.rel, line=1, message=(
                f"static resource {name} has no {name}.resource{META}")))
    for name, item in sorted(static_meta.items()):
        if name not in static_content:
            out.append(Problem(path=item.rel, line=1, message=f"static resource {name} has no content file or folder"))
    bundles: dict[str, list[SourceFile]] = {}
    for item in items:
        if item.kind == "bundle" and item.type_name == "LightningComponentBundle":
            parts = item.rel.split("/")
            idx = max(i for i, p in enumerate(parts[:-1]) if p == "lwc")
            bundles.setdefault("/".join(parts[: idx + 2]), []).append(item)
    for folder, files in sorted(bundles.items()):
        name = folder.rsplit("/", 1)[-1]
        if f"{folder}/{name}.js{META}" not in rels:
            out.append(Problem(path=files[0].rel, line=1, message=(
                f"Lightning web component {name} has no {name}.js{META} in {folder}/")))
    return out


def _check_target_configs(root: etree._Element, problem) -> list[Problem]:
    """What the schema cannot check in a .js-meta.xml: each targetConfig names declared targets."""
    targets = {(t.text or "").strip() for t in root.iterfind(f"{_NS_PREFIX}targets/{_NS_PREFIX}target")}
    out: list[Problem] = []
    for tc in root.iterfind(f"{_NS_PREFIX}targetConfigs/{_NS_PREFIX}targetConfig"):
        declared = (tc.get("targets") or "").split(",")
        declared = [t.strip() for t in declared if t.strip()]
        if not declared:
            out.append(problem(tc.sourceline, "<targetConfig> needs a targets attribute"))
        for t in declared:
            if t not in targets:
                out.append(problem(tc.sourceline, f"<targetConfig> is for target {t}, which is not"
                                                  " listed in <targets>"))
    return out


def _check_field(item: SourceFile, root: etree._Element, problem) -> list[Problem]:
    type_el = root.find(f"{_NS_PREFIX}type")
    if type_el is None:
        return []
    ftype = (type_el.text or "").strip()
    out: list[Problem] = []
    length_el = root.find(f"{_NS_PREFIX}length")
    if ftype in LENGTH_REQUIRED or ftype in LONG_TEXT:
        if length_el is None:
            out.append(problem(type_el.sourceline,
                               f"{ftype} field {item.file_stem} has no <length>: "
                               "add <length> with the maximum number of characters"))
        elif ftype in LENGTH_REQUIRED:
            maximum = LENGTH_REQUIRED[ftype]
            try:
                n = int((length_el.text or "").strip())
            except ValueError:
                n = 0  # the schema already reports a non-integer length
            if n and not 1 <= n <= maximum:
                out.append(problem(length_el.sourceline,
                                   f"{ftype} field {item.file_stem} has length {n}: "
                                   f"it must be between 1 and {maximum}"))
    if ftype in LONG_TEXT and root.find(f"{_NS_PREFIX}visibleLines") is None:
        out.append(problem(type_el.sourceline,
                           f"{ftype} field {item.file_stem} has no <visibleLines>"))
    return out


def _misplaced_message(doc, err, root_type: str, schema) -> str | None:
    """A clearer message for an unexpected child of the root element (misspelled or misordered).

    libxml2 lists at most ten expected names, which is misleading for wide types such as
    CustomField; for the root's own children we know the full sequence from the schema.
    """
    if "This element is not expected" not in err.message or not err.path:
        return None
    try:
        found = doc.xpath(err.path)
    except etree.XPathError:
        return None
    if len(found) != 1 or found[0].getparent() is not doc.getroot():
        return None
    el = found[0]
    name = etree.QName(el).localname
    allowed = schema.child_order(root_type)
    if name not in allowed:
        close = difflib.get_close_matches(name, allowed, n=1)
        hint = f" (did you mean <{close[0]}>?)" if close else ""
        return f"<{name}> is not an element of {root_type}{hint}"
    prev = el.getprevious()
    while prev is not None and not isinstance(prev.tag, str):
        prev = prev.getprevious()
    if prev is not None:
        prev_name = etree.QName(prev).localname
        if prev_name in allowed and allowed.index(prev_name) > allowed.index(name):
            return (f"<{name}> is out of order: in {root_type} it must come before <{prev_name}>"
                    " (elements follow the Metadata API schema order)")
    if prev is not None and etree.QName(prev).localname == name:
        return f"<{name}> may appear only once in {root_type}"
    return None


_ENUM_RE = re.compile(r"^\[facet 'enumeration'\] The value '(.*)' is not an element of the set \{(.*)\}\.$")
_ATOMIC_RE = re.compile(r"^'(.*)' is not a valid value of the (?:atomic|local atomic) type '([^']+)'\.$")
_ELEMENT_RE = re.compile(r"^Element '([^']+)'(?:, attribute '([^']+)')?: ")


def _schema_message(message: str) -> str:
    """lxml's schema error, with the namespace noise removed and the element shown as <name>."""
    message = message.replace(_NS_PREFIX, "")
    m = _ELEMENT_RE.match(message)
    if m:
        where = f"<{m.group(1)}>" + (f" attribute '{m.group(2)}'" if m.group(2) else "")
        rest = message[m.end():]
        rest = rest.replace("This element is not expected. Expected is one of ( ",
                            "this element is not allowed here; expected one of: ")
        rest = rest.replace("This element is not expected. Expected is ( ",
                            "this element is not allowed here; expected: ")
        rest = rest.replace("This element is not expected.", "this element is not allowed here.")
        rest = rest.replace("Missing child element(s). Expected is one of ( ",
                            "a required child element is missing; expected one of: ")
        rest = rest.replace("Missing child element(s). Expected is ( ",
                            "a required child element is missing; expected: ")
        rest = rest.replace(" ).", ".")
        enum = _ENUM_RE.match(rest)
        if enum:
            rest = (f"'{enum.group(1)}' is not an allowed value (values are case-sensitive);"
                    f" allowed values: {enum.group(2)}")
        atomic = _ATOMIC_RE.match(rest)
        if atomic:
            kind = atomic.group(2).split(":")[-1]
            hint = " (use true or false)" if kind == "boolean" else ""
            rest = f"'{atomic.group(1)}' is not a valid {kind} value{hint}"
        return f"{where}: {rest}"
    return message


def _suffix_label(item: SourceFile) -> str:
    meta = split_meta(item.path.name)
    return f".{meta[1]}{META}" if meta else item.path.name


# --------------------------------------------------------------------------- references (offline)
# What the schema cannot see: a name in one file that must exist as another component of the
# tree. Standard objects and their standard fields are not in metadata/, so only names that
# must be ours are checked: custom objects/fields (``__c``, ``__mdt``), our flows, classes,
# labels, quick actions and custom permissions.

# Fields every custom object has without a field file.
CUSTOM_OBJECT_STANDARD_FIELDS = {
    "id", "name", "ownerid", "createdbyid", "createddate", "lastmodifiedbyid", "lastmodifieddate", "systemmodstamp",
    "isdeleted", "recordtypeid", "currencyisocode", "lastactivitydate", "lastvieweddate", "lastreferenceddate",
}
CUSTOM_METADATA_STANDARD_FIELDS = {"id", "developername", "masterlabel", "label", "qualifiedapiname",
                                   "namespaceprefix", "language"}
# The languages every label needs a text in (CustomLabel.language values).
LABEL_LANGUAGES = {"en_US": "English", "ja": "Japanese"}
FLOW_RECORD_ELEMENTS = ("recordLookups", "recordCreates", "recordUpdates", "recordDeletes")

_LABEL_APEX_RE = re.compile(r"(?<![\w.$])(?:System\s*\.\s*)?Label\s*\.\s*([A-Za-z]\w*)")
_APEX_FIELD_RE = re.compile(r"(?<![\w.])(\w+__(?:c|mdt))\s*\.\s*(\w+__c)\b")
_APEX_FROM_RE = re.compile(r"\bFROM\s+(\w+__(?:c|mdt))\b", re.IGNORECASE)
_FLOW_LABEL_RE = re.compile(r"\$Label\.(\w+)")
_FLOW_RECORD_RE = re.compile(r"\$Record\.(\w+__c)\b")
_LWC_SCHEMA_RE = re.compile(r"""['"]@salesforce/schema/(\w+)(?:\.([\w.]+))?['"]""")
_LWC_LABEL_RE = re.compile(r"""['"]@salesforce/label/c\.(\w+)['"]""")
_LWC_APEX_RE = re.compile(r"""['"]@salesforce/apex/(\w+)\.(\w+)['"]""")


class _Tree:
    """Names of the components the tree defines (lower case: API names are case-insensitive)."""

    def __init__(self, items: list[SourceFile]):
        self.objects: set[str] = set()
        self.fields: dict[str, dict[str, SourceFile]] = {}
        self.kinds: dict[str, set[str]] = {}
        for item in items:
            self.kinds.setdefault(item.type_name, set()).add(item.member.lower())
            if item.type_name == "CustomObject" and item.kind == "object":
                self.objects.add(item.member.lower())
            elif item.type_name == "CustomField":
                obj, _, field = item.member.partition(".")
                self.fields.setdefault(obj.lower(), {})[field.lower()] = item
            elif item.type_name == "CustomLabels" and item.root_type:
                doc = _xml(item)
                for el in doc.iter(_q("fullName")) if doc is not None else ():
                    self.kinds.setdefault("CustomLabel", set()).add((el.text or "").strip().lower())

    def has(self, type_name: str, name: str) -> bool:
        return name.lower() in self.kinds.get(type_name, set())

    def object_problem(self, obj: str) -> str | None:
        if obj.lower() in self.objects or "__" not in obj:
            return None  # ours, or a standard object (not in metadata/)
        return f"object {obj} is not defined in metadata/ (no objects/{obj}/{obj}.object-meta.xml)"

    def field_problem(self, obj: str, field: str) -> str | None:
        o, f = obj.lower(), field.lower()
        if o in self.objects:
            standard = CUSTOM_METADATA_STANDARD_FIELDS if o.endswith("__mdt") else CUSTOM_OBJECT_STANDARD_FIELDS
            if f in standard or f in self.fields.get(o, {}):
                return None
        elif "__" in obj:
            return self.object_problem(obj)
        elif not f.endswith("__c") or f in self.fields.get(o, {}):
            return None  # a standard field of a standard object, or our custom field on it
        return f"field {obj}.{field} is not defined in metadata/ (no objects/{obj}/fields/{field}.field-meta.xml)"


def _xml(item: SourceFile) -> etree._Element | None:
    try:
        return etree.parse(str(item.path), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    except (etree.XMLSyntaxError, OSError):
        return None  # reported by the per-file checks


def _q(name: str) -> str:
    return _NS_PREFIX + name


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _blank_comments(source: str) -> str:
    """Apex/JS source with comments replaced by spaces (newlines kept, so line numbers hold)."""
    def blank(m: re.Match) -> str:
        return re.sub(r"[^\n]", " ", m.group(0))

    return re.sub(r"//[^\n]*|/\*.*?\*/", blank, source, flags=re.DOTALL)


def check_references(root: Path, items: list[SourceFile]) -> list[Problem]:
    """Names used in layouts, flows, permission sets, quick actions, LWC and Apex exist in the tree;
    custom fields have field-level access; labels have English and Japanese text."""
    tree = _Tree(items)
    out: list[Problem] = []

    def problem(item: SourceFile, line: int | None, message: str | None) -> None:
        if message:
            out.append(Problem(path=item.rel, line=line or 1, message=message))

    def must_have(item, el, type_name: str, name: str, what: str, where: str) -> None:
        if name and not tree.has(type_name, name):
            problem(item, el.sourceline if el is not None else 1, f"{what} {name} is not defined in metadata/ ({where})")

    granted: set[str] = set()
    for item in items:
        suffix = item.path.name
        if item.type_name == "Layout" and item.root_type:
            doc = _xml(item)
            obj = item.member.split("-", 1)[0]
            if doc is None:
                continue
            problem(item, doc.sourceline, tree.object_problem(obj))
            for el in doc.iter(_q("field")):
                if el.getparent() is not None and etree.QName(el.getparent()).localname == "layoutItems":
                    problem(item, el.sourceline, tree.field_problem(obj, (el.text or "").strip()))
            for el in doc.iter(_q("quickActionName"), _q("actionName")):
                name = (el.text or "").strip()
                if name.startswith(f"{obj}.") and obj.lower() in tree.objects:
                    must_have(item, el, "QuickAction", name, "quick action", "quickActions/")
        elif item.type_name == "Flow" and item.root_type:
            doc = _xml(item)
            if doc is None:
                continue
            start_obj = doc.findtext(f"{_q('start')}/{_q('object')}")
            for tag in (*FLOW_RECORD_ELEMENTS, "start"):
                for el in doc.iter(_q(tag)):
                    obj_el = el.find(_q("object"))
                    obj = (obj_el.text or "").strip() if obj_el is not None else ""
                    if not obj:
                        continue
                    problem(item, obj_el.sourceline, tree.object_problem(obj))
                    for f in el.iter(_q("field"), _q("queriedFields")):
                        problem(item, f.sourceline, tree.field_problem(obj, (f.text or "").strip()))
            for el in doc.iter(_q("actionCalls")):
                if (el.findtext(_q("actionType")) or "").strip() == "apex":
                    name_el = el.find(_q("actionName"))
                    must_have(item, name_el, "ApexClass", (name_el.text or "").strip() if name_el is not None else "",
                              "Apex class", "classes/")
            for el in doc.iter(_q("subflows")):
                name_el = el.find(_q("flowName"))
                must_have(item, name_el, "Flow", (name_el.text or "").strip() if name_el is not None else "",
                          "flow", "flows/")
            for el in doc.iter():
                if not isinstance(el.tag, str) or not el.text:
                    continue
                for m in _FLOW_LABEL_RE.finditer(el.text):
                    must_have(item, el, "CustomLabel", m.group(1), "label", "labels/CustomLabels.labels-meta.xml")
                if start_obj:
                    for m in _FLOW_RECORD_RE.finditer(el.text):
                        problem(item, el.sourceline, tree.field_problem(start_obj.strip(), m.group(1)))
        elif item.type_name == "PermissionSet" and item.root_type:
            doc = _xml(item)
            if doc is None:
                continue
            for fp in doc.iter(_q("fieldPermissions")):
                f = fp.find(_q("field"))
                name = (f.text or "").strip() if f is not None else ""
                obj, _, field = name.partition(".")
                problem(item, f.sourceline if f is not None else fp.sourceline,
                        tree.field_problem(obj, field) if field else f"<fieldPermissions> names no field: '{name}'")
                if (fp.findtext(_q("readable")) or "").strip() == "true":
                    granted.add(name.lower())
            for op in doc.iter(_q("objectPermissions")):
                o = op.find(_q("object"))
                if o is not None:
                    problem(item, o.sourceline, tree.object_problem((o.text or "").strip()))
            for el in doc.iter(_q("apexClass")):
                must_have(item, el, "ApexClass", (el.text or "").strip(), "Apex class", "classes/")
            for el in doc.iter(_q("flowName")):
                must_have(item, el, "Flow", (el.text or "").strip(), "flow", "flows/")
            for cp in doc.iter(_q("customPermissions")):
                el = cp.find(_q("name"))
                if el is not None:
                    must_have(item, el, "CustomPermission", (el.text or "").strip(), "custom permission",
                              "customPermissions/")
        elif item.type_name == "QuickAction" and item.root_type:
            doc = _xml(item)
            if doc is None:
                continue
            obj = item.member.split(".", 1)[0] if "." in item.member else ""
            if obj:
                problem(item, doc.sourceline, tree.object_problem(obj))
            target = (doc.findtext(_q("targetObject")) or "").strip() or obj
            if target and target != obj:
                problem(item, doc.find(_q("targetObject")).sourceline, tree.object_problem(target))
            flow = doc.find(_q("flowDefinition"))
            if flow is not None:
                must_have(item, flow, "Flow", (flow.text or "").strip(), "flow", "flows/")
            if target:
                for f in doc.iter(_q("field")):
                    problem(item, f.sourceline, tree.field_problem(target, (f.text or "").strip()))
        elif item.type_name == "LightningComponentBundle" and suffix.endswith(".js") and "__" not in suffix:
            text = _blank_comments(item.path.read_text(encoding="utf-8", errors="replace"))
            for m in _LWC_SCHEMA_RE.finditer(text):
                line = _line_of(text, m.start())
                obj, path = m.group(1), m.group(2)
                first = path.split(".")[0] if path else None
                if first and not first.endswith("__r") and "." not in path:
                    problem(item, line, tree.field_problem(obj, first))
                else:
                    problem(item, line, tree.object_problem(obj))
            for m in _LWC_LABEL_RE.finditer(text):
                if not tree.has("CustomLabel", m.group(1)):
                    problem(item, _line_of(text, m.start()), f"label {m.group(1)} is not defined in metadata/ "
                                                             "(labels/CustomLabels.labels-meta.xml)")
            for m in _LWC_APEX_RE.finditer(text):
                if not tree.has("ApexClass", m.group(1)):
                    problem(item, _line_of(text, m.start()), f"Apex class {m.group(1)} is not defined in "
                                                             "metadata/ (classes/)")
        elif item.kind == "content" and item.type_name in ("ApexClass", "ApexTrigger"):
            text = _blank_comments(item.path.read_text(encoding="utf-8", errors="replace"))
            for m in _LABEL_APEX_RE.finditer(text):
                if not tree.has("CustomLabel", m.group(1)):
                    problem(item, _line_of(text, m.start()), f"label {m.group(1)} is not defined in metadata/ "
                                                             "(labels/CustomLabels.labels-meta.xml)")
            for m in _APEX_FIELD_RE.finditer(text):
                problem(item, _line_of(text, m.start()), tree.field_problem(m.group(1), m.group(2)))
            for m in _APEX_FROM_RE.finditer(text):
                problem(item, _line_of(text, m.start(1)), tree.object_problem(m.group(1)))

    out.extend(_check_field_access(tree, granted))
    out.extend(_check_label_languages(items))
    return out


def _check_field_access(tree: _Tree, granted: set[str]) -> list[Problem]:
    """Every custom field of a custom object is readable through some permission set. Required and
    master-detail fields are left out: Salesforce refuses field permissions for them."""
    if "PermissionSet" not in tree.kinds:
        return []  # a tree without permission sets grants access some other way
    out = []
    for obj, fields in tree.fields.items():
        if obj.endswith("__mdt"):
            continue  # custom metadata access is per type, not per field
        for name, item in fields.items():
            doc = _xml(item)
            if doc is None:
                continue
            required = (doc.findtext(_q("required")) or "").strip() == "true"
            if required or (doc.findtext(_q("type")) or "").strip() == "MasterDetail":
                continue
            if item.member.lower() not in granted:
                out.append(Problem(path=item.rel, line=doc.sourceline or 1, message=(
                    f"no permission set grants read access to {item.member}: add a <fieldPermissions> entry for it "
                    "to a permission set in permissionsets/")))
    return out


def _check_label_languages(items: list[SourceFile]) -> list[Problem]:
    """Each custom label has its text in every language of LABEL_LANGUAGES: the label's own
    <language>, the others in translations/<language>.translation-meta.xml."""
    labels = [i for i in items if i.type_name == "CustomLabels" and i.root_type]
    if not labels:
        return []
    translated: dict[str, set[str]] = {}
    translation_files: dict[str, str] = {}
    for item in items:
        if item.type_name == "Translations" and item.root_type:
            doc = _xml(item)
            if doc is None:
                continue
            translation_files[item.member] = item.rel
            translated[item.member] = {
                (cl.findtext(_q("name")) or "").strip().lower() for cl in doc.iter(_q("customLabels"))
                if (cl.findtext(_q("label")) or "").strip()}
    out = []
    for item in labels:
        doc = _xml(item)
        if doc is None:
            continue
        for label in doc.iter(_q("labels")):
            name_el = label.find(_q("fullName"))
            name = (name_el.text or "").strip() if name_el is not None else ""
            own = (label.findtext(_q("language")) or "").strip()
            for language, language_name in LABEL_LANGUAGES.items():
                if language == own and (label.findtext(_q("value")) or "").strip():
                    continue
                if name.lower() in translated.get(language, set()):
                    continue
                where = translation_files.get(language, f"translations/{language}.translation-meta.xml")
                out.append(Problem(path=item.rel, line=(name_el if name_el is not None else label).sourceline or 1,
                                   message=f"label {name} has no {language_name} text: add <customLabels> with "
                                           f"<name>{name}</name> and a <label> to {where}"))
    return out

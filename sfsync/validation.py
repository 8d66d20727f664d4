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
import logging
import re
from pathlib import Path

from lxml import etree
from pydantic import BaseModel

from sfsync.metadata_schema import MD_NS, load_schema
from sfsync.packaging import META, UNKNOWN_TYPE_MESSAGE, SourceFile, split_meta, scan_tree

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
    checked = len(unknown)
    schema = load_schema(schema_path)
    for item in items:
        if item.root_type is None:
            continue
        checked += 1
        problems.extend(_check_file(item, schema))
    problems.sort(key=lambda p: (p.path, p.line, p.message))
    logger.info("validated %d files: %d problem(s)", checked, len(problems))
    return ValidationReport(files_checked=checked, problems=problems)


def _check_file(item: SourceFile, schema) -> list[Problem]:
    def problem(line: int | None, message: str) -> Problem:
        return Problem(path=item.rel, line=line or 1, message=message)

    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        doc = etree.parse(str(item.path), parser)
    except etree.XMLSyntaxError as exc:
        return [problem(exc.lineno, f"not well-formed XML: {exc.msg}")]
    except OSError as exc:
        return [problem(1, f"cannot read the file: {exc.strerror or exc}")]
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

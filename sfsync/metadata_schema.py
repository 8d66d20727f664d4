"""The Metadata API v66 XML schema, derived from Salesforce's WSDL and shipped with sfsync.

The WSDL's metadata ``<xsd:schema>`` declares each metadata type (CustomField, Flow, ...) only
as a complexType, so a file whose root is ``<CustomField>`` cannot be validated against it as is.
``generate_xsd`` copies that schema and adds one global element per complexType (element name =
type name); the root element of a metadata file then selects its type. The result is shipped as
``sfsync/schema/metadata-v66.xsd`` so an installed sfsync needs no WSDL:

    python -m sfsync.metadata_schema --wsdl /path/metadata.wsdl --out sfsync/schema/metadata-v66.xsd

Compiling the schema with lxml takes about a second, so ``load_schema`` compiles once per process
and path.
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from sfsync.errors import UsageError

logger = logging.getLogger(__name__)

MD_NS = "http://soap.sforce.com/2006/04/metadata"
XSD_NS = "http://www.w3.org/2001/XMLSchema"
WSDL_NS = "http://schemas.xmlsoap.org/wsdl/"
ENV_VAR = "SFSYNC_METADATA_XSD"
PACKAGED_XSD = Path(__file__).resolve().parent / "schema" / "metadata-v66.xsd"

_X = f"{{{XSD_NS}}}"


def generate_xsd(wsdl_path: Path) -> bytes:
    """Return the standalone XSD (UTF-8 bytes) built from the Metadata API WSDL at ``wsdl_path``."""
    try:
        wsdl = etree.parse(str(wsdl_path))
    except (OSError, etree.XMLSyntaxError) as exc:
        raise UsageError(f"cannot read the Metadata API WSDL {wsdl_path}: {exc}") from exc
    source = None
    for schema in wsdl.getroot().iter(f"{_X}schema"):
        if schema.get("targetNamespace") == MD_NS:
            source = schema
            break
    if source is None:
        raise UsageError(f"{wsdl_path} has no <xsd:schema> for namespace {MD_NS}")

    # A fresh root with explicit prefixes: type references inside attribute values use "tns:"
    # and "xsd:", which were declared on the WSDL's <definitions>, not on <xsd:schema>.
    out = etree.Element(
        f"{_X}schema",
        nsmap={"xsd": XSD_NS, "tns": MD_NS, None: MD_NS},
        attrib={"elementFormDefault": "qualified", "targetNamespace": MD_NS},
    )
    out.text = "\n"
    existing = {e.get("name") for e in source if e.tag == f"{_X}element"}
    type_names: list[str] = []
    for child in source:
        if not isinstance(child.tag, str):
            continue
        copied = _copy(child)
        copied.tail = "\n"
        out.append(copied)
        if child.tag == f"{_X}complexType":
            type_names.append(child.get("name"))
    for name in type_names:
        if name in existing:  # never happens in v66; keep the SOAP wrapper if it ever does
            continue
        el = etree.SubElement(out, f"{_X}element", name=name, type=f"tns:{name}")
        el.tail = "\n"
    comment = etree.Comment(
        " Derived from the Salesforce Metadata API WSDL v66.0 (BSD-3-Clause, see NOTICE.txt):"
        " one global element per complexType added by sfsync.metadata_schema. "
    )
    body = etree.tostring(out, encoding="UTF-8", xml_declaration=False)
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        + etree.tostring(comment, encoding="UTF-8")
        + b"\n"
        + body
        + b"\n"
    )


def _copy(el: etree._Element) -> etree._Element:
    """Deep copy without the WSDL's namespace declarations leaking in differently per node."""
    new = etree.Element(el.tag, attrib=dict(el.attrib), nsmap={"xsd": XSD_NS, "tns": MD_NS})
    new.text = el.text
    for child in el:
        if isinstance(child.tag, str):
            c = _copy(child)
            c.tail = child.tail
            new.append(c)
    return new


def write_xsd(wsdl_path: Path, out: Path) -> Path:
    """Generate the XSD from ``wsdl_path`` and write it to ``out``."""
    data = generate_xsd(wsdl_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    logger.info("wrote %s (%d bytes)", out, len(data))
    return out


def xsd_path(override: Path | str | None = None) -> Path:
    """The XSD to use: ``override``, else $SFSYNC_METADATA_XSD, else the packaged file."""
    if override is not None:
        return Path(override)
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env)
    return PACKAGED_XSD


@dataclass(frozen=True)
class MetadataSchema:
    """The compiled schema plus what callers need to know about its types."""

    path: Path
    xmlschema: etree.XMLSchema = field(repr=False)
    complex_types: frozenset[str] = field(repr=False)
    _doc: etree._ElementTree = field(repr=False)

    def has_type(self, name: str) -> bool:
        return name in self.complex_types

    def child_order(self, type_name: str) -> list[str]:
        """Element names of ``type_name`` in schema sequence order, inherited elements first."""
        return list(_child_order(self, type_name))


@functools.lru_cache(maxsize=None)
def _child_order(schema: MetadataSchema, type_name: str) -> tuple[str, ...]:
    root = schema._doc.getroot()
    ct = root.find(f"{_X}complexType[@name='{type_name}']")
    if ct is None:
        raise KeyError(type_name)
    names: list[str] = []
    ext = ct.find(f"{_X}complexContent/{_X}extension")
    seq_parent = ct
    if ext is not None:
        base = ext.get("base", "").split(":")[-1]
        names.extend(_child_order(schema, base))
        seq_parent = ext
    seq = seq_parent.find(f"{_X}sequence")
    if seq is not None:
        names.extend(e.get("name") for e in seq.findall(f"{_X}element"))
    return tuple(names)


_lock = threading.Lock()
_cache: dict[Path, MetadataSchema] = {}


def load_schema(path: Path | str | None = None) -> MetadataSchema:
    """Compile (once per process and path) and return the metadata schema."""
    p = xsd_path(path).resolve()
    with _lock:
        cached = _cache.get(p)
        if cached is not None:
            return cached
        if not p.is_file():
            raise UsageError(
                f"metadata schema not found: {p} (set {ENV_VAR} or regenerate it with"
                " python -m sfsync.metadata_schema)"
            )
        try:
            doc = etree.parse(str(p))
            xmlschema = etree.XMLSchema(doc)
        except (etree.XMLSyntaxError, etree.XMLSchemaParseError) as exc:
            raise UsageError(f"metadata schema {p} is not a usable XSD: {exc}") from exc
        types = frozenset(
            e.get("name") for e in doc.getroot() if e.tag == f"{_X}complexType"
        )
        schema = MetadataSchema(path=p, xmlschema=xmlschema, complex_types=types, _doc=doc)
        _cache[p] = schema
        logger.debug("compiled metadata schema %s (%d types)", p, len(types))
        return schema


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sfsync.metadata_schema",
        description="Derive the metadata XSD (one global element per type) from the Metadata API WSDL.",
    )
    parser.add_argument("--wsdl", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=PACKAGED_XSD)
    args = parser.parse_args(argv)
    write_xsd(args.wsdl, args.out)
    return 0


if __name__ == "__main__":  # pragma: no cover - build-time helper
    raise SystemExit(main())

"""describeGlobal (GET /sobjects) and describe (GET /sobjects/<Type>/describe) built from the catalog.

Key names and value types follow Salesforce's DescribeGlobalResult / DescribeSObjectResult (REST
JSON). Properties the local org does not model (layouts, record types, search, feeds) carry the
value a plain org gives an object without them.
"""

from __future__ import annotations

import logging
from typing import Any

from sfsync.local_org.catalog import Catalog, FieldDef, ObjectDef
from sfsync.local_org.standard_objects import is_read_only

logger = logging.getLogger(__name__)

MAX_BATCH_SIZE = 200

_SOAP_TYPES = {
    "id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "int": "xsd:int",
    "double": "xsd:double", "currency": "xsd:double", "percent": "xsd:double",
    "date": "xsd:date", "datetime": "xsd:dateTime",
}
_TEXT_LIKE = ("string", "textarea", "email", "phone", "url", "picklist", "id", "reference")
# Objects Salesforce lists with their own key prefix but that clients cannot write.
_NOT_DELETABLE = ("Organization", "User", "CustomNotificationType")


def _object_urls(obj: ObjectDef, version: str) -> dict[str, str]:
    base = f"/services/data/v{version}/sobjects/{obj.api_name}"
    return {
        "compactLayouts": f"{base}/describe/compactLayouts",
        "rowTemplate": f"{base}/{{ID}}",
        "approvalLayouts": f"{base}/describe/approvalLayouts",
        "defaultValues": f"{base}/defaultValues?recordTypeId&fields",
        "listviews": f"{base}/listviews",
        "describe": f"{base}/describe",
        "quickActions": f"{base}/quickActions",
        "layouts": f"{base}/describe/layouts",
        "sobject": base,
    }


def _flags(obj: ObjectDef) -> dict[str, Any]:
    writable = not is_read_only(obj.api_name)
    metadata_type = obj.api_name.endswith("__mdt")
    return {
        "activateable": False,
        "createable": writable,
        "custom": obj.custom,
        "customSetting": False,
        "deepCloneable": False,
        "deletable": writable and obj.api_name not in _NOT_DELETABLE,
        "deprecatedAndHidden": False,
        "feedEnabled": False,
        "hasSubtypes": False,
        "isInterface": False,
        "isSubtype": False,
        "keyPrefix": obj.key_prefix,
        "label": obj.label,
        "labelPlural": obj.label_plural or obj.label,
        "layoutable": writable and not metadata_type,
        "mergeable": False,
        "mruEnabled": writable and not metadata_type,
        "name": obj.api_name,
        "queryable": True,
        "replicateable": writable,
        "retrieveable": True,
        "searchable": writable and not metadata_type,
        "triggerable": writable and not metadata_type,
        "undeletable": writable and obj.api_name not in _NOT_DELETABLE,
        "updateable": writable,
    }


def describe_global(catalog: Catalog, version: str) -> dict:
    sobjects = []
    for obj in sorted(catalog, key=lambda o: o.api_name.lower()):
        entry = {"associateEntityType": None, "associateParentEntity": None, **_flags(obj),
                 "urls": _object_urls(obj, version)}
        sobjects.append(dict(sorted(entry.items())))
    return {"encoding": "UTF-8", "maxBatchSize": MAX_BATCH_SIZE, "sobjects": sobjects}


def _picklist_values(fdef: FieldDef) -> list[dict]:
    labels = fdef.picklist_labels or ()
    return [
        {"active": True, "defaultValue": value == fdef.default,
         "label": labels[i] if i < len(labels) and labels[i] else value, "validFor": None, "value": value}
        for i, value in enumerate(fdef.picklist_values)
    ]


def _field(obj: ObjectDef, fdef: FieldDef) -> dict:
    t = fdef.type
    text_like = t in _TEXT_LIKE
    length = (fdef.length or 0) if t in ("string", "textarea", "email", "phone", "url", "picklist") else 0
    if t in ("id", "reference"):
        length = 18
    is_name = fdef.api_name == "Name"
    system = fdef.api_name in ("Id", "CreatedDate", "LastModifiedDate", "SystemModstamp", "CreatedById", "LastModifiedById")
    return {
        "aggregatable": t not in ("textarea",),
        "aiPredictionField": False,
        "autoNumber": False,
        "byteLength": length * 3 if text_like else 0,
        "calculated": not fdef.createable and not fdef.updateable and not system and not is_name and obj.custom,
        "calculatedFormula": None,
        "cascadeDelete": fdef.cascade_delete,
        "caseSensitive": False,
        "compoundFieldName": None,
        "controllerName": None,
        "createable": fdef.createable,
        "custom": fdef.api_name.endswith("__c"),
        "defaultValue": fdef.default if t != "picklist" else None,
        "defaultValueFormula": None,
        "defaultedOnCreate": fdef.default is not None or system or fdef.api_name == "OwnerId" or t == "boolean",
        "dependentPicklist": False,
        "deprecatedAndHidden": False,
        "digits": 18 if t == "int" else 0,
        "displayLocationInDecimal": False,
        "encrypted": False,
        "externalId": fdef.external_id,
        "extraTypeInfo": None,
        "filterable": t != "textarea",
        "filteredLookupInfo": None,
        "formulaTreatNullNumberAsZero": False,
        "groupable": t not in ("textarea", "double", "currency", "percent", "datetime"),
        "highScaleNumber": False,
        "htmlFormatted": False,
        "idLookup": t == "id" or fdef.external_id or fdef.unique,
        "inlineHelpText": None,
        "label": fdef.label,
        "length": length,
        "mask": None,
        "maskType": None,
        "name": fdef.api_name,
        "nameField": is_name,
        "namePointing": False,
        "nillable": fdef.nillable,
        "permissionable": fdef.nillable and fdef.createable and not fdef.cascade_delete,
        "picklistValues": _picklist_values(fdef) if t == "picklist" else [],
        "polymorphicForeignKey": False,
        "precision": fdef.precision or 0,
        "queryByDistance": False,
        "referenceTargetField": None,
        "referenceTo": list(fdef.reference_to),
        "relationshipName": fdef.relationship_name,
        "relationshipOrder": 0 if fdef.cascade_delete else None,
        "restrictedDelete": False,
        "restrictedPicklist": fdef.restricted,
        "scale": fdef.scale or 0,
        "searchPrefilterable": False,
        "soapType": _SOAP_TYPES.get(t, "xsd:string"),
        "sortable": t != "textarea",
        "type": t,
        "unique": fdef.unique,
        "updateable": fdef.updateable,
        "writeRequiresMasterRead": False,
    }


def _child_relationships(catalog: Catalog, obj: ObjectDef) -> list[dict]:
    out = []
    for child in catalog:
        for fdef in child.fields.values():
            if fdef.type != "reference" or obj.api_name not in fdef.reference_to:
                continue
            out.append({
                "cascadeDelete": fdef.cascade_delete,
                "childSObject": child.api_name,
                "deprecatedAndHidden": False,
                "field": fdef.api_name,
                "junctionIdListNames": [],
                "junctionReferenceTo": [],
                "relationshipName": fdef.child_relationship_name,
                "restrictedDelete": False,
            })
    return sorted(out, key=lambda r: (r["childSObject"].lower(), r["field"].lower()))


def describe_sobject(catalog: Catalog, obj: ObjectDef, version: str) -> dict:
    urls = _object_urls(obj, version)
    base = urls["sobject"]
    urls.update({"uiEditTemplate": None, "uiDetailTemplate": None, "uiNewRecord": None,
                 "eventSchema": f"{base}/eventSchema", "caseRowArticleSuggestions": None})
    urls = {k: v for k, v in urls.items() if v is not None}
    body = {
        **_flags(obj),
        "actionOverrides": [],
        "associateEntityType": None,
        "associateParentEntity": None,
        "childRelationships": _child_relationships(catalog, obj),
        "compactLayoutable": not obj.api_name.endswith("__mdt"),
        "defaultImplementation": None,
        "extendedBy": None,
        "extendsInterfaces": None,
        "fields": [_field(obj, f) for f in obj.fields.values()],
        "implementedBy": None,
        "implementsInterfaces": None,
        "listviewable": None,
        "lookupLayoutable": None,
        "namedLayoutInfos": [],
        "networkScopeFieldName": None,
        "recordTypeInfos": [],
        "searchLayoutable": not obj.api_name.endswith("__mdt"),
        "sobjectDescribeOption": "FULL",
        "supportedScopes": [{"label": "All", "name": "everything"}],
        "urls": urls,
    }
    return dict(sorted(body.items()))


def sobject_basic_info(obj: ObjectDef, version: str) -> dict:
    """GET /sobjects/<Type>: the object's summary and its recently viewed records (none here)."""
    entry = {"associateEntityType": None, "associateParentEntity": None, **_flags(obj), "urls": _object_urls(obj, version)}
    return {"objectDescribe": dict(sorted(entry.items())), "recentItems": []}


__all__ = ["describe_global", "describe_sobject", "sobject_basic_info", "MAX_BATCH_SIZE"]

"""Custom labels, their Japanese translations, and the labels the flows use agree."""

from __future__ import annotations

import re
from pathlib import Path

from lxml import etree

DEFAULT = Path(__file__).resolve().parent.parent / "metadata" / "main" / "default"
MD = "{http://soap.sforce.com/2006/04/metadata}"


def _labels() -> dict[str, str]:
    root = etree.parse(str(DEFAULT / "labels" / "CustomLabels.labels-meta.xml")).getroot()
    return {el.findtext(f"{MD}fullName"): el.findtext(f"{MD}value") for el in root.iter(f"{MD}labels")}


def _translations(kind: str) -> dict[str, str]:
    root = etree.parse(str(DEFAULT / "translations" / "ja.translation-meta.xml")).getroot()
    return {el.findtext(f"{MD}name"): el.findtext(f"{MD}label") for el in root.iter(f"{MD}{kind}")}


def test_every_label_has_a_japanese_translation_with_the_same_placeholders():
    labels, ja = _labels(), _translations("customLabels")
    assert set(ja) == set(labels)
    for name, english in labels.items():
        assert sorted(re.findall(r"\{\d\}", english)) == sorted(re.findall(r"\{\d\}", ja[name])), name
        # String.format (MessageFormat) treats a single quote as an escape: keep them out.
        assert "'" not in english and "'" not in ja[name], name


def test_flows_use_only_defined_labels():
    labels = _labels()
    used = set()
    for flow in DEFAULT.glob("flows/*.flow-meta.xml"):
        used |= set(re.findall(r"\$Label\.(\w+)", flow.read_text(encoding="utf-8")))
    assert used, "the flows take their texts from custom labels"
    assert used <= set(labels), used - set(labels)


def test_every_quick_action_is_translated():
    actions = {p.name[: -len(".quickAction-meta.xml")] for p in DEFAULT.glob("quickActions/*.quickAction-meta.xml")}
    ja = _translations("quickActions")
    assert set(ja) == actions
    assert ja["Opportunity.New_Test_Drive"] == "新規試乗予約"
    assert ja["Test_Drive_Reservation__c.Change_Reservation"] == "予約の変更"
    assert ja["Test_Drive_Reservation__c.Cancel_Reservation"] == "キャンセル"
    assert ja["Test_Drive_Reservation__c.Complete_Test_Drive"] == "試乗完了"


def test_quick_actions_launch_existing_flows():
    flows = {p.name[: -len(".flow-meta.xml")] for p in DEFAULT.glob("flows/*.flow-meta.xml")}
    for path in DEFAULT.glob("quickActions/*.quickAction-meta.xml"):
        root = etree.parse(str(path)).getroot()
        assert root.findtext(f"{MD}type") == "Flow", path.name
        assert root.findtext(f"{MD}flowDefinition") in flows, path.name

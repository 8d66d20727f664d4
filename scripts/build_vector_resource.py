#!/usr/bin/env python3
"""Copy tests/vectors/booking_rules.json into the BookingRuleVectors static resource.

The Apex test ReservationGuardVectorsTest reads the static resource; pytest reads the JSON file.
Both must be the same bytes (tests/test_vectors_static_resource.py checks it), so this script
copies the file as is. Run it after editing the vectors:  python3 scripts/build_vector_resource.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "tests" / "vectors" / "booking_rules.json"
TARGET = ROOT / "metadata" / "main" / "default" / "staticresources" / "BookingRuleVectors.json"


def main() -> int:
    data = SOURCE.read_bytes()
    if TARGET.exists() and TARGET.read_bytes() == data:
        print(f"{TARGET.relative_to(ROOT)} is up to date")
        return 0
    TARGET.write_bytes(data)
    print(f"wrote {TARGET.relative_to(ROOT)} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

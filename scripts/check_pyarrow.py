#!/usr/bin/env python3
"""Reads Kodiak's exported files with pyarrow and compares types and values.

Usage: check_pyarrow.py DIR

DIR holds data.{csv,tsv,arrow,arrows,parquet,jsonl,orc} and expected.json, plus
expected_FORMAT.json where a format's fixture differs (written by the Rust test `pyarrow_reads_every_export`): a list of
columns {name, kind, values}, with 64-bit integers as decimal strings, floats as the hex of
their IEEE bits, bytes as hex, dates as day numbers and timestamps as microsecond strings.
Exit status 0 when every file matches, 1 otherwise (each mismatch is printed).
"""

import json
import math
import struct
import sys
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.ipc as ipc
import pyarrow.json as pajson
import pyarrow.orc as paorc
import pyarrow.parquet as pq

EPOCH_DATE = __import__("datetime").date(1970, 1, 1)


def arrow_type(kind, fmt):
    """The pyarrow type a Kodiak column kind is expected to read back as in format fmt."""
    if kind == "bool":
        return pa.bool_()
    if kind == "int":
        return pa.int64()
    if kind == "float":
        return pa.float64()
    if kind.startswith("decimal:"):
        _, p, s = kind.split(":")
        return pa.decimal128(int(p), int(s))
    if kind in ("text", "json"):
        return pa.string()
    if kind == "bytes":
        return pa.string() if fmt in ("csv", "tsv", "jsonl") else pa.binary()
    if kind.startswith("fixed:"):
        if fmt in ("csv", "tsv", "jsonl"):
            return pa.string()
        return pa.binary() if fmt == "orc" else pa.binary(int(kind.split(":")[1]))
    if kind == "date":
        # pyarrow's JSON reader only converts numbers to date32; Kodiak writes ISO dates.
        return pa.string() if fmt == "jsonl" else pa.date32()
    unit = "ns" if fmt == "orc" else "us"
    if kind == "timestamp":
        return pa.timestamp(unit)
    if kind == "timestamptz":
        return pa.timestamp(unit, tz="UTC")
    raise ValueError(kind)


def float_bits(x):
    return struct.pack(">d", x).hex()


def expected_value(kind, v, fmt):
    """The Python value pyarrow's to_pylist() should give for an expected.json value."""
    if v is None:
        return None
    if kind == "int":
        return int(v)
    if kind.startswith("decimal:"):
        scale = int(kind.split(":")[2])
        return Decimal(f"{int(v)}E-{scale}")
    if kind in ("bytes",) or kind.startswith("fixed:"):
        return v if fmt in ("csv", "tsv", "jsonl") else bytes.fromhex(v)
    if kind == "date":
        day = EPOCH_DATE + __import__("datetime").timedelta(days=v)
        return day.isoformat() if fmt == "jsonl" else day
    if kind in ("timestamp", "timestamptz"):
        return int(v) * (1000 if fmt == "orc" else 1)
    return v


def compare(fmt, table, expected, exact_nan):
    errors = []
    names = [c["name"] for c in expected]
    if table.column_names != names:
        return [f"{fmt}: columns {table.column_names} != {names}"]
    for col in expected:
        name, kind = col["name"], col["kind"]
        arr = table.column(name).combine_chunks()
        want_type = arrow_type(kind, fmt)
        got_type = arr.type
        if hasattr(got_type, "storage_type"):  # extension types such as arrow.json
            got_type = got_type.storage_type
            arr = arr.storage
        if got_type != want_type:
            errors.append(f"{fmt}: column {name}: type {got_type} != {want_type}")
            continue
        if len(arr) != len(col["values"]):
            errors.append(f"{fmt}: column {name}: {len(arr)} rows != {len(col['values'])}")
            continue
        if kind in ("timestamp", "timestamptz"):
            arr = arr.cast(pa.int64())
        for i, raw in enumerate(col["values"]):
            got = arr[i].as_py() if arr[i].is_valid else None
            if kind == "float":
                if raw is None or got is None:
                    ok = raw is None and got is None
                else:
                    want = struct.unpack(">d", bytes.fromhex(raw))[0]
                    if math.isnan(want) and not exact_nan:
                        ok = math.isnan(got)
                    else:
                        ok = float_bits(got) == raw
                if not ok:
                    errors.append(f"{fmt}: column {name} row {i}: {got!r} != bits {raw}")
                continue
            want = expected_value(kind, raw, fmt)
            if got != want:
                errors.append(f"{fmt}: column {name} row {i}: {got!r} != {want!r}")
    return errors


def schema_for(expected, fmt):
    return pa.schema([pa.field(c["name"], arrow_type(c["kind"], fmt)) for c in expected])


def read(fmt, path, expected):
    if fmt == "arrow":
        with pa.memory_map(str(path)) as src:
            return ipc.open_file(src).read_all()
    if fmt == "arrows":
        with pa.OSFile(str(path)) as src:
            return ipc.open_stream(src).read_all()
    if fmt == "parquet":
        return pq.read_table(str(path))
    if fmt == "orc":
        return paorc.read_table(str(path))
    if fmt in ("csv", "tsv"):
        schema = schema_for(expected, fmt)
        convert = pacsv.ConvertOptions(
            column_types={f.name: f.type for f in schema},
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
            true_values=["true"],
            false_values=["false"],
        )
        parse = pacsv.ParseOptions(delimiter="\t" if fmt == "tsv" else ",", newlines_in_values=True)
        return pacsv.read_csv(str(path), parse_options=parse, convert_options=convert)
    if fmt == "jsonl":
        schema = schema_for(expected, fmt)
        parse = pajson.ParseOptions(explicit_schema=schema, newlines_in_values=False)
        return pajson.read_json(str(path), parse_options=parse)
    raise ValueError(fmt)


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    d = Path(sys.argv[1])
    failures = 0
    for fmt, exact_nan in [
        ("arrow", True),
        ("arrows", True),
        ("parquet", True),
        ("orc", True),
        ("csv", False),
        ("tsv", False),
        ("jsonl", False),
    ]:
        path = d / f"data.{fmt}"
        special = d / f"expected_{fmt}.json"
        exp = json.loads((special if special.exists() else d / "expected.json").read_text())
        try:
            table = read(fmt, path, exp)
            errors = compare(fmt, table, exp, exact_nan)
        except Exception as e:  # a reader failure is a check failure, reported per format
            errors = [f"{fmt}: pyarrow could not read {path.name}: {type(e).__name__}: {e}"]
        if errors:
            failures += 1
            print(f"FAIL {fmt}")
            for e in errors:
                print("  " + e)
        else:
            print(f"ok   {fmt}")
    print(f"pyarrow {pa.__version__}: {7 - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

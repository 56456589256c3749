"""Mutation fuzzing: damaged copies of real workbooks never crash `check` (seeded, a few thousand cases).

Each case is a random byte edit, a zip-member edit or an XML edit of a generated or a
LibreOffice-recalculated workbook. Every outcome must be a FileReport (possibly "unreadable") —
never an exception — and the internal-error safety net must never be what caught it.
"""
from __future__ import annotations

import io
import os
import random
import re
import zipfile
from pathlib import Path

import pytest

from workbook_tool.checker import check_file

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "party-building-2024-filled.xlsx"
CASES = int(os.environ.get("WBTOOL_FUZZ_N", "2400"))


def _rezip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for n, d in members.items():
            z.writestr(n, d)
    return buf.getvalue()


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


def mutate(rng: random.Random, data: bytes, members: dict[str, bytes]) -> bytes:
    kind = rng.choice(["byte", "byte", "truncate", "drop", "xml", "xml", "xml", "value", "swap"])
    if kind == "byte":
        b = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        return bytes(b)
    if kind == "truncate":
        return data[: rng.randrange(len(data))]
    m = dict(members)
    name = rng.choice(sorted(m))
    if kind == "drop":
        del m[name]
    elif kind == "swap":
        other = rng.choice(sorted(m))
        m[name], m[other] = m[other], m[name]
    elif kind == "xml":
        text = m[name].decode("utf-8", "replace")
        ops = [
            lambda t: t.replace("<f>", "<f>1+", 1),
            lambda t: re.sub(r"<v>[^<]*</v>", "<v>#DIV/0!</v>", t, count=rng.randint(1, 5)),
            lambda t: re.sub(r'r="([A-Z]+)(\d+)"', lambda mm: f'r="{mm.group(1)}{int(mm.group(2)) + 1}"', t, count=3),
            lambda t: t[: rng.randrange(max(1, len(t)))],
            lambda t: t.replace("</sheetData>", '<row r="9"><c r="A9" t="s"><v>99999</v></c></row></sheetData>'),
            lambda t: re.sub(r"<t[^>]*>[^<]*</t>", "<t>" + "长" * rng.randint(1, 5000) + "</t>", t, count=1),
            lambda t: t.replace('t="s"', 't="b"', 2),
            lambda t: t.replace("wbtool workbook", "wbtool workbook", 1).replace('"ruleset"', '"rules"'),
            lambda t: re.sub(r"<v>(\d+)</v>", lambda mm: f"<v>{mm.group(1)}e308</v>", t, count=4),
            lambda t: t.replace('{"', '{"x', 1),
            # what an independent fuzz found (hardening round 2): style indexes out of range (openpyxl printed
            # to stdout), 400-digit numbers, duration formats, issued records of the wrong shape
            lambda t: re.sub(r'(<c r="[A-Z]+\d+") s="\d+"', r'\1 s="99"', t, count=rng.randint(1, 5)),
            lambda t: re.sub(r"<v>(\d+)</v>", "<v>" + "9" * 400 + "</v>", t, count=rng.randint(1, 3)),
            lambda t: t.replace('numFmtId="0"', 'numFmtId="46"', rng.randint(1, 6)),
            lambda t: t.replace('"rows":[', '"rows":true,"was":[', 1).replace('{"cells":', '[{"cells":', rng.randint(0, 1)),
            lambda t: t.replace('"project_issued":true', '"project_issued":"1"', 1).replace('"version":2', '"version":"2"', 1),
        ]
        m[name] = rng.choice(ops)(text).encode()
    elif kind == "value":
        if "xl/sharedStrings.xml" in m:
            t = m["xl/sharedStrings.xml"].decode()
            t = re.sub(r"<t>([^<]{0,20})</t>", lambda mm: "<t>" + rng.choice(["NaN", "inf", "=1+1", "TRUE", "", mm.group(1) * 3]) + "</t>",
                       t, count=rng.randint(1, 20))
            m["xl/sharedStrings.xml"] = t.encode()
    return _rezip(m)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory):
    from workbook_tool.template import load_template
    from workbook_tool.writer import write_workbook

    d = tmp_path_factory.mktemp("fuzz")
    write_workbook(d / "blank.xlsx", load_template("self-eval"))
    return [SAMPLE.read_bytes(), (d / "blank.xlsx").read_bytes()]


def _json_report(p: Path) -> None:
    """Through the command line: stdout must be exactly one JSON document (nothing printed by a library)."""
    import json

    from click.testing import CliRunner

    from workbook_tool.cli import main

    r = CliRunner().invoke(main, ["check", "--format", "json", str(p)])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    doc = json.loads(r.stdout)
    assert "S099" not in {f["code"] for f in doc["files"][0]["findings"]}


def _run_chunk(args: tuple[int, list[bytes], str]) -> dict[str, int]:
    """One worker's share of the cases; seeded per chunk so every run checks the same files."""
    chunk, seeds, folder = args
    rng = random.Random(20261127 + chunk)
    seed_members = [_members(s) for s in seeds]
    p = Path(folder) / f"case-{chunk}.xlsx"
    outcomes: dict[str, int] = {}
    for i in range(CASES // WORKERS):
        k = rng.randrange(len(seeds))
        p.write_bytes(mutate(rng, seeds[k], seed_members[k]))
        rep = check_file(p)  # must not raise
        assert rep.status in ("ok", "warnings", "errors", "unreadable")
        assert all(f.code != "S099" for f in rep.findings), (chunk, i, [f.message() for f in rep.findings])
        outcomes[rep.status] = outcomes.get(rep.status, 0) + 1
        if i % 10 == 0:
            _json_report(p)
    return outcomes


WORKERS = 2


def test_mutations_never_crash(seeds, tmp_path):
    from concurrent.futures import ProcessPoolExecutor

    outcomes: dict[str, int] = {}
    with ProcessPoolExecutor(WORKERS) as pool:
        for part in pool.map(_run_chunk, [(c, seeds, str(tmp_path)) for c in range(WORKERS)]):
            for k, v in part.items():
                outcomes[k] = outcomes.get(k, 0) + v
    # the fuzzer really exercised both the fatal and the analysed paths
    assert outcomes.get("unreadable", 0) > CASES // 20
    assert outcomes.get("errors", 0) > CASES // 20

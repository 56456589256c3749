"""Signed issue (HMAC), and the "nothing lost" guarantees: inputs untouched, outputs atomic."""
from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from workbook_tool import writer
from workbook_tool.checker import check_file
from workbook_tool.cli import main
from workbook_tool.layout import build_layout
from workbook_tool.signing import load_key
from workbook_tool.template import load_template

ROOT = Path(__file__).resolve().parents[1]
SEED = ROOT / "samples" / "party-building-2024.yaml"


def _state(p: Path) -> tuple[str, int]:
    return hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns


def test_keygen_makes_a_private_key_and_refuses_to_overwrite(tmp_path):
    k = tmp_path / "office.key"
    r = CliRunner().invoke(main, ["keygen", str(k)])
    assert r.exit_code == 0
    assert stat.S_IMODE(k.stat().st_mode) == 0o600
    assert len(load_key(k)) == 32
    before = _state(k)
    r = CliRunner().invoke(main, ["keygen", str(k)])
    assert r.exit_code == 2 and "--force" in r.output
    assert _state(k) == before


@pytest.fixture()
def signed(tmp_path):
    k = tmp_path / "office.key"
    CliRunner().invoke(main, ["keygen", str(k)])
    out = tmp_path / "signed.xlsx"
    r = CliRunner().invoke(main, ["new", "--project", str(SEED), "--key", str(k), "-o", str(out)])
    assert r.exit_code == 0, r.output
    return k, out


def _codes(rep):
    return [f.code for f in rep.findings]


def test_signed_workbook_verifies_with_its_key(signed):
    k, out = signed
    rep = check_file(out, key=load_key(k))
    assert rep.authenticated
    assert "I001" not in _codes(rep) and "S005" not in _codes(rep)
    rep = check_file(out)
    assert not rep.authenticated and "I001" in _codes(rep)


def test_wrong_key_is_reported(signed, tmp_path):
    _, out = signed
    other = tmp_path / "other.key"
    CliRunner().invoke(main, ["keygen", str(other)])
    rep = check_file(out, key=load_key(other))
    assert "S005" in _codes(rep) and not rep.authenticated


def test_target_lowered_together_with_the_hidden_record_is_caught_only_with_the_key(signed, tmp_path):
    """A careful tamperer edits the target, the issued record and the fingerprint: the HMAC still fails."""
    k, out = signed
    tpl = load_template("dept-eval")
    L = build_layout(tpl)
    wb = openpyxl.load_workbook(out)
    ind = wb[L.sheet("indicators")]
    tcol = L.slots["target"].col + 1
    row = next(r for r in L.rows() if ind.cell(r + 1, L.slots["name"].col + 1).value == "商会党建书籍配发")
    ind.cell(row + 1, tcol).value = 500
    meta = wb[L.sheet("meta")]
    import json

    for mrow in meta.iter_rows():
        if mrow[0].value == "issued":
            blob = json.loads("".join(str(c.value) for c in mrow[1:] if c.value))
            a1 = f"indicators!{L.a1(L.slots['target'], row)}"
            blob["cells"][a1] = 500
            mrow[1].value = json.dumps(blob, ensure_ascii=False, sort_keys=True)
            for c in mrow[2:]:
                c.value = None
            fp = writer.fingerprint(tpl.digest(), blob["cells"])
    for mrow in meta.iter_rows():
        if mrow[0].value == "fingerprint":
            mrow[1].value = fp
    for p in wb.custom_doc_props.props:
        if p.name == "wbtool.fingerprint":
            p.value = fp
    forged = tmp_path / "forged.xlsx"
    wb.save(forged)
    assert "S014" not in _codes(check_file(forged))  # the plain fingerprint is fooled ...
    rep = check_file(forged, key=load_key(k))
    assert "S005" in _codes(rep)                      # ... the signature is not


def test_check_with_key_names_changed_issued_cells(signed, tmp_path):
    k, out = signed
    L = build_layout(load_template("dept-eval"))
    wb = openpyxl.load_workbook(out)
    ws = wb[L.sheet("indicators")]
    r = next(r for r in L.rows() if ws.cell(r + 1, L.slots["name"].col + 1).value == "党务培训班费用")
    ws.cell(r + 1, L.slots["weight"].col + 1).value = 8
    edited = tmp_path / "edited.xlsx"
    wb.save(edited)
    rep = check_file(edited, key=load_key(k))
    hits = [f for f in rep.findings if f.code == "S014"]
    assert len(hits) == 1 and hits[0].cell == L.a1(L.slots["weight"], r)
    assert hits[0].values["issued"] == 5 and hits[0].values["returned"] == 8
    assert rep.authenticated  # the issued record itself is genuine, so the original values are known


def test_commands_never_modify_their_inputs(tmp_path, signed):
    k, out = signed
    project = tmp_path / "p.yaml"
    project.write_bytes(SEED.read_bytes())
    roster = tmp_path / "roster.csv"
    roster.write_text("项目名称,主管部门,实施单位,年度,全年预算数\n甲,乙,丙,2024,5\n", encoding="utf-8")
    inputs = [k, out, project, roster]
    before = [_state(p) for p in inputs]
    runner = CliRunner()
    assert runner.invoke(main, ["new", "--project", str(project), "-o", str(tmp_path / "n.xlsx")]).exit_code == 0
    assert runner.invoke(main, ["check", str(out), "--key", str(k)]).exit_code in (0, 1)
    assert runner.invoke(main, ["batch", str(roster), "-o", str(tmp_path / "b")]).exit_code == 0
    assert [_state(p) for p in inputs] == before


def test_interrupted_write_leaves_nothing_under_the_final_name(tmp_path, monkeypatch):
    out = tmp_path / "x.xlsx"

    def boom(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(writer._Writer, "guide", boom)
    with pytest.raises(KeyboardInterrupt):
        writer.write_workbook(out, load_template("self-eval"))
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_existing_output_survives_a_failed_overwrite(tmp_path, monkeypatch):
    out = tmp_path / "x.xlsx"
    writer.write_workbook(out, load_template("self-eval"))
    before = _state(out)
    monkeypatch.setattr(writer._Writer, "meta", lambda self: (_ for _ in ()).throw(RuntimeError("disk full")))
    with pytest.raises(RuntimeError):
        writer.write_workbook(out, load_template("dept-eval"), force=True)
    assert _state(out) == before and len(list(tmp_path.iterdir())) == 1

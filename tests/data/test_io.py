"""Round trips (YAML, JSON, DataFrames, CSV) and atomic writes of belief.data.io."""

from __future__ import annotations

import json
import math
import os
import stat
import string
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import belief.data.io as bio
from belief.data.io import (
    case_from_records,
    case_to_frames,
    case_to_records,
    escape_formula,
    read_case,
    read_tables,
    write_case,
    write_csv,
    write_tables,
)
from belief.data.types import (
    CLAIM_COLUMNS,
    REPORT_COLUMNS,
    SIGNAL_COLUMNS,
    SOURCE_COLUMNS,
    Case,
)
from belief.data.validation import STANCE_ALIASES
from belief.exceptions import ValidationError

TABLES = ("claims", "sources", "reports", "signals")


def assert_same_tables(a: Case, b: Case) -> None:
    """Records equal (dataclass equality) and, explicitly, their ``extra`` dicts equal."""
    for t in TABLES:
        xs, ys = getattr(a, t), getattr(b, t)
        assert xs == ys, t
        assert [x.extra for x in xs] == [y.extra for y in ys], t


def assert_same_case(a: Case, b: Case) -> None:
    assert_same_tables(a, b)
    assert a == b
    assert (a.name, a.description) == (b.name, b.description)
    assert a.config == b.config
    assert a.meta == b.meta


def tables_of(directory: Path) -> dict[str, Path]:
    return {t: directory / f"{t}.csv" for t in TABLES}


# ------------------------------------------------------------------------------ the seed case


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".json"])
def test_khasham_case_file_round_trip(khasham_path, tmp_path, suffix):
    case = read_case(khasham_path)
    out = write_case(case, tmp_path / f"case{suffix}")
    assert out == tmp_path / f"case{suffix}"
    assert_same_case(read_case(out), case)
    if suffix == ".json":
        json.loads(out.read_text(encoding="utf-8"))  # really JSON


def test_khasham_frames_and_csv_round_trip(khasham_path, tmp_path):
    case = read_case(khasham_path)
    frames = case_to_frames(case)
    assert list(frames) == list(TABLES)
    assert_same_tables(read_tables(**frames), case)
    paths = write_tables(case, tmp_path / "tables")
    assert paths == tables_of(tmp_path / "tables")
    assert_same_tables(read_tables(**paths), case)
    # the report notes are an unknown column, kept and written back
    assert "note" in pd.read_csv(paths["reports"]).columns
    assert any(r.extra.get("note") for r in read_tables(**paths).reports)


def test_khasham_seed_content(khasham_path):
    case = read_case(khasham_path)
    assert case.name == "khasham"
    assert {"handover", "army_holds_khasham", "clashes", "flags_raised"} <= set(case.claim_ids)
    assert case.claim("handover").group == case.claim("army_holds_khasham").group
    assert case.meta["source_document"] == "000_e55f4da5808b87c3.txt"
    times = [r.time for r in case.reports]
    assert all(datetime(2017, 12, 18) <= t < datetime(2017, 12, 21) for t in times)
    assert {r.source_id for r in case.reports} <= {s.source_id for s in case.sources}


def test_tiny_case_round_trips(tiny_case, tmp_path):
    for name in ("t.yaml", "t.json"):
        assert_same_case(read_case(write_case(tiny_case, tmp_path / name)), tiny_case)
    assert_same_tables(read_tables(**case_to_frames(tiny_case)), tiny_case)
    assert_same_tables(read_tables(**write_tables(tiny_case, tmp_path)), tiny_case)


# ----------------------------------------------------------------------- records and frames


def test_case_to_records_is_the_inverse_of_case_from_records(tiny_case):
    recs = case_to_records(tiny_case)
    assert recs["name"] == "tiny" and recs["config"] == tiny_case.config
    assert recs["claims"][2] == {"claim_id": "c", "text": "C happened", "truth": "true"}
    assert recs["reports"][3]["note"] == "repeats s1"
    assert recs["reports"][0]["time"] == "2017-12-19T09:00:00"
    assert recs["signals"][0]["direction"] == -1
    assert_same_case(case_from_records(recs, "x"), tiny_case)
    full = case_to_records(tiny_case, drop_empty=False)
    assert list(full["claims"][0])[: len(CLAIM_COLUMNS)] == list(CLAIM_COLUMNS)
    assert full["claims"][0]["prior"] is None


def test_case_to_frames_columns(tiny_case):
    frames = case_to_frames(tiny_case)
    expected = {
        "claims": CLAIM_COLUMNS,
        "sources": SOURCE_COLUMNS,
        "reports": (*REPORT_COLUMNS, "note"),
        "signals": SIGNAL_COLUMNS,
    }
    for t, cols in expected.items():
        assert tuple(frames[t].columns) == cols
    empty = case_to_frames(Case(claims=tiny_case.claims))
    assert tuple(empty["signals"].columns) == SIGNAL_COLUMNS and len(empty["signals"]) == 0
    assert read_tables(**empty).claims == tiny_case.claims


def test_extras_of_any_yaml_type_round_trip_through_yaml_and_json(tmp_path):
    recs = {
        "claims": [{"claim_id": "a", "weight": 2, "score": 0.25, "flag": False, "tags": ["x"]}],
        "reports": [
            {"claim_id": "a", "source_id": "s", "stance": "confirm", "zero": 0, "nested": {"k": 1}}
        ],
        "source_document": "doc.txt",
    }
    case = case_from_records(recs)
    assert case.claims[0].extra == {"weight": 2, "score": 0.25, "flag": False, "tags": ["x"]}
    for name in ("e.yaml", "e.json"):
        assert_same_case(read_case(write_case(case, tmp_path / name)), case)


def test_yaml_date_extras_and_meta_can_be_written_as_json(tmp_path):
    # unquoted YAML dates load as datetime.date: JSON has no date type, so they become strings
    p = tmp_path / "d.yaml"
    p.write_text(
        "published: 2017-12-19\n"
        "reports:\n  - {claim_id: a, source_id: s, stance: for, seen: 2017-12-20}\n",
        encoding="utf-8",
    )
    case = read_case(p)
    assert case.meta["published"] == date(2017, 12, 19)
    back = read_case(write_case(case, tmp_path / "d.json"))
    assert back.meta["published"] == "2017-12-19"
    assert back.reports[0].extra == {"seen": "2017-12-20"}
    assert_same_case(read_case(write_case(case, tmp_path / "d2.yaml")), case)


def test_csv_extras_come_back_as_text(tmp_path):
    case = case_from_records(
        {"reports": [{"claim_id": "a", "source_id": "s", "stance": "for", "n": 3}]}
    )
    back = read_tables(**write_tables(case, tmp_path))
    assert back.reports[0].extra == {"n": "3"}
    assert back.reports == case.reports


def test_ids_that_look_like_numbers_stay_text(tmp_path):
    recs = {
        "claims": [{"claim_id": "007", "text": "1.50"}, {"claim_id": "nan"}, {"claim_id": "NA"}],
        "reports": [{"claim_id": "007", "source_id": "1e3", "stance": "for"}],
    }
    case = case_from_records(recs)
    for back in (
        read_tables(**write_tables(case, tmp_path)),
        read_case(write_case(case, tmp_path / "n.yaml")),
        read_case(write_case(case, tmp_path / "n.json")),
    ):
        assert back.claim_ids == ["007", "nan", "NA"]
        assert back.claims[0].text == "1.50"
        assert back.reports[0].source_id == "1e3"


def test_timezone_aware_times_are_written_as_naive_utc(tmp_path):
    recs = {
        "reports": [
            {"claim_id": "a", "source_id": "s", "stance": "for", "time": "2017-12-19T09:00+03:00"}
        ]
    }
    case = case_from_records(recs)
    assert case_to_records(case)["reports"][0]["time"] == "2017-12-19T06:00:00"


# ------------------------------------------------------------------------ random cases


ident = st.text(string.ascii_letters + string.digits + "_-.", min_size=1, max_size=8)
# no control characters: pandas' to_csv leaves a lone "\r" unquoted, so it cannot round-trip
# through CSV (noted in the report; YAML also folds U+0085 into a line break)
words = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), max_size=20)
prob = st.floats(min_value=0, max_value=1, exclude_min=True, exclude_max=True)
naive = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1))
offsets = st.sampled_from(
    [UTC, timezone(timedelta(hours=3)), timezone(timedelta(hours=-5, minutes=-30))]
)
times = st.one_of(
    st.none(),
    naive,
    naive.map(lambda t: t.isoformat()),
    st.builds(lambda t, tz: t.replace(tzinfo=tz).isoformat(), naive, offsets),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)),
)
stances = st.sampled_from(sorted(STANCE_ALIASES)).flatmap(
    lambda s: st.sampled_from([s, s.upper(), s.title()])
)


def optional(strategy):
    return st.one_of(st.none(), strategy)


@st.composite
def random_case_records(draw) -> dict:
    claim_ids = draw(st.lists(ident, min_size=1, max_size=5, unique=True))
    source_ids = draw(st.lists(ident, min_size=0, max_size=4, unique=True))
    groups = st.sampled_from(["g1", "g2"])
    claims = [
        {
            "claim_id": c,
            "text": draw(words),
            "prior": draw(optional(prob)),
            "favors": draw(optional(st.sampled_from(["red", "blue"]))),
            "group": draw(optional(groups)),
            "truth": draw(st.sampled_from([None, "true", "false", "unknown", True, False])),
            "note": draw(optional(words)),
        }
        for c in claim_ids
    ]
    sources = [
        {
            "source_id": s,
            "name": draw(words),
            "kind": draw(optional(st.sampled_from(["media", "local", "blog", "odd kind"]))),
            "side": draw(optional(st.sampled_from(["red", "blue"]))),
            "admiralty": draw(optional(st.sampled_from(list("ABCDEFabc")))),
            "sensitivity": draw(optional(prob)),
            "specificity": draw(optional(prob)),
            "strength": draw(optional(st.floats(min_value=1e-3, max_value=1e6))),
            "url": draw(optional(words)),
        }
        for s in source_ids
    ]
    all_sources = st.sampled_from([*source_ids, "unlisted"])
    reports = [
        {
            "claim_id": draw(st.sampled_from(claim_ids)),
            "source_id": draw(all_sources),
            "stance": draw(stances),
            "time": draw(times),
            "derived_from": draw(optional(all_sources)),
            "note": draw(optional(words)),
        }
        for _ in range(draw(st.integers(0, 8)))
    ]
    signals = []
    for sid in draw(st.lists(ident, max_size=3, unique=True)):
        lr = draw(optional(st.floats(min_value=1e-3, max_value=1e3)))
        direction = draw(st.sampled_from([None, 1, -1, "+1", "-1"]))
        if lr is not None and direction is not None and lr != 1:
            direction = 1 if lr > 1 else -1
        signals.append(
            {
                "signal_id": sid,
                "claim_id": draw(st.sampled_from(claim_ids)),
                "kind": draw(st.sampled_from(["rhetoric", "silence"])),
                "direction": direction,
                "likelihood_ratio": lr,
                "time": draw(times),
                "text": draw(words),
            }
        )
    return {
        "name": draw(words),
        "claims": claims,
        "sources": sources,
        "reports": reports,
        "signals": signals,
    }


def _build(recs: dict) -> Case:
    import warnings

    from belief.exceptions import ValidationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ValidationWarning)  # "unlisted" sources
        return case_from_records(recs, "random")


ROUND_TRIP = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@ROUND_TRIP
@given(recs=random_case_records())
def test_random_case_file_round_trip(tmp_path, recs):
    case = _build(recs)
    for name in ("r.yaml", "r.json"):
        path = write_case(case, tmp_path / name)
        assert_same_case(_read_quiet(lambda p=path: read_case(p)), case)


@ROUND_TRIP
@given(recs=random_case_records())
def test_random_case_frames_round_trip(recs):
    case = _build(recs)
    assert_same_tables(_read_quiet(lambda: read_tables(**case_to_frames(case))), case)


@ROUND_TRIP
@given(recs=random_case_records())
def test_random_case_csv_round_trip(tmp_path, recs):
    # text a spreadsheet would run as a formula is escaped on CSV output (by design)
    assume(
        all(
            escape_formula(v.strip()) == v.strip()
            for t in TABLES
            for r in recs[t]
            for v in r.values()
            if isinstance(v, str)
        )
    )
    case = _build(recs)
    paths = write_tables(case, tmp_path / "tables")
    assert_same_tables(_read_quiet(lambda: read_tables(**paths)), case)


def _read_quiet(read):
    import warnings

    from belief.exceptions import ValidationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ValidationWarning)
        return read()


# ------------------------------------------------------------------------------ atomic writes


def _listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def _fail_mid_write(monkeypatch, module, name):
    """Make ``module.name`` write something to its stream, then raise."""
    real = getattr(module, name)

    def broken(data, stream, *args, **kwargs):
        stream.write("partial output")
        stream.flush()
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(module, name, broken)
    return real


@pytest.mark.parametrize(
    ("module", "name", "suffix"), [(yaml, "safe_dump", ".yaml"), (json, "dump", ".json")]
)
def test_failed_case_write_leaves_no_file_and_no_temp_file(
    tiny_case, tmp_path, monkeypatch, module, name, suffix
):
    _fail_mid_write(monkeypatch, module, name)
    target = tmp_path / f"case{suffix}"
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_case(tiny_case, target)
    assert _listing(tmp_path) == []


def test_failed_write_keeps_the_previous_file(tiny_case, tmp_path, monkeypatch):
    target = tmp_path / "case.yaml"
    target.write_text("previous", encoding="utf-8")
    _fail_mid_write(monkeypatch, yaml, "safe_dump")
    with pytest.raises(RuntimeError):
        write_case(tiny_case, target)
    assert target.read_text(encoding="utf-8") == "previous"
    assert _listing(tmp_path) == ["case.yaml"]


def test_failed_csv_write_leaves_nothing(tiny_case, tmp_path, monkeypatch):
    def broken(self, path, *args, **kwargs):
        Path(path).write_text("claim_id,p_tr", encoding="utf-8")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    with pytest.raises(OSError, match="No space left"):
        write_csv(pd.DataFrame({"a": [1]}), tmp_path / "out.csv")
    with pytest.raises(OSError):
        write_tables(tiny_case, tmp_path / "tables")
    assert _listing(tmp_path) == ["tables"]
    assert _listing(tmp_path / "tables") == []


def test_failed_rename_leaves_no_temp_file(tiny_case, tmp_path, monkeypatch):
    def broken_replace(src, dst):
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(bio.os, "replace", broken_replace)
    with pytest.raises(OSError, match="cross-device"):
        write_case(tiny_case, tmp_path / "case.yaml")
    assert _listing(tmp_path) == []


def test_atomic_path_cleans_up_on_any_exception(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with bio.atomic_path(tmp_path / "x.csv") as tmp:
            assert tmp.parent == tmp_path and tmp.name.startswith(".x.csv.")
            tmp.write_text("half", encoding="utf-8")
            raise KeyboardInterrupt
    assert _listing(tmp_path) == []
    with bio.atomic_path(tmp_path / "x.csv") as tmp:
        tmp.write_text("whole", encoding="utf-8")
    assert _listing(tmp_path) == ["x.csv"]
    assert (tmp_path / "x.csv").read_text(encoding="utf-8") == "whole"


def test_write_into_missing_directory_fails_cleanly(tiny_case, tmp_path):
    with pytest.raises(OSError):
        write_case(tiny_case, tmp_path / "no" / "case.yaml")
    assert _listing(tmp_path) == []


def test_written_files_honour_the_umask(tiny_case, tmp_path):
    # a temp file from mkstemp is 0600; the renamed output must get the usual 0666 & ~umask
    old = os.umask(0o022)
    try:
        write_case(tiny_case, tmp_path / "case.yaml")
        write_csv(pd.DataFrame({"a": [1]}), tmp_path / "out.csv")
    finally:
        os.umask(old)
    for name in ("case.yaml", "out.csv"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644


def test_unserializable_extra_fails_cleanly(tmp_path):
    case = case_from_records(
        {"reports": [{"claim_id": "a", "source_id": "s", "stance": "for", "odd": {1, 2}}]}
    )
    with pytest.raises(TypeError, match="not JSON serializable"):
        write_case(case, tmp_path / "odd.json")
    assert _listing(tmp_path) == []


def test_overwrite_existing_output(tiny_case, tmp_path):
    target = tmp_path / "case.json"
    target.write_text("{}", encoding="utf-8")
    write_case(tiny_case, target)
    assert read_case(target) == tiny_case
    assert _listing(tmp_path) == ["case.json"]


def test_write_csv_round_trip_of_floats(tmp_path):
    values = [1 / 3, 1e-300, 0.1, math.pi / 10]
    out = write_csv(pd.DataFrame({"x": values}), tmp_path / "f.csv")
    assert pd.read_csv(out)["x"].tolist() == values


def test_blank_lines_keep_spreadsheet_row_numbers(tmp_path):
    from belief.core.compiler import read_evidence

    path = tmp_path / "reports.csv"
    path.write_text("claim_id,source_id,stance\nc1,a,confirm\n\n,,\nc1,b,bogus\n")
    for read in (lambda: read_tables(reports=path), lambda: read_evidence(path)):
        with pytest.raises(ValidationError, match=r"reports\.csv, row 5, column 'stance'"):
            read()
    path.write_text("claim_id,source_id,stance\nc1,a,confirm\n\nc1,b,deny\n")
    assert len(read_tables(reports=path).reports) == 2
    assert read_evidence(path).n_reports.tolist() == [2]

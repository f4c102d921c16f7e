"""Every validation error path of the boundary layer, asserted by its message.

The contract: a missing required column, an unknown id or an invalid value is a
``ValidationError`` naming the file, the row (spreadsheet numbering: the header is row 1, so the
first data row of a CSV is row 2; YAML entries are "<table> entry N") and the column, with the
allowed values.
"""

from __future__ import annotations

import math
import re
import warnings
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest

from belief.data.io import case_from_records, read_case, read_tables
from belief.data.types import Case, Claim, Report
from belief.data.validation import STANCE_ALIASES, parse_time
from belief.exceptions import BeliefError, ValidationError, ValidationWarning
from belief.priors.config import Config

REPORTS_HEADER = "claim_id,source_id,stance"


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def claims_csv(tmp_path: Path, text: str = "claim_id\na\nb\n") -> Path:
    return write(tmp_path, "claims.csv", text)


def reports_csv(tmp_path: Path, text: str = f"{REPORTS_HEADER}\na,s1,confirm\n") -> Path:
    return write(tmp_path, "reports.csv", text)


def one_report(**fields) -> dict:
    return {"claim_id": "a", "source_id": "s1", "stance": "confirm", **fields}


def records(**tables) -> dict:
    """A minimal valid case as records, with some tables replaced."""
    base = {"claims": [{"claim_id": "a"}, {"claim_id": "b"}], "reports": [one_report()]}
    return {**base, **tables}


def esc(s: str) -> str:
    return re.escape(s)


# --------------------------------------------------------------------- required columns / values


@pytest.mark.parametrize(
    ("table", "header", "row", "missing"),
    [
        ("claims", "text,prior", "x,0.5", "claim_id"),
        ("sources", "name,kind", "x,media", "source_id"),
        ("reports", "source_id,stance", "s1,confirm", "claim_id"),
        ("reports", "claim_id,stance", "a,confirm", "source_id"),
        ("reports", "claim_id,source_id", "a,s1", "stance"),
        ("signals", "claim_id,kind", "a,rhetoric", "signal_id"),
        ("signals", "signal_id,kind", "g1,rhetoric", "claim_id"),
        ("signals", "signal_id,claim_id", "g1,a", "kind"),
    ],
)
def test_missing_required_column_names_file_and_column(tmp_path, table, header, row, missing):
    files = {"claims": claims_csv(tmp_path), "reports": reports_csv(tmp_path)}
    files[table] = write(tmp_path, f"{table}.csv", f"{header}\n{row}\n")
    with pytest.raises(ValidationError, match=esc(f"{table}.csv: required column '{missing}'")):
        read_tables(**files)


def test_missing_required_column_in_dataframe_and_yaml(tmp_path):
    df = pd.DataFrame({"claim_id": ["a"], "source_id": ["s1"]})
    with pytest.raises(
        ValidationError, match=esc("reports DataFrame: required column 'stance' missing")
    ):
        read_tables(reports=df)
    p = write(tmp_path, "case.yaml", "reports:\n  - {claim_id: a, source_id: s1}\n")
    with pytest.raises(ValidationError, match=esc(f"{p}: required column 'stance' missing")):
        read_case(p)


def test_reports_table_is_required():
    with pytest.raises(ValidationError, match="reports table is required"):
        read_tables(claims=pd.DataFrame({"claim_id": ["a"]}))


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (f"{REPORTS_HEADER}\na,s1,confirm\n,s2,deny\n", "row 3, column 'claim_id'"),
        (f"{REPORTS_HEADER}\na,,confirm\n", "row 2, column 'source_id'"),
        (f"{REPORTS_HEADER}\na,s1,   \n", "row 2, column 'stance'"),
    ],
)
def test_missing_required_value_csv(tmp_path, text, where):
    with pytest.raises(ValidationError, match=esc(f"reports.csv, {where}: required value missing")):
        read_tables(claims_csv(tmp_path), reports=reports_csv(tmp_path, text))


def test_missing_stance_lists_valid_values(tmp_path):
    with pytest.raises(ValidationError, match="required value missing; expected one of confirm"):
        read_tables(reports=reports_csv(tmp_path, f"{REPORTS_HEADER}\na,s1,\n"))


@pytest.mark.parametrize(
    ("table", "recs", "where"),
    [
        ("claims", [{"claim_id": "a"}, {"text": "no id"}], "claims entry 2, field 'claim_id'"),
        ("sources", [{"source_id": None}], "sources entry 1, field 'source_id'"),
        (
            "signals",
            [{"signal_id": "g", "claim_id": "a", "kind": ""}],
            "signals entry 1, field 'kind'",
        ),
    ],
)
def test_missing_required_value_yaml_records(table, recs, where):
    with pytest.raises(ValidationError, match=esc(f"case.yaml, {where}: required value missing")):
        case_from_records(records(**{table: recs}), "case.yaml")


def test_missing_value_in_dataframe_nan_is_missing():
    df = pd.DataFrame({"claim_id": ["a", None], "source_id": ["s", "t"], "stance": ["for", "for"]})
    with pytest.raises(
        ValidationError, match=esc("reports DataFrame, row 3, column 'claim_id': required value")
    ):
        read_tables(reports=df)


def test_numeric_ids_from_dataframes_become_text():
    # an integer id column with a gap is float in pandas: 1.0 must still be id "1"
    df = pd.DataFrame({"claim_id": [1, None, 3], "source_id": ["s", "t", "u"], "stance": "for"})
    with pytest.raises(ValidationError, match="row 3, column 'claim_id': required value missing"):
        read_tables(reports=df)
    df = pd.DataFrame({"claim_id": [1.0, 2.0], "source_id": [10, 11], "stance": ["for", "for"]})
    case = read_tables(reports=df)
    assert case.claim_ids == ["1", "2"]
    assert [r.source_id for r in case.reports] == ["10", "11"]


# --------------------------------------------------------------------------------- duplicate ids


@pytest.mark.parametrize(
    ("table", "text", "column", "dup", "row", "first"),
    [
        ("claims", "claim_id\na\nb\na\n", "claim_id", "a", 4, 2),
        ("sources", "source_id,kind\ns1,media\ns2,blog\ns3,x\ns2,y\n", "source_id", "s2", 5, 3),
        ("signals", "signal_id,claim_id,kind\ng1,a,k\ng1,b,k\n", "signal_id", "g1", 3, 2),
    ],
)
def test_duplicate_ids_name_both_rows(tmp_path, table, text, column, dup, row, first):
    files = {"claims": claims_csv(tmp_path), "reports": reports_csv(tmp_path)}
    path = files[table] = write(tmp_path, f"{table}.csv", text)
    msg = (
        f"{path}, row {row}, column '{column}': duplicate id '{dup}' "
        f"(first at {path}, row {first}, column '{column}')"
    )
    with pytest.raises(ValidationError, match=esc(msg)):
        read_tables(**files)


def test_duplicate_ids_in_yaml_name_both_entries():
    recs = records(claims=[{"claim_id": "a"}, {"claim_id": "b"}, {"claim_id": "a"}])
    with pytest.raises(
        ValidationError,
        match=esc(
            "case.yaml, claims entry 3, field 'claim_id': duplicate id 'a' "
            "(first at case.yaml, claims entry 1, field 'claim_id')"
        ),
    ):
        case_from_records(recs, "case.yaml")


def test_ids_are_stripped_before_duplicate_check():
    with pytest.raises(ValidationError, match="duplicate id 'a'"):
        case_from_records(records(claims=[{"claim_id": "a"}, {"claim_id": "  a "}]))


# ------------------------------------------------------------------------------------- stances


@pytest.mark.parametrize("stance", ["maybe", "confirmed", "yes", "+1"])
def test_invalid_stance_lists_valid_values_and_aliases(stance):
    with pytest.raises(ValidationError) as info:
        case_from_records(records(reports=[one_report(stance=stance)]), "c.yaml")
    msg = str(info.value)
    assert msg.startswith("c.yaml, reports entry 1, field 'stance': invalid stance")
    assert repr(stance) in msg
    assert "expected one of confirm, deny, neutral" in msg
    for alias in ("support", "for", "against", "refute", "observing", "query", "comment"):
        assert alias in msg


ALIASES = {
    "support": "confirm",
    "for": "confirm",
    "against": "deny",
    "refute": "deny",
    "observing": "neutral",
    "query": "neutral",
    "comment": "neutral",
    "confirm": "confirm",
    "deny": "deny",
    "neutral": "neutral",
}


def test_alias_table_matches_the_contract():
    assert STANCE_ALIASES == ALIASES


@pytest.mark.parametrize(("alias", "canonical"), sorted(ALIASES.items()))
@pytest.mark.parametrize("variant", [str.lower, str.upper, str.title, lambda s: f"  {s} "])
def test_stance_aliases_case_insensitive(alias, canonical, variant):
    case = case_from_records(records(reports=[one_report(stance=variant(alias))]))
    assert case.reports[0].stance == canonical


def test_stance_aliases_from_csv(tmp_path):
    text = f"{REPORTS_HEADER}\na,s1,Support\na,s2,REFUTE\na,s3,Query\n"
    case = read_tables(reports=reports_csv(tmp_path, text))
    assert [r.stance for r in case.reports] == ["confirm", "deny", "neutral"]


# ------------------------------------------------------------------------ numbers in the tables


BAD_PROBABILITIES = [0, 1, -0.1, 1.5, "abc", "0,3", math.inf, -math.inf, "inf", "NaN", "nan"]


@pytest.mark.parametrize("value", BAD_PROBABILITIES)
def test_invalid_prior(value):
    recs = records(claims=[{"claim_id": "a", "prior": value}])
    with pytest.raises(ValidationError) as info:
        case_from_records(recs, "case.yaml")
    msg = str(info.value)
    assert msg.startswith("case.yaml, claims entry 1, field 'prior': expected a number")
    assert repr(value) in msg
    if not isinstance(value, str):
        assert "in (0, 1)" in msg


@pytest.mark.parametrize("text", ["0", "1", "-0.1", "abc", "NaN", "inf", "1e9"])
def test_invalid_prior_csv_names_row_and_column(tmp_path, text):
    claims = claims_csv(tmp_path, f"claim_id,prior\na,0.5\nb,{text}\n")
    with pytest.raises(ValidationError, match=esc(f"{claims}, row 3, column 'prior': expected")):
        read_tables(claims, reports=reports_csv(tmp_path))


def test_valid_priors_parse_to_float(tmp_path):
    claims = claims_csv(tmp_path, "claim_id,prior\na, 0.25 \nb,1e-3\n")
    case = read_tables(claims, reports=reports_csv(tmp_path))
    assert [c.prior for c in case.claims] == [0.25, 0.001]


def test_nan_in_a_dataframe_means_empty_not_invalid():
    # pandas stores empty cells as NaN: a DataFrame NaN is a missing prior, not an error
    claims = pd.DataFrame({"claim_id": ["a", "b"], "prior": [0.3, math.nan]})
    case = read_tables(claims, reports=pd.DataFrame([one_report()]))
    assert [c.prior for c in case.claims] == [0.3, None]


@pytest.mark.parametrize("field", ["sensitivity", "specificity"])
@pytest.mark.parametrize("value", [0, 1, -0.5, 1.2, "high", math.inf, "nan"])
def test_invalid_sensitivity_specificity(field, value):
    recs = records(sources=[{"source_id": "s1", field: value}])
    with pytest.raises(
        ValidationError, match=esc(f"c.yaml, sources entry 1, field '{field}': expected a number")
    ):
        case_from_records(recs, "c.yaml")


@pytest.mark.parametrize("value", [0, -1, math.inf, "x", "inf"])
def test_invalid_strength(value):
    recs = records(sources=[{"source_id": "s1", "strength": value}])
    with pytest.raises(
        ValidationError, match=esc("c.yaml, sources entry 1, field 'strength': expected a number")
    ):
        case_from_records(recs, "c.yaml")


def test_invalid_strength_csv_mentions_open_interval(tmp_path):
    sources = write(tmp_path, "sources.csv", "source_id,strength\ns1,4\ns2,0\n")
    with pytest.raises(
        ValidationError,
        match=esc(f"{sources}, row 3, column 'strength': expected a number in (0, inf)"),
    ):
        read_tables(claims_csv(tmp_path), sources, reports_csv(tmp_path))


def test_valid_source_numbers(tmp_path):
    sources = write(
        tmp_path, "sources.csv", "source_id,sensitivity,specificity,strength\ns1,0.9,0.2,12\n"
    )
    s = read_tables(claims_csv(tmp_path), sources, reports_csv(tmp_path)).sources[0]
    assert (s.sensitivity, s.specificity, s.strength) == (0.9, 0.2, 12.0)


# --------------------------------------------------------------------------- grades and truth


@pytest.mark.parametrize("grade", ["G", "AB", "1", "z", "A+"])
def test_invalid_admiralty_grade_lists_a_to_f(grade):
    recs = records(sources=[{"source_id": "s1", "admiralty": grade}])
    with pytest.raises(
        ValidationError,
        match=esc(
            f"c.yaml, sources entry 1, field 'admiralty': invalid grade {grade!r}; "
            "expected one of A, B, C, D, E, F"
        ),
    ):
        case_from_records(recs, "c.yaml")


@pytest.mark.parametrize(("grade", "expected"), [("a", "A"), (" f ", "F"), ("C", "C"), ("", None)])
def test_admiralty_grade_normalized(grade, expected):
    case = case_from_records(records(sources=[{"source_id": "s1", "admiralty": grade}]))
    assert case.sources[0].admiralty == expected


@pytest.mark.parametrize("value", ["maybe", "2", "yess", "-1"])
def test_invalid_truth(tmp_path, value):
    claims = claims_csv(tmp_path, f"claim_id,truth\na,true\nb,{value}\n")
    with pytest.raises(
        ValidationError,
        match=esc(
            f"{claims}, row 3, column 'truth': invalid value {value!r}; "
            "expected true/false, yes/no, 1/0, t/f, y/n, unknown or empty"
        ),
    ):
        read_tables(claims, reports=reports_csv(tmp_path))


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("0", False), ("yes", True), ("No", False), ("T", True), ("f", False),
     ("TRUE", True), (" y ", True), ("n", False), ("unknown", None), ("", None)],
)  # fmt: skip
def test_truth_common_spellings(tmp_path, value, expected):
    """1/0, yes/no, True/False in any case: accepted by every command, infer included."""
    claims = claims_csv(tmp_path, f"claim_id,truth\na,{value}\n")
    case = read_tables(claims, reports=reports_csv(tmp_path))
    assert case.claims[0].truth is expected
    from belief.cli import main

    out = tmp_path / "post.csv"
    assert main(["infer", "--claims", str(claims), "--reports", str(reports_csv(tmp_path)),
                 "--out", str(out)]) == 0  # fmt: skip


def test_truth_from_records_accepts_numbers_and_booleans():
    for value, expected in ((1, True), (0, False), (True, True), (False, False), (None, None)):
        case = case_from_records({"claims": [{"claim_id": "a", "truth": value}]})
        assert case.claims[0].truth is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        (" False ", False),
        ("unknown", None),
        ("", None),
        (True, True),
        (False, False),
        (None, None),
    ],
)
def test_truth_values(value, expected):
    case = case_from_records(records(claims=[{"claim_id": "a", "truth": value}]))
    assert case.claims[0].truth is expected


# ----------------------------------------------------------------------------------------- time


@pytest.mark.parametrize("value", ["19/12/2017", "yesterday", "2017-13-01", "2017-12-19T25:00", 7])
def test_invalid_time_not_iso8601(value):
    recs = records(reports=[one_report(time=value)])
    with pytest.raises(
        ValidationError,
        match=esc("c.yaml, reports entry 1, field 'time': expected an ISO 8601 time such as"),
    ):
        case_from_records(recs, "c.yaml")


def test_invalid_time_csv_and_signal(tmp_path):
    reports = reports_csv(
        tmp_path, f"{REPORTS_HEADER},time\na,s1,confirm,2017-12-19\na,s2,deny,x\n"
    )
    with pytest.raises(ValidationError, match=esc(f"{reports}, row 3, column 'time': expected")):
        read_tables(claims_csv(tmp_path), reports=reports)
    sig = {"signal_id": "g", "claim_id": "a", "kind": "k", "time": "Dec 18"}
    with pytest.raises(
        ValidationError, match=esc("signals entry 1, field 'time': expected an ISO")
    ):
        case_from_records(records(signals=[sig]))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2017-12-19T09:00:00Z", datetime(2017, 12, 19, 9)),
        ("2017-12-19T09:00:00+03:00", datetime(2017, 12, 19, 6)),
        ("2017-12-19T01:30:00-02:30", datetime(2017, 12, 19, 4)),
        ("2017-12-19T00:30:00+03:00", datetime(2017, 12, 18, 21, 30)),
        ("2017-12-19 09:00", datetime(2017, 12, 19, 9)),
        (" 2017-12-19T09:00:00 ", datetime(2017, 12, 19, 9)),
        ("2017-12-19", datetime(2017, 12, 19)),
        (date(2017, 12, 19), datetime(2017, 12, 19)),
        (
            datetime(2017, 12, 19, 9, 0, tzinfo=timezone(timedelta(hours=3))),
            datetime(2017, 12, 19, 6),
        ),
        (pd.Timestamp("2017-12-19T09:00:00Z"), datetime(2017, 12, 19, 9)),
        (None, None),
        ("", None),
    ],
)
def test_times_normalize_to_naive_utc(value, expected):
    t = parse_time(value, "here")
    assert t == expected
    if t is not None:
        assert t.tzinfo is None


def test_timezones_through_the_readers(tmp_path):
    text = (
        f"{REPORTS_HEADER},time\n"
        "a,s1,confirm,2017-12-19T09:00:00Z\n"
        "a,s2,confirm,2017-12-19T09:00:00+03:00\n"
        "a,s3,confirm,2017-12-19\n"
    )
    case = read_tables(reports=reports_csv(tmp_path, text))
    assert [r.time for r in case.reports] == [
        datetime(2017, 12, 19, 9),
        datetime(2017, 12, 19, 6),
        datetime(2017, 12, 19),
    ]
    # unquoted YAML timestamps and dates are parsed by YAML itself, then normalized
    p = write(
        tmp_path,
        "case.yaml",
        "reports:\n"
        "  - {claim_id: a, source_id: s1, stance: confirm, time: 2017-12-19T09:00:00+03:00}\n"
        "  - {claim_id: a, source_id: s2, stance: confirm, time: 2017-12-19T09:00:00Z}\n"
        "  - {claim_id: a, source_id: s3, stance: confirm, time: 2017-12-19}\n",
    )
    assert [r.time for r in read_case(p).reports] == [
        datetime(2017, 12, 19, 6),
        datetime(2017, 12, 19, 9),
        datetime(2017, 12, 19),
    ]


# ----------------------------------------------------------------------------------- signals


def signal(**fields) -> dict:
    return {"signal_id": "g1", "claim_id": "a", "kind": "rhetoric", **fields}


@pytest.mark.parametrize("value", ["up", 0, 2, "0.5", -2, "1x"])
def test_invalid_direction(value):
    with pytest.raises(
        ValidationError,
        match=esc(
            f"c.yaml, signals entry 1, field 'direction': invalid direction {value!r}; "
            "expected +1 or -1"
        ),
    ):
        case_from_records(records(signals=[signal(direction=value)]), "c.yaml")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("+1", 1), ("-1", -1), ("1.0", 1), (1, 1), (-1.0, -1), (None, 1), ("", 1)],
)
def test_valid_direction(value, expected):
    case = case_from_records(records(signals=[signal(direction=value)]))
    assert case.signals[0].direction == expected
    assert isinstance(case.signals[0].direction, int)


@pytest.mark.parametrize(("lr", "direction"), [(3.0, -1), (0.5, 1), ("2", "-1"), (0.1, "+1")])
def test_likelihood_ratio_contradicting_direction(lr, direction):
    with pytest.raises(
        ValidationError,
        match=r"signals entry 1, field 'likelihood_ratio': likelihood_ratio .* contradicts "
        r"direction [+-]1",
    ):
        case_from_records(records(signals=[signal(likelihood_ratio=lr, direction=direction)]))


@pytest.mark.parametrize(
    ("lr", "direction"), [(3.0, 1), (0.5, -1), (1.0, -1), (1.0, 1), (0.5, None), (4, "")]
)
def test_likelihood_ratio_consistent_or_without_direction(lr, direction):
    s = case_from_records(records(signals=[signal(likelihood_ratio=lr, direction=direction)]))
    assert s.signals[0].likelihood_ratio == float(lr)


def test_direction_follows_likelihood_ratio_when_not_given():
    # otherwise a valid signal (ratio 0.5, no direction) would be written back with direction
    # +1 and the file could not be read again
    case = case_from_records(records(signals=[signal(likelihood_ratio=0.5)]))
    assert case.signals[0].direction == -1
    case = case_from_records(records(signals=[signal(likelihood_ratio=2)]))
    assert case.signals[0].direction == 1


@pytest.mark.parametrize("lr", [0, -1, "abc", math.inf, "nan"])
def test_invalid_likelihood_ratio(lr):
    with pytest.raises(
        ValidationError, match=esc("signals entry 1, field 'likelihood_ratio': expected a number")
    ):
        case_from_records(records(signals=[signal(likelihood_ratio=lr)]))


# ------------------------------------------------------------------------------ cross references


def test_unknown_claim_in_reports_csv_names_file_row_column(tmp_path):
    reports = reports_csv(tmp_path, f"{REPORTS_HEADER}\na,s1,confirm\nb,s1,deny\nzzz,s2,for\n")
    with pytest.raises(
        ValidationError,
        match=esc(f"{reports}, row 4, column 'claim_id': unknown claim 'zzz'; known claims: a, b"),
    ):
        read_tables(claims_csv(tmp_path), reports=reports)


def test_unknown_claim_in_signals_csv(tmp_path):
    signals = write(tmp_path, "signals.csv", "signal_id,claim_id,kind\ng1,a,k\ng2,nope,k\n")
    with pytest.raises(
        ValidationError, match=esc(f"{signals}, row 3, column 'claim_id': unknown claim 'nope'")
    ):
        read_tables(claims_csv(tmp_path), reports=reports_csv(tmp_path), signals=signals)


def test_unknown_claim_in_yaml_and_dataframe():
    with pytest.raises(
        ValidationError, match=esc("c.yaml, reports entry 2, field 'claim_id': unknown claim 'x'")
    ):
        case_from_records(records(reports=[one_report(), one_report(claim_id="x")]), "c.yaml")
    with pytest.raises(
        ValidationError, match=esc("signals entry 1, field 'claim_id': unknown claim 'x'")
    ):
        case_from_records(records(signals=[signal(claim_id="x")]))
    claims = pd.DataFrame({"claim_id": ["a"]})
    reports = pd.DataFrame([one_report(), one_report(claim_id="q")])
    with pytest.raises(
        ValidationError, match=esc("reports DataFrame, row 3, column 'claim_id': unknown claim 'q'")
    ):
        read_tables(claims, reports=reports)


def test_unknown_claim_lists_at_most_ten_known_claims():
    claims = [{"claim_id": f"c{i:02d}"} for i in range(15)]
    with pytest.raises(ValidationError) as info:
        case_from_records(records(claims=claims, reports=[one_report(claim_id="zz")]))
    msg = str(info.value)
    assert "c09, ..." in msg and "c10" not in msg


def test_empty_claims_table_means_no_claim_is_known(tmp_path):
    claims = claims_csv(tmp_path, "claim_id,text\n")
    with pytest.raises(ValidationError, match=r"unknown claim 'a'; known claims: $"):
        read_tables(claims, reports=reports_csv(tmp_path))


# ------------------------------------------------------------------ unknown sources and claims


def test_unknown_sources_warn_and_list_them(tmp_path):
    sources = write(tmp_path, "sources.csv", "source_id,kind\ns1,media\n")
    reports = reports_csv(tmp_path, f"{REPORTS_HEADER}\na,s1,confirm\na,zed,deny\nb,ghost,for\n")
    with pytest.warns(ValidationWarning) as rec:
        case = read_tables(claims_csv(tmp_path), sources, reports)
    assert len(rec) == 1
    msg = str(rec[0].message)
    assert msg.startswith(f"{reports}: 2 source(s) not in the sources table get the default prior")
    assert msg.endswith("ghost, zed")
    # never an error: the reports are kept and the unknown sources get a bare Source
    assert len(case.reports) == 3
    assert case.source_map()["ghost"].kind is None


def test_unknown_source_warning_lists_at_most_ten():
    reports = [one_report(source_id=f"u{i:02d}") for i in range(12)]
    with pytest.warns(ValidationWarning, match=r"12 source\(s\) .*u09, \.\.\.$"):
        case_from_records(records(sources=[{"source_id": "s1"}], reports=reports))


def test_no_warning_when_sources_are_known_or_no_sources_table(tiny_records):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        case_from_records(tiny_records)
        del tiny_records["sources"]
        case_from_records(tiny_records)


def test_validation_warning_is_not_an_error():
    assert not issubclass(ValidationWarning, BeliefError)
    assert issubclass(ValidationError, BeliefError) and issubclass(ValidationError, ValueError)


def test_claims_created_from_reports_without_claims_table(tmp_path):
    text = f"{REPORTS_HEADER}\nz,s1,confirm\na,s2,deny\nz,s3,neutral\n"
    signals = write(tmp_path, "signals.csv", "signal_id,claim_id,kind\ng1,only_signal,k\n")
    case = read_tables(reports=reports_csv(tmp_path, text), signals=signals)
    assert case.claim_ids == ["z", "a", "only_signal"]  # order of first appearance
    assert all(c == Claim(c.claim_id) for c in case.claims)
    recs = {"reports": [one_report(claim_id="q"), one_report(claim_id="p")]}
    assert case_from_records(recs).claim_ids == ["q", "p"]
    assert case_from_records({**recs, "claims": []}).claim_ids == ["q", "p"]


# --------------------------------------------------------------------------- unknown columns


def test_unknown_columns_are_kept_as_extra(tmp_path):
    claims = claims_csv(tmp_path, "claim_id,url,empty\na,http://x,\nb,,\n")
    reports = reports_csv(tmp_path, f"{REPORTS_HEADER},note\na,s1,for,hello\n")
    case = read_tables(claims, reports=reports)
    assert case.claims[0].extra == {"url": "http://x"}  # empty cells are not kept
    assert case.claims[1].extra == {}
    assert case.reports[0].extra == {"note": "hello"}
    recs = records(reports=[one_report(weight=2, tags=["x", "y"], missing=None)])
    assert case_from_records(recs).reports[0].extra == {"weight": 2, "tags": ["x", "y"]}


def test_extra_does_not_take_part_in_equality():
    assert Report("a", "s", "confirm", extra={"x": 1}) == Report("a", "s", "confirm")


# ------------------------------------------------------------------------- files and structure


def test_row_numbers_start_at_two_for_the_first_csv_data_row(tmp_path):
    reports = reports_csv(tmp_path, f"{REPORTS_HEADER}\na,s1,nope\n")
    with pytest.raises(ValidationError, match=esc(f"{reports}, row 2, column 'stance'")):
        read_tables(reports=reports)
    with pytest.raises(ValidationError, match=esc("x.yaml, reports entry 1, field 'stance'")):
        case_from_records({"reports": [one_report(stance="nope")]}, "x.yaml")


def test_quoted_multiline_field_keeps_spreadsheet_row_numbers(tmp_path):
    reports = reports_csv(tmp_path, f'{REPORTS_HEADER},note\na,s1,for,"two\nlines"\na,s2,bad,x\n')
    with pytest.raises(ValidationError, match=esc(f"{reports}, row 3, column 'stance'")):
        read_tables(reports=reports)


def test_row_with_more_fields_than_header_is_an_error_not_a_shift(tmp_path):
    # pandas would otherwise use the first column as an index and shift every value left
    claims = claims_csv(tmp_path, "claim_id,text\nc1,Smith, John said so\n")
    with pytest.raises(
        ValidationError, match=esc(f"{claims}, row 2: more fields than the header has columns")
    ):
        read_tables(claims, reports=reports_csv(tmp_path, f"{REPORTS_HEADER}\nc1,s1,for\n"))
    claims = claims_csv(tmp_path, "claim_id,text\nc1,fine\nc2,a,b\n")
    with pytest.raises(ValidationError, match=esc(f"{claims}: cannot parse as CSV")):
        read_tables(claims, reports=reports_csv(tmp_path, f"{REPORTS_HEADER}\nc1,s1,for\n"))


def test_csv_file_problems(tmp_path):
    with pytest.raises(ValidationError, match=esc(f"{tmp_path / 'nope.csv'}: file not found")):
        read_tables(reports=tmp_path / "nope.csv")
    empty = write(tmp_path, "empty.csv", "")
    with pytest.raises(ValidationError, match=esc(f"{empty}: cannot parse as CSV")):
        read_tables(reports=empty)
    latin = tmp_path / "latin.csv"
    latin.write_bytes(b"claim_id,source_id,stance\n\xe9t\xe9,s,confirm\n")
    with pytest.raises(ValidationError, match=esc(f"{latin}: cannot parse as CSV")):
        read_tables(reports=latin)


def test_header_only_csv_is_an_empty_table(tmp_path):
    case = read_tables(reports=reports_csv(tmp_path, f"{REPORTS_HEADER}\n"))
    assert case.reports == () and case.claims == ()


def test_utf8_bom_header_is_understood(tmp_path):
    p = tmp_path / "reports.csv"
    p.write_text(f"{REPORTS_HEADER}\na,s1,confirm\n", encoding="utf-8-sig")
    assert read_tables(reports=p).claim_ids == ["a"]


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n", ""])
def test_non_mapping_yaml(tmp_path, text):
    p = write(tmp_path, "case.yaml", text)
    with pytest.raises(ValidationError, match=esc(f"{p}: expected a mapping with keys name")):
        read_case(p)


def test_non_mapping_json(tmp_path):
    p = write(tmp_path, "case.json", "[1, 2]")
    with pytest.raises(ValidationError, match=esc(f"{p}: expected a mapping")):
        read_case(p)


def test_invalid_yaml_is_one_line_with_position(tmp_path):
    p = write(tmp_path, "case.yaml", "claims:\n  - {claim_id: a\n  - b\n")
    with pytest.raises(ValidationError, match=esc(f"{p}: not valid YAML: ")) as info:
        read_case(p)
    assert "\n" not in str(info.value)
    assert "line" in str(info.value)


def test_yaml_is_loaded_safely(tmp_path):
    p = write(tmp_path, "case.yaml", "claims: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(ValidationError, match="not valid YAML"):
        read_case(p)


def test_invalid_json(tmp_path):
    p = write(tmp_path, "case.json", '{"claims": [}')
    with pytest.raises(ValidationError, match=esc(f"{p}: not valid JSON: ")):
        read_case(p)


def test_missing_file_directory_and_binary(tmp_path):
    with pytest.raises(
        ValidationError, match=esc(f"{tmp_path / 'no.yaml'}: cannot read case file")
    ):
        read_case(tmp_path / "no.yaml")
    with pytest.raises(ValidationError, match=esc(f"{tmp_path}: cannot read case file")):
        read_case(tmp_path)
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage\xe5\x00")
    with pytest.raises(ValidationError, match=esc(f"{binary}: cannot read case file (not UTF-8")):
        read_case(binary)


@pytest.mark.parametrize("table", ["claims", "sources", "reports", "signals"])
@pytest.mark.parametrize("value", ["abc", {"claim_id": "a"}, [1, 2], ["a"], 5])
def test_tables_must_be_lists_of_mappings(table, value):
    with pytest.raises(ValidationError, match=esc(f"c.yaml: '{table}' must be a list of mappings")):
        case_from_records(records(**{table: value}), "c.yaml")


def test_config_must_be_a_mapping():
    with pytest.raises(ValidationError, match=esc("c.yaml: 'config' must be a mapping")):
        case_from_records(records(config=[1, 2]), "c.yaml")


def test_other_top_level_keys_go_to_meta(tiny_records):
    case = case_from_records({**tiny_records, "focus_claim": "a", "source_document": "x.txt"})
    assert case.meta == {"focus_claim": "a", "source_document": "x.txt"}
    assert case.name == "tiny" and case.config["base_rate"] == 0.4


# ----------------------------------------------------------------------------------- config


def case_with_config(**config) -> Case:
    return case_from_records(records(config=config))


def test_unknown_config_key():
    with pytest.raises(
        ValidationError, match=r"config: unknown setting\(s\) bogus, zeta; expected any of "
    ):
        Config.from_case(case_with_config(base_rate=0.3, bogus=1, zeta=2))


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("base_rate", 0.0, "a number in (0, 1)"),
        ("base_rate", 1.0, "a number in (0, 1)"),
        ("base_rate", -0.2, "a number in (0, 1)"),
        ("base_rate", "abc", "a number in (0, 1)"),
        ("base_rate", True, "a number in (0, 1)"),
        ("copy_weight", -0.1, "a number in [0, 1]"),
        ("copy_weight", 1.5, "a number in [0, 1]"),
        ("max_enumeration", 0, "an integer in 1..24"),
        ("max_enumeration", 25, "an integer in 1..24"),
        ("max_enumeration", 2.5, "an integer in 1..24"),
        ("on_large", "explode", "one of approximate, error"),
    ],
)
def test_bad_config_values(key, value, allowed):
    with pytest.raises(
        ValidationError, match=esc(f"config {key}: expected {allowed} but got {value!r}")
    ):
        Config.from_case(case_with_config(**{key: value}))


def test_bad_signal_effect_and_overrides():
    with pytest.raises(ValidationError, match=r"config signal_effects\['k'\]: expected a number"):
        Config.from_case(case_with_config(signal_effects={"k": math.inf}))
    with pytest.raises(ValidationError, match=r"config signal_effects: expected a mapping"):
        Config.from_case(case_with_config(signal_effects=3))
    with pytest.raises(ValidationError, match=r"kind_priors\['blog'\]\.sensitivity: expected"):
        Config.from_case(case_with_config(kind_priors={"blog": {"sensitivity": 2}}))
    with pytest.raises(ValidationError, match=r"kind_priors\['blog'\]: expected a mapping with"):
        Config.from_case(case_with_config(kind_priors={"blog": {"sens": 0.5}}))
    with pytest.raises(ValidationError, match="config base_rate"):
        Config.from_case(case_with_config(), base_rate=2.0)
    cfg = Config.from_case(case_with_config(base_rate=0.2), base_rate=0.7, copy_weight=None)
    assert cfg.base_rate == 0.7 and cfg.copy_weight == 0.0


def test_khasham_config_is_valid(khasham_path):
    cfg = Config.from_case(read_case(khasham_path))
    assert cfg.signal_effects["hostile_rhetoric"] == 0.7


def test_nan_written_in_yaml_or_json_is_invalid_not_missing():
    # DataFrame NaN means an empty cell; a NaN the user wrote in a case file is a bad value
    with pytest.raises(ValidationError, match=r"claims entry 1, field 'prior': .* got nan"):
        case_from_records({"claims": [{"claim_id": "c", "prior": math.nan}]})
    with pytest.raises(ValidationError, match=r"reports entry 1, field 'time': .* got nan"):
        case_from_records(
            {"reports": [{"claim_id": "c", "source_id": "s", "stance": "deny", "time": math.nan}]}
        )


def test_unknown_source_named_only_in_derived_from_is_warned_about(tmp_path):
    from belief.core.compiler import read_evidence

    rec = {
        "sources": [{"source_id": "echo"}],
        "reports": [
            {"claim_id": "c", "source_id": "echo", "stance": "deny", "derived_from": "smart"}
        ],
    }
    with pytest.warns(ValidationWarning, match=r"1 source\(s\) not in the sources table .*: smart"):
        case_from_records(rec)
    pd.DataFrame(rec["reports"]).to_csv(tmp_path / "r.csv", index=False)
    pd.DataFrame(rec["sources"]).to_csv(tmp_path / "s.csv", index=False)
    with pytest.warns(ValidationWarning, match=r": smart"):
        read_evidence(tmp_path / "r.csv", sources=tmp_path / "s.csv")

"""Reading Accept-Encoding (RFC 9110 12.5.3): gzip is sent only to a client that accepts it."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import Headers

from web.caching import accepts_gzip, conditional_headers

# RFC 9110 12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
QVALUE = re.compile(r"0(\.[0-9]{0,3})?|1(\.0{0,3})?")

valid_qvalues = st.one_of(
    st.builds(lambda d: "0." + d, st.text("0123456789", max_size=3)),
    st.builds(lambda z: "1." + z, st.text("0", max_size=3)),
    st.sampled_from(["0", "1"]),
)
# What a float() would read but the grammar refuses: above 1, past three decimals, signs,
# exponents, underscores, spaces, words.
invalid_qvalues = st.one_of(
    st.floats(min_value=1.0001, max_value=1e6).map(repr),
    st.builds(lambda d: "0." + d, st.text("0123456789", min_size=4, max_size=6)),
    st.sampled_from(["+1", "+0.5", "1e0", "5e-1", "0_5", " 0.5", ".5", "inf"]),
    st.sampled_from(["nan", "Infinity", "-0", "-1", "2", "1.001", "0x1", "", "one"]),
)
# Spelling RFC 9110 allows: codings and the parameter name in any case, spaces around ";".
codings = st.sampled_from(["gzip", "GZIP", "Gzip", "x-gzip"])
weights = st.sampled_from([";q=", ";Q=", " ; q=", ";\tq="])
others = st.lists(st.sampled_from(["br", "deflate", "zstd", "identity", "compress"]), max_size=3)


@given(valid_qvalues)
def test_the_grammar_strategy_makes_only_valid_qvalues(qvalue: str) -> None:
    assert QVALUE.fullmatch(qvalue)


@given(invalid_qvalues)
def test_the_invalid_strategy_makes_only_invalid_qvalues(qvalue: str) -> None:
    assert not QVALUE.fullmatch(qvalue)


@given(codings, weights, valid_qvalues, others)
def test_gzip_with_a_qvalue_is_accepted_exactly_when_the_qvalue_is_above_zero(
    coding: str, weight: str, qvalue: str, other: list[str]
) -> None:
    header = ", ".join([*other, f"{coding}{weight}{qvalue}"])

    assert accepts_gzip(header) is (float(qvalue) > 0)


@given(codings, invalid_qvalues, others)
def test_a_qvalue_outside_the_grammar_does_not_earn_gzip(
    coding: str, qvalue: str, other: list[str]
) -> None:
    # q above 1, or more than three decimals, is no weight a client can have meant; the body
    # goes out plain, which every client accepts.
    assert accepts_gzip(", ".join([*other, f"{coding};q={qvalue}"])) is False


@given(valid_qvalues, others)
def test_a_wildcard_speaks_for_gzip_only_when_gzip_is_not_named(
    qvalue: str, other: list[str]
) -> None:
    assert accepts_gzip(", ".join([*other, f"*;q={qvalue}"])) is (float(qvalue) > 0)
    assert accepts_gzip(", ".join([*other, f"*;q={qvalue}", "gzip;q=0"])) is False
    assert accepts_gzip(", ".join([f"*;q={qvalue}", *other, "gzip"])) is True


@pytest.mark.parametrize(
    ("header", "gzip"),
    [
        pytest.param(None, False, id="no-header"),
        pytest.param("", False, id="empty: no coding wanted"),
        pytest.param("gzip", True, id="gzip"),
        pytest.param("gzip;q=0", False, id="gzip-refused"),
        pytest.param("gzip;q=0.000", False, id="gzip-refused-three-decimals"),
        pytest.param("identity;q=0", False, id="identity-refused-gzip-unnamed"),
        pytest.param("identity;q=0, gzip", True, id="identity-refused-gzip-named"),
        pytest.param("identity, gzip;q=0", False, id="identity-only"),
        pytest.param("br, gzip;q=0.5", True, id="gzip-second-choice"),
        pytest.param("*;q=0", False, id="nothing-but-identity"),
        pytest.param("gzip;q=1.5", False, id="q-above-one"),
        pytest.param("gzip;q=0.0001", False, id="q-four-decimals"),
        pytest.param("gzip;q=abc", False, id="q-not-a-number"),
    ],
)
def test_accept_encoding_examples(header: str | None, gzip: bool) -> None:
    assert accepts_gzip(header) is gzip


header_names = st.sampled_from(
    [b"accept-encoding", b"if-none-match", b"host", b"accept", b"x-request-id", b"if-match"]
)
header_values = st.binary(max_size=12)


@given(st.lists(st.tuples(header_names, header_values), max_size=8))
def test_the_conditional_headers_are_what_starlette_headers_give(
    raw: list[tuple[bytes, bytes]],
) -> None:
    # The snapshot reads take them in one pass; they must answer what Headers.get answers,
    # repeated or absent headers included.
    headers = Headers(scope={"headers": raw})
    expected = (headers.get("accept-encoding"), headers.get("if-none-match"))
    assert conditional_headers({"headers": raw}) == expected

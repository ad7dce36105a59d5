"""`MarkerScanner`: segments, held-back partial markers, refusals."""

import pytest

from app.pipeline.markers import MarkerScanner


def test_segments_and_held_back_prefix() -> None:
    scanner = MarkerScanner(("<a>", "</a>"))
    assert scanner.feed("x<a>y</") == ["x", "<a>", "y"]
    assert scanner.pending == "</"
    assert scanner.feed("a>z<") == ["</a>", "z"]
    assert scanner.flush() == "<"
    assert scanner.pending == ""


def test_angle_brackets_that_cannot_start_a_marker_are_text() -> None:
    scanner = MarkerScanner(("<a>",))
    assert scanner.feed("1 < 2 <b> <") == ["1 < 2 <b> "]
    assert scanner.feed("<<a>") == ["<<", "<a>"]  # the held "<" was text


def test_markers_must_start_with_angle_bracket() -> None:
    with pytest.raises(ValueError, match="must start with '<'"):
        MarkerScanner(("[x]",))

"""Charts of a drill and of a load run, drawn from recorded results (no run needed):
the PNG has the figure's size, is not blank, and shows the marks it must."""

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("matplotlib", reason="matplotlib is in the dev extra: pip install -e '.[dev]'")
from PIL import Image

from voxflow_local.plots import (
    DRILL_MARKS,
    drill_chart,
    drill_figure,
    load_chart,
    load_figure,
    main,
    per_second,
)

FIXTURES = Path(__file__).parent / "fixtures"
DRILL = FIXTURES / "drill_results.json"
LOAD = FIXTURES / "load_results.json"


def recorded(path: Path) -> dict[str, Any]:
    results: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return results


def red_pixels(image: Image.Image) -> int:
    """Pixels of the kill's red (matplotlib's tab:red, antialiased onto white)."""
    counted: Any = image.convert("RGB").getcolors(1 << 24)  # [(count, (r, g, b))]
    return sum(
        int(count)
        for count, (r, g, b) in counted
        if r > 180 and r - max(g, b) > 60 and abs(g - b) < 25  # not orange
    )


def assert_chart(path: Path, size: tuple[int, int]) -> Image.Image:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(path)
    assert image.size == size
    colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None
    assert len(colours) > 50
    (count, most), *_ = sorted(colours, reverse=True)
    assert most == (255, 255, 255)
    assert count < size[0] * size[1] * 0.97
    return image


def test_drill_chart_draws_both_regions_and_the_kill(tmp_path: Path) -> None:
    results = recorded(DRILL)
    image = assert_chart(drill_chart(results, tmp_path / "drill.png"), (1100, 650))
    assert red_pixels(image) > 200  # the kill's dashed line on both panels
    # Without the kill mark, that red is gone: the test sees the marks, not just ink.
    results["timeline"]["marks"]["kill"] = None
    bare = Image.open(drill_chart(results, tmp_path / "bare.png"))
    assert red_pixels(bare) < red_pixels(image) / 4


def test_the_recorded_drill_timeline_agrees_with_its_figures() -> None:
    results = recorded(DRILL)
    timeline = results["timeline"]
    assert len(timeline["published"]) == results["accepted"]
    assert len(timeline["answered"]) == results["terminal"]
    assert {region for _, region in timeline["answered"]} <= {
        timeline["primary"],
        timeline["secondary"],
    }
    marks = timeline["marks"]
    assert marks["first_secondary_completion"] - marks["kill"] == pytest.approx(results["rto_s"])
    assert marks["kill"] <= marks["detected"] <= marks["first_secondary_completion"]


def test_load_chart_draws_latencies_and_kills(tmp_path: Path) -> None:
    results = recorded(LOAD)
    assert results["timeline"]["kills"]
    image = assert_chart(load_chart(results, tmp_path / "load.png"), (1200, 480))
    assert red_pixels(image) > 200  # the kills' dashed lines


def dashed(axis: Any) -> list[tuple[str, float]]:
    """The vertical dashed lines of a panel: (label, x)."""
    return [
        (str(line.get_label()), float(line.get_xdata()[0]))
        for line in axis.get_lines()
        if line.get_linestyle() == "--"
    ]


def test_the_drill_chart_marks_the_kill_the_detection_and_the_failback() -> None:
    results = recorded(DRILL)
    marks = results["timeline"]["marks"]
    figure = drill_figure(results)
    try:
        published, answered = figure.axes
        for axis in (published, answered):
            drawn = dashed(axis)
            for key in ("kill", "detected", "failback_healthy"):
                at = [x for label, x in drawn if label == DRILL_MARKS[key][0]]
                assert at == [pytest.approx(marks[key])], key
            assert len(drawn) == sum(at is not None for at in marks.values())
    finally:
        figure.clf()


def with_faults(results: dict[str, Any]) -> dict[str, Any]:
    """The recorded load with its faults timed: a burst at each kill, one a second between."""
    kills = results["timeline"]["kills"]
    end = int(max(kills)) + 5
    times = [[float(t) + 0.5, "dynamodb:ThrottlingException"] for t in range(end)]
    times += [[k + 0.1 * n, "s3:SlowDown"] for k in kills for n in range(5)]
    results["timeline"]["faults"] = sorted(times)
    return results


def test_the_load_chart_marks_each_kill_and_the_faults_per_second(tmp_path: Path) -> None:
    results = with_faults(recorded(LOAD))
    kills = results["timeline"]["kills"]
    figure = load_figure(results)
    try:
        _latency, throughput, faulted = figure.axes
        drawn = dashed(throughput)
        assert [x for _, x in drawn] == pytest.approx(kills)
        assert drawn[0][0] == "runner killed"
        (faults_line,) = faulted.get_lines()
        per_s = list(faults_line.get_ydata())
        assert sum(per_s) == len(results["timeline"]["faults"])
        assert max(per_s) == 6  # a kill's burst and that second's throttle
        labels = [text.get_text() for text in throughput.get_legend().get_texts()]
        assert "faults injected / s (right)" in labels
    finally:
        figure.clf()
    image = assert_chart(load_chart(results, tmp_path / "load.png"), (1200, 480))
    assert orange_pixels(image) > 100
    # Recorded before faults were timed: no faults axis, the kills still drawn.
    bare = recorded(LOAD)
    figure = load_figure(bare)
    try:
        assert len(figure.axes) == 2
    finally:
        figure.clf()


def orange_pixels(image: Image.Image) -> int:
    """Pixels of the faults' orange (matplotlib's tab:orange, #ff7f0e)."""
    counted: Any = image.convert("RGB").getcolors(1 << 24)
    return sum(int(count) for count, (r, g, b) in counted if r > 220 and 100 < g < 170 and b < 80)


def test_results_without_a_timeline_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no timeline"):
        drill_chart({"rto_s": 1.0}, tmp_path / "x.png")
    with pytest.raises(ValueError, match="no timeline"):
        load_chart({"throughput_rps": 1.0}, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_redraw_from_a_results_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "again.png"
    assert main(["drill", str(DRILL), str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert_chart(out, (1100, 650))
    assert main(["pie", str(DRILL), str(out)]) == 2


def test_per_second_bins() -> None:
    assert per_second([0.1, 0.9, 1.5, 3.99, 7.0], 4.0) == ([0, 1, 2, 3, 4], [2, 1, 0, 1, 0])

"""The io benchmark command runs end to end on a tiny clip and prints figures that parse and
agree with each other (how fast is not checked: that is the command's job)."""

from __future__ import annotations

import math
import re

from segany_video.benchmarks import io as bench_io

_ROW = re.compile(
    r"^  (?P<name>.+?)\s+(?P<rate>[\d.]+) frames/s(?:\s+(?P<cpu>[\d.]+) CPU ms/frame)?\s+"
    r"\((?P<frames>\d+) frames(?:, each read twice)?\)(?:\s+ratio (?P<ratio>[\d.]+))?"
)


def test_bench_io_prints_sane_rates_counts_and_ratios(h264_mp4, capsys):
    assert bench_io.main([str(h264_mp4.path), "--repeats", "1", "--mask-frames", "3"]) == 0
    rows = {}
    for line in capsys.readouterr().out.splitlines():
        match = _ROW.match(line)
        if match:
            rows[match["name"]] = match
    raw = rows["raw PyAV decode + to_ndarray(rgb24)"]
    readers = [rows[name] for name in rows if name.startswith("reader batches")]
    backwards = next(rows[name] for name in rows if name.startswith("forward pass"))
    writer = next(rows[name] for name in rows if name.startswith("FFV1 mask writer"))
    assert len(readers) == 2
    frames = len(h264_mp4.frames)
    for row in (raw, *readers, backwards):
        assert int(row["frames"]) == frames  # every frame of the clip decoded, once per pass
        assert 0 < float(row["rate"]) < math.inf
    for row in readers:
        # The printed ratio is the two printed rates' ratio (to the printed rounding).
        expected = float(row["rate"]) / float(raw["rate"])
        assert abs(float(row["ratio"]) - expected) <= 0.01 + 0.002 * expected
        assert float(row["cpu"]) > 0
    assert int(writer["frames"]) == 3 and float(writer["rate"]) > 0

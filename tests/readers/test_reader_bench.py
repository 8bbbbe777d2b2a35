"""The io benchmark command runs end to end on a tiny clip (figures are not checked)."""

from __future__ import annotations

from segany_video.benchmarks import io as bench_io


def test_bench_io_reports_ratio_and_writer(h264_mp4, capsys):
    assert bench_io.main([str(h264_mp4.path), "--repeats", "1", "--mask-frames", "3"]) == 0
    out = capsys.readouterr().out
    assert "ratio" in out and "raw PyAV" in out
    assert "mask writer" in out

"""Encoder tuning hooks (wrapping a real encoder in torch.compile is left to the GPU benchmark:
importing the compiler alone takes tens of seconds)."""

from __future__ import annotations

import logging

import torch
from engine_stubs import StubEngine
from torch import nn

from segany_video.runtime.encoder_tuning import (
    compile_encoder,
    image_encoder_of,
    use_channels_last,
)


class ConvEngine(nn.Module, StubEngine):
    def __init__(self) -> None:
        nn.Module.__init__(self)
        StubEngine.__init__(self)
        self.image_encoder = nn.Conv2d(3, 4, 3)


def test_compile_on_engine_without_encoder_says_so(caplog):
    with caplog.at_level(logging.WARNING):
        assert not compile_encoder(StubEngine())
    assert "no neural image encoder" in caplog.text
    assert image_encoder_of(StubEngine()) is None


def test_channels_last_converts_conv_weights_of_module_engines_only():
    model = ConvEngine()
    assert use_channels_last(model)
    assert model.image_encoder.weight.is_contiguous(memory_format=torch.channels_last)
    assert not use_channels_last(StubEngine())

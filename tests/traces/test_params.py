"""Typed layer params: parsed once on construction, aliases normalised, errors named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from prosparsity.core.errors import ConfigError, TraceError
from prosparsity.traces.params import (
    AttentionParams,
    AttentionVariant,
    ConvParams,
    LifParams,
    MissingParam,
)
from prosparsity.traces.reader import TraceReader
from prosparsity.traces.schema import LayerKind, LayerRecord, TraceInfo
from prosparsity.traces.writer import TraceWriter
from tests.traces.legacy import edit_meta


def test_aliases_are_normalised_once() -> None:
    rec = LayerRecord("a", LayerKind.ATTENTION, {"dim": 64, "sequence_length": 8,
                                                 "num_heads": 4, "attention_type": "SDT"})
    p = rec.parsed
    assert isinstance(p, AttentionParams)
    assert (p.dim, p.seq_len, p.heads, p.variant) == (64, 8, 4, AttentionVariant.SDT)
    assert dict(rec.params)["sequence_length"] == 8  # the stored params stay as given
    with pytest.raises(ConfigError, match="a.params.seq_len: given twice"):
        LayerRecord("a", LayerKind.ATTENTION, {"seq_len": 8, "sequence_length": 9})


def test_values_are_validated_with_the_field_named() -> None:
    conv = LayerRecord("c", LayerKind.CONV2D, {"in_channels": 3, "kernel": [3, 3],
                                               "input_hw": [8, 6], "stride": np.int64(2)})
    p = conv.parsed
    assert isinstance(p, ConvParams)
    assert (p.kernel, p.input_hw, p.stride, p.padding, p.groups) == (3, (8, 6), 2, 0, 1)
    for params, message in (
        ({"neurons": 2.5}, "l.params.neurons: must be an integer, got 2.5"),
        ({"neurons": True}, "l.params.neurons: must be an integer"),
        ({"neurons": -1}, "l.params.neurons: must be >= 0"),
        ({"neurons": 4, "time_steps": 0}, "l.params.time_steps: must be >= 1"),
    ):
        with pytest.raises(ConfigError) as exc:
            LayerRecord("l", LayerKind.LIF, params)
        assert str(exc.value).startswith(message)


def test_lif_spike_counts_are_optional() -> None:
    old = LayerRecord("l", LayerKind.LIF, {"neurons": 10, "neuron": "LIFNode"})
    assert isinstance(old.parsed, LifParams) and old.parsed.spike_rate is None
    assert old.parsed.extra == {"neuron": "LIFNode"}  # unknown keys kept, unchecked
    new = LayerRecord("l", LayerKind.LIF, {"neurons": 10, "spikes": 30, "elements": 120})
    assert new.parsed.spike_rate == 0.25


def test_a_missing_field_says_what_needs_it() -> None:
    rec = LayerRecord("fc", LayerKind.LINEAR, {"in_features": 4})
    with pytest.raises(MissingParam, match="fc.params.out_features: missing .needed for x"):
        rec.parsed.require("out_features", "x")


def test_a_trace_with_a_bad_value_names_file_layer_and_field(tmp_path: Path) -> None:
    path = tmp_path / "t.h5"
    with TraceWriter(path, TraceInfo(model="m")) as w:
        w.add_layer(LayerRecord("lif_1", LayerKind.LIF, {"neurons": 3}))

    def bad_neurons(doc: dict) -> None:
        doc["layers"][0]["params"]["neurons"] = "many"

    edit_meta(path, bad_neurons)  # a validly sealed file whose metadata says "many"
    with pytest.raises(TraceError) as exc, TraceReader(path):
        pass
    assert str(exc.value) == (
        f"{path}: lif_1.params.neurons: must be an integer, got 'many'")

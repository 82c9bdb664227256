"""Test helper: layer records of a paper workload read from ``workloads.json``.

Used to pair the reference ``.npz`` dumps with their layer metadata without depending on
the trace importer (tested elsewhere)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from prosparsity.traces.schema import LayerKind, LayerRecord


def paper_records(reference: Path, workload: str, npz: Path) -> list[LayerRecord]:
    """Records of ``workload`` in execution order, with the dump's operands attached."""
    spec = json.loads((reference / "paper" / "workloads.json").read_text())["workloads"][workload]
    arrays = np.load(npz, allow_pickle=False)
    out: list[LayerRecord] = []
    for layer in spec:
        op, name = layer["op"], layer["name"]
        common = {"batch": layer.get("batch", 1), "time_steps": layer.get("time_steps", 1)}
        if op == "conv2d":
            params = {
                k: layer[k]
                for k in ("input_hw", "in_channels", "out_channels", "kernel", "padding", "stride")
            }
            shape = arrays[name].shape
            out.append(
                LayerRecord(name, LayerKind.CONV2D, {**params, **common}, shape, "T,C,H,W")
            )
        elif op == "fc":
            params = {
                "in_features": layer["in_features"],
                "out_features": layer["out_features"],
                "seq_len": layer["sequence_length"],
            }
            shape = arrays[name].shape
            layout = "T,L,K" if len(shape) == 3 else "T,K"
            out.append(LayerRecord(name, LayerKind.LINEAR, {**params, **common}, shape, layout))
        elif op == "attention":
            params = {k: layer[k] for k in ("dim", "heads", "variant")}
            params["seq_len"] = layer["sequence_length"]
            for operand in ("q", "k", "v"):
                key = f"{name}_{operand}"
                if key in arrays.files:
                    out.append(
                        LayerRecord(
                            key,
                            LayerKind.ATTENTION_OPERAND,
                            {"operand": operand, "attention": name, **params, **common},
                            arrays[key].shape,
                            "T,L,D",
                        )
                    )
            out.append(LayerRecord(name, LayerKind.ATTENTION, {**params, **common}))
        elif op == "lif":
            out.append(LayerRecord(name, LayerKind.LIF, {"neurons": layer["neurons"], **common}))
    return out

"""The capture engine: hooks that record every spiking GEMM of a PyTorch SNN.

:class:`SpikeCapture` is a context manager over a model. While it is open, hooks record,
in execution order:

* the INPUT of every ``nn.Linear``, ``nn.Conv1d`` and ``nn.Conv2d`` (spikingjelly's
  ``layer.*`` wrappers are subclasses, so they are included) as a GEMM record with its
  spike tensor, stored time-first;
* matrix products that are no modules (``@``, ``matmul``, ``bmm``, ``einsum``) of spike
  operands: two of them in one module call forming an attention block become an
  ``attention`` record and its ``q``, ``k``, ``v`` operands; a spike operand against a
  weight a ``linear`` record (:mod:`.products`);
* the OUTPUT of the modules named in ``attention_operands`` (q, k, v and the
  attention-by-value product of the registry's transformers) as ``attention_operand``
  records;
* a ``lif`` record for every spiking neuron layer, as the framework adapters of
  :mod:`prosparsity.models.adapters` recognise them: ``neurons`` (per sample and time
  step), ``neuron`` (class name), and the layer's output spike count: ``spikes`` (non-zero
  output values) and ``elements`` (output values), so its spike rate is
  ``spikes / elements``;
* ``layernorm`` and ``maxpool2d`` records for ``nn.LayerNorm`` / ``nn.MaxPool2d``.

Time. Stored tensors are always time-first, ``T,B,...``. Which axis of each layer's tensor
is the batch and which is time is observed in a probe forward pass (:mod:`.layout`) and
kept per record (:attr:`CaptureSummary.layouts`); a layer may see ``[T, B, ...]``,
``[B, T, ...]``, ``[T*B, ...]`` or ``[B, ...]`` once per step whatever the input's layout.
Under the ``loop`` and ``step`` runners each layer is called T times with one step; the
steps are stacked time-first when the forward returns. A module called ``r`` times per
time step yields ``r`` records, the second named ``NAME@2`` and so on (likewise a module
called twice in one multi-step forward).

Names. A record is named after its module in ``model.named_modules()``, dots kept
(``features.3``); a product's records after the module whose forward made it.

Values. Inputs are recorded as they are: binary spikes bit-packed on the tensor's own
device before one host copy, sums of spikes (small non-negative integers, e.g. 0..2 in
spikingjelly's Spikformer) as uint8 with their value levels, never thresholded
(:mod:`.values`). A GEMM whose input is not made of non-negative integers (the analog
image entering a direct-encoding first layer) is no spiking GEMM: it is skipped and
listed in :attr:`CaptureSummary.skipped`. A model can state this up front by giving the
layer module a true attribute ``prosparsity_analog_input``.

Neurons. A recorded GEMM whose input was produced by no recognised neuron (no neuron ran
since the previous GEMM, and the input is neither the model's input nor a neuron's
output nor another fed GEMM's input) is listed in :attr:`CaptureSummary.no_neuron`: its
LIF cost is missing from every simulation of the trace.

Memory. Each forward pass's packed bytes stream into the trace (:mod:`.store`): a
background thread appends them along ``B`` while the model runs the next pass. Memory is
bounded by one forward pass and two passes' packed bytes in flight.

Failure. If the forward raises, the writer fails (a full disk), or Ctrl-C arrives
(checked at every hook), the exception propagates; the trace writer's temporary file is
removed, so no file that reads as complete is left behind.
"""

from prosparsity.models.engine.config import (
    DEFAULT_MEMORY_BYTES,
    SKIP_AGGREGATED,
    SKIP_ANALOG,
    SKIP_DECLARED,
    SKIP_NO_BATCH,
    CaptureConfig,
    CaptureError,
    CaptureSummary,
    CaptureWarning,
    Layout,
    StepwiseModel,
)
from prosparsity.models.engine.hooks import SpikeCapture
from prosparsity.models.engine.layout import Reading, to_time_first
from prosparsity.models.engine.probe import Estimate, ResourceError

__all__ = [
    "DEFAULT_MEMORY_BYTES",
    "SKIP_AGGREGATED",
    "SKIP_ANALOG",
    "SKIP_DECLARED",
    "SKIP_NO_BATCH",
    "CaptureConfig",
    "CaptureError",
    "CaptureSummary",
    "CaptureWarning",
    "Estimate",
    "Layout",
    "Reading",
    "ResourceError",
    "SpikeCapture",
    "StepwiseModel",
    "to_time_first",
]

"""The paper's study design, as the harness's registry names it: which accelerator the
paper proposes, which baseline its headline compares with, what Figure 8 is normalised
to, and Figure 9's ablations of Prosperity.

These are facts of the paper, not a table of the accelerators the harness knows (each
accelerator declares its own facts on its registration, ``prosparsity.accel.registry``):
the studies (``demo``, ``reproduce``), the default baseline of every speedup, and the
sweep's default baseline read them from here.
"""

from __future__ import annotations

from collections.abc import Mapping

from prosparsity.paper._base import frozen as _frozen

#: The accelerator the paper proposes (the registry name of its model).
SUBJECT = "prosperity"

#: The baseline of the abstract's headline (7.4x over PTB): every speedup and energy
#: efficiency of a run is normalised to it unless the run names another.
HEADLINE_BASELINE = "ptb"

#: Figure 8 normalises latency and energy to Eyeriss.
FIG8_NORMALISATION = "eyeriss"

#: Figure 9's ablations of Prosperity: label -> the config changes selecting them (bit
#: sparsity only, dense, issue type 1).
ABLATIONS: Mapping[str, Mapping[str, object]] = _frozen({
    "bit": {"sparsity": "bit"},
    "dense": {"sparsity": "dense"},
    "issue1": {"issue_type": 1},
})

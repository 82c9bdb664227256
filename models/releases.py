"""Official checkpoint releases: their parameter names mapped onto the zoo's networks.

The authors of Spikformer, the Spike-driven Transformer, SpikeBERT and SpikingBERT publish
their weights as state dicts of their own module trees (``block.0.attn.q_linear.weight``,
``network_s3.query.bias``, ...). A registry entry lists the releases it can load
(``ModelEntry.releases``); each :class:`Release` declares

* a :class:`KeyMap`: every key of the release, by pattern, either mapped to exactly one
  parameter or buffer of the network that runs it, or declared unused with the reason
  (a training-time copy, a module the authors' forward never calls); and the network's
  parameters the release has no key for, each with the value that makes the function
  the same (a zero bias where the authors' convolution has none);
* the network that computes what the authors' forward computes (``build``), when the
  entry's own network does not (a different layer order, another attention scale, ...);
  its capture maps then come with it.

:func:`load_weights` reads a checkpoint once (``torch.load(weights_only=True)``; the
wrappers of :func:`~prosparsity.models.checkpoint.read_state_dict`), picks the release
whose map covers every key (or the one named), translates the names, checks both sides
(release keys no rule maps, network parameters no key fills) and the shapes, and loads
strictly: a partial match is refused naming the unmapped keys on both sides; nothing is
ever loaded with ``strict=False``. A checkpoint in no release's layout is loaded as the
entry's own network's state dict, as before.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prosparsity.core.errors import HarnessError, name_list

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

    from prosparsity.models.checkpoint import LoadedCheckpoint
    from prosparsity.models.registry import ModelEntry

__all__ = [
    "NATIVE",
    "KeyMap",
    "LoadedWeights",
    "Release",
    "ReleaseError",
    "load_weights",
    "release_extra",
]

log = logging.getLogger(__name__)

NATIVE = "native"
"""The release name that means: the entry's own state-dict layout, no map."""

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class ReleaseError(HarnessError):
    """A release declaration that contradicts itself (a programming error in the zoo)."""


def _compile(pattern: str) -> re.Pattern[str]:
    """``block.{i}.attn.{p}`` -> a regex where each ``{name}`` is one dotted segment."""
    out, pos = [], 0
    for m in _PLACEHOLDER.finditer(pattern):
        out.append(re.escape(pattern[pos : m.start()]))
        out.append(f"(?P<{m.group(1)}>[^.]+)")
        pos = m.end()
    out.append(re.escape(pattern[pos:]))
    return re.compile("".join(out))


@dataclass(frozen=True)
class KeyMap:
    """The declared correspondence between a release's keys and a network's state dict.

    Patterns are dotted names in which ``{name}`` stands for one segment (a block index,
    ``weight``/``bias``/``running_mean``, ...); a harness pattern uses the placeholders of
    its release pattern.

    Attributes:
        rules: ``(release pattern, network pattern)``: each matching release key is the
            network key the pattern names.
        unused: ``(release pattern, reason)``: release keys the authors' forward never
            reads; they must be present (the release is complete) but are not loaded.
        filled: ``(network pattern, reason)``: network keys the release has none for,
            set to zero (e.g. the bias of a convolution the authors built without one).
        aliases: ``(release pattern, release pattern)``: keys that hold the same tensor
            as another key of the release (a module registered twice in the authors'
            tree); checked equal, not loaded twice.
    """

    rules: tuple[tuple[str, str], ...]
    unused: tuple[tuple[str, str], ...] = ()
    filled: tuple[tuple[str, str], ...] = ()
    aliases: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        # the same placeholders on both sides: each rule is one-to-one
        for src, dst in self.rules + self.aliases:
            if set(_PLACEHOLDER.findall(dst)) != set(_PLACEHOLDER.findall(src)):
                raise ReleaseError(f"KeyMap rule {src!r} -> {dst!r}: placeholders differ")

    @cached_property
    def _compiled(self) -> tuple[list[tuple[re.Pattern[str], str]], list[re.Pattern[str]],
                                 list[re.Pattern[str]], list[tuple[re.Pattern[str], str]]]:
        return ([(_compile(s), d) for s, d in self.rules],
                [_compile(s) for s, _ in self.unused],
                [_compile(d) for d, _ in self.filled],
                [(_compile(s), d) for s, d in self.aliases])

    def translate(self, keys: Iterable[str]) -> tuple[dict[str, str], list[str], list[str]]:
        """``(mapped, unused, unmatched)``: release key -> network key for the keys a rule
        maps, the keys declared unused or aliases, the keys no pattern matches.

        Raises:
            ReleaseError: a key that two patterns match, or two keys that map to the
                same network key (the map would not be one-to-one).
        """
        rules, unused_pats, _, alias_pats = self._compiled
        mapped: dict[str, str] = {}
        unused: list[str] = []
        unmatched: list[str] = []
        for key in keys:
            hits = [dst.format(**m.groupdict()) for pat, dst in rules
                    if (m := pat.fullmatch(key))]
            dropped = sum(1 for p in unused_pats if p.fullmatch(key))
            dropped += sum(1 for p, _ in alias_pats if p.fullmatch(key))
            if len(hits) + dropped > 1:
                raise ReleaseError(f"KeyMap: {key!r} matches more than one pattern")
            if hits:
                mapped[key] = hits[0]
            elif dropped:
                unused.append(key)
            else:
                unmatched.append(key)
        targets: dict[str, str] = {}
        for key, dst in mapped.items():
            if dst in targets:
                raise ReleaseError(f"KeyMap: {targets[dst]!r} and {key!r} both map to {dst!r}")
            targets[dst] = key
        return mapped, unused, unmatched

    def alias_problems(self, state: Mapping[str, torch.Tensor]) -> list[str]:
        """Aliases whose original is missing or holds another tensor: ``alias (differs
        from original)`` / ``alias (no original)``."""
        problems = []
        for key in state:
            for pat, dst in self._compiled[3]:
                if (m := pat.fullmatch(key)) is None:
                    continue
                original = dst.format(**m.groupdict())
                if original not in state:
                    problems.append(f"{key} (no {original})")
                elif not _same(state[key], state[original]):
                    problems.append(f"{key} (differs from {original})")
        return problems

    def covers(self, keys: Iterable[str]) -> bool:
        """Whether ``keys`` are this layout: every key mapped or declared unused, and
        every rule used by some key (a layout with one module more or less is another
        layout)."""
        keys = list(keys)
        mapped, _, unmatched = self.translate(keys)
        if unmatched:
            return False
        rules = self._compiled[0]
        return all(any(pat.fullmatch(k) for k in mapped) for pat, _ in rules)

    def source_of(self, key: str) -> str | None:
        """The release key a rule maps onto network key ``key`` (``None``: no rule)."""
        for src, dst in self.rules:
            if m := _compile(dst).fullmatch(key):
                return src.format(**m.groupdict())
        return None

    def fills(self, key: str) -> bool:
        """Whether network key ``key`` is one the release has no value for (zero-filled)."""
        return any(p.fullmatch(key) for p in self._compiled[2])


@dataclass(frozen=True)
class Release:
    """One published checkpoint layout a registry entry loads.

    Attributes:
        name: short identifier, the value of ``--release`` (e.g. ``zhou-spikformer-cifar``).
        source: where the layout is defined (repository and file of the authors' code).
        keymap: the declared name map.
        build: ``build(time_steps=T) -> nn.Module``, the network that computes the
            authors' forward (``None``: the entry's own network does).
        attention_operands, attentions: the capture maps of ``build``'s network
            (``None``: the entry's).
        differences: how the authors' network differs from the entry's own, one sentence
            each (for the docs and the trace's provenance).
        refusal: a layout recognised in order to be refused, with this reason (a
            network the harness does not build); empty for a release that loads.
    """

    name: str
    source: str
    keymap: KeyMap
    build: Callable[..., nn.Module] | None = None
    attention_operands: Mapping[str, tuple[str, ...]] | None = None
    attentions: Mapping[str, Mapping[str, Any]] | None = None
    differences: tuple[str, ...] = field(default=(), compare=False)
    refusal: str = ""

    def __post_init__(self) -> None:
        if not self.name or self.name == NATIVE or not re.fullmatch(r"[\w.-]+", self.name):
            raise ReleaseError(f"Release.name: invalid {self.name!r}")


@dataclass(frozen=True)
class LoadedWeights:
    """A network with a checkpoint loaded, and what it took.

    Attributes:
        net: the network (the entry's own, or the release's ``build``).
        checkpoint: the file and its SHA-256.
        release: the release whose map was used, or ``None`` (the entry's own layout).
        attention_operands, attentions: the capture maps that fit ``net``.
        unused: release keys declared unused and therefore not loaded.
        filled: network keys the release had no value for, set to zero.
    """

    net: nn.Module
    checkpoint: LoadedCheckpoint
    release: Release | None
    attention_operands: Mapping[str, tuple[str, ...]]
    attentions: Mapping[str, Mapping[str, Any]]
    unused: tuple[str, ...] = ()
    filled: tuple[str, ...] = ()


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    import torch

    return a.shape == b.shape and bool(torch.equal(a, b))


def _listing(keys: Iterable[str]) -> str:
    """``(n): a, b, ... (+m more)``."""
    keys = sorted(keys)
    return f"({len(keys)}): {name_list(keys)}"


def _shape_problems(state: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor],
                    names: Mapping[str, str]) -> list[str]:
    """``name (checkpoint shape) vs model (shape)`` for each mapped key whose shapes differ;
    ``names`` maps network key -> checkpoint key."""
    return [f"{names[k]} {tuple(state[names[k]].shape)} vs model {tuple(expected[k].shape)}"
            for k in sorted(names) if state[names[k]].shape != expected[k].shape]


def _network(entry: ModelEntry, release: Release | None, time_steps: int) -> nn.Module:
    if release is not None and release.build is not None:
        return release.build(time_steps=time_steps)
    return entry.build(time_steps=time_steps, **entry.options)


def _unfilled_text(keys: Iterable[str], keymap: KeyMap) -> str:
    """Network keys no checkpoint key fills, each with the release key that would."""
    shown = []
    for key in sorted(keys):
        src = keymap.source_of(key)
        shown.append(f"{key} (from {src})" if src is not None and src != key else key)
    return _listing(shown)


def _mismatch(unmapped: list[str], unfilled: list[str], keymap: KeyMap, subject: str) -> list[str]:
    """The sentences of a partial match: what ``subject`` leaves unmapped, and what no key
    fills (empty parts left out)."""
    parts = []
    if unmapped:
        parts.append(f"checkpoint keys {subject} does not map {_listing(unmapped)}")
    if unfilled:
        parts.append(f"model parameters no checkpoint key fills "
                     f"{_unfilled_text(unfilled, keymap)}")
    return parts


def _release_fit(state: Mapping[str, torch.Tensor], expected: Mapping[str, torch.Tensor],
                 release: Release) -> tuple[dict[str, str], list[str], list[str], list[str]]:
    """``(network key -> checkpoint key, unused, unmapped checkpoint keys, unfilled network
    keys)`` of ``state`` read as ``release`` against a network's ``expected`` state."""
    mapped, unused, unmatched = release.keymap.translate(state)
    names = {dst: src for src, dst in mapped.items()}
    unknown = [src for src, dst in mapped.items() if dst not in expected]
    unfilled = [k for k in expected if k not in names and not release.keymap.fills(k)]
    return names, unused, sorted(unmatched + unknown), sorted(unfilled)


def load_weights(
    entry: ModelEntry,
    path: str | Path,
    *,
    time_steps: int,
    release: str | None = None,
) -> LoadedWeights:
    """Build ``entry``'s network for ``path`` and load the checkpoint into it strictly.

    Args:
        entry: the registry entry.
        path: the checkpoint (a raw state dict, or one wrapped under ``state_dict`` /
            ``model`` / ...; timm's training-script files with their ``args`` included).
        time_steps: T of the network to build.
        release: a release name of the entry, :data:`NATIVE` for the entry's own layout,
            or ``None``: the release whose map covers every key of the checkpoint, else
            the entry's own layout.

    Raises:
        CheckpointError: unreadable file; an unknown release name; keys that fit neither
            the entry's own layout nor any release completely (the message names, for
            the release that covers most keys, the checkpoint keys it does not map and
            the network parameters no key fills), or shapes that differ.
    """
    import torch

    from prosparsity.core.hashing import file_sha256
    from prosparsity.models.checkpoint import (
        CheckpointError,
        LoadedCheckpoint,
        fit_problems,
        read_state_dict,
    )

    path = Path(path)
    known = {r.name: r for r in entry.releases if not r.refusal}
    if release is not None and release != NATIVE and release not in known:
        names = ", ".join([NATIVE, *known]) if known else NATIVE
        raise CheckpointError(path, f"model '{entry.name}' has no release '{release}' "
                                    f"(its releases: {names})")
    state = read_state_dict(path)
    if release is None:
        candidates = [r for r in entry.releases if r.keymap.covers(state)]
        candidates.sort(key=lambda r: not r.refusal)  # a recognised refusal comes first
    else:
        candidates = [] if release == NATIVE else [known[release]]
    chosen = candidates[0] if candidates else None
    if chosen is not None and chosen.refusal:
        raise CheckpointError(path, f"is in the layout of {chosen.name} ({chosen.source}), "
                                    f"which model '{entry.name}' does not load: {chosen.refusal}")
    if len(candidates) > 1:
        log.info("%s: releases %s all cover its keys; using %s", path,
                 ", ".join(r.name for r in candidates), candidates[0].name)
    net = _network(entry, chosen, time_steps)
    expected = net.state_dict()
    if chosen is None:
        parts = fit_problems(state, expected)
        if parts:
            note = _best_release(entry, state, time_steps) if release is None else ""
            raise CheckpointError(path, "does not fit the model: " + "; ".join(parts) + note)
        names = {k: k for k in expected}
        unused: list[str] = []
    else:
        names, unused, unmapped, unfilled = _release_fit(state, expected, chosen)
        parts = []
        aliases = chosen.keymap.alias_problems(state)
        if aliases:
            parts.append("keys that should repeat another key's tensor "
                         f"{_listing(aliases)}")
        parts += _mismatch(unmapped, unfilled, chosen.keymap, "the release")
        if not parts:
            wrong = _shape_problems(state, expected, names)
            if wrong:
                parts.append(f"shape mismatches {_listing(wrong)}")
        if parts:
            raise CheckpointError(path, f"does not fit model '{entry.name}' as release "
                                        f"{chosen.name} ({chosen.source}): " + "; ".join(parts))
    filled = sorted(k for k in expected if k not in names)
    new_state = {k: state[names[k]] for k in names}
    new_state.update({k: torch.zeros_like(expected[k]) for k in filled})
    net.load_state_dict(new_state, strict=True)
    log.debug("loaded %d tensors from %s (%s)", len(names), path,
              chosen.name if chosen else NATIVE)
    return LoadedWeights(
        net=net,
        checkpoint=LoadedCheckpoint(path=path, sha256=file_sha256(path)),
        release=chosen,
        attention_operands=(chosen.attention_operands
                            if chosen and chosen.attention_operands is not None
                            else entry.attention_operands),
        attentions=(chosen.attentions if chosen and chosen.attentions is not None
                    else entry.attentions),
        unused=tuple(sorted(unused)),
        filled=tuple(filled),
    )


def _best_release(entry: ModelEntry, state: Mapping[str, torch.Tensor], time_steps: int) -> str:
    """For a checkpoint in neither the entry's own layout nor a release's: the release
    that maps most of its keys, with what it leaves unmapped on both sides (``""`` when
    the entry has no release or none maps a key)."""
    loadable = [r for r in entry.releases if not r.refusal]
    if not loadable:
        return ""
    best = max(loadable, key=lambda r: len(r.keymap.translate(state)[0]))
    mapped = len(best.keymap.translate(state)[0])
    if not mapped:
        names = ", ".join(r.name for r in loadable)
        return f"; nor is it in the layout of a release of '{entry.name}' ({names})"
    expected = _network(entry, best, time_steps).state_dict()
    _, _, unmapped, unfilled = _release_fit(state, expected, best)
    parts = _mismatch(unmapped, unfilled, best.keymap, "it")
    return (f"; nor does it fit release {best.name} ({best.source}), which maps {mapped} of "
            f"its {len(state)} keys: " + "; ".join(parts or ["its rules do not all apply"]))


def release_extra(weights: LoadedWeights) -> dict[str, str]:
    """The trace attributes that say which release a checkpoint was read as (empty for
    the entry's own layout)."""
    from prosparsity.traces.provenance import EXTRA_RELEASE, EXTRA_RELEASE_SOURCE

    if weights.release is None:
        return {}
    return {EXTRA_RELEASE: weights.release.name, EXTRA_RELEASE_SOURCE: weights.release.source}

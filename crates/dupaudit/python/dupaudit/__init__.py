"""Find exact and near-duplicate images, and leakage between train/val/test sets.

    >>> import dupaudit
    >>> result = dupaudit.audit("my-dataset")          # train/, val/, test/ are sets
    >>> for group in result.groups:
    ...     print(group.strength, [m.path for m in group.members], "keep", group.kept.path)

The same audit as the ``dupaudit`` command (``dupaudit scan DIR --out OUT``), which also
writes pairs.csv, groups.csv, drop.txt, skipped.csv, summary.json, REPORT.md and
gallery.html.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from os import PathLike, fspath
from typing import Mapping, Optional, Union

from . import _dupaudit

__all__ = ["Image", "Pair", "Group", "Skipped", "Audit", "audit", "__version__"]
__version__: str = _dupaudit.__version__

PathType = Union[str, "PathLike[str]"]


@dataclass(frozen=True)
class Image:
    """One image of a pair or group: its set, its position in the set, its file."""

    set: str
    index: int
    path: str


@dataclass(frozen=True)
class Pair:
    """Two images judged duplicates: ``kind`` is ``"exact"`` (identical pixels) or
    ``"near"`` (aligned similarity ``score`` at or above the threshold)."""

    a: Image
    b: Image
    score: float
    kind: str


@dataclass(frozen=True)
class Group:
    """Images connected by pairs, with the strongest pair's score; ``kept`` is the member
    the drop rule keeps (test before validation before other sets before train; then the
    largest original), every other member is surplus."""

    members: tuple[Image, ...]
    strength: float
    kept: Image

    @property
    def surplus(self) -> tuple[Image, ...]:
        """The members to remove."""
        return tuple(m for m in self.members if m != self.kept)


@dataclass(frozen=True)
class Skipped:
    """A file that was not audited, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class Audit:
    """What :func:`audit` found: pairs (sorted by position), groups (strongest first) and
    the files skipped."""

    pairs: tuple[Pair, ...]
    groups: tuple[Group, ...]
    skipped: tuple[Skipped, ...]


def audit(
    folder: Optional[PathType] = None,
    *,
    sets: Optional[Mapping[str, PathType]] = None,
    threshold: Optional[float] = None,
    seed: int = 0,
    strict: bool = False,
    max_pixels: Optional[int] = None,
) -> Audit:
    """Audit every image under ``folder`` (recursively; its top-level ``train``, ``val``
    and ``test`` folders are sets, pairs across sets are leakage), or the named ``sets``
    (``{"train": "data/train", "test": "data/test"}``).

    Reads PNG, JPEG, WebP, BMP, TIFF and GIF files of any size. Files that cannot be used
    are returned in ``skipped`` with their reason (with ``strict=True`` the first one raises
    ``ValueError`` naming it). ``threshold`` is the aligned similarity in (0, 1] at or above
    which two images are near-duplicates (default 0.80, as the command); ``max_pixels`` the
    largest image decoded (default 100 million pixels).
    """
    if (folder is None) == (sets is None):
        raise ValueError("give either folder or sets, not both or neither")
    pairs, groups, skipped = _dupaudit.audit(
        folder=None if folder is None else fspath(folder),
        sets=None if sets is None else [(name, fspath(p)) for name, p in sets.items()],
        threshold=threshold,
        seed=seed,
        strict=strict,
        max_pixels=max_pixels,
    )

    def image(t: tuple[str, int, str]) -> Image:
        return Image(set=t[0], index=t[1], path=t[2])

    return Audit(
        pairs=tuple(
            Pair(a=Image(p[0], p[1], p[2]), b=Image(p[3], p[4], p[5]), score=p[6], kind=p[7])
            for p in pairs
        ),
        groups=tuple(
            Group(
                members=tuple(image(m) for m in members),
                strength=strength,
                kept=image(members[keep]),
            )
            for members, strength, keep in groups
        ),
        skipped=tuple(Skipped(path=p, reason=r) for p, r in skipped),
    )


def _cli() -> None:
    """The ``dupaudit`` console script."""
    sys.exit(_dupaudit.main(["dupaudit", *sys.argv[1:]]))

"""dcmodify-style paths: `Seq[1].Tag`, `Seq[*].Other[0].Tag`, `(5200,9230)[*].2005,140f[*].(0008,0023)`."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Tuple

from ..errors import out_of_range
from .tags import format_tag, parse_tag

ANY_ITEM = -1  # the `[*]` wildcard
Parents = Tuple[Tuple[int, int], ...]  # where an element lies: (sequence tag, item index) from the top

_STEP = re.compile(r"^(?P<tag>[^\[\]]*)\[(?P<index>[^\]]*)\]$")


@dataclass(frozen=True)
class TagPath:
    """A path to an element: sequence steps (tag, item index or ANY_ITEM), then the final tag."""

    prefix: Parents
    tag: int

    @property
    def is_top_level(self) -> bool:
        return not self.prefix

    def __str__(self) -> str:
        steps = [f"{format_tag(t)}[{'*' if i == ANY_ITEM else i}]" for t, i in self.prefix]
        return ".".join(steps + [format_tag(self.tag)])

    def matches_prefix_of(self, parents: Parents, tag: int) -> bool:
        """True when an element at `parents` (list of (sequence tag, item index)) + `tag` is this
        path or lies below it (used by Keep paths, which protect whole subtrees)."""
        full = self.prefix + ((self.tag, ANY_ITEM),)
        here = parents + ((tag, ANY_ITEM),)
        if len(here) < len(full):
            return False
        for (want_tag, want_index), (got_tag, got_index) in zip(full, here):
            if want_tag != got_tag:
                return False
            if want_index != ANY_ITEM and got_index != ANY_ITEM and want_index != got_index:
                return False
        return True


def _split(text: str) -> list:
    """Split on dots that are not inside parentheses (a tag like (0008,0023) has none, but be safe)."""
    parts, depth, current = [], 0, []
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "." and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def parse_path(text: str, field: Optional[str] = None) -> TagPath:
    """Parse a path; syntax errors raise ParameterOutOfRange (400), unknown tags UnknownDicomTag."""
    if not isinstance(text, str) or not text.strip():
        raise out_of_range("Empty path", field)
    parts = [p.strip() for p in _split(text)]
    prefix = []
    for part in parts[:-1]:
        if "[" not in part:
            raise out_of_range(f"Missing '[' in a parent sequence of the path: {text!r}", field)
        match = _STEP.match(part)
        if not match:
            raise out_of_range(f"Bad sequence item in the path: {text!r}", field)
        tag_text, index_text = match.group("tag").strip(), match.group("index").strip()
        if not tag_text:
            raise out_of_range(f"Missing tag before '[' in the path: {text!r}", field)
        if index_text == "*":
            index = ANY_ITEM
        else:
            if not re.fullmatch(r"-?\d+", index_text):
                raise out_of_range(f"Bad item index {index_text!r} in the path: {text!r}", field)
            index = int(index_text)
            if index < 0:
                raise out_of_range(f"Negative item index in the path: {text!r}", field)
        prefix.append((parse_tag(tag_text, field), index))
    last = parts[-1]
    if not last or "[" in last or "]" in last:
        raise out_of_range(f"The last part of a path must be a tag: {text!r}", field)
    return TagPath(tuple(prefix), parse_tag(last, field))

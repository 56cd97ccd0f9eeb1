"""A sequence element still as read (raw bytes), as a small tree of items whose values can be read, changed
or deleted without pydicom datasets, then encoded back: the references a split or merge rewrites
(relocation.py), the nested rules of an anonymization (edit.py).

Parsing a sequence with pydicom builds a Dataset per item and converts every value it is asked for: for
the few references a split rewrites in an MR image, that costs more than the rest of the move. This walk
reads the items with `struct` only. It declines (None) whatever the parse-and-write path (pydicom's parse,
then serialize.py) would not give back byte for byte: group lengths, file meta elements or unsorted tags in
an item, delimiters with a non-zero length, UN or
implicit private elements (whose VR only a private dictionary knows), non-zero reserved header bytes,
UI values with padding other than one NUL, undefined-length values other than sequences, truncated or
malformed bytes. So an encoded tree is exactly what the parse-and-write path writes for the same edit.
"""
from __future__ import annotations

import struct
from typing import Callable, List, Optional, Set, Tuple, TypeVar

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from .scan import ITEM, ITEM_END, LONG_LENGTH_VRS, SEQUENCE_END, UNDEFINED_LENGTH, Unusual, Walker
from .serialize import Encoding, ascii_value
from .tags import dictionary_vr
from .uids import strip_value
from .values import decode_text, get_element, put_raw

T = TypeVar("T")


class RawNode:
    """One element of an item: a sequence (`items`), a UI value (`values`, padding stripped) or anything else;
    its VR as the writer writes it, where its value starts, and what an edit did to it (`set_values` of a UI
    value, `set_value` of any value's bytes, `delete`)."""

    __slots__ = ("tag", "vr", "start", "value_start", "end", "undefined", "items", "values", "changed", "new_value",
                 "deleted")

    def __init__(self, tag: int, vr: str, start: int, value_start: int, end: int, undefined: bool = False,
                 items: Optional[List["RawItem"]] = None, values: Optional[List[str]] = None) -> None:
        self.tag, self.vr, self.undefined = tag, vr, undefined
        self.start, self.value_start, self.end = start, value_start, end
        self.items, self.values, self.changed = items, values, False
        self.new_value: Optional[bytes] = None
        self.deleted = False

    def set_values(self, values: List[str]) -> None:
        self.values, self.changed = values, True

    def set_value(self, value: bytes) -> None:
        """The new bytes of the value (b"": emptied), written with this node's VR."""
        self.new_value = value

    def delete(self) -> None:
        self.deleted = True


class RawItem:
    """One item of a sequence: its elements in tag order, and where it lies (header to delimiter included)."""

    __slots__ = ("start", "end", "undefined", "elements")

    def __init__(self, start: int, end: int, undefined: bool, elements: List[RawNode]) -> None:
        self.start, self.end, self.undefined, self.elements = start, end, undefined, elements


class RawSequence:
    """The items of a raw sequence element; `encode` gives the element back with the values changed since."""

    def __init__(self, element: RawDataElement, walker: Walker, items: List[RawItem]) -> None:
        self.element, self.walker, self.items = element, walker, items
        self.encoding = Encoding(element.is_implicit_VR, element.is_little_endian)

    @classmethod
    def parse(cls, element: RawDataElement) -> Optional["RawSequence"]:
        """The tree of a raw sequence element, or None when the walk cannot vouch for it (parse it then)."""
        data = element.value if isinstance(element.value, bytes) else b""
        walker = Walker(data, element.is_implicit_VR, element.is_little_endian)
        try:
            items, _ = _parse_items(walker, 0, len(data))
        except (Unusual, struct.error):
            return None
        return cls(element, walker, items)

    def value(self, node: RawNode) -> bytes:
        """The bytes of a node's value as read."""
        return self.walker.data[node.value_start:node.end]

    def text(self, node: RawNode) -> Optional[str]:
        """The value of a node as `values.optional_str` reads it (padding stripped, several values joined by
        backslashes); None when only pydicom's conversion can tell (not ASCII, no rule for its VR)."""
        return decode_text(self.value(node), node.vr)

    def nodes(self) -> List[RawNode]:
        """Every element at any depth (the items of a sequence after it, in no set order)."""
        found: List[RawNode] = []
        pending = list(self.items)
        while pending:
            for node in pending.pop().elements:
                if node.items is not None:
                    pending.extend(node.items)
                found.append(node)
        return found

    def uids(self) -> Set[str]:
        """Every UI value at any depth (each value of a multi-valued one, padding stripped)."""
        found: Set[str] = set()
        for node in self.nodes():
            if node.values:
                found.update(node.values)
        return found

    def encode(self) -> Optional[RawDataElement]:
        """The sequence element with the changed values (lengths updated where defined), or None when no value
        changed."""
        value = self._items(self.items)
        if value is None:
            return None
        element = self.element
        length = UNDEFINED_LENGTH if element.length == UNDEFINED_LENGTH else len(value)
        return RawDataElement(element.tag, element.VR, length, value, 0, element.is_implicit_VR,
                              element.is_little_endian)

    def _items(self, items: List[RawItem]) -> Optional[bytes]:
        data, encoding = self.walker.data, self.encoding
        parts: List[bytes] = []
        changed = False
        for item in items:
            body = self._elements(item.elements)
            if body is None:
                parts.append(data[item.start:item.end])
                continue
            changed = True
            if item.undefined:
                parts += [encoding.item(UNDEFINED_LENGTH), body, encoding.delimiter(ITEM_END)]
            else:
                parts += [encoding.item(len(body)), body]
        return b"".join(parts) if changed else None

    def _elements(self, nodes: List[RawNode]) -> Optional[bytes]:
        data, encoding = self.walker.data, self.encoding
        parts: List[bytes] = []
        changed = False
        for node in nodes:
            if node.deleted:
                changed = True
                continue
            if node.new_value is not None:
                parts += [encoding.header(node.tag, node.vr, len(node.new_value)), node.new_value]
                changed = True
                continue
            if node.items is not None:
                value = self._items(node.items)
                if value is None:
                    parts.append(data[node.start:node.end])
                    continue
                if node.undefined:
                    parts += [encoding.header(node.tag, "SQ", UNDEFINED_LENGTH), value, encoding.delimiter(SEQUENCE_END)]
                else:
                    parts += [encoding.header(node.tag, "SQ", len(value)), value]
            elif node.changed:
                value = ascii_value("UI", node.values or [])
                parts += [encoding.header(node.tag, "UI", len(value)), value]
            else:
                parts.append(data[node.start:node.end])
                continue
            changed = True
        return b"".join(parts) if changed else None


def walk_raw_sequence(ds: Dataset, tag: int, walk: Callable[[RawSequence], T]) -> Optional[T]:
    """Walk top-level sequence `tag` of `ds` on the bytes it was read from, then put its element back with what
    the walk changed: the walk's result, or None when nothing was written (the sequence is no longer as read,
    its bytes cannot be vouched for, or the walk raised Unusual), so that the parsed way starts again."""
    element = get_element(ds, tag)
    tree = RawSequence.parse(element) if isinstance(element, RawDataElement) else None
    if tree is None:
        return None
    try:
        result = walk(tree)
    except Unusual:
        return None
    rewritten = tree.encode()
    if rewritten is not None:
        put_raw(ds, rewritten)
    return result


def _parse_items(walker: Walker, pos: int, end: Optional[int]) -> Tuple[List[RawItem], int]:
    """The items from `pos` to `end` (None: to the sequence delimitation item, included); where they stop."""
    items: List[RawItem] = []
    while end is None or pos < end:
        tag, _, length, value = walker.header(pos)
        if tag == SEQUENCE_END and end is None:
            if length:
                raise Unusual()  # the writer writes a delimiter's length as 0
            return items, value
        if tag != ITEM:
            raise Unusual()
        undefined = length == UNDEFINED_LENGTH
        elements, stop = _parse_elements(walker, value, None if undefined else value + length)
        items.append(RawItem(pos, stop, undefined, elements))
        pos = stop
    if pos != end:
        raise Unusual()
    return items, pos


def _parse_elements(walker: Walker, pos: int, end: Optional[int]) -> Tuple[List[RawNode], int]:
    """The elements of one item from `pos` to `end` (None: to the item delimitation item, included)."""
    data = walker.data
    nodes: List[RawNode] = []
    previous = -1
    while end is None or pos < end:
        start = pos
        tag, vr, length, value = walker.header(pos)
        if tag == ITEM_END and end is None:
            if length:
                raise Unusual()  # the writer writes a delimiter's length as 0
            return nodes, value
        if tag >> 16 in (0xFFFE, 0x0002) or tag & 0xFFFF == 0 or tag <= previous:
            raise Unusual()  # a stray delimiter, file meta, a group length, tags out of order: the writer would
            # drop or move them
        previous = tag
        vr = _known_vr(tag) if vr is None else vr
        if vr == "UN" or (not walker.implicit and vr in LONG_LENGTH_VRS and data[pos + 6:pos + 8] != b"\0\0"):
            raise Unusual()
        if length == UNDEFINED_LENGTH:
            if vr != "SQ":
                raise Unusual()
            items, pos = _parse_items(walker, value, None)
            nodes.append(RawNode(tag, vr, start, value, pos, undefined=True, items=items))
            continue
        pos = value + length
        if pos > len(data) or (end is not None and pos > end):
            raise Unusual()
        if vr == "SQ":
            nodes.append(RawNode(tag, vr, start, value, pos, items=_parse_items(walker, value, pos)[0]))
        elif vr == "UI":
            nodes.append(RawNode(tag, vr, start, value, pos, values=_ui_values(data[value:pos])))
        else:
            nodes.append(RawNode(tag, vr, start, value, pos))
    if pos != end:
        raise Unusual()
    return nodes, pos


def _known_vr(tag: int) -> str:
    """The VR of an implicit-VR element, from the dictionary, the first of several as values.element_vr takes it
    (a private one would need its creator: declined)."""
    vr = None if tag >> 16 & 1 else dictionary_vr(tag)
    if vr is None:
        raise Unusual()
    return vr


def _ui_values(raw: bytes) -> List[str]:
    """The values of a UI element as pydicom reads them, when the writer would write them back as they are."""
    text = decode_text(raw, "UI")
    if text is None:
        raise Unusual()
    values = [strip_value(v) for v in text.split("\\")] if text else []
    if ascii_value("UI", values) != raw:
        raise Unusual()  # padding the parse-and-write path would change
    return values

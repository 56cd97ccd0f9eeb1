"""What a stored-result operation leaves on its new resources besides the files: provenance metadata and
the labels of their sources."""
from __future__ import annotations

from typing import Callable, Dict, Sequence, Tuple

from .. import store
from .pipeline import SourceInstance, StoredInstance

ALL_LEVELS = ("Instance", "Series", "Study", "Patient")


def _pairs(instance: StoredInstance, levels: Sequence[str]):
    """(level, new ID, source ID) of a stored instance and its parents, for the given levels."""
    source = instance.source
    ids = {"Instance": (instance.id, source.id), "Series": (instance.series, source.series),
           "Study": (instance.study, source.study), "Patient": (instance.patient, source.patient)}
    return [(level,) + ids[level] for level in levels]


def source_labels(sources: Sequence[SourceInstance], levels: Sequence[str] = ALL_LEVELS) -> Dict[Tuple[str, str], list]:
    """Labels of the source resources at these levels, read before anything changes: (level, id) -> labels."""
    labels: Dict[Tuple[str, str], list] = {}
    for source in sources:
        for level, resource_id in (("Instance", source.id), ("Series", source.series), ("Study", source.study),
                                   ("Patient", source.patient)):
            if level in levels and (level, resource_id) not in labels:
                labels[(level, resource_id)] = store.labels(level, resource_id)
    return labels


def record(stored: Sequence[StoredInstance], metadata: str, labels: Dict[Tuple[str, str], list],
           levels: Sequence[str], writes_metadata: Callable[[str, str, str], bool]) -> None:
    """For each new resource at these levels: the `metadata` (ModifiedFrom/AnonymizedFrom) naming its source
    where `writes_metadata(level, new ID, source ID)` says so, and the labels its sources had."""
    done = set()
    for instance in stored:
        for level, new_id, old_id in _pairs(instance, levels):
            if (level, new_id, old_id) in done:
                continue
            done.add((level, new_id, old_id))
            if writes_metadata(level, new_id, old_id):
                store.set_metadata(level, new_id, metadata, old_id)
            for label in labels.get((level, old_id), ()):
                store.add_label(level, new_id, label)

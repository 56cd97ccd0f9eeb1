"""DryRun: the same edit as the real run, on copies that are never stored. Answers, per instance, every
element removed, emptied, replaced, remapped or added (dicom/dryrun.py) and the resources the real run
would create. Nothing is stored, deleted or counted (the Anonymized<N> counter is only read)."""
from __future__ import annotations

from typing import Any, Callable, Dict, Iterable, List, Sequence, Tuple

from pydicom.dataset import Dataset

from .. import store
from ..dicom.deidentify import Deidentification, RecordingUidMap
from ..dicom.dryrun import changes, snapshot
from ..dicom.identifiers import orthanc_ids
from ..dicom.files import read_dataset
from ..dicom.plan import EditPlan
from ..dicom.uids import UidMap


def next_anonymized_name() -> str:
    """The "Anonymized<N>" the next real anonymization will take (the counter is not incremented)."""
    current = store.get_global_property(store.ANONYMIZATION_COUNTER_PROPERTY, "0") or "0"
    return f"Anonymized{int(current) + 1}"


def run(instance_ids: Sequence[str], plan: EditPlan, uid_map: UidMap, deidentification: Deidentification,
        values_allowed: bool) -> Dict[str, Any]:
    """The dry-run answer of a modify/anonymize of these stored instances."""
    def edit(dataset: Dataset) -> Iterable[Tuple[str, str]]:
        recorder = RecordingUidMap(uid_map)
        deidentification.apply(dataset, plan, recorder)  # type: ignore[arg-type]  (duck-typed UidMap)
        return [(old, new) for (_, old), new in recorder.pairs.items()]
    return run_edit(instance_ids, edit, plan.is_anonymization, values_allowed)


def run_edit(instance_ids: Sequence[str], edit: Callable[[Dataset], Iterable[Tuple[str, str]]],
             is_anonymization: bool, values_allowed: bool) -> Dict[str, Any]:
    """The dry-run answer of any edit: `edit(dataset)` changes a dataset in place and returns the
    (old, new) UID pairs it remapped."""
    instances: List[Dict[str, Any]] = []
    resources: Dict[tuple, Dict[str, Any]] = {}
    for instance_id in instance_ids:
        dataset = read_dataset(store.instance_dicom(instance_id))
        before = snapshot(dataset)
        remapped = list(edit(dataset))
        ids = orthanc_ids(dataset)
        instances.append({"Source": instance_id, "ID": ids["Instance"],
                          "Changes": changes(before, snapshot(dataset), remapped, values_allowed)})
        for level in ("Patient", "Study", "Series", "Instance"):
            key = (level, ids[level])
            if key not in resources:
                resources[key] = {"Type": level, "ID": ids[level], "Path": f"/{store.LEVEL_URIS[level]}/{ids[level]}",
                                  "Exists": store.resource(level, ids[level]) is not None}
    return {"DryRun": True, "IsAnonymization": is_anonymization, "InstancesCount": len(instances),
            "Instances": instances, "Resources": list(resources.values())}

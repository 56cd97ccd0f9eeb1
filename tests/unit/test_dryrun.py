"""Dry-run reports (dicom/dryrun.py): the changes an edit made, element by element, values redacted."""
from __future__ import annotations

from dicom_files import make_ct_series
from orthanc_reshape.dicom.dryrun import changes, snapshot
from orthanc_reshape.dicom.identifiers import orthanc_ids
from orthanc_reshape.dicom.files import orthanc_instance_id, write_dataset
from orthanc_reshape.dicom.uids import UidMap
from orthanc_reshape.dicom.deidentify import Deidentification, RecordingUidMap
from support import reread


def _by_path(report):
    return {change["Path"]: change for change in report}


def test_the_report_lists_removed_emptied_replaced_remapped_and_added_elements():
    ds = reread(make_ct_series(2)[1])
    before = snapshot(ds)
    from orthanc_reshape.config import parse_config
    from orthanc_reshape.requests import parse_edit_request
    request = parse_edit_request({}, True, parse_config({}))
    plan = request.plan("1.12.4", patient_name=lambda: "Anonymized7")
    recorder = RecordingUidMap(UidMap())
    Deidentification().apply(ds, plan, recorder)
    report = _by_path(changes(before, snapshot(ds), [(old, new) for (_, old), new in recorder.pairs.items()]))
    assert report["InstitutionName"]["Action"] == "Removed"
    assert report["InstitutionName"]["Old"] == {"VR": "LO", "Length": len("Reshape Hospital")}
    assert report["StudyDate"]["Action"] == "Emptied"
    assert report["PatientName"] == {"Path": "PatientName", "Action": "Replaced",
                                     "Old": {"VR": "PN", "Length": len("Doe^Jane")}, "New": "Anonymized7"}
    assert report["SOPInstanceUID"]["Action"] == "Remapped" and report["SOPInstanceUID"]["New"] == ds.SOPInstanceUID
    assert report["ReferencedImageSequence[0].ReferencedSOPInstanceUID"]["Action"] == "Remapped"
    assert report["PatientIdentityRemoved"] == {"Path": "PatientIdentityRemoved", "Action": "Added", "New": "YES"}
    # A removed private sequence is listed once, not with its contents.
    assert not [path for path in report if path.startswith("(0009") and "[" in path]
    assert "PixelData" not in report and "Rows" not in report


def test_values_are_shown_only_when_allowed():
    ds = make_ct_series(1)[0]
    before = snapshot(ds)
    del ds.InstitutionName
    (change,) = changes(before, snapshot(ds), values_allowed=True)
    assert change["Old"] == "Reshape Hospital"


def test_orthanc_ids_are_those_of_the_stored_file():
    ds = reread(make_ct_series(1)[0])
    assert orthanc_ids(ds)["Instance"] == orthanc_instance_id(write_dataset(ds))

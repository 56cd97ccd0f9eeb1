"""Shared helpers of the unit tests: pydicom's own test files, small datasets built in memory, and
one-line ways to plan and apply a modification or an anonymization (no Orthanc involved)."""
from __future__ import annotations

import copy
import functools
import importlib
import itertools
import os
import random
import sys
import types
from typing import Any, Dict, Iterable, Iterator, List, Optional, Tuple

import pydicom.data
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element
from pydicom.sequence import Sequence
import pydicom
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from dicom_files import item  # noqa: F401  (the tests import it from here, with the other helpers)
from dicom_files import make_ct_series, make_rtstruct_for, make_sr_with_evidence, to_bytes
from orthanc_reshape.dicom.files import read_dataset, write_dataset
from orthanc_reshape.dicom.paths import TagPath, parse_path
from orthanc_reshape.dicom.plan import EditPlan, Replacement, anonymization_plan, modification_plan
from orthanc_reshape.dicom.profiles import load_profile
from orthanc_reshape.dicom.uids import Level, UidMap
from orthanc_reshape.dicom.edit import apply_plan

DATA_DIR = os.path.dirname(pydicom.data.__file__)
ORTHANC_VERSION = "1.12.4"


def sample_path(name: str) -> str:
    """A file shipped with pydicom: test_files/<name>, or charset_files/<name>."""
    for folder in ("test_files", "charset_files"):
        path = os.path.join(DATA_DIR, folder, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(name)


def sample_bytes(name: str) -> bytes:
    with open(sample_path(name), "rb") as f:
        return f.read()


def read_sample(name: str) -> Dataset:
    """A pydicom test file read the way the plugin reads a stored instance."""
    return read_dataset(sample_bytes(name))


def reread(ds: Dataset) -> Dataset:
    """Write then read back: what a client would receive."""
    return read_dataset(write_dataset(ds))


def element_bytes(ds: Dataset, tag: int) -> bytes:
    """The encoding of one element (explicit VR little endian), to compare elements byte for byte."""
    buffer = DicomBytesIO()
    buffer.is_little_endian, buffer.is_implicit_VR = True, False
    write_data_element(buffer, ds[tag])
    return buffer.getvalue()


def seq(*items: Dataset) -> Sequence:
    return Sequence(list(items))


def instance(sop: str = "1.2.3.4.1", study: str = "1.2.3", series: str = "1.2.3.4",
             patient_id: str = "PAT1", **elements: Any) -> Dataset:
    """A small instance with a file meta-header, written and read back so elements are raw, as from storage."""
    ds = Dataset()
    ds.SpecificCharacterSet = elements.pop("SpecificCharacterSet", "ISO_IR 100")
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    ds.SOPInstanceUID = sop
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    if patient_id is not None:
        ds.PatientID = patient_id
    for name, value in elements.items():
        setattr(ds, name, value)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = sop
    return reread(ds)


def replacements(values: Dict[str, Any]) -> Tuple[Replacement, ...]:
    return tuple((parse_path(name), value, f"Replace.{name}") for name, value in values.items())


def paths(names: Iterable[str], field: str = "Remove") -> Tuple[Tuple[TagPath, str], ...]:
    return tuple((parse_path(name), f"{field}[{i}]") for i, name in enumerate(names))


def modify(ds: Dataset, replace: Optional[Dict[str, Any]] = None, remove: Iterable[str] = (),
           keep: Iterable[str] = (), *, uid_map: Optional[UidMap] = None, force: bool = False,
           level: Optional[Level] = None, remove_private: bool = False) -> EditPlan:
    """Plan and apply a modify request on `ds` (in place); returns the plan."""
    plan = modification_plan(replacements(replace or {}), paths(remove), paths(keep, "Keep"), force=force,
                             remove_private=remove_private, level=level)
    apply_plan(ds, plan, uid_map if uid_map is not None else UidMap())
    return plan


def anonymize(ds: Dataset, replace: Optional[Dict[str, Any]] = None, remove: Iterable[str] = (),
              keep: Iterable[str] = (), *, uid_map: Optional[UidMap] = None, force: bool = False,
              version: str = "2023b", keep_private: bool = False, patient_name: str = "Anonymized1") -> EditPlan:
    """Plan and apply an anonymize request on `ds` (in place); returns the plan."""
    plan = anonymization_plan(load_profile(version), replacements(replace or {}), paths(remove),
                              paths(keep, "Keep"), force=force, keep_private=keep_private,
                              orthanc_version=ORTHANC_VERSION, patient_name=lambda: patient_name)
    apply_plan(ds, plan, uid_map if uid_map is not None else UidMap())
    return plan


class LabelledUids:
    """A UidMap generator whose values say which map made them: "<level>.<n>" (patient: "patient-<n>")."""

    def __init__(self) -> None:
        self.calls: List[Tuple[Level, str]] = []
        self._counter = itertools.count(1)

    def __call__(self, level: Level, original: str) -> str:
        self.calls.append((level, original))
        number = next(self._counter)
        if level == Level.PATIENT:
            return f"patient-{number}"
        return f"9.{int(level)}.{number}"

    @staticmethod
    def level_of(value: str) -> Level:
        if value.startswith("patient-"):
            return Level.PATIENT
        return Level(int(value.split(".")[1]))


def labelled_map() -> Tuple[UidMap, LabelledUids]:
    generator = LabelledUids()
    return UidMap(generator), generator



def import_glue(monkeypatch, module_name: str):
    """A module of the Orthanc glue (operations/*), imported with a stand-in `orthanc` module when the real
    one is absent (outside Orthanc); the test then replaces the `store` calls it needs."""
    if "orthanc" not in sys.modules:
        stub = types.ModuleType("orthanc")
        stub.OrthancException = type("OrthancException", (Exception,), {})
        monkeypatch.setitem(sys.modules, "orthanc", stub)
    return importlib.import_module(module_name)


# --- generated files in every common encoding ---------------------------------------------------------------

def undefined_lengths(ds: pydicom.Dataset) -> pydicom.Dataset:
    """A copy of `ds` with every sequence and item of undefined length (as DCMTK writes them)."""
    ds = copy.deepcopy(ds)
    for element in ds.iterall():
        if element.VR == "SQ":
            element.is_undefined_length = True
            for item in element.value:
                item.is_undefined_length_sequence_item = True
    return ds


def _with_nested_dates(ds: pydicom.Dataset) -> pydicom.Dataset:
    """A copy of `ds` whose SourceImageSequence item holds dates and date-times of every kind a date shift meets:
    full, several values, partial, with a zone, empty, spaces only, NUL-padded, invalid; and one more in a
    sequence of that item."""
    ds = copy.deepcopy(ds)
    source = ds.SourceImageSequence[0]
    source.add_new(0x00080020, "DA", "20200115")                  # StudyDate
    source.add_new(0x00080021, "DA", "2020XX15")                  # SeriesDate: not a date
    source.add_new(0x00080022, "DA", "")                          # AcquisitionDate: empty
    source.add_new(0x00080024, "DA", "  ")                        # OverlayDate: spaces only
    source.add_new(0x00080025, "DA", "20200115\x00")              # CurveDate: a NUL after the date
    source.add_new(0x00080023, "DA", ["20200115", "20200116"])    # ContentDate: two values
    source.add_new(0x0008002A, "DT", "20200115103000.123+0100")   # AcquisitionDateTime
    source.add_new(0x0040A120, "DT", "202003")                    # DateTime: partial
    source.add_new(0x0040A170, "SQ", Sequence([Dataset()]))       # PurposeOfReferenceCodeSequence
    source[0x0040A170].value[0].add_new(0x00080020, "DA", "19991231")
    return ds


@functools.lru_cache(maxsize=1)
def _encoded_variants() -> Dict[str, bytes]:
    ct = make_ct_series(2, rows=16, columns=16)
    datasets = {"ct": ct[0], "rtstruct": make_rtstruct_for(ct), "sr": make_sr_with_evidence(ct),
                "ct-large": make_ct_series(1, rows=256, columns=256)[0],  # pixel data read as a view
                "ct-dated": _with_nested_dates(ct[1])}
    files = {}
    for name, ds in datasets.items():
        for syntax_name, syntax in (("explicit", ExplicitVRLittleEndian), ("implicit", ImplicitVRLittleEndian),
                                    ("big", ExplicitVRBigEndian)):
            files[f"{name}-{syntax_name}"] = to_bytes(ds, syntax)
            files[f"{name}-{syntax_name}-undefined"] = to_bytes(undefined_lengths(ds), syntax)
    return files


def encoded_variants() -> Dict[str, bytes]:
    """Generated CT, RT-STRUCT and SR files (and a CT with pixel data large enough to be read as a view, one with
    nested dates), in
    explicit little, implicit little and explicit big endian, with the lengths of their sequences defined or
    undefined: name -> file."""
    return dict(_encoded_variants())


# --- random values in sequences (the raw walks against the parsed ones) -----------------------------------------

_RANDOM_VALUES = {
    "UI": ["1.2.3", "1.2.3.4", "1.2.840.10008.5.1.4.1.1.2", "", "1.2.3\\1.2.4", "2.25.1"],
    "LO": ["abc", "", " ", "  x ", "a\\b", "Zoë"],
    "SH": ["x", "", " ", "ab  "],
    "PN": ["Doe^Jane", "", "Smith^John", "Doe^Jane=DOE"],
    "DA": ["20200115", "", " ", "2020XX15", "20200115\\20200116"],
    "TM": ["101010", "", "1010"],
    "CS": ["ORIGINAL\\PRIMARY", "", " ", "A"],
    "DS": ["1.5", "", " 2 ", "1\\2"],
    "IS": ["1", "", " 3"],
    "US": [1, 0, 65535],
}
_RANDOM_TAGS = [(0x00080018, "UI"), (0x00081155, "UI"), (0x00081150, "UI"), (0x0020000D, "UI"), (0x0020000E, "UI"),
                (0x00100010, "PN"), (0x00100020, "LO"), (0x00080050, "SH"), (0x00080020, "DA"), (0x00080030, "TM"),
                (0x00080008, "CS"), (0x00280030, "DS"), (0x00200013, "IS"), (0x00280010, "US"), (0x00081030, "LO"),
                (0x00321060, "LO"), (0x00400254, "LO")]
# UIDs the random values use, as a split or merge would move them
RANDOM_MOVED_UIDS = {"1.2.3": "2.25.9", "1.2.3.4": "2.25.99", "2.25.1": "2.25.999"}


def random_nested_files(seed: int, count: int) -> Iterator[bytes]:
    """`count` CTs, each with a sequence of 1-3 items holding random elements (UIDs, names, dates, numbers, text
    of spaces only, several values...), sometimes one sequence deeper; each in 3 byte orders with defined and
    undefined lengths."""
    rng = random.Random(seed)
    base = make_ct_series(2, rows=8, columns=8)[0]
    for _ in range(count):
        ds = copy.deepcopy(base)
        items = []
        for _ in range(rng.randint(1, 3)):
            elements = Dataset()
            for tag, vr in rng.sample(_RANDOM_TAGS, rng.randint(1, 6)):
                elements.add_new(tag, vr, rng.choice(_RANDOM_VALUES[vr]))
            if rng.random() < 0.3:
                nested = Dataset()
                tag, vr = rng.choice(_RANDOM_TAGS)
                nested.add_new(tag, vr, rng.choice(_RANDOM_VALUES[vr]))
                elements.add_new(0x0040A730, "SQ", Sequence([nested]))  # ContentSequence
            items.append(elements)
        ds.add_new(rng.choice([0x00082112, 0x00081140, 0x00400275]), "SQ", Sequence(items))
        for syntax in (ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian):
            for variant in (ds, undefined_lengths(ds)):
                yield to_bytes(variant, syntax)

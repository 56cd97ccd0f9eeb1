"""Puts tests/ on sys.path so that every test can import the shared helpers
(`orthanc_server`, `dicom_files`) without tests/ being a package."""
import sys
from pathlib import Path

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

"""Pure DICOM logic: no import of `orthanc` here, so every piece is unit-testable without a server."""

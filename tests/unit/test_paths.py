"""dcmodify-style paths of Replace, Remove and Keep (spec §4)."""
from __future__ import annotations

import pytest

from orthanc_reshape.dicom.paths import ANY_ITEM, TagPath, parse_path
from orthanc_reshape.errors import ReshapeError

DIMENSION_INDEX = 0x00209222
REFERENCED_IMAGE_EVIDENCE = 0x00089092
REFERENCED_SERIES = 0x00081115
REFERENCED_SOP = 0x00081199
REFERENCED_SOP_INSTANCE_UID = 0x00081155
PER_FRAME = 0x52009230


def test_a_bare_tag_is_a_top_level_path():
    path = parse_path("PatientName")
    assert path == TagPath((), 0x00100010)
    assert path.is_top_level


def test_a_sequence_step_takes_an_item_index():
    path = parse_path("DimensionIndexSequence[1].DimensionDescriptionLabel")
    assert path.prefix == ((DIMENSION_INDEX, 1),)
    assert path.tag == 0x00209421
    assert not path.is_top_level


def test_star_means_every_item():
    assert parse_path("DimensionIndexSequence[*].PatientName").prefix == ((DIMENSION_INDEX, ANY_ITEM),)


def test_steps_nest():
    path = parse_path(
        "ReferencedImageEvidenceSequence[2].ReferencedSeriesSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID")
    assert path.prefix == ((REFERENCED_IMAGE_EVIDENCE, 2), (REFERENCED_SERIES, 0), (REFERENCED_SOP, 0))
    assert path.tag == REFERENCED_SOP_INSTANCE_UID


@pytest.mark.parametrize("text", [
    "PerFrameFunctionalGroupsSequence[*].2005,140f[*].SOPInstanceUID",
    "(5200,9230)[*].2005,140f[*].(0008,0018)",
    "52009230[*].2005-140F[*].0008,0018",
])
def test_tags_inside_paths_take_every_form(text):
    assert parse_path(text) == TagPath(((PER_FRAME, ANY_ITEM), (0x2005140F, ANY_ITEM)), 0x00080018)


def test_spaces_around_parts_are_ignored():
    assert parse_path(" DimensionIndexSequence [ 1 ] . DimensionDescriptionLabel ") == \
        parse_path("DimensionIndexSequence[1].DimensionDescriptionLabel")


def test_str_is_a_parsable_canonical_form():
    path = parse_path("(5200,9230)[*].2005,140f[3].PatientName")
    assert str(path) == "5200,9230[*].2005,140f[3].0010,0010"
    assert parse_path(str(path)) == path


@pytest.mark.parametrize("text", [
    "",                                  # empty path
    "   ",
    "DimensionIndexSequence.PatientName",  # a parent part without [
    "[0].PatientName",                   # no tag before [
    "DimensionIndexSequence[0.PatientName",  # no closing ]
    "DimensionIndexSequence[-1].PatientName",  # negative index
    "DimensionIndexSequence[a].PatientName",  # index not a number
    "DimensionIndexSequence[].PatientName",
    "DimensionIndexSequence[1.5].PatientName",
    "DimensionIndexSequence[0][1].PatientName",
    "DimensionIndexSequence[0]x.PatientName",
    "DimensionIndexSequence[*]",          # the last part cannot hold a wildcard
    "DimensionIndexSequence[0]",
    "DimensionIndexSequence[0].",         # the last part is empty
    ".PatientName",
])
def test_syntax_errors_are_parameter_out_of_range_400_naming_the_field(text):
    with pytest.raises(ReshapeError) as caught:
        parse_path(text, field="Replace.x")
    assert caught.value.kind == "ParameterOutOfRange"
    assert caught.value.http_status == 400
    assert caught.value.field == "Replace.x"


@pytest.mark.parametrize("text", ["NoSuchTag", "NoSuchSequence[0].PatientName", "DimensionIndexSequence[0].Nope"])
def test_unknown_tags_inside_paths_are_unknown_dicom_tag(text):
    with pytest.raises(ReshapeError) as caught:
        parse_path(text, field="Remove[0]")
    assert caught.value.kind == "UnknownDicomTag"
    assert caught.value.field == "Remove[0]"


def test_a_path_that_is_not_a_string_is_refused():
    with pytest.raises(ReshapeError) as caught:
        parse_path(None, field="Keep[0]")
    assert caught.value.http_status == 400


class TestKeepPathMatching:
    """matches_prefix_of: a Keep path protects the element at that path and its whole subtree."""

    def test_a_top_level_path_matches_itself_and_everything_below(self):
        keep = parse_path("ContentSequence")
        assert keep.matches_prefix_of((), 0x0040A730)
        assert keep.matches_prefix_of(((0x0040A730, 0),), 0x00081155)
        assert keep.matches_prefix_of(((0x0040A730, 3), (0x00081199, 0)), 0x00081155)

    def test_it_does_not_match_a_sibling_or_the_same_tag_elsewhere(self):
        keep = parse_path("ContentSequence")
        assert not keep.matches_prefix_of((), 0x00081140)
        assert not keep.matches_prefix_of(((0x00081140, 0),), 0x0040A730)

    def test_an_index_matches_only_that_item(self):
        keep = parse_path("ReferencedImageSequence[1].ReferencedSOPInstanceUID")
        assert keep.matches_prefix_of(((0x00081140, 1),), 0x00081155)
        assert not keep.matches_prefix_of(((0x00081140, 0),), 0x00081155)

    def test_star_matches_every_item(self):
        keep = parse_path("ReferencedImageSequence[*].ReferencedSOPInstanceUID")
        for index in range(3):
            assert keep.matches_prefix_of(((0x00081140, index),), 0x00081155)
        assert not keep.matches_prefix_of(((0x00081140, 0),), 0x00081150)

    def test_a_parent_of_the_kept_element_is_not_kept(self):
        keep = parse_path("ReferencedImageSequence[*].ReferencedSOPInstanceUID")
        assert not keep.matches_prefix_of((), 0x00081140)

    def test_a_sequence_step_protects_the_subtree_of_the_final_tag(self):
        keep = parse_path("PerFrameFunctionalGroupsSequence[*].2005,140f")
        assert keep.matches_prefix_of(((PER_FRAME, 0),), 0x2005140F)
        assert keep.matches_prefix_of(((PER_FRAME, 1), (0x2005140F, 0)), 0x00080018)
        assert not keep.matches_prefix_of(((PER_FRAME, 1),), 0x2005140E)

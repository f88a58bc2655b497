"""The checked-in generated files are exactly what the models generate today."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from sendpipe.core.crd import build_crd
from sendpipe.console.generate import COMMAND, CRD_PATHS, render_all, write_generated

REPO = Path(__file__).resolve().parents[2]
GENERATED = render_all()


@pytest.mark.parametrize("relative", sorted(GENERATED), ids=str)
def test_checked_in_file_matches_the_models(relative: Path) -> None:
    path = REPO / relative
    assert path.exists(), f"{relative} is missing: run `{COMMAND}`"
    assert path.read_text(encoding="utf-8") == GENERATED[relative], (
        f"{relative} is stale: the models changed. Run `{COMMAND}` and commit the result."
    )


def test_the_crd_yaml_reads_back_as_the_crd() -> None:
    documents = list(yaml.safe_load_all(GENERATED[CRD_PATHS[0]]))
    assert documents == [build_crd()]


def test_the_json_schemas_are_draft_2020_12() -> None:
    for relative, text in GENERATED.items():
        if relative.suffix == ".json":
            assert json.loads(text)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_write_generated_writes_only_what_changed(tmp_path: Path) -> None:
    assert sorted(write_generated(tmp_path)) == sorted(tmp_path / relative for relative in GENERATED)
    assert write_generated(tmp_path) == []

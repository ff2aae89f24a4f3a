"""What pages put inside their JSON blocks stays data, whatever a name holds."""

from __future__ import annotations

import json

import pytest

from web.templating import json_block

NAMES = [
    pytest.param("</script><script>alert(1)</script>", id="closing-tag"),
    pytest.param("<!--", id="comment-opener"),
    pytest.param("Tom & Jerry > Itchy", id="ampersand"),
    pytest.param("\u2028line separator", id="line-separator"),
]


@pytest.mark.parametrize("name", NAMES)
def test_a_json_block_cannot_be_closed_by_a_name(name: str) -> None:
    block = str(json_block({"data": [{"name": name}]}))
    assert "<" not in block
    assert ">" not in block
    assert "&" not in block
    assert json.loads(block) == {"data": [{"name": name}]}

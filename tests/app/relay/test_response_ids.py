"""Gateway response ids: model, replica and LocalAI's id, and their rewrite in replies."""

from __future__ import annotations

import pytest

from app.errors import InvalidRequest, RouteNotFound
from app.relay.response_ids import ResponseRef, ResponseRewrite, parse_id


@pytest.mark.parametrize("replica", [0, 3, None])
def test_an_id_round_trips(replica: int | None) -> None:
    ref = ResponseRef("qwen3/30b", replica, "resp_0a9b")
    assert ref.public_id.startswith("resp_") and "=" not in ref.public_id
    assert parse_id(ref.public_id) == ref


@pytest.mark.parametrize(
    "public_id",
    [
        "resp_",
        "resp_!!",
        "msg_1",
        "resp_" + "W10",  # []
        ResponseRef("m", 0, "resp_x").public_id.replace("resp_", "resq_", 1),
        "resp_WyJtIix0cnVlLCJyZXNwX3giXQ",  # ["m",true,"resp_x"]
        "resp_WyJtIiwwLCJ4Il0",  # ["m",0,"x"]: not a LocalAI response id
    ],
)
def test_anything_else_is_a_404_or_a_400_for_a_body_field(public_id: str) -> None:
    with pytest.raises(RouteNotFound):
        parse_id(public_id)
    with pytest.raises(InvalidRequest) as info:
        parse_id(public_id, "previous_response_id")
    assert info.value.param == "previous_response_id"


def test_the_rewrite_learns_the_first_id_and_knows_the_previous_one() -> None:
    rewrite = ResponseRewrite("chat", b'"model":"chat"', 1)
    rewrite.know(ResponseRef("chat", 0, "resp_prev"))
    first = rewrite(b'{"id":"resp_new","model":"qwen3","previous_response_id":"resp_prev"}')
    own = ResponseRef("chat", 1, "resp_new").public_id
    previous = ResponseRef("chat", 0, "resp_prev").public_id
    assert first == f'{{"id":"{own}","model":"chat","previous_response_id":"{previous}"}}'.encode()
    later = rewrite(b'{"response":{"id":"resp_new"},"item":{"id":"msg_1"}}')
    assert later == f'{{"response":{{"id":"{own}"}},"item":{{"id":"msg_1"}}}}'.encode()

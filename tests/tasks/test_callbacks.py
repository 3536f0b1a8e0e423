"""Callbacks: the retry ladder, the signature, the body (the query envelope), and persistence."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select

from imgopen.client import ApiError
from imgopen.db.tables import CallbackDelivery
from imgopen.services import build_services
from imgopen.testing.http_peers import Peer, running_peer
from imgopen.testing.images import astronaut, data_uri, encode
from tests.conftest import Served, SettingsFactory


@pytest.fixture(scope="module")
def receiver() -> Iterator[Peer]:
    with running_peer() as peer:
        yield peer


def wait_for(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_receiver_failing_twice_gets_the_result_on_the_third_attempt(
    make_settings: SettingsFactory, receiver: Peer, bid: Callable[..., str]
) -> None:
    settings = make_settings(url_allowlist=["127.0.0.1"], callback_delays=[0.3, 0.3, 0.3])
    served = Served(build_services(settings))
    try:
        path = f"/hook-{bid()}"
        url = receiver.json_replies(path, (500, {"error": "down"}), (200, {"code": "500"}), (200, {"code": "200"}))
        business_id = bid()
        handle = served.client.img_enlarge(
            business_id, data_uri(encode(astronaut().resize((32, 32)))), scale=2, callback_url=url
        )
        wait_for(lambda: len([r for r in receiver.received if r.path == path]) >= 3)
        time.sleep(1.0)  # no fourth attempt after the acknowledgement
        hits = [r for r in receiver.received if r.path == path]
        assert len(hits) == 3
        gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(hits)]
        assert all(gap >= 0.25 for gap in gaps), gaps  # the (shortened) ladder was waited out
        last = hits[-1]
        timestamp = last.headers["X-ImgOpen-Timestamp"]
        expected = hmac.new(
            served.callback_secret.encode(), timestamp.encode() + b"." + last.body, hashlib.sha256
        ).hexdigest()
        assert last.headers["X-ImgOpen-Signature"] == f"sha256={expected}"
        envelope = json.loads(last.body)
        assert envelope["code"] == "200"
        assert envelope["data"]["businessTaskId"] == business_id
        assert envelope["data"]["taskId"] == handle.task_id
        assert envelope["data"]["status"] == 1 and envelope["data"]["width"] == 64
        # The body is what queryTask answers.
        assert envelope["data"]["outputImageUrl"] == served.client.query(handle)["outputImageUrl"]
        with served.services.db.read() as session:
            delivery = session.scalars(select(CallbackDelivery).where(CallbackDelivery.task_id == handle.task_id)).one()
            assert (delivery.state, delivery.attempts) == ("delivered", 3)
    finally:
        served.stop()


def test_pending_delivery_survives_a_restart(
    make_settings: SettingsFactory, receiver: Peer, bid: Callable[..., str]
) -> None:
    settings = make_settings(url_allowlist=["127.0.0.1"], callback_delays=[0.2, 0.2, 30.0, 30.0])
    path = f"/later-{bid()}"
    url = receiver.json_replies(path, (503, {}), (503, {}), (200, {"code": "200"}))
    first = Served(build_services(settings))
    handle = first.client.img_enlarge(bid(), data_uri(encode(astronaut().resize((16, 16)))), scale=2, callback_url=url)
    wait_for(lambda: len([r for r in receiver.received if r.path == path]) >= 2)
    first.stop()  # the third attempt is 30 s away: it is still pending in the table
    with first.services.db.read() as session:
        pending = session.scalars(select(CallbackDelivery).where(CallbackDelivery.task_id == handle.task_id)).one()
        assert pending.state == "pending"
    with first.services.db.transaction() as session:  # let the restarted server send it now
        session.get(CallbackDelivery, pending.id).next_attempt_at = 0  # type: ignore[union-attr]
    second = Served(build_services(settings))
    try:
        wait_for(lambda: len([r for r in receiver.received if r.path == path]) >= 3)
        body = json.loads(receiver.received[-1].body)
        assert body["data"]["taskId"] == handle.task_id and body["data"]["state"] == "success"
    finally:
        second.stop()


def test_callback_url_that_is_not_allowed_is_refused_at_submit(
    make_settings: SettingsFactory, bid: Callable[..., str]
) -> None:
    served = Served(build_services(make_settings()))
    try:
        with pytest.raises(ApiError) as refused:
            served.client.img_enlarge(
                bid(), data_uri(encode(astronaut().resize((16, 16)))), scale=2, callback_url="http://10.0.0.1/hook"
            )
        assert refused.value.code == "422" and "callbackUrl" in refused.value.msg
    finally:
        served.stop()

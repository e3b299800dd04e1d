import socket
import threading

import pytest

from amigo.client import Cancelled, ChatClient
from amigo.errors import ModelServerError

from helpers import RecordedModelServer

MESSAGES = [{"role": "user", "content": "hi"}]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_streams_text_and_usage():
    with RecordedModelServer("hello streaming world") as server:
        client = ChatClient(server.base_url, "recorded")
        result = client.complete(MESSAGES, temperature=0)
        assert result.text == "hello streaming world"
        assert result.completion_tokens == 5 and result.prompt_tokens == 11
        assert result.finish_reason == "stop"
        assert server.requests[0]["model"] == "recorded" and server.requests[0]["temperature"] == 0
        assert client.models() == ["recorded"]


def test_server_down_is_a_clear_message():
    client = ChatClient(f"http://127.0.0.1:{closed_port()}/v1", "m", retries=1)
    with pytest.raises(ModelServerError, match="cannot reach the model server.*amigo serve"):
        client.complete(MESSAGES)


def test_slow_server_times_out_clearly():
    with RecordedModelServer(behaviour="hang") as server:
        client = ChatClient(server.base_url, "m", read_timeout=0.5, retries=0)
        with pytest.raises(ModelServerError, match="did not answer within 0.5 s"):
            client.complete(MESSAGES)


@pytest.mark.parametrize("behaviour, needle", [
    ("garbage", "not JSON"),
    ("status:401", "AMIGO_API_KEY"),
    ("status:404", "check `endpoint`"),
    ("status:500", "HTTP 500"),
    ("status:503", "HTTP 503"),
])
def test_broken_servers(behaviour, needle):
    with RecordedModelServer("x", behaviour=behaviour) as server:
        client = ChatClient(server.base_url, "m", retries=1)
        with pytest.raises(ModelServerError, match=needle):
            client.complete(MESSAGES)
        if behaviour == "status:503":
            assert len(server.requests) == 2  # retried once, then gave up
        if behaviour == "status:500":
            assert len(server.requests) == 1  # not retryable


def test_a_stream_closed_before_any_event_is_asked_again():
    """As a draining server does while `amigo serve` restarts it on a new model: nothing was shown."""
    with RecordedModelServer("hello", behaviour="close-once") as server:
        assert ChatClient(server.base_url, "m", retries=1).complete(MESSAGES).text == "hello"
        streamed = [r for r in server.requests if r.get("stream")]
        probes = [r for r in server.requests if not r.get("stream")]
        assert len(streamed) == 2  # asked again, after one plain request showed the server takes it
        assert [p["max_tokens"] for p in probes] == [1]
    with RecordedModelServer("hello", behaviour="close-once") as server:
        with pytest.raises(ModelServerError, match="closed the stream without sending any event"):
            ChatClient(server.base_url, "m", retries=0).complete(MESSAGES)


def test_empty_answer_is_empty_text_not_an_error_at_this_level():
    # The engine turns an empty answer into a clear error; the client reports what came.
    with RecordedModelServer("x", behaviour="empty") as server:
        assert ChatClient(server.base_url, "m").complete(MESSAGES).text == ""


def test_cancel_mid_stream():
    with RecordedModelServer("x" * 400, delay_s=0.02, chunk_chars=1) as server:
        client = ChatClient(server.base_url, "m")
        cancel = threading.Event()
        got = []
        with pytest.raises(Cancelled):
            for piece in client.stream(MESSAGES, cancel=cancel):
                got.append(piece)
                if len(got) == 5:
                    cancel.set()
        assert 5 <= len(got) < 400


@pytest.mark.model
def test_real_embedded_model_answers(model_server):
    client = ChatClient(model_server, "smollm2-135m-instruct")
    result = client.complete([{"role": "user", "content": "Say hello."}], temperature=0, max_tokens=16, seed=0)
    assert result.text.strip()
    assert result.finish_reason in ("stop", "length")
    # llama-cpp-python sends no usage in streams; servers that do must respect max_tokens
    assert result.completion_tokens is None or result.completion_tokens <= 16


@pytest.mark.model
def test_a_prompt_longer_than_the_real_servers_context_names_that_cause(model_server):
    """llama-cpp-python closes the event stream empty on such a request; the reason it gives a
    plain request is what the person reads, not a guess about the endpoint."""
    client = ChatClient(model_server, "smollm2-135m-instruct")  # retries on: a refusal is not retried
    with pytest.raises(ModelServerError, match="refused the request .*context") as refused:
        client.complete([{"role": "user", "content": "word " * 6000}], temperature=0, max_tokens=8)
    assert "closed the stream" not in str(refused.value)
    assert client.complete([{"role": "user", "content": "Say hello."}], temperature=0, max_tokens=4).text


@pytest.mark.parametrize("behaviour", ["ok", "hang"])
def test_closing_the_client_ends_what_other_threads_read_at_once(behaviour):
    """A session closed while candidates stream (a front end shutting down, a benchmark stopping
    its server): their reads end with Cancelled at once, not after ``read_timeout``, so the
    process can exit. "hang": the server took the requests and sends nothing, not even headers
    (llama-server with every slot busy): those waiting are freed at once too."""
    from amigo.engine import CandidateAsk
    from amigo.shared_prompt import SharedPrompt

    ended: dict[str, BaseException | None] = {}

    def read(name, pieces):
        try:
            for _ in pieces:
                pass
            ended[name] = None
        except BaseException as exc:  # noqa: BLE001 - what ended it is the assertion
            ended[name] = exc

    with RecordedModelServer("x" * 4000, delay_s=0.05, behaviour=behaviour) as server:
        client = ChatClient(server.base_url, "m", read_timeout=60)
        shared = SharedPrompt(client, CandidateAsk(MESSAGES, {}), 2, None, threading.Event())
        readers = [threading.Thread(target=read, args=(f"shared {k}", shared.pieces(k))) for k in range(2)]
        readers.append(threading.Thread(target=read, args=("own", client.stream(MESSAGES))))
        for reader in readers:
            reader.start()
        for _ in range(100):  # every request taken (and, "ok", streaming)
            if len(server.requests) == len(readers) - 1:
                break
            threading.Event().wait(0.05)
        threading.Event().wait(0.3)
        client.close()
        for reader in readers:
            reader.join(timeout=5)
        assert not any(reader.is_alive() for reader in readers)
    assert set(ended) == {"shared 0", "shared 1", "own"}
    assert all(isinstance(exc, Cancelled) for exc in ended.values()), ended

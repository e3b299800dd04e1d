"""EditSession end to end over a real HTTP server that streams recorded answers."""

from pathlib import Path

import pytest

from amigo.errors import InputError, ModelServerError, RefusedError
from amigo.events import (AcceptedEvent, DoneEvent, ErrorEvent, ProposalEvent, RejectedEvent, RetriedEvent,
                          StaleEvent, TokenEvent, UndoneEvent)

from helpers import RecordedModelServer, git, recorded_session

RECORDED = Path(__file__).parent / "data" / "recorded"


def answer(name: str) -> str:
    return (RECORDED / name).read_text(encoding="utf-8")


session_for = recorded_session


def test_whole_selection_edit_accept_and_undo(repo):
    original = (repo / "users.py").read_bytes()
    with RecordedModelServer(answer("whole_average.txt")) as server:
        session, seen = session_for(repo, server, edit_format="whole")
        request = session.make_request("return None for no users", "users.py", selection=(17, 18))
        proposal = session.propose(request)
        assert proposal.ok, proposal.errors
        assert "+    if not users:" in proposal.diff
        kinds = [type(e) for e in seen]
        assert kinds[0] is TokenEvent and kinds[-2:] == [ProposalEvent, DoneEvent]
        assert "".join(e.text for e in seen if isinstance(e, TokenEvent)) == proposal.answer
        # the prompt went out as the contract renders it, with the sampling settings
        sent = server.requests[0]
        assert sent["messages"] == list(proposal.messages) and sent["temperature"] == 0.0
        session.accept(proposal)
    text = (repo / "users.py").read_text()
    assert "    if not users:\n        return None\n    return max(" in text
    assert text.startswith('"""A tiny user registry."""')
    assert isinstance(seen[-1], AcceptedEvent)
    session.undo()
    assert (repo / "users.py").read_bytes() == original
    assert isinstance(seen[-1], UndoneEvent) and seen[-1].proposal_id == proposal.id


def test_blocks_edit_applies_exactly(repo):
    with RecordedModelServer(answer("blocks_sort.txt")) as server:
        session, _ = session_for(repo, server, edit_format="blocks")
        proposal = session.propose(session.make_request("add sort_by_age", "users.py"))
        assert proposal.ok and "I'll add a helper" not in proposal.diff
        session.accept(proposal)
    assert (repo / "users.py").read_text().endswith(
        'def sort_by_age(users):\n    """Users from youngest to oldest."""\n    return sorted(users, key=lambda u: u.age)\n')


def test_per_hunk_accept_writes_only_chosen_hunks(repo):
    with RecordedModelServer(answer("blocks_two_hunks.txt")) as server:
        session, seen = session_for(repo, server, edit_format="blocks")
        proposal = session.propose(session.make_request("docs", "users.py"))
        assert len(session.hunks(proposal)) == 2
        session.accept(proposal, hunks=[1])
    text = (repo / "users.py").read_text()
    assert '"""A tiny user registry."""' in text and '"""The oldest user."""' in text
    assert seen[-1].hunks == (1,)


def test_unmatched_block_is_an_error_and_nothing_applies(repo):
    before = (repo / "users.py").read_bytes()
    with RecordedModelServer(answer("blocks_unmatched.txt")) as server:
        session, seen = session_for(repo, server, edit_format="blocks")
        proposal = session.propose(session.make_request("youngest", "users.py"))
        assert not proposal.ok and proposal.errors and not proposal.changes
        assert any(isinstance(e, ErrorEvent) and e.kind == "parse" for e in seen)
        with pytest.raises(RefusedError, match="cannot be applied"):
            session.accept(proposal)
    assert (repo / "users.py").read_bytes() == before


def test_block_escaping_the_repository_is_refused(repo):
    with RecordedModelServer(answer("blocks_escape.txt")) as server:
        session, _ = session_for(repo, server, edit_format="blocks")
        proposal = session.propose(session.make_request("x", "users.py"))
    assert not proposal.ok and "outside the repository" in " ".join(proposal.errors)
    assert not (repo.parent / "outside.py").exists()


def test_stale_proposal_is_refused_and_keeps_the_persons_work(repo):
    with RecordedModelServer(answer("blocks_sort.txt")) as server:
        session, seen = session_for(repo, server, edit_format="blocks")
        proposal = session.propose(session.make_request("sort", "users.py"))
    (repo / "users.py").write_text("# the person rewrote the file meanwhile\n")
    with pytest.raises(RefusedError, match="stale"):
        session.accept(proposal)
    assert (repo / "users.py").read_text() == "# the person rewrote the file meanwhile\n"
    assert isinstance(seen[-1], StaleEvent)


def test_reject_and_retry_are_events_and_retry_samples_differently(repo):
    before = (repo / "users.py").read_bytes()
    with RecordedModelServer(answer("blocks_sort.txt")) as server:
        session, seen = session_for(repo, server, edit_format="blocks")
        first = session.propose(session.make_request("sort", "users.py"))
        session.reject(first, reason="wrong")
        second = session.retry(first, instruction="sort users by age, youngest first")
        assert server.requests[1]["temperature"] == 0.7 and server.requests[1]["seed"] != server.requests[0]["seed"]
    assert second.parent_id == first.id and second.request.instruction.startswith("sort users by age")
    assert any(isinstance(e, RejectedEvent) for e in seen) and isinstance(seen[-1], RetriedEvent)
    assert (repo / "users.py").read_bytes() == before


def test_empty_answer_and_server_down(repo):
    with RecordedModelServer("x", behaviour="empty") as server:
        session, seen = session_for(repo, server)
        with pytest.raises(ModelServerError, match="empty answer"):
            session.propose(session.make_request("x", "users.py"))
    with pytest.raises(ModelServerError, match="cannot reach"):
        session.propose(session.make_request("x", "users.py"))
    assert any(isinstance(e, ErrorEvent) and e.kind == "server" for e in seen)


def test_bad_requests(repo):
    with RecordedModelServer("x") as server:
        session, _ = session_for(repo, server)
        with pytest.raises(InputError, match="instruction is empty"):
            session.make_request("  ", "users.py")
        with pytest.raises(InputError, match="starts after the end"):
            session.make_request("x", "users.py", selection=(500, 510))
        with pytest.raises(RefusedError, match="outside"):
            session.make_request("x", "../x.py")
        # an unsaved editor buffer is what the request is built from
        request = session.make_request("x", "users.py", file_text="unsaved = True\n")
        assert request.file_text == "unsaved = True\n"


def test_repository_context_reaches_the_prompt(repo):
    (repo / "ages.py").write_text('def clamp_age(age, low=0, high=150):\n    """Keep an age in range."""\n'
                                  '    return max(low, min(high, age))\n')
    users = (repo / "users.py").read_text().replace("int(age)", "clamp_age(int(age))")
    (repo / "users.py").write_text("from ages import clamp_age\n" + users)
    git(repo, "add", "ages.py", "users.py")
    git(repo, "commit", "-q", "-m", "clamp ages")
    with RecordedModelServer(answer("blocks_sort.txt")) as server:
        session, _ = session_for(repo, server, edit_format="blocks")
        session.config.context_budget = 1024
        request = session.make_request("validate ages when loading users", "users.py", selection=(13, 15))
        session.propose(request)
    assert request.context, "no repository context was built"
    prompt = server.requests[0]["messages"][1]["content"]
    assert "## Repository context" in prompt and "def clamp_age(age, low=0, high=150)" in prompt


def test_warm_context_indexes_the_repository_in_the_background(repo, tmp_path, monkeypatch):
    """An editor session indexes on open; the first request then parses nothing."""
    from amigo.context.index import forget_indexes, index_for

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    forget_indexes()
    (repo / "helper.py").write_text("def shout(text: str) -> str:\n    return text.upper()\n")
    with RecordedModelServer("") as server:
        session, _ = session_for(repo, server, context_budget=1024)
        thread = session.warm_context()
        assert thread is not None
        thread.join(timeout=120)
        assert not thread.is_alive()
        assert "helper.py" in index_for(session.repo_root.resolve()).entries
        refresh = index_for(session.repo_root.resolve()).refresh()
        assert refresh.changed == [] and refresh.removed == []
        off, _ = session_for(repo, server, context_budget=0)
        assert off.warm_context() is None


def test_mark_undone_publishes_the_undo_an_editor_carried_out(repo):
    """The LSP reverts editor buffers itself; the session still tells feedback the accept did not hold."""
    with RecordedModelServer(answer("blocks_sort.txt")) as server:
        session, seen = session_for(repo, server, edit_format="blocks")
        proposal = session.propose(session.make_request("add sort_by_age", "users.py"))
        session.mark_accepted(proposal)
        session.mark_undone(proposal, [c.path for c in proposal.changes])
    undone = [e for e in seen if isinstance(e, UndoneEvent)]
    assert undone == [UndoneEvent(proposal.id, ("users.py",))]
    assert git(repo, "status", "--porcelain") == ""  # nothing on disk: the editor owns the buffers

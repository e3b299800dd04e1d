"""One engine for every front end: request -> context -> prompt -> answer -> checks -> proposal -> verdict.

Front ends (CLI, LSP, TUI) call :class:`EditSession` and subscribe to its
:class:`~amigo.events.EventBus`; they never talk to the model or to git
themselves. The session publishes what happens and knows nothing of who
listens (the feedback recorder is one listener among others).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Generator, Iterable, Iterator, Sequence

from amigo import checks, decoding, edits
from amigo.context import build_context, warm_index
from amigo.client import Cancelled, ChatClient, StreamStats
from amigo.config import EMBEDDED_MODEL, Config, load_config
from amigo.edits.lines import split_lines
from amigo.edits.parse import whole_prose
from amigo.errors import InputError, ModelServerError, RefusedError, StaleError
from amigo.events import (
    AcceptedEvent, AttemptFailedEvent, DoneEvent, ErrorEvent, EventBus, FileChange, Proposal, ProposalEvent,
    RejectedEvent, RepairEvent, RetriedEvent, StaleEvent, TokenEvent, UndoneEvent,
)
from amigo.prompt import (
    ContextSection, Diagnostic, EditRequest, build_messages, repair_messages, restated_messages,
)
from amigo.shared_prompt import SharedPrompt, group_asks
from amigo.splice import splice_definitions
from amigo.workspace import ApplyResult, Workspace, sha256_text

log = logging.getLogger(__name__)

SCOPE_MARGIN_LINES = 3
CANDIDATE_TEMPERATURE = 0.8  # the least temperature for candidates after the first (which keeps the configured one)
REPAIR_TEMPERATURE = 0.4  # the least temperature for the first candidate of a repair round (see candidate_asks)
CANDIDATE_GRACE = 0.1  # once a candidate passes, the others may finish within this share of the round's time so far
# Answers a round asks for when ``candidates`` is unset, for the embedded model on a server that decodes
# them together (llama-server's slots, vLLM): a model of 135M parameters breaks or guts the code in about
# half its answers and, told its mistake, mostly writes it again, so one answer a round leaves the repair
# loop nearly idle, and four double what ends applied for little more time (benchmarks/RESULTS.md, "What
# `amigo edit --yes` does out of the box"). One after the other (llama-cpp-python) a failed round would
# cost up to four answers' time, and a stronger model's first answer mostly passes: there, one.
EMBEDDED_CANDIDATES = 4


class EditSession:
    """Edits in one repository (or plain folder) with one configuration and one model client."""

    def __init__(self, config: Config, workspace: Workspace, client: ChatClient | None = None) -> None:
        self.config = config
        self.workspace = workspace
        self.client = client or ChatClient.from_config(config)
        self.events = EventBus()
        self._proposals: dict[str, Proposal] = {}
        self._lock = threading.Lock()
        self._decoding_cache: object | None = None
        self._n_ignored = False  # the server answered one choice where several were asked for (see SharedPrompt)

    @classmethod
    def open(cls, repo: Path | str | None = None, config: Config | None = None,
             client: ChatClient | None = None) -> "EditSession":
        """A session for the repository around ``repo`` (default: the current folder)."""
        workspace = Workspace.discover(repo or Path.cwd())
        config = config or load_config(workspace.root)
        workspace.max_file_bytes = config.max_file_bytes
        return cls(config, workspace, client)

    @property
    def repo_root(self) -> Path:
        return self.workspace.root

    def close(self) -> None:
        self.client.close()

    # -- building a request -------------------------------------------------------

    def make_request(
        self,
        instruction: str,
        path: Path | str,
        selection: tuple[int, int] | None = None,
        diagnostics: Sequence[Diagnostic] = (),
        file_text: str | None = None,
        edit_format: str | None = None,
    ) -> EditRequest:
        """Gather what the model should see. ``file_text`` is an unsaved editor buffer, if any."""
        if not instruction or not instruction.strip():
            raise InputError("the instruction is empty; say what to change")
        rel = self.workspace.relpath(path)
        if file_text is None:
            file_text = self.workspace.read(rel).text
        elif len(file_text.encode("utf-8")) > self.config.max_file_bytes:
            raise InputError(f"{rel}: over the {self.config.max_file_bytes:,}-byte limit; select a smaller file")
        selection = _check_selection(selection, file_text, rel)
        fmt = edit_format or self.config.edit_format
        if fmt not in edits.EDIT_FORMATS:
            raise InputError(f"unknown edit format {fmt!r}: use blocks or whole")
        context = self._context(rel, file_text, selection, instruction)
        return EditRequest(
            instruction=instruction.strip(), path=rel, file_text=file_text, selection=selection,
            diagnostics=tuple(diagnostics), context=context, edit_format=fmt,  # type: ignore[arg-type]
        )

    def warm_context(self) -> threading.Thread | None:
        """Index the repository in a background thread, so that the first request of an
        editor or TUI session does not wait for a cold parse of every file.

        Returns the thread (None when context is off); failures are logged only: the
        first request will simply index what is still missing.
        """
        if self.config.context_budget <= 0:
            return None

        def run() -> None:
            try:
                warm_index(self.workspace.root)
            except Exception:  # noqa: BLE001 - best effort, see docstring
                log.exception("indexing %s in the background failed", self.workspace.root)

        thread = threading.Thread(target=run, name="amigo-warm-context", daemon=True)
        thread.start()
        return thread

    def _context(self, rel: str, text: str, selection: tuple[int, int] | None,
                 instruction: str) -> tuple[ContextSection, ...]:
        """Repository context inside the token budget (amigo.context), best effort.

        Context is an aid, not a requirement: if building it fails the request
        still goes out with the file alone, and the failure is logged.
        """
        if self.config.context_budget <= 0:
            return ()
        try:
            result = build_context(self.workspace.root, rel, text, selection, instruction,
                                   budget_tokens=self.config.context_budget)
        except Exception:  # noqa: BLE001 - see docstring
            log.exception("building repository context failed; continuing without it")
            return ()
        return tuple(result.sections)

    # -- generating -----------------------------------------------------------------

    def propose(self, request: EditRequest, cancel: threading.Event | None = None,
                parent: Proposal | None = None, allow_partial: bool = False,
                sampling: dict | None = None, request_id: str | None = None) -> Proposal:
        """Ask the model, check the answer, repair what fails, and return the proposal to review.

        ``request_id`` is the caller's (so a front end can match the streamed
        tokens to its job); every attempt streams under it. An answer that does
        not parse, does not apply, or fails the checks (:mod:`amigo.checks`) is
        sent back with the exact problem up to ``repair_attempts`` times; with
        ``candidates > 1`` each attempt asks for that many answers and keeps the
        best that passes (the round ends soon after one does: see _attempt). A whole-format rewrite
        cut off by ``max_tokens`` before the end of the text is not asked again in that format: its
        problem is the budget (see _ran_out_of_tokens), and the next round asks for blocks. The
        turned-down answers are published as :class:`AttemptFailedEvent` (automatic rejections). The proposal
        returned may still fail (``errors`` or error-level ``findings``): the
        front end shows why.

        Raises ModelServerError (down, slow, empty answer; ``Cancelled`` when
        ``cancel`` was set).
        """
        request_id = request_id or new_request_id()
        try:
            chosen, failed = self._repair_loop(request, request_id, cancel, parent, allow_partial, sampling)
        except Cancelled:
            self.events.publish(ErrorEvent(request_id, "generation cancelled", kind="cancelled"))
            self.events.publish(DoneEvent(request_id))
            raise
        except ModelServerError as exc:
            self.events.publish(ErrorEvent(request_id, str(exc), kind="server"))
            self.events.publish(DoneEvent(request_id))
            raise
        with self._lock:
            self._proposals[chosen.id] = chosen
        self.events.publish(ProposalEvent(chosen))
        for proposal, problem in failed:
            self.events.publish(AttemptFailedEvent(proposal, problem, successor_id=chosen.id))
        if chosen.errors:
            self.events.publish(ErrorEvent(request_id, "; ".join(chosen.errors), kind="parse"))
        self.events.publish(DoneEvent(request_id))
        return chosen

    def _repair_loop(self, request: EditRequest, request_id: str, cancel: threading.Event | None,
                     parent: Proposal | None, allow_partial: bool,
                     sampling: dict | None) -> tuple[Proposal, list[tuple[Proposal, str]]]:
        """Rounds of candidates until one passes or ``repair_attempts`` run out: (the proposal to
        show, every turned-down answer with its problem). A round after the first sends the
        last problem back (see :func:`candidate_asks`), or asks afresh in the other format where
        this one cannot take the change (blocks the model cannot write, see _whole_fallback; a whole
        rewrite that does not fit in ``max_tokens``), at most once. A server failure during a repair
        round shows the last answer instead of losing it."""
        original = build_messages(request)
        base, label = self._sampling_params(request, sampling)
        failed: list[tuple[Proposal, str]] = []
        repair: RepairPrompts | None = None
        show_answer = True  # until the model is seen writing a turned-down answer again
        previous = parent
        asked_as = request.edit_format  # a request changes format at most once, and never back
        for attempt in range(1, 2 + self.config.repair_attempts):
            asks = candidate_asks(original, repair, base, attempt, self.candidate_count())
            try:
                chosen, turned_down, out_of_tokens = self._attempt(request, asks, label, request_id, attempt,
                                                                   cancel, previous, allow_partial)
            except ModelServerError as exc:
                if attempt == 1 or isinstance(exc, Cancelled):
                    raise
                log.warning("repair attempt %d failed (%s); showing the last answer", attempt, exc)
                return failed.pop()[0], failed
            if show_answer and repair is not None and _copies(repair, [chosen, *(p for p, _ in turned_down)],
                                                               failed):
                log.info("attempt %d wrote a turned-down answer again; later rounds do not show it", attempt)
                show_answer = False
            failed.extend(turned_down)
            if chosen.passes or allow_partial or attempt > self.config.repair_attempts:
                return chosen, failed
            if out_of_tokens and request.edit_format != asked_as:
                log.info("attempt %d ran out of tokens before the end of its rewrite; not asking again", attempt)
                return chosen, failed
            problem = failure_of(chosen)
            failed.append((chosen, problem))
            if out_of_tokens:
                # asked again whole with this budget, it runs out again; blocks write only the lines that change
                switch: tuple[str, str] | None = ("blocks", BLOCKS_FALLBACK_NOTE)
            elif request.edit_format == asked_as and (note := _whole_fallback(
                    request, [chosen, *(p for p, _ in turned_down)], label)) is not None:
                switch = ("whole", note)  # it cannot write blocks for this change
            else:
                switch = None
            if switch is not None:
                # ask the other format's question afresh (this conversation would only show the model
                # the format that failed), with that format's own constraint
                request = replace(request, edit_format=switch[0])
                original, repair = build_messages(request), None
                base, label = self._sampling_params(request, sampling)
                self.events.publish(RepairEvent(request_id, attempt + 1, problem + switch[1]))
            else:
                self.events.publish(RepairEvent(request_id, attempt + 1, problem))
                stated = _with_failed_search(chosen, problem)
                repair = RepairPrompts(
                    conversation=repair_messages(original, chosen.answer, stated, request.edit_format),
                    restated=restated_messages(original, stated, request.edit_format),
                    show_answer=show_answer)
            previous = chosen
        raise AssertionError("unreachable: the last round returns")  # pragma: no cover

    def _attempt(self, request: EditRequest, asks: Sequence[CandidateAsk], label: str, request_id: str,
                 attempt: int, cancel: threading.Event | None, parent: Proposal | None,
                 allow_partial: bool) -> tuple[Proposal, list[tuple[Proposal, str]], bool]:
        """One round: the ``asks``' answers, built and checked; (the one to keep, the turned-down,
        whether asking again in this format cannot help because the first candidate
        _ran_out_of_tokens: that one is then the one kept, whatever the others did, since the
        budget is the problem to name).

        Each answer is built and checked (the check command included) as soon
        as it arrives, and the round ends once one passes: candidates still
        streaming get a grace of CANDIDATE_GRACE times the round's time so far
        (so a better-ranked one that is nearly done may still finish), then
        their streams are closed, which frees the server's slots. Answers that
        pass but lose, and candidates stopped early, are neither kept nor
        counted as failures: nothing was shown to be wrong with them.
        """
        base_id = request_id if attempt == 1 else f"{request_id}-{attempt}"
        round_ = _Round(started=time.monotonic())
        built: list[tuple[int, Proposal]] = []
        failed = (None if request.edit_format != "blocks" or allow_partial or label == "constrained-json"
                  else functools.partial(edits.failed_search, files={request.path: request.file_text},
                                         default_path=request.path))
        for k, (answer, stats, latency) in self._answers(asks, label, request_id, cancel, round_,
                                                          cut_at_fence=request.edit_format == "whole",
                                                          failed=failed, hopeless=Hopeless(request)):
            build = functools.partial(self._build_proposal, base_id if k == 0 else f"{base_id}.{k}",
                                      messages=asks[k].messages, answer=answer, allow_partial=allow_partial,
                                      latency=latency, stats=stats, parent=parent, decoding=label,
                                      request_id=request_id, attempt=attempt)
            proposal = build(request=request)
            if not allow_partial:
                proposal = _other_reading(request, proposal, label, build)
            if stats.stopped and not proposal.passes:  # why it was stopped (Hopeless) is the problem to name
                proposal = _no_change(proposal, stats.stopped)
            elif not proposal.passes and not allow_partial and _ran_out_of_tokens(request, proposal):
                # the cut is the cause, not the syntax error or the half file it leaves
                proposal = _no_change(proposal, _out_of_tokens_problem(request, proposal, asks[k].params))
            if proposal.passes:
                proposal = self._run_check_command(proposal)
            built.append((k, proposal))
            if proposal.passes and not proposal.findings:  # one the check stage warns about waits for the
                round_.passed()  # others: one of them may pass without a warning (see _preference)
        proposals = [p for _, p in sorted(built, key=lambda kp: kp[0])]
        chosen = self._choose(proposals)
        first = next((p for k, p in built if k == 0), None)
        out_of_tokens = (not chosen.passes and not allow_partial and first is not None
                         and _ran_out_of_tokens(request, first))
        if out_of_tokens:
            chosen = first  # the round's most faithful copy ran out: the budget is what the person must hear of
        turned_down = [(p, failure_of(p)) for p in proposals if p is not chosen and not p.passes]
        return chosen, turned_down, out_of_tokens

    @staticmethod
    def _choose(proposals: list[Proposal]) -> Proposal:
        """The candidate to keep among checked ones: the best that passes (see _preference), else
        the least broken."""
        passing = [p for p in proposals if p.passes]
        if passing:
            return min(passing, key=_preference)
        least_broken = min(range(len(proposals)), key=lambda k: (
            not proposals[k].ok, sum(f.level == "error" for f in proposals[k].findings), k))
        return proposals[least_broken]

    def _sampling_params(self, request: EditRequest, sampling: dict | None) -> tuple[dict, str]:
        """The request fields every candidate starts from (before :func:`candidate_asks` gives each
        its temperature and seed), and the decoding label recorded with the proposals."""
        params: dict = {"temperature": self.config.temperature, "max_tokens": self.config.max_tokens}
        if self.config.seed is not None:
            params["seed"] = self.config.seed
        if self.candidate_count() > 1:
            params.update(logprobs=True, top_logprobs=1)  # to rank the candidates that pass (llama-cpp-python
            # sends log-probabilities only when top_logprobs is set)
        params.update(sampling or {})
        extra, label = self._decoding_params(request)
        params.update(extra)
        return params, label

    def _answers(self, asks: Sequence[CandidateAsk], label: str, request_id: str,
                 cancel: threading.Event | None, round_: "_Round", cut_at_fence: bool = False,
                 failed: Callable[[str], str | None] | None = None, hopeless: "Hopeless | None" = None,
                 ) -> Iterator[tuple[int, tuple[str, StreamStats, float]]]:
        """The answers to ``asks`` that are not empty, as they finish: (index of the ask, (text,
        stats, seconds)). The first streams its tokens as events; the others are asked for at the
        same time where the server decodes several at once (llama-server's slots, vLLM's
        batching) and one after the other elsewhere (see _serves_in_parallel), so there a
        sampled candidate is asked for only while none has passed. Once ``round_`` says a
        candidate passed, the streams still running get its grace, then are closed. With
        ``cut_at_fence`` (the whole format) a candidate other than the first ends at its first
        closed code fence: the code is all the format takes from it. With ``failed``, a
        candidate ends once its blocks cannot apply, whatever follows, and with ``hopeless`` once
        it loops or breaks its code beyond repair (see _stream_answer). A failed candidate
        other than the first is logged and left out."""
        shared: dict[int, tuple[SharedPrompt, int]] = {}  # candidate -> (the request it shares, its choice there)

        def one(k: int) -> tuple[str, StreamStats, float] | None:
            source = None
            if k in shared:
                feed, choice = shared[k]
                source = (feed.pieces(choice), feed.stats[choice])
            return self._stream_answer(asks[k], label, request_id if k == 0 else None, cancel, round_.stop,
                                       cut_at_fence=cut_at_fence and k > 0, failed=failed, source=source,
                                       hopeless=hopeless)

        def usable(k: int, result: tuple[str, StreamStats, float] | None) -> bool:
            return result is not None and bool(result[0].strip())

        def finished() -> Iterator[tuple[int, Callable[[], tuple[str, StreamStats, float] | None]]]:
            """(index, a call that gives its answer or raises) for each candidate, as it finishes."""
            if len(asks) == 1 or not self._serves_in_parallel():
                for k in range(len(asks)):
                    if round_.stop.is_set() or round_.passed_at is not None:
                        return
                    yield k, functools.partial(one, k)
                return
            if self._serves_choices():  # candidates with the same prompt and sampling: one request each group
                grouped, groups = group_asks(asks)
                for group in (g for g in groups if len(g) > 1):
                    feed = SharedPrompt(self.client, grouped[group[0]], len(group), cancel, round_.stop,
                                        on_ignored_n=self._server_ignored_n)
                    shared.update({k: (feed, choice) for choice, k in enumerate(group)})
            pool = concurrent.futures.ThreadPoolExecutor(max_workers=len(asks))
            try:
                pending = {pool.submit(one, k): k for k in range(len(asks))}
                while pending:
                    done, _ = concurrent.futures.wait(pending, timeout=round_.grace_left(),
                                                      return_when=concurrent.futures.FIRST_COMPLETED)
                    if not done:  # the grace after a passing candidate ran out
                        return
                    for future in done:
                        yield pending.pop(future), future.result
            finally:
                round_.stop.set()  # the streams still running close at their next token
                pool.shutdown(wait=False, cancel_futures=True)

        answered = False
        with contextlib.closing(finished()) as results:  # an error here still stops the other streams
            for k, result_of in results:
                try:
                    result = result_of()
                except Cancelled:
                    raise
                except ModelServerError as exc:
                    if k == 0:
                        raise
                    log.warning("a candidate answer failed: %s", exc)
                    continue
                if usable(k, result):
                    answered = True
                    yield k, result
        if not answered:
            raise ModelServerError("the model returned an empty answer; try again or rephrase the instruction")

    def _stream_answer(self, ask: CandidateAsk, label: str, stream_as: str | None,
                       cancel: threading.Event | None, stop: threading.Event | None = None,
                       cut_at_fence: bool = False, failed: Callable[[str], str | None] | None = None,
                       source: tuple[Generator[str, None, None], StreamStats] | None = None,
                       hopeless: "Hopeless | None" = None) -> tuple[str, StreamStats, float] | None:
        """One answer: (text, stats, seconds); its tokens are published under ``stream_as`` when
        given. None when ``stop`` was set before it finished (its stream is closed then, which
        frees the server's slot); with ``cut_at_fence`` it ends at its first closed, non-empty
        code fence; with ``failed`` (:func:`amigo.edits.failed_search` on the request's file) it
        ends at a line where that gives an answer, a blocks answer that cannot apply whatever
        follows, and that answer is the one returned. ``source``: its pieces and stats from a
        request it shares with other candidates (:class:`~amigo.shared_prompt.SharedPrompt`),
        instead of a request of its own. With ``hopeless`` it ends where that says it can only
        fail (``stats.stopped`` says why): a loop, or, when ``cut_at_fence`` makes its first fence
        the answer, a syntax error in there."""
        started = time.monotonic()
        if source is None:
            stats = StreamStats()
            stream = self.client.stream(ask.messages, cancel=cancel, stats=stats, **ask.params)
        else:
            stream, stats = source
        text = ""  # the answer so far
        try:
            for piece in stream:
                if stop is not None and stop.is_set():
                    return None
                text += piece
                if stream_as is not None:
                    self.events.publish(TokenEvent(stream_as, piece))
                if cut_at_fence and "\n" in piece and edits.has_closed_fence(text):
                    break
                if failed is not None and "\n" in piece and (closed := failed(text)) is not None:
                    log.info("answer stopped after %d characters: a SEARCH section that cannot apply", len(closed))
                    text = closed
                    break
                if hopeless is not None and (why := hopeless(text, "\n" in piece, cut_at_fence)):
                    stats.finish_reason, stats.stopped = why
                    log.info("answer stopped after %d characters: %s", len(text), stats.stopped)
                    break
            else:
                if source is not None and stats.finish_reason is None:
                    return None  # its shared request was closed (the round stopped) before this answer ended
        finally:
            stream.close()  # ends the HTTP request at once (llama-server frees the slot), not when collected
        answer = text
        if label == "constrained-json":
            answer = decoding.answer_text(answer, label)  # JSON blocks -> SEARCH/REPLACE text, still validated
        return answer, stats, time.monotonic() - started

    def candidate_count(self) -> int:
        """Answers a round asks for: ``candidates`` when set, else EMBEDDED_CANDIDATES for the
        embedded model on a server that decodes them together, else 1."""
        if self.config.candidates is not None:
            return self.config.candidates
        if self.config.model != EMBEDDED_MODEL or not self._serves_in_parallel():
            return 1
        return EMBEDDED_CANDIDATES

    def _serves_in_parallel(self) -> bool:
        """Whether candidates may be asked for at once. llama-cpp-python's server stops the
        answer it is streaming when another request arrives (its ``interrupt_requests``), so
        there they are asked for one after the other; llama-server decodes them together in
        its slots (``serve.parallel``; more than it has slots wait in its queue), vLLM batches
        them."""
        try:
            if self._decoding_cache is None:
                self._decoding_cache = decoding.probe_backend(
                    self.client.base_url, self.client.model, api_key=self.config.api_key)
        except Exception:  # noqa: BLE001 - unknown server: the safe order
            log.warning("could not tell what serves %s; asking for candidates one by one", self.client.base_url)
            return False
        return getattr(self._decoding_cache, "kind", "") not in ("llama-cpp-python", "unreachable")

    def _serves_choices(self) -> bool:
        """Whether candidates that share their prompt and sampling may share one request (``n``):
        llama-server evaluates the prompt once for all of them, vLLM shares it too. Asked after
        :meth:`_serves_in_parallel`, which probes the server."""
        return not self._n_ignored and getattr(self._decoding_cache, "kind", "") in ("llama.cpp", "vllm")

    def _server_ignored_n(self) -> None:
        if not self._n_ignored:
            self._n_ignored = True
            log.warning("%s answered one choice where several were asked for (an older server?); "
                        "asking for candidates one request each from now on", self.client.base_url)

    def _run_check_command(self, proposal: Proposal) -> Proposal:
        """The proposal with the person's ``check_command`` finding added, when it fails."""
        command = self.config.check_command
        if not command or not proposal.changes:
            return proposal
        finding = checks.run_check_command(command, self.workspace.root,
                                           {c.path: c.new_text for c in proposal.changes},
                                           self.config.check_timeout)
        return proposal if finding is None else replace(proposal, findings=proposal.findings + (finding,))

    def proposal_from_answer(self, request: EditRequest, answer: str, allow_partial: bool = False) -> Proposal:
        """A proposal from a saved answer (``amigo apply``): same parsing, readings and checks, no
        model call. An answer pasted from elsewhere is often a fenced rewrite or just the function
        it changed: read as the engine reads its own answers (:func:`_other_reading`) when that
        passes the checks, with the same ``format`` warning.

        An empty request for a file that does not exist is an answer creating it:
        only an empty SEARCH may, and applying checks that it is still missing.
        """
        request_id = new_request_id()
        creates = not request.file_text and not (self.workspace.root / request.path).exists()
        build = functools.partial(self._build_proposal, request_id, messages=build_messages(request),
                                  answer=answer, allow_partial=allow_partial, latency=0.0, stats=StreamStats(),
                                  parent=None, decoding="replay", request_id=request_id, creates=creates)
        proposal = build(request=request)
        if not allow_partial and not creates:
            proposal = _other_reading(request, proposal, "replay", build)
        proposal = self._run_check_command(proposal) if proposal.passes else proposal
        with self._lock:
            self._proposals[proposal.id] = proposal
        self.events.publish(ProposalEvent(proposal))
        return proposal

    def _decoding_params(self, request: EditRequest) -> tuple[dict, str]:
        """Extra request fields that constrain decoding, and the label recorded with the proposal."""
        if self.config.decoding == "free":
            return {}, "free"
        if self._decoding_cache is None:
            self._decoding_cache = decoding.probe_backend(
                self.client.base_url, self.client.model, api_key=self.config.api_key)
        params = decoding.constraint_params(request, self._decoding_cache, self.config.decoding)
        label = params.pop("decoding", "free") if isinstance(params, dict) else "free"
        return params, label

    def _build_proposal(self, proposal_id: str, request: EditRequest, messages: list[dict], answer: str,
                        allow_partial: bool, latency: float, stats: StreamStats,
                        parent: Proposal | None, decoding: str, request_id: str = "",
                        attempt: int = 1, creates: bool = False, new_text: str | None = None) -> Proposal:
        """The proposal ``answer`` makes, checked; ``new_text`` is the request's file as another
        reading of the answer has it (:func:`_other_reading`), instead of applying the answer."""
        files: dict[str, str | None] = {request.path: None if creates else request.file_text}
        bases: dict[str, str | None] = {request.path: None if creates else sha256_text(request.file_text)}
        errors: list[str] = []
        if request.edit_format == "blocks":
            for block in edits.parse_blocks(answer).blocks:
                if block.path and block.path not in files:
                    try:
                        rel = self.workspace.relpath(block.path)
                    except RefusedError as exc:
                        errors.append(f"block {block.index + 1}: {exc}")
                        continue
                    try:
                        snap = self.workspace.read(rel)
                        files[rel], bases[rel] = snap.text, snap.sha256
                    except InputError as exc:
                        if (self.workspace.root / rel).exists():
                            errors.append(f"block {block.index + 1}: {exc}")
                            continue
                        files[rel], bases[rel] = None, None
                    if rel != block.path:
                        files[block.path], bases[block.path] = files[rel], bases[rel]
        if new_text is None:
            applied = edits.apply_answer(answer, files, request.path, request.edit_format,
                                         selection=request.selection, allow_partial=allow_partial)
        else:
            applied = edits.AppliedAnswer({request.path: new_text}, whole_prose(answer), ("whole",), ())
        errors.extend(applied.errors)
        changes = []
        for path, new_text in applied.new_texts.items():
            if path not in files:
                continue  # a path refused above; its error is already recorded
            rel = self.workspace.relpath(path)
            old = files.get(path) or ""
            if new_text == old:
                continue
            try:  # over the size limit, or hard-linked: refused before any diff is shown
                self.workspace.check_writable(rel, len(new_text.encode("utf-8")))
            except RefusedError as exc:
                errors.append(str(exc))
                continue
            changes.append(FileChange(rel, old, new_text, bases.get(path)))
        if not changes and not errors:
            errors.append("the answer changes nothing; rephrase the instruction or retry")
        if errors and not allow_partial:
            changes = []
        diff = "".join(edits.unified_diff(c.path, c.old_text, c.new_text) for c in changes)
        findings = checks.check_changes(
            [(c.path, None if c.created else c.old_text, c.new_text) for c in changes], request.instruction,
            (request.path, request.selection) if request.selection else None,
            checks.repository_uses(self.workspace.root))
        hunks = tuple((c.path, h) for c in changes for h in edits.hunks(c.old_text, c.new_text))
        return Proposal(
            id=proposal_id, request=request, messages=tuple(messages), answer=answer,
            changes=tuple(changes), diff=diff, model=self.client.model, adapter=self.config.adapter,
            latency_s=latency, prompt_tokens=stats.prompt_tokens, completion_tokens=stats.completion_tokens,
            parent_id=parent.id if parent else None, errors=tuple(errors), decoding=decoding,
            prose=applied.prose.strip(), hunks=hunks, findings=tuple(findings),
            request_id=request_id or proposal_id, attempt=attempt,
            mean_logprob=sum(stats.logprobs) / len(stats.logprobs) if stats.logprobs else None,
            finish_reason=stats.finish_reason,
        )

    # -- verdicts -------------------------------------------------------------------

    def get(self, proposal_id: str) -> Proposal:
        with self._lock:
            proposal = self._proposals.get(proposal_id)
        if proposal is None:
            raise InputError(f"no proposal {proposal_id!r} in this session (it may have expired); ask again")
        return proposal

    def hunks(self, proposal: Proposal) -> list[tuple[str, edits.Hunk]]:
        """Every hunk of the proposal, numbered in order across its files (for per-hunk accept)."""
        return list(proposal.hunks)

    def accept(self, proposal: Proposal, hunks: Iterable[int] | None = None, commit: bool = False,
               message: str | None = None) -> ApplyResult:
        """Write the proposal (or only the chosen hunks) to disk; optionally commit exactly those files.

        A proposal built with ``allow_partial`` carries the blocks that applied
        beside the errors of those that did not; those changes are written.
        """
        if not proposal.changes:
            raise RefusedError("this proposal has errors and cannot be applied: "
                               + "; ".join(proposal.errors or ("it changes nothing",)))
        chosen = None if hunks is None else sorted(set(hunks))
        texts: dict[str, str] = {}
        changes = list(proposal.changes)
        if chosen is not None:
            texts = self._hunk_texts(proposal, chosen)
            changes = [c for c in changes if c.path in texts]
        commit_message = (message or _commit_message(proposal)) if commit else None
        try:  # the workspace re-checks every file under its lock: the one check that counts
            result = self.workspace.apply(changes, texts, commit_message=commit_message, proposal_id=proposal.id)
        except StaleError as exc:
            self.events.publish(StaleEvent(proposal, exc.path))
            raise
        final = tuple((c.path, texts.get(c.path, c.new_text)) for c in changes)
        self.events.publish(AcceptedEvent(proposal, tuple(chosen) if chosen is not None else None,
                                          result.commit, final))
        return result

    def _hunk_texts(self, proposal: Proposal, chosen: Sequence[int]) -> dict[str, str]:
        """Each touched file's text with only the ``chosen`` hunks (numbered across files) applied."""
        total = len(self.hunks(proposal))
        bad = [i for i in chosen if not 0 <= i < total]
        if bad:
            raise InputError(f"no hunk {bad[0]}: this proposal has hunks 0-{total - 1}")
        texts: dict[str, str] = {}
        offset = 0
        for change in proposal.changes:
            count = sum(1 for path, _ in proposal.hunks if path == change.path)
            mine = [i - offset for i in chosen if offset <= i < offset + count]
            offset += count
            if mine:
                texts[change.path] = edits.apply_hunks(change.old_text, change.new_text, mine)
        if not texts:
            raise InputError("no hunk chosen: nothing to apply")
        return texts

    def mark_accepted(self, proposal: Proposal, hunks: Iterable[int] | None = None) -> None:
        """Record an accept that the front end applied itself (an editor applying to its buffer)."""
        chosen = None if hunks is None else tuple(sorted(set(hunks)))
        texts = self._hunk_texts(proposal, chosen) if chosen is not None else {}
        final = tuple((c.path, texts.get(c.path, c.new_text)) for c in proposal.changes
                      if chosen is None or c.path in texts)
        self.events.publish(AcceptedEvent(proposal, chosen, None, final))

    def mark_undone(self, proposal: Proposal, paths: Iterable[str]) -> None:
        """Record an undo that the front end carried out itself (an editor reverting its
        buffers), the counterpart of :meth:`mark_accepted`: feedback learns the accept
        did not hold."""
        self.events.publish(UndoneEvent(proposal.id, tuple(paths)))

    def reject(self, proposal: Proposal, reason: str | None = None) -> None:
        """Record that the person rejected the proposal; nothing on disk changes."""
        self.events.publish(RejectedEvent(proposal, reason))

    def retry(self, proposal: Proposal, instruction: str | None = None,
              cancel: threading.Event | None = None, request_id: str | None = None) -> Proposal:
        """A second candidate for the same request (the pair is preference data).

        Sampling is warmed up and reseeded so the retry is not the same
        greedy answer again.
        """
        request = proposal.request
        if instruction and instruction.strip() != request.instruction:
            request = replace(request, instruction=instruction.strip())
        attempt = 1 + sum(1 for p in self._proposals.values() if p.request.path == request.path)
        sampling = {"temperature": max(self.config.temperature, 0.7), "seed": (self.config.seed or 0) + attempt}
        new = self.propose(request, cancel=cancel, parent=proposal, sampling=sampling, request_id=request_id)
        self.events.publish(RetriedEvent(proposal, new))
        return new

    def undo(self) -> tuple[str, ...]:
        """Restore the bytes from before Amigo's last change (refused if they were edited since)."""
        entry = self.workspace.last_change()
        paths = self.workspace.undo()
        self.events.publish(UndoneEvent(entry.get("proposal_id") if entry else None, paths))
        return paths


@dataclass
class _Round:
    """One round of candidates: when it started, when one first passed, and the event that
    stops the streams still running once the grace after that has passed."""

    started: float
    passed_at: float | None = None
    stop: threading.Event = field(default_factory=threading.Event)

    def passed(self) -> None:
        """A candidate passed every check with no warning: the others have CANDIDATE_GRACE of the time so far."""
        if self.passed_at is None:
            self.passed_at = time.monotonic()

    def grace_left(self) -> float | None:
        """Seconds the others may still take (None: no candidate passed yet, wait for them)."""
        if self.passed_at is None:
            return None
        deadline = self.passed_at + CANDIDATE_GRACE * (self.passed_at - self.started)
        return max(0.0, deadline - time.monotonic())


@dataclass(frozen=True)
class CandidateAsk:
    """One candidate request of one round: the conversation it sends and its sampling fields."""

    messages: list[dict]
    params: dict


@dataclass(frozen=True)
class RepairPrompts:
    """What a repair round may send, both stating the last round's problem."""

    conversation: list[dict]  # the request, the failed answer, the problem (amigo.prompt.repair_messages)
    restated: list[dict]  # the request with the problem, the failed answer left out (restated_messages)
    show_answer: bool = True  # False once the conversation got a turned-down answer back word for word


def candidate_asks(original: list[dict], repair: RepairPrompts | None, base: dict, attempt: int,
                   count: int) -> list[CandidateAsk]:
    """The ``count`` requests of round ``attempt``: what each sends and how it samples.

    Round 1: the first candidate keeps the configured sampling (greedy by
    default), the others sample at CANDIDATE_TEMPERATURE or more with seeds
    ``seed + k``, all asking the request. Repair rounds: a weak model told
    about its greedy mistake mostly writes the same mistake again, so every
    candidate samples (the first at REPAIR_TEMPERATURE or more) with seeds of
    its own round. The first gets the repair conversation, which shows the
    failed answer (what a strong model fixes best), until the model is seen
    copying it (``repair.show_answer``); every other candidate, and the first
    from then on, gets the request restated with the problem and without the
    answer: shown its answer, the embedded model wrote it again word for word
    in more than half the candidates it was shown to (benchmarks/RESULTS.md, "Asking
    again without the failed answer").
    """
    seed = int(base.get("seed") or 0)
    asks = []
    for k in range(count):
        params = dict(base)
        if k > 0 or attempt > 1:
            floor = CANDIDATE_TEMPERATURE if k > 0 else REPAIR_TEMPERATURE
            params["temperature"] = max(float(params["temperature"]), floor)
            params["seed"] = seed + (attempt - 1) * count + k
        if repair is None:
            messages = original
        elif k == 0 and repair.show_answer:
            messages = repair.conversation
        else:
            messages = repair.restated
        asks.append(CandidateAsk(messages, params))
    return asks


def _copies(repair: RepairPrompts, answers: Sequence[Proposal], failed: Sequence[tuple[Proposal, str]]) -> bool:
    """Whether an answer to the repair conversation (among ``answers``, one round's) is, but for
    surrounding blank space, an answer already turned down (``failed``)."""
    turned_down = {p.answer.strip() for p, _ in failed}
    return any(p.messages == tuple(repair.conversation) and p.answer.strip() in turned_down for p in answers)


def new_request_id() -> str:
    """A fresh request id, for callers that do not bring their own."""
    return uuid.uuid4().hex[:12]


def failure_of(proposal: Proposal) -> str:
    """What is wrong with ``proposal``, in the words the model is sent back (and the person shown)."""
    if proposal.errors:
        return "\n".join(proposal.errors)
    return "\n".join(str(f) for f in proposal.findings if f.level == "error")


class Hopeless:
    """Tells, as an answer to ``request`` streams, that reading on cannot help: (finish reason,
    the problem in words) once it does, else None. A weak model often writes on to
    ``max_tokens`` after that point, and a round waits for its slowest candidate; stopped there,
    the round ends sooner. What the answer wrote before is judged as any answer is (a loop in
    the prose after a closed fence or after its last block takes nothing from it); when that
    fails, the reason it was stopped is the problem the repair round is told.

    * ``repetition``: the answer is looping (:class:`amigo.edits.loops.LoopWatch`), whatever
      the format;
    * ``syntax-error``: a whole-format answer whose first fence is the answer (a sampled
      candidate, which ends at its first closed fence) wrote Python no continuation can make
      compile (:func:`amigo.checks.python_prefix_error`). Only for a whole-file rewrite of a
      file that compiled: a selection is a fragment (``return`` is fine inside a function the
      fragment does not show), and a file already broken is judged only on what the change adds.
    """

    def __init__(self, request: EditRequest) -> None:
        self._loops = edits.LoopWatch(request.file_text)
        self._python = (request.edit_format == "whole" and request.selection is None and request.language == "python"
                        and checks.python_syntax_error(request.file_text) is None)

    def __call__(self, answer: str, line_ended: bool, first_fence_is_answer: bool) -> tuple[str, str] | None:
        """Judged at every streamed piece; ``line_ended``: the piece ended a line (the syntax is
        judged only then, on complete lines)."""
        if (repeated := self._loops.looping(answer)) is not None:
            return "repetition", (f"the answer went into a loop, writing {repeated.strip()[:80]!r} over and over; "
                                  "it was stopped there")
        if not (self._python and line_ended and first_fence_is_answer):
            return None
        written = answer[: answer.rfind("\n") + 1]
        fences = edits.find_fences(written)
        if not fences or fences[0][1] < len(written.splitlines()):
            return None  # no code yet, or its fence is closed (the whole answer is judged then)
        code = fences[0][2]
        if (error := checks.python_prefix_error(code)) is None:
            return None
        message, line = error
        shown = code.splitlines()[line - 1].strip()[:80]
        return "syntax-error", (f"introduces a syntax error ({message}) at line {line}: {shown}; the answer was "
                                "stopped there, since nothing after it could make the file compile")


BLOCKS_FALLBACK_NOTE = ("\n(A whole rewrite does not fit in the budget: asking again for SEARCH/REPLACE blocks, "
                        "which write only the lines that change.)")
WHOLE_FALLBACK_LINES = 200  # the most lines a whole-format rewrite is asked for when nothing is selected


def _whole_fallback(request: EditRequest, answers: Sequence[Proposal], label: str) -> str | None:
    """Why the next round of a blocks request asks for the whole format instead (the note added
    to the problem), or None to repair in blocks. ``answers``: the failed round's, the one kept
    first. Only where the whole format can take the change (a selection, or a file of at most
    WHOLE_FALLBACK_LINES lines; a grammar the server takes as text, not JSON) and the round
    shows the model cannot write blocks for it, in the kept answer or in at least half of them
    (the kept one is merely the least broken: one that applied with a syntax error is kept
    over three that ran out of tokens):

    * a fenced rewrite and no block at all (free decoding: a grammar holds it to blocks). Small
      models answer every blocks request like that;
    * blocks cut off at ``max_tokens`` although rewriting the text whole is shorter than what it
      wrote: its SEARCH copied the function and its REPLACE rewrote it and ran on (what the
      embedded model does under a blocks grammar). The rewrite fits in the same budget. Blocks
      stopped in a loop count too: they were running on to the same end.
    """
    if request.edit_format != "blocks" or label == "constrained-json" or not _fits_whole(request):
        return None

    def shown(test: Callable[[Proposal], bool]) -> bool:
        return test(answers[0]) or 2 * sum(map(test, answers)) >= len(answers)

    if shown(lambda p: _fenced_rewrite(request, p, label)):
        return "\n(It answered with a rewritten fenced block: asking again in the whole format.)"
    rewrite = len(_rewritten_text(request))
    if shown(lambda p: not p.ok and (p.finish_reason == "length" and rewrite < len(p.answer)
                                     or p.finish_reason == "repetition")):
        return "\n(Its blocks ran out of tokens: asking again in the whole format, which is shorter here.)"
    return None


def _fits_whole(request: EditRequest) -> bool:
    """Whether a whole-format rewrite can take the change: a selection, or a file of at most
    WHOLE_FALLBACK_LINES lines."""
    return request.selection is not None or request.file_text.count("\n") <= WHOLE_FALLBACK_LINES


UNCONSTRAINED = ("free", "replay")  # decoding labels of answers no grammar held to their format


def _fenced_rewrite(request: EditRequest, proposal: Proposal, label: str) -> bool:
    """Whether a blocks answer holds no block but a fenced block of code, under free decoding or
    saved (a grammar holds the model to blocks), for a selection or a file short enough to be
    rewritten whole. Small models answer most blocks requests like that."""
    if request.edit_format != "blocks" or label not in UNCONSTRAINED or proposal.ok:
        return False
    if not proposal.answer.strip() or not _fits_whole(request):
        return False
    parsed = edits.parse_blocks(proposal.answer)
    return not parsed.blocks and not parsed.errors and bool(edits.find_fences(proposal.answer))


def _other_reading(request: EditRequest, proposal: Proposal, label: str,
                   build: Callable[..., Proposal]) -> Proposal:
    """``proposal``, or a reading of its answer closer to what the model meant when that one
    passes the checks (a round saved; the request stays the one asked, a ``format`` warning
    says how it was read, and the export renders an accepted one in the prompt's format):

    * a blocks answer that is a fenced rewrite (:func:`_fenced_rewrite`), read as the
      whole-format answer it is;
    * a whole-file rewrite that holds only the definitions it changed (it removes the rest,
      taken literally), read as replacing those (:func:`amigo.splice.splice_definitions`).
    """
    if proposal.passes:
        return proposal
    whole = replace(request, edit_format="whole")
    if request.edit_format == "blocks":
        if not _fenced_rewrite(request, proposal, label):
            return proposal
        rewrite = build(request=whole)
        if rewrite.passes:
            return replace(rewrite, request=request, findings=rewrite.findings + (_read_as_rewrite(request),))
    else:
        rewrite = proposal
    if request.selection is not None or not rewrite.ok or not any(
            f.kind in ("removed-selection", "removed-definition") for f in rewrite.findings):
        return proposal
    spliced = splice_definitions(request.file_text, edits.parse_whole(rewrite.answer), request.language)
    if spliced is None:
        return proposal
    candidate = build(request=whole, new_text=spliced)
    if not candidate.passes:
        return proposal
    return replace(candidate, request=request, findings=candidate.findings + (_read_as_splice(request),))


def _read_as_splice(request: EditRequest) -> checks.Finding:
    """The warning on a whole-file answer that held only some definitions, spliced in."""
    return checks.Finding("format", "warning", request.path,
                          "the answer rewrote only some definitions of the file; they were put in place of "
                          "the old ones and the rest of the file kept (the checks passed); review the diff")


def _read_as_rewrite(request: EditRequest) -> checks.Finding:
    """The warning on a blocks answer taken as a rewrite: the diff is then the whole text's."""
    what = (f"lines {request.selection[0]}-{request.selection[1]}" if request.selection
            else "the whole file")
    return checks.Finding("format", "warning", request.path,
                          f"the answer has no SEARCH/REPLACE blocks; its code block was read as a rewrite "
                          f"of {what} (the checks passed); review the whole diff")


def _rewritten_text(request: EditRequest) -> str:
    """What a whole-format answer to ``request`` rewrites: the selected lines, else the file."""
    if request.selection is None:
        return request.file_text
    start, end = request.selection
    return "".join(request.file_text.splitlines(keepends=True)[start - 1 : end])


def _no_change(proposal: Proposal, problem: str) -> Proposal:
    """``proposal`` as an answer that changes nothing, for ``problem``: what it wrote was cut short
    (stopped in a loop, at a syntax error, or by the budget), so its text is no change to offer, even
    with ``--allow-broken``."""
    return replace(proposal, errors=(problem,), changes=(), diff="", findings=(), hunks=())


def _ran_out_of_tokens(request: EditRequest, proposal: Proposal) -> bool:
    """Whether ``proposal``, a whole-format answer to ``request``, ran into ``max_tokens`` inside
    its code and the text it rewrites holds more characters than the whole answer did: at the
    answer's own rate, rewriting the text alone takes more than the budget.

    A round's first candidate (greedy in the first round) copies the text it rewrites; when it
    runs out like that, the rounds after it, asked in the same format with the same budget, run
    out too or pass only by writing much less than the text (on the project's tasks: a rewrite
    that replaced a function's body and doctests with other code). The repair loop asks for
    blocks next, or ends there, and names the budget (_out_of_tokens_problem) instead of the
    syntax error the cut leaves.
    An answer cut off after more characters than the text holds spent its budget on prose or
    on rambling, which another round may not: that one is repaired as any failure."""
    if request.edit_format != "whole" or proposal.finish_reason != "length":
        return False
    fences = edits.find_fences(proposal.answer)
    if not fences or fences[-1][1] < len(split_lines(proposal.answer)):
        return False  # no code, or its fence closed: the cut came after the code
    return len(proposal.answer) < len(_rewritten_text(request))


def _out_of_tokens_problem(request: EditRequest, proposal: Proposal, params: dict) -> str:
    """What the person and the repair round are told of an answer that _ran_out_of_tokens."""
    code = edits.find_fences(proposal.answer)[-1][2]
    text = _rewritten_text(request)
    what = (f"lines {request.selection[0]}-{request.selection[1]} of {request.path}" if request.selection
            else request.path)
    budget = f" (max_tokens = {params['max_tokens']})" if params.get("max_tokens") else ""
    return (f"the answer ran out of tokens{budget} after {len(code.splitlines())} of the "
            f"{len(text.splitlines())} lines of {what}: it held {len(proposal.answer):,} characters in all, and "
            f"the text to rewrite holds {len(text):,}, so a whole rewrite does not fit. Raise max_tokens, "
            "select only the lines to change, or ask for SEARCH/REPLACE blocks (the blocks edit format)")


def _with_failed_search(proposal: Proposal, problem: str) -> str:
    """``problem`` with the SEARCH text of every block it names quoted after it, so the model
    sees exactly what it wrote that the file does not have."""
    if proposal.request.edit_format != "blocks":
        return problem
    quoted = []
    for block in edits.parse_blocks(proposal.answer).blocks:
        if f"Block {block.index + 1}" in problem and block.search.strip():
            quoted.append(f"The SEARCH text of block {block.index + 1} was:\n{block.search.rstrip()}")
    return "\n\n".join([problem, *quoted])


def _preference(proposal: Proposal) -> tuple[int, float, int]:
    """Sort key among passing candidates: the fewest warnings (a candidate that keeps every key
    beats one that drops a few unasked, however sure the model was of the latter), then the most
    confident answer (highest mean token log-probability, when the server gave them), then the
    smallest change."""
    warnings = sum(f.level == "warning" for f in proposal.findings)
    changed = sum(len(h.old_lines) + len(h.new_lines) for _, h in proposal.hunks)
    confidence = proposal.mean_logprob if proposal.mean_logprob is not None else 0.0
    return (warnings, -confidence, changed)


def _check_selection(selection: tuple[int, int] | None, text: str, rel: str) -> tuple[int, int] | None:
    if selection is None:
        return None
    start, end = selection
    count = max(1, len(text.splitlines()))
    if start < 1 or end < start:
        raise InputError(f"bad line range {start}-{end}: use A-B with 1 <= A <= B")
    if start > count:
        raise InputError(f"{rel} has {count} lines; the range {start}-{end} starts after the end")
    return (start, min(end, count))


def _commit_message(proposal: Proposal) -> str:
    first = proposal.request.instruction.strip().splitlines()[0][:72]
    return f"{first}\n\nApplied with Amigo (proposal {proposal.id}, model {proposal.model})."

"""Execute one signed command against the directory, at most once.

The order matters (docs/agent-channel.md):

1. the service's signature must verify with the key pinned at enrolment, or nothing happens;
2. an idempotency key already executed answers with the journalled result (no second write);
3. an expired command answers ``command_expired`` without touching the directory;
4. ``start`` is posted before the directory is touched; a refusal (the command ended) stops here;
5. the secrets are unsealed, used, and dropped; the result is posted and journalled.

A command journalled as started but never finished (the agent died mid-write) is not retried:
whether the directory took the write is unknown, and a second write could fail on history.
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from nacl.exceptions import BadSignatureError, CryptoError
from nacl.public import PrivateKey, SealedBox
from nacl.signing import VerifyKey

from sspr_agent.channel import Channel, ChannelError
from sspr_agent.config import StateStore
from sspr_agent.directory.base import Directory, OperationResult
from sspr_protocol.messages import Command, CommandKind, Outcome, Result, canonical

log = logging.getLogger("sspr_agent.writeback")

# Which sealed field each kind needs (the first name found is used).
_SEALED_NEW = ("new_password",)
_SEALED_OLD = ("old_password", "current_password")
_SEALED_VERIFY = ("password", "old_password", "current_password")


READ_ONLY = frozenset(
    {CommandKind.VERIFY_CREDENTIALS, CommandKind.PING, CommandKind.CHECK_PASSWORD}
)


class Refused(Exception):
    """The command was not executed; `outcome` says why."""

    def __init__(self, outcome: Outcome, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.message = message


def verify_envelope(envelope: dict[str, Any], service_key: VerifyKey) -> dict[str, Any]:
    """The command of a ``{"command", "signature"}`` envelope, if the service signed it.

    The signature is Ed25519, base64, over ``canonical(command)`` (sspr_protocol.messages).
    """
    command = envelope.get("command")
    signature = envelope.get("signature")
    if not isinstance(command, dict) or not isinstance(signature, str):
        raise Refused(Outcome.DIRECTORY_ERROR, "malformed command envelope")
    try:
        service_key.verify(canonical(command), base64.b64decode(signature, validate=True))
    except (BadSignatureError, binascii.Error, ValueError, TypeError):
        raise Refused(
            Outcome.DIRECTORY_ERROR, "refused: the service signature does not verify"
        ) from None
    return command


class Executor:
    """Runs commands. One per agent; `execute` may be called from several threads at once."""

    def __init__(
        self,
        *,
        channel: Channel,
        state: StateStore,
        service_key: VerifyKey,
        box_key: PrivateKey,
        directory: Callable[[], Directory],
        discard: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._channel = channel
        self._state = state
        self._service_key = service_key
        self._box = SealedBox(box_key)
        self._directory = directory
        self._discard = discard
        self._clock = clock
        self._keys_lock = threading.Lock()
        self._running: dict[str, threading.Event] = {}

    def execute(
        self, envelope: dict[str, Any], started: Callable[[], None] = lambda: None
    ) -> Result | None:
        """Execute one envelope and post its result. None when nothing could be answered.

        `started` is called once the service has answered the command's `start`.
        """
        try:
            raw = verify_envelope(envelope, self._service_key)
        except Refused as refused:
            # An unverified command's id cannot be trusted; answer it only so that a genuine
            # command mangled in transit fails fast instead of waiting for its expiry.
            command_id = _loose_id(envelope)
            log.warning("agent.command.refused id=%s reason=bad_signature", command_id or "?")
            self._state.record_error("writeback", f"command {command_id or '?'}: {refused}")
            if not command_id:
                return None
            return self._post(Result(command_id, refused.outcome, refused.message))
        try:
            command = Command.load(raw)
        except (TypeError, ValueError) as exc:
            command_id = str(raw.get("id", ""))
            log.warning("agent.command.refused id=%s reason=unreadable", command_id)
            message = f"refused: unreadable command ({exc.__class__.__name__})"
            return (
                self._post(Result(command_id, Outcome.DIRECTORY_ERROR, message))
                if command_id
                else None
            )
        return self._run(command, started)

    def _run(self, command: Command, started: Callable[[], None]) -> Result | None:
        key = command.idempotency_key
        if not key:
            return self._run_once(command, started)
        # Two commands with one key at once: the second waits, then replays the first's result.
        while True:
            with self._keys_lock:
                busy = self._running.get(key)
                if busy is None:
                    mine = self._running[key] = threading.Event()
                    break
            busy.wait(60)
        try:
            return self._run_once(command, started)
        finally:
            with self._keys_lock:
                del self._running[key]
            mine.set()

    def _run_once(self, command: Command, started: Callable[[], None]) -> Result | None:
        key = command.idempotency_key
        entry = self._state.journal_get(key) if key else None
        if entry is not None:
            return self._replay(command, entry)
        if self._clock() >= command.expires_at:
            log.info("agent.command.expired id=%s kind=%s", command.id, command.kind)
            return self._post(Result(command.id, Outcome.EXPIRED, "command expired before start"))
        try:
            kind = CommandKind(command.kind)
        except ValueError:
            log.warning("agent.command.refused id=%s reason=unknown_kind", command.id)
            return self._post(
                Result(
                    command.id,
                    Outcome.DIRECTORY_ERROR,
                    f"refused: unknown command kind {command.kind[:40]!r}",
                )
            )
        try:
            self._channel.start(command.id)
        except ChannelError as exc:
            # The service says the command ended (409), or cannot be told: either way the
            # directory is not touched, and a result would be refused.
            log.warning("agent.command.not_started id=%s: %s", command.id, exc)
            self._state.record_error("writeback", f"command {command.id} not started: {exc}")
            return None
        started()
        # Only writes are journalled: a read (a sign-in's bind, a ping, a pre-check) is safe to
        # repeat, and journalling every sign-in made the state file the bottleneck. An entry
        # means "this agent carried it out": it is made only once the service said start.
        journal = bool(key) and kind not in READ_ONLY
        if journal:
            self._state.journal_start(key, command.id, kind.value)
        began = time.monotonic()
        outcome = self._perform(kind, command)
        details: dict[str, Any] = {"duration_ms": round((time.monotonic() - began) * 1000)}
        result = Result(command.id, outcome.outcome, outcome.message, details)
        log.info(
            "agent.command.done id=%s kind=%s outcome=%s", command.id, kind.value, outcome.outcome
        )
        # The user waits for the result, not for the journal: it is posted first. Should the
        # agent die in between, the entry stays "started", and a repeat is refused anyway.
        posted = self._post(result)
        if journal:
            self._state.journal_done(key, command.id, kind.value, asdict(result))
        return posted

    def _replay(self, command: Command, entry: dict[str, Any]) -> Result:
        recorded = entry.get("result")
        if entry.get("state") == "done" and isinstance(recorded, dict):
            log.info(
                "agent.command.replayed id=%s kind=%s outcome=%s",
                command.id,
                command.kind,
                recorded.get("outcome"),
            )
            previous = Result.load(recorded)
            result = Result(command.id, previous.outcome, previous.message, previous.details)
        else:
            log.warning("agent.command.interrupted id=%s kind=%s", command.id, command.kind)
            result = Result(
                command.id,
                Outcome.DIRECTORY_ERROR,
                "a previous attempt was interrupted; its outcome is unknown",
            )
        return self._post(result)

    def _perform(self, kind: CommandKind, command: Command) -> OperationResult:
        target = command.target or {}
        dn = str(target.get("dn", ""))
        if kind is not CommandKind.PING and not dn:
            return OperationResult(Outcome.USER_NOT_FOUND, "the command names no directory object")
        try:
            directory = self._directory()
        except Exception as exc:  # noqa: BLE001 - any failure to connect is "unavailable"
            log.warning("agent.directory.unavailable: %s", exc.__class__.__name__)
            return OperationResult(Outcome.DIRECTORY_UNAVAILABLE, "directory unavailable")
        secrets: dict[str, str] = {}
        try:
            secrets = self._unseal(command.sealed)
            return self._call(kind, directory, dn, command, secrets)
        except Refused as refused:
            return OperationResult(refused.outcome, refused.message)
        except Exception as exc:  # noqa: BLE001 - a directory bug must still answer the user
            # The exception's text could quote an argument; only its type is recorded.
            log.error("agent.directory.error kind=%s %s", kind.value, exc.__class__.__name__)
            if self._discard is not None:
                self._discard()  # the next command gets a fresh connection
            return OperationResult(Outcome.DIRECTORY_ERROR, exc.__class__.__name__)
        finally:
            for name in list(secrets):
                secrets[name] = ""
            secrets.clear()
            del secrets

    def _call(
        self,
        kind: CommandKind,
        directory: Directory,
        dn: str,
        command: Command,
        secrets: dict[str, str],
    ) -> OperationResult:
        if kind is CommandKind.RESET_PASSWORD:
            options = command.options
            must_change = bool(options.get("must_change", options.get("must_change_password")))
            if bool(options.get("enforce_policy")):  # a self-service reset
                # Named only when asked for: a Directory that does not know the keyword then
                # refuses the reset (DIRECTORY_ERROR) rather than skip the policy.
                return directory.reset_password(
                    dn, _pick(secrets, _SEALED_NEW), must_change, enforce_policy=True
                )
            return directory.reset_password(dn, _pick(secrets, _SEALED_NEW), must_change)
        if kind is CommandKind.CHANGE_PASSWORD:
            return directory.change_password(
                dn, _pick(secrets, _SEALED_OLD), _pick(secrets, _SEALED_NEW)
            )
        if kind is CommandKind.UNLOCK:
            return directory.unlock(dn)
        if kind is CommandKind.VERIFY_CREDENTIALS:
            return directory.verify_credentials(dn, _pick(secrets, _SEALED_VERIFY))
        if kind is CommandKind.CHECK_PASSWORD:
            check = getattr(directory, "check_password", None)
            if check is None:
                return OperationResult(
                    Outcome.DIRECTORY_ERROR, "this directory offers no password pre-check"
                )
            result: OperationResult = check(dn, _pick(secrets, _SEALED_NEW))
            return result
        # PING: the directory answers if it can tell its high-water mark.
        ping = getattr(directory, "ping", None)
        if ping is not None:
            answer: OperationResult = ping()
            return answer
        directory.cursor()
        return OperationResult(Outcome.OK, "pong")

    def _unseal(self, sealed: dict[str, str]) -> dict[str, str]:
        opened: dict[str, str] = {}
        for name, value in (sealed or {}).items():
            try:
                opened[name] = self._box.decrypt(base64.b64decode(value, validate=True)).decode()
            except (CryptoError, binascii.Error, ValueError, TypeError, UnicodeDecodeError):
                raise Refused(
                    Outcome.DIRECTORY_ERROR,
                    f"sealed field {name[:40]!r} cannot be opened with this agent's key",
                ) from None
        return opened

    def _post(self, result: Result) -> Result:
        try:
            self._channel.post_result(result)
        except ChannelError as exc:
            # 409: the command already ended (expired or answered); nothing more to do.
            level = logging.INFO if exc.status == 409 else logging.WARNING
            log.log(level, "agent.result.not_accepted id=%s: %s", result.command_id, exc)
            if exc.status != 409:
                self._state.record_error("writeback", f"result {result.command_id}: {exc}")
        return result


def _pick(secrets: dict[str, str], names: tuple[str, ...]) -> str:
    for name in names:
        if secrets.get(name):
            return secrets[name]
    raise Refused(Outcome.DIRECTORY_ERROR, f"the command carries no sealed {names[0]}")


def _loose_id(envelope: dict[str, Any]) -> str:
    command = envelope.get("command")
    if isinstance(command, dict) and isinstance(command.get("id"), str):
        return str(command["id"])[:100]
    return ""

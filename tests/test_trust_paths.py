"""Paths that reach the index resolve inside the workspace (symlinks followed) or are refused;
secrets are masked wherever ragls writes text."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from ragls.errors import WorkspaceError
from ragls.indexing.workspace import WorkspaceIndex
from ragls.redact import RedactingFilter, redact, redact_url, remember_secret

SECRET_TEXT = "AWS_SECRET = 'outside-the-workspace'\n"


@pytest.fixture
def escape(tmp_path: Path) -> tuple[Path, Path]:
    """A workspace with a lexical and two symlink ways out, and the secret file they lead to."""
    outside = tmp_path / "outside.py"
    outside.write_text(SECRET_TEXT, encoding="utf-8")
    (tmp_path / "private").mkdir()
    (tmp_path / "private" / "keys.py").write_text(SECRET_TEXT, encoding="utf-8")
    root = tmp_path / "ws"
    (root / "a").mkdir(parents=True)
    (root / "a" / "ok.py").write_text("def fine():\n    return 1\n", encoding="utf-8")
    os.symlink(outside, root / "link.py")  # a file link out
    os.symlink(tmp_path / "private", root / "linked_dir")  # a folder link out
    os.symlink(root / "a" / "ok.py", root / "alias.py")  # a link that stays inside
    return root, outside


def test_lexical_escapes_are_refused(escape: tuple[Path, Path]) -> None:
    root, _ = escape
    with WorkspaceIndex.open(root) as index:
        for path in (
            "a/../../outside.py",
            "../outside.py",
            "a/b/../../../outside.py",
            "..",
            str(root.parent),
        ):
            assert index.read_text(path) is None, path
            assert index.parsed(path) is None, path
            with pytest.raises(WorkspaceError):
                index.set_overlay(path, "x = 1\n")
        assert index.read_text("a/../a/ok.py") == "def fine():\n    return 1\n"  # stays inside: fine


def test_symlink_escapes_are_refused(escape: tuple[Path, Path]) -> None:
    root, _ = escape
    with WorkspaceIndex.open(root) as index:
        stats = index.update()
        files = index.files()
        assert "a/ok.py" in files and "link.py" not in files
        assert not any(f.startswith("linked_dir/") for f in files)
        assert stats.skip_reasons.get("outside-workspace") == 1
        for path in ("link.py", "linked_dir/keys.py", str(root / "link.py")):
            assert index.read_text(path) is None, path
            with pytest.raises(WorkspaceError):
                index.set_overlay(path, "x = 1\n")
        # watcher events for the links are refused the same way
        index.update(paths=["link.py", "linked_dir/keys.py"])
        assert "link.py" not in index.files()
        assert not any("outside-the-workspace" in c.text for batch in index.iter_chunks() for c in batch)
        assert index.read_text("alias.py") is not None  # a link inside the workspace is fine


def test_a_link_made_after_indexing_is_dropped(escape: tuple[Path, Path]) -> None:
    root, outside = escape
    with WorkspaceIndex.open(root) as index:
        (root / "later.py").write_text("y = 2\n", encoding="utf-8")
        index.update()
        assert "later.py" in index.files()
        (root / "later.py").unlink()
        os.symlink(outside, root / "later.py")
        index.update(paths=["later.py"])
        assert "later.py" not in index.files()


def test_server_paths_follow_symlinks(escape: tuple[Path, Path]) -> None:
    from ragls.server.state import ServerState

    root, _ = escape
    state = ServerState(engine_factory=lambda r, s: None)  # type: ignore[arg-type,return-value]
    state.root = root.resolve()
    assert state.rel_path((root / "a" / "ok.py").as_uri()) == "a/ok.py"
    assert state.rel_path((root / "link.py").as_uri()) is None
    assert state.rel_path((root / "linked_dir" / "keys.py").as_uri()) is None
    assert state.rel_path(root.as_uri() + "/a/../../outside.py") is None
    assert not state.inside_root(root / "a" / ".." / ".." / "outside.py")
    assert not state.inside_root(root / "linked_dir" / "new_test.py")


def test_redaction() -> None:
    assert redact_url("https://alice:hunter22@llm.example:8443/v1") == "https://***@llm.example:8443/v1"
    assert redact_url("http://127.0.0.1:8080/v1") == "http://127.0.0.1:8080/v1"
    text = "cannot reach https://tok3n@api.example/v1?api_key=abc123&x=1: Authorization: Bearer sk-live-999"
    clean = redact(text)
    for secret in ("tok3n", "abc123", "sk-live-999"):
        assert secret not in clean
    assert "api.example" in clean and "x=1" in clean
    remember_secret("s3cr3t-value-from-env")
    assert redact("the server said: bad key s3cr3t-value-from-env") == "the server said: bad key ***"


def test_log_records_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("ragls.test.redact")
    record = logger.makeRecord(
        logger.name, logging.WARNING, __file__, 1, "calling %s", ("https://u:pw123@h/v1",), None
    )
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "calling https://***@h/v1"
    try:
        raise RuntimeError("boom at https://u:pw123@h/v1")
    except RuntimeError:
        import sys

        record = logger.makeRecord(logger.name, logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    RedactingFilter().filter(record)
    assert "pw123" not in (record.exc_text or "") and "RuntimeError" in (record.exc_text or "")


def test_remote_backend_errors_hide_credentials() -> None:
    from ragls.errors import BackendError
    from ragls.models.remote_openai import RemoteOpenAIBackend

    # port 9 (discard) on loopback: nothing listens, the connection is refused at once
    with RemoteOpenAIBackend("http://bob:pa55word@127.0.0.1:9/v1", connect_timeout_s=1) as backend:
        assert "pa55word" not in backend.name
        from ragls.models.backend import GenerationRequest

        with pytest.raises(BackendError) as info:
            backend.generate(GenerationRequest(prompt="x"))
        assert "pa55word" not in str(info.value) and "127.0.0.1" in str(info.value)

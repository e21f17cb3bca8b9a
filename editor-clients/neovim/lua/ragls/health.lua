-- :checkhealth ragls: Neovim, the executable and its version, llama-cpp, the model file, the
-- index location and size, workspace trust and the attached server.
local M = {}

local config = require("ragls.config")

local function size(bytes)
  return bytes >= 1e5 and ("%.1f MB"):format(bytes / 1e6) or ("%.1f kB"):format(bytes / 1e3)
end

local function root_of(opts)
  local client = vim.lsp.get_clients({ name = "ragls" })[1]
  if client and client.config.root_dir then
    return client.config.root_dir
  end
  return vim.fs.root(0, opts.root_markers) or vim.fn.getcwd()
end

--- `ragls doctor --json` for `root` with the configured settings, or nil and an error.
local function doctor(opts, root)
  local cmd = config.base_cmd(opts.cmd)
  local settings = vim.tbl_isempty(opts.settings or {}) and "{}" or vim.json.encode(opts.settings)
  vim.list_extend(cmd, { "doctor", "--json", "--workspace", root, "--settings", settings })
  local ok, proc = pcall(vim.system, cmd, { text = true })
  if not ok then
    return nil, tostring(proc)
  end
  local out = proc:wait(60000)
  local decoded_ok, report = pcall(vim.json.decode, out.stdout or "")
  if not decoded_ok or type(report) ~= "table" then
    return nil, ("`%s` failed (exit %s): %s"):format(table.concat(cmd, " "), tostring(out.code), out.stderr or "")
  end
  return report
end

function M.check()
  local h = vim.health
  h.start("ragls")
  local ragls = require("ragls")
  local opts = ragls.options
  if not opts then
    h.warn('require("ragls").setup() has not been called: using the defaults here')
    opts = config.resolve({})
  end

  local v = vim.version()
  local version = ("%d.%d.%d"):format(v.major, v.minor, v.patch)
  local kind = ragls.ghost_kind or config.ghost_kind(opts)
  if vim.fn.has("nvim-0.10") == 0 then
    h.error("Neovim " .. version .. ": ragls needs 0.10 or newer")
  else
    h.ok(("Neovim %s: ghost text by %s"):format(version, kind == "builtin" and "vim.lsp.inline_completion"
      or kind == "extmark" and "ragls extmarks" or "nothing (inline_completion = false)"))
  end

  local exe = opts.cmd[1]
  if vim.fn.executable(exe) == 0 then
    h.error(("`%s` is not executable"):format(exe), {
      "pip install 'ragls[local]' (or `make install` in a ragls checkout)",
      'or set cmd = { "/path/to/ragls", "serve" } in setup()',
    })
    return
  end
  h.ok(("executable: %s"):format(vim.fn.exepath(exe)))

  local root = root_of(opts)
  local report, err = doctor(opts, root)
  if not report then
    h.error("cannot run ragls doctor: " .. err)
    return
  end
  h.ok(("ragls %s (%s)"):format(report.version, report.python))
  if report.llama_cpp.ok then
    h.ok("llama-cpp-python " .. tostring(report.llama_cpp.version))
  elseif report.model.source == "remote" then
    h.info("llama-cpp-python is not installed (not needed for a remote model)")
  else
    h.error(report.llama_cpp.error)
  end
  local model = report.model
  if model.ok then
    h.ok(model.source == "remote" and ("model: %s at %s"):format(tostring(model.name), model.endpoint)
      or ("model file: %s (%s)"):format(model.path, size(model.size_bytes or 0)))
  else
    h.error("model: " .. tostring(model.error), { "set settings.model.path in setup(), or model.path in ragls.toml" })
  end
  for _, msg in ipairs(report.settings_errors or {}) do
    h.warn("invalid setting ignored: " .. msg)
  end
  local index = report.index
  if index.exists then
    h.ok(("index: %s (%d files, %s)"):format(index.path, index.files, size(index.bytes)))
  else
    h.info(("index: %s (not built yet: it is built when the server starts)"):format(index.path))
  end
  local log_file = report.log_file
  for i, part in ipairs(opts.cmd) do
    if part == "--log-file" and opts.cmd[i + 1] then
      log_file = opts.cmd[i + 1]
    end
  end
  h.info("server log: " .. log_file)

  local trusted, why = require("ragls.trust").decide(opts.trust, root)
  h.info(("workspace %s: %s"):format(trusted and "trusted" or "not trusted", why))

  local clients = vim.lsp.get_clients({ name = "ragls" })
  if #clients == 0 then
    h.warn("the server is not attached: open a file of a supported language (" .. table.concat(opts.filetypes, ", ") .. ")")
    return
  end
  for _, client in ipairs(clients) do
    local bufs = vim.tbl_keys(client.attached_buffers or {})
    if client.initialized then
      h.ok(("server attached (client %d, root %s, %d buffer%s)"):format(
        client.id, tostring(client.config.root_dir), #bufs, #bufs == 1 and "" or "s"))
    else
      h.warn(("server %d is starting (not initialized yet)"):format(client.id))
    end
  end
end

return M

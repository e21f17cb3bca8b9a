-- ragls for Neovim 0.10+: starts `ragls serve` for the supported languages, shows its inline
-- completions as ghost text (vim.lsp.inline_completion on 0.12+, extmarks before), maps the
-- accept/next/dismiss keys and provides :Ragls. Usage: require("ragls").setup({ ... });
-- see :help ragls.
local M = {}

local config = require("ragls.config")

M.options = nil
M.ghost_kind = nil

local function notify(msg, level)
  vim.notify("ragls: " .. msg, level or vim.log.levels.INFO)
end

--- Client capabilities: Neovim's own, plus inlineCompletion where the extmark ghost text
--- stands in for the built-in (so the server does not fall back to completion items).
local function capabilities(kind)
  local caps = vim.lsp.protocol.make_client_capabilities()
  if kind == "extmark" then
    caps.textDocument = caps.textDocument or {}
    caps.textDocument.inlineCompletion = caps.textDocument.inlineCompletion or { dynamicRegistration = false }
  end
  return caps
end

local function root_for(bufnr, markers)
  return vim.fs.root(bufnr, markers) or vim.fn.getcwd()
end

local function on_attach(client, bufnr)
  if M.ghost_kind == "extmark" then
    require("ragls.ghost").attach(bufnr, M.options)
  elseif M.ghost_kind == "builtin" then
    vim.lsp.inline_completion.enable(true, { client_id = client.id })
  end
end

--- The client configuration shared by vim.lsp.config (0.11+) and vim.lsp.start (0.10).
function M.client_config(opts)
  return {
    name = "ragls",
    cmd = opts.cmd,
    filetypes = opts.filetypes,
    capabilities = capabilities(M.ghost_kind),
    -- only what the user set: the project's ragls.toml ranks below initializationOptions
    init_options = vim.deepcopy(opts.settings),
    settings = { ragls = vim.deepcopy(opts.settings) },
    before_init = function(params, client_config)
      local root = client_config.root_dir or (params.rootUri ~= vim.NIL and params.rootUri and vim.uri_to_fname(params.rootUri))
      params.initializationOptions = config.init_options(opts, root)
    end,
    on_attach = on_attach,
  }
end

local function register(opts)
  local cfg = M.client_config(opts)
  if vim.fn.has("nvim-0.11") == 1 then
    if vim.fn.has("nvim-0.11.1") == 1 then
      cfg.root_dir = function(bufnr, on_dir)
        on_dir(root_for(bufnr, opts.root_markers))
      end
    else
      cfg.root_markers = opts.root_markers
    end
    cfg.name = nil
    vim.lsp.config("ragls", cfg)
    vim.lsp.enable("ragls")
    return
  end
  local function start(bufnr)
    local c = vim.deepcopy(cfg)
    c.on_attach, c.before_init = cfg.on_attach, cfg.before_init
    c.root_dir = root_for(bufnr, opts.root_markers)
    vim.lsp.start(c, { bufnr = bufnr })
  end
  vim.api.nvim_create_autocmd("FileType", {
    group = vim.api.nvim_create_augroup("ragls.start", { clear = true }),
    pattern = opts.filetypes,
    callback = function(args)
      start(args.buf)
    end,
  })
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) and vim.tbl_contains(opts.filetypes, vim.bo[buf].filetype) then
      start(buf)
    end
  end
end

function M.setup(user)
  if vim.fn.has("nvim-0.10") == 0 then
    notify("needs Neovim 0.10 or newer", vim.log.levels.ERROR)
    return
  end
  local opts = config.resolve(user)
  M.options = opts
  M.ghost_kind = config.ghost_kind(opts)
  register(opts)
  require("ragls.keymaps").setup(opts.keymaps, M.ghost_kind)
  require("ragls.cursor").setup()
end

--- The ragls client of the current buffer (or any ragls client).
function M.client(bufnr)
  return vim.lsp.get_clients({ name = "ragls", bufnr = bufnr or 0 })[1] or vim.lsp.get_clients({ name = "ragls" })[1]
end

--- workspace/executeCommand on the ragls server; on_result(result) on success.
function M.exec(command, arguments, on_result)
  local client = M.client(0)
  if not client then
    notify("the server is not running (open a file of a supported language)", vim.log.levels.WARN)
    return
  end
  local params = { command = command, arguments = arguments }
  local function handler(err, result)
    if err then
      notify(command .. ": " .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
    elseif on_result then
      on_result(result)
    end
  end
  if vim.fn.has("nvim-0.11") == 1 then
    client:request("workspace/executeCommand", params, handler, 0)
  else
    client.request("workspace/executeCommand", params, handler, 0)
  end
end

local float = function(lines, title)
  return require("ragls.context").open_float(lines, title, (M.options or config.defaults).float)
end

function M.status()
  M.exec("ragls.indexStatus", {}, function(result)
    float(require("ragls.context").status_lines(result), "ragls status")
  end)
end

function M.reindex()
  notify("re-indexing…")
  M.exec("ragls.reindex", {}, function(result)
    if type(result) == "table" and result.error then
      notify("re-indexing failed: " .. tostring(result.error), vim.log.levels.ERROR)
    else
      notify(("index updated (%s files, %s symbols)"):format(result and result.files or "?", result and result.symbols or "?"))
    end
  end)
end

function M.context()
  local uri = vim.uri_from_bufnr(0)
  M.exec("ragls.showContext", { uri }, function(result)
    float(require("ragls.context").context_lines(result), "ragls context")
  end)
end

local function select_model(path)
  M.exec("ragls.selectModel", { vim.fn.expand(path) }, function(result)
    if type(result) == "table" and result.ok then
      notify("the model is now " .. tostring(result.model))
    else
      notify("cannot load " .. path .. ": " .. tostring(result and result.error), vim.log.levels.ERROR)
    end
  end)
end

--- :Ragls model [path]: switch models; without a path, pick one from `ragls models`.
function M.model(path)
  if path and path ~= "" then
    return select_model(path)
  end
  local cmd = config.base_cmd((M.options or config.defaults).cmd)
  vim.list_extend(cmd, { "models", "--json" })
  vim.system(cmd, { text = true }, vim.schedule_wrap(function(out)
    local ok, rows = pcall(vim.json.decode, out.stdout or "")
    if out.code ~= 0 or not ok or type(rows) ~= "table" then
      notify("`ragls models --json` failed: " .. (out.stderr or ""), vim.log.levels.ERROR)
      return
    end
    vim.ui.select(rows, {
      prompt = "ragls model",
      format_item = function(r)
        return ("%s  (%s, %s)  %s"):format(r.name, r.source, r.architecture or "?", r.path)
      end,
    }, function(choice)
      if choice then
        select_model(choice.path)
      end
    end)
  end))
end

--- :Ragls restart: stop the server and start it again for the buffers it served (settings and
--- trust are read again).
function M.restart()
  local clients = vim.lsp.get_clients({ name = "ragls" })
  local buffers = {}
  for _, client in ipairs(clients) do
    for buf in pairs(client.attached_buffers or {}) do
      buffers[#buffers + 1] = buf
    end
    if vim.fn.has("nvim-0.11") == 1 then
      client:stop()
    else
      client.stop()
    end
  end
  local timer = vim.uv.new_timer()
  local waited = 0
  timer:start(100, 100, vim.schedule_wrap(function()
    waited = waited + 100
    if #vim.lsp.get_clients({ name = "ragls" }) > 0 and waited < 5000 then
      return
    end
    timer:stop()
    timer:close()
    for _, buf in ipairs(buffers) do
      if vim.api.nvim_buf_is_valid(buf) then
        vim.api.nvim_exec_autocmds("FileType", { buffer = buf }) -- starts the server again
      end
    end
    notify("restarted")
  end))
end

M.subcommands = {
  restart = function()
    M.restart()
  end,
  status = function()
    M.status()
  end,
  reindex = function()
    M.reindex()
  end,
  context = function()
    M.context()
  end,
  model = function(args)
    M.model(args[1])
  end,
}

--- :Ragls {subcommand} [args]
function M.command(fargs)
  local name = fargs[1] or "status"
  local fn = M.subcommands[name]
  if not fn then
    notify(("unknown subcommand %q (status, reindex, context, model, restart)"):format(name), vim.log.levels.ERROR)
    return
  end
  fn(vim.list_slice(fargs, 2))
end

return M

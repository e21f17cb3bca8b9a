-- ragls for Neovim 0.12+: starts `ragls serve` for buffers of supported languages and turns
-- on LSP inline completion (ghost text). Usage: require("ragls").setup({ ... })
local M = {}

M.defaults = {
  cmd = { "ragls", "serve" },
  filetypes = { "python", "javascript", "javascriptreact", "typescript", "typescriptreact", "go", "rust", "java" },
  root_markers = { "ragls.toml", "pyproject.toml", "package.json", "go.mod", "Cargo.toml", "pom.xml", ".git" },
  -- sent as initializationOptions; see the README for every key
  settings = {},
  inline_completion = true,
  -- insert-mode key that accepts the suggestion (falls back to the key itself)
  accept_key = "<Tab>",
}

local function root_for(bufnr, markers)
  local found = vim.fs.root(bufnr, markers)
  return found or vim.fn.getcwd()
end

function M.start(bufnr, opts)
  return vim.lsp.start({
    name = "ragls",
    cmd = opts.cmd,
    root_dir = root_for(bufnr, opts.root_markers),
    init_options = opts.settings,
    settings = { ragls = opts.settings },
  }, { bufnr = bufnr })
end

function M.setup(user)
  local opts = vim.tbl_deep_extend("force", M.defaults, user or {})
  M.options = opts
  local group = vim.api.nvim_create_augroup("ragls", { clear = true })
  vim.api.nvim_create_autocmd("FileType", {
    group = group,
    pattern = opts.filetypes,
    callback = function(args)
      M.start(args.buf, opts)
    end,
  })
  -- buffers that were already open when setup() ran (e.g. a file given on the command line)
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) and vim.tbl_contains(opts.filetypes, vim.bo[buf].filetype) then
      M.start(buf, opts)
    end
  end
  if opts.inline_completion and vim.lsp.inline_completion then
    vim.lsp.inline_completion.enable(true)
    if opts.accept_key then
      vim.keymap.set("i", opts.accept_key, function()
        if not vim.lsp.inline_completion.get() then
          return vim.api.nvim_replace_termcodes(opts.accept_key, true, false, true)
        end
      end, { expr = true, desc = "ragls: accept inline completion" })
    end
  end
  vim.api.nvim_create_user_command("RaglsReindex", function()
    M.exec("ragls.reindex", {})
  end, { desc = "ragls: re-index the workspace" })
  vim.api.nvim_create_user_command("RaglsStatus", function()
    M.exec("ragls.indexStatus", {}, function(result)
      vim.print(result)
    end)
  end, { desc = "ragls: index status and counters" })
  vim.api.nvim_create_user_command("RaglsContext", function()
    M.exec("ragls.showContext", { vim.uri_from_bufnr(0) }, function(result)
      vim.print(result)
    end)
  end, { desc = "ragls: context used by the last completion" })
  vim.api.nvim_create_user_command("RaglsModel", function(cmd)
    M.exec("ragls.selectModel", { cmd.args }, function(result)
      vim.print(result)
    end)
  end, { nargs = 1, complete = "file", desc = "ragls: switch model (GGUF path or name)" })
end

function M.exec(command, arguments, on_result)
  local client = vim.lsp.get_clients({ name = "ragls", bufnr = 0 })[1]
  if not client then
    vim.notify("ragls is not attached to this buffer", vim.log.levels.WARN)
    return
  end
  client:request("workspace/executeCommand", { command = command, arguments = arguments }, function(err, result)
    if err then
      vim.notify("ragls: " .. err.message, vim.log.levels.ERROR)
    elseif on_result then
      on_result(result)
    end
  end, 0)
end

return M

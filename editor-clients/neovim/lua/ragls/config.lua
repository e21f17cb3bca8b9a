-- ragls options: defaults, merging with the user's table, and what is sent to the server.
local M = {}

M.filetypes = { "python", "javascript", "javascriptreact", "typescript", "typescriptreact", "go", "rust", "java" }

M.defaults = {
  -- the command that starts the server; `ragls` must be on PATH (or give a full path)
  cmd = { "ragls", "serve" },
  filetypes = M.filetypes,
  root_markers = { "ragls.toml", "pyproject.toml", "package.json", "go.mod", "Cargo.toml", "pom.xml", ".git" },
  -- server settings, sent as initializationOptions with the names of ragls.toml (camelCase);
  -- only what you set here is sent, so the project's ragls.toml still applies
  settings = {},
  -- trustedWorkspace: nil follows Neovim's :trust (the root directory, or its .nvim.lua /
  -- .nvimrc / .exrc, trusted and unchanged); true / false; or function(root) -> boolean
  trust = nil,
  -- ghost text: "auto" (vim.lsp.inline_completion on 0.12+, extmarks on 0.10-0.11),
  -- "builtin", "extmark", or false (no ghost text)
  inline_completion = "auto",
  -- extmark ghost text only (0.12's built-in waits 200 ms): wait after the last key
  debounce_ms = 150,
  -- insert-mode keys; false leaves a key unmapped. A key with no suggestion to act on keeps
  -- its usual meaning.
  keymaps = {
    accept = "<Tab>",
    accept_word = "<M-Right>",
    accept_line = "<M-C-Right>",
    next = "<M-]>",
    prev = "<M-[>",
    dismiss = "<C-]>",
  },
  -- the floating windows of :Ragls context and :Ragls status
  float = { border = "rounded", max_width = 100 },
}

--- The user's table on top of the defaults (lists are replaced, not merged).
function M.resolve(user)
  local opts = vim.tbl_deep_extend("force", vim.deepcopy(M.defaults), user or {})
  if user and user.cmd then
    opts.cmd = user.cmd
  end
  if user and user.filetypes then
    opts.filetypes = user.filetypes
  end
  if user and user.root_markers then
    opts.root_markers = user.root_markers
  end
  if user and user.keymaps == false then
    opts.keymaps = {}
  end
  return opts
end

--- Which ghost text to draw on this Neovim: "builtin", "extmark" or nil (none).
function M.ghost_kind(opts)
  local want = opts.inline_completion
  if want == false or want == "off" then
    return nil
  end
  local has_builtin = vim.lsp.inline_completion ~= nil
  if want == "builtin" then
    return has_builtin and "builtin" or "extmark"
  end
  if want == "extmark" then
    return "extmark"
  end
  return has_builtin and "builtin" or "extmark"
end

--- The command without its `serve ...` tail, to run other sub-commands (doctor, models).
function M.base_cmd(cmd)
  local base = {}
  for _, part in ipairs(cmd) do
    if part == "serve" then
      break
    end
    base[#base + 1] = part
  end
  return base
end

--- initializationOptions for a workspace root: the settings plus trustedWorkspace.
function M.init_options(opts, root)
  local options = vim.deepcopy(opts.settings or {})
  options.trustedWorkspace = require("ragls.trust").decide(opts.trust, root)
  return options
end

return M

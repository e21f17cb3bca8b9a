-- Insert-mode actions on the suggestion: accept, accept word, accept line, next, previous,
-- dismiss; for 0.12's vim.lsp.inline_completion ("builtin") and the extmark ghost text.
local M = {}

local api = vim.api
local text = require("ragls.text")
local ghost = require("ragls.ghost")

--- The last accepted text and how ({ kind = "word", text = "return" }), for inspection.
M.last_accept = nil

local function builtin_shown(bufnr)
  local ns = api.nvim_get_namespaces()["nvim.lsp.inline_completion"]
  return ns ~= nil and #api.nvim_buf_get_extmarks(bufnr, ns, 0, -1, { limit = 1 }) > 0
end

--- Insert a vim.lsp.inline_completion item, or its next word or line: what was typed since
--- the item's range start is kept. (ragls sends plain text items without commands.)
local function apply_partial(item, kind)
  local bufnr = api.nvim_get_current_buf()
  if kind == "full" and type(item.insert_text) == "table" and item.insert_text.kind == "snippet" then
    vim.snippet.expand(item.insert_text.value)
    M.last_accept = { kind = kind, text = item.insert_text.value }
    return
  end
  local insert = type(item.insert_text) == "table" and item.insert_text.value or item.insert_text
  local pos = api.nvim_win_get_cursor(0)
  local crow, ccol = pos[1] - 1, pos[2]
  local srow, scol, erow, ecol = crow, ccol, crow, ccol
  local r = item.range
  if r and r.start and r.start.row then
    srow, scol, erow, ecol = r.start.row, r.start.col, r.end_.row, r.end_.col
  end
  local typed = ""
  if srow == crow and scol < ccol then
    local line = api.nvim_buf_get_lines(bufnr, crow, crow + 1, false)[1] or ""
    typed = line:sub(scol + 1, ccol)
    if not vim.startswith(insert, typed) then
      typed = ""
    end
  end
  local rest = insert:sub(#typed + 1)
  local part = kind == "word" and text.next_word(rest) or kind == "line" and text.next_line(rest) or rest
  local lines = vim.split(typed .. part, "\n", { plain = true })
  api.nvim_buf_set_text(bufnr, srow, scol, erow, ecol, lines)
  api.nvim_win_set_cursor(0, { srow + #lines, (#lines == 1 and scol or 0) + #lines[#lines] })
  M.last_accept = { kind = kind, text = part }
end

local function builtin_action(action)
  local bufnr = api.nvim_get_current_buf()
  if action == "accept" or action == "accept_word" or action == "accept_line" then
    local kind = ({ accept = "full", accept_word = "word", accept_line = "line" })[action]
    return vim.lsp.inline_completion.get({
      on_accept = function(item)
        apply_partial(item, kind)
      end,
    })
  elseif action == "next" or action == "prev" then
    if not builtin_shown(bufnr) then
      return false
    end
    vim.lsp.inline_completion.select({ count = action == "next" and 1 or -1 })
    return true
  elseif action == "dismiss" then
    return vim.lsp.inline_completion.get({ on_accept = function() end })
  end
  return false
end
local function extmark_action(action)
  local bufnr = api.nvim_get_current_buf()
  if action == "next" or action == "prev" then
    return ghost.cycle(bufnr, action == "next" and 1 or -1)
  elseif action == "dismiss" then
    return ghost.dismiss(bufnr)
  end
  if not ghost.current(bufnr) then
    return false
  end
  local kind = ({ accept = "full", accept_word = "word", accept_line = "line" })[action]
  vim.schedule(function() -- expr mappings may not change the buffer
    local part = ghost.accept(bufnr, kind)
    if part then
      M.last_accept = { kind = kind, text = part }
    end
  end)
  return true
end

--- Run `action` on the shown suggestion; false when there is none (the key keeps its meaning).
function M.run(action, kind)
  if kind == "builtin" and vim.lsp.inline_completion then
    return builtin_action(action)
  elseif kind == "extmark" then
    return extmark_action(action)
  end
  return false
end

local DESCRIPTIONS = {
  accept = "accept the suggestion",
  accept_word = "accept the next word of the suggestion",
  accept_line = "accept the rest of the line of the suggestion",
  next = "next suggestion",
  prev = "previous suggestion",
  dismiss = "dismiss the suggestion",
}

function M.setup(keymaps, kind)
  for action, lhs in pairs(keymaps or {}) do
    if lhs and DESCRIPTIONS[action] then
      vim.keymap.set("i", lhs, function()
        if M.run(action, kind) then
          return ""
        end
        return lhs
      end, { expr = true, desc = "ragls: " .. DESCRIPTIONS[action] })
    end
  end
end

return M

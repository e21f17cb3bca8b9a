-- Ghost text drawn with extmarks from textDocument/inlineCompletion, for Neovim 0.10-0.11
-- (0.12+ uses vim.lsp.inline_completion unless `inline_completion = "extmark"`).
-- One suggestion list per buffer, valid while the cursor and the text stay where it was asked.
local M = {}

local api = vim.api
local text = require("ragls.text")

M.ns = api.nvim_create_namespace("ragls.ghost")
local function highlight()
  api.nvim_set_hl(0, "RaglsGhost", { link = "Comment", default = true })
end
highlight()
api.nvim_create_autocmd("ColorScheme", { group = api.nvim_create_augroup("ragls.ghost.hl", {}), callback = highlight })

---@type table<integer, table>
local state = {}

local function client_for(bufnr)
  return vim.lsp.get_clients({ name = "ragls", bufnr = bufnr })[1]
end

local function request(client, method, params, handler, bufnr)
  if vim.fn.has("nvim-0.11") == 1 then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

local function cancel(client, id)
  if not (client and id) then
    return
  end
  if vim.fn.has("nvim-0.11") == 1 then
    client:cancel_request(id)
  else
    client.cancel_request(id)
  end
end

--- LSP character offset -> byte column of `line` (0.10 and 0.11+ signatures differ).
local function byte_col(line, character, encoding)
  if encoding == "utf-8" then
    return character
  end
  local ok, col = pcall(vim.str_byteindex, line, encoding, character, false)
  if ok and type(col) == "number" then
    return col
  end
  return vim.str_byteindex(line, character, encoding == "utf-16")
end

local function cursor()
  local pos = api.nvim_win_get_cursor(0)
  return pos[1] - 1, pos[2]
end

function M.hide(bufnr)
  if api.nvim_buf_is_valid(bufnr) then
    api.nvim_buf_clear_namespace(bufnr, M.ns, 0, -1)
  end
end

--- The suggestion being shown in `bufnr` (text from the cursor on), or nil.
function M.current(bufnr)
  local s = state[bufnr]
  if not s or not s.items[s.index] then
    return nil
  end
  local row, col = cursor()
  if row ~= s.row or col ~= s.col then
    return nil
  end
  return s.items[s.index]
end

function M.show(bufnr)
  M.hide(bufnr)
  local s = state[bufnr]
  local suggestion = M.current(bufnr)
  if not suggestion or suggestion == "" then
    return
  end
  local lines = vim.split(suggestion, "\n", { plain = true })
  local virt_lines = {}
  for i = 2, #lines do
    virt_lines[#virt_lines + 1] = { { lines[i], "RaglsGhost" } }
  end
  local hint = #s.items > 1 and (" (%d/%d)"):format(s.index, #s.items) or nil
  local first = { { lines[1], "RaglsGhost" } }
  if hint then
    first[#first + 1] = { hint, "MoreMsg" }
  end
  api.nvim_buf_set_extmark(bufnr, M.ns, s.row, s.col, {
    virt_text = first,
    virt_text_pos = "inline",
    virt_lines = #virt_lines > 0 and virt_lines or nil,
    hl_mode = "combine",
  })
end

--- The items of a response as text from the cursor on (what was typed since the range start
--- is dropped when the item repeats it).
local function texts(result, bufnr, row, col, encoding)
  local out = {}
  for _, item in ipairs(result.items or result) do
    local insert = type(item.insertText) == "table" and item.insertText.value or item.insertText
    if type(insert) == "string" and insert ~= "" then
      local r = item.range
      if r and r.start.line == row then
        local line = api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ""
        local start = byte_col(line, r.start.character, encoding)
        local typed = line:sub(start + 1, col)
        if start < col and vim.startswith(insert, typed) then
          insert = insert:sub(#typed + 1)
        end
      end
      if insert ~= "" then
        out[#out + 1] = insert
      end
    end
  end
  return out
end

function M.request(bufnr)
  local s = state[bufnr]
  local client = client_for(bufnr)
  if not s or not client or not api.nvim_get_mode().mode:match("^i") then
    return
  end
  cancel(client, s.pending)
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  params.context = { triggerKind = 2 } -- Automatic
  local tick = api.nvim_buf_get_changedtick(bufnr)
  local row, col = cursor()
  local ok, id = request(client, "textDocument/inlineCompletion", params, function(err, result)
    s.pending = nil
    if err or not result or not api.nvim_buf_is_valid(bufnr) then
      return
    end
    local crow, ccol = cursor()
    if api.nvim_buf_get_changedtick(bufnr) ~= tick or crow ~= row or ccol ~= col then
      return -- the user moved on; a newer request is coming
    end
    if not api.nvim_get_mode().mode:match("^i") or api.nvim_get_current_buf() ~= bufnr then
      return
    end
    s.items, s.index, s.row, s.col = texts(result, bufnr, row, col, client.offset_encoding), 1, row, col
    M.show(bufnr)
  end, bufnr)
  if ok then
    s.pending = id
  end
end

local function on_typing(bufnr, opts)
  local s = state[bufnr]
  local row, col = cursor()
  if s.keep and s.keep.tick == api.nvim_buf_get_changedtick(bufnr) and s.keep.row == row and s.keep.col == col then
    return -- our own edit (a partial accept): the rest of the suggestion stays
  end
  s.keep = nil
  s.items = {}
  M.hide(bufnr)
  s.timer:stop()
  s.timer:start(opts.debounce_ms, 0, vim.schedule_wrap(function()
    M.request(bufnr)
  end))
end

function M.attach(bufnr, opts)
  if state[bufnr] then
    return
  end
  state[bufnr] = { items = {}, index = 1, row = -1, col = -1, timer = vim.uv.new_timer() }
  local group = api.nvim_create_augroup("ragls.ghost." .. bufnr, { clear = true })
  api.nvim_create_autocmd({ "InsertEnter", "CursorMovedI", "TextChangedI", "TextChangedP" }, {
    group = group,
    buffer = bufnr,
    callback = function()
      on_typing(bufnr, opts)
    end,
  })
  api.nvim_create_autocmd({ "InsertLeave", "BufLeave" }, {
    group = group,
    buffer = bufnr,
    callback = function()
      M.dismiss(bufnr)
    end,
  })
  api.nvim_create_autocmd("BufWipeout", {
    group = group,
    buffer = bufnr,
    callback = function()
      M.detach(bufnr)
    end,
  })
end

function M.detach(bufnr)
  local s = state[bufnr]
  if s then
    s.timer:stop()
    s.timer:close()
    state[bufnr] = nil
    pcall(api.nvim_del_augroup_by_name, "ragls.ghost." .. bufnr)
    M.hide(bufnr)
  end
end

function M.dismiss(bufnr)
  local s = state[bufnr]
  if not s then
    return false
  end
  local had = M.current(bufnr) ~= nil
  cancel(client_for(bufnr), s.pending)
  s.pending, s.items, s.keep = nil, {}, nil
  s.timer:stop()
  M.hide(bufnr)
  return had
end

function M.cycle(bufnr, count)
  local s = state[bufnr]
  if not M.current(bufnr) or #s.items < 2 then
    return M.current(bufnr) ~= nil
  end
  s.index = (s.index - 1 + count) % #s.items + 1
  M.show(bufnr)
  return true
end

--- Insert all ("full"), the next word or the rest of the line of the suggestion at the cursor;
--- what is left stays on screen. Returns the inserted text, or nil when nothing was shown.
function M.accept(bufnr, kind)
  local s = state[bufnr]
  local suggestion = M.current(bufnr)
  if not suggestion then
    return nil
  end
  local part = kind == "word" and text.next_word(suggestion)
    or kind == "line" and text.next_line(suggestion)
    or suggestion
  local lines = vim.split(part, "\n", { plain = true })
  api.nvim_buf_set_text(bufnr, s.row, s.col, s.row, s.col, lines)
  local row = s.row + #lines - 1
  local col = (#lines == 1 and s.col or 0) + #lines[#lines]
  api.nvim_win_set_cursor(0, { row + 1, col })
  local rest = text.rest(suggestion, part)
  if rest ~= "" then
    s.items, s.index, s.row, s.col = { rest }, 1, row, col
    s.keep = { tick = api.nvim_buf_get_changedtick(bufnr), row = row, col = col }
    M.show(bufnr)
  else
    s.items, s.keep = {}, nil
    M.hide(bufnr)
  end
  return part
end

return M

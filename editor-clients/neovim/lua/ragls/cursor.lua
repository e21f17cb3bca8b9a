-- Tell the server where the cursor came to rest (`ragls/cursorMoved`), so it reads the prompt
-- for that place into the model's cache before the user types there.
local M = {}

local uv = vim.uv or vim.loop
local timer = nil
local last = {}

local function client_for(bufnr)
  return vim.lsp.get_clients({ name = "ragls", bufnr = bufnr })[1]
end

local function send(bufnr)
  if not vim.api.nvim_buf_is_valid(bufnr) or bufnr ~= vim.api.nvim_get_current_buf() then
    return
  end
  local client = client_for(bufnr)
  if not client then
    return
  end
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding or "utf-16")
  local key = params.textDocument.uri .. ":" .. params.position.line
  if last[bufnr] == key then
    return -- same line: the server's prompt head for it is already warm
  end
  last[bufnr] = key
  if vim.fn.has("nvim-0.11") == 1 then
    client:notify("ragls/cursorMoved", params)
  else
    client.notify("ragls/cursorMoved", params)
  end
end

function M.setup(delay_ms)
  local group = vim.api.nvim_create_augroup("ragls.cursor", { clear = true })
  vim.api.nvim_create_autocmd({ "BufEnter", "CursorMoved", "CursorMovedI", "InsertEnter" }, {
    group = group,
    callback = function(args)
      if not timer then
        timer = uv.new_timer()
      end
      timer:stop()
      timer:start(delay_ms or 150, 0, vim.schedule_wrap(function()
        send(args.buf)
      end))
    end,
  })
  vim.api.nvim_create_autocmd("BufWipeout", {
    group = group,
    callback = function(args)
      last[args.buf] = nil
    end,
  })
end

return M

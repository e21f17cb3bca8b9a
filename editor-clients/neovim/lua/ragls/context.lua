-- :Ragls context and :Ragls status: the server's answers as lines in a floating window.
local M = {}

local api = vim.api

local WHY = {
  graph = "imported or called by this buffer (dependency graph)",
  dense = "similar to the code at the cursor (embeddings)",
  lexical = "shares identifiers with it (BM25)",
  recent = "recently edited or opened",
}

--- Plain-language reasons for a snippet's source tags ("graph:import", "lexical", ...).
function M.why(sources)
  local seen, out = {}, {}
  for _, tag in ipairs(sources or {}) do
    local kind = tag:match("^[^:]+")
    if kind and not seen[kind] then
      seen[kind] = true
      out[#out + 1] = WHY[kind] or kind
    end
  end
  return table.concat(out, "; ")
end

local function ms(v)
  return v >= 100 and ("%.0f"):format(v) or ("%.1f"):format(v)
end

--- The result of ragls.showContext as lines: each snippet with path:lines, score, sources, why.
function M.context_lines(result)
  local lines = { "ragls: context of the last completion" }
  if type(result) ~= "table" then
    result = {}
  end
  if type(result.uri) == "string" then
    lines[#lines + 1] = "buffer: " .. vim.uri_to_fname(result.uri)
  end
  local snippets = result.snippets or {}
  if #snippets == 0 then
    lines[#lines + 1] = ""
    lines[#lines + 1] = "No context yet: no completion has been computed for this buffer."
    lines[#lines + 1] = "Type in insert mode, wait for a suggestion, then run :Ragls context again."
    return lines
  end
  lines[#lines + 1] = ("%d snippet%s"):format(#snippets, #snippets == 1 and "" or "s")
  for i, s in ipairs(snippets) do
    lines[#lines + 1] = ""
    lines[#lines + 1] = ("%d. %s:%d-%d   score %.4f   %s"):format(
      i, s.path, s.start_line, s.end_line, s.score or 0, table.concat(s.sources or {}, ", "))
    lines[#lines + 1] = "   why: " .. M.why(s.sources)
    for _, l in ipairs(vim.split((s.text or ""):gsub("\n$", ""), "\n", { plain = true })) do
      lines[#lines + 1] = "   │ " .. l
    end
  end
  local timings = {}
  for stage, v in pairs(result.timings or {}) do
    timings[#timings + 1] = { stage:gsub("_ms$", ""), v }
  end
  table.sort(timings, function(a, b)
    return a[1] < b[1]
  end)
  if #timings > 0 then
    local parts = {}
    for _, t in ipairs(timings) do
      parts[#parts + 1] = ("%s %s ms"):format(t[1], ms(t[2]))
    end
    lines[#lines + 1] = ""
    lines[#lines + 1] = "timings: " .. table.concat(parts, " · ")
  end
  if result.ungrounded and #result.ungrounded > 0 then
    lines[#lines + 1] = "names used that exist nowhere: " .. table.concat(result.ungrounded, ", ")
  end
  return lines
end

--- ragls.indexStatus as lines.
function M.status_lines(s)
  s = type(s) == "table" and s or {}
  local progress = s.progress or {}
  local index = s.index or {}
  local lines = {
    "ragls status",
    "root:   " .. tostring(s.root),
    ("index:  %s%s"):format(
      tostring(s.state),
      s.state == "indexing" and (" %d/%d files"):format(progress.done or 0, progress.total or 0)
        or (index.files and (" (%d files, %d symbols)"):format(index.files, index.symbols or 0) or "")
    ),
    ("model:  %s (%s)"):format(tostring(s.model), tostring(s.model_state or "?")),
  }
  if s.model_error and s.model_error ~= vim.NIL then
    lines[#lines + 1] = "model error: " .. tostring(s.model_error)
  end
  if s.engine_error and s.engine_error ~= vim.NIL then
    lines[#lines + 1] = "engine error: " .. tostring(s.engine_error)
  end
  local emb = s.embeddings
  if type(emb) == "table" and emb.total then
    lines[#lines + 1] = ("embeddings: %d/%d chunks"):format(emb.done or 0, emb.total or 0)
  end
  lines[#lines + 1] = ("completions: %d computed, %d cancelled, %d failed, %d from cache"):format(
    s.completions_computed or 0, s.completions_cancelled or 0, s.completions_failed or 0, s.cache_hits or 0)
  local settings = s.settings or {}
  lines[#lines + 1] = "trusted workspace: " .. tostring(settings.trustedWorkspace)
  return lines
end

--- A read-only floating window with `lines`; q or <Esc> closes it. Returns buf, win.
function M.open_float(lines, title, float_opts)
  float_opts = float_opts or {}
  local buf = api.nvim_create_buf(false, true)
  api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modifiable = false
  vim.bo[buf].bufhidden = "wipe"
  vim.bo[buf].filetype = "ragls"
  local width = 20
  for _, l in ipairs(lines) do
    width = math.max(width, vim.fn.strdisplaywidth(l))
  end
  width = math.min(width + 2, float_opts.max_width or 100, vim.o.columns - 4)
  local height = math.max(1, math.min(#lines, vim.o.lines - 6))
  local win = api.nvim_open_win(buf, true, {
    relative = "editor",
    width = width,
    height = height,
    row = math.floor((vim.o.lines - height) / 2) - 1,
    col = math.floor((vim.o.columns - width) / 2),
    style = "minimal",
    border = float_opts.border or "rounded",
    title = " " .. title .. " ",
    title_pos = "center",
  })
  vim.wo[win].wrap = false
  for _, key in ipairs({ "q", "<Esc>" }) do
    vim.keymap.set("n", key, function()
      if api.nvim_win_is_valid(win) then
        api.nvim_win_close(win, true)
      end
    end, { buffer = buf, nowait = true })
  end
  return buf, win
end

return M

-- How much of a suggestion "accept word" and "accept line" take (pure string functions).
local M = {}

--- The next word of `text`: leading blanks with a run of word characters, or of punctuation;
--- at a line break, the break and the next line's indentation.
function M.next_word(text)
  if text == nil or text == "" then
    return ""
  end
  return text:match("^\r?\n[ \t]*")
    or text:match("^[ \t]*[%w_]+")
    or text:match("^[ \t]*[^%w_%s]+")
    or text:match("^[ \t]+")
    or text:sub(1, 1)
end

--- The rest of the current line of `text`; at a line break, the break and the next line.
function M.next_line(text)
  if text == nil or text == "" then
    return ""
  end
  local line = text:match("^[^\n]*")
  if line ~= "" then
    return line
  end
  return text:match("^\n[^\n]*")
end

--- `part` accepted from `text`: what is left to suggest.
function M.rest(text, part)
  return text:sub(#part + 1)
end

return M

-- Whether a workspace is trusted, following Neovim's own trust database (:trust, vim.secure):
-- the root directory itself trusted, or a project config (.nvim.lua, .nvimrc, .exrc) in it
-- trusted with its current contents. Nothing here asks the user; no trust means false.
local M = {}

local PROJECT_FILES = { ".nvim.lua", ".nvimrc", ".exrc" }

local function read_db()
  local db = {}
  local f = io.open(vim.fn.stdpath("state") .. "/trust", "r")
  if not f then
    return db
  end
  for line in f:lines() do
    local hash, path = line:match("^(%S+) (.+)$")
    if hash then
      db[path] = hash
    end
  end
  f:close()
  return db
end

local function file_hash(path)
  local f = io.open(path, "r")
  if not f then
    return nil
  end
  local contents = f:read("*a")
  f:close()
  return contents and vim.fn.sha256(contents) or nil
end

--- true / false, and how that was decided (for :checkhealth).
function M.from_neovim(root)
  if not root or root == "" then
    return false, "no workspace root"
  end
  local real = vim.uv.fs_realpath(root) or root
  local db = read_db()
  if db[real] == "directory" then
    return true, "the directory is trusted (:trust)"
  end
  for _, name in ipairs(PROJECT_FILES) do
    local path = real .. "/" .. name
    local hash = db[path]
    if hash and hash ~= "!" and hash == file_hash(path) then
      return true, name .. " is trusted (:trust)"
    end
  end
  return false, "not trusted in Neovim's trust database (:trust in the root to trust it)"
end

--- The trust option (nil / boolean / function) applied to a root.
function M.decide(option, root)
  if type(option) == "boolean" then
    return option, "set by the trust option"
  end
  if type(option) == "function" then
    local ok, value = pcall(option, root)
    return ok and value == true, "decided by the trust function"
  end
  return M.from_neovim(root)
end

return M

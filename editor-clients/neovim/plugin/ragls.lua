-- :Ragls status | reindex | context | model [path] | restart. The server starts only after
-- require("ragls").setup({...}); see :help ragls.
if vim.g.loaded_ragls then
  return
end
vim.g.loaded_ragls = true

vim.api.nvim_create_user_command("Ragls", function(cmd)
  require("ragls").command(cmd.fargs)
end, {
  nargs = "*",
  desc = "ragls: status, reindex, context, model [path], restart",
  complete = function(arglead, line)
    local words = vim.split(line, "%s+", { trimempty = true })
    if #words <= 1 or (#words == 2 and arglead ~= "") then
      return vim.tbl_filter(function(s)
        return vim.startswith(s, arglead)
      end, { "status", "reindex", "context", "model", "restart" })
    end
    if words[2] == "model" then
      return vim.fn.getcompletion(arglead, "file")
    end
    return {}
  end,
})

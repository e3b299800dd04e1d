-- Driven by tests/lsp/test_nvim.py: a real Neovim, headless, running editors/nvim against
-- the real server. It records what it saw in a JSON file; the Python test asserts.
local out = {}
local function finish(ok, err)
  out.ok = ok
  out.error = err and tostring(err) or nil
  local f = io.open(os.getenv("NVIMTEST_NVIM_RESULT"), "w")
  f:write(vim.fn.json_encode(out))
  f:close()
  vim.cmd(ok and "qall!" or "cquit! 1")
end

local function wait(what, pred)
  if not vim.wait(90000, pred, 20) then
    error("timed out waiting for " .. what)
  end
end

local ok, err = pcall(function()
  local amigo = require("amigo")
  amigo.setup({
    cmd = { os.getenv("NVIMTEST_PYTHON"), "-m", "amigo_lsp" },
    settings = vim.fn.json_decode(os.getenv("NVIMTEST_SETTINGS")),
  })
  vim.cmd("edit " .. vim.fn.fnameescape(os.getenv("NVIMTEST_FILE")))
  local buf = vim.api.nvim_get_current_buf()
  wait("the server to start", function()
    local c = amigo.client(buf)
    return c ~= nil and c.initialized and c.server_capabilities ~= nil
  end)
  local function text()
    return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n") .. "\n"
  end
  out.before = text()
  vim.ui.input = function(_, cb) cb(os.getenv("NVIMTEST_INSTRUCTION")) end
  vim.cmd(os.getenv("NVIMTEST_RANGE") .. "AmigoEdit")
  wait("a proposal", function() return amigo.state.last ~= nil end)
  out.windows_with_diff = #vim.api.nvim_list_wins()
  out.diff = table.concat(vim.api.nvim_buf_get_lines(amigo.state.diff_buf, 0, -1, false), "\n")
  out.diff_filetype = vim.bo[amigo.state.diff_buf].filetype
  out.unchanged_before_accept = text() == out.before
  out.progress_seen = amigo.state.progress_seen
  vim.cmd("AmigoAccept")
  wait("the edit to land", function() return text() ~= out.before end)
  out.after_accept = text()
  wait("the diff split to close", function() return #vim.api.nvim_list_wins() == 1 end)
  vim.wait(200)
  vim.cmd("AmigoUndo")
  wait("the undo", function() return text() == out.before end)
  out.after_undo = text()
end)
finish(ok, err)

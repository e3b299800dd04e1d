-- The shared part of the headless-Neovim tests (loaded with require("nvim_harness"); nvim_runner.py puts
-- this folder on Lua's package.path). A script runs its steps inside harness.run, which records what
-- they saw (harness.out) with ok/error in the JSON file NVIMTEST_RESULT and quits; the Python test asserts.
local M = { out = {} }

-- Wait up to 90 s for pred() to hold; fail the run naming what never happened.
function M.wait(what, pred)
  if not vim.wait(90000, pred, 20) then
    error("timed out waiting for " .. what)
  end
end

-- Start the plugin against the real server (python -m amigo_lsp with NVIMTEST_SETTINGS), open
-- NVIMTEST_FILE and wait until its language client is initialized. Returns the plugin and the buffer.
function M.open_with_amigo()
  local amigo = require("amigo")
  amigo.setup({
    cmd = { os.getenv("NVIMTEST_PYTHON"), "-m", "amigo_lsp" },
    settings = vim.fn.json_decode(os.getenv("NVIMTEST_SETTINGS")),
  })
  vim.cmd("edit " .. vim.fn.fnameescape(os.getenv("NVIMTEST_FILE")))
  local buf = vim.api.nvim_get_current_buf()
  M.wait("the server to start", function()
    local c = amigo.client(buf)
    return c ~= nil and c.initialized and c.server_capabilities ~= nil
  end)
  return amigo, buf
end

-- Run the test's steps, write the result file, and quit (exit status 1 when a step failed).
function M.run(steps)
  local ok, err = pcall(steps, M.out)
  M.out.ok = ok
  M.out.error = err and tostring(err) or nil
  local f = io.open(os.getenv("NVIMTEST_RESULT"), "w")
  f:write(vim.fn.json_encode(M.out))
  f:close()
  vim.cmd(ok and "qall!" or "cquit! 1")
end

return M

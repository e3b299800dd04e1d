-- Driven by tests/lsp/test_nvim.py: a real Neovim, headless, showing Amigo's inline suggestion as
-- virtual text and accepting it with the accept key's function. Records what it saw in a JSON file.
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
  if not vim.wait(60000, pred, 20) then
    error("timed out waiting for " .. what)
  end
end

local ok, err = pcall(function()
  local amigo = require("amigo")
  amigo.setup({
    cmd = { os.getenv("NVIMTEST_PYTHON"), "-m", "amigo_lsp" },
    settings = vim.fn.json_decode(os.getenv("NVIMTEST_SETTINGS")),
  })
  local complete = require("amigo.complete")
  vim.cmd("edit " .. vim.fn.fnameescape(os.getenv("NVIMTEST_FILE")))
  local buf = vim.api.nvim_get_current_buf()
  wait("the server to start", function()
    local c = amigo.client(buf)
    return c ~= nil and c.initialized and c.server_capabilities ~= nil
  end)
  out.advertised = amigo.client(buf).server_capabilities.inlineCompletionProvider ~= nil
  local row = tonumber(os.getenv("NVIMTEST_ROW"))
  local typed = os.getenv("NVIMTEST_TYPED")
  -- the person types the start of the line (as a change in insert mode would); the cursor after the
  -- last character, where insert mode has it (normal mode needs virtualedit for that)
  vim.o.virtualedit = "onemore"
  vim.api.nvim_buf_set_lines(buf, row, row + 1, false, { typed })
  vim.api.nvim_win_set_cursor(0, { row + 1, #typed })
  complete.request(buf)
  wait("a suggestion", function() return complete.visible() ~= nil end)
  local marks = vim.api.nvim_buf_get_extmarks(buf, complete.state.ns, 0, -1, { details = true })
  out.marks = #marks
  out.virt_text = marks[1] and marks[1][4].virt_text[1][1] or nil
  out.line_before_accept = vim.api.nvim_buf_get_lines(buf, row, row + 1, false)[1]
  complete.accept()
  out.line_after_accept = vim.api.nvim_buf_get_lines(buf, row, row + 1, false)[1]
  out.cursor_after_accept = vim.api.nvim_win_get_cursor(0)
  out.marks_after_accept = #vim.api.nvim_buf_get_extmarks(buf, complete.state.ns, 0, -1, {})
  wait("the server to record the accept", function() return complete.state.last_accept ~= nil end)
  out.accept_result = complete.state.last_accept
  -- a second suggestion, dismissed
  vim.api.nvim_buf_set_lines(buf, row + 1, row + 1, false, { "    " })
  vim.api.nvim_win_set_cursor(0, { row + 2, 4 })
  complete.request(buf)
  wait("a second suggestion", function() return complete.visible() ~= nil end)
  complete.dismiss("dismissed")
  out.marks_after_dismiss = #vim.api.nvim_buf_get_extmarks(buf, complete.state.ns, 0, -1, {})
  vim.wait(500)
end)
finish(ok, err)

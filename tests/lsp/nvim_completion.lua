-- Driven by tests/lsp/test_nvim.py: a real Neovim, headless, showing Amigo's inline suggestion as
-- virtual text and accepting it with the accept key's function, then dismissing a second one.
local harness = require("nvim_harness")

harness.run(function(out)
  local amigo, buf = harness.open_with_amigo()
  local complete = require("amigo.complete")
  out.advertised = amigo.client(buf).server_capabilities.inlineCompletionProvider ~= nil
  local row = tonumber(os.getenv("NVIMTEST_ROW"))
  local typed = os.getenv("NVIMTEST_TYPED")
  -- the person types the start of the line (as a change in insert mode would); the cursor after the
  -- last character, where insert mode has it (normal mode needs virtualedit for that)
  vim.o.virtualedit = "onemore"
  vim.api.nvim_buf_set_lines(buf, row, row + 1, false, { typed })
  vim.api.nvim_win_set_cursor(0, { row + 1, #typed })
  complete.request(buf)
  harness.wait("a suggestion", function() return complete.visible() ~= nil end)
  out.first_shown = complete.visible().text
  local expect = os.getenv("NVIMTEST_EXPECT")
  if expect and expect ~= "" then -- the first words came early: the plugin asks again for the rest
    harness.wait("the whole suggestion", function()
      local shown = complete.visible()
      return shown ~= nil and shown.text == expect
    end)
  end
  out.early = complete.state.early or 0
  local marks = vim.api.nvim_buf_get_extmarks(buf, complete.state.ns, 0, -1, { details = true })
  out.marks = #marks
  out.virt_text = marks[1] and marks[1][4].virt_text[1][1] or nil
  out.line_before_accept = vim.api.nvim_buf_get_lines(buf, row, row + 1, false)[1]
  complete.accept()
  out.line_after_accept = vim.api.nvim_buf_get_lines(buf, row, row + 1, false)[1]
  out.cursor_after_accept = vim.api.nvim_win_get_cursor(0)
  out.marks_after_accept = #vim.api.nvim_buf_get_extmarks(buf, complete.state.ns, 0, -1, {})
  harness.wait("the server to record the accept", function() return complete.state.last_accept ~= nil end)
  out.accept_result = complete.state.last_accept
  -- a second suggestion, dismissed
  vim.api.nvim_buf_set_lines(buf, row + 1, row + 1, false, { "    " })
  vim.api.nvim_win_set_cursor(0, { row + 2, 4 })
  complete.request(buf)
  harness.wait("a second suggestion", function() return complete.visible() ~= nil end)
  complete.dismiss("dismissed")
  out.marks_after_dismiss = #vim.api.nvim_buf_get_extmarks(buf, complete.state.ns, 0, -1, {})
  vim.wait(500)
end)

-- Driven by tests/lsp/test_nvim.py: a real Neovim, headless, running editors/nvim against
-- the real server: edit with an instruction, the diff in a split, accept, undo.
local harness = require("nvim_harness")

harness.run(function(out)
  local amigo, buf = harness.open_with_amigo()
  local function text()
    return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), "\n") .. "\n"
  end
  out.before = text()
  vim.ui.input = function(_, cb) cb(os.getenv("NVIMTEST_INSTRUCTION")) end
  vim.cmd(os.getenv("NVIMTEST_RANGE") .. "AmigoEdit")
  harness.wait("a proposal", function() return amigo.state.last ~= nil end)
  out.windows_with_diff = #vim.api.nvim_list_wins()
  out.diff = table.concat(vim.api.nvim_buf_get_lines(amigo.state.diff_buf, 0, -1, false), "\n")
  out.diff_filetype = vim.bo[amigo.state.diff_buf].filetype
  out.unchanged_before_accept = text() == out.before
  out.progress_seen = amigo.state.progress_seen
  vim.cmd("AmigoAccept")
  harness.wait("the edit to land", function() return text() ~= out.before end)
  out.after_accept = text()
  harness.wait("the diff split to close", function() return #vim.api.nvim_list_wins() == 1 end)
  vim.wait(200)
  vim.cmd("AmigoUndo")
  harness.wait("the undo", function() return text() == out.before end)
  out.after_undo = text()
end)

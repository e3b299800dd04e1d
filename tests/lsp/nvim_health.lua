-- Driven by test_nvim_health.py: load the plugin through the README's lazy.nvim spec (its
-- config function called as lazy.nvim calls it, with the plugin's folder), then record what
-- :checkhealth amigo says with the model server up and down, and where :help amigo lands.
local harness = require("nvim_harness")

local function health_lines(endpoint)
  require("amigo").setup({ cmd = { os.getenv("NVIMTEST_PYTHON"), "-m", "amigo", "lsp" },
                           settings = { endpoint = endpoint, decoding = "free" } })
  vim.cmd("checkhealth amigo")
  local lines = vim.api.nvim_buf_get_lines(0, 0, -1, false)
  vim.cmd("tabclose")
  return table.concat(lines, "\n")
end

harness.run(function(out)
  local spec = dofile(os.getenv("NVIMTEST_SPEC"))
  spec.config({ dir = os.getenv("NVIMTEST_PLUGIN_DIR") })
  out.setup_after_spec = package.loaded["amigo"] ~= nil and package.loaded["amigo"]._setup_done == true
  out.health_up = health_lines(os.getenv("NVIMTEST_ENDPOINT_UP"))
  out.health_down = health_lines(os.getenv("NVIMTEST_ENDPOINT_DOWN"))
  vim.cmd("help amigo")
  out.help_file = vim.fn.expand("%:t")
  out.help_line = vim.api.nvim_get_current_line()
end)

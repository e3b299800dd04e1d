-- :checkhealth amigo -- is `amigo` installed, which version, is the model server up,
-- which model and decoding mode will requests get.
--
-- The server facts come from `amigo doctor --json`, run beside the configured server
-- command with this editor's settings as AMIGO_* variables (the environment layer of
-- Amigo's configuration), so the report is what this editor's server sees.

local M = {}

-- Neovim 0.10 renamed report_start/report_ok/... to start/ok/...; 0.7 has them in require("health").
local health = vim.health or require("health")
local start = health.start or health.report_start
local ok = health.ok or health.report_ok
local warn = health.warn or health.report_warn
local error = health.error or health.report_error
local info = health.info or health.report_info

--- The `amigo` command line beside the server command: `lsp` swapped for `args` (so a
--- configured path to amigo, or `python -m amigo`, is used), else plain `amigo`.
function M.amigo_cmd(server_cmd, args)
  local cmd = vim.deepcopy(server_cmd or { "amigo", "lsp" })
  if cmd[#cmd] == "lsp" then
    table.remove(cmd)
  else
    cmd = { "amigo" }
  end
  return vim.list_extend(cmd, args)
end

--- The editor's settings as AMIGO_* assignments (editFormat -> AMIGO_EDIT_FORMAT=...).
function M.settings_env(settings)
  local env = {}
  for key, value in pairs(settings or {}) do
    if key ~= "review" and value ~= nil and value ~= vim.NIL then
      local name = "AMIGO_" .. key:gsub("%u", function(c) return "_" .. c end):upper()
      table.insert(env, name .. "=" .. tostring(value))
    end
  end
  table.sort(env)
  return env
end

local function run(cmd)
  local output = vim.fn.system(cmd)
  return vim.v.shell_error, output
end

local function decode(text)
  local okay, value = pcall(vim.json and vim.json.decode or vim.fn.json_decode, text)
  return okay and type(value) == "table" and value or nil
end

local function check_install(config)
  local version_cmd = M.amigo_cmd(config.cmd, { "--version" })
  local exe = version_cmd[1]
  if vim.fn.executable(exe) ~= 1 then
    error(("`%s` is not on PATH"):format(exe), {
      "pipx install amigo-code (or: uv tool install amigo-code)",
      'or point setup{ cmd = { "/path/to/amigo", "lsp" } } at it',
    })
    return false
  end
  local code, out = run(version_cmd)
  if code == 0 then
    ok(("%s (%s)"):format(vim.trim(out), vim.fn.exepath(exe)))
  else
    warn(("`%s` did not tell its version: %s"):format(table.concat(version_cmd, " "), vim.trim(out)))
  end
  return true
end

local function check_server(config)
  local cmd = vim.list_extend({ "env" }, M.settings_env(config.settings))
  vim.list_extend(cmd, M.amigo_cmd(config.cmd, { "doctor", "--json" }))
  local _, out = run(cmd)
  local report = decode(out)
  if not report then
    error("`amigo doctor --json` gave no report: " .. vim.trim(out), { "run `amigo doctor` in a terminal to see why" })
    return
  end
  info(("configuration from: %s"):format(#report.config_sources > 0 and table.concat(report.config_sources, ", ") or "defaults"))
  if report.server == "up" then
    ok(("model server up at %s, serving %s"):format(report.endpoint, table.concat(report.server_models, ", ")))
  else
    error(("model server down: %s"):format(report.server_error or report.endpoint), {
      "start the embedded one with `amigo serve`",
      'or set settings = { endpoint = "http://HOST:PORT/v1" } in setup{}, amigo.toml or AMIGO_ENDPOINT',
    })
  end
  local adapter = (report.adapter and report.adapter ~= vim.NIL) and (" + adapter " .. report.adapter) or ""
  info(("model: %s%s; edit format: %s"):format(report.model, adapter, report.edit_format))
  local mode = ("decoding: %s (in use: %s)"):format(report.decoding, report.decoding_in_use)
  if report.decoding == "constrained" and report.decoding_in_use ~= "constrained" and report.server == "up" then
    warn(mode .. "; the server cannot constrain its output", { "use llama.cpp or vLLM, or set decoding = \"auto\"" })
  else
    ok(mode)
  end
end

function M.check()
  start("amigo")
  local amigo = package.loaded["amigo"]
  local configured = amigo and amigo.config and amigo._setup_done
  local config = (amigo and amigo.config) or { cmd = { "amigo", "lsp" }, settings = {} }
  if configured then
    ok("require(\"amigo\").setup() has run")
  else
    warn("require(\"amigo\").setup() has not run: nothing attaches to buffers", { "see :help amigo-setup" })
  end
  if amigo and amigo.client and amigo.client() then
    ok("the amigo language server is attached to this buffer")
  else
    info("no amigo language server on this buffer")
  end
  if check_install(config) then
    check_server(config)
  end
end

return M

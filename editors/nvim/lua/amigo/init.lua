-- Amigo for Neovim: instruction -> proposed diff in a split -> accept / reject / undo.
--
-- The plugin starts `amigo lsp` (vim.lsp.start on Neovim >= 0.8, start_client +
-- buf_attach_client on 0.7) with review = "client": the server returns the
-- proposal's diff, the plugin shows it, and :AmigoAccept asks the server to send
-- the versioned workspace/applyEdit that writes the buffer.

local M = {}

M.config = {
  cmd = { "amigo", "lsp" },
  -- Server settings (sent as initializationOptions and workspace/configuration "amigo"):
  -- endpoint, model, editFormat, contextBudget, maxTokens, temperature, decoding.
  settings = {},
  root_markers = { ".git", "amigo.toml" },
  filetypes = nil, -- nil: every normal file buffer
  diff_split = "botright new",
  -- Inline suggestions as you type (lua/amigo/complete.lua): accept_key, dismiss_key, enabled;
  -- false turns them off. Server-side knobs go in settings.completion (debounceMs, maxTokens, fim, ...).
  completion = {},
}

M.state = {
  last = nil, -- { id, bufnr, client_id }
  diff_buf = nil,
  diff_win = nil,
  progress = nil, -- the latest progress message
  progress_seen = 0,
}

local clients_by_root = {}

local function notify(msg, level)
  vim.notify("Amigo: " .. msg, level or vim.log.levels.INFO)
end

local function exists(path)
  return vim.loop.fs_stat(path) ~= nil
end

local function find_root(path)
  local dir = vim.fn.fnamemodify(path, ":p:h")
  while dir and dir ~= "" do
    for _, marker in ipairs(M.config.root_markers) do
      if exists(dir .. "/" .. marker) then
        return dir
      end
    end
    local parent = vim.fn.fnamemodify(dir, ":h")
    if parent == dir then
      break
    end
    dir = parent
  end
  return vim.fn.fnamemodify(path, ":p:h")
end

local function server_settings()
  return vim.tbl_extend("force", M.config.settings or {}, { review = "client" })
end

--- The running Amigo client attached to `bufnr` (nil when none).
function M.client(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local clients = vim.lsp.get_clients and vim.lsp.get_clients({ bufnr = bufnr })
    or vim.lsp.buf_get_clients(bufnr)
  for _, client in pairs(clients or {}) do
    if client.name == "amigo" then
      return client
    end
  end
  return nil
end

local function client_config(root)
  return {
    name = "amigo",
    cmd = M.config.cmd,
    root_dir = root,
    workspace_folders = { { uri = vim.uri_from_fname(root), name = vim.fn.fnamemodify(root, ":t") } },
    init_options = server_settings(),
    settings = { amigo = server_settings() },
    flags = { debounce_text_changes = 20 },
  }
end

--- Start (or reuse) the server for the buffer's repository and attach it.
function M.attach(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  if vim.bo[bufnr].buftype ~= "" then
    return
  end
  local name = vim.api.nvim_buf_get_name(bufnr)
  if name == "" or name:match("^%a+://") then
    return
  end
  local root = find_root(name)
  if vim.lsp.start then
    vim.lsp.start(client_config(root), { bufnr = bufnr })
    return
  end
  local id = clients_by_root[root]
  if not id or vim.lsp.client_is_stopped(id) then
    id = vim.lsp.start_client(client_config(root))
    clients_by_root[root] = id
  end
  if id then
    vim.lsp.buf_attach_client(bufnr, id)
  end
end

local function close_diff()
  if M.state.diff_win and vim.api.nvim_win_is_valid(M.state.diff_win) then
    vim.api.nvim_win_close(M.state.diff_win, true)
  end
  M.state.diff_win = nil
end

local function show_diff(result)
  close_diff()
  local src_win = vim.api.nvim_get_current_win()
  vim.cmd(M.config.diff_split)
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_win_set_buf(0, buf)
  local lines = vim.split(result.diff or "", "\n", { plain = true })
  if result.explanation and result.explanation ~= "" then
    local head = {}
    for _, l in ipairs(vim.split(result.explanation, "\n", { plain = true })) do
      table.insert(head, "# " .. l)
    end
    lines = vim.list_extend(head, lines)
  end
  table.insert(lines, "")
  table.insert(lines, "# :AmigoAccept applies this proposal, :AmigoReject discards it, :AmigoRetry asks again.")
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].filetype = "diff"
  vim.bo[buf].modifiable = false
  vim.bo[buf].bufhidden = "wipe"
  pcall(vim.api.nvim_buf_set_name, buf, "amigo://proposal/" .. result.id)
  M.state.diff_buf = buf
  M.state.diff_win = vim.api.nvim_get_current_win()
  vim.api.nvim_set_current_win(src_win)
end

local function execute(bufnr, command, args, on_result)
  local client = M.client(bufnr)
  if not client then
    notify("the server is not running for this buffer (is `amigo` on PATH?)", vim.log.levels.ERROR)
    return
  end
  client.request("workspace/executeCommand", { command = command, arguments = { args } }, function(err, result)
    if err then
      notify(err.message or vim.inspect(err), vim.log.levels.ERROR)
      return
    end
    if on_result then
      on_result(result or {}, client)
    end
  end, bufnr)
end

local function on_proposal(bufnr)
  return function(result, client)
    if result.cancelled then
      notify("generation cancelled")
      return
    end
    if not result.ok then
      -- the server already showed why (window/showMessage)
      return
    end
    M.state.last = { id = result.id, bufnr = bufnr, client_id = client.id }
    show_diff(result)
  end
end

local function lsp_range(opts)
  if opts and opts.range and opts.range > 0 then
    return { start = { line = opts.line1 - 1, character = 0 }, ["end"] = { line = opts.line2, character = 0 } }
  end
  local pos = vim.api.nvim_win_get_cursor(0)
  return { start = { line = pos[1] - 1, character = 0 }, ["end"] = { line = pos[1] - 1, character = 0 } }
end

local function run_edit(bufnr, range, instruction)
  if not instruction or vim.trim(instruction) == "" then
    return
  end
  execute(bufnr, "amigo.edit", { uri = vim.uri_from_bufnr(bufnr), range = range, instruction = instruction },
    on_proposal(bufnr))
end

--- :AmigoEdit [instruction] (with a range: those lines; else the file around the cursor).
function M.edit(opts)
  local bufnr = vim.api.nvim_get_current_buf()
  local range = lsp_range(opts)
  local given = opts and opts.args or ""
  if given ~= "" then
    run_edit(bufnr, range, given)
  else
    vim.ui.input({ prompt = "Amigo instruction: " }, function(input)
      run_edit(bufnr, range, input)
    end)
  end
end

local function diagnostics_in(bufnr, first, last)
  local out = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr)) do
    if d.lnum >= first and d.lnum <= last then
      table.insert(out, {
        range = {
          start = { line = d.lnum, character = d.col },
          ["end"] = { line = d.end_lnum or d.lnum, character = d.end_col or d.col },
        },
        message = d.message,
        severity = d.severity,
        source = d.source,
      })
    end
  end
  return out
end

--- :AmigoFix: fix the diagnostics in the range (or on the cursor line).
function M.fix(opts)
  local bufnr = vim.api.nvim_get_current_buf()
  local range = lsp_range(opts)
  local last = math.max(range["end"].line - ((opts and opts.range and opts.range > 0) and 1 or 0), range.start.line)
  execute(bufnr, "amigo.fix", {
    uri = vim.uri_from_bufnr(bufnr),
    range = range,
    diagnostics = diagnostics_in(bufnr, range.start.line, last),
  }, on_proposal(bufnr))
end

local function with_last(fn)
  local last = M.state.last
  if not last then
    notify("no proposal to review; run :AmigoEdit first", vim.log.levels.WARN)
    return
  end
  fn(last)
end

function M.accept()
  with_last(function(last)
    execute(last.bufnr, "amigo.accept", { id = last.id }, function(result)
      close_diff()
      M.state.last = nil
      if result.applied then
        notify("applied (:AmigoUndo reverts it)")
      elseif result.reason then
        notify(result.reason, vim.log.levels.WARN)
      end
    end)
  end)
end

function M.reject()
  with_last(function(last)
    execute(last.bufnr, "amigo.reject", { id = last.id }, function()
      close_diff()
      M.state.last = nil
      notify("proposal rejected")
    end)
  end)
end

function M.retry()
  with_last(function(last)
    close_diff()
    execute(last.bufnr, "amigo.retry", { id = last.id }, on_proposal(last.bufnr))
  end)
end

function M.undo()
  local bufnr = vim.api.nvim_get_current_buf()
  execute(bufnr, "amigo.undo", {}, function(result)
    if result.applied then
      notify("undone")
    end
  end)
end

--- Statusline text: the latest progress of a running generation ("" when idle).
function M.status()
  return M.state.progress or ""
end

local function on_progress(ev)
  local value, name
  if ev and ev.data and ev.data.params then -- Neovim >= 0.10: LspProgress
    local client = vim.lsp.get_client_by_id(ev.data.client_id)
    name = client and client.name
    value = ev.data.params.value
  else -- Neovim 0.7 - 0.9: LspProgressUpdate
    for _, msg in ipairs(vim.lsp.util.get_progress_messages and vim.lsp.util.get_progress_messages() or {}) do
      if msg.name == "amigo" then
        name = "amigo"
        value = { kind = msg.done and "end" or "report", title = msg.title, message = msg.message }
      end
    end
  end
  if name ~= "amigo" or not value then
    return
  end
  M.state.progress_seen = M.state.progress_seen + 1
  if value.kind == "end" then
    M.state.progress = nil
  else
    M.state.progress = table.concat(vim.tbl_filter(function(s) return s and s ~= "" end,
      { value.title, value.message }), ": ")
  end
  vim.api.nvim_echo({ { "Amigo: " .. (M.state.progress or ((value.message or "done"))), "Comment" } }, false, {})
end

-- Code actions ask for an instruction on the client side, then come back here.
local function register_code_action_commands()
  vim.lsp.commands["amigo.edit"] = function(command, ctx)
    local args = (command.arguments or {})[1] or {}
    local bufnr = ctx and ctx.bufnr or vim.api.nvim_get_current_buf()
    if args.instruction then
      run_edit(bufnr, args.range, args.instruction)
      return
    end
    vim.ui.input({ prompt = "Amigo instruction: " }, function(input)
      run_edit(bufnr, args.range, input)
    end)
  end
  vim.lsp.commands["amigo.fix"] = function(command, ctx)
    local bufnr = ctx and ctx.bufnr or vim.api.nvim_get_current_buf()
    execute(bufnr, "amigo.fix", (command.arguments or {})[1] or {}, on_proposal(bufnr))
  end
end

function M.setup(opts)
  M.config = vim.tbl_deep_extend("force", M.config, opts or {})
  M._setup_done = true -- for :checkhealth amigo
  local group = vim.api.nvim_create_augroup("amigo", { clear = true })
  vim.api.nvim_create_autocmd({ "BufReadPost", "BufNewFile" }, {
    group = group,
    callback = function(args)
      local ft = vim.bo[args.buf].filetype
      if M.config.filetypes == nil or vim.tbl_contains(M.config.filetypes, ft) then
        M.attach(args.buf)
      end
    end,
  })
  vim.api.nvim_create_autocmd("User", { group = group, pattern = "LspProgressUpdate", callback = on_progress })
  if vim.fn.exists("##LspProgress") == 1 then
    vim.api.nvim_create_autocmd("LspProgress", { group = group, callback = on_progress })
  end
  local cmd = vim.api.nvim_create_user_command
  cmd("AmigoEdit", M.edit, { range = true, nargs = "*", desc = "Amigo: edit the selection with an instruction" })
  cmd("AmigoFix", M.fix, { range = true, desc = "Amigo: fix the diagnostics here" })
  cmd("AmigoAccept", M.accept, { desc = "Amigo: apply the proposal shown" })
  cmd("AmigoReject", M.reject, { desc = "Amigo: discard the proposal shown" })
  cmd("AmigoRetry", M.retry, { desc = "Amigo: ask for another proposal" })
  cmd("AmigoUndo", M.undo, { desc = "Amigo: undo Amigo's last edit" })
  register_code_action_commands()
  if M.config.completion ~= false then
    require("amigo.complete").setup(M.config.completion)
  end
  -- buffers already open when setup() runs
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) then
      M.attach(buf)
    end
  end
end

return M

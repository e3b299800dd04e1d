-- Amigo inline completion for Neovim: suggestions as virtual text while you type.
--
-- Each change in insert mode asks the server (textDocument/inlineCompletion; the
-- server debounces and stops the old generation when you type on, and this side
-- also cancels its own pending request). The suggestion is shown as virtual text
-- at the cursor; the accept key inserts it and runs the item's command, which is
-- how the server learns it was accepted. Leaving insert mode or the dismiss key
-- tells the server it was dismissed; typing something else is seen by the server.
-- A slow model's first words come early (the item's command says `more`): they are
-- shown at once and the same place is asked again for the rest, which the server
-- is still generating.

local M = {}

M.config = {
  enabled = true,
  accept_key = "<Tab>", -- inserts the suggestion; without one on screen the key does what it always does
  dismiss_key = "<C-]>",
  hl_group = "Comment",
}

M.state = {
  ns = nil,
  seq = 0, -- number of the newest request
  pending = nil, -- { client, id } of the request in flight
  shown = nil, -- { bufnr, row, col, text, command, client_id }
  requests = 0,
  cancelled = 0,
}

local function clear()
  local shown = M.state.shown
  if shown and vim.api.nvim_buf_is_valid(shown.bufnr) then
    vim.api.nvim_buf_clear_namespace(shown.bufnr, M.state.ns, 0, -1)
  end
  M.state.shown = nil
end

local function show(bufnr, row, col, item, client_id)
  clear()
  local text = type(item.insertText) == "table" and item.insertText.value or item.insertText
  if not text or text == "" then
    return
  end
  local lines = vim.split(text, "\n", { plain = true })
  local opts = {
    virt_text = { { lines[1], M.config.hl_group } },
    virt_text_pos = vim.fn.has("nvim-0.10") == 1 and "inline" or "eol",
    hl_mode = "combine",
  }
  if #lines > 1 then
    opts.virt_lines = {}
    for i = 2, #lines do
      table.insert(opts.virt_lines, { { lines[i], M.config.hl_group } })
    end
  end
  vim.api.nvim_buf_set_extmark(bufnr, M.state.ns, row, col, opts)
  M.state.shown = { bufnr = bufnr, row = row, col = col, text = text, command = item.command, client_id = client_id }
end

local function cancel_pending()
  local pending = M.state.pending
  if pending and pending.client and pending.id then
    pending.client.cancel_request(pending.id) -- $/cancelRequest: the server closes the model stream
    M.state.cancelled = M.state.cancelled + 1
  end
  M.state.pending = nil
end

local function has_more(item)
  local args = item.command and item.command.arguments
  return type(args) == "table" and type(args[1]) == "table" and args[1].more == true
end

--- Ask the server for a suggestion at the cursor of the current window (`keep`: leave the
--- suggestion on screen until the answer replaces it: the rest of one shown early).
function M.request(bufnr, invoked, keep)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local client = require("amigo").client(bufnr)
  if not M.config.enabled or not client or not (client.server_capabilities or {}).inlineCompletionProvider then
    return
  end
  cancel_pending()
  if not keep then
    clear()
  end
  local cursor = vim.api.nvim_win_get_cursor(0)
  local row, col = cursor[1] - 1, cursor[2]
  local line = vim.api.nvim_buf_get_lines(bufnr, row, row + 1, false)[1] or ""
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(bufnr) },
    position = { line = row, character = vim.str_utfindex(line, col) },
    context = { triggerKind = invoked and 1 or 2 },
  }
  M.state.seq = M.state.seq + 1
  M.state.requests = M.state.requests + 1
  local mine = M.state.seq
  local ok, id = client.request("textDocument/inlineCompletion", params, function(err, result)
    if mine ~= M.state.seq then
      return -- you typed on meanwhile
    end
    M.state.pending = nil
    if err or not result then
      return
    end
    local items = result.items or result
    local now = vim.api.nvim_win_get_cursor(0)
    if items[1] and now[1] - 1 == row and now[2] == col and vim.api.nvim_get_current_buf() == bufnr then
      show(bufnr, row, col, items[1], client.id)
      if has_more(items[1]) then
        M.state.early = (M.state.early or 0) + 1
        vim.schedule(function() M.request(bufnr, invoked, true) end)
      end
    end
  end, bufnr)
  if ok then
    M.state.pending = { client = client, id = id }
  end
end

--- The suggestion on screen (nil when none).
function M.visible()
  return M.state.shown
end

--- Insert the suggestion at the cursor and tell the server (the item's command).
function M.accept()
  local shown = M.state.shown
  if not shown then
    return false
  end
  clear()
  local lines = vim.split(shown.text, "\n", { plain = true })
  vim.api.nvim_buf_set_text(shown.bufnr, shown.row, shown.col, shown.row, shown.col, lines)
  local last_row = shown.row + #lines - 1
  local last_col = (#lines == 1 and shown.col or 0) + #lines[#lines]
  vim.api.nvim_win_set_cursor(0, { last_row + 1, last_col })
  local client = vim.lsp.get_client_by_id(shown.client_id)
  if client and shown.command then
    client.request("workspace/executeCommand",
      { command = shown.command.command, arguments = shown.command.arguments }, function(_, result)
        M.state.last_accept = result
      end, shown.bufnr)
  end
  return true
end

--- Hide the suggestion and tell the server it was dismissed.
function M.dismiss(reason)
  local shown = M.state.shown
  cancel_pending()
  if not shown then
    return
  end
  clear()
  local client = vim.lsp.get_client_by_id(shown.client_id)
  local id = shown.command and shown.command.arguments and shown.command.arguments[1] and shown.command.arguments[1].id
  if client and id then
    client.request("workspace/executeCommand",
      { command = "amigo.completionRejected", arguments = { { id = id, reason = reason or "dismissed" } } },
      function() end, shown.bufnr)
  end
end

local function map_keys()
  local accept = M.config.accept_key
  if accept and accept ~= "" then
    vim.keymap.set("i", accept, function()
      if M.state.shown then
        vim.schedule(M.accept) -- not inside the mapping: the buffer is locked while it is evaluated
        return ""
      end
      return vim.api.nvim_replace_termcodes(accept, true, false, true)
    end, { expr = true, desc = "Amigo: accept the suggestion" })
  end
  local dismiss = M.config.dismiss_key
  if dismiss and dismiss ~= "" then
    vim.keymap.set("i", dismiss, function() M.dismiss("dismissed") end, { desc = "Amigo: dismiss the suggestion" })
  end
end

function M.setup(opts)
  M.config = vim.tbl_deep_extend("force", M.config, opts or {})
  M.state.ns = vim.api.nvim_create_namespace("amigo_completion")
  local group = vim.api.nvim_create_augroup("amigo_completion", { clear = true })
  vim.api.nvim_create_autocmd("TextChangedI", { group = group, callback = function(args) M.request(args.buf) end })
  vim.api.nvim_create_autocmd("InsertLeave", { group = group, callback = function() M.dismiss("dismissed") end })
  vim.api.nvim_create_autocmd("CursorMovedI", {
    group = group,
    callback = function()
      local shown = M.state.shown
      if shown then
        local now = vim.api.nvim_win_get_cursor(0)
        if now[1] - 1 ~= shown.row or now[2] ~= shown.col then
          clear() -- moved away: the server settles it at the next request
        end
      end
    end,
  })
  map_keys()
  vim.api.nvim_create_user_command("AmigoComplete", function() M.request(nil, true) end,
    { desc = "Amigo: ask for a suggestion at the cursor" })
end

return M

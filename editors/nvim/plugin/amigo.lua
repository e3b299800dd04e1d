-- Loaded by Neovim from the runtimepath; nothing starts until require("amigo").setup{} is called.
if vim.g.loaded_amigo then
  return
end
vim.g.loaded_amigo = 1

-- lunet/autoload.lua: the names `lunet.<name>` loads on first use, each with its loader, so
-- that the C module knows no Lua module's name but this file's. A new pure-Lua part of Lunet
-- is one line here. bindings/lunet.c loads this table with the module, keeps it as the module's
-- __index upvalue and its names as the metatable's __dir (the REPL completes them before they
-- load); the first `lunet.<name>` calls the loader and caches what it returns in the module.
local function module(name) return function() return require(name) end end
local function field(name, key) return function() return require(name)[key] end end

return {
  nn = module "lunet.nn",
  optim = module "lunet.optim",
  data = module "lunet.data",
  metrics = module "lunet.metrics",
  plot = module "lunet.plot",
  testing = module "lunet.testing",
  progress = module "lunet.progress",
  linalg = module "lunet.linalg",
  distributed = module "lunet.distributed",
  CmdLine = module "lunet.cmdline",
  MLPClassifier = field("lunet.estimators", "MLPClassifier"),
  MLPRegressor = field("lunet.estimators", "MLPRegressor"),
}

-- luarocks make lunet-scm-1.rockspec   (from a checkout; tests/sh/luarocks.sh does it in CI)
-- A portable build: LUNET_NATIVE=OFF compiles for any x86-64, and the AVX2/FMA matrix kernel
-- (runtime/gemm_avx2.c, function-level target attributes) is chosen at run time by CPU
-- detection, as OpenBLAS chooses its own kernels. Installs lunet.so (require "lunet"), the
-- pure-Lua modules (lunet.nn, lunet.optim, ...), the shipped data set, and the `lunet` runner.
rockspec_format = "3.0"
package = "lunet"
version = "scm-1"
source = {
  url = "git+file://.",  -- luarocks make builds the checkout it is run in
}
description = {
  summary = "Neural networks in Lua 5.4 on a C11 core: tensors, autograd, layers, optimizers",
  detailed = [[
Lunet is a neural-network runtime in C that Lua 5.4 scripts drive, a successor of Torch7:
tensors with reverse-mode autograd, PyTorch-style layers, losses and optimizers, scikit-learn
style data tools, metrics and MLP estimators, safetensors files, and an interactive runner.]],
  license = "MIT",
  labels = {"neural-networks", "machine-learning", "tensor", "autograd"},
}
dependencies = {
  "lua >= 5.4, < 5.5",
}
build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    CMAKE_INSTALL_PREFIX = "$(PREFIX)",
    LUNET_NATIVE = "OFF",
    LUNET_TESTS = "OFF",
    -- luarocks deploys what lands in $(LUADIR), $(LIBDIR) and $(BINDIR); the libraries and
    -- headers for C hosts (liblunet.a, lunet.pc, nn.h) stay in the rock's own directory
    CMAKE_INSTALL_LIBDIR = "clib",
    LUNET_INSTALL_LMOD = "$(LUADIR)",
    LUNET_INSTALL_CMOD = "$(LIBDIR)",
    LUNET_INSTALL_DATA = "$(LUADIR)/lunet/data",
  },
}

#!/usr/bin/env bash
# Compiles the CUDA kernel sources (src/Fathom.Backends.Cuda/Kernels, in CudaContext's order) for the GPU
# with clang on a machine without CUDA, to catch syntax and type errors before a GPU machine is used:
# every kernel and the templates they instantiate are checked (sm_80; the sm_89+/sm_90 branches are
# NVRTC's to check). Needs clang with CUDA support (Debian: clang-14). Exit status 0 when clean.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
kernels=$root/src/Fathom.Backends.Cuda/Kernels
order=$(grep -o 'Sources = \[[^]]*\]' "$root/src/Fathom.Backends.Cuda/CudaContext.cs" | grep -o '"[^"]*"' | tr -d '"')
clang=$(command -v clang || command -v clang-14 || command -v clang-15 || command -v clang-16) || { echo "no clang" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
{ cat "$root/tools/gpu/cuda-prelude.h"; for f in $order; do cat "$kernels/$f"; done; } > "$work/all.cu"
"$clang" -x cuda --cuda-device-only --cuda-gpu-arch=sm_80 -nocudainc -nocudalib -std=c++17 -fsyntax-only "$work/all.cu"
echo "kernels OK ($(echo $order | wc -w) files)"

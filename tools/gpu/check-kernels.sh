#!/usr/bin/env bash
# Compiles the CUDA kernel sources (src/Fathom.Backends.Cuda/Kernels, in CudaContext's order) for the GPU
# with clang on a machine without CUDA, to catch syntax and type errors before a GPU machine is used:
# every kernel and the templates they instantiate are checked (sm_80; the sm_89+/sm_90 branches are
# NVRTC's to check), then every kernel name the C# code launches (string literals in KernelNames.cs and in
# Launch calls) must be an entry point of the result. Needs clang with CUDA support (Debian: clang-14).
# CHECK_DEFINES="-DNAME=VALUE ..." compiles them with those definitions too. Exit status 0 when clean.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
kernels=$root/src/Fathom.Backends.Cuda/Kernels
order=$(grep -o 'Sources = \[[^]]*\]' "$root/src/Fathom.Backends.Cuda/CudaContext.cs" | grep -o '"[^"]*"' | tr -d '"')
clang=$(command -v clang || command -v clang-14 || command -v clang-15 || command -v clang-16) || { echo "no clang" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
{ cat "$root/tools/gpu/cuda-prelude.h"; for f in $order; do cat "$kernels/$f"; done; } > "$work/all.cu"
"$clang" -x cuda --cuda-device-only --cuda-gpu-arch=sm_80 -nocudainc -nocudalib -std=c++17 ${CHECK_DEFINES:-} -S -o "$work/all.ptx" "$work/all.cu"
grep -o '\.entry [A-Za-z_0-9]*' "$work/all.ptx" | cut -d' ' -f2 | sort -u > "$work/entries"
cuda=$root/src/Fathom.Backends.Cuda
{ grep -v '^\s*///' "$cuda/KernelNames.cs" | grep -oh '"[a-z][a-z0-9_]*"'; cat "$cuda"/*.cs | grep -Pzo 'Launch\(\s*"[a-z][a-z0-9_]*"' | tr '\0' '\n' | grep -o '"[^"]*"'; } | tr -d '"' | sort -u > "$work/launched"
missing=$(comm -23 "$work/launched" "$work/entries")
if [ -n "$missing" ]; then
  echo "launched but not defined by the kernels: $missing" >&2
  exit 1
fi
echo "kernels OK ($(echo $order | wc -w) files, $(wc -l < "$work/entries") entry points, all $(wc -l < "$work/launched") launched names defined)"

// Declarations of the CUDA built-ins the kernels use, for tools/gpu/check-kernels.sh: clang compiles the
// kernel sources for the GPU without the CUDA headers (-nocudainc), so they are declared here, by
// signature only. Nothing here runs; NVRTC compiles the real kernels.
#define __device__ __attribute__((device))
#define __global__ __attribute__((global))
#define __host__ __attribute__((host))
#define __shared__ __attribute__((shared))
#define __constant__ __attribute__((constant))
#define __forceinline__ __inline__ __attribute__((always_inline))
#define __launch_bounds__(...) __attribute__((launch_bounds(__VA_ARGS__)))
#define __align__(n) __attribute__((aligned(n)))
#include "__clang_cuda_builtin_vars.h"
struct uint4 { unsigned x, y, z, w; };
struct float4 { float x, y, z, w; };
struct float2 { float x, y; };
struct uint2 { unsigned x, y; };
struct int4 { int x, y, z, w; };
__device__ uint4 make_uint4(unsigned, unsigned, unsigned, unsigned);
__device__ float4 make_float4(float, float, float, float);
__device__ float2 make_float2(float, float);
__device__ float __uint_as_float(unsigned);
__device__ unsigned __float_as_uint(float);
__device__ float __int_as_float(int);
__device__ int __float_as_int(float);
template <class T> __device__ T __shfl_xor_sync(unsigned, T, int);
template <class T> __device__ T __shfl_sync(unsigned, T, int);
template <class T> __device__ T __shfl_up_sync(unsigned, T, unsigned);
template <class T> __device__ T __shfl_down_sync(unsigned, T, unsigned);
__device__ unsigned __ballot_sync(unsigned, int);
__device__ int __popc(unsigned);
__device__ void __syncthreads();
__device__ void __syncwarp(unsigned mask = 0xffffffffu);
__device__ void __threadfence();
__device__ void __threadfence_block();
template <class T> __device__ T __ldg(const T*);
template <class T> __device__ T __ldcg(const T*);
__device__ int atomicAdd(int*, int);
__device__ float atomicAdd(float*, float);
__device__ unsigned atomicAdd(unsigned*, unsigned);
__device__ int atomicExch(int*, int);
__device__ float expf(float);
__device__ double exp(double);
__device__ float rsqrtf(float);
__device__ float fmaxf(float, float);
__device__ float fminf(float, float);
__device__ float logf(float);
__device__ float sqrtf(float);
__device__ float fabsf(float);
__device__ int min(int, int);
__device__ int max(int, int);
__device__ long long min(long long, long long);
__device__ long long max(long long, long long);
__device__ unsigned min(unsigned, unsigned);
__device__ float min(float, float);
__device__ float max(float, float);

// Shared helpers of the Fathom kernels. Compiled with NVRTC, so no CUDA headers are included: the few
// conversions needed are written out here.
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long long u64;

// Weight storage types (WeightKind in C#).
#define WT_F32 0
#define WT_BF16 1
#define WT_FP8 2

#define NEG_INF (-__int_as_float(0x7f800000))

// Programmatic dependent launch (Hopper+; CudaContext launches every kernel with the attribute there).
// A kernel may start before the one ahead of it in the stream has finished, so every kernel calls
// inputs_ready() before it reads anything an earlier kernel wrote or writes anything an earlier kernel
// may still read; reading weights before that is fine (they never change). It returns once all earlier
// kernels are complete and their writes visible, and then lets the next kernel start (its blocks take
// free slots and wait in turn), so at most two kernels overlap. Without the attribute (and before sm_90)
// it costs nothing. Idempotent: calling it again is harmless.
__device__ __forceinline__ void inputs_ready()
{
#if defined(FATHOM_PDL) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
    asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// A 16-byte load of weights. Every weight byte is read once per step and a step streams over a hundred
// times what L2 holds, so the weight stream is marked evict-first in L2 (FATHOM_STREAM_HINT, from
// CudaOptions.StreamHint): the lines a step reuses (activations, the latent cache, the kernels' code, which
// the small launches otherwise fetch from HBM again every layer) then stay. 2 (the default): the .cs
// (streaming) cache operator; 1: an evict-first cache policy (createpolicy + L2::cache_hint, L1 not
// allocated); 0 or undefined: the read-only path with default priorities.
__device__ __forceinline__ uint4 load_weights(const void* p)
{
    uint4 v;
#if defined(FATHOM_STREAM_HINT) && FATHOM_STREAM_HINT == 1 && __CUDA_ARCH__ >= 800
    u64 policy;
    asm("createpolicy.fractional.L2::evict_first.b64 %0, 1.0;" : "=l"(policy));
    asm("ld.global.nc.L1::no_allocate.L2::cache_hint.v4.u32 {%0, %1, %2, %3}, [%4], %5;"
        : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p), "l"(policy));
#elif defined(FATHOM_STREAM_HINT) && FATHOM_STREAM_HINT == 2
    asm("ld.global.nc.cs.v4.u32 {%0, %1, %2, %3}, [%4];" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
#else
    v = __ldg((const uint4*)p);
#endif
    return v;
}

__device__ __forceinline__ float bf16_to_f(u32 bits16) { return __uint_as_float(bits16 << 16); }

// Round to nearest even to bfloat16 and back: activations of the bf16 path keep float32 storage but
// carry bf16 values, so every consumer sees exactly what a bf16 tensor would hold.
__device__ __forceinline__ float round_bf16(float f)
{
    u32 u = __float_as_uint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return f;
    u += 0x7fffu + ((u >> 16) & 1u);
    return __uint_as_float(u & 0xffff0000u);
}

__device__ __forceinline__ u16 to_bf16_bits(float f) { return (u16)(__float_as_uint(round_bf16(f)) >> 16); }

// An e4m3 byte placed into a float's sign/exponent/mantissa fields: the value times 2^-120 (normal and
// subnormal codes alike, as long as denormals are not flushed). Callers fold 2^120 into the block scale.
__device__ __forceinline__ float fp8_raw(u32 b) { return __uint_as_float(((b & 0x80u) << 24) | ((b & 0x7fu) << 20)); }
#define FP8_UNBIAS 1.329227995784916e36f

__device__ __forceinline__ float warp_sum(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// One element of a weight in any storage type (for the small per-head products, not the streaming ones).
__device__ __forceinline__ float weight_at(const void* w, const float* scales, int type, long long row, int col, int ld,
                                           int blockRows, int blockCols, int scaleCols)
{
    if (type == WT_BF16) return bf16_to_f(((const u16*)w)[row * ld + col]);
    if (type == WT_F32) return ((const float*)w)[row * ld + col];
    float s = scales[(row / blockRows) * scaleCols + col / blockCols];
    return fp8_raw(((const u8*)w)[row * ld + col]) * (s * FP8_UNBIAS);
}

// The routed expert of this block of an expert launch (blockIdx.y = first + j for the j-th expert that has tokens:
// active[0] of them, ids from active[1]) and its (token, slot) pairs order[start .. start + count).
// False for a block past the experts that have tokens. Reads the router's output: waits for it first.
__device__ __forceinline__ bool routed_expert(const int* active, const int* offsets, int& e, int& start, int& count, int first = 0)
{
    inputs_ready();
    int j = (int)blockIdx.y - first;
    if (j >= active[0]) return false;
    e = active[1 + j];
    start = offsets[e];
    count = offsets[e + 1] - start;
    return true;
}

// Block-wide sum for blockDim.x a multiple of 32 (≤ 1024); every thread gets the total.
__device__ __forceinline__ float block_sum(float v, float* shared32)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) shared32[warp] = v;
    __syncthreads();
    int warps = blockDim.x >> 5;
    v = lane < warps ? shared32[lane] : 0.f;
    return warp_sum(v);
}

__device__ __forceinline__ float block_max(float v, float* shared32)
{
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) shared32[warp] = v;
    __syncthreads();
    int warps = blockDim.x >> 5;
    v = lane < warps ? shared32[lane] : NEG_INF;
    return warp_max(v);
}

// Whether this block is the last of `count` blocks to arrive at *ticket: every block of the launch calls
// it once, with all its threads, after its writes. The last block resets the ticket for the next launch
// and sees every other block's writes (read them with __ldcg: they never sat in this block's L1).
__device__ __forceinline__ bool last_block_of(int* ticket, int count)
{
    __shared__ int last;
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0)
    {
        last = atomicAdd(ticket, 1) == count - 1;
        if (last) atomicExch(ticket, 0);
    }
    __syncthreads();
    if (last) __threadfence();
    return last;
}

// Tensor-core streaming products for passes of several tokens (batched decode): y = x · Wᵀ with W [N, K]
// in its stored type (bf16, or e4m3 with block scales) read from memory once per pass of up to 8·NT
// tokens, multiplied on the tensor cores (mma.sync m16n8k16: bf16 in, float32 accumulation). A warp owns
// 16·R weight rows (the m dimension) and takes 8 tokens per n-tile; no shared memory, no block barriers.
//
// Activations are carried as bf16 pairs (x = hi + lo, hi = bf16(x), lo = bf16(x − hi): 16 significant
// bits), so each product is two mma, as on the cuBLASLt pair path. FP8 weights become bf16 in registers
// exactly (hardware e4m3 → f16, then the f16 bits shifted into bf16 fields: the value times 2^-112), and
// the sums of each 128-column scale block are scaled once into the accumulators. The *_fp8h kernels take
// FP8 weights with inputs prepared by f16_pairs (f16 pairs, a power-of-two scale per row): the weights widen
// to f16 in one conversion per two and the products are f16 mma (X16 below).
//
// Fragment layout (PTX ISA, mma.m16n8k16 .bf16): lane = 4·g + t holds A elements (row g | g + 8, k = 2t,
// 2t + 1 | 2t + 8, 2t + 9), B elements (k = 2t, 2t + 1 | 2t + 8, 2t + 9; column g) and C elements
// (row g | g + 8, column 2t, 2t + 1). The order of k inside a product is free as long as A and B agree, so
// lane t reads E consecutive weights of its rows (one 16-byte load) and the E activations of the same
// columns: k-step s uses its elements 4s, 4s + 1 as logical k = 2t, 2t + 1 and 4s + 2, 4s + 3 as 2t + 8, 2t + 9.
#define MMA_WARPS 4
#ifndef MMA_U
#define MMA_U 2
#endif
// 1 (the default): a pass of one n-tile (the expert products) loads its activations of all MMA_U chunks
// right after issuing the weights' loads, before it waits on them; 0: each chunk's activations are loaded
// once its weights have arrived (as passes of several n-tiles always do).
#ifndef MMA_XPRE
#define MMA_XPRE 1
#endif
// FP8: activations enter scaled by 2^64 and block sums leave scaled by 2^48 (with the 2^-112 of the
// weights, the true product): keeps products of small weights and activations out of float32 subnormals.
#define MMA_FP8_X 1.8446744073709552e19f
#define MMA_FP8_OUT 2.8147497671065600e14f

template <int WT> struct MmaTraits;
template <> struct MmaTraits<WT_BF16> { static const int E = 8; static const int Bytes = 2; };
template <> struct MmaTraits<WT_FP8> { static const int E = 16; static const int Bytes = 1; };

__device__ __forceinline__ void mma_bf16_16816(float (&c)[4], u32 a0, u32 a1, u32 a2, u32 a3, u32 b0, u32 b1)
{
#if __CUDA_ARCH__ >= 800
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
#endif
}

// Two floats as bf16x2 (round to nearest even), `first` in the low half.
__device__ __forceinline__ u32 pack_bf16x2(float first, float second)
{
#if __CUDA_ARCH__ >= 800
    u32 r;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(second), "f"(first));
    return r;
#else
    return (u32)to_bf16_bits(first) | ((u32)to_bf16_bits(second) << 16);
#endif
}

// The hi and lo bf16x2 words of the pair (x0, x1).
__device__ __forceinline__ void bf16_pair2(float x0, float x1, u32& hi, u32& lo)
{
    hi = pack_bf16x2(x0, x1);
    lo = pack_bf16x2(x0 - __uint_as_float(hi << 16), x1 - __uint_as_float(hi & 0xffff0000u));
}

// Two e4m3 bytes (low byte first) as bf16x2 holding value · 2^-112, exactly.
__device__ __forceinline__ u32 e4m3x2_to_bf16x2(u32 two)
{
#if __CUDA_ARCH__ >= 890
    u32 h;
    asm("cvt.rn.f16x2.e4m3x2 %0, %1;" : "=r"(h) : "h"((unsigned short)two));
    // f16 s|eeeee|mmm0000000 → bf16 s|000eeeee|mmm0000 (the 3-bit mantissa fits; exponent bias 15 read as 127).
    return ((h >> 3) & 0x0fff0fffu) | (h & 0x80008000u);
#else
    // Without the hardware conversion: the byte's fields placed in bf16's (value · 2^-120), shifted by 2^8.
    u32 b0 = two & 0xffu, b1 = (two >> 8) & 0xffu;
    float f0 = __uint_as_float(((b0 & 0x80u) << 24) | ((b0 & 0x7fu) << 20)) * 256.f;
    float f1 = __uint_as_float(((b1 & 0x80u) << 24) | ((b1 & 0x7fu) << 20)) * 256.f;
    return (__float_as_uint(f0) >> 16) | (__float_as_uint(f1) & 0xffff0000u);
#endif
}

__device__ __forceinline__ void mma_f16_16816(float (&c)[4], u32 a0, u32 a1, u32 a2, u32 a3, u32 b0, u32 b1)
{
#if __CUDA_ARCH__ >= 800
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
#endif
}

// Two e4m3 bytes (low byte first) as f16x2 holding their values exactly (e4m3 is a subset of f16).
__device__ __forceinline__ u32 e4m3x2_to_f16x2(u32 two)
{
#if __CUDA_ARCH__ >= 890
    u32 h;
    asm("cvt.rn.f16x2.e4m3x2 %0, %1;" : "=r"(h) : "h"((unsigned short)two));
    return h;
#else
    // The byte's fields placed in f16's (the value · 2^-8, subnormal codes included), then · 256.
    u32 h = ((two & 0x80u) << 8) | ((two & 0x7fu) << 7) | ((two & 0x8000u) << 16) | ((two & 0x7f00u) << 15), r;
    asm("mul.rn.f16x2 %0, %1, %2;" : "=r"(r) : "r"(h), "r"(0x5c005c00u));
    return r;
#endif
}

// Two floats as f16x2 (round to nearest even), `first` in the low half; and the f16x2 halves back.
__device__ __forceinline__ u32 pack_f16x2(float first, float second)
{
    u32 r;
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(second), "f"(first));
    return r;
}

__device__ __forceinline__ void unpack_f16x2(u32 h, float& first, float& second)
{
    asm("{ .reg .b16 l, u; mov.b32 {l, u}, %2; cvt.f32.f16 %0, l; cvt.f32.f16 %1, u; }" : "=f"(first), "=f"(second) : "r"(h));
}

template <int R, int NT>
__device__ __forceinline__ void zero(float (&a)[R][NT][4])
{
#pragma unroll
    for (int r = 0; r < R; r++)
#pragma unroll
        for (int nt = 0; nt < NT; nt++)
#pragma unroll
            for (int i = 0; i < 4; i++) a[r][nt][i] = 0.f;
}

__device__ __forceinline__ u32 word_of(const uint4& q, int j) { return j == 0 ? q.x : j == 1 ? q.y : j == 2 ? q.z : q.w; }

// A registers of k-step s from a lane's 16 weight bytes: elements (4s, 4s + 1) and (4s + 2, 4s + 3).
template <int WT, bool X16>
__device__ __forceinline__ void a_words(const uint4& q, int s, u32& first, u32& second)
{
    if (WT == WT_BF16)
    {
        first = word_of(q, 2 * s);
        second = word_of(q, 2 * s + 1);
    }
    else if (X16)
    {
        u32 w = word_of(q, s);
        first = e4m3x2_to_f16x2(w & 0xffffu);
        second = e4m3x2_to_f16x2(w >> 16);
    }
    else
    {
        u32 w = word_of(q, s);
        first = e4m3x2_to_bf16x2(w & 0xffffu);
        second = e4m3x2_to_bf16x2(w >> 16);
    }
}

// The lane's activations of chunk kc in n-tile nt (zeros past the tokens).
template <int WT, int NT>
__device__ __forceinline__ void mma_load_x(const float* const (&xs)[NT], int nt, int kc, float4 (&xv)[MmaTraits<WT>::E / 4])
{
    const int E = MmaTraits<WT>::E, STEPS = E / 4;
    int t = threadIdx.x & 3;
#pragma unroll
    for (int s = 0; s < STEPS; s++) xv[s] = xs[nt] ? *(const float4*)(xs[nt] + kc + E * t + 4 * s) : make_float4(0.f, 0.f, 0.f, 0.f);
}

// One chunk of CH columns at kc: tmp (FP8: the sums of the current scale block) or acc (BF16) += the lane's
// weights q (rows g, g + 8 of each tile r) times its activations of token row g of each n-tile: xpre, loaded
// already (one n-tile), or loaded here from xs. FP8 sums enter acc scaled at the end of each scale block.
template <int WT, int R, int NT, bool X16>
__device__ __forceinline__ void mma_chunk(const uint4 (&q)[R][2], const float* const (&xs)[NT], const float4 (&xpre)[MmaTraits<WT>::E / 4],
                                          bool preloaded, int kc, int K, const float* const (&srow)[R], int blockCols,
                                          float (&tmp)[R][NT][4], float (&acc)[R][NT][4])
{
    const int E = MmaTraits<WT>::E, CH = 4 * E, STEPS = E / 4;
    const bool fp8 = WT == WT_FP8;
    u32 a[R][STEPS][4];
#pragma unroll
    for (int r = 0; r < R; r++)
#pragma unroll
        for (int s = 0; s < STEPS; s++)
        {
            a_words<WT, X16>(q[r][0], s, a[r][s][0], a[r][s][2]);
            a_words<WT, X16>(q[r][1], s, a[r][s][1], a[r][s][3]);
        }
#pragma unroll
    for (int nt = 0; nt < NT; nt++)
    {
        u32 bh[STEPS][2], bl[STEPS][2];
        float4 xv[STEPS];
        if (preloaded)
        {
#pragma unroll
            for (int s = 0; s < STEPS; s++) xv[s] = xpre[s];
        }
        else
        {
            mma_load_x<WT, NT>(xs, nt, kc, xv);
        }
#pragma unroll
        for (int s = 0; s < STEPS; s++)
        {
            float4 v = xv[s];
            if (X16)
            {
                bh[s][0] = __float_as_uint(v.x);
                bh[s][1] = __float_as_uint(v.y);
                bl[s][0] = __float_as_uint(v.z);
                bl[s][1] = __float_as_uint(v.w);
                continue;
            }
            if (fp8)
            {
                v.x *= MMA_FP8_X;
                v.y *= MMA_FP8_X;
                v.z *= MMA_FP8_X;
                v.w *= MMA_FP8_X;
            }
            bf16_pair2(v.x, v.y, bh[s][0], bl[s][0]);
            bf16_pair2(v.z, v.w, bh[s][1], bl[s][1]);
        }
#pragma unroll
        for (int r = 0; r < R; r++)
#pragma unroll
            for (int s = 0; s < STEPS; s++)
            {
                float (&c)[4] = fp8 ? tmp[r][nt] : acc[r][nt];
                if (X16)
                {
                    mma_f16_16816(c, a[r][s][0], a[r][s][1], a[r][s][2], a[r][s][3], bh[s][0], bh[s][1]);
                    mma_f16_16816(c, a[r][s][0], a[r][s][1], a[r][s][2], a[r][s][3], bl[s][0], bl[s][1]);
                }
                else
                {
                    mma_bf16_16816(c, a[r][s][0], a[r][s][1], a[r][s][2], a[r][s][3], bh[s][0], bh[s][1]);
                    mma_bf16_16816(c, a[r][s][0], a[r][s][1], a[r][s][2], a[r][s][3], bl[s][0], bl[s][1]);
                }
            }
    }
    if (fp8 && ((kc + CH) % blockCols == 0 || kc + CH >= K))
    {
#pragma unroll
        for (int r = 0; r < R; r++)
        {
            float f = srow[r] ? __ldg(srow[r] + kc / blockCols) * (X16 ? 1.f : MMA_FP8_OUT) : 0.f;
#pragma unroll
            for (int nt = 0; nt < NT; nt++)
#pragma unroll
                for (int i = 0; i < 4; i++)
                {
                    acc[r][nt][i] += f * tmp[r][nt][i];
                    tmp[r][nt][i] = 0.f;
                }
        }
    }
}

// acc[r][nt] += (weight rows of tile r) · (tokens of n-tile nt) over all K columns. wrow[r][h] is row g + 8h
// of tile r (null past the matrix), srow[r] the tile's row of FP8 scales, xrow(nt) the lane's token row
// of n-tile nt (null past the tokens; called once every earlier kernel's output is visible). MMA_U chunks
// of weights are loaded into registers at a time.
template <int WT, int R, int NT, bool X16, typename XRow>
__device__ __forceinline__ void mma_rows(const u8* const (&wrow)[R][2], const float* const (&srow)[R], int K, int blockCols, XRow xrow,
                                         float (&acc)[R][NT][4])
{
    const int E = MmaTraits<WT>::E, CH = 4 * E, STEPS = E / 4;
    int t = threadIdx.x & 3;
    const float* xs[NT];
    float tmp[R][NT][4];
    zero(tmp);
    for (int k0 = 0; k0 < K; k0 += CH * MMA_U)
    {
        uint4 q[MMA_U][R][2];
#pragma unroll
        for (int u = 0; u < MMA_U; u++)
        {
            int kc = k0 + u * CH;
#pragma unroll
            for (int r = 0; r < R; r++)
#pragma unroll
                for (int h = 0; h < 2; h++)
                    q[u][r][h] = (wrow[r][h] && kc < K)
                        ? load_weights(wrow[r][h] + (long long)(kc + E * t) * MmaTraits<WT>::Bytes)
                        : make_uint4(0, 0, 0, 0);
        }
        if (k0 == 0)
        {
            inputs_ready();
#pragma unroll
            for (int nt = 0; nt < NT; nt++) xs[nt] = xrow(nt);
        }
        // One n-tile: its activations of all MMA_U chunks are loaded before the weights are waited on.
        constexpr bool xpre = MMA_XPRE && NT == 1;
        float4 xp[MMA_U][STEPS];
        if (xpre)
        {
#pragma unroll
            for (int u = 0; u < MMA_U; u++)
                if (k0 + u * CH < K) mma_load_x<WT, NT>(xs, 0, k0 + u * CH, xp[u]);
        }
#pragma unroll
        for (int u = 0; u < MMA_U; u++)
        {
            int kc = k0 + u * CH;
            if (kc >= K) break;
            mma_chunk<WT, R, NT, X16>(q[u], xs, xp[u], xpre, kc, K, srow, blockCols, tmp, acc);
        }
    }
}

// C element i of a lane: weight row offset (g or g + 8) and token offset (2t or 2t + 1) inside the tile.
__device__ __forceinline__ int c_row(int i) { return ((threadIdx.x & 31) >> 2) + (i >= 2 ? 8 : 0); }
__device__ __forceinline__ int c_col(int i) { return 2 * (threadIdx.x & 3) + (i & 1); }

// y[M, ldy] (columns [0, N)) (+)= x[M, ldx] · Wᵀ over the columns [kBegin, kBegin + kLen) of W (rows of K
// columns; kBegin a multiple of blockCols and of the 2·CH columns of a step); a warp owns 32 consecutive
// rows (two tiles).
template <int WT, int NT, bool X16 = false>
__device__ __forceinline__ void mma_gemm_cols(const void* w, const float* scales, int N, int K, int kBegin, int kLen, int blockRows,
                                              int blockCols, int scaleCols, const float* x, long long ldx, float* y, long long ldy,
                                              int M, int accumulate, int bx, const float* xinv = nullptr)
{
    const int R = 2;
    int warp = threadIdx.x >> 5, g = (threadIdx.x & 31) >> 2;
    int r0 = (bx * MMA_WARPS + warp) * 16 * R;
    if (r0 >= N) return;
    const u8* wrow[R][2];
    const float* srow[R];
#pragma unroll
    for (int r = 0; r < R; r++)
    {
#pragma unroll
        for (int h = 0; h < 2; h++)
        {
            long long row = r0 + 16 * r + g + 8 * h;
            wrow[r][h] = row < N ? (const u8*)w + (row * K + kBegin) * MmaTraits<WT>::Bytes : nullptr;
        }
        srow[r] = WT == WT_FP8 && r0 + 16 * r < N ? scales + ((r0 + 16 * r) / blockRows) * scaleCols + kBegin / blockCols : nullptr;
    }
    for (int m0 = 0; m0 < M; m0 += 8 * NT)
    {
        float acc[R][NT][4];
        zero(acc);
        mma_rows<WT, R, NT, X16>(wrow, srow, kLen, blockCols, [&](int nt) {
            int j = m0 + 8 * nt + g;
            return j < M ? x + (long long)j * ldx + kBegin : (const float*)nullptr;
        }, acc);
#pragma unroll
        for (int r = 0; r < R; r++)
#pragma unroll
            for (int nt = 0; nt < NT; nt++)
#pragma unroll
                for (int i = 0; i < 4; i++)
                {
                    int row = r0 + 16 * r + c_row(i), tok = m0 + 8 * nt + c_col(i);
                    if (row < N && tok < M)
                    {
                        float* out = y + (long long)tok * ldy + row;
                        float v = X16 ? acc[r][nt][i] * xinv[tok] : acc[r][nt][i];
                        *out = accumulate ? *out + v : v;
                    }
                }
    }
}

// y[M, ldy] (columns [0, N)) (+)= x[M, ldx] · Wᵀ over all K columns.
template <int WT, int NT, bool X16 = false>
__device__ __forceinline__ void mma_gemm_body(const void* w, const float* scales, int N, int K, int blockRows, int blockCols, int scaleCols,
                                              const float* x, long long ldx, float* y, long long ldy, int M, int accumulate, int bx,
                                              const float* xinv = nullptr)
{
    mma_gemm_cols<WT, NT, X16>(w, scales, N, K, 0, K, blockRows, blockCols, scaleCols, x, ldx, y, ldy, M, accumulate, bx, xinv);
}

// act[start + j, row] = silu(x_j · gate_row) · (x_j · up_row) for j < count; x_j is row order[start + j] /
// topk of x, or row start + j when order is null. A warp owns 16 rows of gate and the same 16 of up.
template <int WT, bool X16 = false>
__device__ __forceinline__ void mma_gateup_body(const void* gw, const float* gs, const void* uw, const float* us, int I, int K,
                                                int blockRows, int blockCols, int scaleCols, const float* x, long long ldx,
                                                const int* order, int topk, int start, int count, float* act, int bx,
                                                const float* xinv = nullptr)
{
    int warp = threadIdx.x >> 5, g = (threadIdx.x & 31) >> 2;
    int r0 = (bx * MMA_WARPS + warp) * 16;
    if (r0 >= I) return;
    const u8* wrow[2][2];
    const float* srow[2];
#pragma unroll
    for (int h = 0; h < 2; h++)
    {
        long long row = r0 + g + 8 * h;
        wrow[0][h] = row < I ? (const u8*)gw + row * K * MmaTraits<WT>::Bytes : nullptr;
        wrow[1][h] = row < I ? (const u8*)uw + row * K * MmaTraits<WT>::Bytes : nullptr;
    }
    srow[0] = WT == WT_FP8 ? gs + (r0 / blockRows) * scaleCols : nullptr;
    srow[1] = WT == WT_FP8 ? us + (r0 / blockRows) * scaleCols : nullptr;
    for (int m0 = 0; m0 < count; m0 += 8)
    {
        float acc[2][1][4];
        zero(acc);
        mma_rows<WT, 2, 1, X16>(wrow, srow, K, blockCols, [&](int) {
            int j = m0 + g;
            if (j >= count) return (const float*)nullptr;
            int row = order ? order[start + j] / topk : start + j;
            return x + (long long)row * ldx;
        }, acc);
#pragma unroll
        for (int i = 0; i < 4; i++)
        {
            int row = r0 + c_row(i), tok = m0 + c_col(i);
            if (row < I && tok < count)
            {
                float gv = acc[0][0][i], uv = acc[1][0][i];
                if (X16)
                {
                    float inv = xinv[order ? order[start + tok] / topk : start + tok];
                    gv *= inv;
                    uv *= inv;
                }
                act[(long long)(start + tok) * I + row] = gv / (1.f + expf(-gv)) * uv;
            }
        }
    }
}

// The dense product taking a pass's tokens NT n-tiles (8·NT tokens) at a time, whole and split over K: block
// (x, y) of the split form computes columns [y·kChunk, (y + 1)·kChunk) into part[y] = [M, N] (products of
// few weight rows, whose 128 rows per block would leave most of the GPU idle); splitk_reduce sums them.
#define MMA_GEMM_KERNELS(SUFFIX, WT, NT)                                                                                      \
    extern "C" __global__ void __launch_bounds__(128) mma_gemm_##SUFFIX##_##NT(const void* w, const float* scales, int N,     \
        int K, int blockRows, int blockCols, int scaleCols, const float* x, long long ldx, float* y, long long ldy, int M,    \
        int accumulate)                                                                                                       \
    {                                                                                                                         \
        mma_gemm_body<WT, NT>(w, scales, N, K, blockRows, blockCols, scaleCols, x, ldx, y, ldy, M, accumulate, blockIdx.x);   \
    }                                                                                                                         \
    extern "C" __global__ void __launch_bounds__(128) mma_gemm_split_##SUFFIX##_##NT(const void* w, const float* scales,      \
        int N, int K, int blockRows, int blockCols, int scaleCols, const float* x, long long ldx, float* part, int M,         \
        int kChunk)                                                                                                           \
    {                                                                                                                         \
        int k0 = blockIdx.y * kChunk;                                                                                         \
        mma_gemm_cols<WT, NT>(w, scales, N, K, k0, min(kChunk, K - k0), blockRows, blockCols, scaleCols, x, ldx,             \
                              part + (long long)blockIdx.y * M * N, N, M, 0, blockIdx.x);                                     \
    }

// Per-head products of FP8 weights (blockIdx.y = head h; the forward pass streams only FP8 through these
// kernels): rows [h·headRows + rowOffset, + N) of W (the first a multiple of blockRows) times the head's slice of each token row (x + h·xHead, stride ldx) into y + h·yHead (stride ldy).
#define MMA_HEAD_GEMM_KERNEL(SUFFIX, WT, NT)                                                                                  \
    extern "C" __global__ void __launch_bounds__(128) mma_head_gemm_##SUFFIX##_##NT(const void* w, const float* scales,       \
        long long headRows, long long rowOffset, int N, int K, int blockRows, int blockCols, int scaleCols, const float* x,    \
        long long xHead, long long ldx, float* y, long long yHead, long long ldy, int M)                                      \
    {                                                                                                                         \
        long long first = blockIdx.y * headRows + rowOffset;                                                                  \
        mma_gemm_body<WT, NT>((const u8*)w + first * K * MmaTraits<WT>::Bytes,                                               \
                              WT == WT_FP8 ? scales + (first / blockRows) * scaleCols : scales, N, K, blockRows, blockCols,  \
                              scaleCols, x + blockIdx.y * xHead, ldx, y + blockIdx.y * yHead, ldy, M, 0, blockIdx.x);        \
    }

// The shared experts' grid rows of a tensor-core expert launch: rows [0, shared_groups) of the grid, eight tokens
// each, ahead of the routed experts' rows. A shared expert takes every token, so as one grid row it was the
// longest-running blocks of the launch, and, as its last row, the last to start: most SMs sat idle behind it. In
// rows of eight tokens each of its blocks reads its weights once, like a routed expert's block, and starts first.
__device__ __forceinline__ int shared_groups(const void* sharedWeights, int tokens) { return sharedWeights ? (tokens + 7) / 8 : 0; }

#define MMA_KERNELS(SUFFIX, WT)                                                                                               \
    MMA_GEMM_KERNELS(SUFFIX, WT, 1)                                                                                           \
    MMA_GEMM_KERNELS(SUFFIX, WT, 2)                                                                                           \
    MMA_GEMM_KERNELS(SUFFIX, WT, 4)                                                                                           \
    /* Same arguments as moe_gateup_* (gemv.cu); the grid's x covers max(I, sharedI) in rows of 16 per warp, its y the     */ \
    /* shared experts' shared_groups rows, then the routed experts.                                                       */ \
    extern "C" __global__ void __launch_bounds__(128) mma_moe_gateup_##SUFFIX(const u64* gws, const u64* gss, const u64* uws,  \
        const u64* uss, int I, int K, int blockRows, int blockCols, int scaleCols, const float* x, long long ldx,              \
        const int* offsets, const int* active, const int* order, int topk, float* act, const void* sgw, const float* sgs,      \
        const void* suw, const float* sus, int sharedI, int tokens, float* sharedAct)                                         \
    {                                                                                                                         \
        int sg = shared_groups(sgw, tokens), t0 = 8 * (int)blockIdx.y;                                                         \
        if ((int)blockIdx.y < sg)                                                                                             \
        {                                                                                                                     \
            mma_gateup_body<WT>(sgw, sgs, suw, sus, sharedI, K, blockRows, blockCols, scaleCols, x, ldx, nullptr, 1, t0,      \
                                min(8, tokens - t0), sharedAct, blockIdx.x);                                                  \
            return;                                                                                                           \
        }                                                                                                                     \
        int e, start, count;                                                                                                  \
        if (!routed_expert(active, offsets, e, start, count, sg)) return;                                                     \
        mma_gateup_body<WT>((const void*)gws[e], (const float*)gss[e], (const void*)uws[e], (const float*)uss[e], I, K,      \
                            blockRows, blockCols, scaleCols, x, ldx, order, topk, start, count, act, blockIdx.x);            \
    }                                                                                                                         \
    /* Same arguments as moe_down_*; the grid's x covers H in rows of 32 per warp, its y as in mma_moe_gateup.            */ \
    extern "C" __global__ void __launch_bounds__(128) mma_moe_down_##SUFFIX(const u64* dws, const u64* dss, int H, int I,      \
        int blockRows, int blockCols, int scaleCols, const float* act, const int* offsets, const int* active, float* out,     \
        const void* sdw, const float* sds, int sharedI, int sharedScaleCols, const float* sharedAct, float* sharedOut,        \
        int tokens)                                                                                                           \
    {                                                                                                                         \
        int sg = shared_groups(sdw, tokens), t0 = 8 * (int)blockIdx.y;                                                         \
        if ((int)blockIdx.y < sg)                                                                                             \
        {                                                                                                                     \
            mma_gemm_body<WT, 1>(sdw, sds, H, sharedI, blockRows, blockCols, sharedScaleCols,                                 \
                                 sharedAct + (long long)t0 * sharedI, sharedI, sharedOut + (long long)t0 * H, H,              \
                                 min(8, tokens - t0), 0, blockIdx.x);                                                         \
            return;                                                                                                           \
        }                                                                                                                     \
        int e, start, count;                                                                                                  \
        if (!routed_expert(active, offsets, e, start, count, sg)) return;                                                     \
        mma_gemm_body<WT, 1>((const void*)dws[e], (const float*)dss[e], H, I, blockRows, blockCols, scaleCols,               \
                             act + (long long)start * I, I, out + (long long)start * H, H, count, 0, blockIdx.x);            \
    }

MMA_KERNELS(bf16, WT_BF16)
MMA_KERNELS(fp8, WT_FP8)
MMA_HEAD_GEMM_KERNEL(fp8, WT_FP8, 1)
MMA_HEAD_GEMM_KERNEL(fp8, WT_FP8, 2)
MMA_HEAD_GEMM_KERNEL(fp8, WT_FP8, 4)

// The FP8 dense and per-head products on prepared inputs (f16_pairs below): the arguments of mma_gemm_fp8_*,
// mma_gemm_split_fp8_* and mma_head_gemm_fp8_* with x the prepared rows, and their rows' inverse scales last.
#define MMA_PREPARED_KERNELS(NT)                                                                                              \
    extern "C" __global__ void __launch_bounds__(128) mma_gemm_fp8h_##NT(const void* w, const float* scales, int N, int K,   \
        int blockRows, int blockCols, int scaleCols, const float* x, long long ldx, float* y, long long ldy, int M,           \
        int accumulate, const float* xinv)                                                                                    \
    {                                                                                                                         \
        mma_gemm_body<WT_FP8, NT, true>(w, scales, N, K, blockRows, blockCols, scaleCols, x, ldx, y, ldy, M, accumulate,      \
                                        blockIdx.x, xinv);                                                                    \
    }                                                                                                                         \
    extern "C" __global__ void __launch_bounds__(128) mma_gemm_split_fp8h_##NT(const void* w, const float* scales, int N,     \
        int K, int blockRows, int blockCols, int scaleCols, const float* x, long long ldx, float* part, int M, int kChunk,    \
        const float* xinv)                                                                                                    \
    {                                                                                                                         \
        int k0 = blockIdx.y * kChunk;                                                                                         \
        mma_gemm_cols<WT_FP8, NT, true>(w, scales, N, K, k0, min(kChunk, K - k0), blockRows, blockCols, scaleCols, x, ldx,   \
                                        part + (long long)blockIdx.y * M * N, N, M, 0, blockIdx.x, xinv);                     \
    }                                                                                                                         \
    extern "C" __global__ void __launch_bounds__(128) mma_head_gemm_fp8h_##NT(const void* w, const float* scales,             \
        long long headRows, long long rowOffset, int N, int K, int blockRows, int blockCols, int scaleCols, const float* x,    \
        long long xHead, long long ldx, float* y, long long yHead, long long ldy, int M, const float* xinv)                   \
    {                                                                                                                         \
        long long first = blockIdx.y * headRows + rowOffset;                                                                  \
        mma_gemm_body<WT_FP8, NT, true>((const u8*)w + first * K, scales + (first / blockRows) * scaleCols, N, K, blockRows,      \
                                        blockCols, scaleCols, x + blockIdx.y * xHead, ldx, y + blockIdx.y * yHead, ldy, M, 0, \
                                        blockIdx.x, xinv);                                                                    \
    }

MMA_PREPARED_KERNELS(1)
MMA_PREPARED_KERNELS(2)
MMA_PREPARED_KERNELS(4)

// The FP8 expert products on prepared inputs (f16_pairs below): the same arguments as mma_moe_gateup_fp8 and
// mma_moe_down_fp8 with x / act / sharedAct the prepared rows, and their rows' inverse scales last. The weights
// widen to f16 in one conversion per two (exact), the activations arrive as f16 pairs, so the products are
// f16 mma with no per-warp splitting of the activations.
extern "C" __global__ void __launch_bounds__(128) mma_moe_gateup_fp8h(const u64* gws, const u64* gss, const u64* uws, const u64* uss,
    int I, int K, int blockRows, int blockCols, int scaleCols, const float* x, long long ldx, const int* offsets, const int* active,
    const int* order, int topk, float* act, const void* sgw, const float* sgs, const void* suw, const float* sus, int sharedI,
    int tokens, float* sharedAct, const float* xinv)
{
    int sg = shared_groups(sgw, tokens), t0 = 8 * (int)blockIdx.y;
    if ((int)blockIdx.y < sg)
    {
        mma_gateup_body<WT_FP8, true>(sgw, sgs, suw, sus, sharedI, K, blockRows, blockCols, scaleCols, x, ldx, nullptr, 1, t0,
                                      min(8, tokens - t0), sharedAct, blockIdx.x, xinv);
        return;
    }
    int e, start, count;
    if (!routed_expert(active, offsets, e, start, count, sg)) return;
    mma_gateup_body<WT_FP8, true>((const void*)gws[e], (const float*)gss[e], (const void*)uws[e], (const float*)uss[e], I, K, blockRows,
                                  blockCols, scaleCols, x, ldx, order, topk, start, count, act, blockIdx.x, xinv);
}

extern "C" __global__ void __launch_bounds__(128) mma_moe_down_fp8h(const u64* dws, const u64* dss, int H, int I, int blockRows,
    int blockCols, int scaleCols, const float* act, const int* offsets, const int* active, float* out, const void* sdw,
    const float* sds, int sharedI, int sharedScaleCols, const float* sharedAct, float* sharedOut, int tokens, const float* actInv,
    const float* sharedInv)
{
    int sg = shared_groups(sdw, tokens), t0 = 8 * (int)blockIdx.y;
    if ((int)blockIdx.y < sg)
    {
        mma_gemm_body<WT_FP8, 1, true>(sdw, sds, H, sharedI, blockRows, blockCols, sharedScaleCols, sharedAct + (long long)t0 * sharedI,
                                       sharedI, sharedOut + (long long)t0 * H, H, min(8, tokens - t0), 0, blockIdx.x, sharedInv + t0);
        return;
    }
    int e, start, count;
    if (!routed_expert(active, offsets, e, start, count, sg)) return;
    mma_gemm_body<WT_FP8, 1, true>((const void*)dws[e], (const float*)dss[e], H, I, blockRows, blockCols, scaleCols,
                                   act + (long long)start * I, I, out + (long long)start * H, H, count, 0, blockIdx.x, actInv + start);
}

// Rows prepared for the f16 products: row r of x (cols a multiple of 4) scaled by 2^e_r, which puts its largest
// |value| in [2^14, 2^15), as f16 pairs (v = hi + lo, hi = f16(v), lo = f16(v − hi): 22 significant bits) in
// the float layout of the row, each 4 columns c .. c + 3 becoming the words hi(c, c + 1), hi(c + 2, c + 3),
// lo(c, c + 1), lo(c + 2, c + 3) (the B fragments of a k-step, see mma_chunk); inv[r] = 2^-e_r. Blocks
// [0, rows) take x, blocks [rows, rows + rows2) take x2 (the shared experts' rows of the same pass).
__device__ __forceinline__ void f16_pairs_row(const float* x, int cols, float* out, float* inv)
{
    __shared__ float red[32];
    float m = 0.f;
    for (int c = 4 * threadIdx.x; c < cols; c += 4 * blockDim.x)
    {
        float4 v = *(const float4*)(x + c);
        m = fmaxf(m, fmaxf(fmaxf(fabsf(v.x), fabsf(v.y)), fmaxf(fabsf(v.z), fabsf(v.w))));
    }
    m = block_max(m, red);
    int e = 0;
    if (m > 0.f && m <= 3.4028234663852886e38f)
    {
        int ex = (int)((__float_as_uint(m) >> 23) & 0xffu) - 126; // m < 2^ex (subnormal m: -126)
        e = min(max(15 - ex, -126), 126);
    }
    float s = __int_as_float((127 + e) << 23);
    if (threadIdx.x == 0) *inv = __int_as_float((127 - e) << 23);
    for (int c = 4 * threadIdx.x; c < cols; c += 4 * blockDim.x)
    {
        float4 v = *(const float4*)(x + c);
        v.x *= s;
        v.y *= s;
        v.z *= s;
        v.w *= s;
        u32 h01 = pack_f16x2(v.x, v.y), h23 = pack_f16x2(v.z, v.w);
        float a, b, c2, d;
        unpack_f16x2(h01, a, b);
        unpack_f16x2(h23, c2, d);
        uint4 o = make_uint4(h01, h23, pack_f16x2(v.x - a, v.y - b), pack_f16x2(v.z - c2, v.w - d));
        *(uint4*)(out + c) = o;
    }
}

extern "C" __global__ void f16_pairs(const float* x, int rows, int cols, float* out, float* inv, const float* x2, int cols2, float* out2,
                                     float* inv2)
{
    inputs_ready();
    int r = blockIdx.x;
    if (r < rows)
        f16_pairs_row(x + (long long)r * cols, cols, out + (long long)r * cols, inv + r);
    else
    {
        r -= rows;
        f16_pairs_row(x2 + (long long)r * cols2, cols2, out2 + (long long)r * cols2, inv2 + r);
    }
}

// y[t, row] (+)= Σ_s part[s][t, row] for the M x N outputs of mma_gemm_split_*, the splits summed in order
// (the same bits every run).
extern "C" __global__ void splitk_reduce(const float* part, int splits, int M, int N, float* y, long long ldy, int accumulate)
{
    inputs_ready();
    long long total = (long long)M * N;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (long long)gridDim.x * blockDim.x)
    {
        float v = 0.f;
        for (int sp = 0; sp < splits; sp++) v += part[sp * total + i];
        int tok = (int)(i / N), row = (int)(i - (long long)tok * N);
        float* out = y + (long long)tok * ldy + row;
        *out = accumulate ? *out + v : v;
    }
}

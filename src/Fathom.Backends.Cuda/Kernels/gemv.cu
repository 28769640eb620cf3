// Weight-streaming products for few activation rows (decode and small batches): y = x · Wᵀ with W
// [N, K] in its stored type (f32, bf16, or e4m3 with block scales) and float32 activations. A warp owns
// RW weight rows and reads each once, 16 bytes per lane per load with U loads per row issued before any
// is used (enough bytes in flight to saturate HBM), for up to MT activation rows at a time; larger M
// re-reads the rows from L2 per chunk of MT. MT = 1 (decode) keeps registers, and so occupancy, low.
// (Six or eight loads per row measured slower on an H100 in every one-token product.)
#define U 4

template <int WT> struct WeightTraits;
template <> struct WeightTraits<WT_BF16> { static const int PerVector = 8; static const int Bytes = 2; };
template <> struct WeightTraits<WT_F32> { static const int PerVector = 4; static const int Bytes = 4; };
template <> struct WeightTraits<WT_FP8> { static const int PerVector = 16; static const int Bytes = 1; };

template <int WT>
__device__ __forceinline__ void unpack(const uint4& q, float (&w)[WeightTraits<WT>::PerVector])
{
    if (WT == WT_BF16)
    {
        u32 v[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
        for (int j = 0; j < 4; j++)
        {
            w[2 * j] = __uint_as_float(v[j] << 16);
            w[2 * j + 1] = __uint_as_float(v[j] & 0xffff0000u);
        }
    }
    else if (WT == WT_F32)
    {
        w[0] = __uint_as_float(q.x);
        w[1] = __uint_as_float(q.y);
        w[2] = __uint_as_float(q.z);
        w[3] = __uint_as_float(q.w);
    }
    else
    {
        u32 v[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
        for (int j = 0; j < 4; j++)
        {
#if __CUDA_ARCH__ >= 890
            // Hardware e4m3 → f16 pairs (exact), then f16 → f32 (exact): the true value, no 2^-120 bias.
            u32 lo, hi;
            unsigned short a = (unsigned short)(v[j] & 0xffffu), b = (unsigned short)(v[j] >> 16);
            asm("cvt.rn.f16x2.e4m3x2 %0, %1;" : "=r"(lo) : "h"(a));
            asm("cvt.rn.f16x2.e4m3x2 %0, %1;" : "=r"(hi) : "h"(b));
            asm("cvt.f32.f16 %0, %1;" : "=f"(w[4 * j]) : "h"((unsigned short)(lo & 0xffffu)));
            asm("cvt.f32.f16 %0, %1;" : "=f"(w[4 * j + 1]) : "h"((unsigned short)(lo >> 16)));
            asm("cvt.f32.f16 %0, %1;" : "=f"(w[4 * j + 2]) : "h"((unsigned short)(hi & 0xffffu)));
            asm("cvt.f32.f16 %0, %1;" : "=f"(w[4 * j + 3]) : "h"((unsigned short)(hi >> 16)));
#else
            w[4 * j] = fp8_raw(v[j]) * FP8_UNBIAS;
            w[4 * j + 1] = fp8_raw(v[j] >> 8) * FP8_UNBIAS;
            w[4 * j + 2] = fp8_raw(v[j] >> 16) * FP8_UNBIAS;
            w[4 * j + 3] = fp8_raw(v[j] >> 24) * FP8_UNBIAS;
#endif
        }
    }
}

__device__ __forceinline__ float weight_scalar(int wt, const u8* row, int k)
{
    if (wt == WT_BF16) return bf16_to_f(((const u16*)row)[k]);
    if (wt == WT_F32) return ((const float*)row)[k];
    return fp8_raw(row[k]);
}

// acc[r][i] += W_row_r · x_i for RW rows (row pointers; null for a missing row) and m ≤ MT activation
// rows; FP8 rows come with their scale row (one scale per blockCols columns). All lanes get the sums.
template <int WT, int MT, int RW>
__device__ __forceinline__ void rows_dots(const u8* const (&rows)[RW], const float* const (&srows)[RW], int K, int blockCols,
                                          const float* const (&xs)[MT], int m, float (&acc)[RW][MT])
{
    const int E = WeightTraits<WT>::PerVector;
    const int STEP = 32 * E;
    int lane = threadIdx.x & 31;
    bool aligned = (K % E) == 0 && (WT != WT_FP8 || (blockCols % 16) == 0);
#pragma unroll
    for (int i = 0; i < MT; i++)
        if (i < m && (((unsigned long long)xs[i]) & 15)) aligned = false;
    int vecK = aligned ? K : 0;
    for (int k0 = lane * E; k0 < vecK; k0 += STEP * U)
    {
        uint4 q[RW][U];
#pragma unroll
        for (int r = 0; r < RW; r++)
        {
#pragma unroll
            for (int u = 0; u < U; u++)
            {
                int k = k0 + u * STEP;
                q[r][u] = (rows[r] && k < vecK) ? load_weights(rows[r] + (long long)k * WeightTraits<WT>::Bytes) : make_uint4(0, 0, 0, 0);
            }
        }
        // The first weights are on their way while the kernel ahead finishes; the activations are its output.
        if (k0 == lane * E) inputs_ready();
#pragma unroll
        for (int u = 0; u < U; u++)
        {
            int k = k0 + u * STEP;
            if (k >= vecK) break;
            float s[RW];
#pragma unroll
            for (int r = 0; r < RW; r++) s[r] = (WT == WT_FP8 && rows[r]) ? __ldg(srows[r] + k / blockCols) : 1.f;
#pragma unroll
            for (int i = 0; i < MT; i++)
            {
                if (i < m)
                {
                    float xv[E];
#pragma unroll
                    for (int j = 0; j < E; j += 4)
                    {
                        float4 a = *(const float4*)(xs[i] + k + j);
                        xv[j] = a.x;
                        xv[j + 1] = a.y;
                        xv[j + 2] = a.z;
                        xv[j + 3] = a.w;
                    }
#pragma unroll
                    for (int r = 0; r < RW; r++)
                    {
                        float w[E];
                        unpack<WT>(q[r][u], w);
                        float p = 0.f;
#pragma unroll
                        for (int j = 0; j < E; j++) p += w[j] * xv[j];
                        acc[r][i] += WT == WT_FP8 ? s[r] * p : p;
                    }
                }
            }
        }
    }
    inputs_ready();
    for (int k = vecK + lane; k < K; k += 32)
    {
#pragma unroll
        for (int r = 0; r < RW; r++)
        {
            if (!rows[r]) continue;
            float wv = weight_scalar(WT, rows[r], k);
            if (WT == WT_FP8) wv *= srows[r][k / blockCols] * FP8_UNBIAS;
#pragma unroll
            for (int i = 0; i < MT; i++)
                if (i < m) acc[r][i] += wv * xs[i][k];
        }
    }
#pragma unroll
    for (int r = 0; r < RW; r++)
#pragma unroll
        for (int i = 0; i < MT; i++)
            if (i < m) acc[r][i] = warp_sum(acc[r][i]);
}

__device__ __forceinline__ const float* scale_row(const float* scales, long long row, int blockRows, int scaleCols)
{
    return scales ? scales + (row / blockRows) * scaleCols : nullptr;
}

// Batched forms (MT > 1): every warp of a block multiplies its own weight rows with the same activation
// rows, so a chunk of them is staged once per block in shared memory instead of being read by each warp
// from L2 (at ~3 tokens per expert that read was 3 bytes of L2 traffic per weight byte, and the expert
// products ran at 1.2 TB/s). Rows beyond the staging area's capacity are read from global memory.
#define STAGE_FLOATS 8192

// Points xs[i] (i < m) at activation row src(i): staged rows in shared memory where they fit, else
// global. All threads of the block call it (it synchronises).
template <int MT, typename Src>
__device__ __forceinline__ void stage_rows(Src src, int m, int K, float* stage, const float* (&xs)[MT])
{
    int fit = (K % 4) == 0 ? min(m, STAGE_FLOATS / K) : 0;
    __syncthreads();   // the previous chunk's readers are done
    for (int i = 0; i < fit; i++)
    {
        const float4* from = (const float4*)src(i);
        float4* to = (float4*)(stage + i * K);
        bool vec = (((unsigned long long)from) & 15) == 0;
        if (vec)
            for (int c = threadIdx.x; c < K / 4; c += blockDim.x) to[c] = from[c];
        else
            for (int c = threadIdx.x; c < K; c += blockDim.x) stage[i * K + c] = src(i)[c];
    }
    __syncthreads();
#pragma unroll
    for (int i = 0; i < MT; i++)
    {
        int j = min(i, m - 1);
        xs[i] = j < fit ? stage + j * K : src(j);
    }
}

// y[M, ldy] (columns [0, N)) = x[M, ldx] · W[rowOffset .. rowOffset + N)ᵀ, optionally added to y. Each
// warp owns RW consecutive rows (a row's sum is the same for any RW: lanes and chunks in the same order).
template <int WT, int MT, int RW = 2>
__device__ __forceinline__ void gemm_body(const void* w, const float* scales, long long rowOffset, int N, int K, int blockRows,
                                          int blockCols, int scaleCols, const float* x, long long ldx, float* y, long long ldy,
                                          int M, int accumulate, int roundOut, int bx)
{
    __shared__ __align__(16) float stage[MT > 1 ? STAGE_FLOATS : 4];
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    if (bx * (blockDim.x >> 5) * RW >= N) return;   // a whole block past the rows (merged launches size the grid for the widest)
    int r0 = (bx * (blockDim.x >> 5) + warp) * RW;
    if (MT == 1 && r0 >= N) return;
    bool active = r0 < N;
    const u8* rows[RW];
    const float* srows[RW];
#pragma unroll
    for (int r = 0; r < RW; r++)
    {
        long long row = rowOffset + r0 + r;
        rows[r] = r0 + r < N ? (const u8*)w + row * K * WeightTraits<WT>::Bytes : nullptr;
        srows[r] = WT == WT_FP8 && active ? scale_row(scales, row, blockRows, scaleCols) : nullptr;
    }
    for (int m0 = 0; m0 < M; m0 += MT)
    {
        int m = min(MT, M - m0);
        const float* xs[MT];
        float acc[RW][MT];
        if (MT > 1)
        {
            inputs_ready();
            stage_rows<MT>([&](int i) { return x + (long long)(m0 + i) * ldx; }, m, K, stage, xs);
        }
        else
        {
            xs[0] = x + (long long)m0 * ldx;
        }
#pragma unroll
        for (int r = 0; r < RW; r++)
#pragma unroll
            for (int i = 0; i < MT; i++) acc[r][i] = 0.f;
        if (!active) continue;
        rows_dots<WT, MT, RW>(rows, srows, K, blockCols, xs, m, acc);
        if (lane == 0)
        {
#pragma unroll
            for (int r = 0; r < RW; r++)
            {
                if (!rows[r]) continue;
#pragma unroll
                for (int i = 0; i < MT; i++)
                {
                    if (i < m)
                    {
                        float* out = y + (long long)(m0 + i) * ldy + r0 + r;
                        float v = accumulate ? *out + acc[r][i] : acc[r][i];
                        *out = roundOut ? round_bf16(v) : v;
                    }
                }
            }
        }
    }
}

// act[start + j, r] = silu(x_j · gate_r) · (x_j · up_r) for the rows j of one group; x_j is row
// order[start + j] / topk of x, or row j when order is null. A warp streams row r of gate and of up.
template <int WT, int MT>
__device__ __forceinline__ void gateup_body(const void* gw, const float* gs, const void* uw, const float* us, int I, int K,
                                            int blockRows, int blockCols, int scaleCols, const float* x, long long ldx,
                                            const int* order, int topk, int start, int count, float* act, int roundOut, int bx)
{
    __shared__ __align__(16) float stage[MT > 1 ? STAGE_FLOATS : 4];
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    if (bx * (blockDim.x >> 5) >= I) return;
    int r = bx * (blockDim.x >> 5) + warp;
    if (MT == 1 && r >= I) return;
    bool active = r < I;
    int rr = active ? r : 0;
    const u8* rows[2] = {(const u8*)gw + (long long)rr * K * WeightTraits<WT>::Bytes, (const u8*)uw + (long long)rr * K * WeightTraits<WT>::Bytes};
    const float* srows[2] = {WT == WT_FP8 ? scale_row(gs, rr, blockRows, scaleCols) : nullptr,
                             WT == WT_FP8 ? scale_row(us, rr, blockRows, scaleCols) : nullptr};
    for (int m0 = 0; m0 < count; m0 += MT)
    {
        int m = min(MT, count - m0);
        const float* xs[MT];
        float acc[2][MT];
        auto source = [&](int i) {
            int j = start + m0 + i;
            int row = order ? order[j] / topk : j;
            return x + (long long)row * ldx;
        };
        if (MT > 1)
        {
            inputs_ready();
            stage_rows<MT>(source, m, K, stage, xs);
        }
        else
        {
            xs[0] = source(0);
        }
#pragma unroll
        for (int i = 0; i < MT; i++)
        {
            acc[0][i] = 0.f;
            acc[1][i] = 0.f;
        }
        if (!active) continue;
        rows_dots<WT, MT, 2>(rows, srows, K, blockCols, xs, m, acc);
        if (lane == 0)
        {
#pragma unroll
            for (int i = 0; i < MT; i++)
            {
                if (i < m)
                {
                    float g = acc[0][i], u = acc[1][i];
                    float v = g / (1.f + expf(-g)) * u;
                    act[(long long)(start + m0 + i) * I + r] = roundOut ? round_bf16(v) : v;
                }
            }
        }
    }
}

// Two products of the same activations in one launch (the query and kv_a projections): blocks [0, split)
// compute y = x · Wᵀ, the rest y2 = x · W2ᵀ. Both weights have K columns and the same scale blocks.
template <int WT, int MT, int RW>
__device__ __forceinline__ void gemm2_body(const void* w, const float* scales, int N, float* y, long long ldy, const void* w2,
                                           const float* scales2, int N2, float* y2, long long ldy2, int split, int K, int blockRows,
                                           int blockCols, int scaleCols, const float* x, long long ldx, int M)
{
    int bx = blockIdx.x;
    if (bx < split)
        gemm_body<WT, MT, RW>(w, scales, 0, N, K, blockRows, blockCols, scaleCols, x, ldx, y, ldy, M, 0, 0, bx);
    else
        gemm_body<WT, MT, RW>(w2, scales2, 0, N2, K, blockRows, blockCols, scaleCols, x, ldx, y2, ldy2, M, 0, 0, bx - split);
}

// The down products of moe_gateup's experts; with a shared expert (sdw not null) the last blockIdx.y maps
// sharedAct [tokens, sharedI] to sharedOut [tokens, H], RWS rows per warp (its rows are as long as all the
// shared experts' widths together: one row per warp spreads them over twice the blocks).
template <int WT, int MT, int RWS>
__device__ __forceinline__ void moe_down_body(const u64* dws, const u64* dss, int H, int I, int blockRows, int blockCols, int scaleCols,
                                              const float* act, const int* offsets, const int* active, float* out, const void* sdw,
                                              const float* sds, int sharedI, int sharedScaleCols, const float* sharedAct,
                                              float* sharedOut, int tokens)
{
    if (sdw && blockIdx.y == gridDim.y - 1)
    {
        gemm_body<WT, MT, RWS>(sdw, sds, 0, H, sharedI, blockRows, blockCols, sharedScaleCols, sharedAct, sharedI, sharedOut, H, tokens, 0,
                               0, blockIdx.x);
        return;
    }
    int e, start, count;
    if (routed_expert(active, offsets, e, start, count))
    {
        gemm_body<WT, MT>((const void*)dws[e], (const float*)dss[e], 0, H, I, blockRows, blockCols, scaleCols, act + (long long)start * I,
                          I, out + (long long)start * H, H, count, 0, 0, blockIdx.x);
    }
}

#define GEMV_KERNELS(SUFFIX, WT, MT)                                                                                          \
    extern "C" __global__ void __launch_bounds__(256) gemm_##SUFFIX(const void* w, const float* scales, long long rowOffset,   \
                                                                    int N, int K, int blockRows, int blockCols, int scaleCols,\
                                                                    const float* x, long long ldx, float* y, long long ldy,  \
                                                                    int M, int accumulate, int roundOut)                     \
    {                                                                                                                         \
        /* Grid row j takes the activation rows [j·slice, (j + 1)·slice): a product of few weight rows spreads */         \
        /* over more blocks (each (row, token) sum is the same in any slice). */                                               \
        int slice = (M + gridDim.y - 1) / gridDim.y, m0 = blockIdx.y * slice;                                                 \
        if (m0 >= M) return;                                                                                                  \
        gemm_body<WT, MT>(w, scales, rowOffset, N, K, blockRows, blockCols, scaleCols, x + m0 * ldx, ldx, y + m0 * ldy, ldy,    \
                          min(slice, M - m0), accumulate, roundOut, blockIdx.x);                                              \
    }                                                                                                                         \
    extern "C" __global__ void __launch_bounds__(256) gemm2_##SUFFIX(const void* w, const float* scales, int N, float* y,      \
                                                  long long ldy, const void* w2, const float* scales2, int N2, float* y2,    \
                                                  long long ldy2, int split, int K, int blockRows, int blockCols,            \
                                                  int scaleCols, const float* x, long long ldx, int M)                       \
    {                                                                                                                         \
        gemm2_body<WT, MT, 2>(w, scales, N, y, ldy, w2, scales2, N2, y2, ldy2, split, K, blockRows, blockCols, scaleCols, x,  \
                              ldx, M);                                                                                        \
    }                                                                                                                         \
    /* Per-head products (blockIdx.y = head h): rows [h·headRows + rowOffset, + N) of W times the head's slice */           \
    /* of each activation row (x + h·xHead, stride ldx) into y + h·yHead (stride ldy). */                                     \
    extern "C" __global__ void __launch_bounds__(256) head_gemm_##SUFFIX(const void* w, const float* scales, long long headRows, \
                                                  long long rowOffset, int N, int K, int blockRows, int blockCols,          \
                                                  int scaleCols, const float* x, long long xHead, long long ldx, float* y,   \
                                                  long long yHead, long long ldy, int M, int roundOut)                       \
    {                                                                                                                         \
        int h = blockIdx.y;                                                                                                   \
        gemm_body<WT, MT>(w, scales, h * headRows + rowOffset, N, K, blockRows, blockCols, scaleCols, x + h * xHead, ldx,     \
                          y + h * yHead, ldy, M, 0, roundOut, blockIdx.x);                                                    \
    }                                                                                                                         \
    /* The absorbed queries (head_gemm of W_UKᵀ over q_nope, blockIdx.y = head) and, in one more row of blocks */        \
    /* (blockIdx.y = heads), the new tokens' cache rows and roped query parts (cache_write_token in ops.cu). */              \
    extern "C" __global__ void __launch_bounds__(256) mla_absorb_##SUFFIX(const void* w, const float* scales, long long headRows, \
                                                   int N, int K, int blockRows, int blockCols, int scaleCols,                \
                                                   const float* x, long long xHead, long long ldx, float* y,                  \
                                                   long long yHead, long long ldy, int M, const float* kv, const float* normW, \
                                                   float eps, int latent, int pairs, const float* cos, const float* sin,     \
                                                   const long long* slots, float* cache, int headDim, int nope)              \
    {                                                                                                                         \
        int h = blockIdx.y, heads = gridDim.y - 1;                                                                            \
        if (h == heads)                                                                                                       \
        {                                                                                                                     \
            for (int t = blockIdx.x; t < M; t += gridDim.x)                                                                   \
            {                                                                                                                 \
                cache_write_token(t, kv, normW, eps, latent, pairs, cos, sin, slots, cache, x, heads, headDim, nope, y);    \
                __syncthreads();                                                                                              \
            }                                                                                                                 \
            return;                                                                                                           \
        }                                                                                                                     \
        gemm_body<WT, MT>(w, scales, h * headRows, N, K, blockRows, blockCols, scaleCols, x + h * xHead, ldx, y + h * yHead, ldy, \
                          M, 0, 0, blockIdx.x);                                                                               \
    }                                                                                                                         \
    extern "C" __global__ void __launch_bounds__(256) gateup_##SUFFIX(const void* gw, const float* gs, const void* uw, const float* us, \
                                                   int I, int K, int blockRows, int blockCols, int scaleCols, const float* x, \
                                                   long long ldx, int M, float* act, int roundOut)                           \
    {                                                                                                                         \
        gateup_body<WT, MT>(gw, gs, uw, us, I, K, blockRows, blockCols, scaleCols, x, ldx, 0, 1, 0, M, act, roundOut,       \
                            blockIdx.x);                                                                                      \
    }                                                                                                                         \
    /* blockIdx.y picks the j-th expert that has tokens (active[0] of them, ids from active[1]); its (token, slot) */        \
    /* pairs are order[offsets[e] .. offsets[e + 1]). With a shared expert (sgw not null) the last blockIdx.y */             \
    /* computes its activations for all `tokens` rows into sharedAct [tokens, sharedI] in the same launch. */                 \
    extern "C" __global__ void __launch_bounds__(256) moe_gateup_##SUFFIX(const u64* gws, const u64* gss, const u64* uws,      \
                                                       const u64* uss, int I, int K, int blockRows, int blockCols,           \
                                                       int scaleCols, const float* x, long long ldx, const int* offsets,     \
                                                       const int* active, const int* order, int topk, float* act,            \
                                                       const void* sgw, const float* sgs, const void* suw, const float* sus,  \
                                                       int sharedI, int tokens, float* sharedAct)                            \
    {                                                                                                                         \
        if (sgw && blockIdx.y == gridDim.y - 1)                                                                               \
        {                                                                                                                     \
            gateup_body<WT, MT>(sgw, sgs, suw, sus, sharedI, K, blockRows, blockCols, scaleCols, x, ldx, 0, 1, 0, tokens,    \
                                sharedAct, 0, blockIdx.x);                                                                    \
            return;                                                                                                           \
        }                                                                                                                     \
        int e, start, count;                                                                                                  \
        if (!routed_expert(active, offsets, e, start, count)) return;                                                         \
        gateup_body<WT, MT>((const void*)gws[e], (const float*)gss[e], (const void*)uws[e], (const float*)uss[e], I, K,      \
                            blockRows, blockCols, scaleCols, x, ldx, order, topk, start, count, act, 0, blockIdx.x);         \
    }                                                                                                                         \
    extern "C" __global__ void __launch_bounds__(256) moe_down_##SUFFIX(const u64* dws, const u64* dss, int H, int I,          \
                                                     int blockRows, int blockCols, int scaleCols, const float* act,          \
                                                     const int* offsets, const int* active, float* out, const void* sdw,     \
                                                     const float* sds, int sharedI, int sharedScaleCols,                     \
                                                     const float* sharedAct, float* sharedOut, int tokens)                   \
    {                                                                                                                         \
        moe_down_body<WT, MT, 2>(dws, dss, H, I, blockRows, blockCols, scaleCols, act, offsets, active, out, sdw, sds,       \
                                 sharedI, sharedScaleCols, sharedAct, sharedOut, tokens);                                     \
    }

GEMV_KERNELS(f32, WT_F32, 8)
GEMV_KERNELS(bf16, WT_BF16, 8)
GEMV_KERNELS(fp8, WT_FP8, 8)
GEMV_KERNELS(f32_1, WT_F32, 1)
GEMV_KERNELS(bf16_1, WT_BF16, 1)
GEMV_KERNELS(fp8_1, WT_FP8, 1)

// One row per warp (single-row passes): the products whose two-row grids fill too few blocks (a 2048-row
// matrix is 128 blocks of 16 rows on a GPU of 132 multiprocessors), and the shared experts' down rows.
#define GEMV_ONE_ROW_KERNELS(SUFFIX, WT)                                                                                       \
    extern "C" __global__ void __launch_bounds__(256) gemm_r1_##SUFFIX(const void* w, const float* scales, long long rowOffset, \
                                                                       int N, int K, int blockRows, int blockCols,           \
                                                                       int scaleCols, const float* x, long long ldx,         \
                                                                       float* y, long long ldy, int M, int accumulate,       \
                                                                       int roundOut)                                         \
    {                                                                                                                         \
        gemm_body<WT, 1, 1>(w, scales, rowOffset, N, K, blockRows, blockCols, scaleCols, x, ldx, y, ldy, M, accumulate,       \
                            roundOut, blockIdx.x);                                                                            \
    }                                                                                                                         \
    extern "C" __global__ void __launch_bounds__(256) gemm2_r1_##SUFFIX(const void* w, const float* scales, int N, float* y,   \
                                                  long long ldy, const void* w2, const float* scales2, int N2, float* y2,    \
                                                  long long ldy2, int split, int K, int blockRows, int blockCols,            \
                                                  int scaleCols, const float* x, long long ldx, int M)                       \
    {                                                                                                                         \
        gemm2_body<WT, 1, 1>(w, scales, N, y, ldy, w2, scales2, N2, y2, ldy2, split, K, blockRows, blockCols, scaleCols, x,   \
                             ldx, M);                                                                                         \
    }                                                                                                                         \
    extern "C" __global__ void __launch_bounds__(256) moe_down_r1_##SUFFIX(const u64* dws, const u64* dss, int H, int I,       \
                                                     int blockRows, int blockCols, int scaleCols, const float* act,          \
                                                     const int* offsets, const int* active, float* out, const void* sdw,     \
                                                     const float* sds, int sharedI, int sharedScaleCols,                     \
                                                     const float* sharedAct, float* sharedOut, int tokens)                   \
    {                                                                                                                         \
        moe_down_body<WT, 1, 1>(dws, dss, H, I, blockRows, blockCols, scaleCols, act, offsets, active, out, sdw, sds,        \
                                sharedI, sharedScaleCols, sharedAct, sharedOut, tokens);                                      \
    }

GEMV_ONE_ROW_KERNELS(f32_1, WT_F32)
GEMV_ONE_ROW_KERNELS(bf16_1, WT_BF16)
GEMV_ONE_ROW_KERNELS(fp8_1, WT_FP8)

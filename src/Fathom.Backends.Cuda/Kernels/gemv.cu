// Weight-streaming products for few activation rows (decode and small batches): y = x · Wᵀ with W
// [N, K] in its stored type (f32, bf16, or e4m3 with block scales) and float32 activations. One warp
// owns one weight row and reads it once, 16 bytes per lane per step, for up to ROWS activation rows at a
// time; larger M re-reads the row from L2 per chunk of ROWS.
#define ROWS 8

template <int WT>
__device__ __forceinline__ void row_dots(const void* __restrict__ w, const float* __restrict__ scales, long long r, int K,
                                         int blockRows, int blockCols, int scaleCols, const float* const (&xs)[ROWS], int m,
                                         float (&acc)[ROWS])
{
    int lane = threadIdx.x & 31;
    bool aligned = true;
#pragma unroll
    for (int i = 0; i < ROWS; i++)
        if (i < m && (((unsigned long long)xs[i]) & 15)) aligned = false;
    int vecK = 0;
    if (WT == WT_BF16)
    {
        const u16* wr = (const u16*)w + r * K;
        if (aligned && (K & 7) == 0) vecK = K;
#pragma unroll 4
        for (int k = lane * 8; k < vecK; k += 256)
        {
            uint4 q = __ldg((const uint4*)(wr + k));
            float wf[8] = {__uint_as_float(q.x << 16), __uint_as_float(q.x & 0xffff0000u), __uint_as_float(q.y << 16),
                           __uint_as_float(q.y & 0xffff0000u), __uint_as_float(q.z << 16), __uint_as_float(q.z & 0xffff0000u),
                           __uint_as_float(q.w << 16), __uint_as_float(q.w & 0xffff0000u)};
#pragma unroll
            for (int i = 0; i < ROWS; i++)
            {
                if (i < m)
                {
                    float4 a = *(const float4*)(xs[i] + k);
                    float4 b = *(const float4*)(xs[i] + k + 4);
                    acc[i] += wf[0] * a.x + wf[1] * a.y + wf[2] * a.z + wf[3] * a.w + wf[4] * b.x + wf[5] * b.y + wf[6] * b.z + wf[7] * b.w;
                }
            }
        }
        for (int k = vecK + lane; k < K; k += 32)
        {
            float wv = bf16_to_f(wr[k]);
#pragma unroll
            for (int i = 0; i < ROWS; i++)
                if (i < m) acc[i] += wv * xs[i][k];
        }
    }
    else if (WT == WT_F32)
    {
        const float* wr = (const float*)w + r * K;
        if (aligned && (K & 3) == 0) vecK = K;
#pragma unroll 4
        for (int k = lane * 4; k < vecK; k += 128)
        {
            float4 q = __ldg((const float4*)(wr + k));
#pragma unroll
            for (int i = 0; i < ROWS; i++)
            {
                if (i < m)
                {
                    float4 a = *(const float4*)(xs[i] + k);
                    acc[i] += q.x * a.x + q.y * a.y + q.z * a.z + q.w * a.w;
                }
            }
        }
        for (int k = vecK + lane; k < K; k += 32)
        {
            float wv = wr[k];
#pragma unroll
            for (int i = 0; i < ROWS; i++)
                if (i < m) acc[i] += wv * xs[i][k];
        }
    }
    else
    {
        const u8* wr = (const u8*)w + r * K;
        const float* srow = scales + (r / blockRows) * scaleCols;
        if (aligned && (K & 15) == 0 && (blockCols & 15) == 0) vecK = K;
#pragma unroll 2
        for (int k = lane * 16; k < vecK; k += 512)
        {
            uint4 q = __ldg((const uint4*)(wr + k));
            float s = __ldg(srow + k / blockCols) * FP8_UNBIAS;
            u32 words[4] = {q.x, q.y, q.z, q.w};
            float wf[16];
#pragma unroll
            for (int j = 0; j < 4; j++)
            {
                wf[4 * j] = fp8_raw(words[j]);
                wf[4 * j + 1] = fp8_raw(words[j] >> 8);
                wf[4 * j + 2] = fp8_raw(words[j] >> 16);
                wf[4 * j + 3] = fp8_raw(words[j] >> 24);
            }
#pragma unroll
            for (int i = 0; i < ROWS; i++)
            {
                if (i < m)
                {
                    float p = 0.f;
#pragma unroll
                    for (int j = 0; j < 4; j++)
                    {
                        float4 a = *(const float4*)(xs[i] + k + 4 * j);
                        p += wf[4 * j] * a.x + wf[4 * j + 1] * a.y + wf[4 * j + 2] * a.z + wf[4 * j + 3] * a.w;
                    }
                    acc[i] += s * p;
                }
            }
        }
        for (int k = vecK + lane; k < K; k += 32)
        {
            float wv = fp8_raw(wr[k]) * (srow[k / blockCols] * FP8_UNBIAS);
#pragma unroll
            for (int i = 0; i < ROWS; i++)
                if (i < m) acc[i] += wv * xs[i][k];
        }
    }
#pragma unroll
    for (int i = 0; i < ROWS; i++)
        if (i < m) acc[i] = warp_sum(acc[i]);
}

// y[M, ldy] (columns [0, N)) = x[M, ldx] · W[rowOffset .. rowOffset + N)ᵀ, optionally added to y.
template <int WT>
__device__ __forceinline__ void gemm_body(const void* w, const float* scales, long long rowOffset, int N, int K, int blockRows,
                                          int blockCols, int scaleCols, const float* x, long long ldx, float* y, long long ldy,
                                          int M, int accumulate, int roundOut)
{
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int r = blockIdx.x * (blockDim.x >> 5) + warp;
    if (r >= N) return;
    for (int m0 = 0; m0 < M; m0 += ROWS)
    {
        int m = min(ROWS, M - m0);
        const float* xs[ROWS];
        float acc[ROWS];
#pragma unroll
        for (int i = 0; i < ROWS; i++)
        {
            xs[i] = x + (long long)(m0 + min(i, m - 1)) * ldx;
            acc[i] = 0.f;
        }
        row_dots<WT>(w, scales, rowOffset + r, K, blockRows, blockCols, scaleCols, xs, m, acc);
        if (lane == 0)
        {
#pragma unroll
            for (int i = 0; i < ROWS; i++)
            {
                if (i < m)
                {
                    float* out = y + (long long)(m0 + i) * ldy + r;
                    float v = accumulate ? *out + acc[i] : acc[i];
                    *out = roundOut ? round_bf16(v) : v;
                }
            }
        }
    }
}

// act[start + j, r] = silu(x_j · gate_r) · (x_j · up_r) for the rows j of one group; x_j is row
// order[start + j] / topk of x, or row j when order is null.
template <int WT>
__device__ __forceinline__ void gateup_body(const void* gw, const float* gs, const void* uw, const float* us, int I, int K,
                                            int blockRows, int blockCols, int scaleCols, const float* x, long long ldx,
                                            const int* order, int topk, int start, int count, float* act, int roundOut)
{
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int r = blockIdx.x * (blockDim.x >> 5) + warp;
    if (r >= I) return;
    for (int m0 = 0; m0 < count; m0 += ROWS)
    {
        int m = min(ROWS, count - m0);
        const float* xs[ROWS];
        float g[ROWS], u[ROWS];
#pragma unroll
        for (int i = 0; i < ROWS; i++)
        {
            int j = start + m0 + min(i, m - 1);
            int row = order ? order[j] / topk : j;
            xs[i] = x + (long long)row * ldx;
            g[i] = 0.f;
            u[i] = 0.f;
        }
        row_dots<WT>(gw, gs, r, K, blockRows, blockCols, scaleCols, xs, m, g);
        row_dots<WT>(uw, us, r, K, blockRows, blockCols, scaleCols, xs, m, u);
        if (lane == 0)
        {
#pragma unroll
            for (int i = 0; i < ROWS; i++)
            {
                if (i < m)
                {
                    float v = g[i] / (1.f + expf(-g[i])) * u[i];
                    act[(long long)(start + m0 + i) * I + r] = roundOut ? round_bf16(v) : v;
                }
            }
        }
    }
}

#define GEMV_KERNELS(SUFFIX, WT)                                                                                              \
    extern "C" __global__ void __launch_bounds__(256) gemm_##SUFFIX(const void* w, const float* scales, long long rowOffset, int N, int K,      \
                                                 int blockRows, int blockCols, int scaleCols, const float* x, long long ldx,  \
                                                 float* y, long long ldy, int M, int accumulate, int roundOut)                \
    {                                                                                                                         \
        gemm_body<WT>(w, scales, rowOffset, N, K, blockRows, blockCols, scaleCols, x, ldx, y, ldy, M, accumulate, roundOut);  \
    }                                                                                                                         \
    /* Per-head products (blockIdx.y = head h): rows [h·headRows + rowOffset, + N) of W times the head's slice */ \
    /* of each activation row (x + h·xHead, stride ldx) into y + h·yHead (stride ldy). */                                     \
    extern "C" __global__ void __launch_bounds__(256) head_gemm_##SUFFIX(const void* w, const float* scales, long long headRows,         \
                                                  long long rowOffset, int N, int K, int blockRows, int blockCols,          \
                                                  int scaleCols, const float* x, long long xHead, long long ldx, float* y,   \
                                                  long long yHead, long long ldy, int M, int roundOut)                       \
    {                                                                                                                         \
        int h = blockIdx.y;                                                                                                   \
        gemm_body<WT>(w, scales, h * headRows + rowOffset, N, K, blockRows, blockCols, scaleCols, x + h * xHead, ldx,         \
                      y + h * yHead, ldy, M, 0, roundOut);                                                                    \
    }                                                                                                                         \
    extern "C" __global__ void __launch_bounds__(256) gateup_##SUFFIX(const void* gw, const float* gs, const void* uw, const float* us, int I, int K,\
                                                   int blockRows, int blockCols, int scaleCols, const float* x, long long ldx,\
                                                   int M, float* act, int roundOut)                                          \
    {                                                                                                                         \
        gateup_body<WT>(gw, gs, uw, us, I, K, blockRows, blockCols, scaleCols, x, ldx, 0, 1, 0, M, act, roundOut);          \
    }                                                                                                                         \
    /* blockIdx.y is the expert; its (token, slot) pairs are order[offsets[e] .. offsets[e + 1]). */                         \
    extern "C" __global__ void __launch_bounds__(256) moe_gateup_##SUFFIX(const u64* gws, const u64* gss, const u64* uws, const u64* uss, int I, \
                                                       int K, int blockRows, int blockCols, int scaleCols, const float* x,   \
                                                       long long ldx, const int* offsets, const int* order, int topk,        \
                                                       float* act, int roundOut)                                             \
    {                                                                                                                         \
        int e = blockIdx.y;                                                                                                   \
        int start = offsets[e], count = offsets[e + 1] - start;                                                               \
        if (count == 0) return;                                                                                               \
        gateup_body<WT>((const void*)gws[e], (const float*)gss[e], (const void*)uws[e], (const float*)uss[e], I, K,          \
                        blockRows, blockCols, scaleCols, x, ldx, order, topk, start, count, act, roundOut);                  \
    }                                                                                                                         \
    extern "C" __global__ void __launch_bounds__(256) moe_down_##SUFFIX(const u64* dws, const u64* dss, int H, int I, int blockRows, int blockCols,\
                                                     int scaleCols, const float* act, const int* offsets, float* out)        \
    {                                                                                                                         \
        int e = blockIdx.y;                                                                                                   \
        int start = offsets[e], count = offsets[e + 1] - start;                                                               \
        if (count == 0) return;                                                                                               \
        gemm_body<WT>((const void*)dws[e], (const float*)dss[e], 0, H, I, blockRows, blockCols, scaleCols,                  \
                      act + (long long)start * I, I, out + (long long)start * H, H, count, 0, 0);                            \
    }

GEMV_KERNELS(f32, WT_F32)
GEMV_KERNELS(bf16, WT_BF16)
GEMV_KERNELS(fp8, WT_FP8)

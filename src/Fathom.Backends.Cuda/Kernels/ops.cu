// Element-wise and per-row kernels of the forward pass: embedding, RMSNorm, RoPE, the MLA cache write,
// the bf16-pair conversions that feed cuBLASLt.

extern "C" __global__ void embed_f32(const int* ids, const float* table, int H, float* y, int roundOut)
{
    inputs_ready();
    const float* src = table + (long long)ids[blockIdx.x] * H;
    float* dst = y + (long long)blockIdx.x * H;
    for (int c = threadIdx.x; c < H; c += blockDim.x) dst[c] = roundOut ? round_bf16(src[c]) : src[c];
}

extern "C" __global__ void embed_bf16(const int* ids, const u16* table, int H, float* y, int roundOut)
{
    inputs_ready();
    const u16* src = table + (long long)ids[blockIdx.x] * H;
    float* dst = y + (long long)blockIdx.x * H;
    for (int c = threadIdx.x; c < H; c += blockDim.x) dst[c] = bf16_to_f(src[c]);
}

// y[r] = w ⊙ x[src(r)] / sqrt(mean(x²) + eps) for rows r of width W; src(r) = rows[r] when rows is given.
// Rows of up to 8 float4 per thread are read once into registers (one round trip to L2 instead of a
// loop of dependent loads per pass: a decode step runs 55 of these on 2048-wide rows).
#define NORM_VECTORS 8

// The vector path's first half, by the whole block: this thread's float4s of the row into v (column
// (threadIdx.x + j·blockDim.x)·4 in v[j]) and 1 / sqrt(mean(x²) + eps). Also moe_gate_route's, which norms
// its rows itself and must produce the same bits.
__device__ __forceinline__ float row_rms_inverse(const float* xr, int W, float eps, float4 (&v)[NORM_VECTORS], float* red)
{
    float ss = 0.f;
#pragma unroll
    for (int j = 0; j < NORM_VECTORS; j++)
    {
        int c = (threadIdx.x + j * blockDim.x) * 4;
        v[j] = c < W ? *(const float4*)(xr + c) : make_float4(0.f, 0.f, 0.f, 0.f);
        ss += v[j].x * v[j].x + v[j].y * v[j].y + v[j].z * v[j].z + v[j].w * v[j].w;
    }
    ss = block_sum(ss, red);
    return rsqrtf(ss / W + eps);
}

// The normed values w ⊙ (x · inv) of four columns: the one form every fused norm uses, so that each gives
// rmsnorm's bits.
__device__ __forceinline__ float4 normed4(float4 g, float4 v, float inv)
{
    return make_float4(g.x * (v.x * inv), g.y * (v.y * inv), g.z * (v.z * inv), g.w * (v.w * inv));
}

// rmsnorm's vector path for one row, by the whole block: y = w ⊙ xr / rms(xr), each value rounded to bf16
// with roundOut, and also written to y2 where that is given (moe_gate_route norms into shared memory and
// block 0 of it into the global rows as well).
__device__ __forceinline__ void norm_row(const float* xr, int W, const float* w, float eps, float* red, float* y, float* y2, int roundOut)
{
    float4 v[NORM_VECTORS];
    float inv = row_rms_inverse(xr, W, eps, v, red);
#pragma unroll
    for (int j = 0; j < NORM_VECTORS; j++)
    {
        int c = (threadIdx.x + j * blockDim.x) * 4;
        if (c < W)
        {
            float4 o = normed4(*(const float4*)(w + c), v[j], inv);
            if (roundOut) o = make_float4(round_bf16(o.x), round_bf16(o.y), round_bf16(o.z), round_bf16(o.w));
            *(float4*)(y + c) = o;
            if (y2) *(float4*)(y2 + c) = o;
        }
    }
}
extern "C" __global__ void rmsnorm(const float* x, long long ldx, const int* rows, const float* w, int W, float eps, float* y,
                                   long long ldy, int roundOut)
{
    inputs_ready();
    __shared__ float red[32];
    int r = blockIdx.x;
    const float* xr = x + (long long)(rows ? rows[r] : r) * ldx;
    float* yr = y + (long long)r * ldy;
    bool vec = (W & 3) == 0 && W <= NORM_VECTORS * 4 * (int)blockDim.x && ((((unsigned long long)xr) | ((unsigned long long)yr) | ((unsigned long long)w)) & 15) == 0;
    if (vec)
    {
        norm_row(xr, W, w, eps, red, yr, nullptr, roundOut);
        return;
    }
    float ss = 0.f;
    for (int c = threadIdx.x; c < W; c += blockDim.x) ss += xr[c] * xr[c];
    ss = block_sum(ss, red);
    float inv = rsqrtf(ss / W + eps);
    for (int c = threadIdx.x; c < W; c += blockDim.x)
    {
        float v = w[c] * (xr[c] * inv);
        yr[c] = roundOut ? round_bf16(v) : v;
    }
}

// Writes each new token's cache row (the normalised latent, then the roped shared key; kv is the kv_a
// projection [n, latent + 2·pairs], slots[t] the row of the paged cache that token t fills) and ropes
// every head's query: q_pe of q [n, heads, headDim] rotated into qAbs[t, h, latent…] (row width
// latent + 2·pairs), after the head's absorbed latent query.
// One token t of it, by a whole block (the absorbed-query kernels run it in an extra row of blocks).
__device__ __forceinline__ void cache_write_token(int t, const float* kv, const float* normW, float eps, int latent, int pairs,
                                                  const float* cos, const float* sin, const long long* slots, float* cache,
                                                  const float* q, int heads, int headDim, int nope, float* qAbs)
{
    inputs_ready();
    const int roundOut = 0;
    __shared__ float red[32];
    int width = latent + 2 * pairs;
    const float* src = kv + (long long)t * width;
    float* dst = cache + slots[t] * width;
    float ss = 0.f;
    for (int c = threadIdx.x; c < latent; c += blockDim.x) ss += src[c] * src[c];
    ss = block_sum(ss, red);
    float inv = rsqrtf(ss / latent + eps);
    for (int c = threadIdx.x; c < latent; c += blockDim.x)
    {
        float v = roundOut ? normW[c] * round_bf16(src[c] * inv) : normW[c] * (src[c] * inv);
        dst[c] = roundOut ? round_bf16(v) : v;
    }
    for (int i = threadIdx.x; i < pairs; i += blockDim.x)
    {
        float c = cos[(long long)t * pairs + i], s = sin[(long long)t * pairs + i];
        float a = src[latent + 2 * i], b = src[latent + 2 * i + 1];
        float x0 = a * c - b * s, x1 = a * s + b * c;
        dst[latent + 2 * i] = roundOut ? round_bf16(x0) : x0;
        dst[latent + 2 * i + 1] = roundOut ? round_bf16(x1) : x1;
    }
    for (int idx = threadIdx.x; idx < heads * pairs; idx += blockDim.x)
    {
        int h = idx / pairs, i = idx - h * pairs;
        const float* p = q + ((long long)t * heads + h) * headDim + nope + 2 * i;
        float c = cos[(long long)t * pairs + i], s = sin[(long long)t * pairs + i];
        float a = p[0], b = p[1];
        float* o = qAbs + ((long long)t * heads + h) * width + latent + 2 * i;
        o[0] = a * c - b * s;
        o[1] = a * s + b * c;
    }
}

extern "C" __global__ void mla_cache_write(const float* kv, const float* normW, float eps, int latent, int pairs, const float* cos,
                                           const float* sin, const long long* slots, float* cache, const float* q, int heads,
                                           int headDim, int nope, float* qAbs)
{
    cache_write_token(blockIdx.x, kv, normW, eps, latent, pairs, cos, sin, slots, cache, q, heads, headDim, nope, qAbs);
}

// A float32 value as the sum of two bfloat16 terms, hi = bf16(x) and lo = bf16(x - hi): 16 significant
// bits, so tensor-core products of hi and lo together lose about 2^-17 of each input instead of the 2^-9
// of one bf16 rounding (which is enough to flip a near-tied MoE routing choice and, through attention,
// every later position). The n values of x go to hi[0, n) and lo[0, n).
extern "C" __global__ void to_bf16_pair(const float* x, long long n, u16* hi, u16* lo)
{
    inputs_ready();
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    {
        float v = x[i];
        u16 h = to_bf16_bits(v);
        hi[i] = h;
        lo[i] = to_bf16_bits(v - bf16_to_f(h));
    }
}

// An e4m3 weight with block scales widened to a pair of bf16 planes (for cuBLASLt at large batch): the
// e4m3 value itself fits bf16 exactly, its product with a float32 block scale does not.
extern "C" __global__ void fp8_to_bf16_pair(const u8* w, const float* scales, int N, int K, int blockRows, int blockCols, int scaleCols,
                                            u16* hi, u16* lo)
{
    inputs_ready();
    long long total = (long long)N * K;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < total; i += (long long)gridDim.x * blockDim.x)
    {
        int r = (int)(i / K), c = (int)(i - (long long)r * K);
        float v = fp8_raw(w[i]) * (scales[(r / blockRows) * scaleCols + c / blockCols] * FP8_UNBIAS);
        u16 h = to_bf16_bits(v);
        hi[i] = h;
        lo[i] = to_bf16_bits(v - bf16_to_f(h));
    }
}

// y = silu(g) ⊙ u over n values (the cuBLASLt path of a dense feed-forward).
extern "C" __global__ void silu_mul(const float* g, const float* u, long long n, float* y, int roundOut)
{
    inputs_ready();
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    {
        float gi = g[i], ui = u[i];
        float v = gi / (1.f + expf(-gi)) * ui;
        y[i] = roundOut ? round_bf16(v) : v;
    }
}

// y += x (residual add of a cuBLASLt output).
extern "C" __global__ void add_into(const float* x, long long n, float* y, int roundOut)
{
    inputs_ready();
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    {
        float v = y[i] + (roundOut ? round_bf16(x[i]) : x[i]);
        y[i] = roundOut ? round_bf16(v) : v;
    }
}

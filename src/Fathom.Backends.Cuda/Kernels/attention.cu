// MLA attention in the absorbed form over the paged latent cache. The query of each head arrives as
// [W_UKᵀ q_nope | roped q_pe] (width = latent + rope), so each score is one dot product with a cache
// row, and the weighted sum of latents is later mapped to values by W_UV (vup kernels).

// A split's partial result is [max, sum, 2 unused, latent values]: the values start 16 bytes in, so they
// move as float4 (latent and the row width are multiples of 4; the host checks).
#define PART_HEAD 4

// The cache row of position p of a sequence whose page table is `table`.
__device__ __forceinline__ const float* cache_row(const float* cache, const int* table, int pageSize, int width, int p)
{
    return cache + ((long long)table[p / pageSize] * pageSize + p % pageSize) * width;
}

// Merges the splits of one (token, head): out[t, h, :] = Σ_s e^(m_s − M) · acc_s / Σ_s e^(m_s − M) · l_s.
// The split weights are computed once into shared memory; then every column is an independent sum, in
// split order, with the loads of eight splits in flight at a time (a chain of one L2 round trip per split
// and column made this merge most of a short-context decode step's attention time). p = the (token,
// head)'s splits, weight = shared scratch of `splits` floats. Run by the whole block; the partial sums were
// written by other blocks, so they are read past L1.
__device__ __forceinline__ void combine_splits(const float* p, int splits, int latent, float* out, float* weight, float* red)
{
    const int stride = latent + PART_HEAD;
    // Each split's (max, sum) is read once, into shared memory (weight, then weight + splits): one L2 round
    // trip for both reductions.
    float* lsum = weight + splits;
    float M = NEG_INF;
    for (int s = threadIdx.x; s < splits; s += blockDim.x)
    {
        float m = __ldcg(p + s * stride), l = __ldcg(p + s * stride + 1);
        weight[s] = m;
        lsum[s] = l;
        if (l > 0.f) M = fmaxf(M, m);
    }
    M = block_max(M, red);
    float L = 0.f;
    for (int s = threadIdx.x; s < splits; s += blockDim.x)
    {
        float l = lsum[s];
        float f = l > 0.f ? expf(weight[s] - M) : 0.f;
        weight[s] = f;
        L += l * f;
    }
    L = block_sum(L, red);
    __syncthreads();
    float inv = 1.f / L;
    for (int c4 = threadIdx.x; c4 < latent / 4; c4 += blockDim.x)
    {
        float4 a = make_float4(0.f, 0.f, 0.f, 0.f);
        for (int s0 = 0; s0 < splits; s0 += 16)
        {
            float4 v[16];
            float f[16];
#pragma unroll
            for (int u = 0; u < 16; u++)
            {
                // An empty split's values are stale: never read them (0 · NaN would not vanish).
                f[u] = s0 + u < splits ? weight[s0 + u] : 0.f;
                v[u] = f[u] != 0.f ? __ldcg((const float4*)(p + (s0 + u) * stride + PART_HEAD) + c4) : make_float4(0.f, 0.f, 0.f, 0.f);
            }
#pragma unroll
            for (int u = 0; u < 16; u++)
            {
                a.x += v[u].x * f[u];
                a.y += v[u].y * f[u];
                a.z += v[u].z * f[u];
                a.w += v[u].w * f[u];
            }
        }
        ((float4*)out)[c4] = make_float4(a.x * inv, a.y * inv, a.z * inv, a.w * inv);
    }
}

// One split: the scores of positions [p0, p1) of token t's sequence against head h's query, their
// softmax-weighted sum of latents, and the running max and sum, into part = [max, sum, -, -, latent values].
// Each load phase has all its loads in flight at once: a warp reads two positions' whole cache rows per
// pass (float4 per lane, up to 1,024 floats each), and a thread per four latent columns reads four
// positions at a time.
__device__ __forceinline__ void split_attention(const float* q, const float* cache, int width, int latent, const int* tokenSeq,
                                                const int* tables, int maxPages, int pageSize, float scale, int heads, int t,
                                                int h, int p0, int p1, float* sm, float* red, float* part)
{
    float* qs = sm;
    float* sc = sm + width;
    const int* table = tables + (long long)tokenSeq[t] * maxPages;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    // Each warp scores two positions per pass (p and p + warps), both rows' loads in flight at once; the
    // first pass's rows are looked up in the page table while the query is copied to shared memory.
    int p = p0 + warp;
    const float4* rowA = p < p1 ? (const float4*)cache_row(cache, table, pageSize, width, p) : nullptr;
    const float4* rowB = p + warps < p1 ? (const float4*)cache_row(cache, table, pageSize, width, p + warps) : nullptr;
    const float4* qrow = (const float4*)(q + ((long long)t * heads + h) * width);
    int n4 = width / 4;
    for (int c = threadIdx.x; c < n4; c += blockDim.x) ((float4*)qs)[c] = qrow[c];
    __syncthreads();
    for (; p < p1; p += 2 * warps)
    {
        if (p != p0 + warp)
        {
            rowA = (const float4*)cache_row(cache, table, pageSize, width, p);
            rowB = p + warps < p1 ? (const float4*)cache_row(cache, table, pageSize, width, p + warps) : nullptr;
        }
        float da = 0.f, db = 0.f;
        for (int j0 = 0; j0 < n4; j0 += 256)
        {
            float4 a[8], b[8];
#pragma unroll
            for (int i = 0; i < 8; i++)
            {
                int j = j0 + lane + 32 * i;
                a[i] = j < n4 ? rowA[j] : make_float4(0.f, 0.f, 0.f, 0.f);
                b[i] = j < n4 && rowB ? rowB[j] : make_float4(0.f, 0.f, 0.f, 0.f);
            }
#pragma unroll
            for (int i = 0; i < 8; i++)
            {
                int j = j0 + lane + 32 * i;
                if (j < n4)
                {
                    float4 g = ((const float4*)qs)[j];
                    da += g.x * a[i].x + g.y * a[i].y + g.z * a[i].z + g.w * a[i].w;
                    db += g.x * b[i].x + g.y * b[i].y + g.z * b[i].z + g.w * b[i].w;
                }
            }
        }
        da = warp_sum(da);
        db = warp_sum(db);
        if (lane == 0)
        {
            sc[p - p0] = da * scale;
            if (rowB) sc[p + warps - p0] = db * scale;
        }
    }
    __syncthreads();
    float mx = NEG_INF;
    for (int i = threadIdx.x; i < p1 - p0; i += blockDim.x) mx = fmaxf(mx, sc[i]);
    mx = block_max(mx, red);
    float sum = 0.f;
    for (int i = threadIdx.x; i < p1 - p0; i += blockDim.x)
    {
        float e = expf(sc[i] - mx);
        sc[i] = e;
        sum += e;
    }
    sum = block_sum(sum, red);
    __syncthreads();
    for (int c4 = threadIdx.x; c4 < latent / 4; c4 += blockDim.x)
    {
        float4 a = make_float4(0.f, 0.f, 0.f, 0.f);
        for (int pb = p0; pb < p1; pb += 4)
        {
            float4 r[4];
#pragma unroll
            for (int u = 0; u < 4; u++)
                r[u] = pb + u < p1 ? ((const float4*)cache_row(cache, table, pageSize, width, pb + u))[c4] : make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll
            for (int u = 0; u < 4; u++)
            {
                if (pb + u < p1)
                {
                    float e = sc[pb + u - p0];
                    a.x += e * r[u].x;
                    a.y += e * r[u].y;
                    a.z += e * r[u].z;
                    a.w += e * r[u].w;
                }
            }
        }
        ((float4*)(part + PART_HEAD))[c4] = a;
    }
    if (threadIdx.x == 0)
    {
        part[0] = mx;
        part[1] = sum;
    }
}

// One (token, head, split): softmax-weighted sum of the latents of cache positions
// [split·chunk, min(len, (split + 1)·chunk)), with its running max and sum for the combine step.
// partial[(t·heads + h)·splits + split] = [max, sum, -, -, latent values]. Dynamic shared memory: width
// + chunk floats.
template <bool MERGE>
__device__ __forceinline__ void attention_body(const float* q, const float* cache, int width, int latent, const int* tokenSeq,
                                               const int* tokenLen, const int* tables, int maxPages, int pageSize,
                                               const int* chunkPtr, float scale, int heads, int splits, float* partial,
                                               int* tickets, float* out)
{
    inputs_ready();
    extern __shared__ float sm[];
    __shared__ float red[32];
    int t = blockIdx.x, h = blockIdx.y, s = blockIdx.z;
    int chunk = *chunkPtr, len = tokenLen[t];
    int p0 = s * chunk, p1 = min(len, p0 + chunk);
    float* part = partial + (((long long)t * heads + h) * splits + s) * (latent + PART_HEAD);
    if (p0 >= p1)
    {
        if (threadIdx.x == 0)
        {
            part[0] = NEG_INF;
            part[1] = 0.f;
        }
    }
    else
    {
        split_attention(q, cache, width, latent, tokenSeq, tables, maxPages, pageSize, scale, heads, t, h, p0, p1, sm, red, part);
    }

    // MERGE: the last split of (t, h) to finish merges them all (no separate combine launch).
    long long th = (long long)t * heads + h;
    if (MERGE && last_block_of(tickets + th, splits))
    {
        combine_splits(partial + th * splits * (latent + PART_HEAD), splits, latent, out + th * latent, sm, red);
    }
}

// Large passes (prefill): the splits, merged by mla_combine.
extern "C" __global__ void __launch_bounds__(128) mla_attention(const float* q, const float* cache, int width, int latent, const int* tokenSeq,
                                                const int* tokenLen, const int* tables, int maxPages, int pageSize,
                                                const int* chunkPtr, float scale, int heads, int splits, float* partial)
{
    attention_body<false>(q, cache, width, latent, tokenSeq, tokenLen, tables, maxPages, pageSize, chunkPtr, scale, heads, splits, partial, 0, 0);
}

// Small passes (decode): the splits and their merge into out [t, heads, latent] in one launch.
extern "C" __global__ void __launch_bounds__(128) mla_attention_merged(const float* q, const float* cache, int width, int latent,
                                                const int* tokenSeq, const int* tokenLen, const int* tables, int maxPages,
                                                int pageSize, const int* chunkPtr, float scale, int heads, int splits,
                                                float* partial, int* tickets, float* out)
{
    attention_body<true>(q, cache, width, latent, tokenSeq, tokenLen, tables, maxPages, pageSize, chunkPtr, scale, heads, splits, partial, tickets, out);
}

// Merges the splits of each (token, head) of mla_attention, one block each.
extern "C" __global__ void mla_combine(const float* partial, int splits, int latent, float* out)
{
    inputs_ready();
    extern __shared__ float weight[];
    __shared__ float red[32];
    long long th = blockIdx.x;
    combine_splits(partial + th * splits * (latent + PART_HEAD), splits, latent, out + th * latent, weight, red);
}


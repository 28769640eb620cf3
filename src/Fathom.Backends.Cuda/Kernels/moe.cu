// Expert choice and the bookkeeping around the grouped expert products, all on the device so a decode
// step never waits for the host.

#define MAX_EXPERTS 512
#define MAX_GROUPS 64

// DeepSeek's router, one warp per token, in the order of the host Router: score (0 softmax, 1 sigmoid),
// add the bias for selection, keep the best groups (method 1: group_limited_greedy, 2: noaux_tc, 0:
// plain top-k), top-k with ties to the lower index, weights from the unbiased scores, optional
// normalisation, scaling.
__device__ void sort_pairs(const int* ids, int pairs, int E, int* offsets, int* order, int* pairRow, int* active);

template <bool SORT>
__device__ __forceinline__ void route_body(const float* logits, const float* bias, int E, int k, int nGroup, int topkGroup, int scoring,
                                           int method, int normalize, float routedScale, int* ids, float* weights, int* ticket,
                                           int* offsets, int* order, int* pairRow, int* active)
{
    inputs_ready();
    __shared__ float scores[MAX_EXPERTS];
    __shared__ float choice[MAX_EXPERTS];
    __shared__ unsigned char taken[MAX_EXPERTS];
    __shared__ float groupScore[MAX_GROUPS];
    __shared__ int kept[MAX_GROUPS];
    int lane = threadIdx.x, t = blockIdx.x;
    const float* l = logits + (long long)t * E;
    if (scoring == 1)
    {
        for (int e = lane; e < E; e += 32) scores[e] = 1.f / (1.f + expf(-l[e]));
    }
    else
    {
        float mx = NEG_INF;
        for (int e = lane; e < E; e += 32) mx = fmaxf(mx, l[e]);
        mx = warp_max(mx);
        double sum = 0;
        for (int e = lane; e < E; e += 32) sum += exp((double)(l[e] - mx));
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
        for (int e = lane; e < E; e += 32) scores[e] = (float)(exp((double)(l[e] - mx)) / sum);
    }
    __syncwarp();
    for (int e = lane; e < E; e += 32)
    {
        choice[e] = bias ? scores[e] + bias[e] : scores[e];
        taken[e] = 0;
    }
    __syncwarp();
    if (nGroup > 1 && method != 0)
    {
        int per = E / nGroup;
        for (int g = lane; g < nGroup; g += 32)
        {
            if (method == 2)
            {
                float best = NEG_INF, second = NEG_INF;
                for (int e = g * per; e < (g + 1) * per; e++)
                {
                    float v = choice[e];
                    if (v > best) { second = best; best = v; }
                    else if (v > second) second = v;
                }
                groupScore[g] = per > 1 ? best + second : best;
            }
            else
            {
                float best = NEG_INF;
                for (int e = g * per; e < (g + 1) * per; e++) best = fmaxf(best, scores[e]);
                groupScore[g] = best;
            }
            kept[g] = 0;
        }
        __syncwarp();
        if (lane == 0)
        {
            for (int j = 0; j < topkGroup; j++)
            {
                int bestGroup = -1;
                for (int g = 0; g < nGroup; g++)
                    if (!kept[g] && (bestGroup < 0 || groupScore[g] > groupScore[bestGroup])) bestGroup = g;
                kept[bestGroup] = 1;
            }
        }
        __syncwarp();
        for (int e = lane; e < E; e += 32)
            if (!kept[e / per]) choice[e] = 0.f;
        __syncwarp();
    }
    int* out = ids + (long long)t * k;
    for (int j = 0; j < k; j++)
    {
        // The best untaken expert; on equal values the lower index wins (as the host's top-k).
        float bv = NEG_INF;
        int bi = 0x7fffffff;
        for (int e = lane; e < E; e += 32)
        {
            if (taken[e]) continue;
            float v = choice[e];
            if (bi == 0x7fffffff || v > bv) { bv = v; bi = e; }
        }
#pragma unroll
        for (int o = 16; o > 0; o >>= 1)
        {
            float ov = __shfl_xor_sync(0xffffffffu, bv, o);
            int oi = __shfl_xor_sync(0xffffffffu, bi, o);
            if (oi != 0x7fffffff && (bi == 0x7fffffff || ov > bv || (ov == bv && oi < bi))) { bv = ov; bi = oi; }
        }
        if (lane == 0)
        {
            out[j] = bi;
            taken[bi] = 1;
        }
        __syncwarp();
    }
    if (lane == 0)
    {
        float* w = weights + (long long)t * k;
        double sum = 0;
        for (int j = 0; j < k; j++)
        {
            w[j] = scores[out[j]];
            sum += w[j];
        }
        float denominator = (float)sum + 1e-20f;
        for (int j = 0; j < k; j++)
        {
            float v = normalize && k > 1 ? w[j] / denominator : w[j];
            w[j] = v * routedScale;
        }
    }
    if (SORT && last_block_of(ticket, gridDim.x))
    {
        sort_pairs(ids, gridDim.x * k, E, offsets, order, pairRow, active);
    }
}

extern "C" __global__ void moe_route(const float* logits, const float* bias, int E, int k, int nGroup, int topkGroup, int scoring,
                                     int method, int normalize, float routedScale, int* ids, float* weights)
{
    route_body<false>(logits, bias, E, k, nGroup, topkGroup, scoring, method, normalize, routedScale, ids, weights, 0, 0, 0, 0, 0);
}

// moe_route whose last block to finish also sorts the pairs by expert (see moe_sort): one launch less
// for the small passes of decode steps.
extern "C" __global__ void moe_route_sort(const float* logits, const float* bias, int E, int k, int nGroup, int topkGroup, int scoring,
                                          int method, int normalize, float routedScale, int* ids, float* weights, int* ticket,
                                          int* offsets, int* order, int* pairRow, int* active)
{
    route_body<true>(logits, bias, E, k, nGroup, topkGroup, scoring, method, normalize, routedScale, ids, weights, ticket, offsets, order, pairRow, active);
}

// Counting sort of the (token, slot) pairs by expert, stable in pair order: offsets[E + 1], order[pair
// rank] = pair, pairRow[pair] = its rank (the row of its expert output), and active = [count, experts
// with tokens...] so the expert kernels launch only as many block rows as there can be chosen experts.
extern "C" __global__ void moe_sort(const int* ids, int pairs, int E, int* offsets, int* order, int* pairRow, int* active)
{
    inputs_ready();
    sort_pairs(ids, pairs, E, offsets, order, pairRow, active);
}

// The body of moe_sort, run by one block. Up to 1024 pairs, the ids are first copied to shared memory past
// L1 (the router's last block calls it on ids other blocks of its launch wrote); beyond that (prefill,
// moe_sort's own launch only) one thread walks them.
__device__ void sort_pairs(const int* ids, int pairs, int E, int* offsets, int* order, int* pairRow, int* active)
{
    if (pairs <= 1024)
    {
        // Small passes (decode): one thread per pair; a pair's rank within its expert counts the earlier
        // pairs of that expert, which keeps the pair order of the serial sort below.
        __shared__ int start[MAX_EXPERTS + 1];
        __shared__ int count[MAX_EXPERTS];
        __shared__ int sid[1024];
        for (int p = threadIdx.x; p < pairs; p += blockDim.x) sid[p] = __ldcg(ids + p);
        for (int e = threadIdx.x; e < E; e += blockDim.x) count[e] = 0;
        __syncthreads();
        for (int p = threadIdx.x; p < pairs; p += blockDim.x) atomicAdd(&count[sid[p]], 1);
        __syncthreads();
        if (threadIdx.x == 0)
        {
            int n = 0;
            start[0] = 0;
            for (int e = 0; e < E; e++)
            {
                start[e + 1] = start[e] + count[e];
                if (count[e] > 0) active[1 + n++] = e;
            }
            active[0] = n;
        }
        __syncthreads();
        for (int e = threadIdx.x; e <= E; e += blockDim.x) offsets[e] = start[e];
        for (int p = threadIdx.x; p < pairs; p += blockDim.x)
        {
            int e = sid[p], rank = start[e];
            for (int q = 0; q < p; q++) rank += sid[q] == e;
            order[rank] = p;
            pairRow[p] = rank;
        }
        return;
    }
    if (threadIdx.x != 0) return;
    for (int e = 0; e <= E; e++) offsets[e] = 0;
    for (int p = 0; p < pairs; p++) offsets[ids[p] + 1]++;
    for (int e = 0; e < E; e++) offsets[e + 1] += offsets[e];
    for (int p = 0; p < pairs; p++)
    {
        int e = ids[p];
        int rank = offsets[e]++;
        order[rank] = p;
        pairRow[p] = rank;
    }
    for (int e = E; e > 0; e--) offsets[e] = offsets[e - 1];
    offsets[0] = 0;
    int n = 0;
    for (int e = 0; e < E; e++)
        if (offsets[e + 1] > offsets[e]) active[1 + n++] = e;
    active[0] = n;
}

// hidden[t] += shared[t] + Σ_slot weight · expertOut[pairRow[t·k + slot]].
extern "C" __global__ void moe_combine(const float* expertOut, const int* pairRow, const float* weights, int k, int H, const float* shared,
                                       float* hidden, int roundOut)
{
    inputs_ready();
    int t = blockIdx.x;
    int c = blockIdx.y * blockDim.x + threadIdx.x;
    if (c < H)
    {
        float v = shared ? shared[(long long)t * H + c] : 0.f;
        for (int s = 0; s < k; s++)
        {
            int p = t * k + s;
            v += weights[p] * expertOut[(long long)pairRow[p] * H + c];
        }
        float* y = hidden + (long long)t * H + c;
        float r = *y + (roundOut ? round_bf16(v) : v);
        *y = roundOut ? round_bf16(r) : r;
    }
}

// moe_combine fused with the next layer's input RMSNorm: hidden[t] gets its expert rows (same sums, same
// order as moe_combine), then y[t] = w ⊙ hidden[t] / rms(hidden[t]). One block per token, every value read
// once into registers (H ≤ 32·blockDim, H a multiple of 4, k ≤ 16; the caller checks).
extern "C" __global__ void moe_combine_rmsnorm(const float* expertOut, const int* pairRow, const float* weights, int k, int H,
                                               const float* shared, float* hidden, const float* w, float eps, float* y)
{
    inputs_ready();
    __shared__ float red[32];
    __shared__ int rows[16];
    __shared__ float ws[16];
    int t = blockIdx.x;
    if (threadIdx.x < k)
    {
        rows[threadIdx.x] = pairRow[t * k + threadIdx.x];
        ws[threadIdx.x] = weights[t * k + threadIdx.x];
    }
    __syncthreads();
    float* hr = hidden + (long long)t * H;
    float4 v[8];
    float ss = 0.f;
#pragma unroll
    for (int j = 0; j < 8; j++)
    {
        int c = (threadIdx.x + j * blockDim.x) * 4;
        if (c < H)
        {
            float4 a = shared ? *(const float4*)(shared + (long long)t * H + c) : make_float4(0.f, 0.f, 0.f, 0.f);
            for (int s = 0; s < k; s++)
            {
                float4 e = *(const float4*)(expertOut + (long long)rows[s] * H + c);
                float g = ws[s];
                a.x += g * e.x;
                a.y += g * e.y;
                a.z += g * e.z;
                a.w += g * e.w;
            }
            float4 h = *(const float4*)(hr + c);
            h = make_float4(h.x + a.x, h.y + a.y, h.z + a.z, h.w + a.w);
            *(float4*)(hr + c) = h;
            v[j] = h;
            ss += h.x * h.x + h.y * h.y + h.z * h.z + h.w * h.w;
        }
        else
        {
            v[j] = make_float4(0.f, 0.f, 0.f, 0.f);
        }
    }
    ss = block_sum(ss, red);
    float inv = rsqrtf(ss / H + eps);
    float* yr = y + (long long)t * H;
#pragma unroll
    for (int j = 0; j < 8; j++)
    {
        int c = (threadIdx.x + j * blockDim.x) * 4;
        if (c < H)
        {
            float4 g = *(const float4*)(w + c);
            *(float4*)(yr + c) = make_float4(g.x * (v[j].x * inv), g.y * (v[j].y * inv), g.z * (v[j].z * inv), g.w * (v[j].w * inv));
        }
    }
}

// The tensor-core expert path: row j of [pairs, H] (pairs in expert order) is the hidden row of pair
// order[j] (token order[j] / topk), written as a bf16 pair (hi, lo; see to_bf16_pair).
extern "C" __global__ void moe_gather_pair(const float* x, long long ldx, const int* order, int topk, int pairs, int H, u16* hi, u16* lo)
{
    inputs_ready();
    int j = blockIdx.x;
    if (j >= pairs) return;
    const float* src = x + (long long)(order[j] / topk) * ldx;
    long long base = (long long)j * H;
    for (int c = threadIdx.x; c < H; c += blockDim.x)
    {
        float v = src[c];
        u16 h = to_bf16_bits(v);
        hi[base + c] = h;
        lo[base + c] = to_bf16_bits(v - bf16_to_f(h));
    }
}

// Expert choice and the bookkeeping around the grouped expert products, all on the device so a decode
// step never waits for the host.

#define MAX_EXPERTS 512
#define MAX_GROUPS 64

__device__ void sort_pairs(const int* ids, int pairs, int E, int* offsets, int* order, int* pairRow, int* active);

// Per-warp scratch of route_token: scores and selection values of E experts, taken flags, group scores.
struct RouteScratch
{
    float* scores;
    float* choice;
    unsigned char* taken;
    float* groupScore;
    int* kept;
};

// Bytes of RouteScratch for one warp (each piece 4-byte aligned).
constexpr __device__ int route_scratch_bytes(int E) { return E * 8 + ((E + 3) & ~3) + MAX_GROUPS * 8; }

__device__ __forceinline__ RouteScratch route_scratch(unsigned char* base, int E)
{
    RouteScratch r;
    r.scores = (float*)base;
    r.choice = r.scores + E;
    r.taken = (unsigned char*)(r.choice + E);
    r.groupScore = (float*)(r.taken + ((E + 3) & ~3));
    r.kept = (int*)(r.groupScore + MAX_GROUPS);
    return r;
}

// DeepSeek's router for one token, by one warp, in the order of the host Router: score (0 softmax, 1
// sigmoid) the logits l[0, E) (read past L1: another block may have written them), add the bias for
// selection, keep the best groups (method 1: group_limited_greedy, 2: noaux_tc, 0: plain top-k), top-k
// with ties to the lower index, weights from the unbiased scores, optional normalisation, scaling. The
// chosen ids stay in registers (lane j holds slot j) until they are written to out and w.
__device__ __forceinline__ void route_token(const float* l, const float* bias, int E, int k, int nGroup, int topkGroup, int scoring,
                                            int method, int normalize, float routedScale, int* out, float* w, RouteScratch r)
{
    int lane = threadIdx.x & 31;
    if (scoring == 1)
    {
        for (int e = lane; e < E; e += 32) r.scores[e] = 1.f / (1.f + expf(-__ldcg(l + e)));
    }
    else
    {
        float mx = NEG_INF;
        for (int e = lane; e < E; e += 32) mx = fmaxf(mx, __ldcg(l + e));
        mx = warp_max(mx);
        double sum = 0;
        for (int e = lane; e < E; e += 32) sum += exp((double)(__ldcg(l + e) - mx));
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, o);
        for (int e = lane; e < E; e += 32) r.scores[e] = (float)(exp((double)(__ldcg(l + e) - mx)) / sum);
    }
    __syncwarp();
    for (int e = lane; e < E; e += 32)
    {
        r.choice[e] = bias ? r.scores[e] + bias[e] : r.scores[e];
        r.taken[e] = 0;
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
                    float v = r.choice[e];
                    if (v > best) { second = best; best = v; }
                    else if (v > second) second = v;
                }
                r.groupScore[g] = per > 1 ? best + second : best;
            }
            else
            {
                float best = NEG_INF;
                for (int e = g * per; e < (g + 1) * per; e++) best = fmaxf(best, r.scores[e]);
                r.groupScore[g] = best;
            }
            r.kept[g] = 0;
        }
        __syncwarp();
        if (lane == 0)
        {
            for (int j = 0; j < topkGroup; j++)
            {
                int bestGroup = -1;
                for (int g = 0; g < nGroup; g++)
                    if (!r.kept[g] && (bestGroup < 0 || r.groupScore[g] > r.groupScore[bestGroup])) bestGroup = g;
                r.kept[bestGroup] = 1;
            }
        }
        __syncwarp();
        for (int e = lane; e < E; e += 32)
            if (!r.kept[e / per]) r.choice[e] = 0.f;
        __syncwarp();
    }
    int mine = 0;
    for (int j = 0; j < k; j++)
    {
        // The best untaken expert; on equal values the lower index wins (as the host's top-k).
        float bv = NEG_INF;
        int bi = 0x7fffffff;
        for (int e = lane; e < E; e += 32)
        {
            if (r.taken[e]) continue;
            float v = r.choice[e];
            if (bi == 0x7fffffff || v > bv) { bv = v; bi = e; }
        }
#pragma unroll
        for (int o = 16; o > 0; o >>= 1)
        {
            float ov = __shfl_xor_sync(0xffffffffu, bv, o);
            int oi = __shfl_xor_sync(0xffffffffu, bi, o);
            if (oi != 0x7fffffff && (bi == 0x7fffffff || ov > bv || (ov == bv && oi < bi))) { bv = ov; bi = oi; }
        }
        if (lane == j) mine = bi;
        if (lane == 0) r.taken[bi] = 1;
        __syncwarp();
    }
    // Lane j (< k ≤ 32) holds slot j; every lane sums the slots in slot order, as the host does.
    float score = lane < k ? r.scores[mine] : 0.f;
    double sum = 0;
    for (int j = 0; j < k; j++) sum += __shfl_sync(0xffffffffu, score, j);
    float denominator = (float)sum + 1e-20f;
    if (lane < k)
    {
        float v = normalize && k > 1 ? score / denominator : score;
        out[lane] = mine;
        w[lane] = v * routedScale;
    }
}

// One block of 32 threads per token (blockIdx.x): route_token on its row of logits.
template <bool SORT>
__device__ __forceinline__ void route_body(const float* logits, const float* bias, int E, int k, int nGroup, int topkGroup, int scoring,
                                           int method, int normalize, float routedScale, int* ids, float* weights, int* ticket,
                                           int* offsets, int* order, int* pairRow, int* active)
{
    inputs_ready();
    __shared__ __align__(16) unsigned char scratch[route_scratch_bytes(MAX_EXPERTS)];
    int t = blockIdx.x;
    route_token(logits + (long long)t * E, bias, E, k, nGroup, topkGroup, scoring, method, normalize, routedScale, ids + (long long)t * k,
                weights + (long long)t * k, route_scratch(scratch, E));
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
        if (threadIdx.x < 32)
        {
            // Prefix sums and the list of experts with pairs, 32 experts per step of the first warp.
            int lane = threadIdx.x, carry = 0, n = 0;
            for (int e0 = 0; e0 < E; e0 += 32)
            {
                int e = e0 + lane, c = e < E ? count[e] : 0, v = c;
#pragma unroll
                for (int o = 1; o < 32; o <<= 1)
                {
                    int y = __shfl_up_sync(0xffffffffu, v, o);
                    if (lane >= o) v += y;
                }
                if (e < E) start[e + 1] = carry + v;
                unsigned used = __ballot_sync(0xffffffffu, c > 0);
                if (c > 0) active[1 + n + __popc(used & ((1u << lane) - 1u))] = e;
                n += __popc(used);
                carry += __shfl_sync(0xffffffffu, v, 31);
            }
            if (lane == 0)
            {
                start[0] = 0;
                active[0] = n;
            }
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
    float4 v[8], gw[8];
    float ss = 0.f;
#pragma unroll
    for (int j = 0; j < 8; j++)
    {
        int c = (threadIdx.x + j * blockDim.x) * 4;
        if (c < H)
        {
            // Every load of the column in flight at once (a loop of one L2 round trip per expert row was most
            // of this launch's time), then the sums in slot order.
            float4 a = shared ? *(const float4*)(shared + (long long)t * H + c) : make_float4(0.f, 0.f, 0.f, 0.f);
            float4 h = *(const float4*)(hr + c);
            gw[j] = *(const float4*)(w + c);   // with the rows, not after the sum: one round trip less
            float4 e[16];
#pragma unroll
            for (int s = 0; s < 16; s++)
                e[s] = s < k ? *(const float4*)(expertOut + (long long)rows[s] * H + c) : make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll
            for (int s = 0; s < 16; s++)
            {
                if (s < k)
                {
                    float g = ws[s];
                    a.x += g * e[s].x;
                    a.y += g * e[s].y;
                    a.z += g * e[s].z;
                    a.w += g * e[s].w;
                }
            }
            h = make_float4(h.x + a.x, h.y + a.y, h.z + a.z, h.w + a.w);
            *(float4*)(hr + c) = h;
            v[j] = h;
            ss += h.x * h.x + h.y * h.y + h.z * h.z + h.w * h.w;
        }
        else
        {
            v[j] = make_float4(0.f, 0.f, 0.f, 0.f);
            gw[j] = v[j];
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
            *(float4*)(yr + c) = normed4(gw[j], v[j], inv);
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

// The router of a small pass (decode) in one launch: its product, the routing and the sort. Each block
// computes logits[t, e] = x_t · W_e for its 2·warps rows e and every token t (the router runs in float32
// on unrounded products, as Hugging Face's gate does); the last block to finish routes the tokens, a warp
// each (route_token; scratch in dynamic shared memory, route_scratch_bytes(E) for each of min(n, warps)
// warps), then sorts the pairs by expert (sort_pairs). Three launches of a few microseconds each became one.
// With normW, x is the residual stream and the layer's FFN norm happens here too: every block norms the n
// rows into shared memory after the scratch (n·K floats, from a 16-byte boundary) with rmsnorm's
// arithmetic, and block 0 writes them to normed for the expert launches: one launch less again.
template <int WT>
__device__ __forceinline__ void gate_route_body(const void* w, const float* scales, int K, int blockRows, int blockCols, int scaleCols,
                                                const float* x, long long ldx, int n, float* logits, const float* bias, int E, int k,
                                                int nGroup, int topkGroup, int scoring, int method, int normalize, float routedScale,
                                                int* ids, float* weights, int* ticket, int* offsets, int* order, int* pairRow, int* active,
                                                const float* normW, float eps, float* normed)
{
    extern __shared__ __align__(16) unsigned char routeScratch[];
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31, warps = blockDim.x >> 5;
    int r0 = (blockIdx.x * warps + warp) * 2;
    if (normW)
    {
        // The block's router rows head for L2 while the rows are normed.
        long long rowBytes = (long long)K * WeightTraits<WT>::Bytes;
        for (int r = r0; r < min(r0 + 2, E); r++)
            for (long long off = lane * 128; off < rowBytes; off += 32 * 128)
                asm volatile("prefetch.global.L2 [%0];" ::"l"((const u8*)w + r * rowBytes + off));
        inputs_ready();
        __shared__ float red[32];
        float* xs = (float*)(routeScratch + ((min(n, warps) * route_scratch_bytes(E) + 15) & ~15));
        for (int t = 0; t < n; t++)
            norm_row(x + t * ldx, K, normW, eps, red, xs + t * K, blockIdx.x == 0 ? normed + (long long)t * K : nullptr, 0);
        __syncthreads();
        x = xs;
        ldx = K;
    }
    if (r0 < E)
    {
        const u8* rows[2];
        const float* srows[2];
#pragma unroll
        for (int r = 0; r < 2; r++)
        {
            rows[r] = r0 + r < E ? (const u8*)w + (long long)(r0 + r) * K * WeightTraits<WT>::Bytes : nullptr;
            srows[r] = WT == WT_FP8 && rows[r] ? scale_row(scales, r0 + r, blockRows, scaleCols) : nullptr;
        }
        for (int t = 0; t < n; t++)
        {
            const float* xs[1] = {x + (long long)t * ldx};
            float acc[2][1] = {{0.f}, {0.f}};
            rows_dots<WT, 1, 2>(rows, srows, K, blockCols, xs, 1, acc);
            if (lane == 0)
            {
                logits[(long long)t * E + r0] = acc[0][0];
                if (rows[1]) logits[(long long)t * E + r0 + 1] = acc[1][0];
            }
        }
    }
    inputs_ready();
    if (!last_block_of(ticket, gridDim.x)) return;
    // min(n, warps) warps route (the host sizes the scratch for as many).
    int routers = min(n, warps);
    if (warp < routers)
    {
        RouteScratch scratch = route_scratch(routeScratch + warp * route_scratch_bytes(E), E);
        for (int t = warp; t < n; t += routers)
        {
            route_token(logits + (long long)t * E, bias, E, k, nGroup, topkGroup, scoring, method, normalize, routedScale, ids + (long long)t * k,
                        weights + (long long)t * k, scratch);
            __syncwarp();
        }
    }
    __syncthreads();
    sort_pairs(ids, n * k, E, offsets, order, pairRow, active);
}

#define GATE_ROUTE_KERNEL(SUFFIX, WT)                                                                                           \
    extern "C" __global__ void __launch_bounds__(256) moe_gate_route_##SUFFIX(                                                  \
        const void* w, const float* scales, int K, int blockRows, int blockCols, int scaleCols, const float* x, long long ldx,    \
        int n, float* logits, const float* bias, int E, int k, int nGroup, int topkGroup, int scoring, int method, int normalize, \
        float routedScale, int* ids, float* weights, int* ticket, int* offsets, int* order, int* pairRow, int* active,           \
        const float* normW, float eps, float* normed)                                                                           \
    {                                                                                                                           \
        gate_route_body<WT>(w, scales, K, blockRows, blockCols, scaleCols, x, ldx, n, logits, bias, E, k, nGroup, topkGroup,     \
                            scoring, method, normalize, routedScale, ids, weights, ticket, offsets, order, pairRow, active,     \
                            normW, eps, normed);                                                                                \
    }

GATE_ROUTE_KERNEL(f32, WT_F32)
GATE_ROUTE_KERNEL(bf16, WT_BF16)
GATE_ROUTE_KERNEL(fp8, WT_FP8)

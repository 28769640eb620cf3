// Logit candidates: per row of the logits buffer the k largest values (ranked by value, then by the lower
// id, as argmax and the host sampler's top-k rank them) and the row's log-sum-exp, so that only k pairs
// per row cross PCIe. One block per row. Round r scans the row for the best element ranked strictly after
// round r-1's pick, so nothing is stored per element; the rows of a pass sit in L2 across the k scans.

__device__ __forceinline__ bool ranks_before(float v, int i, float bv, int bi) { return v > bv || (v == bv && i < bi); }

__device__ __forceinline__ void warp_best(float& v, int& i)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
    {
        float ov = __shfl_xor_sync(0xffffffffu, v, o);
        int oi = __shfl_xor_sync(0xffffffffu, i, o);
        if (ranks_before(ov, oi, v, i)) { v = ov; i = oi; }
    }
}

extern "C" __global__ void logit_candidates(const float* logits, int vocab, int k, float* values, int* ids, float* lse)
{
    inputs_ready();
    __shared__ float s32[32];
    __shared__ float bestV[32];
    __shared__ int bestI[32];
    const float* row = logits + (long long)blockIdx.x * vocab;
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;

    float m = NEG_INF;
    for (int c = threadIdx.x; c < vocab; c += blockDim.x) m = fmaxf(m, row[c]);
    m = block_max(m, s32);
    float s = 0.f;
    for (int c = threadIdx.x; c < vocab; c += blockDim.x) s += expf(row[c] - m);
    s = block_sum(s, s32);
    if (threadIdx.x == 0) lse[blockIdx.x] = m + logf(s);

    float pv = __int_as_float(0x7f800000);   // +inf: every element ranks after (+inf, -1)
    int pi = -1;
    for (int r = 0; r < k; r++)
    {
        float bv = NEG_INF;
        int bi = 0x7fffffff;
        for (int c = threadIdx.x; c < vocab; c += blockDim.x)
        {
            float v = row[c];
            bool after = v < pv || (v == pv && c > pi);
            if (after && ranks_before(v, c, bv, bi)) { bv = v; bi = c; }
        }

        warp_best(bv, bi);
        __syncthreads();   // the previous round's readers are done with bestV/bestI
        if (lane == 0) { bestV[warp] = bv; bestI[warp] = bi; }
        __syncthreads();
        if (warp == 0)
        {
            bv = lane < warps ? bestV[lane] : NEG_INF;
            bi = lane < warps ? bestI[lane] : 0x7fffffff;
            warp_best(bv, bi);
            if (lane == 0)
            {
                values[(long long)blockIdx.x * k + r] = bv;
                ids[(long long)blockIdx.x * k + r] = bi;
                bestV[0] = bv;
                bestI[0] = bi;
            }
        }

        __syncthreads();
        pv = bestV[0];
        pi = bestI[0];
    }
}

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Fathom.Core;

namespace Fathom.Backends.Cpu.Kernels;

/// <summary>
/// Q4_K weights times activations quantized as Q8_K (int8 super-blocks of 256, once per product, in
/// <see cref="Prepare"/>). Per super-block and activation row:
/// <c>d_w·d_x·Σ_j scale_j·(q4_j · q8_j) − dmin_w·d_x·Σ_j min_j·(Σ q8_j)</c>: the first sum is integer
/// (pmaddubsw of the 4-bit levels with the int8 activations, then the scale multiply-add), the second uses
/// the activations' per-32 level sums, so the mins cost one pmaddwd per super-block. Each weight
/// super-block is loaded and unpacked once for up to four activation rows.
/// </summary>
internal sealed unsafe class Q4KMatMulKernel : IMatMulKernel
{
    private const int ChunkBytes = 256 * 1024;

    /// <summary>How far ahead of the weight row being read the next bytes are requested.</summary>
    private const int PrefetchBytes = 2048;
    private const int Block = Q4K.BlockElements;
    private const int BlockBytes = Q4K.BlockBytes;
    private const int SubBlocks = 8;

    private readonly IntegerDotPath _path;

    public Q4KMatMulKernel(int workers)
        : this(workers, IntegerDotPaths.Best)
    {
    }

    /// <summary>A kernel on a chosen instruction set (tests run every path the machine has).</summary>
    internal Q4KMatMulKernel(int workers, IntegerDotPath path)
    {
        _ = workers;
        if (!IntegerDotPaths.IsSupported(path))
        {
            throw new PlatformNotSupportedException($"{path} is not supported on this CPU");
        }

        _path = path;
        Activations = new Q8KActivations(paired: path == IntegerDotPath.Avx512);
    }

    /// <summary>The activations as the last <see cref="Prepare"/> quantized them.</summary>
    internal Q8KActivations Activations { get; }

    public void Prepare(in WeightMatrix w, float* x, int rows) => Activations.Quantize(x, rows, w.Cols);

    public void Run(in WeightMatrix w, float* x, int rows, float* y, int start, int end, int worker)
    {
        switch (_path)
        {
            case IntegerDotPath.Avx512:
                Run<WideQ4KSums>(w, rows, y, start, end);
                break;
            case IntegerDotPath.AvxVnni:
                Run<NarrowQ4KSums<VnniQ4KSum>>(w, rows, y, start, end);
                break;
            case IntegerDotPath.Avx2:
                Run<NarrowQ4KSums<Avx2Q4KSum>>(w, rows, y, start, end);
                break;
            default:
                RunPortable(w, rows, y, start, end);
                break;
        }
    }

    /// <summary>
    /// The eight 6-bit scales (low 8 bytes) and mins of a super-block from its 12 packed bytes, four at a time:
    /// sub-blocks 0–3 are the low 6 bits of bytes 0–3 (scales) and 4–7 (mins); sub-blocks 4–7 take their low
    /// 4 bits from the nibbles of bytes 8–11 and their top 2 bits from the top of bytes 0–3 / 4–7.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void UnpackScaleMins(byte* packed, out ulong scales, out ulong mins)
    {
        uint u0 = *(uint*)packed, u1 = *(uint*)(packed + 4), u2 = *(uint*)(packed + 8);
        uint highScales = (u2 & 0x0F0F0F0F) | (((u0 >> 6) & 0x03030303) << 4);
        uint highMins = ((u2 >> 4) & 0x0F0F0F0F) | (((u1 >> 6) & 0x03030303) << 4);
        scales = (u0 & 0x3F3F3F3F) | ((ulong)highScales << 32);
        mins = (u1 & 0x3F3F3F3F) | ((ulong)highMins << 32);
    }

    private void Run<TBody>(in WeightMatrix w, int rows, float* y, int start, int end)
        where TBody : struct, IQ4KBlockSums
    {
        var a = Activations;
        int cols = w.Cols, outs = w.Rows, blocks = cols / Block;
        int chunk = Math.Max(4, ChunkBytes / Math.Max(cols, 1) / 4 * 4);
        for (int r0 = 0; r0 < rows; r0 += chunk)
        {
            int r1 = Math.Min(rows, r0 + chunk);
            for (int o = start; o < end; o++)
            {
                byte* wr = w.RowPointer(o);
                int r = r0;
                for (; r + 4 <= r1; r += 4)
                {
                    Dot<TBody, FourRows>(a, wr, blocks, r, y + ((long)r * outs) + o, outs);
                }

                switch (r1 - r)
                {
                    case 3:
                        Dot<TBody, ThreeRows>(a, wr, blocks, r, y + ((long)r * outs) + o, outs);
                        break;
                    case 2:
                        Dot<TBody, TwoRows>(a, wr, blocks, r, y + ((long)r * outs) + o, outs);
                        break;
                    case 1:
                        Dot<TBody, OneRow>(a, wr, blocks, r, y + ((long)r * outs) + o, outs);
                        break;
                }
            }
        }
    }

    /// <summary>One weight row against TRows activation rows starting at <paramref name="row"/>; y[k·outs] gets row + k.</summary>
    private static void Dot<TBody, TRows>(Q8KActivations a, byte* w, int blocks, int row, float* y, int outs)
        where TBody : struct, IQ4KBlockSums
        where TRows : struct, IQuantizedRowTile
    {
        nint cols = blocks * Block, sumStride = blocks * SubBlocks;
        sbyte* x0 = a.Levels + (row * cols);
        float* s0 = a.Scales + ((nint)row * blocks);
        short* m0 = a.Sums + (row * sumStride);
        nint s1 = blocks, s2 = 2 * s1, s3 = 3 * s1, m2 = 2 * sumStride, m3 = 3 * sumStride;
        Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector128<float> c0 = default, c1 = default, c2 = default, c3 = default;
        for (int b = 0; b < blocks; b++, w += BlockBytes, x0 += Block, s0++, m0 += SubBlocks)
        {
            // Rows follow each other in memory: keep the stream PrefetchBytes ahead (hardware prefetchers
            // stop at 4 KiB pages); a super-block spans up to three cache lines.
            Sse.Prefetch0(w + PrefetchBytes);
            Sse.Prefetch0(w + PrefetchBytes + 64);
            Sse.Prefetch0(w + PrefetchBytes + 128);

            // d and dmin are the two f16 halves of the first four bytes; dmin enters negated.
            var halves = Vector256.Create(*(int*)w);
            var d = QuantizedLanes.UpperHalvesToSingle(Vector256.ShiftLeft(halves, 16));
            var dmin = -QuantizedLanes.UpperHalvesToSingle(halves).GetLower();
            UnpackScaleMins(w + Q4K.ScalesOffset, out ulong packedScales, out ulong packedMins);
            var mins = Sse41.ConvertToVector128Int16(Vector128.CreateScalar(packedMins).AsByte());
            TBody.Sums<TRows>(w + Q4K.QuantsOffset, x0, cols, packedScales, out var i0, out var i1, out var i2, out var i3);

            a0 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i0), d * Vector256.Create(s0[0]), a0);
            c0 = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(Sse2.MultiplyAddAdjacent(mins, Vector128.Load(m0))), dmin * Vector128.Create(s0[0]), c0);
            if (TRows.Count > 1)
            {
                a1 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i1), d * Vector256.Create(s0[s1]), a1);
                c1 = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(Sse2.MultiplyAddAdjacent(mins, Vector128.Load(m0 + sumStride))), dmin * Vector128.Create(s0[s1]), c1);
            }

            if (TRows.Count > 2)
            {
                a2 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i2), d * Vector256.Create(s0[s2]), a2);
                c2 = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(Sse2.MultiplyAddAdjacent(mins, Vector128.Load(m0 + m2))), dmin * Vector128.Create(s0[s2]), c2);
            }

            if (TRows.Count > 3)
            {
                a3 = Fma.MultiplyAdd(Avx.ConvertToVector256Single(i3), d * Vector256.Create(s0[s3]), a3);
                c3 = Fma.MultiplyAdd(Sse2.ConvertToVector128Single(Sse2.MultiplyAddAdjacent(mins, Vector128.Load(m0 + m3))), dmin * Vector128.Create(s0[s3]), c3);
            }
        }

        y[0] = QuantizedLanes.Sum(Vector256.Create(c0, Vector128<float>.Zero) + a0);
        if (TRows.Count > 1)
        {
            y[outs] = QuantizedLanes.Sum(Vector256.Create(c1, Vector128<float>.Zero) + a1);
        }

        if (TRows.Count > 2)
        {
            y[2 * outs] = QuantizedLanes.Sum(Vector256.Create(c2, Vector128<float>.Zero) + a2);
        }

        if (TRows.Count > 3)
        {
            y[3 * outs] = QuantizedLanes.Sum(Vector256.Create(c3, Vector128<float>.Zero) + a3);
        }
    }

    private void RunPortable(in WeightMatrix w, int rows, float* y, int start, int end)
    {
        int cols = w.Cols, outs = w.Rows, blocks = cols / Block;
        for (int o = start; o < end; o++)
        {
            byte* wr = w.RowPointer(o);
            for (int r = 0; r < rows; r++)
            {
                sbyte* x = Activations.Levels + ((long)r * cols);
                float* s = Activations.Scales + ((long)r * blocks);
                short* sums = Activations.Sums + ((long)r * blocks * SubBlocks);
                float total = 0;
                for (int b = 0; b < blocks; b++)
                {
                    byte* wb = wr + (b * BlockBytes);
                    byte* q = wb + Q4K.QuantsOffset;
                    int scaled = 0, mins = 0;
                    for (int j = 0; j < SubBlocks; j++)
                    {
                        Q4K.GetScaleMin(j, wb + Q4K.ScalesOffset, out byte scale, out byte min);
                        // Sub-block j: bytes 32·(j/2) onwards, low nibbles for even j, high for odd.
                        byte* bytes = q + (32 * (j / 2));
                        int shift = 4 * (j % 2), dot = 0;
                        for (int i = 0; i < 32; i++)
                        {
                            dot += ((bytes[i] >> shift) & 0xF) * x[(b * Block) + (32 * j) + i];
                        }

                        scaled += scale * dot;
                        mins += min * sums[(b * SubBlocks) + j];
                    }

                    float d = QuantizedLanes.HalfToSingle(*(ushort*)wb), dmin = QuantizedLanes.HalfToSingle(*(ushort*)(wb + 2));
                    total += s[b] * ((d * scaled) - (dmin * mins));
                }

                y[((long)r * outs) + o] = total;
            }
        }
    }
}

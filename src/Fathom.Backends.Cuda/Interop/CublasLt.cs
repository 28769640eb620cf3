namespace Fathom.Backends.Cuda.Interop;

/// <summary>
/// bf16 × bf16 → float32 products through cuBLASLt for the large-batch paths (prefill, big decode
/// batches), where the tensor cores beat a weight-streaming kernel. One plan per shape, chosen once by
/// cuBLASLt's heuristic and kept.
/// </summary>
internal sealed unsafe class CublasLt : IDisposable
{
    private const int ComputeType32F = 68;
    private const int DataTypeF32 = 0;
    private const int DataTypeBF16 = 14;
    private const int DescTransA = 3;
    private const int DescTransB = 4;
    private const int PreferenceMaxWorkspace = 1;
    private const int PreferenceMinAlignmentA = 5;
    private const int HeuristicResultBytes = 96;
    private static readonly string[] Names = ["libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"];

    private readonly delegate* unmanaged<nint*, int> _create;
    private readonly delegate* unmanaged<nint, int> _destroy;
    private readonly delegate* unmanaged<nint*, int, int, int> _descCreate;
    private readonly delegate* unmanaged<nint, int, void*, nuint, int> _descSet;
    private readonly delegate* unmanaged<nint*, int, ulong, ulong, long, int> _layoutCreate;
    private readonly delegate* unmanaged<nint*, int> _prefCreate;
    private readonly delegate* unmanaged<nint, int, void*, nuint, int> _prefSet;
    private readonly delegate* unmanaged<nint, nint, nint, nint, nint, nint, nint, int, void*, int*, int> _heuristic;
    private readonly delegate* unmanaged<nint, nint, void*, ulong, nint, ulong, nint, void*, ulong, nint, ulong, nint, void*, ulong, nuint, nint, int> _matmul;
    private readonly nint _handle;
    private readonly ulong _workspace;
    private readonly nuint _workspaceBytes;
    private readonly Dictionary<(int N, int K, int M, long Ldy, bool Loose), Plan> _plans = [];

    public CublasLt(IEnumerable<string> folders, ulong workspace, nuint workspaceBytes)
    {
        nint lib = NativeLibraryProbe.Load("cuBLASLt", Names, folders);
        _create = (delegate* unmanaged<nint*, int>)NativeLibraryProbe.Export(lib, "cuBLASLt", "cublasLtCreate");
        _destroy = (delegate* unmanaged<nint, int>)NativeLibraryProbe.Export(lib, "cuBLASLt", "cublasLtDestroy");
        _descCreate = (delegate* unmanaged<nint*, int, int, int>)NativeLibraryProbe.Export(lib, "cuBLASLt", "cublasLtMatmulDescCreate");
        _descSet = (delegate* unmanaged<nint, int, void*, nuint, int>)NativeLibraryProbe.Export(lib, "cuBLASLt", "cublasLtMatmulDescSetAttribute");
        _layoutCreate = (delegate* unmanaged<nint*, int, ulong, ulong, long, int>)NativeLibraryProbe.Export(lib, "cuBLASLt", "cublasLtMatrixLayoutCreate");
        _prefCreate = (delegate* unmanaged<nint*, int>)NativeLibraryProbe.Export(lib, "cuBLASLt", "cublasLtMatmulPreferenceCreate");
        _prefSet = (delegate* unmanaged<nint, int, void*, nuint, int>)NativeLibraryProbe.Export(lib, "cuBLASLt", "cublasLtMatmulPreferenceSetAttribute");
        _heuristic = (delegate* unmanaged<nint, nint, nint, nint, nint, nint, nint, int, void*, int*, int>)NativeLibraryProbe.Export(lib, "cuBLASLt", "cublasLtMatmulAlgoGetHeuristic");
        _matmul = (delegate* unmanaged<nint, nint, void*, ulong, nint, ulong, nint, void*, ulong, nint, ulong, nint, void*, ulong, nuint, nint, int>)NativeLibraryProbe.Export(lib, "cuBLASLt", "cublasLtMatmul");
        nint handle;
        Check(_create(&handle), "cublasLtCreate");
        _handle = handle;
        _workspace = workspace;
        _workspaceBytes = workspaceBytes;
    }

    /// <summary>y[M, ldy] (columns [0, N)) = x[M, K] · W[N, K]ᵀ (+ y when <paramref name="accumulate"/>), bf16 inputs, float32 output.</summary>
    /// <remarks>
    /// <paramref name="loose"/>: operands may be aligned to only 16 bytes (row slices of a grouped buffer),
    /// so the plan is chosen among the algorithms that allow that instead of cuBLASLt's default 256.
    /// </remarks>
    public void Linear(ulong weightBf16, int n, int k, ulong xBf16, int m, ulong y, long ldy, bool accumulate, nint stream, bool loose = false)
    {
        var plan = PlanFor(n, k, m, ldy, loose);
        float alpha = 1f, beta = accumulate ? 1f : 0f;
        Check(
            _matmul(_handle, plan.Desc, &alpha, weightBf16, plan.A, xBf16, plan.B, &beta, y, plan.C, y, plan.C, (void*)plan.Algo, _workspace, _workspaceBytes, stream),
            $"cublasLtMatmul [{m}x{k}]·[{n}x{k}]ᵀ");
    }

    /// <summary>
    /// y[M, ldy] (+)= x · Wᵀ with x = x_hi + x_lo and W = W_hi (+ W_lo when <paramref name="wLo"/> is not 0),
    /// each a bf16 plane: x_hi·W_hi + x_lo·W_hi (+ x_hi·W_lo) accumulated in float32, about 16 significant
    /// bits of each input instead of 8 (x_lo·W_lo is below float32's own rounding of the sum).
    /// </summary>
    public void LinearPair(ulong wHi, ulong wLo, int n, int k, ulong xHi, ulong xLo, int m, ulong y, long ldy, bool accumulate, nint stream, bool loose = false)
    {
        Linear(wHi, n, k, xHi, m, y, ldy, accumulate, stream, loose);
        Linear(wHi, n, k, xLo, m, y, ldy, accumulate: true, stream, loose);
        if (wLo != 0)
        {
            Linear(wLo, n, k, xHi, m, y, ldy, accumulate: true, stream, loose);
        }
    }

    private Plan PlanFor(int n, int k, int m, long ldy, bool loose)
    {
        if (_plans.TryGetValue((n, k, m, ldy, loose), out var plan))
        {
            return plan;
        }

        nint desc, a, b, c, pref;
        Check(_descCreate(&desc, ComputeType32F, DataTypeF32), "cublasLtMatmulDescCreate");
        int transpose = 1, none = 0;
        Check(_descSet(desc, DescTransA, &transpose, sizeof(int)), "cublasLtMatmulDescSetAttribute(TRANSA)");
        Check(_descSet(desc, DescTransB, &none, sizeof(int)), "cublasLtMatmulDescSetAttribute(TRANSB)");
        Check(_layoutCreate(&a, DataTypeBF16, (ulong)k, (ulong)n, k), "cublasLtMatrixLayoutCreate(A)");
        Check(_layoutCreate(&b, DataTypeBF16, (ulong)k, (ulong)m, k), "cublasLtMatrixLayoutCreate(B)");
        Check(_layoutCreate(&c, DataTypeF32, (ulong)n, (ulong)m, ldy), "cublasLtMatrixLayoutCreate(C)");
        Check(_prefCreate(&pref), "cublasLtMatmulPreferenceCreate");
        ulong bytes = _workspaceBytes;
        Check(_prefSet(pref, PreferenceMaxWorkspace, &bytes, sizeof(ulong)), "cublasLtMatmulPreferenceSetAttribute");
        if (loose)
        {
            uint alignment = 16;
            for (int operand = 0; operand < 4; operand++)
            {
                Check(_prefSet(pref, PreferenceMinAlignmentA + operand, &alignment, sizeof(uint)), "cublasLtMatmulPreferenceSetAttribute(MIN_ALIGNMENT)");
            }
        }

        void* results = NativeMemoryHold(HeuristicResultBytes);
        int found;
        Check(_heuristic(_handle, desc, a, b, c, c, pref, 1, results, &found), "cublasLtMatmulAlgoGetHeuristic");
        if (found < 1)
        {
            throw new CudaException($"cuBLASLt has no algorithm for [{m}x{k}]·[{n}x{k}]ᵀ bf16→f32");
        }

        plan = new Plan(desc, a, b, c, (nint)results);
        _plans[(n, k, m, ldy, loose)] = plan;
        return plan;
    }

    private static void* NativeMemoryHold(int bytes) => System.Runtime.InteropServices.NativeMemory.AllocZeroed((nuint)bytes);

    private static void Check(int status, string call)
    {
        if (status != 0)
        {
            throw new CudaException($"{call} failed: cuBLAS status {status}");
        }
    }

    public void Dispose()
    {
        foreach (var plan in _plans.Values)
        {
            System.Runtime.InteropServices.NativeMemory.Free((void*)plan.Algo);
        }

        _plans.Clear();
        _destroy(_handle);
    }

    private readonly record struct Plan(nint Desc, nint A, nint B, nint C, nint Algo);
}

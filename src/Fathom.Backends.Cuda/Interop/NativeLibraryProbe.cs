using System.Runtime.InteropServices;

namespace Fathom.Backends.Cuda.Interop;

/// <summary>Finds a CUDA toolkit library (NVRTC, cuBLASLt) by its versioned names in the loader path and the given folders.</summary>
internal static class NativeLibraryProbe
{
    /// <summary>Folders a CUDA toolkit usually lives in, tried after the loader's own search path.</summary>
    public static readonly string[] DefaultFolders =
    [
        "/usr/local/cuda/lib64",
        "/usr/local/cuda/targets/x86_64-linux/lib",
        "/usr/lib/x86_64-linux-gnu",
    ];

    public static nint Load(string what, IReadOnlyList<string> names, IEnumerable<string> folders)
    {
        foreach (string name in names)
        {
            if (NativeLibrary.TryLoad(name, out nint handle))
            {
                return handle;
            }
        }

        var tried = new List<string>();
        foreach (string folder in folders.Concat(DefaultFolders))
        {
            foreach (string name in names)
            {
                string path = Path.Combine(folder, name);
                tried.Add(path);
                if (File.Exists(path) && NativeLibrary.TryLoad(path, out nint handle))
                {
                    return handle;
                }
            }
        }

        throw new CudaException($"{what} was not found: tried {string.Join(", ", names)} on the loader path and in {string.Join(", ", folders.Concat(DefaultFolders).Distinct())}; install the CUDA toolkit's {what} or pass its folder (--cuda-lib)");
    }

    public static nint Export(nint library, string what, string name) =>
        NativeLibrary.TryGetExport(library, name, out nint address) ? address : throw new CudaException($"{what} has no function {name} (too old a version?)");
}

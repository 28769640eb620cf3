using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace Fathom.Backends.Cuda.Interop;

/// <summary>
/// Compiles the kernel sources with NVRTC into a cubin for the device's architecture, caching the result
/// on disk by a hash of the source, options and NVRTC version, so later runs skip the compiler.
/// </summary>
internal sealed unsafe class Nvrtc
{
    private static readonly string[] Names = ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"];

    private readonly delegate* unmanaged<int*, int*, int> _version;
    private readonly delegate* unmanaged<nint*, byte*, byte*, int, byte**, byte**, int> _create;
    private readonly delegate* unmanaged<nint, int, byte**, int> _compile;
    private readonly delegate* unmanaged<nint, nuint*, int> _logSize;
    private readonly delegate* unmanaged<nint, byte*, int> _log;
    private readonly delegate* unmanaged<nint, nuint*, int> _cubinSize;
    private readonly delegate* unmanaged<nint, byte*, int> _cubin;
    private readonly delegate* unmanaged<nint*, int> _destroy;
    private readonly delegate* unmanaged<int, nint> _errorString;

    public Nvrtc(IEnumerable<string> folders)
    {
        nint lib = NativeLibraryProbe.Load("NVRTC", Names, folders);
        _version = (delegate* unmanaged<int*, int*, int>)NativeLibraryProbe.Export(lib, "NVRTC", "nvrtcVersion");
        _create = (delegate* unmanaged<nint*, byte*, byte*, int, byte**, byte**, int>)NativeLibraryProbe.Export(lib, "NVRTC", "nvrtcCreateProgram");
        _compile = (delegate* unmanaged<nint, int, byte**, int>)NativeLibraryProbe.Export(lib, "NVRTC", "nvrtcCompileProgram");
        _logSize = (delegate* unmanaged<nint, nuint*, int>)NativeLibraryProbe.Export(lib, "NVRTC", "nvrtcGetProgramLogSize");
        _log = (delegate* unmanaged<nint, byte*, int>)NativeLibraryProbe.Export(lib, "NVRTC", "nvrtcGetProgramLog");
        _cubinSize = (delegate* unmanaged<nint, nuint*, int>)NativeLibraryProbe.Export(lib, "NVRTC", "nvrtcGetCUBINSize");
        _cubin = (delegate* unmanaged<nint, byte*, int>)NativeLibraryProbe.Export(lib, "NVRTC", "nvrtcGetCUBIN");
        _destroy = (delegate* unmanaged<nint*, int>)NativeLibraryProbe.Export(lib, "NVRTC", "nvrtcDestroyProgram");
        _errorString = (delegate* unmanaged<int, nint>)NativeLibraryProbe.Export(lib, "NVRTC", "nvrtcGetErrorString");
        int major, minor;
        Check(_version(&major, &minor), "nvrtcVersion");
        Version = $"{major}.{minor}";
    }

    public string Version { get; }

    /// <summary>The cubin of <paramref name="source"/> for sm_<paramref name="arch"/>, from the cache folder when it was built before.</summary>
    public byte[] CompileCached(string source, string name, int arch, string? cacheFolder, out bool fromCache, IReadOnlyList<string>? defines = null)
    {
        string[] options = [$"--gpu-architecture=sm_{arch}", "--std=c++17", "--fmad=true", "-DFATHOM_NVRTC=1", .. defines ?? []];
        string key = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{Version}\n{string.Join(' ', options)}\n{source}")))[..24];
        string? path = cacheFolder is null ? null : Path.Combine(cacheFolder, $"{name}-sm{arch}-{key}.cubin");
        if (path is not null && File.Exists(path))
        {
            fromCache = true;
            return File.ReadAllBytes(path);
        }

        byte[] cubin = Compile(source, name, options);
        fromCache = false;
        if (path is not null)
        {
            try
            {
                Directory.CreateDirectory(cacheFolder!);
                string temp = path + $".{Environment.ProcessId}.tmp";
                File.WriteAllBytes(temp, cubin);
                File.Move(temp, path, overwrite: true);
            }
            catch (IOException)
            {
                // The cache only saves time: a read-only or full disk just means compiling next time too.
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return cubin;
    }

    private byte[] Compile(string source, string name, string[] options)
    {
        nint program;
        byte[] src = Encoding.UTF8.GetBytes(source + "\0");
        byte[] file = Encoding.UTF8.GetBytes(name + ".cu\0");
        fixed (byte* s = src, f = file)
        {
            Check(_create(&program, s, f, 0, null, null), "nvrtcCreateProgram");
        }

        try
        {
            var handles = options.Select(o => GCHandle.Alloc(Encoding.UTF8.GetBytes(o + "\0"), GCHandleType.Pinned)).ToArray();
            try
            {
                var pointers = stackalloc byte*[options.Length];
                for (int i = 0; i < handles.Length; i++)
                {
                    pointers[i] = (byte*)handles[i].AddrOfPinnedObject();
                }

                int result = _compile(program, options.Length, pointers);
                if (result != 0)
                {
                    throw new CudaException($"NVRTC could not compile the kernels {name}.cu ({ErrorText(result)}):\n{Log(program)}");
                }
            }
            finally
            {
                foreach (var h in handles)
                {
                    h.Free();
                }
            }

            nuint size;
            Check(_cubinSize(program, &size), "nvrtcGetCUBINSize");
            var cubin = new byte[(int)size];
            fixed (byte* c = cubin)
            {
                Check(_cubin(program, c), "nvrtcGetCUBIN");
            }

            return cubin;
        }
        finally
        {
            _destroy(&program);
        }
    }

    private string Log(nint program)
    {
        nuint size;
        if (_logSize(program, &size) != 0 || size <= 1)
        {
            return string.Empty;
        }

        var log = new byte[(int)size];
        fixed (byte* l = log)
        {
            _log(program, l);
        }

        return Encoding.UTF8.GetString(log, 0, log.Length - 1);
    }

    private string ErrorText(int result) => Marshal.PtrToStringUTF8(_errorString(result)) ?? result.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private void Check(int result, string call)
    {
        if (result != 0)
        {
            throw new CudaException($"{call} failed: {ErrorText(result)}");
        }
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using Fathom.Cli;
using Fathom.TestSupport;
using Xunit;
using Xunit.Abstractions;

if (args.Length > 0 && args[0] == "fathom")
{
    return FathomCli.Run(args[1..], CliConsole.Standard());
}

if (args.Length > 0 && args[0] == "test")
{
    if (GpuPresence.Reason is { } reason)
    {
        Console.WriteLine($"no GPU: {reason}");
        return 1;
    }

    return TestRunner.Run(TestRunner.GpuAssemblies, TestRunner.IsGpuTest, args.Length > 1 ? args[1] : null);
}

if (args.Length > 0 && args[0] == "cpu-tests")
{
    // The CPU kernels' tests on this machine's CPU: where it has AVX-512, the 512-bit paths the
    // development machines may lack run too.
    Console.WriteLine($"CPU: AVX-512 F {System.Runtime.Intrinsics.X86.Avx512F.IsSupported}, BW {System.Runtime.Intrinsics.X86.Avx512BW.IsSupported}, "
        + $"AVX2 {System.Runtime.Intrinsics.X86.Avx2.IsSupported}, AVX-VNNI {System.Runtime.Intrinsics.X86.AvxVnni.IsSupported}, {Environment.ProcessorCount} threads");
    return TestRunner.Run(TestRunner.CpuAssemblies, _ => true, args.Length > 1 ? args[1] : null);
}

Console.Error.WriteLine("usage: fathom-gpuhost fathom ARGS... | fathom-gpuhost test [FILTER] | fathom-gpuhost cpu-tests [FILTER]");
return 2;

/// <summary>
/// Runs tests of the test assemblies by reflection: every [Fact]/[Theory] method a selector accepts (the
/// GPU tests: [CudaFact]/[CudaTheory]) with its [MemberData]/[InlineData] rows, on a fresh instance per
/// case, as xunit would; tests whose attribute says Skip are counted as skipped.
/// </summary>
internal static class TestRunner
{
    public static readonly Assembly[] GpuAssemblies =
    [
        typeof(Fathom.Model.Tests.GoldenCase).Assembly,
        typeof(Fathom.Engine.Tests.GreedyGoldenTests).Assembly,
        typeof(Fathom.Backends.Cuda.Tests.GemvKernelTests).Assembly,
        typeof(Fathom.Server.Tests.GpuServingTests).Assembly,
    ];

    public static readonly Assembly[] CpuAssemblies =
    [
        typeof(Fathom.Core.Tests.AffineQuantSearchTests).Assembly,
        typeof(Fathom.Backends.Cpu.Tests.Avx512FactAttribute).Assembly,
    ];

    public static bool IsGpuTest(MethodInfo method) =>
        method.GetCustomAttribute<CudaFactAttribute>() is not null || method.GetCustomAttribute<CudaTheoryAttribute>() is not null;

    public static int Run(Assembly[] assemblies, Func<MethodInfo, bool> selected, string? filter)
    {
        int passed = 0, failed = 0, skipped = 0;
        foreach (var type in assemblies.SelectMany(a => a.GetTypes()).Where(t => t.IsClass && !t.IsAbstract).OrderBy(t => t.FullName, StringComparer.Ordinal))
        {
            foreach (var method in type.GetMethods(BindingFlags.Public | BindingFlags.Instance))
            {
                var attribute = method.GetCustomAttribute<FactAttribute>();
                if (attribute is null || !selected(method))
                {
                    continue;
                }

                string name = $"{type.FullName}.{method.Name}";
                if (filter is not null && !name.Contains(filter, StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                if (attribute.Skip is { } why)
                {
                    skipped++;
                    Console.WriteLine($"SKIP {name}: {why}");
                    continue;
                }

                foreach (var row in attribute is TheoryAttribute ? Rows(type, method) : [[]])
                {
                    string label = row.Length == 0 ? name : $"{name}({string.Join(", ", row.Select(v => Convert.ToString(v, CultureInfo.InvariantCulture)))})";
                    var output = new ConsoleOutput();
                    long start = Stopwatch.GetTimestamp();
                    try
                    {
                        object instance = Create(type, output);
                        try
                        {
                            // async tests: wait for the task as xunit would (its faults surface here).
                            if (method.Invoke(instance, row) is Task task)
                            {
                                task.GetAwaiter().GetResult();
                            }
                        }
                        finally
                        {
                            (instance as IDisposable)?.Dispose();
                        }

                        passed++;
                        Console.WriteLine($"PASS {label} [{Stopwatch.GetElapsedTime(start).TotalSeconds:F2} s]");
                    }
                    catch (TargetInvocationException e) when (e.InnerException is not null)
                    {
                        failed++;
                        Console.WriteLine($"FAIL {label} [{Stopwatch.GetElapsedTime(start).TotalSeconds:F2} s]\n  {e.InnerException.GetType().Name}: {e.InnerException.Message}\n{e.InnerException.StackTrace}");
                    }
                    catch (Exception e)
                    {
                        failed++;
                        Console.WriteLine($"FAIL {label}\n  {e}");
                    }

                    foreach (string line in output.Lines)
                    {
                        Console.WriteLine($"    {line}");
                    }
                }
            }
        }

        Console.WriteLine($"{passed} passed, {failed} failed, {skipped} skipped");
        return failed == 0 && passed > 0 ? 0 : 1;
    }

    private static IEnumerable<object?[]> Rows(Type type, MethodInfo method)
    {
        foreach (var inline in method.GetCustomAttributes<InlineDataAttribute>())
        {
            foreach (var row in inline.GetData(method))
            {
                yield return row;
            }
        }

        foreach (var member in method.GetCustomAttributes<MemberDataAttribute>())
        {
            var source = member.MemberType ?? type;
            const BindingFlags statics = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.FlattenHierarchy;
            object? data = source.GetProperty(member.MemberName, statics) is { } property ? property.GetValue(null)
                : source.GetMethod(member.MemberName, statics) is { } factory ? factory.Invoke(null, member.Parameters)
                : source.GetField(member.MemberName, statics) is { } field ? field.GetValue(null)
                : throw new InvalidOperationException($"{source.Name}.{member.MemberName} not found");
            foreach (object?[] row in (IEnumerable<object?[]>)data!)
            {
                yield return row;
            }
        }
    }

    private static object Create(Type type, ITestOutputHelper output)
    {
        var ctor = type.GetConstructors().OrderByDescending(c => c.GetParameters().Length).First();
        var parameters = ctor.GetParameters().Select(p => p.ParameterType == typeof(ITestOutputHelper)
            ? (object)output
            : throw new InvalidOperationException($"{type.Name} needs a {p.ParameterType.Name}, which this runner does not provide")).ToArray();
        return ctor.Invoke(parameters);
    }

    private sealed class ConsoleOutput : ITestOutputHelper
    {
        public List<string> Lines { get; } = [];

        public void WriteLine(string message) => Lines.Add(message);

        public void WriteLine(string format, params object[] args) => Lines.Add(string.Format(CultureInfo.InvariantCulture, format, args));
    }
}

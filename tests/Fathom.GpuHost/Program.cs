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
    return GpuTestRunner.Run(args.Length > 1 ? args[1] : null);
}

Console.Error.WriteLine("usage: fathom-gpuhost fathom ARGS... | fathom-gpuhost test [FILTER]");
return 2;

/// <summary>
/// Runs the GPU tests of the test assemblies by reflection: every method marked [CudaFact] or
/// [CudaTheory] (with its [MemberData]/[InlineData] rows), on a fresh instance per case, as xunit would.
/// </summary>
internal static class GpuTestRunner
{
    private static readonly Assembly[] Assemblies =
    [
        typeof(Fathom.Model.Tests.GoldenCase).Assembly,
        typeof(Fathom.Engine.Tests.GreedyGoldenTests).Assembly,
        typeof(Fathom.Backends.Cuda.Tests.GemvKernelTests).Assembly,
        typeof(Fathom.Server.Tests.GpuServingTests).Assembly,
    ];

    public static int Run(string? filter)
    {
        if (GpuPresence.Reason is { } reason)
        {
            Console.WriteLine($"no GPU: {reason}");
            return 1;
        }

        int passed = 0, failed = 0;
        foreach (var type in Assemblies.SelectMany(a => a.GetTypes()).Where(t => t.IsClass && !t.IsAbstract).OrderBy(t => t.FullName, StringComparer.Ordinal))
        {
            foreach (var method in type.GetMethods(BindingFlags.Public | BindingFlags.Instance))
            {
                bool fact = method.GetCustomAttribute<CudaFactAttribute>() is not null;
                bool theory = method.GetCustomAttribute<CudaTheoryAttribute>() is not null;
                if (!fact && !theory)
                {
                    continue;
                }

                string name = $"{type.FullName}.{method.Name}";
                if (filter is not null && !name.Contains(filter, StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                foreach (var row in fact ? [[]] : Rows(type, method))
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

        Console.WriteLine($"{passed} passed, {failed} failed");
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
            var property = source.GetProperty(member.MemberName, BindingFlags.Public | BindingFlags.Static)
                ?? throw new InvalidOperationException($"{source.Name}.{member.MemberName} not found");
            foreach (object?[] row in (IEnumerable<object?[]>)property.GetValue(null)!)
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

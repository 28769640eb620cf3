using System.Globalization;

namespace Fathom.Cli;

/// <summary>A one-line progress bar on the error stream, redrawn in place; silent when the console is not interactive.</summary>
public sealed class ProgressLine(CliConsole console, int width = 30)
{
    private bool _shown;

    public void Show(string stage, int done, int total)
    {
        if (!console.Interactive || total <= 0)
        {
            return;
        }

        int filled = (int)((long)width * Math.Clamp(done, 0, total) / total);
        console.Error.Write(string.Create(CultureInfo.InvariantCulture, $"\r[{new string('#', filled)}{new string('.', width - filled)}] {done}/{total} {stage,-16}"));
        _shown = true;
    }

    public void End()
    {
        if (_shown)
        {
            console.Error.WriteLine();
            _shown = false;
        }
    }
}

/// <summary>An <see cref="IProgress{T}"/> that reports on the calling thread (System's Progress posts to the thread pool).</summary>
public sealed class SynchronousProgress<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}

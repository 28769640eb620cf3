namespace Fathom.Backends.Cpu.Tests;

/// <summary>Vector lengths with tails past every vector width, and random inputs for the element-wise ops.</summary>
internal static class VectorData
{
    public static readonly int[] Lengths = [1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 257, 300, 1000];

    public static float[] Uniform(int length, double low, double high, int seed)
    {
        var random = new Random(seed);
        var x = new float[length];
        for (int i = 0; i < length; i++)
        {
            x[i] = (float)(low + (random.NextDouble() * (high - low)));
        }

        return x;
    }
}

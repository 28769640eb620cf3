namespace Fathom.Core;

/// <summary>Float buffers on the pinned object heap, so that matrix views over them keep a stable address.</summary>
public static class PinnedBuffer
{
    public static float[] Allocate(int length) => GC.AllocateArray<float>(Math.Max(length, 1), pinned: true);

    /// <summary>Returns <paramref name="buffer"/> if it holds at least <paramref name="length"/> floats, else a larger pinned one.</summary>
    public static float[] Ensure(float[]? buffer, int length)
    {
        if (buffer is not null && buffer.Length >= length)
        {
            return buffer;
        }

        int size = Math.Max(length, buffer is null ? 0 : buffer.Length + (buffer.Length / 2));
        return Allocate(size);
    }
}

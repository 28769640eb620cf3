namespace Fathom.Tokenizer.Bpe;

/// <summary>
/// GPT-2's reversible map between the 256 byte values and 256 printable characters, which byte-level BPE
/// vocabularies are written in (a space byte is 'Ġ', a newline 'Ċ').
/// </summary>
internal static class ByteLevelAlphabet
{
    private static readonly char[] ByteToChar = BuildByteToChar();
    private static readonly short[] CharToByte = BuildCharToByte();

    public static char ToChar(byte value) => ByteToChar[value];

    public static bool TryGetByte(char c, out byte value)
    {
        var mapped = c < CharToByte.Length ? CharToByte[c] : -1;
        value = (byte)mapped;
        return mapped >= 0;
    }

    /// <summary>Encodes UTF-8 bytes as their byte-level characters.</summary>
    public static string Encode(ReadOnlySpan<byte> bytes)
    {
        return string.Create(bytes.Length, bytes.ToArray(), static (chars, source) =>
        {
            for (var i = 0; i < source.Length; i++)
            {
                chars[i] = ByteToChar[source[i]];
            }
        });
    }

    /// <summary>
    /// Appends the bytes a token stands for, as HF's ByteLevel decoder computes them: every character mapped back
    /// to its byte, or, when any character is outside the alphabet (added tokens such as "&lt;｜User｜&gt;"),
    /// the token's own UTF-8 bytes.
    /// </summary>
    public static void DecodeToken(string token, List<byte> output)
    {
        var start = output.Count;
        foreach (var c in token)
        {
            if (!TryGetByte(c, out var value))
            {
                output.RemoveRange(start, output.Count - start);
                output.AddRange(System.Text.Encoding.UTF8.GetBytes(token));
                return;
            }

            output.Add(value);
        }
    }

    private static char[] BuildByteToChar()
    {
        var map = new char[256];
        var next = 256;
        for (var b = 0; b < 256; b++)
        {
            var printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = printable ? (char)b : (char)next++;
        }

        return map;
    }

    private static short[] BuildCharToByte()
    {
        var map = new short[ByteToChar.Max() + 1];
        Array.Fill(map, (short)-1);
        for (var b = 0; b < 256; b++)
        {
            map[ByteToChar[b]] = (short)b;
        }

        return map;
    }
}

using System.Text;

namespace Fathom.Tokenizer;

/// <summary>
/// Decodes ids one at a time for streaming output. A token can end in the middle of a UTF-8 character
/// (emoji and CJK are often split over two or three tokens), so bytes that could still become a character
/// are held back until the next ids complete them. Concatenating every <see cref="Push"/> and the final
/// <see cref="Flush"/> gives exactly <see cref="TextTokenizer.Decode"/> of all the ids.
/// Not thread-safe: one instance per stream.
/// </summary>
public sealed class StreamingDecoder
{
    private readonly Vocabulary _vocabulary;
    private byte[] _pending = new byte[16];
    private int _pendingCount;

    internal StreamingDecoder(Vocabulary vocabulary, bool skipSpecialTokens)
    {
        _vocabulary = vocabulary;
        SkipSpecialTokens = skipSpecialTokens;
    }

    /// <summary>Whether special tokens (BOS, EOS, chat markers) are left out of the text.</summary>
    public bool SkipSpecialTokens { get; }

    /// <summary>Adds one id and returns the text it completes (possibly empty, never half a character).</summary>
    public string Push(int id)
    {
        var bytes = _vocabulary.BytesOf(id, SkipSpecialTokens);
        if (_pendingCount + bytes.Length > _pending.Length)
        {
            Array.Resize(ref _pending, Math.Max(_pending.Length * 2, _pendingCount + bytes.Length));
        }

        bytes.CopyTo(_pending.AsSpan(_pendingCount));
        _pendingCount += bytes.Length;

        var held = IncompleteSuffixLength(_pending.AsSpan(0, _pendingCount));
        var ready = _pendingCount - held;
        if (ready == 0)
        {
            return "";
        }

        var text = Encoding.UTF8.GetString(_pending, 0, ready);
        _pending.AsSpan(ready, held).CopyTo(_pending);
        _pendingCount = held;
        return text;
    }

    /// <summary>Returns whatever is held back; bytes that never completed a character become U+FFFD, as in HF's decode.</summary>
    public string Flush()
    {
        var text = Encoding.UTF8.GetString(_pending, 0, _pendingCount);
        _pendingCount = 0;
        return text;
    }

    /// <summary>Drops anything held back, to start a new stream.</summary>
    public void Reset() => _pendingCount = 0;

    /// <summary>
    /// The length of the trailing bytes that are a proper, still valid prefix of a UTF-8 character.
    /// Anything already invalid is not held: it decodes to U+FFFD the same way now as later.
    /// </summary>
    internal static int IncompleteSuffixLength(ReadOnlySpan<byte> bytes)
    {
        for (var length = 1; length <= Math.Min(3, bytes.Length); length++)
        {
            var lead = bytes[^length];
            if (lead < 0x80)
            {
                return 0;
            }

            if (lead < 0xC0)
            {
                continue;
            }

            var needed = lead switch
            {
                >= 0xC2 and <= 0xDF => 2,
                >= 0xE0 and <= 0xEF => 3,
                >= 0xF0 and <= 0xF4 => 4,
                _ => 0,
            };
            if (needed <= length)
            {
                return 0;
            }

            // The second byte's range depends on the lead (no overlongs, surrogates or values past U+10FFFF).
            if (length >= 2)
            {
                var second = bytes[^(length - 1)];
                var (min, max) = lead switch
                {
                    0xE0 => (0xA0, 0xBF),
                    0xED => (0x80, 0x9F),
                    0xF0 => (0x90, 0xBF),
                    0xF4 => (0x80, 0x8F),
                    _ => (0x80, 0xBF),
                };
                if (second < min || second > max)
                {
                    return 0;
                }
            }

            return length;
        }

        return 0;
    }
}

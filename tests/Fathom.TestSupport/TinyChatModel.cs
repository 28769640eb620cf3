using System.Text;
using System.Text.Json;

namespace Fathom.TestSupport;

/// <summary>
/// The golden tiny-v3 weights plus a small byte-level tokenizer (DeepSeek special tokens at ids 0-3, one
/// token per byte at 4-259, no merges) and DeepSeek-V3's chat template, so that text commands can run.
/// </summary>
public sealed class TinyChatModel : IDisposable
{
    private readonly TempDirectory _temp = new();

    public TinyChatModel()
    {
        Directory = _temp.Path;
        string source = Path.Combine(TestPaths.GoldenCase("tiny-v3"), "model");
        foreach (string file in System.IO.Directory.GetFiles(source))
        {
            File.Copy(file, Path.Combine(Directory, Path.GetFileName(file)));
        }

        string[] specials = ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>"];
        var vocab = new Dictionary<string, int>();
        for (int i = 0; i < specials.Length; i++)
        {
            vocab[specials[i]] = i;
        }

        var byteChars = ByteLevelAlphabet();
        for (int b = 0; b < 256; b++)
        {
            vocab[byteChars[b]] = 4 + b;
        }

        var tokenizer = new
        {
            version = "1.0",
            added_tokens = specials.Select((s, i) => new { id = i, content = s, single_word = false, lstrip = false, rstrip = false, normalized = false, special = i < 2 }).ToArray(),
            normalizer = (object?)null,
            pre_tokenizer = new { type = "ByteLevel", add_prefix_space = false, trim_offsets = true, use_regex = true },
            post_processor = (object?)null,
            decoder = new { type = "ByteLevel", add_prefix_space = true, trim_offsets = true, use_regex = true },
            model = new { type = "BPE", dropout = (object?)null, unk_token = (object?)null, fuse_unk = false, byte_fallback = false, vocab, merges = Array.Empty<string>() },
        };
        File.WriteAllText(Path.Combine(Directory, "tokenizer.json"), JsonSerializer.Serialize(tokenizer));

        using var real = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(TestPaths.DeepSeekV3Tokenizer, "tokenizer_config.json")));
        var config = new
        {
            add_bos_token = true,
            add_eos_token = false,
            bos_token = specials[0],
            eos_token = specials[1],
            chat_template = real.RootElement.GetProperty("chat_template").GetString(),
        };
        File.WriteAllText(Path.Combine(Directory, "tokenizer_config.json"), JsonSerializer.Serialize(config));
    }

    public string Directory { get; }

    public void Dispose() => _temp.Dispose();

    /// <summary>GPT-2's reversible byte → printable character table used by byte-level BPE.</summary>
    private static string[] ByteLevelAlphabet()
    {
        var result = new string[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            result[b] = new Rune(printable ? b : next++).ToString();
        }

        return result;
    }
}

using System.Text;
using Fathom.Tokenizer.AddedTokens;
using Fathom.Tokenizer.Bpe;
using Fathom.Tokenizer.Json;
using Fathom.Tokenizer.Loading;
using Fathom.Tokenizer.PreTokenization;

namespace Fathom.Tokenizer;

/// <summary>
/// A byte-level BPE tokenizer loaded from a Hugging Face <c>tokenizer.json</c> (and <c>tokenizer_config.json</c>),
/// producing the same ids as HF <c>tokenizers</c>. Immutable after loading and safe to share between threads.
/// </summary>
public sealed class TextTokenizer
{
    public const string TokenizerFileName = "tokenizer.json";

    /// <summary>Newer checkpoints ship the chat template as a file of its own.</summary>
    public const string ChatTemplateFileName = "chat_template.jinja";

    private readonly IReadOnlyList<IPreTokenizer> _preTokenizers;
    private readonly BpeModel _model;
    private readonly AddedTokenMatcher _rawMatcher;
    private readonly AddedTokenMatcher _normalizedMatcher;
    private readonly Vocabulary _vocabulary;
    private readonly int[] _prefixIds;
    private readonly int[] _suffixIds;

    private TextTokenizer(ReadOnlyMemory<byte> tokenizerJson, TokenizerConfig config)
    {
        using var document = JsonField.ParseDocument(TokenizerFileName, tokenizerJson);
        var root = JsonField.Root(TokenizerFileName, document);
        root.RequireKind(System.Text.Json.JsonValueKind.Object, "an object");

        _model = BpeModelReader.Read(root.Required("model"));
        PreTokenizerReader.RequireNoNormalizer(root.Optional("normalizer"));
        _preTokenizers = PreTokenizerReader.Read(root.Optional("pre_tokenizer"));
        DecoderReader.RequireByteLevel(root.Optional("decoder"), TokenizerFileName);
        var template = PostProcessorReader.ReadTemplate(root.Optional("post_processor"));
        var addedTokens = AddedTokensReader.Read(root.Optional("added_tokens"));

        // HF matches tokens with normalized=false in the raw text first, then the others in the normalized pieces.
        _rawMatcher = new AddedTokenMatcher(addedTokens.Where(t => !t.Normalized));
        _normalizedMatcher = new AddedTokenMatcher(addedTokens.Where(t => t.Normalized));
        _vocabulary = new Vocabulary(_model.Vocab, addedTokens);

        BosToken = config.BosToken;
        EosToken = config.EosToken;
        BosId = config.BosToken is null ? null : _vocabulary.TokenToId(config.BosToken);
        EosId = config.EosToken is null ? null : _vocabulary.TokenToId(config.EosToken);
        _prefixIds = SpecialIds(config.AddBosToken, BosId, "add_bos_token", "bos_token", template?.Prefix);
        _suffixIds = SpecialIds(config.AddEosToken, EosId, "add_eos_token", "eos_token", template?.Suffix);
        ChatTemplate = config.ChatTemplate is null ? null : ParseChatTemplate(config.ChatTemplate, config.BosToken, config.EosToken);
    }

    /// <summary>Max id + 1 over the BPE vocabulary and the added tokens.</summary>
    public int VocabSize => _vocabulary.Size;

    /// <summary>The id of tokenizer_config.json's <c>bos_token</c>, if any.</summary>
    public int? BosId { get; }

    /// <summary>The id of tokenizer_config.json's <c>eos_token</c>, if any.</summary>
    public int? EosId { get; }

    /// <summary>The text of the BOS token (e.g. "&lt;｜begin▁of▁sentence｜&gt;"), if any.</summary>
    public string? BosToken { get; }

    /// <summary>The text of the EOS token, if any.</summary>
    public string? EosToken { get; }

    /// <summary>The chat template from tokenizer_config.json (or chat_template.jinja), or null when there is none.</summary>
    public ChatTemplate? ChatTemplate { get; }

    /// <summary>The ids <see cref="Encode"/> puts before the text when asked to add special tokens.</summary>
    public IReadOnlyList<int> PrefixSpecialIds => _prefixIds;

    /// <summary>The ids <see cref="Encode"/> puts after the text when asked to add special tokens.</summary>
    public IReadOnlyList<int> SuffixSpecialIds => _suffixIds;

    /// <summary>Loads <c>tokenizer.json</c> and, when present, <c>tokenizer_config.json</c> (and <c>chat_template.jinja</c>) from a folder.</summary>
    public static TextTokenizer Load(string directory)
    {
        var tokenizerPath = Path.Combine(directory, TokenizerFileName);
        if (!File.Exists(tokenizerPath))
        {
            throw new TokenizerFormatException(TokenizerFileName, null, $"file not found in '{directory}'");
        }

        var configPath = Path.Combine(directory, TokenizerConfig.FileName);
        var config = File.Exists(configPath) ? TokenizerConfig.Parse(File.ReadAllBytes(configPath)) : TokenizerConfig.Empty;
        var templatePath = Path.Combine(directory, ChatTemplateFileName);
        if (config.ChatTemplate is null && File.Exists(templatePath))
        {
            config = config with { ChatTemplate = File.ReadAllText(templatePath) };
        }

        return new TextTokenizer(File.ReadAllBytes(tokenizerPath), config);
    }

    /// <summary>Builds a tokenizer from the text of tokenizer.json and, optionally, tokenizer_config.json.</summary>
    public static TextTokenizer FromJson(string tokenizerJson, string? tokenizerConfigJson = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizerJson);
        var config = tokenizerConfigJson is null ? TokenizerConfig.Empty : TokenizerConfig.Parse(Encoding.UTF8.GetBytes(tokenizerConfigJson));
        return new TextTokenizer(Encoding.UTF8.GetBytes(tokenizerJson), config);
    }

    /// <summary>
    /// Encodes text. Added tokens written in the text (e.g. "&lt;｜User｜&gt;") become their ids.
    /// With <paramref name="addSpecialTokens"/> the BOS/EOS that tokenizer_config.json asks for are added, as HF does by default.
    /// </summary>
    public int[] Encode(string text, bool addSpecialTokens = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        if (addSpecialTokens)
        {
            ids.AddRange(_prefixIds);
        }

        var segments = new List<(ReadOnlyMemory<char> Text, AddedToken? Token)>();
        var normalizedSegments = new List<(ReadOnlyMemory<char> Text, AddedToken? Token)>();
        _rawMatcher.Split(ReplaceLoneSurrogates(text).AsMemory(), segments);
        foreach (var (raw, rawToken) in segments)
        {
            if (rawToken is not null)
            {
                ids.Add(rawToken.Id);
                continue;
            }

            normalizedSegments.Clear();
            _normalizedMatcher.Split(raw, normalizedSegments);
            foreach (var (piece, token) in normalizedSegments)
            {
                if (token is not null)
                {
                    ids.Add(token.Id);
                }
                else
                {
                    EncodeOrdinaryText(piece, ids);
                }
            }
        }

        if (addSpecialTokens)
        {
            ids.AddRange(_suffixIds);
        }

        return [.. ids];
    }

    /// <summary>Decodes ids to text: token bytes concatenated, invalid UTF-8 replaced by U+FFFD; unknown ids are skipped.</summary>
    public string Decode(ReadOnlySpan<int> ids, bool skipSpecialTokens = false)
    {
        var bytes = new List<byte>(ids.Length * 4);
        foreach (var id in ids)
        {
            bytes.AddRange(_vocabulary.BytesOf(id, skipSpecialTokens));
        }

        return Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));
    }

    /// <summary>Starts an incremental decoder for streaming generation.</summary>
    public StreamingDecoder CreateStreamingDecoder(bool skipSpecialTokens = false) => new(_vocabulary, skipSpecialTokens);

    /// <summary>
    /// Renders the conversation with the chat template and encodes the prompt without adding special tokens,
    /// as HF's <c>apply_chat_template(tokenize=True)</c> does: the template writes the BOS itself, so there is exactly one.
    /// </summary>
    public (string Prompt, int[] Ids) ApplyChatTemplate(
        IReadOnlyList<ChatMessage> messages,
        bool addGenerationPrompt = true,
        IReadOnlyDictionary<string, object?>? extraVariables = null)
    {
        var template = ChatTemplate ?? throw new InvalidOperationException(
            "This tokenizer has no chat template (no 'chat_template' in tokenizer_config.json and no chat_template.jinja).");
        var prompt = template.Render(messages, addGenerationPrompt, extraVariables);
        return (prompt, Encode(prompt, addSpecialTokens: false));
    }

    /// <summary>The token's text as written in the vocabulary (byte-level alphabet, e.g. "Ġthe"), or null for an unknown id.</summary>
    public string? IdToToken(int id) => _vocabulary.IdToToken(id);

    /// <summary>The id of a token written as in the vocabulary, or null.</summary>
    public int? TokenToId(string token) => _vocabulary.TokenToId(token);

    /// <summary>Whether the id is an added token marked special (skipped by <c>skipSpecialTokens</c>).</summary>
    public bool IsSpecial(int id) => _vocabulary.IsSpecial(id);

    private void EncodeOrdinaryText(ReadOnlyMemory<char> text, List<int> ids)
    {
        if (text.IsEmpty)
        {
            return;
        }

        var pieces = new List<ReadOnlyMemory<char>> { text };
        var next = new List<ReadOnlyMemory<char>>();
        foreach (var step in _preTokenizers)
        {
            next.Clear();
            foreach (var piece in pieces)
            {
                step.Split(piece, next);
            }

            // HF drops empty pieces after every split.
            next.RemoveAll(static p => p.IsEmpty);
            (pieces, next) = (next, pieces);
        }

        foreach (var piece in pieces)
        {
            _model.Encode(piece.Span, ids);
        }
    }

    private int[] SpecialIds(bool? configured, int? id, string flagName, string tokenName, int[]? fromTemplate)
    {
        if (configured is null)
        {
            return fromTemplate ?? [];
        }

        if (configured == false)
        {
            return [];
        }

        return id is { } value
            ? [value]
            : throw new TokenizerFormatException(TokenizerConfig.FileName, flagName, $"is true but '{tokenName}' is missing or not in the vocabulary");
    }

    private static ChatTemplate ParseChatTemplate(string source, string? bosToken, string? eosToken)
    {
        try
        {
            return ChatTemplate.Parse(source, bosToken, eosToken);
        }
        catch (ChatTemplateException ex)
        {
            throw new TokenizerFormatException(TokenizerConfig.FileName, "chat_template", ex.Message, ex);
        }
    }

    /// <summary>Text from .NET may hold unpaired surrogates, which UTF-8 (and HF) cannot; they become U+FFFD.</summary>
    private static string ReplaceLoneSurrogates(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsSurrogate(text[i]))
            {
                if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
                {
                    i++;
                    continue;
                }

                return string.Create(text.Length, text, static (chars, source) =>
                {
                    source.CopyTo(chars);
                    for (var j = 0; j < chars.Length; j++)
                    {
                        if (char.IsHighSurrogate(chars[j]) && j + 1 < chars.Length && char.IsLowSurrogate(chars[j + 1]))
                        {
                            j++;
                        }
                        else if (char.IsSurrogate(chars[j]))
                        {
                            chars[j] = '\uFFFD';
                        }
                    }
                });
            }
        }

        return text;
    }
}

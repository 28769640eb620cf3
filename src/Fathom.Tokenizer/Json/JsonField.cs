using System.Text.Json;

namespace Fathom.Tokenizer.Json;

/// <summary>
/// A JSON value together with the file and path it came from, so that every parse error can say
/// exactly which field of which file is wrong.
/// </summary>
internal readonly struct JsonField
{
    public JsonField(string fileName, string path, JsonElement element)
    {
        FileName = fileName;
        Path = path;
        Element = element;
    }

    public string FileName { get; }

    public string Path { get; }

    public JsonElement Element { get; }

    public JsonValueKind Kind => Element.ValueKind;

    public bool IsNull => Element.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined;

    /// <summary>Parses a whole file's text; invalid JSON becomes a <see cref="TokenizerFormatException"/>.</summary>
    public static JsonDocument ParseDocument(string fileName, ReadOnlyMemory<byte> utf8Json)
    {
        try
        {
            return JsonDocument.Parse(utf8Json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException ex)
        {
            throw new TokenizerFormatException(fileName, null, $"invalid JSON ({ex.Message})", ex);
        }
    }

    public static JsonField Root(string fileName, JsonDocument document) => new(fileName, "", document.RootElement);

    public TokenizerFormatException Error(string problem) =>
        new(FileName, Path.Length == 0 ? null : Path, problem);

    public JsonField Required(string name)
    {
        var field = Optional(name);
        return field ?? throw Child(name).Error("is missing");
    }

    /// <summary>The named property, or null when it is absent or JSON null.</summary>
    public JsonField? Optional(string name)
    {
        RequireKind(JsonValueKind.Object, "an object");
        if (!Element.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return new JsonField(FileName, ChildPath(name), value);
    }

    public string GetString()
    {
        RequireKind(JsonValueKind.String, "a string");
        return Element.GetString()!;
    }

    public bool GetBoolean()
    {
        if (Kind is not (JsonValueKind.True or JsonValueKind.False))
        {
            throw Error($"expected a boolean, found {Describe(Kind)}");
        }

        return Element.GetBoolean();
    }

    public int GetInt32()
    {
        RequireKind(JsonValueKind.Number, "a number");
        if (!Element.TryGetInt32(out var value))
        {
            throw Error($"expected a 32-bit integer, found {Element.GetRawText()}");
        }

        return value;
    }

    public double GetDouble()
    {
        RequireKind(JsonValueKind.Number, "a number");
        return Element.GetDouble();
    }

    public bool OptionalBoolean(string name, bool fallback) => Optional(name)?.GetBoolean() ?? fallback;

    public IEnumerable<JsonField> Items()
    {
        RequireKind(JsonValueKind.Array, "an array");
        var index = 0;
        foreach (var item in Element.EnumerateArray())
        {
            yield return new JsonField(FileName, $"{Path}[{index}]", item);
            index++;
        }
    }

    public void RequireKind(JsonValueKind kind, string description)
    {
        if (Kind != kind)
        {
            throw Error($"expected {description}, found {Describe(Kind)}");
        }
    }

    private JsonField Child(string name) => new(FileName, ChildPath(name), default);

    private string ChildPath(string name) => Path.Length == 0 ? name : $"{Path}.{name}";

    private static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };
}

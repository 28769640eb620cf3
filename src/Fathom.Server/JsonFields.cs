using System.Text.Json;

namespace Fathom.Server;

/// <summary>Typed reads of request fields; a field of the wrong type or range is a 400 naming it.</summary>
internal static class JsonFields
{
    public static JsonElement? Get(JsonElement obj, string name) =>
        obj.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public static string? String(JsonElement obj, string name)
    {
        if (Get(obj, name) is not { } v)
        {
            return null;
        }

        return v.ValueKind == JsonValueKind.String ? v.GetString() : throw WrongType(name, "a string", v);
    }

    public static bool? Bool(JsonElement obj, string name)
    {
        if (Get(obj, name) is not { } v)
        {
            return null;
        }

        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw WrongType(name, "a boolean", v),
        };
    }

    public static double? Number(JsonElement obj, string name, double min, double max)
    {
        if (Get(obj, name) is not { } v)
        {
            return null;
        }

        if (v.ValueKind != JsonValueKind.Number || !v.TryGetDouble(out double d) || !double.IsFinite(d))
        {
            throw WrongType(name, "a number", v);
        }

        return d >= min && d <= max ? d : throw ApiException.Invalid($"'{name}' must be in [{min}, {max}] (got {d})", name);
    }

    public static long? Integer(JsonElement obj, string name, long min, long max)
    {
        if (Get(obj, name) is not { } v)
        {
            return null;
        }

        if (v.ValueKind != JsonValueKind.Number)
        {
            throw WrongType(name, "an integer", v);
        }

        if (!v.TryGetInt64(out long i))
        {
            // Integral values beyond 64 bits are out of range, fractional ones are the wrong type.
            if (v.TryGetDouble(out double d) && Math.Floor(d) == d)
            {
                throw ApiException.Invalid($"'{name}' must be in [{min}, {max}] (got {v.GetRawText()})", name);
            }

            throw WrongType(name, "an integer", v);
        }

        return i >= min && i <= max ? i : throw ApiException.Invalid($"'{name}' must be in [{min}, {max}] (got {i})", name);
    }

    public static JsonElement? Object(JsonElement obj, string name)
    {
        if (Get(obj, name) is not { } v)
        {
            return null;
        }

        return v.ValueKind == JsonValueKind.Object ? v : throw WrongType(name, "an object", v);
    }

    public static ApiException WrongType(string name, string expected, JsonElement got) =>
        ApiException.Invalid($"'{name}' must be {expected} (got {Describe(got)})", name);

    private static string Describe(JsonElement v) => v.ValueKind switch
    {
        JsonValueKind.String => "a string",
        JsonValueKind.Number => $"the number {v.GetRawText()}",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Array => "an array",
        JsonValueKind.Object => "an object",
        _ => "null",
    };
}

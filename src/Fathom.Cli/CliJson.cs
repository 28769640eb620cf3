using System.Text.Encodings.Web;
using System.Text.Json;

namespace Fathom.Cli;

internal static class CliJson
{
    /// <summary>snake_case keys, and non-ASCII text written as itself rather than \u escapes.</summary>
    public static JsonSerializerOptions Options { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };
}

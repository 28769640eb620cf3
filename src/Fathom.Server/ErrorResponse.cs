using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Fathom.Server;

/// <summary>Writes errors in OpenAI's shape: {"error":{"message","type","param","code"}}.</summary>
internal static class ErrorResponse
{
    public static async Task WriteAsync(HttpContext context, int status, string message, string type, string? param = null, string? code = null)
    {
        if (context.Response.HasStarted)
        {
            return;
        }

        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.Body.WriteAsync(Build(message, type, param, code), context.RequestAborted).ConfigureAwait(false);
    }

    public static Task WriteAsync(HttpContext context, ApiException e) => WriteAsync(context, e.Status, e.Message, e.Type, e.Param, e.Code);

    public static byte[] Build(string message, string type, string? param, string? code)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream))
        {
            w.WriteStartObject();
            w.WriteStartObject("error");
            w.WriteString("message", message);
            w.WriteString("type", type);
            WriteNullable(w, "param", param);
            WriteNullable(w, "code", code);
            w.WriteEndObject();
            w.WriteEndObject();
        }

        return stream.ToArray();
    }

    private static void WriteNullable(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }
}

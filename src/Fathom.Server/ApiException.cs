namespace Fathom.Server;

/// <summary>A request the API refuses, with the HTTP status and OpenAI's error fields.</summary>
public sealed class ApiException(int status, string message, string type, string? param = null, string? code = null) : Exception(message)
{
    public int Status { get; } = status;

    public string Type { get; } = type;

    public string? Param { get; } = param;

    public string? Code { get; } = code;

    public static ApiException Invalid(string message, string? param = null, string? code = null) => new(400, message, "invalid_request_error", param, code);

    public static ApiException NotFound(string message, string? param = null, string code = "not_found") => new(404, message, "invalid_request_error", param, code);
}

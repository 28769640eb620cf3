using System.Text.Json.Serialization;

namespace Fathom.Server;

internal sealed record HealthStatus(string Status);

internal sealed record ModelCard(string Id, string Object, long Created, string OwnedBy, int MaxModelLen);

internal sealed record ModelList(string Object, IReadOnlyList<ModelCard> Data);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(HealthStatus))]
[JsonSerializable(typeof(ModelList))]
[JsonSerializable(typeof(ModelCard))]
internal sealed partial class ServerJsonContext : JsonSerializerContext;

internal static class DateTimeExtensions
{
    public static long ToUnixTimeSecondsSafe(this DateTime utc) => new DateTimeOffset(utc, TimeSpan.Zero).ToUnixTimeSeconds();
}

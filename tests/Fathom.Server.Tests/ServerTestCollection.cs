using Xunit;

namespace Fathom.Server.Tests;

/// <summary>Server tests run one at a time: each starts its own engine thread and timing tests need a quiet CPU.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ServerTestCollection
{
    public const string Name = "server";
}

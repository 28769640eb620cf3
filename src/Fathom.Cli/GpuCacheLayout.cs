namespace Fathom.Cli;

/// <summary>The device latent cache of a GPU pass: bytes in all, tokens per page, sequences at once.</summary>
public sealed record GpuCacheLayout(long Bytes, int PageTokens, int MaxSequences);

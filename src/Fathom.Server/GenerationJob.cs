using Fathom.Engine;

namespace Fathom.Server;

/// <summary>What an API request asks for, parsed and checked: engine inputs plus how to answer.</summary>
internal sealed record GenerationJob(
    int[] Prompt,
    SamplingParams Sampling,
    StopConditions Stop,
    int N,
    int TopLogprobs,
    bool Stream,
    bool IncludeUsage,
    bool StartsInThinking,
    bool ReturnTokenIds);

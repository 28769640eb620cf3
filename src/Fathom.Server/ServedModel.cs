using Fathom.Engine.Serving;
using Fathom.Tokenizer;

namespace Fathom.Server;

/// <summary>The model behind the API: its public name, the engine that runs it, and its tokenizer (null: token-id prompts only).</summary>
public sealed record ServedModel(string Name, Scheduler Scheduler, TextTokenizer? Tokenizer);

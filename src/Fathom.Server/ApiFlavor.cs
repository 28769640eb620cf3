namespace Fathom.Server;

/// <summary>Which API shape a generation answers in.</summary>
internal enum ApiFlavor
{
    /// <summary>/v1/chat/completions.</summary>
    Chat,

    /// <summary>/v1/completions.</summary>
    Completion,

    /// <summary>/generate and /chat: {"text": ...}.</summary>
    Simple,
}

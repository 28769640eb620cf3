namespace Fathom.Model;

/// <summary>A checkpoint or config that cannot be used; the message names the file and the tensor or field.</summary>
public sealed class ModelFormatException : Exception
{
    public ModelFormatException(string message)
        : base(message)
    {
    }

    public ModelFormatException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

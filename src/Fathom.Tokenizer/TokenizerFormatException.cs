namespace Fathom.Tokenizer;

/// <summary>
/// A tokenizer file is missing, is not valid JSON, or describes something this tokenizer does not support.
/// The message names the file and, where one is at fault, the JSON field.
/// </summary>
public sealed class TokenizerFormatException : Exception
{
    public TokenizerFormatException()
    {
    }

    public TokenizerFormatException(string message)
        : base(message)
    {
    }

    public TokenizerFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public TokenizerFormatException(string fileName, string? field, string problem, Exception? innerException = null)
        : base(Describe(fileName, field, problem), innerException)
    {
        FileName = fileName;
        Field = field;
    }

    /// <summary>The file at fault, e.g. "tokenizer.json".</summary>
    public string? FileName { get; }

    /// <summary>The JSON path of the field at fault, e.g. "model.type"; null when the whole file is at fault.</summary>
    public string? Field { get; }

    private static string Describe(string fileName, string? field, string problem) =>
        field is null ? $"{fileName}: {problem}" : $"{fileName}: field '{field}': {problem}";
}

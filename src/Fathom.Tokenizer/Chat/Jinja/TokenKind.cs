namespace Fathom.Tokenizer.Jinja;

internal enum TokenKind
{
    /// <summary>Literal template text between tags.</summary>
    Text,

    /// <summary><c>{{</c></summary>
    VariableBegin,

    /// <summary><c>}}</c></summary>
    VariableEnd,

    /// <summary><c>{%</c></summary>
    BlockBegin,

    /// <summary><c>%}</c></summary>
    BlockEnd,

    Name,
    String,
    Integer,
    Float,
    Operator,
    EndOfTemplate,
}

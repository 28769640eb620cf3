using System.Globalization;

namespace Fathom.Tokenizer.Text;

/// <summary>
/// Code-point sets for the Unicode properties that Oniguruma patterns name (general categories and a few
/// derived classes), computed from .NET's own Unicode tables over the whole code space, astral planes included.
/// </summary>
internal static class UnicodeProperties
{
    private static readonly Lazy<CodePointSet[]> CategorySets = new(BuildCategorySets);

    private static readonly Dictionary<string, UnicodeCategory[]> NamedCategories = BuildNames();

    /// <summary>Oniguruma's Unicode <c>\s</c>: the White_Space property.</summary>
    public static CodePointSet WhiteSpace { get; } = CodePointSet.FromRanges(
    [
        (0x09, 0x0D), (0x20, 0x20), (0x85, 0x85), (0xA0, 0xA0), (0x1680, 0x1680), (0x2000, 0x200A),
        (0x2028, 0x2029), (0x202F, 0x202F), (0x205F, 0x205F), (0x3000, 0x3000),
    ]);

    /// <summary>Oniguruma's Unicode <c>\d</c>: Decimal_Number.</summary>
    public static CodePointSet Digit => Category(UnicodeCategory.DecimalDigitNumber);

    /// <summary>Oniguruma's Unicode <c>\w</c>: letters, marks, decimal numbers and connector punctuation.</summary>
    public static CodePointSet Word => Categories(
    [
        UnicodeCategory.UppercaseLetter, UnicodeCategory.LowercaseLetter, UnicodeCategory.TitlecaseLetter,
        UnicodeCategory.ModifierLetter, UnicodeCategory.OtherLetter, UnicodeCategory.NonSpacingMark,
        UnicodeCategory.SpacingCombiningMark, UnicodeCategory.EnclosingMark, UnicodeCategory.DecimalDigitNumber,
        UnicodeCategory.ConnectorPunctuation,
    ]);

    /// <summary>Oniguruma's <c>\h</c>: an ASCII hexadecimal digit.</summary>
    public static CodePointSet HexDigit { get; } = CodePointSet.FromRanges([('0', '9'), ('A', 'F'), ('a', 'f')]);

    public static CodePointSet Category(UnicodeCategory category) => CategorySets.Value[(int)category];

    public static CodePointSet Categories(IEnumerable<UnicodeCategory> categories) =>
        categories.Aggregate(CodePointSet.Empty, (set, c) => set.Union(Category(c)));

    /// <summary>
    /// Resolves a property name as written in <c>\p{...}</c> (Oniguruma ignores case, spaces, '_' and '-').
    /// Returns null for names that are not supported (scripts, blocks, binary properties).
    /// </summary>
    public static CodePointSet? Lookup(string name)
    {
        var key = new string(name.Where(c => c is not (' ' or '_' or '-')).Select(char.ToLowerInvariant).ToArray());
        if (NamedCategories.TryGetValue(key, out var categories))
        {
            return Categories(categories);
        }

        return key switch
        {
            "any" => CodePointSet.All,
            "assigned" => Category(UnicodeCategory.OtherNotAssigned).Complement(),
            "ascii" => CodePointSet.Range(0, 0x7F),
            "space" or "whitespace" => WhiteSpace,
            "word" => Word,
            "xdigit" => HexDigit,
            _ => null,
        };
    }

    private static CodePointSet[] BuildCategorySets()
    {
        var count = Enum.GetValues<UnicodeCategory>().Length;
        var ranges = new List<(int Start, int End)>[count];
        for (var i = 0; i < count; i++)
        {
            ranges[i] = [];
        }

        var runStart = 0;
        var runCategory = CharUnicodeInfo.GetUnicodeCategory(0);
        for (var c = 1; c <= CodePointSet.MaxCodePoint + 1; c++)
        {
            var category = c <= CodePointSet.MaxCodePoint ? CharUnicodeInfo.GetUnicodeCategory(c) : (UnicodeCategory)(-1);
            if (category != runCategory)
            {
                ranges[(int)runCategory].Add((runStart, c - 1));
                runStart = c;
                runCategory = category;
            }
        }

        return [.. ranges.Select(CodePointSet.FromRanges)];
    }

    private static Dictionary<string, UnicodeCategory[]> BuildNames()
    {
        UnicodeCategory[] letters =
        [
            UnicodeCategory.UppercaseLetter, UnicodeCategory.LowercaseLetter, UnicodeCategory.TitlecaseLetter,
            UnicodeCategory.ModifierLetter, UnicodeCategory.OtherLetter,
        ];
        UnicodeCategory[] marks = [UnicodeCategory.NonSpacingMark, UnicodeCategory.SpacingCombiningMark, UnicodeCategory.EnclosingMark];
        UnicodeCategory[] numbers = [UnicodeCategory.DecimalDigitNumber, UnicodeCategory.LetterNumber, UnicodeCategory.OtherNumber];
        UnicodeCategory[] punctuation =
        [
            UnicodeCategory.ConnectorPunctuation, UnicodeCategory.DashPunctuation, UnicodeCategory.OpenPunctuation,
            UnicodeCategory.ClosePunctuation, UnicodeCategory.InitialQuotePunctuation, UnicodeCategory.FinalQuotePunctuation,
            UnicodeCategory.OtherPunctuation,
        ];
        UnicodeCategory[] symbols =
        [
            UnicodeCategory.MathSymbol, UnicodeCategory.CurrencySymbol, UnicodeCategory.ModifierSymbol, UnicodeCategory.OtherSymbol,
        ];
        UnicodeCategory[] separators = [UnicodeCategory.SpaceSeparator, UnicodeCategory.LineSeparator, UnicodeCategory.ParagraphSeparator];
        UnicodeCategory[] others =
        [
            UnicodeCategory.Control, UnicodeCategory.Format, UnicodeCategory.Surrogate, UnicodeCategory.PrivateUse,
            UnicodeCategory.OtherNotAssigned,
        ];

        var names = new Dictionary<string, UnicodeCategory[]>(StringComparer.Ordinal);
        void Add(UnicodeCategory[] categories, params string[] aliases)
        {
            foreach (var alias in aliases)
            {
                names[alias] = categories;
            }
        }

        Add(letters, "l", "letter");
        Add([UnicodeCategory.UppercaseLetter, UnicodeCategory.LowercaseLetter, UnicodeCategory.TitlecaseLetter], "lc", "casedletter");
        Add([UnicodeCategory.UppercaseLetter], "lu", "uppercaseletter");
        Add([UnicodeCategory.LowercaseLetter], "ll", "lowercaseletter");
        Add([UnicodeCategory.TitlecaseLetter], "lt", "titlecaseletter");
        Add([UnicodeCategory.ModifierLetter], "lm", "modifierletter");
        Add([UnicodeCategory.OtherLetter], "lo", "otherletter");
        Add(marks, "m", "mark", "combiningmark");
        Add([UnicodeCategory.NonSpacingMark], "mn", "nonspacingmark");
        Add([UnicodeCategory.SpacingCombiningMark], "mc", "spacingmark");
        Add([UnicodeCategory.EnclosingMark], "me", "enclosingmark");
        Add(numbers, "n", "number");
        Add([UnicodeCategory.DecimalDigitNumber], "nd", "decimalnumber", "digit");
        Add([UnicodeCategory.LetterNumber], "nl", "letternumber");
        Add([UnicodeCategory.OtherNumber], "no", "othernumber");
        Add(punctuation, "p", "punctuation");
        Add([UnicodeCategory.ConnectorPunctuation], "pc", "connectorpunctuation");
        Add([UnicodeCategory.DashPunctuation], "pd", "dashpunctuation");
        Add([UnicodeCategory.OpenPunctuation], "ps", "openpunctuation");
        Add([UnicodeCategory.ClosePunctuation], "pe", "closepunctuation");
        Add([UnicodeCategory.InitialQuotePunctuation], "pi", "initialpunctuation");
        Add([UnicodeCategory.FinalQuotePunctuation], "pf", "finalpunctuation");
        Add([UnicodeCategory.OtherPunctuation], "po", "otherpunctuation");
        Add(symbols, "s", "symbol");
        Add([UnicodeCategory.MathSymbol], "sm", "mathsymbol");
        Add([UnicodeCategory.CurrencySymbol], "sc", "currencysymbol");
        Add([UnicodeCategory.ModifierSymbol], "sk", "modifiersymbol");
        Add([UnicodeCategory.OtherSymbol], "so", "othersymbol");
        Add(separators, "z", "separator");
        Add([UnicodeCategory.SpaceSeparator], "zs", "spaceseparator");
        Add([UnicodeCategory.LineSeparator], "zl", "lineseparator");
        Add([UnicodeCategory.ParagraphSeparator], "zp", "paragraphseparator");
        Add(others, "c", "other");
        Add([UnicodeCategory.Control], "cc", "control", "cntrl");
        Add([UnicodeCategory.Format], "cf", "format");
        Add([UnicodeCategory.Surrogate], "cs", "surrogate");
        Add([UnicodeCategory.PrivateUse], "co", "privateuse");
        Add([UnicodeCategory.OtherNotAssigned], "cn", "unassigned");
        return names;
    }
}

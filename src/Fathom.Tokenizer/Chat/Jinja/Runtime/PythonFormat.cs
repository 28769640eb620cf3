using System.Globalization;
using System.Text;

namespace Fathom.Tokenizer.Jinja.Runtime;

/// <summary>Python's text forms of floats and strings, so printed values match what jinja2 prints.</summary>
internal static class PythonFormat
{
    /// <summary>
    /// <c>repr(float)</c>: the shortest digits that round-trip, in fixed notation for exponents -4..15 and
    /// scientific notation ("1e+16", "1e-05") outside, always with a ".0" when integral.
    /// </summary>
    public static string FloatRepr(double value)
    {
        if (double.IsNaN(value))
        {
            return "nan";
        }

        if (double.IsInfinity(value))
        {
            return value > 0 ? "inf" : "-inf";
        }

        var sign = value < 0 || (value == 0 && double.IsNegative(value)) ? "-" : "";
        var shortest = Math.Abs(value).ToString("R", CultureInfo.InvariantCulture);

        // Reduce .NET's form ("123.45", "1E-05", "1.5E+20") to digits and a decimal exponent.
        var exponent = 0;
        var e = shortest.IndexOf('E', StringComparison.Ordinal);
        if (e >= 0)
        {
            exponent = int.Parse(shortest.AsSpan(e + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            shortest = shortest[..e];
        }

        var point = shortest.IndexOf('.', StringComparison.Ordinal);
        var digits = point < 0 ? shortest : shortest.Remove(point, 1);
        var integerDigits = point < 0 ? shortest.Length : point;
        var leadingZeros = digits.Length - digits.TrimStart('0').Length;
        digits = digits.Trim('0');
        if (digits.Length == 0)
        {
            return sign + "0.0";
        }

        // value = 0.d1d2... * 10^(decimalPoint)
        var decimalPoint = integerDigits + exponent - leadingZeros;
        var scientific = decimalPoint - 1;
        if (scientific is < -4 or >= 16)
        {
            var mantissa = digits.Length == 1 ? digits : digits[0] + "." + digits[1..];
            return $"{sign}{mantissa}e{(scientific < 0 ? "-" : "+")}{Math.Abs(scientific):00}";
        }

        if (decimalPoint <= 0)
        {
            return sign + "0." + new string('0', -decimalPoint) + digits;
        }

        if (decimalPoint >= digits.Length)
        {
            return sign + digits + new string('0', decimalPoint - digits.Length) + ".0";
        }

        return sign + digits[..decimalPoint] + "." + digits[decimalPoint..];
    }

    /// <summary><c>repr(str)</c>: single quotes unless the text has a single quote and no double quote.</summary>
    public static string StringRepr(string value)
    {
        var quote = value.Contains('\'', StringComparison.Ordinal) && !value.Contains('"', StringComparison.Ordinal) ? '"' : '\'';
        var builder = new StringBuilder(value.Length + 2).Append(quote);
        foreach (var rune in value.EnumerateRunes())
        {
            var c = rune.Value;
            switch (c)
            {
                case '\\': builder.Append(@"\\"); break;
                case '\n': builder.Append(@"\n"); break;
                case '\r': builder.Append(@"\r"); break;
                case '\t': builder.Append(@"\t"); break;
                default:
                    if (c == quote)
                    {
                        builder.Append('\\').Append(quote);
                    }
                    else if (IsPrintable(rune))
                    {
                        builder.Append(rune.ToString());
                    }
                    else
                    {
                        builder.Append(c switch
                        {
                            < 0x100 => $"\\x{c:x2}",
                            < 0x10000 => $"\\u{c:x4}",
                            _ => $"\\U{c:x8}",
                        });
                    }

                    break;
            }
        }

        return builder.Append(quote).ToString();
    }

    private static bool IsPrintable(Rune rune) => rune.Value == ' ' || Rune.GetUnicodeCategory(rune) switch
    {
        UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse
            or UnicodeCategory.OtherNotAssigned or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator
            or UnicodeCategory.SpaceSeparator => false,
        _ => true,
    };
}

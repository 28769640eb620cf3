using System.Text;

namespace Fathom.Server;

/// <summary>
/// Separates a thinking model's thought (<c>&lt;think&gt;…&lt;/think&gt;</c>) from its answer, as DeepSeek's API
/// does with <c>reasoning_content</c>. Works on streamed pieces: text that may still become a tag is held back.
/// </summary>
internal sealed class ReasoningSplitter
{
    public const string OpenTag = "<think>";
    public const string CloseTag = "</think>";

    private readonly StringBuilder _pending = new();
    private State _state;

    /// <param name="startsInThinking">The prompt already opened the thought (the chat template ends with &lt;think&gt;).</param>
    public ReasoningSplitter(bool startsInThinking) => _state = startsInThinking ? State.Thinking : State.Start;

    private enum State
    {
        Start,
        Thinking,
        AfterThought,
        Answer,
    }

    /// <summary>Adds generated text; returns what is now known to be reasoning and what is answer.</summary>
    public (string Reasoning, string Content) Push(string text)
    {
        _pending.Append(text);
        var reasoning = new StringBuilder();
        var content = new StringBuilder();
        while (_pending.Length > 0)
        {
            string s = _pending.ToString();
            switch (_state)
            {
                case State.Start:
                    string trimmed = s.TrimStart();
                    if (trimmed.StartsWith(OpenTag, StringComparison.Ordinal))
                    {
                        _pending.Clear().Append(trimmed.AsSpan(OpenTag.Length));
                        _state = State.Thinking;
                        continue;
                    }

                    if (OpenTag.StartsWith(trimmed, StringComparison.Ordinal))
                    {
                        return (reasoning.ToString(), content.ToString());   // may still become the tag
                    }

                    _state = State.Answer;
                    continue;
                case State.Thinking:
                    int close = s.IndexOf(CloseTag, StringComparison.Ordinal);
                    if (close >= 0)
                    {
                        reasoning.Append(s.AsSpan(0, close));
                        _pending.Clear().Append(s.AsSpan(close + CloseTag.Length));
                        _state = State.AfterThought;
                        continue;
                    }

                    int hold = PartialSuffix(s, CloseTag);
                    reasoning.Append(s.AsSpan(0, s.Length - hold));
                    _pending.Clear().Append(s.AsSpan(s.Length - hold));
                    return (reasoning.ToString(), content.ToString());
                case State.AfterThought:
                    // The answer begins after the blank lines that follow the thought.
                    string rest = s.TrimStart('\n', '\r', ' ');
                    if (rest.Length == 0)
                    {
                        _pending.Clear();
                        return (reasoning.ToString(), content.ToString());
                    }

                    _pending.Clear().Append(rest);
                    _state = State.Answer;
                    continue;
                default:
                    content.Append(s);
                    _pending.Clear();
                    break;
            }
        }

        return (reasoning.ToString(), content.ToString());
    }

    /// <summary>Releases held-back text at the end.</summary>
    public (string Reasoning, string Content) Flush()
    {
        string s = _pending.ToString();
        _pending.Clear();
        return _state == State.Thinking ? (s, string.Empty) : (string.Empty, s);
    }

    private static int PartialSuffix(string s, string tag)
    {
        for (int len = Math.Min(tag.Length - 1, s.Length); len > 0; len--)
        {
            if (s.AsSpan(s.Length - len).SequenceEqual(tag.AsSpan(0, len)))
            {
                return len;
            }
        }

        return 0;
    }
}

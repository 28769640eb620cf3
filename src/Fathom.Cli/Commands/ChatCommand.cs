using System.CommandLine;
using Fathom.Tokenizer;

namespace Fathom.Cli.Commands;

/// <summary>`fathom chat`: an interactive conversation in the model's chat template, reusing the cache across turns.</summary>
public static class ChatCommand
{
    public static Command Create(CliConsole console)
    {
        var models = new ModelOptionSet(console);
        var sampling = new SamplingOptionSet();
        var system = new Option<string?>("--system") { Description = "A system message placed before the conversation." };
        var command = new Command("chat", "Chat with the model; /reset starts over, /exit quits.") { system };
        models.AddTo(command);
        sampling.AddTo(command);
        command.SetAction(result =>
        {
            using var session = ModelSession.Open(models.Read(result), needTokenizer: true);
            var tokenizer = session.Tokenizer!;
            var samplingParams = sampling.ReadSampling(result, session.Directory);
            var stop = sampling.ReadStop(result);
            var conversation = session.Generator.CreateSession(sampling.ReadMaxContext(result));
            string? systemText = result.GetValue(system);
            var messages = new List<ChatMessage>();
            void Reset()
            {
                messages.Clear();
                if (!string.IsNullOrEmpty(systemText))
                {
                    messages.Add(new ChatMessage("system", systemText));
                }

                conversation.Reset();
            }

            Reset();
            console.Error.WriteLine($"Chatting with {session.Directory}. Type /reset to start over, /exit to quit.");
            while (true)
            {
                console.Out.Write(">>> ");
                string? line = console.In.ReadLine();
                if (line is null || line.Trim() == "/exit")
                {
                    break;
                }

                if (line.Trim() == "/reset")
                {
                    Reset();
                    console.Out.WriteLine("(conversation cleared)");
                    continue;
                }

                if (string.IsNullOrWhiteSpace(line))
                {
                    continue;
                }

                messages.Add(new ChatMessage("user", line));
                var prompt = tokenizer.ApplyChatTemplate(messages, addGenerationPrompt: true);
                if (prompt.Ids.Length >= conversation.Capacity - 1)
                {
                    console.Out.WriteLine($"(the conversation has reached {prompt.Ids.Length} tokens, the context limit of {conversation.Capacity}; type /reset)");
                    messages.RemoveAt(messages.Count - 1);
                    continue;
                }

                var reply = session.Generator.Generate(conversation, prompt.Ids, samplingParams, stop, e => console.Out.Write(e.Text));
                console.Out.WriteLine();
                messages.Add(new ChatMessage("assistant", reply.Text));
            }

            return 0;
        });
        return command;
    }
}

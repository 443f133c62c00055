using System.CommandLine;
using System.CommandLine.Help;
using Xunit;

namespace MLNet.PromptTuning.Benchmarks.Tests.Samples;

/// <summary>Renders a command's <c>--help</c> into a string, one option per line (no wrapping).</summary>
internal static class HelpText
{
    public static string Of(RootCommand command)
    {
        foreach (var help in command.Options.OfType<HelpOption>())
        {
            if (help.Action is HelpAction action)
            {
                action.MaxWidth = 10_000;
            }
        }

        using var output = new StringWriter();
        int exitCode = command.Parse(new[] { "--help" }).Invoke(new InvocationConfiguration { Output = output });
        Assert.Equal(0, exitCode);
        return output.ToString();
    }

    /// <summary>The help line of <paramref name="option"/>.</summary>
    public static string LineOf(string help, Option option) =>
        help.Split('\n').Select(l => l.Trim()).Single(l => l.StartsWith(option.Name + " ", StringComparison.Ordinal));

    /// <summary>Every option but --help shows its default, or says it is required, or is a switch.</summary>
    public static void AssertEveryOptionShowsItsDefault(RootCommand command)
    {
        string help = Of(command);
        foreach (var option in command.Options.Where(o => o is not HelpOption))
        {
            string line = LineOf(help, option);
            bool isSwitch = option.Arity.MaximumNumberOfValues == 0;
            Assert.True(isSwitch || option.Required || line.Contains("[default: ", StringComparison.Ordinal),
                $"--help shows no default for {option.Name}: {line}");
        }
    }
}

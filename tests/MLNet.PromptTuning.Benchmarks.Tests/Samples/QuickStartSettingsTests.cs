using MLNet.PromptTuning.Prompting;
using MLNet.PromptTuning.Samples.QuickStart;
using Xunit;

namespace MLNet.PromptTuning.Benchmarks.Tests.Samples;

/// <summary>The QuickStart's command line: the defaults the docs quote, typed values, and errors that name the option
/// and the value.</summary>
public sealed class QuickStartSettingsTests
{
    [Fact]
    public void No_arguments_give_the_documented_defaults()
    {
        var settings = QuickStartSettings.Parse(Array.Empty<string>());

        Assert.Equal(("vpt", 15, 32, "auto", "output"),
            (settings.Method, settings.Epochs, settings.BatchSize, settings.Device, settings.OutputFolder));
        Assert.Null(settings.LearningRate);
        Assert.Null(settings.OnnxPath);
        Assert.True(Path.IsPathFullyQualified(settings.DataFolder));
        Assert.EndsWith(Path.Combine("Assets", "fashion-mnist-unseen"), settings.DataFolder, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_option_is_read_with_the_invariant_culture()
    {
        var settings = QuickStartSettings.Parse(new[]
        {
            "--method", "LINEAR", "--epochs", "3", "--batch-size", "8", "--lr", "0.025", "--device", "cpu",
            "--data", "images", "--backbone", "b.safetensors", "--output", "out", "--export-onnx", "m.onnx",
        });

        Assert.Equal(("linear", 3, 8, 0.025, "cpu", "out", "m.onnx"), (settings.Method, settings.Epochs,
            settings.BatchSize, settings.LearningRate, settings.Device, settings.OutputFolder, settings.OnnxPath));
        Assert.Equal(Path.GetFullPath("images"), settings.DataFolder);
        Assert.Equal(Path.GetFullPath("b.safetensors"), settings.BackbonePath);
    }

    [Theory]
    [InlineData("--epochs", "abc", "is not an integer")]
    [InlineData("--epochs", "0", "is below the minimum")]
    [InlineData("--batch-size", "1.5", "is not an integer")]
    [InlineData("--lr", "1e-3x", "is not a number")]
    [InlineData("--lr", "0,01", "is not a number")]
    public void A_bad_value_is_rejected_naming_the_option_and_the_value(string option, string value, string why)
    {
        var e = Assert.Throws<ArgumentException>(() => QuickStartSettings.Parse(new[] { option, value }));

        Assert.Contains(option + ":", e.Message, StringComparison.Ordinal);
        Assert.Contains(value, e.Message, StringComparison.Ordinal);
        Assert.Contains(why, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_method_is_rejected_with_the_registered_ids()
    {
        var e = Assert.Throws<ArgumentException>(() => QuickStartSettings.Parse(new[] { "--method", "vtp" }));

        Assert.Contains("--method: 'vtp' is not one of", e.Message, StringComparison.Ordinal);
        Assert.All(PromptMethodRegistry.Default.Ids, id => Assert.Contains(id, e.Message, StringComparison.Ordinal));
    }

    [Fact]
    public void A_misspelt_option_or_a_missing_value_is_rejected()
    {
        Assert.Contains("'--epoch'", Assert.Throws<ArgumentException>(() =>
            QuickStartSettings.Parse(new[] { "--epoch", "3" })).Message, StringComparison.Ordinal);
        Assert.Contains("--output", Assert.Throws<ArgumentException>(() =>
            QuickStartSettings.Parse(new[] { "--output" })).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Help_lists_every_option_with_its_default()
    {
        var command = QuickStartSettings.CreateCommand();
        HelpText.AssertEveryOptionShowsItsDefault(command);

        string help = HelpText.Of(command);
        Assert.Contains("[default: 15]", HelpText.LineOf(help, command.Options.Single(o => o.Name == "--epochs")),
            StringComparison.Ordinal);
        Assert.Contains("[default: the method's own", HelpText.LineOf(help,
            command.Options.Single(o => o.Name == "--lr")), StringComparison.Ordinal);
    }
}

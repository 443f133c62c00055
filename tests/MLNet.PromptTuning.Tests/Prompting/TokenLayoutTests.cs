using MLNet.PromptTuning.Prompting;
using Xunit;

namespace MLNet.PromptTuning.Tests.Prompting;

public sealed class TokenLayoutTests
{
    [Fact]
    public void InsertAfterPrefixAndAtEndKeepOffsetsConsistent()
    {
        var layout = TokenLayout.Initial(16)
            .Insert(new TokenSegment("vpt", TokenRole.Prompt, 5), SegmentPosition.AfterPrefix)
            .Insert(new TokenSegment("sep", TokenRole.Prompt, 2), SegmentPosition.End);

        Assert.Equal("cls:1 | vpt:5 | patches:16 | sep:2", layout.ToString());
        Assert.Equal(24, layout.Count);
        Assert.Equal(1, layout.PrefixCount);
        Assert.Equal(1, layout.OffsetOf("vpt"));
        Assert.Equal(6, layout.OffsetOf(TokenLayout.PatchSegment));
        Assert.Equal(22, layout.OffsetOf("sep"));
        Assert.Equal(new[] { (1, 5), (22, 2) }, layout.RangesOf(TokenRole.Prompt).ToArray());
    }

    [Fact]
    public void ResizeAndRemoveProduceNewLayouts()
    {
        var original = TokenLayout.Initial(4).Insert(new TokenSegment("p", TokenRole.Prompt, 3),
            SegmentPosition.AfterPrefix);
        Assert.Equal("cls:1 | p:7 | patches:4", original.Resize("p", 7).ToString());
        Assert.Equal("cls:1 | patches:4", original.Remove("p").ToString());
        Assert.Equal("cls:1 | p:3 | patches:4", original.ToString());
    }

    [Fact]
    public void UnknownAndDuplicateSegmentsAreClearErrors()
    {
        var layout = TokenLayout.Initial(4);
        var missing = Assert.Throws<KeyNotFoundException>(() => layout.OffsetOf("vpt"));
        Assert.Contains("no segment named 'vpt'", missing.Message);
        Assert.Throws<InvalidOperationException>(() =>
            layout.Insert(new TokenSegment("patches", TokenRole.Prompt, 1), SegmentPosition.End));
    }
}

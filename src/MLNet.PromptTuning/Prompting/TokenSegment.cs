namespace MLNet.PromptTuning.Prompting;

/// <summary>A named, contiguous run of tokens in the sequence.</summary>
/// <param name="Name">Unique name within a layout (<c>cls</c>, <c>patches</c>, or a method's own, such as
/// <c>vpt</c>).</param>
/// <param name="Role">What the tokens are.</param>
/// <param name="Length">Number of tokens.</param>
public sealed record TokenSegment(string Name, TokenRole Role, int Length);

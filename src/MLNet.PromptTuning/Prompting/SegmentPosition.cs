namespace MLNet.PromptTuning.Prompting;

/// <summary>Where a new segment is inserted into the token sequence.</summary>
public enum SegmentPosition
{
    /// <summary>Right after the prefix tokens, before everything else (VPT's position).</summary>
    AfterPrefix,

    /// <summary>At the end of the sequence, after the patches (SEP's position).</summary>
    End,
}

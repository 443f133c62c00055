namespace MLNet.PromptTuning.Tests.Reliability;

/// <summary>How one fuzz case ended. The first three are passes; the rest are findings.</summary>
internal enum FuzzOutcome
{
    /// <summary>Refused with a documented exception type.</summary>
    Refused,

    /// <summary>Loaded with exactly the original values (the damage did not matter, such as a zip timestamp).</summary>
    LoadedSame,

    /// <summary>Loaded with other values, from damage the format cannot detect by design.</summary>
    LoadedChangedUndetectable,

    /// <summary>Loaded with other values although the format can detect the damage: silent corruption.</summary>
    SilentChange,

    /// <summary>An exception type outside the documented set left the public API.</summary>
    UndocumentedException,

    /// <summary>More memory than the stated bound relative to the file's size.</summary>
    OverAllocation,

    /// <summary>A hostile pickle's payload ran (its marker file appeared).</summary>
    SideEffect,

    /// <summary>The process died during the case.</summary>
    Crash,

    /// <summary>The case ran longer than the per-case limit.</summary>
    Hang,
}

namespace MLNet.PromptTuning.Checkpoints;

/// <summary>The container of a weights file, recognised from its bytes (never from its extension alone).</summary>
internal enum CheckpointFileKind
{
    /// <summary>Not recognised.</summary>
    Unknown,

    /// <summary>A safetensors file.</summary>
    SafeTensors,

    /// <summary>A NumPy zip archive of .npy arrays.</summary>
    Npz,

    /// <summary>A single NumPy array.</summary>
    Npy,

    /// <summary>A <c>torch.save</c> zip archive (<c>data.pkl</c> inside).</summary>
    TorchZip,

    /// <summary>A TorchScript archive (<c>constants.pkl</c> / <c>code/</c> inside).</summary>
    TorchScript,

    /// <summary>A legacy <c>torch.save</c> file or any other raw pickle (protocol 2+ starts with 0x80).</summary>
    Pickle,

    /// <summary>A zip archive that is neither npz nor torch.</summary>
    OtherZip,
}

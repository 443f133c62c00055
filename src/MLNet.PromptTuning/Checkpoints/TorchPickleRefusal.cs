namespace MLNet.PromptTuning.Checkpoints;

/// <summary>The refusal to read PyTorch pickle files, with the conversion recipe users need instead.</summary>
internal static class TorchPickleRefusal
{
    /// <summary>The three lines of Python that turn any torch.save checkpoint into safetensors.</summary>
    public const string ConversionSnippet =
        "import torch, safetensors.torch\n" +
        "sd = torch.load('model.pth', map_location='cpu', weights_only=True); " +
        "sd = sd.get('model', sd.get('state_dict', sd))\n" +
        "safetensors.torch.save_file({k: v.contiguous() for k, v in sd.items()}, 'model.safetensors')";

    /// <summary>
    /// The exception for a pickle-based file (<c>.pt</c>, <c>.pth</c>, <c>.bin</c>, <c>.pth.tar</c>, TorchScript).
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="kind">What the file is.</param>
    /// <param name="pickleOptIn">Whether <see cref="CheckpointLoadOptions.AllowPyTorchPickles"/> is set (then only
    /// a format it cannot read, legacy or TorchScript, gets here).</param>
    public static NotSupportedException Create(string path, CheckpointFileKind kind, bool pickleOptIn = false)
    {
        var what = kind switch
        {
            CheckpointFileKind.TorchScript => "a TorchScript archive (torch.jit.save)",
            CheckpointFileKind.TorchZip => "a PyTorch torch.save checkpoint (zip with data.pkl)",
            _ => "a Python pickle (legacy torch.save format)",
        };
        var why = pickleOptIn
            ? "CheckpointLoadOptions.AllowPyTorchPickles reads only the zip format of torch.save (PyTorch 1.6 and " +
              "later), not this one. "
            : "MLNet.PromptTuning never unpickles files unless asked to (CheckpointLoadOptions.AllowPyTorchPickles " +
              "reads the tensors of a torch.save zip file): loading a pickle can run arbitrary code hidden in the " +
              "file. ";
        return new NotSupportedException(
            $"'{path}' is {what}. {why}Convert it once to safetensors with Python (pip install safetensors):\n" +
            ConversionSnippet + "\n" +
            (kind == CheckpointFileKind.TorchScript
                ? "(for a TorchScript archive, take sd = torch.jit.load('model.pt', map_location='cpu').state_dict()) "
                : "") +
            "then load 'model.safetensors'. The timm and Hugging Face hubs usually offer model.safetensors directly.");
    }
}

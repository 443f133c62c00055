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
    public static NotSupportedException Create(string path, CheckpointFileKind kind)
    {
        var what = kind switch
        {
            CheckpointFileKind.TorchScript => "a TorchScript archive (torch.jit.save)",
            CheckpointFileKind.TorchZip => "a PyTorch torch.save checkpoint (zip with data.pkl)",
            _ => "a Python pickle (legacy torch.save format)",
        };
        return new NotSupportedException(
            $"'{path}' is {what}. MLNet.PromptTuning never unpickles files: loading a pickle can run arbitrary code " +
            "hidden in the file. Convert it once to safetensors with Python (pip install safetensors):\n" +
            ConversionSnippet + "\n" +
            (kind == CheckpointFileKind.TorchScript
                ? "(for a TorchScript archive, take sd = torch.jit.load('model.pt', map_location='cpu').state_dict()) "
                : "") +
            "then load 'model.safetensors'. The timm and Hugging Face hubs usually offer model.safetensors directly.");
    }
}

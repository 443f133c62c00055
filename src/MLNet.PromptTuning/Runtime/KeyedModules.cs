using TorchSharp;

namespace MLNet.PromptTuning.Runtime;

/// <summary>
/// Submodules registered under string keys, so their tensors are named <c>{key}.{tensor}</c> in the state dict: the
/// role of TorchSharp's <c>ModuleDict</c>, which cannot be moved to another device in TorchSharp 0.107 (its
/// <c>to(device)</c> fails with "An item with the same key has already been added. Key: Item", found by running the
/// model on libtorch's meta device). This class has no indexer, which is what trips TorchSharp's reflection.
/// </summary>
/// <typeparam name="T">The submodules' type.</typeparam>
internal sealed class KeyedModules<T> : torch.nn.Module
    where T : torch.nn.Module
{
    private readonly Dictionary<string, T> _modules = new(StringComparer.Ordinal);

    public KeyedModules()
        : base(nameof(KeyedModules<T>))
    {
    }

    /// <summary>Registers <paramref name="module"/> under <paramref name="key"/>.</summary>
    public void Add(string key, T module)
    {
        _modules.Add(key, module);
        register_module(key, module);
    }

    /// <summary>The submodule registered under <paramref name="key"/>.</summary>
    public T Get(string key) => _modules[key];
}

namespace MLNet.PromptTuning.Prompting;

/// <summary>
/// Maps a method id to its options type and factory. Ids are lower case and unique; they are also the parameter
/// prefix (<c>prompt.&lt;id&gt;.</c>) in model files, and model files resolve their method here when loaded.
/// </summary>
public sealed class PromptMethodRegistry
{
    private readonly Dictionary<string, Registration> _registrations = new(StringComparer.Ordinal);

    /// <summary>The registry holding every built-in method (see <see cref="BuiltInPromptMethods"/>).</summary>
    public static PromptMethodRegistry Default { get; } = BuiltInPromptMethods.CreateRegistry();

    /// <summary>Registered ids, in registration order.</summary>
    public IReadOnlyCollection<string> Ids => _registrations.Keys;

    /// <summary>Registers a method.</summary>
    /// <typeparam name="TOptions">The method's options type (public, with a parameterless constructor).</typeparam>
    /// <param name="id">Lower-case id, for example <c>vpt</c>; must match <see cref="PromptMethodOptions.MethodId"/>.</param>
    /// <param name="factory">Creates the method bound to a backbone.</param>
    public void Register<TOptions>(string id, Func<TOptions, BackboneDescription, PromptMethod> factory)
        where TOptions : PromptMethodOptions, new()
    {
        if (string.IsNullOrEmpty(id) || id != id.ToLowerInvariant() || !id.All(c => char.IsLetterOrDigit(c) || c == '_'))
        {
            throw new ArgumentException($"Method id '{id}' must be non-empty lower-case letters, digits or '_'.", nameof(id));
        }

        if (_registrations.ContainsKey(id))
        {
            throw new ArgumentException($"A prompt method with id '{id}' is already registered.", nameof(id));
        }

        string declared = new TOptions().MethodId;
        if (declared != id)
        {
            throw new ArgumentException($"{typeof(TOptions).Name}.MethodId is '{declared}' but it is registered as '{id}'.", nameof(id));
        }

        _registrations[id] = new Registration(typeof(TOptions), (options, backbone) => factory((TOptions)options, backbone));
    }

    /// <summary>The options type registered for <paramref name="id"/>.</summary>
    public Type GetOptionsType(string id) => Get(id).OptionsType;

    /// <summary>Creates the method that <paramref name="options"/> configures, bound to <paramref name="backbone"/>.</summary>
    public PromptMethod Create(PromptMethodOptions options, BackboneDescription backbone)
    {
        var registration = Get(options.MethodId);
        if (registration.OptionsType != options.GetType())
        {
            throw new ArgumentException(
                $"Method '{options.MethodId}' expects options of type {registration.OptionsType.Name}; got {options.GetType().Name}.",
                nameof(options));
        }

        return registration.Factory(options, backbone);
    }

    private Registration Get(string id) =>
        _registrations.TryGetValue(id, out var registration)
            ? registration
            : throw new KeyNotFoundException(
                $"No prompt method with id '{id}' is registered; known ids: {string.Join(", ", _registrations.Keys)}.");

    private sealed record Registration(Type OptionsType, Func<PromptMethodOptions, BackboneDescription, PromptMethod> Factory);
}

using System.Reflection;

namespace MLNet.PromptTuning.Prompting;

/// <summary>
/// The one registry of prompt methods: id → options type and method type. The trainer (<c>Options.Method</c>),
/// <c>mlContext.Model.Load</c> and <c>LoadAdapter</c> all resolve methods here. Ids are lower case and unique; they
/// are also the parameter prefix (<c>prompt.&lt;id&gt;.</c>) in model files.
/// </summary>
/// <remarks>
/// <para>A method is registered by one line in the assembly that defines it,
/// <c>[assembly: PromptMethod(typeof(MyOptions), typeof(MyMethod))]</c> (the built-in methods are declared that way
/// in <c>Methods/BuiltInPromptMethods.cs</c>). The registry reads those declarations on demand: this library's at first
/// use, those of every loaded assembly that references this library when an id is not found, and those of the
/// assembly a saved model or adapter names (models record the assembly of a method defined outside this library), so
/// a fresh process that loads a model finds its method without any call. Code that cannot declare assembly
/// attributes (a script, a notebook) calls <see cref="Register{TOptions, TMethod}"/> instead, before it trains or
/// loads.</para>
/// <para>All members are thread-safe: registrations are serialised and readers see an immutable snapshot.</para>
/// </remarks>
public sealed class PromptMethodRegistry
{
    private static readonly Assembly Library = typeof(PromptMethodRegistry).Assembly;

    private readonly object _gate = new();
    private readonly HashSet<Assembly> _scanned = new();
    private volatile Snapshot _snapshot = Snapshot.Empty;

    private PromptMethodRegistry()
    {
        ScanAssembly(Library);
    }

    /// <summary>The registry (there is one per process).</summary>
    public static PromptMethodRegistry Default { get; } = new();

    /// <summary>
    /// Registered ids in registration order (built-in methods first), after reading the declarations of every loaded
    /// assembly that references this library.
    /// </summary>
    public IReadOnlyList<string> Ids
    {
        get
        {
            ScanLoadedAssemblies();
            return _snapshot.Ids;
        }
    }

    /// <summary>Whether <paramref name="id"/> is registered (reading the loaded assemblies' declarations if
    /// needed).</summary>
    public bool Contains(string id) => TryGet(id, assemblyName: null, out _);

    /// <summary>
    /// Registers <typeparamref name="TMethod"/> under its options' <see cref="PromptMethodOptions.MethodId"/>: the same
    /// registration <see cref="PromptMethodAttribute"/> declares, for code that cannot declare assembly attributes.
    /// Registering the same pair again does nothing.
    /// </summary>
    /// <exception cref="ArgumentException">The id is malformed or the method has no (options, backbone)
    /// constructor.</exception>
    /// <exception cref="InvalidOperationException">The id is already registered to other types.</exception>
    public void Register<TOptions, TMethod>()
        where TOptions : PromptMethodOptions, new()
        where TMethod : PromptMethod =>
        Register(typeof(TOptions), typeof(TMethod), source: "Register<" + typeof(TOptions).Name + ">");

    /// <summary>The options type registered for <paramref name="id"/>.</summary>
    /// <exception cref="KeyNotFoundException">No method has that id.</exception>
    public Type GetOptionsType(string id) => Get(id, assemblyName: null).OptionsType;

    /// <summary>Options of method <paramref name="id"/> with every setting at its default.</summary>
    /// <exception cref="KeyNotFoundException">No method has that id.</exception>
    public PromptMethodOptions CreateOptions(string id) =>
        (PromptMethodOptions)Activator.CreateInstance(Get(id, assemblyName: null).OptionsType)!;

    /// <summary>Creates the method that <paramref name="options"/> configures, bound to <paramref
    /// name="backbone"/>.</summary>
    /// <exception cref="KeyNotFoundException">The options' method is not registered.</exception>
    /// <exception cref="ArgumentException">The options are not of the registered type, or do not fit the
    /// backbone.</exception>
    public PromptMethod Create(PromptMethodOptions options, BackboneDescription backbone)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(backbone);
        var registration = Get(options.MethodId, assemblyName: null);
        if (registration.OptionsType != options.GetType())
        {
            throw new ArgumentException(
                $"Method '{options.MethodId}' expects options of type {registration.OptionsType.Name}; got " +
                $"{options.GetType().Name}.", nameof(options));
        }

        return (PromptMethod)registration.Constructor.Invoke(
            BindingFlags.DoNotWrapExceptions, binder: null, new object[] { options, backbone }, culture: null);
    }

    /// <summary>
    /// The name of the assembly that declares <paramref name="options"/>' type when it is not this library, recorded in
    /// saved models and adapters so that a fresh process can find the method.
    /// </summary>
    internal static string? ExternalAssemblyOf(PromptMethodOptions options)
    {
        var assembly = options.GetType().Assembly;
        return assembly == Library ? null : assembly.GetName().Name;
    }

    /// <summary>
    /// The options type of <paramref name="id"/>, reading the declarations of <paramref name="assemblyName"/> (loading
    /// it if needed) when the id is not known yet.
    /// </summary>
    internal Type GetOptionsType(string id, string? assemblyName) => Get(id, assemblyName).OptionsType;

    private Registration Get(string id, string? assemblyName)
    {
        if (TryGet(id, assemblyName, out var registration))
        {
            return registration;
        }

        string where = assemblyName is null
            ? string.Empty
            : $" The model names assembly '{assemblyName}' as the method's home, and it declares no such method.";
        throw new KeyNotFoundException(
            $"No prompt method with id '{id}' is registered; known ids: {string.Join(", ", _snapshot.Ids)}.{where} " +
            "A method is registered by [assembly: PromptMethod(typeof(TOptions), typeof(TMethod))] in the assembly " +
            "that defines it, which must be deployed with the application.");
    }

    private bool TryGet(string id, string? assemblyName, out Registration registration)
    {
        ArgumentNullException.ThrowIfNull(id);
        if (_snapshot.ById.TryGetValue(id, out registration!))
        {
            return true;
        }

        ScanLoadedAssemblies();
        if (_snapshot.ById.TryGetValue(id, out registration!))
        {
            return true;
        }

        if (assemblyName is not null)
        {
            Assembly assembly;
            try
            {
                assembly = Assembly.Load(new AssemblyName(assemblyName));
            }
            catch (Exception e) when (e is FileNotFoundException or FileLoadException or BadImageFormatException)
            {
                throw new KeyNotFoundException(
                    $"No prompt method with id '{id}' is registered, and assembly '{assemblyName}', which the model " +
                    $"names as the method's home, cannot be loaded: {e.Message}", e);
            }

            ScanAssembly(assembly);
        }

        return _snapshot.ById.TryGetValue(id, out registration!);
    }

    private void ScanLoadedAssemblies()
    {
        foreach (var assembly in AppDomain.CurrentDomain.GetAssemblies())
        {
            ScanAssembly(assembly);
        }
    }

    /// <summary>Registers what <paramref name="assembly"/> declares, once; assemblies that cannot declare methods
    /// (dynamic ones, or ones not referencing this library) are only remembered.</summary>
    private void ScanAssembly(Assembly assembly)
    {
        lock (_gate)
        {
            if (!_scanned.Add(assembly) || assembly.IsDynamic || !DeclaresMethods(assembly))
            {
                return;
            }

            try
            {
                foreach (var declaration in assembly.GetCustomAttributes<PromptMethodAttribute>())
                {
                    Register(declaration.OptionsType, declaration.MethodType, source: assembly.GetName().Name!);
                }
            }
            catch
            {
                // Report the faulty declaration again on the next lookup rather than hide it.
                _scanned.Remove(assembly);
                throw;
            }
        }
    }

    private static bool DeclaresMethods(Assembly assembly)
    {
        string library = Library.GetName().Name!;
        return assembly == Library || assembly.GetReferencedAssemblies().Any(a => a.Name == library);
    }

    private void Register(Type optionsType, Type methodType, string source)
    {
        ArgumentNullException.ThrowIfNull(optionsType);
        ArgumentNullException.ThrowIfNull(methodType);
        if (!typeof(PromptMethodOptions).IsAssignableFrom(optionsType) || optionsType.IsAbstract ||
            optionsType.GetConstructor(Type.EmptyTypes) is null)
        {
            throw new ArgumentException(
                $"{source}: {optionsType.FullName} must be a concrete PromptMethodOptions with a public " +
                $"parameterless " +
                "constructor.", nameof(optionsType));
        }

        var constructor = methodType.GetConstructor(new[] { optionsType, typeof(BackboneDescription) });
        if (!typeof(PromptMethod).IsAssignableFrom(methodType) || constructor is null)
        {
            throw new ArgumentException(
                $"{source}: {methodType.FullName} must be a PromptMethod with a public constructor " +
                $"({optionsType.Name} options, BackboneDescription backbone).", nameof(methodType));
        }

        string id = ((PromptMethodOptions)Activator.CreateInstance(optionsType)!).MethodId;
        if (string.IsNullOrEmpty(id) || id != id.ToLowerInvariant()
            || !id.All(c => char.IsLetterOrDigit(c) || c == '_'))
        {
            throw new ArgumentException(
                $"{source}: {optionsType.Name}.MethodId is '{id}'; expected lower-case letters, digits or '_'.",
                nameof(optionsType));
        }

        lock (_gate)
        {
            var current = _snapshot;
            if (current.ById.TryGetValue(id, out var existing))
            {
                if (existing.OptionsType == optionsType && existing.MethodType == methodType)
                {
                    return;
                }

                throw new InvalidOperationException(
                    $"{source}: prompt method id '{id}' is already registered to {existing.MethodType.FullName} " +
                    $"({existing.OptionsType.FullName}); it cannot also name {methodType.FullName}.");
            }

            _snapshot = current.With(id, new Registration(optionsType, methodType, constructor));
        }
    }

    private sealed record Registration(Type OptionsType, Type MethodType, ConstructorInfo Constructor);

    /// <summary>An immutable view of the registrations; replaced as a whole under the lock.</summary>
    private sealed class Snapshot
    {
        public static readonly Snapshot Empty = new(new Dictionary<string, Registration>(), Array.Empty<string>());

        private Snapshot(IReadOnlyDictionary<string, Registration> byId, IReadOnlyList<string> ids)
        {
            ById = byId;
            Ids = ids;
        }

        public IReadOnlyDictionary<string, Registration> ById { get; }

        public IReadOnlyList<string> Ids { get; }

        public Snapshot With(string id, Registration registration) => new(
            new Dictionary<string, Registration>(ById, StringComparer.Ordinal) { [id] = registration },
            Ids.Append(id).ToArray());
    }
}

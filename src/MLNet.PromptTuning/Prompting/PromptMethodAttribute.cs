namespace MLNet.PromptTuning.Prompting;

/// <summary>
/// Registers a prompt method: one line in the assembly that defines it,
/// <c>[assembly: PromptMethod(typeof(MyOptions), typeof(MyMethod))]</c>. The id is the options'
/// <see cref="PromptMethodOptions.MethodId"/>; the method needs a public constructor
/// <c>(MyOptions options, BackboneDescription backbone)</c>.
/// </summary>
/// <remarks>
/// <see cref="PromptMethodRegistry.Default"/> reads these declarations on demand: from this library, from every
/// loaded assembly that references it, and from the assembly a saved model or adapter names. So a method is known to
/// <c>Options.Method</c>, to <c>mlContext.Model.Load</c> and to <c>LoadAdapter</c> in any process, including a fresh
/// one that never touched the method's assembly before loading a model, with no registration call.
/// </remarks>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
public sealed class PromptMethodAttribute : Attribute
{
    /// <summary>Declares the method <paramref name="methodType"/> configured by <paramref
    /// name="optionsType"/>.</summary>
    /// <param name="optionsType">A public <see cref="PromptMethodOptions"/> type with a parameterless
    /// constructor.</param>
    /// <param name="methodType">A <see cref="PromptMethod"/> type with a constructor (options type,
    /// <see cref="BackboneDescription"/>).</param>
    public PromptMethodAttribute(Type optionsType, Type methodType)
    {
        OptionsType = optionsType;
        MethodType = methodType;
    }

    /// <summary>The options type; its <see cref="PromptMethodOptions.MethodId"/> is the method's id.</summary>
    public Type OptionsType { get; }

    /// <summary>The method type.</summary>
    public Type MethodType { get; }
}

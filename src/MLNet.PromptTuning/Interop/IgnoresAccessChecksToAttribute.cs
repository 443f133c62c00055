// The runtime half of compile-time access to ML.NET internals (the compile-time half is build/Publicize.targets).
// CoreCLR and Mono skip visibility checks from this assembly into the named ones. The attribute is recognised by
// name, so the library declares its own copy. Only code in this folder (Interop/) may rely on it.
[assembly: System.Runtime.CompilerServices.IgnoresAccessChecksTo("Microsoft.ML.Core")]
[assembly: System.Runtime.CompilerServices.IgnoresAccessChecksTo("Microsoft.ML.Data")]

namespace System.Runtime.CompilerServices;

/// <summary>Lets this assembly use non-public members of the named assembly at run time.</summary>
[AttributeUsage(AttributeTargets.Assembly, AllowMultiple = true)]
internal sealed class IgnoresAccessChecksToAttribute : Attribute
{
    /// <summary>Creates the attribute for one assembly.</summary>
    /// <param name="assemblyName">Simple name of the assembly whose internals are used.</param>
    public IgnoresAccessChecksToAttribute(string assemblyName) => AssemblyName = assemblyName;

    /// <summary>Simple name of the assembly whose internals are used.</summary>
    public string AssemblyName { get; }
}

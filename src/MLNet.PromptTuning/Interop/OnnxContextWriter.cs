using Microsoft.ML.Model.OnnxConverter;
using MLNet.PromptTuning.Onnx;

namespace MLNet.PromptTuning.Interop;

/// <summary>
/// Copies a finished <see cref="OnnxGraph"/> into the model ML.NET's converter is building (its internal
/// <see cref="OnnxContext"/>): constants, then nodes in order. Names are made unique in the context, so several
/// exported models can share one ONNX file. The graph is built completely first, so an export that refuses leaves
/// nothing half-written in the context.
/// </summary>
internal static class OnnxContextWriter
{
    /// <summary>Writes <paramref name="graph"/>; returns the context's name for each of the graph's values.</summary>
    public static Func<OnnxValue, string> Write(OnnxContext context, OnnxGraph graph)
    {
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        string Resolve(string name) => names.TryGetValue(name, out var mapped) ? mapped : name;

        foreach (var initializer in graph.Initializers)
        {
            names[initializer.Name] = initializer switch
            {
                { Floats: { } f } => context.AddInitializer(f, initializer.Dims, initializer.Name),
                { Int64s: { } l } => context.AddInitializer(l, initializer.Dims, initializer.Name),
                { Int32s: { } i } => context.AddInitializer(i, typeof(int), initializer.Dims, initializer.Name),
                _ => throw new InvalidOperationException($"Constant '{initializer.Name}' has no values."),
            };
        }

        foreach (var node in graph.Nodes)
        {
            var inputs = node.Inputs.Select(Resolve).ToArray();
            var outputs = node.Outputs
                .Select(o => names[o] = context.AddIntermediateVariable(null, o, skip: true))
                .ToArray();
            var written = context.CreateNode(node.OpType, inputs, outputs, context.GetNodeName(node.OpType), "");
            foreach (var (name, value) in node.Attributes)
            {
                switch (value)
                {
                    case long l: written.AddAttribute(name, l); break;
                    case long[] ls: written.AddAttribute(name, (IEnumerable<long>)ls); break;
                    case float f: written.AddAttribute(name, (double)f); break;
                    case string s: written.AddAttribute(name, s); break;
                    default:
                        throw new InvalidOperationException(
                            $"Attribute '{name}' of {node.OpType} has an unsupported value.");
                }
            }
        }

        return value => Resolve(value.Name);
    }
}

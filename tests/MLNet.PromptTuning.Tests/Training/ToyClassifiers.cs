using MLNet.PromptTuning.Data;
using MLNet.PromptTuning.Training;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;

namespace MLNet.PromptTuning.Tests.Training;

/// <summary>
/// A tiny prompt-tuning look-alike: a frozen linear "backbone", a trainable additive prompt (no weight decay), a
/// trainable head, an unlisted parameter that requires grad, optional dropout and an optional auxiliary loss.
/// </summary>
internal sealed class ToyClassifier : ITrainableClassifier, IDisposable
{
    private readonly ToyNet _net;

    public ToyClassifier(int channels, int size, int classes, int hidden = 8, double dropout = 0.0,
        bool auxiliaryLoss = false,
        bool decayProbes = false)
    {
        _net = new ToyNet(channels * size * size, hidden, classes, dropout, auxiliaryLoss, decayProbes);
        NumberOfClasses = classes;
        Preprocessing = new ImagePreprocessing(size, size, channels, Enumerable.Repeat(0.5f, channels).ToArray(),
            Enumerable.Repeat(0.25f, channels).ToArray());
        _net.eval();
    }

    public torch.nn.Module Module => _net;

    public void MoveTo(torch.Device device) => _net.to(device);

    public int NumberOfClasses { get; }

    public ImagePreprocessing Preprocessing { get; }

    public List<torch.ScalarType> InputTypes { get; } = new();

    public ToyNet Net => _net;

    public ClassifierOutput Forward(torch.Tensor images, ForwardContext context)
    {
        InputTypes.Add(images.dtype);
        var (logits, aux) = _net.Run(images.to_type(torch.ScalarType.Float32));
        return new ClassifierOutput(logits, aux is null ? Array.Empty<AuxiliaryLoss>()
            : new[] { new AuxiliaryLoss("prompt_l2", aux) });
    }

    public IReadOnlyList<ParameterGroup> GetParameterGroups()
    {
        var groups = new List<ParameterGroup>
        {
            new("prompt", new[] { _net.Prompt }, ApplyWeightDecay: false),
            new("head", _net.Head.parameters().ToArray()),
        };
        if (_net.DecayOn is not null)
        {
            groups.Add(new ParameterGroup("probe.on", new[] { _net.DecayOn }, ApplyWeightDecay: true));
            groups.Add(new ParameterGroup("probe.off", new[] { _net.DecayOff! }, ApplyWeightDecay: false));
        }

        return groups;
    }

    public void SetTrainingMode(bool training)
    {
        _net.train(training);
        _net.Frozen.eval();
    }

    public void Dispose() => _net.Dispose();
}

internal sealed class ToyNet : torch.nn.Module<torch.Tensor, torch.Tensor>
{
    [ComponentName(Name = "frozen")]
    private readonly Linear _frozen;

    [ComponentName(Name = "prompt")]
    private readonly Parameter _prompt;

    [ComponentName(Name = "unlisted")]
    private readonly Parameter _unlisted;

    [ComponentName(Name = "dropout")]
    private readonly Dropout _dropout;

    [ComponentName(Name = "head")]
    private readonly Linear _head;

    [ComponentName(Name = "decay_on")]
    private readonly Parameter? _decayOn;

    [ComponentName(Name = "decay_off")]
    private readonly Parameter? _decayOff;

    private readonly bool _auxiliaryLoss;

    public ToyNet(int inputs, int hidden, int classes, double dropout, bool auxiliaryLoss, bool decayProbes)
        : base("toy")
    {
        _frozen = torch.nn.Linear(inputs, hidden);
        foreach (var p in _frozen.parameters())
        {
            p.requires_grad = false;
        }

        _prompt = new Parameter(torch.randn(hidden) * 0.1);
        _unlisted = new Parameter(torch.zeros(hidden));
        _dropout = torch.nn.Dropout(dropout);
        _head = torch.nn.Linear(hidden, classes);
        _auxiliaryLoss = auxiliaryLoss;
        if (decayProbes)
        {
            _decayOn = new Parameter(torch.ones(3));
            _decayOff = new Parameter(torch.ones(3));
        }

        RegisterComponents();
    }

    public Linear Frozen => _frozen;

    public Parameter Prompt => _prompt;

    public Linear Head => _head;

    public Parameter? DecayOn => _decayOn;

    public Parameter? DecayOff => _decayOff;

    public override torch.Tensor forward(torch.Tensor input) => Run(input).Logits;

    public (torch.Tensor Logits, torch.Tensor? Auxiliary) Run(torch.Tensor images)
    {
        var h = _frozen.forward(images.flatten(1)) + _prompt + _unlisted; // [B, hidden]
        var logits = _head.forward(_dropout.forward(torch.tanh(h))); // [B, classes]
        if (_decayOn is not null)
        {
            // Zero gradient on purpose: only weight decay can move these.
            logits = logits + 0.0 * (_decayOn.sum() + _decayOff!.sum());
        }

        return (logits, _auxiliaryLoss ? _prompt.pow(2).sum() * 0.01 : null);
    }
}

/// <summary>Logits are a trainable bias broadcast over the batch: the loss and its gradient are known in closed
/// form.</summary>
internal sealed class BiasClassifier : ITrainableClassifier, IDisposable
{
    private readonly BiasNet _net;

    public BiasClassifier(float[] initialLogits, int channels = 1, int size = 2)
    {
        _net = new BiasNet(initialLogits);
        NumberOfClasses = initialLogits.Length;
        Preprocessing = new ImagePreprocessing(size, size, channels, Enumerable.Repeat(0f, channels).ToArray(),
            Enumerable.Repeat(1f, channels).ToArray());
    }

    public torch.nn.Module Module => _net;

    public void MoveTo(torch.Device device) => _net.to(device);

    public int NumberOfClasses { get; }

    public ImagePreprocessing Preprocessing { get; }

    public Parameter Bias => _net.Bias;

    public ClassifierOutput Forward(torch.Tensor images, ForwardContext context) =>
        new(_net.forward(images), Array.Empty<AuxiliaryLoss>());

    public IReadOnlyList<ParameterGroup> GetParameterGroups() =>
        new[] { new ParameterGroup("bias", new[] { _net.Bias }) };

    public void SetTrainingMode(bool training) => _net.train(training);

    public void Dispose() => _net.Dispose();

    internal sealed class BiasNet : torch.nn.Module<torch.Tensor, torch.Tensor>
    {
        [ComponentName(Name = "bias")]
        private readonly Parameter _bias;

        public BiasNet(float[] initial)
            : base("bias_net")
        {
            _bias = new Parameter(torch.tensor(initial));
            RegisterComponents();
        }

        public Parameter Bias => _bias;

        public override torch.Tensor forward(torch.Tensor input) =>
            _bias.unsqueeze(0).expand(input.shape[0], -1); // [B, C]
    }
}

/// <summary>
/// Trains a bias like <see cref="BiasClassifier"/>, but its validation predictions follow a script: the n-th
/// inference forward predicts class 0 when <c>script[n]</c> is true and class 1 otherwise.
/// </summary>
internal sealed class ScriptedClassifier : ITrainableClassifier, IDisposable
{
    private readonly BiasClassifier.BiasNet _net = new(new[] { 0.3f, -0.2f });
    private readonly bool[] _script;
    private int _inferenceCalls;

    public ScriptedClassifier(params bool[] script) => _script = script;

    public torch.nn.Module Module => _net;

    public void MoveTo(torch.Device device) => _net.to(device);

    public int NumberOfClasses => 2;

    public ImagePreprocessing Preprocessing { get; } = new(2, 2, 1, new[] { 0f }, new[] { 1f });

    public Parameter Bias => _net.Bias;

    public ClassifierOutput Forward(torch.Tensor images, ForwardContext context)
    {
        var logits = _net.forward(images);
        if (!context.IsTraining)
        {
            var right = _script[Math.Min(_inferenceCalls++, _script.Length - 1)];
            var fixedLogits = torch.tensor(right ? new[] { 5f, -5f }
                : new[] { -5f, 5f }).unsqueeze(0).expand(images.shape[0], -1);
            logits = fixedLogits + 0 * logits;
        }

        return new ClassifierOutput(logits, Array.Empty<AuxiliaryLoss>());
    }

    public IReadOnlyList<ParameterGroup> GetParameterGroups() =>
        new[] { new ParameterGroup("bias", new[] { _net.Bias }) };

    public void SetTrainingMode(bool training) => _net.train(training);

    public void Dispose() => _net.Dispose();
}

/// <summary>Calls a delegate synchronously (Progress&lt;T&gt; would post to a thread pool).</summary>
internal sealed class SyncProgress<T>(Action<T> onReport) : IProgress<T>
{
    public void Report(T value) => onReport(value);
}

internal sealed class ListLogger : ITrainingLogger
{
    public List<(TrainingLogLevel Level, string Message)> Lines { get; } = new();

    public void Log(TrainingLogLevel level, string message) => Lines.Add((level, message));
}

internal static class ToyData
{
    /// <summary>
    /// Two classes of <paramref name="size"/>×<paramref name="size"/> images: class 0 is bright on the left half,
    /// class 1 on the right half, with uniform noise. Labels alternate.
    /// </summary>
    public static ImageTensorDataset Separable(int count, int seed, int channels = 1, int size = 4)
    {
        var random = new Random(seed);
        var pixels = new byte[count * channels * size * size];
        var labels = new long[count];
        for (int n = 0; n < count; n++)
        {
            labels[n] = n % 2;
            for (int c = 0; c < channels; c++)
            {
                for (int y = 0; y < size; y++)
                {
                    for (int x = 0; x < size; x++)
                    {
                        bool left = x < size / 2;
                        bool bright = labels[n] == 0 ? left : !left;
                        int value = bright ? 150 + random.Next(106) : random.Next(106);
                        pixels[(((n * channels) + c) * size + y) * size + x] = (byte)value;
                    }
                }
            }
        }

        return ImageTensorDataset.FromPixels(pixels, labels, channels, size, size);
    }

    /// <summary>Raw bytes of every module parameter by name: equal dictionaries mean bit-identical weights.</summary>
    public static Dictionary<string, byte[]> Weights(torch.nn.Module module) =>
        module.named_parameters().ToDictionary(np => np.name, np => TensorBytes(np.parameter));

    public static byte[] TensorBytes(torch.Tensor t)
    {
        using var scope = torch.NewDisposeScope();
        return t.detach().cpu().contiguous().bytes.ToArray();
    }

    public static void AssertSameWeights(Dictionary<string, byte[]> expected, Dictionary<string, byte[]> actual)
    {
        Xunit.Assert.Equal(expected.Keys.OrderBy(k => k), actual.Keys.OrderBy(k => k));
        foreach (var (name, bytes) in expected)
        {
            Xunit.Assert.True(bytes.AsSpan().SequenceEqual(actual[name]), $"Parameter '{name}' differs.");
        }
    }
}

[Xunit.CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TorchTrainingCollection
{
    /// <summary>Training tests compare bits and count live tensors, so they run alone.</summary>
    public const string Name = "TorchTraining";
}

using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using TorchSharp;

namespace MLNet.PromptTuning.Training;

/// <summary>
/// Resolves <see cref="TrainingPrecision.Auto"/>: bfloat16 only where the hardware has native bfloat16 arithmetic, so
/// the default never takes the emulated path (without those instructions libtorch converts bfloat16 values on the fly,
/// which is usually slower than computing in float32).
/// </summary>
internal static class PrecisionSelection
{
    private const int CudaSuccess = 0;
    private const int ComputeCapabilityMajorAttribute = 75; // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR

    private static readonly Lazy<bool> CpuBFloat16 = new(DetectCpuBFloat16);

    [UnmanagedFunctionPointer(CallingConvention.Winapi)]
    private delegate int CudaInit(uint flags);

    [UnmanagedFunctionPointer(CallingConvention.Winapi)]
    private delegate int CudaDeviceGet(out int device, int ordinal);

    [UnmanagedFunctionPointer(CallingConvention.Winapi)]
    private delegate int CudaDeviceGetAttribute(out int value, int attribute, int device);

    /// <summary>Whether this CPU has native bfloat16 dot products (AVX512-BF16 or AMX-BF16) usable by the
    /// process.</summary>
    public static bool CpuHasBFloat16 => CpuBFloat16.Value;

    /// <summary>The precision a run uses: <paramref name="requested"/> unless it is
    /// <see cref="TrainingPrecision.Auto"/>.</summary>
    /// <param name="requested">The option's value.</param>
    /// <param name="device">The compute device.</param>
    /// <param name="trainsBackbone">Whether the backbone's weights train (then bfloat16 is not available).</param>
    public static TrainingPrecision Resolve(TrainingPrecision requested, torch.Device device, bool trainsBackbone)
    {
        if (requested != TrainingPrecision.Auto)
        {
            return requested;
        }

        bool native = device.type switch
        {
            DeviceType.CPU => CpuHasBFloat16,
            DeviceType.CUDA => CudaComputeCapabilityMajor(device.index < 0 ? 0 : device.index) >= 8,
            _ => false,
        };
        return native && !trainsBackbone ? TrainingPrecision.BFloat16 : TrainingPrecision.Float32;
    }

    private static bool DetectCpuBFloat16()
    {
        // The runtime reports AVX-512 only when the operating system saves its registers, which bfloat16 needs too.
        if (!X86Base.IsSupported || !Avx512F.IsSupported || X86Base.CpuId(0, 0).Eax < 7)
        {
            return false;
        }

        bool amxBFloat16 = (X86Base.CpuId(7, 0).Edx & (1 << 22)) != 0;
        bool avx512BFloat16 = (X86Base.CpuId(7, 1).Eax & (1 << 5)) != 0;
        return avx512BFloat16 || amxBFloat16;
    }

    /// <summary>The device's compute capability (major) from the CUDA driver, or -1 when it cannot be read.</summary>
    private static int CudaComputeCapabilityMajor(int ordinal)
    {
        string library = OperatingSystem.IsWindows() ? "nvcuda.dll" : "libcuda.so.1";
        if (!NativeLibrary.TryLoad(library, out IntPtr handle))
        {
            return -1;
        }

        try
        {
            if (!NativeLibrary.TryGetExport(handle, "cuInit", out IntPtr init) ||
                !NativeLibrary.TryGetExport(handle, "cuDeviceGet", out IntPtr get) ||
                !NativeLibrary.TryGetExport(handle, "cuDeviceGetAttribute", out IntPtr attribute))
            {
                return -1;
            }

            if (Marshal.GetDelegateForFunctionPointer<CudaInit>(init)(0) != CudaSuccess ||
                Marshal.GetDelegateForFunctionPointer<CudaDeviceGet>(get)(out int device, ordinal) != CudaSuccess ||
                Marshal.GetDelegateForFunctionPointer<CudaDeviceGetAttribute>(attribute)(
                    out int major, ComputeCapabilityMajorAttribute, device) != CudaSuccess)
            {
                return -1;
            }

            return major;
        }
        finally
        {
            NativeLibrary.Free(handle);
        }
    }
}

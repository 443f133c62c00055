using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using System.Runtime.CompilerServices;
using Microsoft.ML;
using Microsoft.ML.Runtime;
using MLNet.PromptTuning.Interop;
using Xunit;

namespace MLNet.PromptTuning.Tests.Interop;

public sealed class PublicizerTests
{
    private static readonly Assembly Library = typeof(ImageScoringCore).Assembly;

    [Fact]
    public void LibraryDeclaresIgnoresAccessChecksToForBothAssemblies()
    {
        string[] names = Library.GetCustomAttributes()
            .Where(a => a.GetType().FullName == typeof(IgnoresAccessChecksToAttribute).FullName)
            .Select(a => (string)a.GetType().GetProperty("AssemblyName")!.GetValue(a)!)
            .OrderBy(n => n, StringComparer.Ordinal)
            .ToArray();
        Assert.Equal(new[] { "Microsoft.ML.Core", "Microsoft.ML.Data" }, names);
    }

    [Fact]
    public void InternalCallsWorkAtRunTimeAgainstTheUnmodifiedAssemblies()
    {
        // The real Microsoft.ML.Core is loaded: its internals are still internal...
        MethodInfo setVersionInfo = typeof(ModelSaveContext).GetMethod("SetVersionInfo",
            BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)!;
        Assert.True(setVersionInfo.IsAssembly);
        Assert.False(Type.GetType("Microsoft.ML.VersionInfo, Microsoft.ML.Core", throwOnError: true)!.IsPublic);

        // ...and the library still reaches them (CatalogUtils.GetEnvironment is internal).
        // It is the MLContext's own environment: its catalog, and its channels reach mlContext.Log.
        var mlContext = new MLContext(seed: 1);
        var messages = new List<string>();
        mlContext.Log += (_, e) => messages.Add(e.Message);
        IHostEnvironment environment = MLNetEnvironment.GetEnvironment(mlContext.MulticlassClassification.Trainers);
        Assert.Same(mlContext.ComponentCatalog, environment.ComponentCatalog);
        using (IChannel channel = environment.Register("InteropTest").Start("Probe"))
        {
            channel.Info(MessageSensitivity.None, "hello from the interop test");
        }

        Assert.Contains(messages, m => m.Contains("hello from the interop test", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("Microsoft.ML.Core")]
    [InlineData("Microsoft.ML.Data")]
    public void PublicizedReferenceDiffersFromTheOriginalOnlyInVisibility(string assemblyName)
    {
        string folder = typeof(PublicizerTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "PublicizedReferences").Value!;
        string publicizedPath = Path.Combine(folder, assemblyName + ".dll");
        string originalPath = AppDomain.CurrentDomain.GetAssemblies()
            .Single(a => a.GetName().Name == assemblyName).Location;
        Assert.True(File.Exists(publicizedPath), $"Missing publicized reference {publicizedPath}");

        byte[] original = File.ReadAllBytes(originalPath);
        byte[] publicized = File.ReadAllBytes(publicizedPath);
        Assert.Equal(original.Length, publicized.Length);

        using var originalPe = new PEReader(new MemoryStream(original));
        using var publicizedPe = new PEReader(new MemoryStream(publicized));
        MetadataReader before = originalPe.GetMetadataReader();
        MetadataReader after = publicizedPe.GetMetadataReader();

        int changedFlags = 0;
        foreach (TypeDefinitionHandle handle in before.TypeDefinitions)
        {
            TypeDefinition a = before.GetTypeDefinition(handle);
            TypeDefinition b = after.GetTypeDefinition(handle);
            string name = before.GetString(a.Name);
            Assert.Equal(name, after.GetString(b.Name));
            TypeAttributes expected = name.StartsWith('<') ? a.Attributes : ExpectedType(a.Attributes);
            Assert.Equal(expected, b.Attributes);
            changedFlags += expected != a.Attributes ? 1 : 0;

            foreach (MethodDefinitionHandle m in a.GetMethods())
            {
                MethodDefinition ma = before.GetMethodDefinition(m);
                MethodDefinition mb = after.GetMethodDefinition(m);
                string methodName = before.GetString(ma.Name);
                var access = (int)(ma.Attributes & MethodAttributes.MemberAccessMask);
                int expectedAccess = methodName.StartsWith('<') ? access : ExpectedMember(access);
                Assert.Equal((ma.Attributes & ~MethodAttributes.MemberAccessMask) | (MethodAttributes)expectedAccess,
                    mb.Attributes);
                changedFlags += expectedAccess != access ? 1 : 0;
            }

            foreach (FieldDefinitionHandle f in a.GetFields())
            {
                FieldDefinition fa = before.GetFieldDefinition(f);
                FieldDefinition fb = after.GetFieldDefinition(f);
                string fieldName = before.GetString(fa.Name);
                var access = (int)(fa.Attributes & FieldAttributes.FieldAccessMask);
                int expectedAccess = fieldName.StartsWith('<') ? access : ExpectedMember(access);
                Assert.Equal((fa.Attributes & ~FieldAttributes.FieldAccessMask) | (FieldAttributes)expectedAccess,
                    fb.Attributes);
                changedFlags += expectedAccess != access ? 1 : 0;
            }
        }

        Assert.True(changedFlags > 100, $"only {changedFlags} visibility changes");

        // Nothing but those flag bytes may differ (each flag change touches one byte).
        int differingBytes = original.Zip(publicized).Count(p => p.First != p.Second);
        Assert.InRange(differingBytes, 1, changedFlags);
    }

    [Fact]
    public void PublicApiExposesNoNonPublicMLNetType()
    {
        var leaks = new List<string>();
        foreach (Type type in Library.GetExportedTypes())
        {
            var involved = new List<(string Where, Type Type)>();
            if (type.BaseType is { } baseType)
            {
                involved.Add(("base type", baseType));
            }

            involved.AddRange(type.GetInterfaces().Where(i => i.IsVisible || !IsMLNet(i)).Select(i =>
                ("interface", i)));
            const BindingFlags Visible = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance |
                                         BindingFlags.Static | BindingFlags.DeclaredOnly;
            foreach (MemberInfo member in type.GetMembers(Visible))
            {
                switch (member)
                {
                    case MethodBase method when method.IsPublic || method.IsFamily || method.IsFamilyOrAssembly:
                        if (method is MethodInfo mi)
                        {
                            involved.Add((member.Name, mi.ReturnType));
                        }

                        involved.AddRange(method.GetParameters().Select(p => (member.Name, p.ParameterType)));
                        break;
                    case PropertyInfo property when property.GetMethod is { IsPublic: true } or { IsFamily: true }:
                        involved.Add((member.Name, property.PropertyType));
                        break;
                    case FieldInfo field when field.IsPublic || field.IsFamily:
                        involved.Add((member.Name, field.FieldType));
                        break;
                }
            }

            leaks.AddRange(involved.Where(x => IsMLNet(x.Type) && !x.Type.IsVisible)
                .Select(x => $"{type.FullName}.{x.Where}: {x.Type.FullName}"));
        }

        Assert.Empty(leaks);
    }

    private static bool IsMLNet(Type type) =>
        type.Assembly.GetName().Name!.StartsWith("Microsoft.ML", StringComparison.Ordinal);

    private static TypeAttributes ExpectedType(TypeAttributes attributes)
    {
        TypeAttributes visibility = attributes & TypeAttributes.VisibilityMask;
        TypeAttributes publicized = visibility switch
        {
            TypeAttributes.NotPublic => TypeAttributes.Public,
            TypeAttributes.NestedAssembly or TypeAttributes.NestedFamANDAssem or TypeAttributes.NestedFamORAssem =>
                TypeAttributes.NestedPublic,
            _ => visibility,
        };
        return (attributes & ~TypeAttributes.VisibilityMask) | publicized;
    }

    // Member access: FamANDAssem 2 -> Family 4; Assembly 3 and FamORAssem 5 -> Public 6.
    private static int ExpectedMember(int access) => access switch
    {
        2 => 4,
        3 or 5 => 6,
        _ => access,
    };
}

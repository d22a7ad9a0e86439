namespace Shaper.Tests.Packaging;

/// <summary>
/// The package tests publish the programs self-contained (both cores for a minute): they run on their own, so
/// that the timing-sensitive kernel tests never share the machine with that.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class PackagingCollection
{
    public const string Name = "packaging";
}

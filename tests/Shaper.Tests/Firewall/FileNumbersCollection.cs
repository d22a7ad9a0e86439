namespace Shaper.Tests.Firewall;

/// <summary>
/// Tests that fill the process's file numbers up to a mark run alone: the kernel hands out the lowest free number, so
/// a test next to them closing one of its files opens a hole below the mark, and the next file opened takes it (a CI
/// run at 171fafb: <c>LibNftables.TryOpen</c> found a free number below 960 while the test held every one to 1024).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FileNumbersCollection
{
    public const string Name = "file numbers";
}

using System.Diagnostics;
using System.Globalization;

namespace Shaper.Tests.Lab;

/// <summary>
/// A mount namespace of the test's own, held open by a sleeping process, for file-system faults (a full or
/// read-only state_dir) without touching the host's mounts; <see cref="Prefix"/> runs a program inside it, and
/// <c>ip netns exec</c> started under it sees its mounts. Ends with the holder.
/// </summary>
public sealed class PrivateMounts : IDisposable
{
    private readonly Process _holder;

    private PrivateMounts(Process holder) => _holder = holder;

    /// <summary>nsenter into the namespace, to put before a command.</summary>
    public IReadOnlyList<string> Prefix => ["nsenter", "-t", _holder.Id.ToString(CultureInfo.InvariantCulture), "-m"];

    public static PrivateMounts Create()
    {
        var holder = Process.Start(new ProcessStartInfo("unshare", ["--mount", "--propagation", "private", "sleep", "600"]) { UseShellExecute = false })!;
        var own = new FileInfo("/proc/self/ns/mnt").LinkTarget;
        var watch = Stopwatch.StartNew();
        while (new FileInfo($"/proc/{holder.Id}/ns/mnt").LinkTarget == own)
        {
            if (holder.HasExited || watch.Elapsed > TimeSpan.FromSeconds(10))
            {
                holder.Dispose();
                throw new InvalidOperationException("unshare --mount did not make a mount namespace");
            }

            Thread.Sleep(10);
        }

        return new PrivateMounts(holder);
    }

    /// <summary>Runs a command inside the namespace.</summary>
    public ProcessResult Exec(params string[] command) => Run.Command(Prefix[0], [.. Prefix.Skip(1), .. command]);

    public void Dispose()
    {
        if (!_holder.HasExited)
        {
            _holder.Kill();
            _holder.WaitForExit();
        }

        _holder.Dispose();
    }
}

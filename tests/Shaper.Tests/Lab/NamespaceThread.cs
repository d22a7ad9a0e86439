using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace Shaper.Tests.Lab;

/// <summary>
/// A thread that has entered a lab namespace with setns(2): work handed to it (libnftables calls) runs in
/// that namespace while the rest of the test process stays in the host's. setns with CLONE_NEWNET changes
/// only the calling thread.
/// </summary>
public sealed partial class NamespaceThread : IDisposable
{
    private const int CloneNewNet = 0x40000000;
    private readonly BlockingCollection<Action> _work = [];
    private readonly Thread _thread;

    public NamespaceThread(string ns)
    {
        var entered = new TaskCompletionSource();
        _thread = new Thread(() =>
        {
            using (var handle = File.OpenHandle($"/run/netns/{ns}"))
            {
                if (SetNs(handle.DangerousGetHandle().ToInt32(), CloneNewNet) != 0)
                {
                    entered.SetException(new InvalidOperationException($"setns into {ns} failed: errno {Marshal.GetLastPInvokeError()}"));
                    return;
                }
            }

            entered.SetResult();
            foreach (var work in _work.GetConsumingEnumerable())
            {
                work();
            }
        })
        { IsBackground = true };
        _thread.Start();
        entered.Task.GetAwaiter().GetResult();
    }

    public T Invoke<T>(Func<T> func)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() =>
        {
            try
            {
                done.SetResult(func());
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        });
        return done.Task.GetAwaiter().GetResult();
    }

    public void Dispose()
    {
        _work.CompleteAdding();
        _thread.Join();
        _work.Dispose();
    }

    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    private static partial int SetNs(int fd, int nstype);
}

namespace Shaper.Interop;

/// <summary>
/// A Linux eventfd(2) a thread can sleep on beside another descriptor (with ppoll) and another thread can set to
/// wake it: the way to end a wait on a socket that closing the socket does not end.
/// </summary>
internal sealed unsafe class WakeEvent : IDisposable
{
    private const int EfdCloexec = 0x80000;
    private const int EfdNonblock = 0x800;

    private int _fd;
    private volatile bool _set;

    public WakeEvent()
    {
        _fd = LibC.EventFd(0, EfdCloexec | EfdNonblock);
        if (_fd < 0)
        {
            throw new InvalidOperationException($"eventfd failed: errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>The descriptor, readable while set.</summary>
    public int Fd => _fd;

    /// <summary>Whether <see cref="Set"/> was called since the last <see cref="Reset"/>.</summary>
    public bool IsSet => _set;

    /// <summary>Sets the event: a wait on it ends now, or at once when it starts.</summary>
    public void Set()
    {
        _set = true;
        var one = 1UL;
        _ = LibC.Write(_fd, &one, sizeof(ulong));
    }

    /// <summary>
    /// Waits until the event is set or <paramref name="timeoutNs"/> has passed (ppoll, to the nanosecond; negative waits
    /// without end); true when it is set. Leaves it set: <see cref="Reset"/> clears it. An interrupted wait returns
    /// false, as a timeout does.
    /// </summary>
    public bool Wait(long timeoutNs) => ReadPoll.Wait(_fd, -1, timeoutNs).Any;

    /// <summary>Clears the event.</summary>
    public void Reset()
    {
        _set = false;
        ulong count;
        _ = LibC.Read(_fd, &count, sizeof(ulong));
    }

    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            _ = LibC.Close(fd);
        }
    }
}

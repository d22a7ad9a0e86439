namespace Shaper.Interop;

/// <summary>
/// Waits with <c>ppoll</c> until one of a few descriptors can be read, to the nanosecond: the <c>struct pollfd</c>
/// array and the <c>struct timespec</c> written in one place for the netlink sockets and the wake-up events.
/// </summary>
internal static unsafe class ReadPoll
{
    private const int PollIn = 0x1;

    /// <summary>
    /// Waits until <paramref name="first"/> (or <paramref name="second"/>, when not negative) can be read, or
    /// <paramref name="timeoutNs"/> has passed (0 only looks; negative waits without end). Returns whether
    /// <paramref name="first"/> can be read, and whether any descriptor is ready (readable, or with an error or hang-up
    /// to read): an interrupted wait answers false to both, as a timeout does.
    /// </summary>
    public static (bool First, bool Any) Wait(int first, int second, long timeoutNs) => Wait(first, second, -1, timeoutNs);

    /// <summary>As <see cref="Wait(int, int, long)"/>, with a <paramref name="third"/> descriptor (when not negative; only with a second).</summary>
    public static (bool First, bool Any) Wait(int first, int second, int third, long timeoutNs)
    {
        // Three struct pollfd { int fd; short events; short revents; }: revents is the high half of each entry's second int.
        Span<int> pollfds = [first, PollIn, second, PollIn, third, PollIn];
        Span<long> timeout = [timeoutNs / 1_000_000_000, timeoutNs % 1_000_000_000]; // struct timespec
        var count = second < 0 ? 1UL : third < 0 ? 2UL : 3UL;
        fixed (int* fds = pollfds)
        fixed (long* spec = timeout)
        {
            var ready = LibC.PPoll(fds, count, timeoutNs < 0 ? null : spec, null, 0);
            return (ready > 0 && ((fds[1] >>> 16) & PollIn) != 0, ready > 0);
        }
    }
}

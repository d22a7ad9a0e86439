using System.Runtime.InteropServices;

namespace Shaper.Interop;

/// <summary>
/// The C library calls the daemon makes that .NET has no managed form for (netlink and packet sockets, statx,
/// flock, per-thread priority), declared once. Each returns what the C function returns; callers read errno
/// with <see cref="Marshal.GetLastPInvokeError"/> where the import sets it.
/// </summary>
internal static unsafe partial class LibC
{
    /// <summary>The clock that advances once per jiffy (<c>CLOCK_MONOTONIC_COARSE</c>): its resolution is the kernel's tick.</summary>
    public const int ClockMonotonicCoarse = 6;

    /// <summary>The clock of the calling thread's CPU time (<c>CLOCK_THREAD_CPUTIME_ID</c>).</summary>
    public const int ClockThreadCpuTime = 3;

    private const string Library = "libc";

    /// <summary><c>clock_gettime</c>: clock <paramref name="clock"/> now, as seconds and nanoseconds (two 64-bit words).</summary>
    [LibraryImport(Library, EntryPoint = "clock_gettime", SetLastError = true)]
    public static partial int ClockGetTime(int clock, long* time);

    /// <summary><c>clock_getres</c>: the resolution of clock <paramref name="clock"/>, as seconds and nanoseconds (two 64-bit words).</summary>
    [LibraryImport(Library, EntryPoint = "clock_getres", SetLastError = true)]
    public static partial int ClockGetRes(int clock, long* resolution);

    /// <summary><c>madvise</c>: advice <paramref name="advice"/> about the pages of [<paramref name="address"/>, + <paramref name="length"/>).</summary>
    [LibraryImport(Library, EntryPoint = "madvise", SetLastError = true)]
    public static partial int Madvise(void* address, nuint length, int advice);

    [LibraryImport(Library, EntryPoint = "socket", SetLastError = true)]
    public static partial int Socket(int domain, int type, int protocol);

    [LibraryImport(Library, EntryPoint = "setsockopt", SetLastError = true)]
    public static partial int SetSockOpt(int fd, int level, int name, void* value, uint length);

    [LibraryImport(Library, EntryPoint = "getsockopt", SetLastError = true)]
    public static partial int GetSockOpt(int fd, int level, int name, void* value, ref int length);

    [LibraryImport(Library, EntryPoint = "bind", SetLastError = true)]
    public static partial int Bind(int fd, byte* address, int addressLength);

    [LibraryImport(Library, EntryPoint = "sendto", SetLastError = true)]
    public static partial long SendTo(int fd, byte* buffer, long length, int flags, byte* address, int addressLength);

    [LibraryImport(Library, EntryPoint = "recv", SetLastError = true)]
    public static partial long Recv(int fd, byte* buffer, long length, int flags);

    /// <summary><c>recvmmsg</c> with no timeout (its timeout is checked only after each datagram; the socket's receive timeout bounds a wait).</summary>
    [LibraryImport(Library, EntryPoint = "recvmmsg", SetLastError = true)]
    public static partial int RecvMmsg(int fd, void* messages, uint count, int flags, void* timeout);

    [LibraryImport(Library, EntryPoint = "ppoll", SetLastError = true)]
    public static partial int PPoll(int* fds, ulong count, long* timeout, void* sigmask, nuint sigsetSize);

    [LibraryImport(Library, EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initial, int flags);

    [LibraryImport(Library, EntryPoint = "read", SetLastError = true)]
    public static partial long Read(int fd, void* buffer, nuint count);

    [LibraryImport(Library, EntryPoint = "write", SetLastError = true)]
    public static partial long Write(int fd, void* buffer, nuint count);

    [LibraryImport(Library, EntryPoint = "sched_setscheduler", SetLastError = true)]
    public static partial int SchedSetScheduler(int pid, int policy, ReadOnlySpan<int> param);

    [LibraryImport(Library, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport(Library, EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Open(string path, int flags, int mode);

    [LibraryImport(Library, EntryPoint = "flock", SetLastError = true)]
    public static partial int Flock(int fd, int operation);

    [LibraryImport(Library, EntryPoint = "ftruncate", SetLastError = true)]
    public static partial int Ftruncate(int fd, long length);

    [LibraryImport(Library, EntryPoint = "chown", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Chown(string path, int owner, int group);

    [LibraryImport(Library, EntryPoint = "access", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Access(string path, int mode);

    /// <summary>statx(2) into <paramref name="buffer"/>, which must hold a struct statx (256 bytes).</summary>
    [LibraryImport(Library, EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Statx(int dirfd, string path, int flags, uint mask, byte* buffer);

    [LibraryImport(Library, EntryPoint = "geteuid")]
    public static partial uint GetEuid();

    [LibraryImport(Library, EntryPoint = "gettid")]
    public static partial int GetTid();

    [LibraryImport(Library, EntryPoint = "setpriority", SetLastError = true)]
    public static partial int SetPriority(int which, int who, int priority);

    [LibraryImport(Library, EntryPoint = "getpriority", SetLastError = true)]
    public static partial int GetPriority(int which, int who);

    [LibraryImport(Library, EntryPoint = "if_nametoindex", StringMarshalling = StringMarshalling.Utf8)]
    public static partial uint IfNameToIndex(string name);
}

using System.Runtime.InteropServices;

namespace Shaper.Firewall;

/// <summary>
/// nft through libnftables in process (P/Invoke of libnftables.so.1): one command costs about 0.14 ms here
/// against 6.5 ms for spawning <c>nft</c>. The context is not thread-safe, so every call takes a lock;
/// calls are short and rare next to packets. The netlink socket belongs to the network namespace of the
/// thread that first uses the context.
/// </summary>
public sealed partial class LibNftables : INftRunner, IDisposable
{
    private const string Library = "libnftables.so.1";
    private const int SelectLimit = 1024; // FD_SETSIZE
    private const int SelectMargin = 64; // files the process may open between this check and the socket's first use

    private readonly Lock _lock = new();
    private nint _context;

    private LibNftables(nint context) => _context = context;

    /// <summary>
    /// Opens a context; null when libnftables is not installed, or when the process already has so many files open
    /// that the context's netlink socket would get a number of 1024 or more: libnftables waits on that socket with
    /// select(2), whose <c>fd_set</c> holds numbers below 1024 (FD_SETSIZE), and glibc aborts the whole process on a
    /// higher one ("bit out of range 0 - FD_SETSIZE on fd_set"). The caller then runs the nft command instead.
    /// </summary>
    public static LibNftables? TryOpen()
    {
        if (LowestFreeDescriptor() is not { } free || free >= SelectLimit - SelectMargin)
        {
            return null;
        }

        try
        {
            var context = CtxNew(0);
            if (context == 0)
            {
                return null;
            }

            _ = BufferOutput(context);
            _ = BufferError(context);
            return new LibNftables(context);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return null;
        }
    }

    /// <summary>
    /// The number the next file opened would get (the kernel hands out the lowest free one); null when none can be
    /// opened at all.
    /// </summary>
    private static int? LowestFreeDescriptor()
    {
        var fd = Interop.LibC.Open("/dev/null", 0x80000 /* O_RDONLY | O_CLOEXEC */, 0);
        if (fd < 0)
        {
            return null;
        }

        _ = Interop.LibC.Close(fd);
        return fd;
    }

    /// <inheritdoc />
    public NftResult Run(string script, bool check = false)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_context == 0, this);
            SetDryRun(_context, check);
            var rc = RunFromBuffer(_context, script);
            var output = Marshal.PtrToStringUTF8(OutputBuffer(_context)) ?? "";
            var error = Marshal.PtrToStringUTF8(ErrorBuffer(_context)) ?? "";
            SetDryRun(_context, false);
            return new NftResult(rc == 0, output, error);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_lock)
        {
            if (_context != 0)
            {
                CtxFree(_context);
                _context = 0;
            }
        }
    }

    [LibraryImport(Library, EntryPoint = "nft_ctx_new")]
    private static partial nint CtxNew(uint flags);

    [LibraryImport(Library, EntryPoint = "nft_ctx_free")]
    private static partial void CtxFree(nint context);

    [LibraryImport(Library, EntryPoint = "nft_ctx_buffer_output")]
    private static partial int BufferOutput(nint context);

    [LibraryImport(Library, EntryPoint = "nft_ctx_buffer_error")]
    private static partial int BufferError(nint context);

    [LibraryImport(Library, EntryPoint = "nft_ctx_get_output_buffer")]
    private static partial nint OutputBuffer(nint context);

    [LibraryImport(Library, EntryPoint = "nft_ctx_get_error_buffer")]
    private static partial nint ErrorBuffer(nint context);

    [LibraryImport(Library, EntryPoint = "nft_ctx_set_dry_run")]
    private static partial void SetDryRun(nint context, [MarshalAs(UnmanagedType.U1)] bool dry);

    [LibraryImport(Library, EntryPoint = "nft_run_cmd_from_buffer", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int RunFromBuffer(nint context, string buffer);
}

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

    private readonly Lock _lock = new();
    private nint _context;

    private LibNftables(nint context) => _context = context;

    /// <summary>Opens a context; null when libnftables is not installed.</summary>
    public static LibNftables? TryOpen()
    {
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

using Shaper.Interop;

namespace Shaper.Files;

/// <summary>
/// What kind of file a path names, asked before it is opened: opening a FIFO for reading blocks until a writer
/// comes (so <c>rules validate</c> or <c>replay</c> on one would hang), and a device or a socket is no input
/// either. .NET reports no file type, so this asks <c>statx(2)</c>, whose layout is the same on every
/// architecture (<c>stx_mode</c> at offset 28).
/// </summary>
internal static class RegularFile
{
    private const int AtFdCwd = -100;
    private const uint StatxType = 0x1;
    private const int ModeOffset = 28;

    /// <summary>
    /// Null when <paramref name="path"/> is a regular file (symbolic links followed) or cannot be asked about (a
    /// missing file is for the caller's open to report); otherwise what it is, e.g. "a FIFO (named pipe)".
    /// </summary>
    public static unsafe string? NotRegular(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var buffer = stackalloc byte[256];
        if (LibC.Statx(AtFdCwd, path, 0, StatxType, buffer) != 0)
        {
            return null;
        }

        return (*(ushort*)(buffer + ModeOffset) & 0xF000) switch
        {
            0x8000 => null,
            0x1000 => "a FIFO (named pipe)",
            0x2000 => "a character device",
            0x4000 => "a directory",
            0x6000 => "a block device",
            0xC000 => "a socket",
            _ => "not a regular file",
        };
    }
}

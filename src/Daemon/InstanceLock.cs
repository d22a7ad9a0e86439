using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

using Shaper.Interop;

namespace Shaper.Daemon;

/// <summary>
/// One shaperd per runtime directory: an exclusive <c>flock</c> on <c>shaperd.lock</c> beside the control socket
/// (<c>/run/shaper/shaperd.lock</c> under the unit), taken before anything touches the kernel or the socket, and
/// held until the process ends (the kernel releases it even after <c>kill -9</c>). The file holds the holder's
/// PID, so a second shaperd can say which one runs. It is never deleted: unlinking a lock file lets a third
/// process lock a new file while the second still holds the old one.
/// </summary>
internal sealed class InstanceLock : IDisposable
{
    private const int ORdWr = 2;
    private const int OCreat = 0x40;
    private const int OCloExec = 0x80000;
    private const int LockEx = 2;
    private const int LockNb = 4;
    private const int EWouldBlock = 11;

    private readonly SafeFileHandle _handle;

    private InstanceLock(SafeFileHandle handle, string path)
    {
        _handle = handle;
        Path = path;
    }

    public string Path { get; }

    /// <summary>The lock file for a control socket at <paramref name="socketPath"/>.</summary>
    public static string PathFor(string socketPath) =>
        System.IO.Path.Combine(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(socketPath)) ?? "/", "shaperd.lock");

    /// <summary>Takes the lock; null with <paramref name="error"/> (naming the holder's PID) when another process has it.</summary>
    public static InstanceLock? TryAcquire(string path, out string error)
    {
        error = "";
        var directory = System.IO.Path.GetDirectoryName(path);
        try
        {
            if (!string.IsNullOrEmpty(directory))
            {
                Directory.CreateDirectory(directory);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            error = $"cannot create the runtime directory {directory}: {e.Message}";
            return null;
        }

        if (new FileInfo(path).LinkTarget is not null)
        {
            error = $"{path} is a symbolic link; remove it (the lock file must be a plain file)";
            return null;
        }

        var fd = LibC.Open(path, ORdWr | OCreat | OCloExec, 0b110_100_000);
        if (fd < 0)
        {
            error = $"cannot open the lock file {path}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}";
            return null;
        }

        var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (LibC.Flock(fd, LockEx | LockNb) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            var holder = ReadPid(handle);
            handle.Dispose();
            error = errno == EWouldBlock
                ? $"another shaperd{(holder is null ? "" : $" (pid {holder})")} is running with {path}; stop it first (systemctl stop shaperd)"
                : $"cannot lock {path}: {Marshal.GetPInvokeErrorMessage(errno)}";
            return null;
        }

        var pid = Encoding.ASCII.GetBytes(Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
        _ = LibC.Ftruncate(fd, 0);
        RandomAccess.Write(handle, pid, 0);
        return new InstanceLock(handle, path);
    }

    public void Dispose() => _handle.Dispose();

    private static int? ReadPid(SafeFileHandle handle)
    {
        var buffer = new byte[32];
        var read = RandomAccess.Read(handle, buffer, 0);
        return int.TryParse(Encoding.ASCII.GetString(buffer, 0, read).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : null;
    }
}

using System.Runtime.InteropServices;
using Shaper.Firewall;

namespace Shaper.Tests.Firewall;

/// <summary>
/// libnftables waits on its netlink socket with select(2), and glibc aborts the process when that socket's number is
/// 1024 or more: a test host with many files open crashed so ("bit out of range 0 - FD_SETSIZE on fd_set"), and a
/// daemon could too. The in-process library is opened only while the numbers it would get stay below that.
/// </summary>
[Collection(FileNumbersCollection.Name)]
public sealed class LibNftablesTests
{
    [Fact]
    public void TryOpen_WhileTheNextFileWouldBeNumberedPast1024_DeclinesSoTheNftCommandIsUsed()
    {
        var held = new List<FileStream>();
        try
        {
            // Fill the numbers up to 1024 (the runtime raises the soft file limit to the hard one, above that here).
            while (true)
            {
                var file = new FileStream("/dev/null", FileMode.Open, FileAccess.Read);
                held.Add(file);
                if (file.SafeFileHandle.DangerousGetHandle() >= 1024)
                {
                    break;
                }
            }

            Assert.Null(LibNftables.TryOpen());
        }
        finally
        {
            held.ForEach(f => f.Dispose());
        }

        using var opened = LibNftables.TryOpen(); // with few files open, the library serves (where it is installed)
        Assert.Equal(NativeLibrary.TryLoad("libnftables.so.1", out _), opened is not null);
    }
}

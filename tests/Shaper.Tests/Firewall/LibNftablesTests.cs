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
        var declined = false;
        try
        {
            // Fill the numbers up to 1024 (the runtime raises the soft file limit to the hard one, above that here).
            // A file closed elsewhere in the process (a finalizer) leaves a hole that the library would rightly take,
            // so the numbers are filled again and the call repeated, up to three times: a library that ignored the
            // limit would open every time.
            for (var attempt = 0; attempt < 3 && !declined; attempt++)
            {
                FillNumbersTo(1024, held);
                using var context = LibNftables.TryOpen();
                declined = context is null;
            }
        }
        finally
        {
            held.ForEach(f => f.Dispose());
        }

        Assert.True(declined, "TryOpen opened a context while every file number below 1024 was taken");

        using var opened = LibNftables.TryOpen(); // with few files open, the library serves (where it is installed)
        Assert.Equal(NativeLibrary.TryLoad("libnftables.so.1", out _), opened is not null);
    }

    private static void FillNumbersTo(int mark, List<FileStream> held)
    {
        while (true)
        {
            var file = new FileStream("/dev/null", FileMode.Open, FileAccess.Read);
            held.Add(file);
            if (file.SafeFileHandle.DangerousGetHandle() >= mark)
            {
                return;
            }
        }
    }
}

using Shaper.Tests.Lab;

namespace Shaper.Tests.Daemon;

/// <summary>
/// The daemon watches no files: the generic host's default configuration would watch its working directory and every
/// directory under it with inotify (under systemd that is /), waking the daemon, and the JIT after it, for every file
/// written anywhere below.
/// </summary>
public sealed class DaemonFileWatchTests
{
    [RootFact]
    public void Start_InADirectoryWithSubdirectories_NoInotifyWatch()
    {
        using var lab = NetworkLab.Create();
        using var daemon = DaemonProcess.Start(lab.B, "");
        var cwd = new DirectoryInfo(File.ResolveLinkTarget($"/proc/{daemon.Pid}/cwd", returnFinalTarget: false)!.FullName);

        // The test's own directory (the build output) has subdirectories, so a recursive watch would show here.
        Assert.NotEmpty(cwd.GetDirectories());
        var watches = 0;
        foreach (var fd in Directory.GetFiles($"/proc/{daemon.Pid}/fd"))
        {
            try
            {
                if (File.ResolveLinkTarget(fd, returnFinalTarget: false)?.FullName.EndsWith("anon_inode:inotify", StringComparison.Ordinal) == true)
                {
                    watches += File.ReadAllLines($"/proc/{daemon.Pid}/fdinfo/{Path.GetFileName(fd)}").Count(l => l.StartsWith("inotify wd:", StringComparison.Ordinal));
                }
            }
            catch (IOException)
            {
                // A descriptor closed meanwhile (a control connection): not a watch.
            }
        }

        Assert.Equal(0, watches);
    }
}

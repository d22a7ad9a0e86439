namespace Shaper.Tests.Packaging;

/// <summary>
/// A test of the .deb: skipped with a clear reason where the package cannot be built (no dpkg-deb) or, with
/// <see cref="Verify"/>, where the unit cannot be verified (not root, or no systemd-analyze). `make test`
/// installs both tools (packaging/install-deps.sh) and CI runs as root, so there it always runs.
/// </summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class PackagingFactAttribute : FactAttribute
{
    private bool _verify;

    public PackagingFactAttribute()
    {
        if (!OnPath("dpkg-deb"))
        {
            Skip = "needs dpkg-deb to build the package (a Debian machine)";
        }
    }

    /// <summary>The test runs <c>systemd-analyze verify</c> in a private mount namespace: it needs both.</summary>
    public bool Verify
    {
        get => _verify;
        set
        {
            _verify = value;
            if (value && Skip is null)
            {
                if (Environment.UserName != "root")
                {
                    Skip = "needs root: systemd-analyze verify runs in a private mount namespace (CI runs the tests as root)";
                }
                else if (!OnPath("systemd-analyze"))
                {
                    Skip = "systemd-analyze is missing (Debian package systemd; packaging/install-deps.sh installs it)";
                }
            }
        }
    }

    internal static bool OnPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin")
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, program)));
}

namespace Shaper.Control;

/// <summary>
/// Who may change the daemon: root and members of the <c>shaper</c> group (primary or supplementary,
/// from <c>/etc/passwd</c> and <c>/etc/group</c>); everyone else who can open the socket may only read.
/// </summary>
public sealed class AccessPolicy
{
    private readonly Func<string, string?> _readFile;
    private readonly string _group;

    /// <summary>Creates a policy for <paramref name="group"/>; <paramref name="readFile"/> reads a system file, null when missing.</summary>
    public AccessPolicy(string group = "shaper", Func<string, string?>? readFile = null)
    {
        _group = group;
        _readFile = readFile ?? (path => File.Exists(path) ? File.ReadAllText(path) : null);
    }

    /// <summary>The group's id when it exists.</summary>
    public uint? GroupId => FindGroup()?.Gid;

    /// <summary>True when <paramref name="peer"/> may send write commands.</summary>
    public bool MayWrite(PeerCredentials peer)
    {
        if (peer.Uid == 0)
        {
            return true;
        }

        var group = FindGroup();
        if (group is null)
        {
            return false;
        }

        if (peer.Gid == group.Value.Gid)
        {
            return true;
        }

        var user = UserName(peer.Uid);
        return user is not null && Array.IndexOf(group.Value.Members, user) >= 0;
    }

    private (uint Gid, string[] Members)? FindGroup()
    {
        foreach (var line in (_readFile("/etc/group") ?? "").Split('\n'))
        {
            var fields = line.Split(':');
            if (fields.Length >= 4 && fields[0] == _group && uint.TryParse(fields[2], out var gid))
            {
                return (gid, fields[3].Trim().Split(',', StringSplitOptions.RemoveEmptyEntries));
            }
        }

        return null;
    }

    private string? UserName(uint uid)
    {
        foreach (var line in (_readFile("/etc/passwd") ?? "").Split('\n'))
        {
            var fields = line.Split(':');
            if (fields.Length >= 3 && uint.TryParse(fields[2], out var id) && id == uid)
            {
                return fields[0];
            }
        }

        return null;
    }
}

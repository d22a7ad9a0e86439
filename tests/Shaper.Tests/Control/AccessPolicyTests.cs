using Shaper.Control;

namespace Shaper.Tests.Control;

public sealed class AccessPolicyTests
{
    private const string Passwd = "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\nbob:x:1001:1001::/home/bob:/bin/sh\ncarol:x:1002:998::/home/carol:/bin/sh\n";
    private const string Group = "root:x:0:\nshaper:x:998:alice\nusers:x:100:bob\n";

    private static AccessPolicy Policy(string? group = Group) =>
        new(readFile: path => path == "/etc/passwd" ? Passwd : path == "/etc/group" ? group : null);

    [Theory]
    [InlineData(0u, 0u, true)] // root may always write
    [InlineData(1000u, 1000u, true)] // alice is a supplementary member of shaper
    [InlineData(1002u, 998u, true)] // carol's primary group is shaper
    [InlineData(1001u, 1001u, false)] // bob is not a member: read only
    [InlineData(4242u, 4242u, false)] // a uid with no passwd entry
    public void MayWrite_ByMembership(uint uid, uint gid, bool expected)
    {
        Assert.Equal(expected, Policy().MayWrite(new PeerCredentials(1, uid, gid)));
    }

    [Fact]
    public void MayWrite_NoShaperGroup_OnlyRoot()
    {
        var policy = Policy("root:x:0:\n");
        Assert.Null(policy.GroupId);
        Assert.True(policy.MayWrite(new PeerCredentials(1, 0, 0)));
        Assert.False(policy.MayWrite(new PeerCredentials(1, 1000, 1000)));
    }
}

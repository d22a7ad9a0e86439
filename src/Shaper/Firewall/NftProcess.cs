namespace Shaper.Firewall;

/// <summary>nft as a process (<c>nft [-c] -f -</c>), for hosts without libnftables and as the benchmark's baseline.</summary>
public sealed class NftProcess(string nftPath = "nft") : INftRunner
{
    /// <inheritdoc />
    public NftResult Run(string script, bool check = false) =>
        ProcessCommand.Run(nftPath, check ? ["-c", "-f", "-"] : ["-f", "-"], script, TimeSpan.FromSeconds(30));
}

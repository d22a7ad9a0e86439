namespace Shaper.Firewall;

/// <summary>Runs nft scripts: the seam between the backend and the kernel, so most tests need no root.</summary>
public interface INftRunner
{
    /// <summary>Runs <paramref name="script"/> as one transaction; with <paramref name="check"/> only checks it (<c>nft -c</c>).</summary>
    NftResult Run(string script, bool check = false);
}

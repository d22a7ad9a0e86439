namespace Shaper.Firewall;

/// <summary>What nft said: success, its output, and its error text (one line is enough for a user).</summary>
public sealed record NftResult(bool Ok, string Output, string Error)
{
    /// <summary>The first line of the error, without nft's caret lines.</summary>
    public string Reason => Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "nft failed";
}

using Shaper.Firewall;

namespace Shaper.Tests.Firewall;

/// <summary>
/// A fake nft: records every script it is given (and whether only checked), and answers from a queue of results
/// (success once the queue is empty), so the nftables backend's logic runs without root or a kernel.
/// </summary>
internal sealed class RecordingNft : INftRunner
{
    /// <summary>The scripts run, in order, with whether each was a check (<c>nft -c</c>).</summary>
    public List<(string Script, bool Check)> Runs { get; } = [];

    /// <summary>What the next runs answer, in order; success with <see cref="Output"/> once it is empty.</summary>
    public Queue<NftResult> Answers { get; } = new();

    /// <summary>The output of a successful run with no queued answer (e.g. a listing).</summary>
    public string Output { get; set; } = "";

    public NftResult Run(string script, bool check = false)
    {
        Runs.Add((script, check));
        return Answers.TryDequeue(out var answer) ? answer : new NftResult(true, Output, "");
    }
}

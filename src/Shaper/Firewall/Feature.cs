namespace Shaper.Firewall;

/// <summary>One probed feature of the host (<see cref="FeatureProbe"/>).</summary>
/// <param name="Name">Its stable name, such as <c>hashlimit</c>.</param>
/// <param name="Works">True when the probe succeeded.</param>
/// <param name="Detail">What was found (a version) or, when missing, why.</param>
/// <param name="Disables">What the shaper cannot do without it.</param>
public sealed record Feature(string Name, bool Works, string Detail, string Disables)
{
    /// <summary>One line for <c>shaperd --check</c> and the log: name, works or missing, and what that disables.</summary>
    public override string ToString() => Works
        ? $"{Name,-16} works    {Detail}"
        : $"{Name,-16} missing  {Detail}; disables {Disables}";
}

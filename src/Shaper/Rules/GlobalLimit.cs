namespace Shaper.Rules;

/// <summary>The <c>[global]</c> host-wide cap: every rule's rate and burst are held at or below it.</summary>
public sealed record GlobalLimit(RateSpec Rate, long Burst);

using Shaper.Limiting;

namespace Shaper.Rules;

/// <summary>A configured rate such as <c>10/minute</c> or <c>8 mbit/s</c>: an exact <see cref="Limiting.Rate"/> and its unit.</summary>
/// <param name="Rate">Amount per period; for bit rates the amount is already in bytes.</param>
/// <param name="Unit">Packets or bytes.</param>
/// <param name="Text">The text as written in the file, for messages and <c>rules show</c>.</param>
public sealed record RateSpec(Rate Rate, RateUnit Unit, string Text);

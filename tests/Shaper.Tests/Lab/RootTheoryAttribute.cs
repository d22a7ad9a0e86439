namespace Shaper.Tests.Lab;

/// <summary>A <see cref="RootFactAttribute"/> with cases: skipped for the same reasons.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class RootTheoryAttribute : TheoryAttribute
{
    public RootTheoryAttribute() => Skip = RootFactAttribute.SkipReason();
}

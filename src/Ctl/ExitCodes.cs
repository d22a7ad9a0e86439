namespace Shaper.Ctl;

/// <summary>shaperctl's exit codes.</summary>
internal static class ExitCodes
{
    /// <summary>Done; for validate: no errors (warnings allowed).</summary>
    public const int Ok = 0;

    /// <summary>The command ran and found a problem (an invalid file, a refused request).</summary>
    public const int Failed = 1;

    /// <summary>The command line itself is wrong: unknown command or option, missing argument.</summary>
    public const int Usage = 2;
}
